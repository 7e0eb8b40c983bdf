//! Proof bundles (`ledger-format.md`, "Proof bundle"): everything a person's decision rests on,
//! with inclusion paths against a signed checkpoint, checkable offline by `verify-proof`.
//!
//! Batch answers that carry other persons' data (the step-4 list page and the step-11 decision
//! batch) are named by seq but not copied into a person's bundle.

use crate::ledger::{Ledger, LedgerError};
use crate::registry::{check_answer, records_of, AnswerKind, SignedAnswer, TrustedKeys};
use crate::rules::checks::{self, CheckVerdict, Family, Ground, Records};
use crate::rules::records::RegistryId;
use crate::rules::steps::{Outcome, StepMachine};
use crate::rules::{Procedure, RuleBook};
use events::catalogue::{self as ev, Status};
use events::merkle::leaf_hash;
use events::types::*;
use events::{Checkpoint, Event, VerifierKey};
use projections::person::Persons;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const PROOF_FORMAT: &str = "housing-ledger/proof/v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inclusion {
    pub seq: u64,
    pub tree_size: u64,
    pub path: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    pub ledger: Vec<String>,
    pub registries: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub iin: String,
    pub procedure: String,
    pub status: Status,
    pub grounds: Vec<Ground>,
    pub events: Vec<Event>,
    pub checkpoint: String,
    pub inclusion: Vec<Inclusion>,
    pub keys: Keys,
    /// The RFC 3161 token (base64 DER) over the checkpoint's body, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Decision 11: `"simulation, not a legal act"` where the run was a simulation. Its signed
    /// events say so too, and `verify` checks that this agrees with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<String>,
}

/// What a simulation's bundle, page and verification say of it (decision 11).
pub const SIMULATION_NOTE: &str = "simulation, not a legal act";

/// Whether the events show a simulation: a run recorded as one, or a person's entry,
/// proposal, decision or notice marked so, all signed.
pub fn is_simulation(events: &[Event]) -> bool {
    events.iter().any(Event::simulation)
}

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("no {procedure} case for {iin}")]
    NoCase { iin: String, procedure: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("proof does not verify: {0}")]
    Invalid(String),
}

fn invalid(m: impl Into<String>) -> ProofError {
    ProofError::Invalid(m.into())
}

/// The `RunStarted` and `ListSubmitted` of runs, kept once both are written (neither changes
/// after): every bundle of a run needs them, and a run's list submission is large.
#[derive(Default)]
pub struct RunHeaders(std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Vec<Event>>>>);

/// Runs whose headers are kept at most (the cache starts afresh beyond).
const RUN_HEADERS_KEPT: usize = 1024;

impl RunHeaders {
    async fn get(&self, ledger: &Ledger, run: &str) -> Result<std::sync::Arc<Vec<Event>>, LedgerError> {
        if let Some(h) = self.0.lock().expect("run headers lock").get(run) {
            return Ok(h.clone());
        }
        let mut evs = Vec::new();
        for kind in [RUN_STARTED, LIST_SUBMITTED] {
            evs.extend(ledger.read_stream_kind(&run_stream(run), kind).await?);
        }
        let evs = std::sync::Arc::new(evs);
        if [RUN_STARTED, LIST_SUBMITTED].iter().all(|k| evs.iter().any(|e| e.kind == *k)) {
            let mut kept = self.0.lock().expect("run headers lock");
            if kept.len() >= RUN_HEADERS_KEPT {
                kept.clear();
            }
            kept.insert(run.to_string(), evs.clone());
        }
        Ok(evs)
    }
}

/// Builds the bundle for a person's latest case in `procedure`.
pub async fn build(ledger: &Ledger, registries: &TrustedKeys, iin: &str, procedure: Procedure) -> Result<Bundle, ProofError> {
    build_with(ledger, registries, &RunHeaders::default(), iin, procedure).await
}

