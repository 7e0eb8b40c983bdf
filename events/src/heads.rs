//! The stream-head map: what every checkpoint commits to about the head (last event) of every
//! stream at its size, so that a bundle can prove that no later event of its person's stream
//! was left out (`docs/implementation/stream-heads.md` gives the bytes).
//!
//! A stream's leaf is `SHA-256(0x00 ‖ stream ‖ 0x0A ‖ stream_seq ‖ 0x0A ‖ seq ‖ 0x0A ‖ hash)`
//! (numbers in decimal, the hash in lowercase hex). Streams fall into 65,536 buckets by the
//! first two bytes of `SHA-256(stream)`; a bucket hashes as `SHA-256(0x02 ‖ its leaves sorted)`,
//! and the buckets are the leaves of a perfect binary tree of depth 16 whose nodes are
//! `SHA-256(0x01 ‖ left ‖ right)`. The shape never changes, so a checkpoint rehashes only the
//! buckets its new events touched, and a proof is the other leaves of one bucket (hashes only:
//! nothing of anyone else's stream name) and 16 siblings.

use crate::error::{Error, Result};
use crate::merkle::{node_hash, Hash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

/// Levels of the bucket tree: 2^16 buckets.
pub const DEPTH: usize = 16;

/// The checkpoint extension line's keyword: `stream-heads <base64 root>`.
pub const EXTENSION: &str = "stream-heads";

/// The bucket a stream's leaf lies in.
pub fn bucket_of(stream: &str) -> u16 {
    let d = Sha256::digest(stream.as_bytes());
    u16::from_be_bytes([d[0], d[1]])
}

/// A stream head's leaf hash.
pub fn head_leaf(stream: &str, stream_seq: u64, seq: u64, hash_hex: &str) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(stream.as_bytes());
    h.update(format!("\n{stream_seq}\n{seq}\n{hash_hex}").as_bytes());
    h.finalize().into()
}

/// A bucket's hash over its leaves, which must be sorted.
fn bucket_hash<'a>(leaves: impl IntoIterator<Item = &'a Hash>) -> Hash {
    let mut h = Sha256::new();
    h.update([2u8]);
    for l in leaves {
        h.update(l);
    }
    h.finalize().into()
}

/// The hash of an empty subtree at each level (0: an empty bucket).
fn empty_hashes() -> [Hash; DEPTH + 1] {
    let mut e = [bucket_hash([]); DEPTH + 1];
    for l in 1..=DEPTH {
        e[l] = node_hash(&e[l - 1], &e[l - 1]);
    }
    e
}

/// The root of a map of no streams.
pub fn empty_root() -> Hash {
    empty_hashes()[DEPTH]
}

/// The head of every stream, updated event by event, with its root kept up to date lazily.
#[derive(Clone, Debug)]
pub struct StreamHeads {
    streams: HashMap<String, Head>,
    buckets: HashMap<u16, BTreeSet<Hash>>,
    /// Non-empty nodes by level (0: buckets) and index; empty ones are `empty[level]`.
    levels: Vec<HashMap<u32, Hash>>,
    dirty: BTreeSet<u16>,
    empty: [Hash; DEPTH + 1],
}

impl Default for StreamHeads {
    fn default() -> Self {
        Self { streams: HashMap::new(), buckets: HashMap::new(), levels: vec![HashMap::new(); DEPTH + 1], dirty: BTreeSet::new(), empty: empty_hashes() }
    }
}

/// A stream's head, with its bucket and leaf.
#[derive(Clone, Debug)]
struct Head {
    bucket: u16,
    stream_seq: u64,
    seq: u64,
    hash: Hash,
    leaf: Hash,
}

/// The proof that a stream's head at a checkpoint is the one named: the other leaves of its
/// bucket, and the sibling of each node on the way up to the root (the bucket's first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadProof {
    pub stream: String,
    pub stream_seq: u64,
    pub seq: u64,
    pub hash: String,
    /// The other leaves of the stream's bucket, lowercase hex.
    pub others: Vec<String>,
    /// 16 sibling hashes, lowercase hex, from the bucket's level up.
    pub path: Vec<String>,
}

