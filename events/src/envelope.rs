//! The event envelope: hashing (`hash` = SHA-256 of the RFC 8785 form without `hash` and `sig`),
//! `prev` chaining and the domain-separated Ed25519 signature.

use crate::canonical;
use crate::error::{malformed, Error, Result};
use crate::keys::{LedgerSigner, VerifierKey};
use crate::merkle::Hash;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const EVENT_FORMAT: &str = "housing-ledger/event/v1";
/// The 24 bytes that precede the raw hash in every signed message.
pub const SIGNING_DOMAIN: &[u8; 24] = b"housing-ledger/event/v1\n";
/// Below this many events a batch is signed on the calling thread.
const PARALLEL_SIGNING_THRESHOLD: usize = 64;

/// One ledger event, exactly as stored and served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub format: String,
    pub seq: u64,
    pub prev: String,
    pub time: String,
    pub stream: String,
    pub stream_seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    pub key: String,
    pub hash: String,
    pub sig: String,
}

/// The part of an event that `hash` covers.
#[derive(Serialize)]
struct Hashed<'a> {
    format: &'a str,
    seq: u64,
    prev: &'a str,
    time: &'a str,
    stream: &'a str,
    stream_seq: u64,
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a Value,
    key: &'a str,
}

/// What a caller asks to append; the store assigns `seq`, `stream_seq`, `prev` and `time`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub stream: String,
    /// The `stream_seq` this event must get (optimistic concurrency); `None` appends at the end.
    pub expected_stream_seq: Option<u64>,
    pub kind: String,
    pub data: Value,
}

impl NewEvent {
    pub fn new(stream: impl Into<String>, kind: impl Into<String>, data: Value) -> Self {
        Self { stream: stream.into(), expected_stream_seq: None, kind: kind.into(), data }
    }

    pub fn expecting(mut self, stream_seq: u64) -> Self {
        self.expected_stream_seq = Some(stream_seq);
        self
    }

    /// Checks what the format requires of `data`: an object whose integers stay within ±2^53.
    pub fn validate(&self) -> Result<()> {
        if self.stream.is_empty() || self.kind.is_empty() {
            return Err(malformed("event", "stream and type must be non-empty"));
        }
        if !self.data.is_object() {
            return Err(malformed("event data", "must be a JSON object"));
        }
        check_numbers(&self.data, "data")
    }
}

fn check_numbers(v: &Value, path: &str) -> Result<()> {
    match unsafe_number(v) {
        None => Ok(()),
        Some((at, n)) => Err(malformed("event data", format!("{path}{at} = {n} is beyond ±2^53; carry it as a string"))),
    }
}

/// The path (below `v`) and value of the first integer beyond ±2^53. The path is only built
/// for the one that is found: this runs on every event appended.
fn unsafe_number(v: &Value) -> Option<(String, serde_json::Number)> {
    match v {
        Value::Number(n) => {
            // A number with a fraction is a double already; only integers can lose digits.
            let ok = canonical::safe_integer(n).unwrap_or(true);
            (!ok).then(|| (String::new(), n.clone()))
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| unsafe_number(x).map(|(at, n)| (format!("[{i}]{at}"), n))),
        Value::Object(map) => map.iter().find_map(|(k, x)| unsafe_number(x).map(|(at, n)| (format!(".{k}{at}"), n))),
        _ => None,
    }
}

/// An event with its place in the log decided, not yet hashed or signed.
pub struct Draft {
    pub seq: u64,
    pub stream: String,
    pub stream_seq: u64,
    pub kind: String,
    pub data: Value,
    pub time: String,
}

impl Event {
    fn hashed(&self) -> Hashed<'_> {
        Hashed {
            format: &self.format,
            seq: self.seq,
            prev: &self.prev,
            time: &self.time,
            stream: &self.stream,
            stream_seq: self.stream_seq,
            kind: &self.kind,
            data: &self.data,
            key: &self.key,
        }
    }

    /// SHA-256 of the canonical form without `hash` and `sig`.
    pub fn compute_hash(&self) -> Result<Hash> {
        Ok(hash_with_data(self, &canonical::value_to_vec(&self.data)?))
    }

    /// The same hash through the generic canonicaliser (what `compute_hash` must equal).
    pub fn compute_hash_generic(&self) -> Result<Hash> {
        canonical::sha256(&self.hashed())
    }

    /// The stored `hash`, decoded.
    pub fn hash_bytes(&self) -> Result<Hash> {
        decode_hash("hash", &self.hash)
    }

    pub fn prev_bytes(&self) -> Result<Hash> {
        decode_hash("prev", &self.prev)
    }

    /// Checks the stored hash against the content, then the signature under `key`.
    pub fn check(&self, key: &VerifierKey) -> Result<Hash> {
        if self.format != EVENT_FORMAT {
            return Err(Error::UnknownFormat(self.format.clone()));
        }
        let computed = self.compute_hash()?;
        if hex::encode(computed) != self.hash {
            return Err(Error::HashMismatch { stored: self.hash.clone(), computed: hex::encode(computed) });
        }
        self.check_signature(key, &computed)?;
        Ok(computed)
    }

    /// Verifies `sig` over the domain-separated hash.
    pub fn check_signature(&self, key: &VerifierKey, hash: &Hash) -> Result<()> {
        if self.key != key.id_hex() {
            return Err(Error::UnknownKey { key: self.key.clone() });
        }
        let sig = B64.decode(&self.sig).map_err(|_| Error::BadSignature { key: self.key.clone() })?;
        key.verify(&signing_message(hash), &sig)
    }

    /// The canonical JSON of the whole event, as stored.
    pub fn to_canonical(&self) -> Result<String> {
        canonical::to_string(self)
    }
}

