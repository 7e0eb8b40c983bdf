//! The RFC 9162 §2.1 Merkle tree: hashing, proofs and their verification.
//!
//! Stored trees keep every *perfect* subtree node as it is made, addressed by [`NodeId`]
//! (level, index). Any subtree `[start, start+size)` that a root or proof needs is the right fold
//! of its perfect decomposition, so a root reads popcount(n) nodes and a proof O(log n) nodes:
//! callers first ask which nodes a proof needs ([`inclusion_plan`], [`consistency_plan`]), fetch
//! them in one go, then [`Plan::resolve`] them. Nothing is ever rehashed from the leaves.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

pub type Hash = [u8; 32];

/// SHA-256 of the empty string: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// Interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &[u8], right: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A perfect subtree: leaves `[index << level, (index + 1) << level)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

/// A subtree `[start, start + size)` as RFC 9162's MTH(D[start:start+size]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub size: u64,
}

/// Largest power of two strictly less than `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

impl Span {
    /// The perfect subtrees that make up this span, left to right. Spans produced by the proof
    /// functions always start at a multiple of their largest part, so each part is aligned.
    pub fn perfect_parts(self) -> Vec<NodeId> {
        let mut parts = Vec::new();
        let (mut start, mut size) = (self.start, self.size);
        while size > 0 {
            let level = 63 - size.leading_zeros() as u8;
            let width = 1u64 << level;
            debug_assert_eq!(start % width, 0, "unaligned span");
            parts.push(NodeId { level, index: start >> level });
            start += width;
            size -= width;
        }
        parts
    }
}

/// Which spans a proof (or root) consists of, in proof order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub spans: Vec<Span>,
}

impl Plan {
    /// Every stored node this plan needs.
    pub fn nodes(&self) -> BTreeSet<NodeId> {
        self.spans.iter().flat_map(|s| s.perfect_parts()).collect()
    }

    /// Computes each span's hash from the fetched nodes.
    pub fn resolve(&self, nodes: &HashMap<NodeId, Hash>) -> Result<Vec<Hash>> {
        self.spans.iter().map(|s| span_hash(*s, nodes)).collect()
    }
}