/// `build`, with run headers kept across calls.
pub async fn build_with(ledger: &Ledger, registries: &TrustedKeys, headers: &RunHeaders, iin: &str, procedure: Procedure) -> Result<Bundle, ProofError> {
    // Independent reads, concurrently.
    let (person, keys) = tokio::join!(load_person_with(ledger, headers, iin), ledger.read_stream(KEYS_STREAM_NAME));
    let (persons, person, run_events) = person?;
    let keys = keys?;
    let case = persons
        .cases
        .get(iin)
        .and_then(|m| m.get(procedure.as_str()))
        .cloned()
        .ok_or_else(|| ProofError::NoCase { iin: iin.into(), procedure: procedure.to_string() })?;
    let mut events: BTreeMap<u64, Event> = BTreeMap::new();
    // The person's and his notice's events of the case's run.
    // An appeal's re-check is not what the decision rested on; the case file carries it.
    for e in person.into_iter().filter(|e| e.run() == Some(case.run.as_str()) && e.appeal().is_none()) {
        events.insert(e.seq, e);
    }
    for e in run_events.into_iter().filter(|e| e.run() == Some(case.run.as_str()) && (e.kind == RUN_STARTED || e.kind == LIST_SUBMITTED)) {
        events.insert(e.seq, e);
    }
    let history = crate::ledger::key_history(&keys);
    for e in keys {
        events.insert(e.seq, e);
    }
    // The latest checkpoint serves if it covers every event; a new one is signed only if not.
    let cp = ledger.checkpoint_covering(events.keys().next_back().copied().unwrap_or(0)).await?;
    let seqs: Vec<u64> = events.keys().copied().collect();
    let paths = ledger.inclusion_proofs(&seqs, cp.tree_size).await?;
    let inclusion =
        seqs.iter().zip(paths).map(|(seq, path)| Inclusion { seq: *seq, tree_size: cp.tree_size, path: path.iter().map(hex::encode).collect() }).collect();
    let events: Vec<Event> = events.into_values().collect();
    // The checkpoint as cosigned by the witnesses, where they have.
    let note = crate::witness::cosigned_note(ledger, &cp.note, cp.tree_size).await.map_err(LedgerError::from)?;
    let timestamp = ledger.checkpoints().timestamp(cp.tree_size).await.map_err(LedgerError::from)?.map(|t| crate::timestamp::to_base64(&t));
    Ok(Bundle {
        format: PROOF_FORMAT.into(),
        iin: iin.into(),
        procedure: procedure.to_string(),
        status: case.status,
        grounds: case.grounds,
        simulation: is_simulation(&events).then(|| SIMULATION_NOTE.to_string()),
        events,
        checkpoint: note,
        timestamp,
        inclusion,
        keys: Keys { ledger: history.all().iter().map(|k| k.to_string()).collect(), registries: registries.as_map() },
    })
}

/// A person's cases folded from his stream, the `RunStarted` of his runs and his notices.
/// Returns the fold, his events and the events of his runs' streams.
pub async fn load_person(ledger: &Ledger, iin: &str) -> Result<(Persons, Vec<Event>, Vec<Event>), LedgerError> {
    load_person_with(ledger, &RunHeaders::default(), iin).await
}

async fn load_person_with(ledger: &Ledger, headers: &RunHeaders, iin: &str) -> Result<(Persons, Vec<Event>, Vec<Event>), LedgerError> {
    let person = ledger.read_stream(&person_stream(iin)).await?;
    let runs: BTreeSet<String> = person.iter().filter_map(|e| e.run().map(String::from)).collect();
    // Only what a bundle needs of each run's stream (its list pages hold other persons' data).
    let mut run_events = Vec::new();
    let mut notices = Vec::new();
    for run in &runs {
        let notice = notice_stream(&format!("{run}-{iin}"));
        let (h, n) = tokio::join!(headers.get(ledger, run), ledger.read_stream(&notice));
        run_events.extend(h?.iter().cloned());
        notices.extend(n?);
    }
    let mut persons = Persons::default();
    let mut all: Vec<&Event> = person.iter().chain(notices.iter()).collect();
    all.sort_by_key(|e| e.seq);
    all.into_iter().for_each(|e| persons.apply(e));
    let mut with_notices = person;
    with_notices.extend(notices);
    with_notices.sort_by_key(|e| e.seq);
    Ok((persons, with_notices, run_events))
}

const KEYS_STREAM_NAME: &str = events::verify::KEYS_STREAM;

