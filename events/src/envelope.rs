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
/// Format v2: personal data sealed per person (`personal`, `docs/implementation/personal-data.md`).
pub const EVENT_FORMAT_V2: &str = "housing-ledger/event/v2";
/// The 24 bytes that precede the raw hash in every signed message of a v1 event.
pub const SIGNING_DOMAIN: &[u8; 24] = b"housing-ledger/event/v1\n";
/// The same for a v2 event: the domain follows the format.
pub const SIGNING_DOMAIN_V2: &[u8; 24] = b"housing-ledger/event/v2\n";
/// Below this many events a batch is signed on the calling thread.
const PARALLEL_SIGNING_THRESHOLD: usize = 64;

/// One ledger event. Read from a v2 ledger by whoever holds the keys, `stream` and `data` are
/// the opened ones and `stored` keeps what was stored (what `hash` covers); otherwise `stream`
/// and `data` are as stored. It serialises as stored, with the opened `data` beside it as
/// `opened` (and the opened stream as `opened_stream`), and deserialises as stored.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "Wire")]
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
    /// The stored stream and data of an opened event.
    pub stored: Option<Box<Stored>>,
}

impl Event {
    /// A v1 event at `seq` that was never sealed (no `prev`, time, hash or signature): what a
    /// fold or a check is tested on, which reads only the members given.
    pub fn unsealed(seq: u64, stream: &str, kind: &str, data: Value) -> Event {
        Event {
            format: EVENT_FORMAT.into(),
            seq,
            prev: String::new(),
            time: String::new(),
            stream: stream.into(),
            stream_seq: seq,
            kind: kind.into(),
            data,
            key: String::new(),
            hash: String::new(),
            sig: String::new(),
            stored: None,
        }
    }

    /// A copy of the event as opened, without what is stored beside it: for a fold, which reads
    /// only the opened data (a v2 event's stored form doubled the cost of every copy and drop).
    pub fn opened_copy(&self) -> Event {
        Event {
            format: self.format.clone(),
            seq: self.seq,
            prev: self.prev.clone(),
            time: self.time.clone(),
            stream: self.stream.clone(),
            stream_seq: self.stream_seq,
            kind: self.kind.clone(),
            data: self.data.clone(),
            key: self.key.clone(),
            hash: self.hash.clone(),
            sig: self.sig.clone(),
            stored: None,
        }
    }
}

/// What a v2 event stores in place of its opened stream and data.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub stream: String,
    pub data: Value,
}

/// An event on the wire: as stored, with what was opened beside it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    seq: u64,
    prev: String,
    time: String,
    stream: String,
    stream_seq: u64,
    #[serde(rename = "type")]
    kind: String,
    data: Value,
    key: String,
    hash: String,
    sig: String,
    /// Served, never trusted: a reader opens the seals himself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    opened: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    opened_stream: Option<String>,
}

/// An event on the wire, borrowed from it.
#[derive(Serialize)]
struct WireRef<'a> {
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
    hash: &'a str,
    sig: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    opened: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    opened_stream: Option<&'a str>,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let opened = self.stored.is_some();
        WireRef {
            format: &self.format,
            seq: self.seq,
            prev: &self.prev,
            time: &self.time,
            stream: self.stored_stream(),
            stream_seq: self.stream_seq,
            kind: &self.kind,
            data: self.stored_data(),
            key: &self.key,
            hash: &self.hash,
            sig: &self.sig,
            opened: opened.then_some(&self.data),
            opened_stream: opened.then_some(self.stream.as_str()),
        }
        .serialize(s)
    }
}

