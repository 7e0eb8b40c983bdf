//! Verifying a ledger from its first event: hashes, `prev` links, signatures under the key
//! history (`KeyIntroduced` / `KeyRetired` in stream `keys`), and the Merkle root at any size.
//! Signature checks run in parallel; the order-dependent checks run in one pass after them.

use crate::catalogue::Lenient;
use crate::envelope::{decode_hash, Event, EVENT_FORMAT, EVENT_FORMAT_V2};
use crate::error::{Error, Result};
use crate::heads::StreamHeads;
use crate::keys::VerifierKey;
use crate::merkle::{leaf_hash, Hash, MerkleFrontier};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;

pub const KEY_INTRODUCED: &str = "KeyIntroduced";
pub const KEY_RETIRED: &str = "KeyRetired";
pub const KEYS_STREAM: &str = "keys";

/// What is wrong with an event, for `verify`'s report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Hash,
    Link,
    Signature,
    Key,
    Sequence,
    Format,
    CheckpointRoot,
    CheckpointSignature,
    SourceSignature,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Hash => "hash",
            Fault::Link => "link",
            Fault::Signature => "signature",
            Fault::Key => "key",
            Fault::Sequence => "sequence",
            Fault::Format => "format",
            Fault::CheckpointRoot => "checkpoint root",
            Fault::CheckpointSignature => "checkpoint signature",
            Fault::SourceSignature => "source signature",
        })
    }
}

/// The first bad place in a ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub seq: u64,
    pub fault: Fault,
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {}: {} is wrong: {}", self.seq, self.fault, self.detail)
    }
}

#[derive(Clone, Debug)]
struct KeyRecord {
    key: VerifierKey,
    introduced_at: u64,
    retired_at: Option<u64>,
}

/// The ledger keys as the log has introduced and retired them.
#[derive(Clone, Debug, Default)]
pub struct KeyHistory {
    keys: HashMap<String, KeyRecord>,
}

impl KeyHistory {
    /// The key with `id` if it was in force at `seq`.
    pub fn in_force(&self, id: &str, seq: u64) -> Option<&VerifierKey> {
        self.keys.get(id).filter(|r| r.introduced_at <= seq && r.retired_at.is_none_or(|at| seq < at)).map(|r| &r.key)
    }

    /// Every key ever introduced, oldest first.
    pub fn all(&self) -> Vec<VerifierKey> {
        let mut recs: Vec<_> = self.keys.values().collect();
        recs.sort_by_key(|r| r.introduced_at);
        recs.into_iter().map(|r| r.key.clone()).collect()
    }

    pub fn contains(&self, key: &VerifierKey) -> bool {
        self.keys.get(&key.id_hex()).is_some_and(|r| r.key == *key)
    }

    /// Applies `KeyIntroduced` / `KeyRetired`. Event 0 must introduce the key that signs it.
    pub fn apply(&mut self, ev: &Event) -> std::result::Result<(), KeyFault> {
        if ev.seq == 0 && !(ev.kind == KEY_INTRODUCED && ev.stream == KEYS_STREAM) {
            return Err(KeyFault::FirstNotIntroduced);
        }
        if ev.stream != KEYS_STREAM {
            return Ok(());
        }
        let key = verifier_key_of(ev)?;
        match ev.kind.as_str() {
            KEY_INTRODUCED => {
                if ev.seq == 0 && key.id_hex() != ev.key {
                    return Err(KeyFault::FirstNotSelfSigned);
                }
                if ev.seq > 0 && self.in_force(&ev.key, ev.seq).is_none() {
                    return Err(KeyFault::IntroducerNotInForce(ev.key.clone()));
                }
                if self.keys.contains_key(&key.id_hex()) {
                    return Err(KeyFault::IntroducedTwice(key.id_hex()));
                }
                self.keys.insert(key.id_hex(), KeyRecord { key, introduced_at: ev.seq, retired_at: None });
            }
            KEY_RETIRED => {
                let rec = self.keys.get_mut(&key.id_hex()).ok_or_else(|| KeyFault::NeverIntroduced(key.id_hex()))?;
                if rec.retired_at.is_some() {
                    return Err(KeyFault::RetiredTwice(key.id_hex()));
                }
                // Retirement takes effect after this event, which the retiring key may sign itself.
                rec.retired_at = Some(ev.seq + 1);
                if self.keys.values().all(|r| r.retired_at.is_some()) {
                    return Err(KeyFault::LastRetired);
                }
            }
            other => return Err(KeyFault::UnknownType(other.into())),
        }
        Ok(())
    }