/// Checks each event's hash and signature by a trusted key, trusting the keys that trusted
/// events introduce.
fn check_signatures(events: &[Event], trusted: &mut BTreeMap<String, VerifierKey>) -> Result<(), ProofError> {
    for e in events {
        let key = trusted.get(&e.key).ok_or_else(|| invalid(format!("seq {}: signed by key {}, which the anchor does not lead to", e.seq, e.key)))?;
        e.check(key).map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
        if e.kind == KEY_INTRODUCED {
            let k = VerifierKey::parse(&decode::<ev::KeyIntroduced>(e)?.verifier_key).map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
            trusted.insert(k.id_hex(), k);
        }
    }
    Ok(())
}

/// Checks that every event has an inclusion path to the checkpoint's root, and every path an event.
fn check_included(events: &[Event], inclusion: &[Inclusion], cp: &Checkpoint) -> Result<(), ProofError> {
    let by_seq: BTreeMap<u64, &Event> = events.iter().map(|e| (e.seq, e)).collect();
    let mut included = BTreeSet::new();
    for inc in inclusion {
        let ev = by_seq.get(&inc.seq).ok_or_else(|| invalid(format!("inclusion path for seq {}, which the bundle does not hold", inc.seq)))?;
        if inc.tree_size != cp.size {
            return Err(invalid(format!("seq {}: path is for tree size {}, the checkpoint is {}", inc.seq, inc.tree_size, cp.size)));
        }
        let path = inc.path.iter().map(hex::decode).collect::<Result<Vec<_>, _>>().map_err(|_| invalid(format!("seq {}: path is not hex", inc.seq)))?;
        let leaf = leaf_hash(&ev.hash_bytes().map_err(|e| invalid(e.to_string()))?);
        events::merkle::verify_inclusion(inc.seq, inc.tree_size, &leaf, &path, &cp.root).map_err(|e| invalid(format!("seq {}: {e}", inc.seq)))?;
        included.insert(inc.seq);
    }
    if let Some(missing) = by_seq.keys().find(|s| !included.contains(s)) {
        return Err(invalid(format!("seq {missing} has no inclusion path")));
    }
    Ok(())
}

pub const CASE_FILE_FORMAT: &str = "housing-ledger/case-file/v1";

/// An appeal's case file: the notice as sent, the proof bundle of the decision appealed, and
/// the appeal's events (its stream, the re-check in the person's stream, and any notice of
/// reinstatement), each with its inclusion path against the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub format: String,
    pub appeal: String,
    /// The `NoticeIssued` of the decision appealed, whole; it is also among the bundle's events.
    pub notice: Option<Event>,
    pub proof: Bundle,
    pub appeal_events: Vec<Event>,
    pub inclusion: Vec<Inclusion>,
}

/// Builds the case file of appeal `id` about `iin`; the checkpoint covers the appeal's events.
pub async fn case_file(ledger: &Ledger, registries: &TrustedKeys, id: &str, iin: &str, procedure: Procedure) -> Result<CaseFile, ProofError> {
    let mut appeal_events = ledger.read_stream(&appeal_stream(id)).await?;
    if appeal_events.is_empty() {
        return Err(ProofError::NoCase { iin: iin.into(), procedure: format!("appeal {id}") });
    }
    let person = ledger.read_stream(&person_stream(iin)).await?;
    appeal_events.extend(person.into_iter().filter(|e| e.appeal() == Some(id)));
    appeal_events.extend(ledger.read_stream(&notice_stream(&reinstatement_notice_id(id))).await?);
    appeal_events.sort_by_key(|e| e.seq);
    ledger.checkpoint_covering(appeal_events.last().map(|e| e.seq).unwrap_or(0)).await?;
    let proof = build(ledger, registries, iin, procedure).await?;
    let tree_size = proof.inclusion.first().map(|i| i.tree_size).unwrap_or(0);
    let seqs: Vec<u64> = appeal_events.iter().map(|e| e.seq).collect();
    let paths = ledger.inclusion_proofs(&seqs, tree_size).await?;
    let inclusion = seqs.iter().zip(paths).map(|(seq, path)| Inclusion { seq: *seq, tree_size, path: path.iter().map(hex::encode).collect() }).collect();
    let notice = proof.events.iter().find(|e| e.kind == NOTICE_ISSUED).cloned();
    Ok(CaseFile { format: CASE_FILE_FORMAT.into(), appeal: id.into(), notice, proof, appeal_events, inclusion })
}