impl From<Wire> for Event {
    fn from(w: Wire) -> Self {
        Event {
            format: w.format,
            seq: w.seq,
            prev: w.prev,
            time: w.time,
            stream: w.stream,
            stream_seq: w.stream_seq,
            kind: w.kind,
            data: w.data,
            key: w.key,
            hash: w.hash,
            sig: w.sig,
            stored: None,
        }
    }
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
            stream: self.stored_stream(),
            stream_seq: self.stream_seq,
            kind: &self.kind,
            data: self.stored_data(),
            key: &self.key,
        }
    }

    /// The stream as stored (a v2 event's names a person by his blind id).
    pub fn stored_stream(&self) -> &str {
        self.stored.as_ref().map_or(&self.stream, |s| &s.stream)
    }

    /// The data as stored (what `hash` covers).
    pub fn stored_data(&self) -> &Value {
        self.stored.as_ref().map_or(&self.data, |s| &s.data)
    }

    /// This event as stored, without what was opened.
    pub fn as_stored(&self) -> Event {
        match &self.stored {
            None => self.clone(),
            Some(s) => Event { stream: s.stream.clone(), data: s.data.clone(), stored: None, ..self.clone() },
        }
    }

    /// SHA-256 of the canonical form without `hash` and `sig`.
    pub fn compute_hash(&self) -> Result<Hash> {
        let mut text = Vec::with_capacity(1024);
        let spans = write_stored(self, &self.prev, &self.hash, &self.sig, &mut text)?;
        Ok(spans.hashed(&text))
    }

    /// The same hash through the generic canonicaliser (what `compute_hash` must equal).
    pub fn compute_hash_generic(&self) -> Result<Hash> {
        canonical::sha256(&self.hashed())
    }

    /// The stored `hash`, decoded.
    pub fn hash_bytes(&self) -> Result<Hash> {
        decode_hash("hash", &self.hash)
    }

    /// Checks the stored hash against the content, then the signature under `key`.
    pub fn check(&self, key: &VerifierKey) -> Result<Hash> {
        if self.format != EVENT_FORMAT && self.format != EVENT_FORMAT_V2 {
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
        key.verify(&signing_message_for(&self.format, hash), &sig)
    }

    /// The canonical JSON of the whole event, as stored.
    pub fn to_canonical(&self) -> Result<String> {
        canonical::to_string(&self.as_stored())
    }
}

/// Where the parts that `hash` does not cover, and `prev`, lie in an event's stored text.
struct Spans {
    /// `,"hash":"…"`: left out of the hashed text.
    hash: std::ops::Range<usize>,
    /// `prev`'s string, quotes included.
    prev: std::ops::Range<usize>,
    /// `,"sig":"…"`: left out of the hashed text.
    sig: std::ops::Range<usize>,
}

impl Spans {
    /// SHA-256 over the hashed text, which is the stored text without the `hash` and `sig`
    /// members (each a whole member, comma included, so what is left is RFC 8785 itself).
    fn hashed(&self, text: &[u8]) -> Hash {
        use sha2::Digest;
        let mut h = sha2::Sha256::new_with_prefix(&text[..self.hash.start]);
        h.update(&text[self.hash.end..self.sig.start]);
        h.update(&text[self.sig.end..]);
        h.finalize().into()
    }
}

/// Writes the RFC 8785 form of the whole event as stored, with `prev`, `hash` and `sig` given
/// apart (placeholders of the right length when sealing), and says where they lie. The keys in
/// RFC 8785 order are data, format, hash, key, prev, seq, sig, stream, stream_seq, time, type;
/// every scalar is canonicalised on its own. So the text is written once, its hash taken over
/// spans of it, and the fields known last are filled in where they stand.
fn write_stored(ev: &Event, prev: &str, hash: &str, sig: &str, out: &mut Vec<u8>) -> Result<Spans> {
    use std::io::Write;
    let string = canonical::write_str;
    out.extend_from_slice(b"{\"data\":");
    canonical::write_value(out, ev.stored_data())?;
    out.extend_from_slice(b",\"format\":");
    string(out, &ev.format);
    let hash_at = out.len();
    out.extend_from_slice(b",\"hash\":");
    string(out, hash);
    let hash_span = hash_at..out.len();
    out.extend_from_slice(b",\"key\":");
    string(out, &ev.key);
    out.extend_from_slice(b",\"prev\":");
    let prev_at = out.len();
    string(out, prev);
    let prev_span = prev_at..out.len();
    write!(out, ",\"seq\":{}", ev.seq).expect("writing to a Vec cannot fail");
    let sig_at = out.len();
    out.extend_from_slice(b",\"sig\":");
    string(out, sig);
    let sig_span = sig_at..out.len();
    out.extend_from_slice(b",\"stream\":");
    string(out, ev.stored_stream());
    write!(out, ",\"stream_seq\":{},\"time\":", ev.stream_seq).expect("writing to a Vec cannot fail");
    string(out, &ev.time);
    out.extend_from_slice(b",\"type\":");
    string(out, &ev.kind);
    out.push(b'}');
    Ok(Spans { hash: hash_span, prev: prev_span, sig: sig_span })
}