impl StreamHeads {
    /// Makes `(stream, stream_seq, seq, hash)` the stream's head. Events come in seq order.
    pub fn update(&mut self, stream: &str, stream_seq: u64, seq: u64, hash: &Hash) {
        let leaf = head_leaf(stream, stream_seq, seq, &hex::encode(hash));
        let bucket = match self.streams.get_mut(stream) {
            Some(head) => {
                let b = self.buckets.get_mut(&head.bucket).expect("a known stream's bucket exists");
                b.remove(&head.leaf);
                *head = Head { stream_seq, seq, hash: *hash, leaf, ..*head };
                head.bucket
            }
            None => {
                let bucket = bucket_of(stream);
                self.streams.insert(stream.to_string(), Head { bucket, stream_seq, seq, hash: *hash, leaf });
                bucket
            }
        };
        self.buckets.entry(bucket).or_default().insert(leaf);
        self.dirty.insert(bucket);
    }

    /// The stream_seq of `stream`'s head, if it has one.
    pub fn stream_seq_of(&self, stream: &str) -> Option<u64> {
        self.streams.get(stream).map(|h| h.stream_seq)
    }

    /// Streams with a head.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// The map's root, rehashing only what changed since the last call.
    pub fn root(&mut self) -> Hash {
        let mut touched: BTreeSet<u32> = BTreeSet::new();
        for b in std::mem::take(&mut self.dirty) {
            let h = bucket_hash(&self.buckets[&b]);
            self.levels[0].insert(b as u32, h);
            touched.insert(b as u32);
        }
        for level in 0..DEPTH {
            let parents: BTreeSet<u32> = touched.iter().map(|i| i >> 1).collect();
            for &p in &parents {
                let (l, r) = (self.node(level, p << 1), self.node(level, (p << 1) | 1));
                self.levels[level + 1].insert(p, node_hash(&l, &r));
            }
            touched = parents;
        }
        self.node(DEPTH, 0)
    }

    fn node(&self, level: usize, index: u32) -> Hash {
        self.levels[level].get(&index).copied().unwrap_or(self.empty[level])
    }

    /// The proof of `stream`'s head, or `None` if the stream has no event.
    pub fn proof(&mut self, stream: &str) -> Option<HeadProof> {
        self.root();
        let head = self.streams.get(stream)?.clone();
        let others = self.buckets[&head.bucket].iter().filter(|l| **l != head.leaf).map(hex::encode).collect();
        let mut index = head.bucket as u32;
        let mut path = Vec::with_capacity(DEPTH);
        for level in 0..DEPTH {
            path.push(hex::encode(self.node(level, index ^ 1)));
            index >>= 1;
        }
        Some(HeadProof { stream: stream.to_string(), stream_seq: head.stream_seq, seq: head.seq, hash: hex::encode(head.hash), others, path })
    }
}