/// Verifies a case file offline: its proof bundle as `verify` does, the notice against the
/// bundle, and every appeal event's hash, signature and inclusion against the same checkpoint.
pub fn verify_case_file(file: &CaseFile, anchor: &VerifierKey, book: &RuleBook) -> Result<Verified, ProofError> {
    if file.format != CASE_FILE_FORMAT {
        return Err(invalid(format!("unknown format {:?}", file.format)));
    }
    let verified = verify(&file.proof, anchor, book)?;
    if let Some(n) = &file.notice {
        if !file.proof.events.contains(n) {
            return Err(invalid(format!("the notice (seq {}) is not the one in the proof bundle", n.seq)));
        }
    }
    let mut trusted: BTreeMap<String, VerifierKey> = BTreeMap::from([(anchor.id_hex(), anchor.clone())]);
    check_signatures(&file.proof.events, &mut trusted)?;
    check_signatures(&file.appeal_events, &mut trusted)?;
    let (_, sigs) = events::note::split(&file.proof.checkpoint).map_err(|e| invalid(format!("checkpoint: {e}")))?;
    let cp_key = sigs.iter().find_map(|(_, id, _)| trusted.get(&hex::encode(id))).ok_or_else(|| invalid("checkpoint is signed by no trusted ledger key"))?;
    let cp = Checkpoint::verify_note(&file.proof.checkpoint, cp_key).map_err(|e| invalid(format!("checkpoint: {e}")))?;
    check_included(&file.appeal_events, &file.inclusion, &cp)?;
    for e in &file.appeal_events {
        let about = projections::person::subject_of(e);
        if about.as_deref() != Some(file.proof.iin.as_str()) || (e.appeal() != Some(file.appeal.as_str())) {
            return Err(invalid(format!("seq {} is not an event of appeal {} about {}", e.seq, file.appeal, file.proof.iin)));
        }
    }
    Ok(Verified { events: verified.events + file.appeal_events.len(), ..verified })
}