pub fn decode_hash(what: &'static str, hex_text: &str) -> Result<Hash> {
    let raw = hex::decode(hex_text).map_err(|e| malformed(what, e))?;
    raw.try_into().map_err(|_| malformed(what, "not 32 bytes"))
}

/// `"housing-ledger/event/v1\n"` followed by the 32 raw bytes of the hash.
pub fn signing_message(hash: &Hash) -> [u8; 56] {
    signing_message_for(EVENT_FORMAT, hash)
}

/// The signed message of an event of `format`: its domain (`housing-ledger/event/v1\n` or
/// `…/v2\n`) followed by the 32 raw bytes of the hash.
pub fn signing_message_for(format: &str, hash: &Hash) -> [u8; 56] {
    let mut msg = [0u8; 56];
    msg[..24].copy_from_slice(if format == EVENT_FORMAT_V2 { SIGNING_DOMAIN_V2 } else { SIGNING_DOMAIN });
    msg[24..].copy_from_slice(hash);
    msg
}

/// Hashes and chains the drafts in order from `prev`, then signs them. Returns each event with
/// its RFC 8785 text and its hash.
///
/// Only `prev` makes the chain serial, and in the hashed text it comes after `data`, the large
/// part. So each event's stored text is written once, with placeholders for `prev`, `hash` and
/// `sig`, and SHA-256 run over everything before `prev`, in parallel; in order, only the short
/// rest is hashed from that midstate. Signing depends on each hash alone and runs in parallel
/// again; the three fields are then written over their placeholders.
///
/// With `personal` (a v2 ledger), each draft's personal data is sealed first, at its seq, and
/// the event is v2: returned opened, with what is stored beside it.
pub fn seal(drafts: Vec<Draft>, mut prev: Hash, signer: &LedgerSigner, personal: Option<&crate::personal::Protector>) -> Result<Vec<(Event, String, Hash)>> {
    use sha2::Digest;
    // Placeholders as long as what replaces them: 64 hex digits, 88 base64 characters.
    const HEX_64: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    const B64_88: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    let key = signer.verifier().id_hex();
    let parallel = drafts.len() >= PARALLEL_SIGNING_THRESHOLD;
    let unchain = |d: Draft| -> Result<Unchained> {
        let (format, stored) = match personal {
            None => (EVENT_FORMAT, None),
            Some(p) => (EVENT_FORMAT_V2, Some(Box::new(p.protect(EVENT_FORMAT_V2, d.seq, &d.stream, &d.kind, &d.data)?))),
        };
        let ev = Event {
            format: format.to_string(),
            seq: d.seq,
            prev: String::new(),
            time: d.time,
            stream: d.stream,
            stream_seq: d.stream_seq,
            kind: d.kind,
            data: d.data,
            key: key.clone(),
            hash: String::new(),
            sig: String::new(),
            stored,
        };
        let mut text = Vec::with_capacity(1024);
        let spans = write_stored(&ev, HEX_64, HEX_64, B64_88, &mut text)?;
        let mut head = sha2::Sha256::new_with_prefix(&text[..spans.hash.start]);
        head.update(&text[spans.hash.end..spans.prev.start]);
        Ok(Unchained { ev, text, spans, head })
    };
    let mut unchained: Vec<Unchained> =
        if parallel { drafts.into_par_iter().map(unchain).collect::<Result<_>>()? } else { drafts.into_iter().map(unchain).collect::<Result<_>>()? };
    let mut hashes = Vec::with_capacity(unchained.len());
    for u in &mut unchained {
        let Spans { prev: p, sig, .. } = &u.spans;
        // Inside the quotes of `prev`'s placeholder.
        let prev_hex = &mut u.text[p.start + 1..p.end - 1];
        hex::encode_to_slice(prev, prev_hex).expect("64 hex digits for 32 bytes");
        let mut h = u.head.clone();
        h.update(&u.text[p.start..sig.start]);
        h.update(&u.text[sig.end..]);
        let hash: Hash = h.finalize().into();
        prev = hash;
        hashes.push(hash);
    }
    let sign_one = |(mut u, h): (Unchained, &Hash)| {
        let Spans { hash: hs, prev: p, sig } = &u.spans;
        // `,"hash":"` is 9 bytes and `,"sig":"` 8, each followed by the value and a quote.
        hex::encode_to_slice(h, &mut u.text[hs.start + 9..hs.end - 1]).expect("64 hex digits for 32 bytes");
        let sig_b64 = &mut u.text[sig.start + 8..sig.end - 1];
        B64.encode_slice(signer.sign(&signing_message_for(&u.ev.format, h)), sig_b64).expect("88 base64 characters for 64 bytes");
        let ascii = |r: std::ops::Range<usize>| String::from_utf8(u.text[r].to_vec()).expect("hex and base64 are ASCII");
        u.ev.prev = ascii(p.start + 1..p.end - 1);
        u.ev.hash = ascii(hs.start + 9..hs.end - 1);
        u.ev.sig = ascii(sig.start + 8..sig.end - 1);
        let text = String::from_utf8(u.text).expect("RFC 8785 text is UTF-8");
        (u.ev, text, *h)
    };
    Ok(if parallel {
        unchained.into_par_iter().zip(hashes.par_iter()).map(sign_one).collect()
    } else {
        unchained.into_iter().zip(hashes.iter()).map(sign_one).collect()
    })
}