/// The envelope's hash given the RFC 8785 form of its `data`.
fn hash_with_data(ev: &Event, data_jcs: &[u8]) -> Hash {
    use sha2::{Digest, Sha256};
    let mut text = Vec::with_capacity(data_jcs.len() + 384);
    write_canonical(ev, data_jcs, false, &mut text);
    Sha256::digest(&text).into()
}

/// The RFC 8785 form of the whole sealed event given its `data`'s: the bytes the store keeps.
fn canonical_with_data(ev: &Event, data_jcs: &[u8]) -> String {
    let mut out = Vec::with_capacity(data_jcs.len() + 512);
    write_canonical(ev, data_jcs, true, &mut out);
    String::from_utf8(out).expect("RFC 8785 text is UTF-8")
}

/// Writes the RFC 8785 form of the envelope, with or without `hash` and `sig`. Its keys in
/// RFC 8785 order are data, format, hash, key, prev, seq, sig, stream, stream_seq, time, type;
/// every scalar is canonicalised on its own. This lets `data`, the large part, be
/// canonicalised in parallel while the chain is hashed in order.
fn write_canonical(ev: &Event, data_jcs: &[u8], signed: bool, out: &mut Vec<u8>) {
    use std::io::Write;
    let string = canonical::write_str;
    out.extend_from_slice(b"{\"data\":");
    out.extend_from_slice(data_jcs);
    out.extend_from_slice(b",\"format\":");
    string(out, &ev.format);
    if signed {
        out.extend_from_slice(b",\"hash\":");
        string(out, &ev.hash);
    }
    out.extend_from_slice(b",\"key\":");
    string(out, &ev.key);
    out.extend_from_slice(b",\"prev\":");
    string(out, &ev.prev);
    write!(out, ",\"seq\":{}", ev.seq).expect("writing to a Vec cannot fail");
    if signed {
        out.extend_from_slice(b",\"sig\":");
        string(out, &ev.sig);
    }
    out.extend_from_slice(b",\"stream\":");
    string(out, &ev.stream);
    write!(out, ",\"stream_seq\":{},\"time\":", ev.stream_seq).expect("writing to a Vec cannot fail");
    string(out, &ev.time);
    out.extend_from_slice(b",\"type\":");
    string(out, &ev.kind);
    out.push(b'}');
}

pub fn decode_hash(what: &'static str, hex_text: &str) -> Result<Hash> {
    let raw = hex::decode(hex_text).map_err(|e| malformed(what, e))?;
    raw.try_into().map_err(|_| malformed(what, "not 32 bytes"))
}

/// `"housing-ledger/event/v1\n"` followed by the 32 raw bytes of the hash.
pub fn signing_message(hash: &Hash) -> [u8; 56] {
    let mut msg = [0u8; 56];
    msg[..24].copy_from_slice(SIGNING_DOMAIN);
    msg[24..].copy_from_slice(hash);
    msg
}

/// Hashes and chains the drafts in order from `prev`, then signs them (in parallel: signing does
/// not depend on the chain, only on each hash). Returns each event with its RFC 8785 text and
/// its hash.
pub fn seal(drafts: Vec<Draft>, mut prev: Hash, signer: &LedgerSigner) -> Result<Vec<(Event, String, Hash)>> {
    let key = signer.verifier().id_hex();
    let mut events = Vec::with_capacity(drafts.len());
    let mut hashes = Vec::with_capacity(drafts.len());
    // The data of every event is canonicalised in parallel; only the short envelope is serial.
    let data_jcs: Vec<Vec<u8>> = drafts.par_iter().map(|d| canonical::value_to_vec(&d.data)).collect::<Result<_>>()?;
    for (d, data_jcs) in drafts.into_iter().zip(&data_jcs) {
        let mut ev = Event {
            format: EVENT_FORMAT.to_string(),
            seq: d.seq,
            prev: hex::encode(prev),
            time: d.time,
            stream: d.stream,
            stream_seq: d.stream_seq,
            kind: d.kind,
            data: d.data,
            key: key.clone(),
            hash: String::new(),
            sig: String::new(),
        };
        let h = hash_with_data(&ev, data_jcs);
        ev.hash = hex::encode(h);
        prev = h;
        hashes.push(h);
        events.push(ev);
    }
    let sign_one = |((mut ev, h), data_jcs): ((Event, &Hash), &Vec<u8>)| {
        ev.sig = B64.encode(signer.sign(&signing_message(h)));
        let text = canonical_with_data(&ev, data_jcs);
        (ev, text, *h)
    };
    Ok(if events.len() >= PARALLEL_SIGNING_THRESHOLD {
        events.into_par_iter().zip(hashes.par_iter()).zip(data_jcs.par_iter()).map(sign_one).collect()
    } else {
        events.into_iter().zip(hashes.iter()).zip(data_jcs.iter()).map(sign_one).collect()
    })
}