/// Checks that `proof` leads from its head to `root`.
pub fn verify_head(proof: &HeadProof, root: &Hash) -> Result<()> {
    let bad = |m: String| Error::Proof(format!("stream head of {}: {m}", proof.stream));
    if proof.stream.contains('\n') {
        return Err(bad("a stream name holds no newline".into()));
    }
    if proof.path.len() != DEPTH {
        return Err(bad(format!("the path has {} hashes, not {DEPTH}", proof.path.len())));
    }
    let decode = |h: &String| -> Result<Hash> {
        hex::decode(h)
            .ok()
            .and_then(|b| b.try_into().ok())
            .filter(|_| h.bytes().all(|c| !c.is_ascii_uppercase()))
            .ok_or_else(|| bad(format!("{h:?} is not a lowercase hex hash")))
    };
    let leaf = head_leaf(&proof.stream, proof.stream_seq, proof.seq, &proof.hash);
    let mut leaves: BTreeSet<Hash> = proof.others.iter().map(decode).collect::<Result<_>>()?;
    if leaves.len() != proof.others.len() || !leaves.insert(leaf) {
        return Err(bad("the bucket names a leaf twice".into()));
    }
    let mut node = bucket_hash(&leaves);
    let mut index = bucket_of(&proof.stream) as u32;
    for sibling in &proof.path {
        let s = decode(sibling)?;
        node = if index & 1 == 0 { node_hash(&node, &s) } else { node_hash(&s, &node) };
        index >>= 1;
    }
    if node != *root {
        return Err(bad(format!("the path leads to {}, the checkpoint commits to {}", hex::encode(node), hex::encode(root))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root from scratch, bucket by bucket, as an auditor's script would compute it.
    fn naive_root(heads: &[(&str, u64, u64, &str)]) -> Hash {
        let mut buckets: Vec<BTreeSet<Hash>> = vec![BTreeSet::new(); 1 << DEPTH];
        for (s, ss, seq, h) in heads {
            buckets[bucket_of(s) as usize].insert(head_leaf(s, *ss, *seq, h));
        }
        let mut level: Vec<Hash> = buckets.iter().map(bucket_hash).collect();
        while level.len() > 1 {
            level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
        }
        level[0]
    }

    #[test]
    fn the_kept_root_is_the_naive_one_and_every_proof_verifies() {
        let mut m = StreamHeads::default();
        assert_eq!(m.root(), naive_root(&[]));
        let h = |i: u64| -> Hash { Sha256::digest(i.to_be_bytes()).into() };
        let mut last: HashMap<String, (u64, u64, String)> = HashMap::new();
        for seq in 0..300u64 {
            let stream = format!("person:{:012}", seq % 37);
            let ss = last.get(&stream).map_or(0, |(s, _, _)| s + 1);
            m.update(&stream, ss, seq, &h(seq));
            last.insert(stream, (ss, seq, hex::encode(h(seq))));
            if seq % 50 == 0 || seq == 299 {
                let heads: Vec<(&str, u64, u64, &str)> = last.iter().map(|(s, (ss, q, h))| (s.as_str(), *ss, *q, h.as_str())).collect();
                assert_eq!(m.root(), naive_root(&heads), "after seq {seq}");
            }
        }
        let root = m.root();
        for (s, (ss, q, hx)) in &last {
            let p = m.proof(s).unwrap();
            assert_eq!((p.stream_seq, p.seq, &p.hash), (*ss, *q, hx));
            verify_head(&p, &root).unwrap();
            // An older head of the same stream does not verify.
            if *ss > 0 {
                let old = HeadProof { stream_seq: ss - 1, ..p.clone() };
                assert!(verify_head(&old, &root).is_err());
            }
        }
        // Nor does a head the map does not hold.
        assert!(m.proof("person:nobody").is_none());
    }

    #[test]
    fn the_empty_map_has_the_root_the_docs_give() {
        assert_eq!(hex::encode(empty_root()), "4020b43b5f4e3343557ae55ccd7917abdc3e0c33bcf4c8e735c95f17843fd1c6");
        assert_eq!(StreamHeads::default().root(), empty_root());
    }

    #[test]
    fn two_streams_in_one_bucket_prove_each_other_by_hash_only() {
        // Find two streams sharing a bucket.
        let mut seen: HashMap<u16, String> = HashMap::new();
        let (a, b) = (0..).map(|i| format!("s{i}")).find_map(|s| seen.insert(bucket_of(&s), s.clone()).map(|prev| (prev, s))).unwrap();
        let mut m = StreamHeads::default();
        m.update(&a, 0, 0, &[0xaa; 32]);
        m.update(&b, 0, 1, &[0xbb; 32]);
        let root = m.root();
        let p = m.proof(&a).unwrap();
        assert_eq!(p.others, vec![hex::encode(head_leaf(&b, 0, 1, &"bb".repeat(32)))]);
        verify_head(&p, &root).unwrap();
        // Leaving the other leaf out changes the bucket, and the path no longer leads to the root.
        assert!(verify_head(&HeadProof { others: vec![], ..p }, &root).is_err());
    }
}