/// The witnesses among `witnesses` whose cosignatures on the bundle's checkpoint verify, or an
/// error where fewer than `quorum` do (issue 16: `verify-proof --witness VKEY... --quorum K`).
pub fn check_quorum(checkpoint: &str, witnesses: &[events::CosignerKey], quorum: usize) -> Result<Vec<String>, ProofError> {
    let signed = events::cosignature::verified(checkpoint, witnesses).map_err(|e| invalid(format!("checkpoint: {e}")))?;
    let names: Vec<String> = signed.into_iter().map(|(n, _)| n).collect();
    if names.len() < quorum {
        let missing: Vec<&str> = witnesses.iter().map(|w| w.name.as_str()).filter(|n| !names.iter().any(|s| s == n)).collect();
        return Err(invalid(format!(
            "the checkpoint is cosigned by {} of the witnesses given ({}), fewer than the quorum {quorum}; not by: {}",
            names.len(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") },
            missing.join(", ")
        )));
    }
    Ok(names)
}

/// Evidence per person (`ledger-format.md`): the person's own list entry and decision, each
/// signed on its own by ИШ АС МР; the entry shows his consent wherever anything was asked or
/// proposed, and the decision names the official who took it. An operator who rewrote an entry
/// or a decision and signed the event again with the ledger key is caught here, by the source's
/// signature.
pub fn check_evidence(events: &[Event], keys: &TrustedKeys) -> Result<(), ProofError> {
    let asked = events.iter().any(|e| matches!(e.kind.as_str(), REGISTRY_QUERIED | DECISION_PROPOSED | DECISION_TAKEN));
    for e in events {
        let d = &e.data;
        match e.kind.as_str() {
            LIST_ENTRY_RECEIVED => {
                crate::registry::check_item(keys, RegistryId::IshAsMr, &d["entry"], d["entry_sig"].as_str())
                    .map_err(|err| invalid(format!("seq {}: the list entry: {err}", e.seq)))?;
                if asked && d["entry"]["consent"] != true {
                    return Err(invalid(format!("seq {}: the list entry shows no consent, yet the person was queried or decided on", e.seq)));
                }
            }
            DECISION_TAKEN if d.get("appeal").is_none() => {
                crate::registry::check_item(keys, RegistryId::IshAsMr, &d["decision"], d["decision_sig"].as_str())
                    .map_err(|err| invalid(format!("seq {}: the decision: {err}", e.seq)))?;
                let official = &d["decision"]["official"];
                if !official["id"].is_string() || official["id"] != d["official"]["id"] || d["decision"]["outcome"] != d["outcome"] {
                    return Err(invalid(format!("seq {}: the decision as its source signed it names no official, or another one or outcome", e.seq)));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Verifies a bundle's time-stamp against the TSA certificates an auditor trusts: the token is
/// over this checkpoint's body, signed by a time-stamping certificate anchored in `anchors`.
pub fn check_timestamp(bundle: &Bundle, anchors: &[x509_cert::Certificate]) -> Result<crate::timestamp::Stamp, ProofError> {
    use base64::Engine;
    let token = bundle.timestamp.as_deref().ok_or_else(|| invalid("the checkpoint carries no time-stamp"))?;
    let token = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| invalid("the time-stamp is not base64"))?;
    let imprint = crate::timestamp::imprint(&bundle.checkpoint).map_err(invalid)?;
    crate::timestamp::verify(&token, &imprint, None, anchors).map_err(|e| invalid(format!("time-stamp: {e}")))
}

/// What a verified bundle showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub status: Status,
    pub grounds: usize,
    pub events: usize,
    pub tree_size: u64,
    /// The run was a simulation (decision 11): no legal act.
    pub simulation: bool,
}

/// An event of the bundle as its catalogue type.
fn decode<T: ev::EventData>(e: &Event) -> Result<T, ProofError> {
    e.decode().map_err(|err| invalid(err.to_string()))
}

fn ground_key(g: &Ground) -> (String, String, String, String, String) {
    (g.code.clone(), g.clause.clone(), g.subject.as_str().into(), g.subject_iin.clone(), g.registry.clone())
}

/// Verifies a bundle offline against the ledger key `anchor`: every event's hash and signature
/// (keys introduced after the anchor must be introduced in the bundle by a trusted key), every
/// source signature, every inclusion path against the checkpoint, the checkpoint's signature,
/// and that the status and grounds follow from the answers under the named rule set.
pub fn verify(bundle: &Bundle, anchor: &VerifierKey, book: &RuleBook) -> Result<Verified, ProofError> {
    if bundle.format != PROOF_FORMAT {
        return Err(invalid(format!("unknown format {:?}", bundle.format)));
    }
    // Ledger keys: the anchor, plus keys introduced by events signed by a trusted key.
    let mut trusted: BTreeMap<String, VerifierKey> = BTreeMap::from([(anchor.id_hex(), anchor.clone())]);
    check_signatures(&bundle.events, &mut trusted)?;
    // The checkpoint and the inclusion of every event.
    let (_, sigs) = events::note::split(&bundle.checkpoint).map_err(|e| invalid(format!("checkpoint: {e}")))?;
    let cp_key = sigs.iter().find_map(|(_, id, _)| trusted.get(&hex::encode(id))).ok_or_else(|| invalid("checkpoint is signed by no trusted ledger key"))?;
    let cp = Checkpoint::verify_note(&bundle.checkpoint, cp_key).map_err(|e| invalid(format!("checkpoint: {e}")))?;
    check_included(&bundle.events, &bundle.inclusion, &cp)?;
    // Source signatures, with the registry keys the bundle names.
    let mut reg_keys = BTreeMap::new();
    for (r, k) in &bundle.keys.registries {
        let id = RegistryId::parse(r).ok_or_else(|| invalid(format!("unknown registry {r}")))?;
        reg_keys.insert(id, VerifierKey::parse(k).map_err(|e| invalid(format!("key of {r}: {e}")))?);
    }
    let keys = TrustedKeys(reg_keys);
    let procedure = Procedure::parse(&bundle.procedure).map_err(invalid)?;
    // The fields each query asked for: an answer may hold no other (decision 14).
    let mut asked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in bundle.events.iter().filter(|e| e.kind == REGISTRY_QUERIED) {
        let q: ev::RegistryQueried = decode(e)?;
        if let Some(fields) = q.fields {
            asked.insert(q.request_id, fields);
        }
    }
    let mut answers: BTreeMap<(String, RegistryId), Records> = BTreeMap::new();
    for e in bundle.events.iter().filter(|e| e.kind == REGISTRY_RESPONDED && e.stream.starts_with("person:")) {
        let r: ev::RegistryResponded = decode(e)?;
        let registry = RegistryId::parse(&r.registry).ok_or_else(|| invalid(format!("seq {}: unknown registry", e.seq)))?;
        let subjects: Vec<String> = serde_json::from_value(r.answer["subjects"].clone()).unwrap_or_default();
        let step = r.step.unwrap_or_default();
        let signed = SignedAnswer { answer: r.answer, source_key: r.source_key, source_sig: r.source_sig, item_sigs: Default::default() };
        let kind = match asked.get(&r.request_id) {
            Some(fields) => AnswerKind::Fields(&subjects, fields),
            None => AnswerKind::Records(&subjects),
        };
        let records = check_answer(&keys, registry, &r.request_id, kind, &signed).map_err(|err| invalid(format!("seq {}: source {err}", e.seq)))?;
        // A step may ask one registry twice (the recipient, and his family for fewer fields).
        answers.entry((step, registry)).or_default().extend(records_of(records));
    }
    // The status the events show.
    let mut persons = Persons::default();
    bundle.events.iter().for_each(|e| persons.apply(e));
    let case = persons.cases.get(&bundle.iin).and_then(|m| m.get(&bundle.procedure)).ok_or_else(|| invalid("the events hold no case for this person"))?;
    if case.status != bundle.status {
        return Err(invalid(format!("bundle says {}, its events say {}", bundle.status, case.status)));
    }
    // The grounds follow from the answers under the rule set the proposal names.
    let entry: ev::ListEntryReceived = decode(bundle.events.iter().find(|e| e.kind == LIST_ENTRY_RECEIVED).ok_or_else(|| invalid("no list entry"))?)?;
    let locality = entry.entry["locality"].as_str().unwrap_or_default();
    // The proposal's grounds, or none for a retention.
    let decided = match bundle.events.iter().find(|e| e.kind == DECISION_PROPOSED || e.kind == PERSON_RETAINED) {
        Some(e) if e.kind == DECISION_PROPOSED => decode::<ev::DecisionProposed>(e).map(|p| Some((p.rule_set_sha256, Some(p.grounds))))?,
        Some(e) => decode::<ev::PersonRetained>(e).map(|p| Some((p.rule_set_sha256, None)))?,
        None => None,
    };
    if let Some((sha, proposed)) = decided {
        let rs = book.by_sha(&sha).ok_or_else(|| invalid(format!("rule set {sha} is not known to this verifier")))?;
        if rs.procedure != procedure {
            return Err(invalid("the rule set is for another procedure"));
        }
        // The rules' own step machine, fed the bundle's verified answers.
        let mut machine = StepMachine::new(rs, 0, &bundle.iin, locality, Family::default());
        while let Some((step, _)) = machine.current() {
            let mut refs: checks::Answers = BTreeMap::new();
            for r in step.registries() {
                let rec = answers.get(&(step.step.clone(), r)).ok_or_else(|| invalid(format!("step {}: no verified answer from {r}", step.step)))?;
                refs.insert(r, rec);
            }
            if machine.feed(&refs).verdict == CheckVerdict::Incomplete {
                return Err(invalid(format!("step {}: the answers do not allow a decision", step.step)));
            }
        }
        let found: Vec<Ground> = match machine.outcome() {
            Some(Outcome::Found(grounds)) => grounds.clone(),
            _ => Vec::new(),
        };
        let computed: BTreeSet<_> = found.iter().map(ground_key).collect();
        let stated: BTreeSet<_> = bundle.grounds.iter().map(ground_key).collect();
        if computed != stated {
            return Err(invalid(format!(
                "the grounds do not follow from the answers under rule set {} v{}: computed {computed:?}, stated {stated:?}",
                rs.id, rs.version
            )));
        }
        match proposed {
            Some(p) if p.iter().map(ground_key).collect::<BTreeSet<_>>() != stated => return Err(invalid("the bundle's grounds are not the proposal's")),
            None if !computed.is_empty() => return Err(invalid("the person was retained although the answers show a ground")),
            _ => {}
        }
    }
    // The person's own entry and decision, signed by their source.
    check_evidence(&bundle.events, &keys)?;
    // Decision 11: a simulation is said to be one, and only a simulation.
    let simulation = is_simulation(&bundle.events);
    if simulation != bundle.simulation.is_some() {
        return Err(invalid(if simulation {
            "the events are of a simulation, but the bundle does not say so"
        } else {
            "the bundle says simulation, but its events are of a real run"
        }));
    }
    Ok(Verified { status: case.status, grounds: bundle.grounds.len(), events: bundle.events.len(), tree_size: cp.size, simulation })
}

/// What the server found checking one event for a person's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventCheck {
    pub seq: u64,
    /// Hash and Ed25519 signature by a ledger key in force at that seq.
    pub signature: Result<(), String>,
    /// The source registry's signature, for answers.
    pub source: Option<Result<(), String>>,
    /// The inclusion path to the checkpoint's root.
    pub inclusion: Result<(), String>,
}

/// Checks `events` against the ledger's key history and a signed checkpoint that covers them
/// (signing one if the latest does not), as an auditor would. Returns the checkpoint's note.
pub async fn check_events(ledger: &Ledger, registries: &TrustedKeys, events: &[Event]) -> Result<(String, Vec<EventCheck>), LedgerError> {
    let cp = ledger.checkpoint_covering(events.iter().map(|e| e.seq).max().unwrap_or(0)).await?;
    let history = ledger.key_history().await?;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let paths = ledger.inclusion_proofs(&seqs, cp.tree_size).await?;
    let checks = events
        .iter()
        .zip(paths)
        .map(|(e, path)| {
            let signature = match history.in_force(&e.key, e.seq) {
                Some(k) => e.check(k).map(|_| ()).map_err(|err| err.to_string()),
                None => Err(format!("key {} is not in force at seq {}", e.key, e.seq)),
            };
            let source = (e.kind == REGISTRY_RESPONDED || e.kind == REINSTATEMENT_ACKNOWLEDGED).then(|| {
                let (registry, request_id, signed) = match e.as_type::<ev::RegistryResponded>() {
                    Some(r) => (
                        r.registry,
                        r.request_id,
                        SignedAnswer { answer: r.answer, source_key: r.source_key, source_sig: r.source_sig, item_sigs: r.item_sigs.unwrap_or_default() },
                    ),
                    None => {
                        let r = e.decode::<ev::ReinstatementAcknowledged>().map_err(|err| err.to_string())?;
                        (
                            r.registry,
                            r.request_id,
                            SignedAnswer { answer: r.answer, source_key: r.source_key, source_sig: r.source_sig, item_sigs: Default::default() },
                        )
                    }
                };
                let registry = RegistryId::parse(&registry).ok_or("unknown registry")?;
                let subjects: Vec<String> = serde_json::from_value(signed.answer["subjects"].clone()).unwrap_or_default();
                let kind = if e.kind == REINSTATEMENT_ACKNOWLEDGED {
                    AnswerKind::Acknowledgement(&subjects)
                } else if e.stream.starts_with("run:") {
                    AnswerKind::List
                } else {
                    AnswerKind::Records(&subjects)
                };
                check_answer(registries, registry, &request_id, kind, &signed).map(|_| ()).map_err(|f| f.to_string())
            });
            let inclusion = e
                .hash_bytes()
                .map_err(|err| err.to_string())
                .and_then(|h| events::merkle::verify_inclusion(e.seq, cp.tree_size, &leaf_hash(&h), &path, &cp.root).map_err(|err| err.to_string()));
            EventCheck { seq: e.seq, signature, source, inclusion }
        })
        .collect();
    Ok((cp.note, checks))
}