    /// Keys in force after the last event seen.
    pub fn current(&self) -> Vec<VerifierKey> {
        let mut recs: Vec<_> = self.keys.values().filter(|r| r.retired_at.is_none()).collect();
        recs.sort_by_key(|r| r.introduced_at);
        recs.into_iter().map(|r| r.key.clone()).collect()
    }
}

/// A key event that breaks the ledger's key history.
#[derive(Debug, thiserror::Error)]
pub enum KeyFault {
    #[error("event 0 must be the KeyIntroduced of the first ledger key")]
    FirstNotIntroduced,
    #[error("{0}")]
    Key(#[from] Error),
    #[error("event 0 must be signed by the key it introduces")]
    FirstNotSelfSigned,
    #[error("key {0} introducing a new key is not in force")]
    IntroducerNotInForce(String),
    #[error("key {0} is introduced twice")]
    IntroducedTwice(String),
    #[error("retired key {0} was never introduced")]
    NeverIntroduced(String),
    #[error("key {0} is retired twice")]
    RetiredTwice(String),
    #[error("the last key in force was retired")]
    LastRetired,
    #[error("unknown event type {0:?} in stream keys")]
    UnknownType(String),
}

/// What the chain check reads of a `KeyIntroduced` or `KeyRetired`.
#[derive(Deserialize)]
struct KeyEvent<'a> {
    #[serde(borrow, default)]
    verifier_key: Lenient<'a>,
}

fn verifier_key_of(ev: &Event) -> Result<VerifierKey> {
    let key = crate::catalogue::members::<KeyEvent>(&ev.data).ok().and_then(|k| k.verifier_key.0);
    VerifierKey::parse(key.ok_or_else(|| Error::Malformed { what: "key event", detail: "no verifier_key".into() })?)
}

/// A source signature that does not hold against the keys its run names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceFault {
    #[error("no {0}")]
    Missing(&'static str),
    #[error("run {run} names no key for {registry}")]
    NoKey { run: String, registry: String },
    #[error("source_key is not a key run {run} names for {registry}")]
    OtherKey { run: String, registry: String },
    #[error("source_sig is not base64")]
    NotBase64,
    #[error("the answer's signature by {0} does not verify")]
    DoesNotVerify(String),
}

/// Streams through a ledger in order and reports the first fault.
#[derive(Clone, Debug, Default)]
pub struct ChainVerifier {
    next_seq: u64,
    prev: Option<Hash>,
    pub keys: KeyHistory,
    frontier: MerkleFrontier,
    /// run → registry → the Ed25519 source keys its `RunStarted` names.
    source_keys: HashMap<String, HashMap<String, Vec<VerifierKey>>>,
    /// Every stream's head so far: what each checkpoint's `stream-heads` line must commit to.
    heads: StreamHeads,
}

/// The Ed25519 source keys a `RunStarted` names: `data.source_keys` (registry → verifier key,
/// older runs) or the `key` entries of `data.trust.sources` (registry → [entry]).
fn run_source_keys(ev: &Event) -> Option<(String, HashMap<String, Vec<VerifierKey>>)> {
    let r: RunKeys = crate::catalogue::members(&ev.data).ok()?;
    let mut keys: HashMap<String, Vec<VerifierKey>> = HashMap::new();
    for (registry, k) in r.source_keys {
        keys.entry(registry.to_string()).or_default().extend(k.0.and_then(|k| VerifierKey::parse(k).ok()));
    }
    for (registry, entries) in r.trust.map(|t| t.sources).unwrap_or_default() {
        keys.entry(registry.to_string()).or_default().extend(entries.into_iter().filter_map(|e| VerifierKey::parse(e.key.0?).ok()));
    }
    Some((r.run.to_string(), keys))
}