/// MTH of a span: the right fold of its perfect parts.
pub fn span_hash(span: Span, nodes: &HashMap<NodeId, Hash>) -> Result<Hash> {
    let parts = span.perfect_parts();
    let mut acc: Option<Hash> = None;
    for id in parts.iter().rev() {
        let h = *nodes.get(id).ok_or_else(|| Error::Proof(format!("node {id:?} is missing from the store")))?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    Ok(acc.unwrap_or_else(empty_root))
}

/// The plan for the root of a tree of `size` leaves.
pub fn root_plan(size: u64) -> Plan {
    Plan { spans: vec![Span { start: 0, size }] }
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
pub fn inclusion_plan(index: u64, size: u64) -> Result<Plan> {
    if index >= size {
        return Err(Error::Proof(format!("leaf {index} is not in a tree of size {size}")));
    }
    fn path(m: u64, start: u64, n: u64, out: &mut Vec<Span>) {
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            path(m, start, k, out);
            out.push(Span { start: start + k, size: n - k });
        } else {
            path(m - k, start + k, n - k, out);
            out.push(Span { start, size: k });
        }
    }
    let mut spans = Vec::new();
    path(index, 0, size, &mut spans);
    Ok(Plan { spans })
}

/// RFC 9162 §2.1.4.1 PROOF(m, D[n]) for 0 < m ≤ n (empty when m = n).
pub fn consistency_plan(m: u64, n: u64) -> Result<Plan> {
    if m == 0 || m > n {
        return Err(Error::Proof(format!("no consistency proof from size {m} to size {n}")));
    }
    fn subproof(m: u64, start: u64, n: u64, b: bool, out: &mut Vec<Span>) {
        if m == n {
            if !b {
                out.push(Span { start, size: m });
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            subproof(m, start, k, b, out);
            out.push(Span { start: start + k, size: n - k });
        } else {
            subproof(m - k, start + k, n - k, false, out);
            out.push(Span { start, size: k });
        }
    }
    let mut spans = Vec::new();
    if m < n {
        subproof(m, 0, n, true, &mut spans);
    }
    Ok(Plan { spans })
}

fn hash32(what: &str, bytes: &[u8]) -> Result<Hash> {
    bytes.try_into().map_err(|_| Error::Proof(format!("{what} is {} bytes, not 32", bytes.len())))
}

/// RFC 9162 §2.1.3.2: verifies that `leaf` (a leaf hash) is at `index` in the tree with `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &[u8], proof: &[impl AsRef<[u8]>], root: &[u8]) -> Result<()> {
    let leaf = hash32("leaf hash", leaf)?;
    let root = hash32("root", root)?;
    if index >= size {
        return Err(Error::Proof(format!("leaf index {index} is not below tree size {size}")));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        let p = hash32("proof node", p.as_ref())?;
        if s == 0 {
            return Err(Error::Proof("proof is longer than the tree is deep".into()));
        }
        if f & 1 == 1 || f == s {
            r = node_hash(&p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, &p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::Proof("proof is shorter than the tree is deep".into()));
    }
    if r != root {
        return Err(Error::Proof("computed root does not match".into()));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `size2` with `root2` extends the one of `size1`
/// with `root1`. A proof from the empty tree is refused: it proves nothing.
pub fn verify_consistency(size1: u64, size2: u64, root1: &[u8], root2: &[u8], proof: &[impl AsRef<[u8]>]) -> Result<()> {
    if size1 == 0 {
        return Err(Error::Proof("no consistency proof from the empty tree".into()));
    }
    if size1 > size2 {
        return Err(Error::Proof(format!("size {size1} is larger than size {size2}")));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(Error::Proof("sizes are equal but the proof is not empty".into()));
        }
        return if root1 == root2 { Ok(()) } else { Err(Error::Proof("equal sizes with different roots".into())) };
    }
    let root1 = hash32("first root", root1)?;
    let root2 = hash32("second root", root2)?;
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(root1);
    }
    for p in proof {
        path.push(hash32("proof node", p.as_ref())?);
    }
    if path.is_empty() {
        return Err(Error::Proof("empty consistency proof".into()));
    }
    let (mut f, mut s) = (size1 - 1, size2 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(Error::Proof("proof is longer than expected".into()));
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::Proof("proof is shorter than expected".into()));
    }
    if fr != root1 {
        return Err(Error::Proof("first root does not match".into()));
    }
    if sr != root2 {
        return Err(Error::Proof("second root does not match".into()));
    }
    Ok(())
}

/// The right edge of a tree: the hashes of the perfect subtrees of `[0, size)`, largest first.
/// Appending a leaf yields the new perfect nodes to store; the root is a fold of the frontier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleFrontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl MerkleFrontier {
    /// Rebuilds the frontier from the stored nodes of `root_plan(size)`.
    pub fn from_nodes(size: u64, nodes: &HashMap<NodeId, Hash>) -> Result<Self> {
        let ids = Span { start: 0, size }.perfect_parts();
        let nodes =
            ids.iter().map(|id| nodes.get(id).copied().ok_or_else(|| Error::Proof(format!("frontier node {id:?} missing")))).collect::<Result<Vec<_>>>()?;
        Ok(Self { size, nodes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The ids of the nodes `from_nodes` needs.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        Span { start: 0, size }.perfect_parts()
    }

    /// Adds a leaf hash and appends every perfect node it completes (the leaf first) to `made`.
    pub fn push(&mut self, leaf: Hash, made: &mut Vec<(NodeId, Hash)>) {
        let mut id = NodeId { level: 0, index: self.size };
        let mut h = leaf;
        made.push((id, h));
        // A pending left sibling exists exactly where the new node's index is odd.
        while id.index & 1 == 1 {
            let left = self.nodes.pop().expect("odd index implies a left sibling on the frontier");
            h = node_hash(&left, &h);
            id = NodeId { level: id.level + 1, index: id.index >> 1 };
            made.push((id, h));
        }
        self.nodes.push(h);
        self.size += 1;
    }

    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(first) => it.fold(*first, |right, left| node_hash(left, &right)),
        }
    }
}
