//! Bundles and case files made from the ledger: a person's events, the run's headers, the keys,
//! and inclusion paths against a checkpoint that covers them.

use super::{is_simulation, BuildError, Bundle, CaseFile, CheckFailed, EventCheck, Inclusion, Keys, CASE_FILE_FORMAT, PROOF_FORMAT, SIMULATION_NOTE};
use crate::ledger::{Ledger, LedgerError};
use crate::registry::{check_answer, AnswerKind, SignedAnswer, TrustedKeys};
use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use events::catalogue as ev;
use events::heads::HeadProof;
use events::types::*;
use events::Event;
use projections::person::Persons;
use std::collections::{BTreeMap, BTreeSet};

/// The `RunStarted` and `ListSubmitted` parts of runs, kept once written (they never change
/// after): every bundle of a run needs its `RunStarted` and the part naming the proposal.
#[derive(Default)]
pub struct RunHeaders(std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<RunHeader>>>);

/// One run's `RunStarted` and list submission, with the part each proposal is listed in.
#[derive(Default)]
struct RunHeader {
    started: Vec<Event>,
    parts: Vec<Event>,
    /// Proposal seq → index in `parts`.
    part_of: std::collections::HashMap<u64, usize>,
}

impl RunHeader {
    /// The `RunStarted` and the parts of the submission that list any of `proposals`.
    fn for_proposals(&self, proposals: &BTreeSet<u64>) -> impl Iterator<Item = &Event> {
        let parts: BTreeSet<usize> = proposals.iter().filter_map(|p| self.part_of.get(p).copied()).collect();
        self.started.iter().chain(parts.into_iter().map(|k| &self.parts[k]))
    }
}

/// Runs whose headers are kept at most (the cache starts afresh beyond).
const RUN_HEADERS_KEPT: usize = 1024;

impl RunHeaders {
    async fn get(&self, ledger: &Ledger, run: &str) -> Result<std::sync::Arc<RunHeader>, LedgerError> {
        if let Some(h) = self.0.lock().expect("run headers lock").get(run) {
            return Ok(h.clone());
        }
        let stream = run_stream(run);
        let (started, parts) = tokio::join!(ledger.log().read_stream(&stream, Some(RUN_STARTED)), ledger.log().read_stream(&stream, Some(LIST_SUBMITTED)));
        let (started, parts) = (started?, parts?);
        let mut part_of = std::collections::HashMap::new();
        for (k, e) in parts.iter().enumerate() {
            let listed =
                e.decode::<ev::ListSubmitted>().map_err(|err| LedgerError::from(crate::store::StoreError::Corrupt { seq: e.seq, detail: err.to_string() }))?;
            part_of.extend(listed.proposals.iter().filter_map(|r| r.seq()).map(|p| (p, k)));
        }
        // The list is submitted in one append: with any part written, every part is.
        let complete = !started.is_empty() && !parts.is_empty();
        let header = std::sync::Arc::new(RunHeader { started, parts, part_of });
        if complete {
            let mut kept = self.0.lock().expect("run headers lock");
            if kept.len() >= RUN_HEADERS_KEPT {
                kept.clear();
            }
            kept.insert(run.to_string(), header.clone());
        }
        Ok(header)
    }
}

/// Builds the bundle for a person's latest case in `procedure`.
pub async fn build(ledger: &Ledger, registries: &TrustedKeys, iin: &str, procedure: Procedure) -> Result<Bundle, BuildError> {
    build_with(ledger, registries, &RunHeaders::default(), iin, procedure).await
}