/// What the chain check reads of a `RunStarted`: the source keys it names, as `source_keys`
/// (older runs) or as the `key` of the entries of its trust list's `sources`.
#[derive(Deserialize)]
struct RunKeys<'a> {
    #[serde(borrow)]
    run: &'a str,
    #[serde(borrow, default)]
    source_keys: std::collections::BTreeMap<&'a str, Lenient<'a>>,
    #[serde(borrow, default)]
    trust: Option<RunTrust<'a>>,
}

#[derive(Deserialize)]
struct RunTrust<'a> {
    #[serde(borrow, default)]
    sources: std::collections::BTreeMap<&'a str, Vec<TrustEntry<'a>>>,
}

/// An entry of a trust list: an Ed25519 `key`, or an X.509 anchor (which has none).
#[derive(Deserialize)]
struct TrustEntry<'a> {
    #[serde(borrow, default)]
    key: Lenient<'a>,
}

/// What the chain check reads of a `RegistryResponded`: the signature over its answer, by whom.
/// The answer itself stays the `Value` the source signed.
#[derive(Default, Deserialize)]
struct SourceSigned<'a> {
    #[serde(borrow, default)]
    run: Lenient<'a>,
    #[serde(borrow, default)]
    registry: Lenient<'a>,
    #[serde(borrow, default)]
    source_key: Lenient<'a>,
    #[serde(borrow, default)]
    source_sig: Lenient<'a>,
    #[serde(borrow, default)]
    source_sig_alg: Lenient<'a>,
}