/// An event not yet chained: its stored text with placeholders, where they lie, and SHA-256
/// run over the hashed text before `prev`.
struct Unchained {
    ev: Event,
    text: Vec<u8>,
    spans: Spans,
    head: sha2::Sha256,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `seal` hashes from a midstate in order and signs in parallel; each event must still be
    /// exactly what the plain path (`compute_hash`, `to_canonical`) makes of it, in batches
    /// sealed in parallel and on the calling thread alike.
    #[test]
    fn sealed_events_match_the_plain_canonical_path() {
        let signer = LedgerSigner::from_seed("test", [3u8; 32]).unwrap();
        for n in [1, 5, PARALLEL_SIGNING_THRESHOLD + 37] {
            let drafts: Vec<Draft> = (0..n)
                .map(|i| Draft {
                    seq: 10 + i as u64,
                    stream: format!("person:{i}\u{e9}\"q\""),
                    stream_seq: i as u64 % 3,
                    kind: "Test".into(),
                    data: json!({"i": i, "big": 1e30, "text": "a\u{1}\u{e000}\u{1f600}\\", "z": {"b": [1.5, null], "a": true}}),
                    time: "2026-01-01T00:00:00.000Z".into(),
                })
                .collect();
            let start = [7u8; 32];
            let sealed = seal(drafts, start, &signer, None).unwrap();
            let mut prev = start;
            for (ev, text, hash) in &sealed {
                assert_eq!(ev.prev, hex::encode(prev));
                assert_eq!(ev.compute_hash().unwrap(), *hash);
                assert_eq!(ev.check(&signer.verifier()).unwrap(), *hash);
                assert_eq!(text, &ev.to_canonical().unwrap());
                assert_eq!(&serde_json::from_str::<Event>(text).unwrap(), ev);
                prev = *hash;
            }
            assert_eq!(sealed.len(), n);
        }
    }
}