/// `build`, with run headers kept across calls.
pub async fn build_with(ledger: &Ledger, registries: &TrustedKeys, headers: &RunHeaders, iin: &str, procedure: Procedure) -> Result<Bundle, BuildError> {
    // Independent reads, concurrently.
    let (person, keys) = tokio::join!(load_person_with(ledger, headers, iin), ledger.log().read_stream(events::verify::KEYS_STREAM, None));
    let (persons, person, run_events) = person?;
    let keys = keys?;
    let case = persons
        .cases
        .get(iin)
        .and_then(|m| m.get(procedure.as_str()))
        .cloned()
        .ok_or_else(|| BuildError::NoCase { iin: iin.into(), procedure: procedure.to_string() })?;
    let mut events: BTreeMap<u64, Event> = BTreeMap::new();
    // The person's stream whole from the case's list entry to its head (an appeal's re-checks
    // included), and the notices of the case's run whole.
    let own = person_stream(iin);
    let notices = notice_stream(&format!("{}-{iin}", case.run));
    let entry = person.iter().find(|e| e.stream == own && e.kind == LIST_ENTRY_RECEIVED && e.run() == Some(case.run.as_str())).map(|e| e.stream_seq);
    let mine = |e: &Event| e.stream == own && Some(e.stream_seq) >= entry;
    // The appeals against this case's decision, whole, with their notices of reinstatement: an
    // overturned decision is shown as overturned (every overturn rests on a re-check, whose
    // events are in the person's stream).
    let appeals: BTreeSet<String> = person.iter().filter(|e| mine(e) && e.kind == DECISION_TAKEN && e.appeal().is_none()).map(|e| appeal_id(e.seq)).collect();
    let appealed = |e: &Event| appeals.iter().any(|a| e.stream == appeal_stream(a) || e.stream == notice_stream(&reinstatement_notice_id(a)));
    for e in person.into_iter().filter(|e| mine(e) || e.stream == notices || appealed(e)) {
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
    let heads = whole_streams(ledger, events.iter().filter(|e| !e.stream.starts_with("run:")), cp.tree_size).await?;
    // The checkpoint as cosigned by the witnesses, where they have.
    let note = crate::witness::cosigned_note(ledger, &cp.note, cp.tree_size).await.map_err(LedgerError::from)?;
    let timestamp = ledger.checkpoints().timestamp(cp.tree_size).await.map_err(LedgerError::from)?.map(|t| crate::timestamp::to_base64(&t));
    let opening = match ledger.sealing() {
        Some(s) => {
            let subject = s.blind_id(iin);
            let key = s.key_store().existing(&subject).await.map_err(LedgerError::from)?;
            key.map(|k| super::Opening { subject, data_key: k.to_base64() })
        }
        None => None,
    };
    Ok(Bundle {
        opening,
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
        heads,
        keys: Keys { ledger: history.all().iter().map(|k| k.to_string()).collect(), registries: registries.as_map() },
    })
}

/// A person's cases folded from his stream, the `RunStarted` of his runs and his notices.
/// Returns the fold, his events and the events of his runs' streams.
pub async fn load_person(ledger: &Ledger, iin: &str) -> Result<(Persons, Vec<Event>, Vec<Event>), LedgerError> {
    load_person_with(ledger, &RunHeaders::default(), iin).await
}

async fn load_person_with(ledger: &Ledger, headers: &RunHeaders, iin: &str) -> Result<(Persons, Vec<Event>, Vec<Event>), LedgerError> {
    let person = ledger.log().read_stream(&person_stream(iin), None).await?;
    let runs: BTreeSet<String> = person.iter().filter_map(|e| e.run().map(String::from)).collect();
    let proposals: BTreeSet<u64> = person.iter().filter(|e| e.kind == DECISION_PROPOSED).map(|e| e.seq).collect();
    // Only what a bundle needs of each run's stream (its list pages hold other persons' data):
    // its start, and the part of the list submission naming this person's proposal.
    let mut run_events = Vec::new();
    let mut notices = Vec::new();
    for run in &runs {
        let notice = notice_stream(&format!("{run}-{iin}"));
        let (h, n) = tokio::join!(headers.get(ledger, run), ledger.log().read_stream(&notice, None));
        run_events.extend(h?.for_proposals(&proposals).cloned());
        notices.extend(n?);
    }
    // The appeals against his decisions (an appeal is named after the decision it contests),
    // and their notices of reinstatement: their resolutions are part of the case.
    let appeals: BTreeSet<String> = person.iter().filter(|e| e.kind == DECISION_TAKEN && e.appeal().is_none()).map(|e| appeal_id(e.seq)).collect();
    for a in &appeals {
        let (stream, notice) = (appeal_stream(a), notice_stream(&reinstatement_notice_id(a)));
        let (s, n) = tokio::join!(ledger.log().read_stream(&stream, None), ledger.log().read_stream(&notice, None));
        notices.extend(s?);
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

/// Builds the case file of appeal `id` about `iin`; the checkpoint covers the appeal's events.
pub async fn case_file(ledger: &Ledger, registries: &TrustedKeys, id: &str, iin: &str, procedure: Procedure) -> Result<CaseFile, BuildError> {
    let mut appeal_events = ledger.log().read_stream(&appeal_stream(id), None).await?;
    if appeal_events.is_empty() {
        return Err(BuildError::NoCase { iin: iin.into(), procedure: format!("appeal {id}") });
    }
    let person = ledger.log().read_stream(&person_stream(iin), None).await?;
    appeal_events.extend(person.into_iter().filter(|e| e.appeal() == Some(id)));
    appeal_events.extend(ledger.log().read_stream(&notice_stream(&reinstatement_notice_id(id)), None).await?);
    appeal_events.sort_by_key(|e| e.seq);
    ledger.checkpoint_covering(appeal_events.last().map(|e| e.seq).unwrap_or(0)).await?;
    let proof = build(ledger, registries, iin, procedure).await?;
    let tree_size = proof.inclusion.first().map(|i| i.tree_size).unwrap_or(0);
    let seqs: Vec<u64> = appeal_events.iter().map(|e| e.seq).collect();
    let paths = ledger.inclusion_proofs(&seqs, tree_size).await?;
    let inclusion = seqs.iter().zip(paths).map(|(seq, path)| Inclusion { seq: *seq, tree_size, path: path.iter().map(hex::encode).collect() }).collect();
    let notice = proof.events.iter().find(|e| e.kind == NOTICE_ISSUED).cloned();
    let heads = whole_streams(ledger, appeal_events.iter().filter(|e| !e.stream.starts_with("person:")), tree_size).await?;
    Ok(CaseFile { format: CASE_FILE_FORMAT.into(), appeal: id.into(), notice, proof, appeal_events, inclusion, heads })
}

/// The proof of the head, at `tree_size`, of each stream of `events`.
async fn whole_streams(ledger: &Ledger, events: impl Iterator<Item = &Event>, tree_size: u64) -> Result<Vec<HeadProof>, LedgerError> {
    let streams: BTreeSet<&str> = events.map(|e| e.stream.as_str()).collect();
    let mut heads = Vec::with_capacity(streams.len());
    for s in streams {
        heads
            .push(ledger.head_proof(s, tree_size).await?.ok_or_else(|| LedgerError::NoSuchProof(format!("stream {s} has no event at tree size {tree_size}")))?);
    }
    Ok(heads)
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
                    Some(r) => (r.registry.clone(), r.request_id.clone(), SignedAnswer::from_responded(&r)),
                    None => {
                        let r = e.decode::<ev::ReinstatementAcknowledged>().map_err(|err| err.to_string())?;
                        (
                            r.registry,
                            r.request_id,
                            SignedAnswer { answer: r.answer, source_key: r.source_key, source_sig: r.source_sig, ..SignedAnswer::default() },
                        )
                    }
                };
                let registry = RegistryId::parse(&registry).ok_or("unknown registry")?;
                let subjects = verifier::registry::AnswerHead::of(&signed.answer).subjects();
                let kind = if e.kind == REINSTATEMENT_ACKNOWLEDGED {
                    AnswerKind::Acknowledgement(&subjects)
                } else if e.stream.starts_with("run:") {
                    AnswerKind::List
                } else {
                    AnswerKind::Records(&subjects)
                };
                check_answer(registries, registry, &request_id, kind, &signed).map(|_| ()).map_err(|f| f.to_string())
            });
            let inclusion = e.hash_bytes().map_err(|err| err.to_string()).and_then(|h| {
                events::merkle::verify_inclusion(e.seq, cp.tree_size, &events::merkle::leaf_hash(&h), &path, &cp.root).map_err(|err| err.to_string())
            });
            EventCheck {
                seq: e.seq,
                signature: signature.map_err(CheckFailed),
                source: source.map(|s| s.map_err(CheckFailed)),
                inclusion: inclusion.map_err(CheckFailed),
            }
        })
        .collect();
    Ok((cp.note, checks))
}