/// Checks the source's signature on a `RegistryResponded` against the keys its run names: the
/// ledger's consistency with its own claim. An answer under the national PKI (`source_sig_alg`)
/// is left to the service's source check (`verify --trust`), which holds the X.509 path.
fn check_source(ev: &Event, keys: &HashMap<String, HashMap<String, Vec<VerifierKey>>>) -> std::result::Result<(), SourceFault> {
    use base64::Engine;
    let d = &ev.data;
    // A v2 answer still sealed (its person erased, or no key given) cannot be checked: the
    // seal's own tag is what stands for it.
    if ev.format == EVENT_FORMAT_V2 && !crate::personal::seal_subjects(d).is_empty() {
        return Ok(());
    }
    let signed: SourceSigned = crate::catalogue::members(d).unwrap_or_default();
    if signed.source_sig_alg.0.is_some_and(|a| a != "ed25519") {
        return Ok(());
    }
    let run = signed.run.0.ok_or(SourceFault::Missing("run"))?;
    let registry = signed.registry.0.ok_or(SourceFault::Missing("registry"))?;
    let unnamed = || SourceFault::NoKey { run: run.into(), registry: registry.into() };
    let named = keys.get(run).and_then(|m| m.get(registry)).filter(|k| !k.is_empty()).ok_or_else(unnamed)?;
    let source_key = signed.source_key.0.unwrap_or_default();
    let key = named.iter().find(|k| k.to_string() == source_key).ok_or_else(|| SourceFault::OtherKey { run: run.into(), registry: registry.into() })?;
    let sig = base64::engine::general_purpose::STANDARD.decode(signed.source_sig.0.unwrap_or_default()).map_err(|_| SourceFault::NotBase64)?;
    crate::registry_answer::verify(&d["answer"], key, &sig).map_err(|_| SourceFault::DoesNotVerify(registry.into()))
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.next_seq
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The stream-head map's root at the size reached.
    pub fn heads_root(&mut self) -> Hash {
        self.heads.root()
    }

    /// Checks the next events of the log (they must follow on from the previous batch).
    pub fn feed(&mut self, events: &[Event]) -> std::result::Result<(), Finding> {
        // Keys a batch introduces may sign later events of the same batch: look them up first.
        let mut candidates: HashMap<String, VerifierKey> = HashMap::new();
        for ev in events.iter().filter(|e| e.kind == KEY_INTRODUCED && e.stored_stream() == KEYS_STREAM) {
            if let Ok(k) = verifier_key_of(ev) {
                candidates.insert(k.id_hex(), k);
            }
        }
        let lookup = |id: &str| self.keys.keys.get(id).map(|r| r.key.clone()).or_else(|| candidates.get(id).cloned());
        let mut source_keys = self.source_keys.clone();
        source_keys.extend(events.iter().filter(|e| e.kind == crate::types::RUN_STARTED).filter_map(run_source_keys));
        // Order-free work in parallel: recompute each hash and check each signature.
        let checked: Vec<std::result::Result<Hash, Finding>> = events
            .par_iter()
            .map(|ev| {
                let find = |fault, detail: String| Finding { seq: ev.seq, fault, detail };
                if ev.format != EVENT_FORMAT && ev.format != EVENT_FORMAT_V2 {
                    return Err(find(Fault::Format, format!("unknown format {:?}", ev.format)));
                }
                let computed = ev.compute_hash().map_err(|e| find(Fault::Format, e.to_string()))?;
                if hex::encode(computed) != ev.hash {
                    return Err(find(Fault::Hash, format!("stored {}, computed {}", ev.hash, hex::encode(computed))));
                }
                let key = lookup(&ev.key).ok_or_else(|| find(Fault::Key, format!("key {} was never introduced", ev.key)))?;
                ev.check_signature(&key, &computed).map_err(|e| find(Fault::Signature, e.to_string()))?;
                if ev.kind == crate::types::REGISTRY_RESPONDED {
                    check_source(ev, &source_keys).map_err(|e| find(Fault::SourceSignature, e.to_string()))?;
                }
                Ok(computed)
            })
            .collect();
        for (ev, result) in events.iter().zip(checked) {
            let find = |fault, detail: String| Finding { seq: ev.seq, fault, detail };
            if ev.seq != self.next_seq {
                return Err(Finding { seq: self.next_seq, fault: Fault::Sequence, detail: format!("expected seq {}, found {}", self.next_seq, ev.seq) });
            }
            let expected_prev = self.prev.unwrap_or([0u8; 32]);
            match decode_hash("prev", &ev.prev) {
                Ok(p) if p == expected_prev => {}
                _ => return Err(find(Fault::Link, format!("prev is {}, the event before hashes to {}", ev.prev, hex::encode(expected_prev)))),
            }
            let hash = result?;
            let due = self.heads.stream_seq_of(ev.stored_stream()).map_or(0, |s| s + 1);
            if ev.stream_seq != due {
                return Err(find(Fault::Sequence, format!("stream {} is at stream_seq {due}, the event says {}", ev.stored_stream(), ev.stream_seq)));
            }
            self.heads.update(ev.stored_stream(), ev.stream_seq, ev.seq, &hash);
            self.keys.apply(ev).map_err(|e| find(Fault::Key, e.to_string()))?;
            if self.keys.in_force(&ev.key, ev.seq).is_none() {
                return Err(find(Fault::Key, format!("key {} is not in force at seq {}", ev.key, ev.seq)));
            }
            if ev.kind == crate::types::RUN_STARTED {
                if let Some((run, keys)) = run_source_keys(ev) {
                    self.source_keys.insert(run, keys);
                }
            }
            self.frontier.push(leaf_hash(&hash), &mut Vec::new());
            self.prev = Some(hash);
            self.next_seq += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::{json, Value};

    fn event(kind: &str, data: Value) -> Event {
        Event::unsealed(1, "person:x", kind, data)
    }

    /// Event data is an object of named members: data given as an array is not read by
    /// position, where a member looked up by name finds nothing.
    #[test]
    fn data_given_as_an_array_is_not_read_by_position() {
        use crate::catalogue::KeyIntroduced;
        let signer = crate::keys::LedgerSigner::from_seed("registry/zags", [7; 32]).unwrap();
        let key = signer.verifier().to_string();
        let introduced = event("KeyIntroduced", json!([key, "first key"]));
        assert!(introduced.as_type::<KeyIntroduced>().is_none());
        assert!(introduced.decode::<KeyIntroduced>().unwrap_err().to_string().contains("data is not an object of named members"));
        assert!(verifier_key_of(&introduced).is_err(), "no verifier_key in an array");
        assert!(run_source_keys(&event("RunStarted", json!(["r1", {"zags": key}]))).is_none());
        let keys = HashMap::from([("r1".to_string(), HashMap::from([("zags".to_string(), vec![signer.verifier()])]))]);
        let answer = json!({"registry": "zags", "records": {}});
        let sig = base64::engine::general_purpose::STANDARD.encode(crate::registry_answer::sign(&answer, &signer).unwrap());
        let positional = event("RegistryResponded", json!(["r1", "zags", key, sig]));
        assert_eq!(check_source(&positional, &keys), Err(SourceFault::Missing("run")));
        // The same members by name are read.
        let named = event("KeyIntroduced", json!({"verifier_key": key, "reason": "first key"}));
        assert_eq!(named.as_type::<KeyIntroduced>().unwrap().verifier_key, key);
        assert_eq!(verifier_key_of(&named).unwrap(), signer.verifier());
    }

    /// The members of a source signature are read typed; one of another type is named as
    /// missing (or as another key), as an absent one is, never passed over.
    #[test]
    fn a_source_signature_is_checked_against_the_keys_its_run_names() {
        let signer = crate::keys::LedgerSigner::from_seed("registry/zags", [7; 32]).unwrap();
        let key = signer.verifier().to_string();
        let started = json!({"run": "r1", "trust": {"sources": {"zags": [{"anchor": "an X.509 anchor has no key"}, {"key": key}]}}});
        let (run, named) = run_source_keys(&event("RunStarted", started)).unwrap();
        let keys = HashMap::from([(run, named)]);
        let answer = json!({"registry": "zags", "records": {}});
        let sig = base64::engine::general_purpose::STANDARD.encode(crate::registry_answer::sign(&answer, &signer).unwrap());
        let good = json!({"run": "r1", "registry": "zags", "source_key": key, "source_sig": sig, "answer": answer});
        let with = |member: &str, value: Value| {
            let mut d = good.clone();
            d[member] = value;
            check_source(&event("RegistryResponded", d), &keys)
        };
        let other = |run: &str| SourceFault::OtherKey { run: run.into(), registry: "zags".into() };
        type Checked = std::result::Result<(), SourceFault>;
        let cases: Vec<(Checked, Checked)> = vec![
            (check_source(&event("RegistryResponded", good.clone()), &keys), Ok(())),
            (with("run", json!(5)), Err(SourceFault::Missing("run"))),
            (with("registry", Value::Null), Err(SourceFault::Missing("registry"))),
            (with("run", json!("r2")), Err(SourceFault::NoKey { run: "r2".into(), registry: "zags".into() })),
            (with("source_key", json!(["not", "text"])), Err(other("r1"))),
            (with("source_sig", json!("not base64!")), Err(SourceFault::NotBase64)),
            (with("answer", json!({"registry": "zags", "records": {"changed": true}})), Err(SourceFault::DoesNotVerify("zags".into()))),
            // Under the national PKI: left to the service's check, which holds the X.509 path.
            (with("source_sig_alg", json!("rsa-pkcs1-sha256")), Ok(())),
        ];
        for (n, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {n}");
        }
        // An older run names its keys in `source_keys`; a key that is not text is no key.
        let (_, older) = run_source_keys(&event("RunStarted", json!({"run": "r0", "source_keys": {"zags": key, "egkn": 7}}))).unwrap();
        assert_eq!((older["zags"].len(), older["egkn"].len()), (1, 0));
        assert!(run_source_keys(&event("RunStarted", json!({"source_keys": {}}))).is_none(), "no run, no keys");
    }
}
