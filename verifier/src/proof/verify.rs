//! The offline check of a bundle or case file (`verify-proof`): every event's hash and
//! signature under keys the anchor leads to, every source signature, every inclusion path
//! against the checkpoint, and the status and grounds re-derived from the answers by the rules'
//! own step machine. It reads no store: everything comes from the file.

use super::{invalid, is_simulation, Bundle, CaseFile, Inclusion, ProofError, CASE_FILE_FORMAT, PROOF_FORMAT};
use crate::registry::{check_answer, records_of, AnswerHead, AnswerKind, Decision, EntryHead, SignedAnswer, TrustedKeys};
use crate::rules::checks::{self, CheckVerdict, Context, Family, Ground, Records};
use crate::rules::records::RegistryId;
use crate::rules::steps::{Outcome, StepMachine};
use crate::rules::{Procedure, RuleBook};
use events::catalogue::{self as ev, Status};
use events::heads::HeadProof;
use events::merkle::leaf_hash;
use events::types::*;
use events::verify::{KeyHistory, KEYS_STREAM};
use events::{Checkpoint, Event, VerifierKey};
use projections::person::Persons;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// The ledger's keys as the bundle's `keys` stream records them, checked as `verify` checks
/// them: the stream whole from event 0 (which introduces the key that signs it), every
/// `KeyIntroduced` and `KeyRetired` signed by a key in force at its seq. `anchor` must be one
/// of them.
fn key_history(events: &[Event], anchor: &VerifierKey) -> Result<KeyHistory, ProofError> {
    let mut history = KeyHistory::default();
    for (i, e) in events.iter().filter(|e| e.stream == KEYS_STREAM).enumerate() {
        if e.stream_seq != i as u64 || (i == 0 && e.seq != 0) {
            return Err(invalid(format!("seq {}: the keys stream is not whole from event 0 (stream_seq {} where {i} was due)", e.seq, e.stream_seq)));
        }
        history.apply(e).map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
        let key = history.in_force(&e.key, e.seq).ok_or_else(|| invalid(format!("seq {}: signed by key {}, not in force then", e.seq, e.key)))?;
        e.check(key).map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
    }
    if !history.contains(anchor) {
        return Err(invalid(format!("the anchor {anchor} is not a key of this ledger's key history")));
    }
    Ok(history)
}

/// Checks each event's hash and its signature by the ledger key in force at its seq: nothing
/// signed by a key after its `KeyRetired` counts.
fn check_signatures(events: &[Event], history: &KeyHistory) -> Result<(), ProofError> {
    for e in events {
        let key = history.in_force(&e.key, e.seq).ok_or_else(|| {
            invalid(format!("seq {}: signed by key {}, which is not in force at that seq (retired before it, or not yet introduced)", e.seq, e.key))
        })?;
        e.check(key).map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
    }
    Ok(())
}

/// The keys `anchor` leads to: itself and, forward, every key introduced by an event signed by
/// one of them. A key vouches for the keys it introduces, never for the keys before it.
fn led_to(events: &[Event], anchor: &VerifierKey) -> BTreeSet<String> {
    let mut led = BTreeSet::from([anchor.id_hex()]);
    for e in events.iter().filter(|e| e.stream == KEYS_STREAM && e.kind == KEY_INTRODUCED) {
        if !led.contains(&e.key) {
            continue;
        }
        if let Some(k) = e.as_type::<ev::KeyIntroduced>().and_then(|k| VerifierKey::parse(&k.verifier_key).ok()) {
            led.insert(k.id_hex());
        }
    }
    led
}

/// The checkpoint, verified under the key that signed it: one the anchor leads to, and still in
/// force once the checkpoint's events are written (at seq `size`: a checkpoint is signed after
/// its last event, so a key whose `KeyRetired` it includes signs it no more). The checkpoint
/// then vouches, backward, for every event it includes, older keys' included.
fn anchored_checkpoint(note: &str, events: &[Event], history: &KeyHistory, anchor: &VerifierKey) -> Result<Checkpoint, ProofError> {
    let (body, sigs) = events::note::split(note).map_err(|e| invalid(format!("checkpoint: {e}")))?;
    let size: u64 = body.lines().nth(1).and_then(|l| l.parse().ok()).ok_or_else(|| invalid("checkpoint: no tree size"))?;
    let led = led_to(events, anchor);
    let mut named = Vec::new();
    for (_, id, _) in &sigs {
        let id = hex::encode(id);
        if let Some(key) = history.in_force(&id, size).filter(|_| led.contains(&id)) {
            return Checkpoint::verify_note(note, key).map_err(|e| invalid(format!("checkpoint: {e}")));
        }
        named.push(id);
    }
    Err(invalid(format!(
        "the checkpoint of tree size {size} is signed by no ledger key that the anchor leads to and that is in force at that size (signed by key {}; a key retired before it signs nothing after)",
        if named.is_empty() { "none".to_string() } else { named.join(", ") }
    )))
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

/// Opens `events` with the bundle's `opening` (its person's data key), from what is stored:
/// whatever was opened before (a bundle made in this process, or an `opened` member on the
/// wire) is never trusted. Every sealed event of the bundle must open under it, and opened be
/// the bundle's person's. `None` where nothing is sealed.
fn open_events(events: &[Event], opening: Option<&super::Opening>, iin: &str) -> Result<Option<Vec<Event>>, ProofError> {
    let sealed = |e: &Event| !events::personal::seal_subjects(e.stored_data()).is_empty();
    if !events.iter().any(sealed) {
        return Ok(None);
    }
    let opening = opening.ok_or_else(|| invalid("the bundle's events are sealed (format v2) and it carries no opening"))?;
    let key = events::personal::Secret::from_base64(&opening.data_key).map_err(|e| invalid(format!("opening: {e}")))?;
    let lookup = |s: &str| (s == opening.subject).then(|| key.clone());
    let mut out: Vec<Event> = events.iter().map(Event::as_stored).collect();
    for e in out.iter_mut() {
        match events::personal::open_event(e, &lookup).map_err(|err| invalid(err.to_string()))? {
            events::personal::Opening::Shut(who) => {
                return Err(invalid(format!("seq {} is sealed under {} and the bundle opens only {}'s seals", e.seq, who.join(", "), opening.subject)))
            }
            events::personal::Opening::Broken(why) => return Err(invalid(format!("a sealed member does not open under the person's key: {why}"))),
            events::personal::Opening::Opened if projections::person::subject_of(e).is_some_and(|p| p != iin) => {
                return Err(invalid(format!("seq {} opens as another person's event than the bundle's", e.seq)));
            }
            _ => {}
        }
    }
    Ok(Some(out))
}

/// A bundle's events opened with its own opening (format v2), as they are if none is sealed.
pub fn opened_events(bundle: &Bundle) -> Result<Vec<Event>, ProofError> {
    Ok(open_events(&bundle.events, bundle.opening.as_ref(), &bundle.iin)?.unwrap_or_else(|| bundle.events.clone()))
}

/// The bundle with its events opened (format v2), or `None` if none is sealed.
fn open_bundle(bundle: &Bundle) -> Result<Option<Bundle>, ProofError> {
    Ok(open_events(&bundle.events, bundle.opening.as_ref(), &bundle.iin)?.map(|events| Bundle { events, ..bundle.clone() }))
}

/// The case file with its bundle's and appeal's events opened, or `None` if none is sealed.
fn open_case_file(file: &CaseFile) -> Result<Option<CaseFile>, ProofError> {
    let iin = &file.proof.iin;
    let proof = open_bundle(&file.proof)?;
    let appeal = open_events(&file.appeal_events, file.proof.opening.as_ref(), iin)?;
    if proof.is_none() && appeal.is_none() {
        return Ok(None);
    }
    Ok(Some(CaseFile {
        proof: proof.unwrap_or_else(|| file.proof.clone()),
        appeal_events: appeal.unwrap_or_else(|| file.appeal_events.clone()),
        ..file.clone()
    }))
}

/// Verifies a case file offline: its proof bundle as `verify` does, the notice against the
/// bundle, and every appeal event's hash, signature and inclusion against the same checkpoint.
pub fn verify_case_file(file: &CaseFile, anchor: &VerifierKey, book: &RuleBook, sources: &Sources) -> Result<Verified, ProofError> {
    if file.format != CASE_FILE_FORMAT {
        return Err(invalid(format!("unknown format {:?}", file.format)));
    }
    let opened = open_case_file(file)?;
    let file = opened.as_ref().unwrap_or(file);
    let verified = verify(&file.proof, anchor, book, sources)?;
    if let Some(n) = &file.notice {
        if !file.proof.events.iter().any(|e| e.hash == n.hash && e.to_canonical().ok() == n.to_canonical().ok()) {
            return Err(invalid(format!("the notice (seq {}) is not the one in the proof bundle", n.seq)));
        }
    }
    let history = key_history(&file.proof.events, anchor)?;
    check_signatures(&file.appeal_events, &history)?;
    let cp = anchored_checkpoint(&file.proof.checkpoint, &file.proof.events, &history, anchor)?;
    check_included(&file.appeal_events, &file.inclusion, &cp)?;
    // The appeal's own streams whole; the person's re-check events are in the bundle's stream.
    check_heads(&file.appeal_events, &file.heads, &cp, |s| s.starts_with("person:"))?;
    for e in &file.appeal_events {
        let about = projections::person::subject_of(e);
        if about.as_deref() != Some(file.proof.iin.as_str()) || (e.appeal() != Some(file.appeal.as_str())) {
            return Err(invalid(format!("seq {} is not an event of appeal {} about {}", e.seq, file.appeal, file.proof.iin)));
        }
    }
    let keys = source_keys(&file.proof, sources)?;
    let appeal = judge_appeal(&AppealView { id: &file.appeal, events: &file.appeal_events, proof: &file.proof }, &keys, book)?;
    Ok(Verified { events: verified.events + file.appeal_events.len(), appeal: Some(appeal), ..verified })
}

/// One appeal as a file holds it: its id, its events (its stream, the re-check's events in the
/// person's stream, its notice of reinstatement), and the bundle of the decision it contests.
struct AppealView<'a> {
    id: &'a str,
    events: &'a [Event],
    proof: &'a Bundle,
}

/// The appeal, re-judged offline: its stream whole from the filing; every source signature in
/// it (corrections, the acknowledgement) against the trust list; every re-check re-run by the
/// rules' step machine from its recorded answers and the corrections it used; and the
/// resolution, if any, following from the latest re-check before it (decision 10: overturned
/// only on a re-check that cleared, never upheld against one). What it came to, as people read it.
fn judge_appeal(v: &AppealView, keys: &TrustedKeys, book: &RuleBook) -> Result<String, ProofError> {
    let stream = format!("appeal:{}", v.id);
    let own: Vec<&Event> = v.events.iter().filter(|e| e.stream == stream).collect();
    for (i, e) in own.iter().enumerate() {
        if e.stream_seq != i as u64 {
            return Err(invalid(format!("seq {}: appeal {}'s stream is not whole (stream_seq {} where {i} was due)", e.seq, v.id, e.stream_seq)));
        }
    }
    if own.first().is_none_or(|e| e.kind != APPEAL_FILED) {
        return Err(invalid(format!("the case file does not hold appeal {}'s AppealFiled", v.id)));
    }
    for e in v.events {
        check_event_sources(e, keys).map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
    }
    let mut latest: Option<(u64, CheckVerdict)> = None;
    let mut outcome = format!("appeal {} is open", v.id);
    for e in v.events {
        match e.kind.as_str() {
            APPEAL_RECHECKED => {
                let r: ev::AppealRechecked = e.decode().map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
                rejudge(v, e.seq, &r, keys, book)?;
                latest = Some((e.seq, r.verdict));
            }
            APPEAL_RESOLVED => {
                let r: ev::AppealResolved = e.decode().map_err(|err| invalid(format!("seq {}: {err}", e.seq)))?;
                let follows = match (r.outcome, latest) {
                    (ev::AppealOutcome::Overturned, Some((seq, CheckVerdict::Clear))) => r.recheck == Some(seq),
                    (ev::AppealOutcome::Overturned, _) => false,
                    (ev::AppealOutcome::Upheld, Some((_, CheckVerdict::Clear))) => false,
                    (ev::AppealOutcome::Upheld, _) => true,
                };
                if !follows {
                    return Err(invalid(format!(
                        "seq {}: the appeal is resolved {} against its latest re-check ({}): a removal is overturned only on a re-check that cleared it, and never upheld against one",
                        e.seq,
                        r.outcome.as_str(),
                        latest.map(|(s, v)| format!("seq {s}, {}", v.as_str())).unwrap_or_else(|| "none".into())
                    )));
                }
                let day = crate::rules::calendar::local_date_of(&e.time).map(|d| d.to_string()).unwrap_or_else(|| e.time.clone());
                outcome = format!("{} by appeal {} on {day} (seq {})", r.outcome.as_str(), v.id, e.seq);
            }
            _ => {}
        }
    }
    Ok(outcome)
}

/// The family a re-check from step index `first` starts with: that of the last `CheckEvaluated`
/// of `run` among `events` (in seq order) that fixed one at an earlier step (the run's step 5,
/// or an earlier re-check's).
pub fn family_fixed<'e>(events: impl IntoIterator<Item = &'e Event>, run: &str, rs: &crate::rules::RuleSet, first: usize) -> Family {
    events
        .into_iter()
        .filter(|e| e.kind == CHECK_EVALUATED && e.run() == Some(run))
        .filter_map(|e| e.decode::<ev::CheckEvaluated>().ok())
        .filter(|c| c.family.is_some() && rs.steps.iter().position(|s| s.step == c.step).is_some_and(|i| i < first))
        .filter_map(|c| serde_json::from_value(c.family?).ok())
        .last()
        .unwrap_or_default()
}

/// One re-check, re-run: the step machine from its step, with the family the run fixed, fed the
/// answers and corrections its evidence names (each checked against the trust list); its
/// verdict and grounds must be the recorded ones.
fn rejudge(v: &AppealView, seq: u64, r: &ev::AppealRechecked, keys: &TrustedKeys, book: &RuleBook) -> Result<(), ProofError> {
    let fail = |why: String| invalid(format!("seq {seq}: the re-check does not follow: {why}"));
    let rs = book.by_sha(&r.rule_set_sha256).ok_or_else(|| fail(format!("rule set {} is not known to this verifier", r.rule_set_sha256)))?;
    let first = rs.steps.iter().position(|s| s.step == r.from_step).ok_or_else(|| fail(format!("no step {} in its rule set", r.from_step)))?;
    let evidence: BTreeSet<u64> = r.evidence.iter().filter_map(|x| x.seq()).collect();
    let held: BTreeSet<u64> = v.events.iter().map(|e| e.seq).collect();
    if let Some(missing) = evidence.iter().find(|s| !held.contains(s)) {
        return Err(fail(format!("its evidence seq {missing} is not in the case file")));
    }
    let is_correction = |e: &Event| e.as_type::<ev::RegistryResponded>().is_some_and(|r| r.correction == Some(true));
    let mut corrections = Corrections::new();
    for e in v.events.iter().filter(|e| evidence.contains(&e.seq) && is_correction(e)) {
        let c: ev::RegistryResponded = e.decode().map_err(|err| fail(err.to_string()))?;
        let registry = RegistryId::parse(&c.registry).ok_or_else(|| fail(format!("unknown registry {:?}", c.registry)))?;
        let subjects = AnswerHead::of(&c.answer).subjects();
        let signed = SignedAnswer::from_responded(&c);
        let records = check_answer(keys, registry, &format!("{}/{registry}", v.id), AnswerKind::Records(&subjects), &signed)
            .map_err(|f| fail(format!("seq {}: the correction from {registry}: {f}", e.seq)))?;
        corrections.insert(registry, (subjects, records_of(records)));
    }
    let asked = v.events.iter().filter(|e| e.kind == REGISTRY_QUERIED || (evidence.contains(&e.seq) && !is_correction(e)));
    let answers = verified_answers(asked, keys).map_err(|e| fail(e.to_string()))?;
    let events = &v.proof.events;
    let entry: ev::ListEntryReceived = events
        .iter()
        .find(|e| e.kind == LIST_ENTRY_RECEIVED && e.run() == Some(r.run.as_str()))
        .ok_or_else(|| fail("no list entry of its run".into()))?
        .decode()
        .map_err(|err| fail(err.to_string()))?;
    // As the service fixed it for this re-check: from the events before it.
    let mut before: Vec<&Event> = events.iter().chain(v.events.iter()).filter(|e| e.seq < seq).collect();
    before.sort_by_key(|e| e.seq);
    let family = family_fixed(before, &r.run, rs, first);
    let context = judged_by(events, &entry).map_err(|e| fail(e.to_string()))?;
    let (verdict, grounds, _) = judge_from(rs, first, &v.proof.iin, &context, family, &answers, &corrections).map_err(|e| fail(e.to_string()))?;
    let (computed, recorded): (BTreeSet<_>, BTreeSet<_>) = (grounds.iter().map(ground_key).collect(), r.grounds.iter().map(ground_key).collect());
    if verdict != r.verdict || computed != recorded {
        return Err(fail(format!("the rules find {} {computed:?}, it records {} {recorded:?}", verdict.as_str(), r.verdict.as_str())));
    }
    Ok(())
}

/// The keys source signatures are checked against: the auditor's own trust list, or, asked for
/// explicitly, the registry keys the bundle names (the operator's claim).
fn source_keys(bundle: &Bundle, sources: &Sources) -> Result<TrustedKeys, ProofError> {
    Ok(match sources {
        Sources::List(list) => list.clone(),
        Sources::BundleClaim => {
            let mut claim = TrustedKeys::default();
            for (r, k) in &bundle.keys.registries {
                let id = RegistryId::parse(r).ok_or_else(|| invalid(format!("unknown registry {r}")))?;
                claim.add_key(id, VerifierKey::parse(k).map_err(|e| invalid(format!("key of {r}: {e}")))?);
            }
            claim
        }
    })
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
        match e.kind.as_str() {
            LIST_ENTRY_RECEIVED => {
                let at = |err: JudgeError| invalid(format!("seq {}: {err}", e.seq));
                let entry: ev::ListEntryReceived = e.decode().map_err(|err| at(err.into()))?;
                entry_source(&entry, e, keys).map_err(at)?;
                if asked && !EntryHead::of(&entry.entry).consents() {
                    return Err(invalid(format!("seq {}: the list entry shows no consent, yet the person was queried or decided on", e.seq)));
                }
            }
            DECISION_TAKEN if e.appeal().is_none() => {
                let at = |err: JudgeError| invalid(format!("seq {}: {err}", e.seq));
                let taken: ev::DecisionTaken = e.decode().map_err(|err| at(err.into()))?;
                decision_source(&taken, e, keys).map_err(at)?;
                // The decision as its source signed it, typed (decision 15: it names its official).
                let signed = taken.decision.as_ref().and_then(|d| Decision::deserialize(d).ok());
                let agrees = match (signed, &taken.official) {
                    (Some(Decision { official: Some(by), outcome, .. }), Some(recorded)) => by.id.as_str() == recorded.id && outcome == taken.outcome.as_str(),
                    _ => false,
                };
                if !agrees {
                    return Err(invalid(format!("seq {}: the decision as its source signed it names no official, or another one or outcome", e.seq)));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why a person's recorded case cannot be judged again from its events: an event that does not
/// decode, a source signature that fails, an answer or rule set missing.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("{0}")]
    Event(#[from] events::Error),
    #[error("unknown registry {0:?}")]
    UnknownRegistry(String),
    #[error("seq {0}: unknown registry")]
    UnknownRegistryAt(u64),
    #[error("{registry}'s answer: {fault}")]
    Answer { registry: RegistryId, fault: crate::registry::RegistryFault },
    #[error("seq {seq}: source {fault}")]
    AnswerAt { seq: u64, fault: crate::registry::RegistryFault },
    #[error("the reinstatement's acknowledgement: {0}")]
    Acknowledgement(crate::registry::RegistryFault),
    #[error("the list entry: {0}")]
    ListEntry(Box<crate::registry::trust::SourceError>),
    #[error("the decision: {0}")]
    Decision(Box<crate::registry::trust::SourceError>),
    #[error("no list entry")]
    NoListEntry,
    #[error("rule set {0} is not known to this verifier")]
    UnknownRuleSet(String),
    #[error("the rule set is for another procedure")]
    OtherProcedure,
    #[error("no RunStarted of run {0}")]
    NoRunStarted(String),
    #[error("step {0}: the answers do not allow a decision")]
    Undecided(String),
    #[error("step {step}: no verified answer from {registry}")]
    NoAnswer { step: String, registry: RegistryId },
}

/// The source signatures one event carries, checked against `keys` alone: a registry answer's
/// (its signature, by the entry valid when it was signed), a list entry's and a decision's own
/// (by the event's time), a reinstatement's acknowledgement. Other events carry none.
pub fn check_event_sources(e: &Event, keys: &TrustedKeys) -> Result<(), JudgeError> {
    match e.kind.as_str() {
        REGISTRY_RESPONDED => {
            let r: ev::RegistryResponded = e.decode()?;
            let registry = RegistryId::parse(&r.registry).ok_or_else(|| JudgeError::UnknownRegistry(r.registry.clone()))?;
            keys.check_source(registry, &SignedAnswer::from_responded(&r)).map_err(|fault| JudgeError::Answer { registry, fault })
        }
        REINSTATEMENT_ACKNOWLEDGED => {
            let r: ev::ReinstatementAcknowledged = e.decode()?;
            let registry = RegistryId::parse(&r.registry).ok_or_else(|| JudgeError::UnknownRegistry(r.registry.clone()))?;
            let signed = SignedAnswer { answer: r.answer, source_key: r.source_key, source_sig: r.source_sig, ..SignedAnswer::default() };
            keys.check_source(registry, &signed).map_err(JudgeError::Acknowledgement)
        }
        LIST_ENTRY_RECEIVED => entry_source(&e.decode()?, e, keys),
        DECISION_TAKEN if e.appeal().is_none() => decision_source(&e.decode()?, e, keys),
        _ => Ok(()),
    }
}

/// A list entry's own signature by ИШ АС МР, by the event's time.
fn entry_source(l: &ev::ListEntryReceived, e: &Event, keys: &TrustedKeys) -> Result<(), JudgeError> {
    keys.check_item(RegistryId::IshAsMr, &l.entry, l.entry_sig.as_ref().map(String::as_str), Some(&e.time)).map_err(|e| JudgeError::ListEntry(Box::new(e)))
}

/// A run's decision's own signature by ИШ АС МР, by the event's time (none signed: `null`).
fn decision_source(t: &ev::DecisionTaken, e: &Event, keys: &TrustedKeys) -> Result<(), JudgeError> {
    let decision = t.decision.as_ref().unwrap_or(&serde_json::Value::Null);
    keys.check_item(RegistryId::IshAsMr, decision, t.decision_sig.as_ref().map(String::as_str), Some(&e.time)).map_err(|e| JudgeError::Decision(Box::new(e)))
}

/// The events the status a bundle states rests on, each named where it is missing (issue 29: a
/// bundle holds the whole case): the run's start and the person's list entry always; the
/// proposal and the part of the list submission naming it for a proposal or a decision; the
/// retention for a retained person; the decision on that proposal for a decided one; and the
/// notice of a confirmed decision. Without them the status could not be re-derived, and a
/// bundle cut short would claim what its events no longer show.
/// Returns the case's run.
///
/// A removal or termination overturned on appeal (`overturned`: the status is then retained)
/// still needs everything the decision needed: the bundle shows what was decided and undone.
fn check_whole(bundle: &Bundle, overturned: bool) -> Result<String, ProofError> {
    let person = format!("person:{}", bundle.iin);
    let entry = bundle
        .events
        .iter()
        .filter(|e| e.kind == LIST_ENTRY_RECEIVED && e.stream == person)
        .filter_map(|e| e.decode::<ev::ListEntryReceived>().ok())
        .find(|d| d.procedure == bundle.procedure)
        .ok_or_else(|| invalid("the bundle does not hold the person's ListEntryReceived (step 4: his entry and consent)"))?;
    let run = entry.run.as_str();
    let of_run = |kind: &'static str| bundle.events.iter().filter(move |e| e.kind == kind && e.run() == Some(run));
    let missing = |what: String| Err(invalid(format!("the bundle does not hold {what}, which its status {} rests on", bundle.status)));
    if of_run(RUN_STARTED).next().is_none() {
        return missing(format!("the RunStarted of run {run} (its rule set and sources)"));
    }
    let status = match (overturned, Procedure::parse(&bundle.procedure)) {
        (true, Ok(Procedure::LeaseTermination)) => Status::Terminated,
        (true, _) => Status::Removed,
        (false, _) => bundle.status,
    };
    let decided = matches!(status, Status::Removed | Status::Terminated | Status::Declined);
    match status {
        Status::Proposed | Status::Removed | Status::Terminated | Status::Declined => {
            let Some(proposal) = of_run(DECISION_PROPOSED).find(|e| e.stream == person) else {
                return missing("the DecisionProposed (the proposal and its grounds)".into());
            };
            let named = |e: &&Event| e.decode::<ev::ListSubmitted>().is_ok_and(|l| l.proposals.iter().any(|r| r.seq() == Some(proposal.seq)));
            if !of_run(LIST_SUBMITTED).any(|e| named(&e)) {
                return missing(format!("the ListSubmitted part naming the proposal (seq {})", proposal.seq));
            }
            let decision = of_run(DECISION_TAKEN).find(|e| e.decode::<ev::DecisionTaken>().is_ok_and(|d| d.proposal.seq() == Some(proposal.seq)));
            match decision {
                None if decided => return missing(format!("the DecisionTaken on the proposal (seq {})", proposal.seq)),
                Some(d) if matches!(status, Status::Removed | Status::Terminated) => {
                    let notified =
                        bundle.events.iter().any(|e| e.kind == NOTICE_ISSUED && e.decode::<ev::NoticeIssued>().is_ok_and(|n| n.decision.seq() == Some(d.seq)));
                    if !notified {
                        return missing(format!("the NoticeIssued of the decision (seq {})", d.seq));
                    }
                }
                _ => {}
            }
        }
        Status::Retained if of_run(PERSON_RETAINED).next().is_none() => return missing("the PersonRetained".into()),
        Status::NoConsent if of_run(CONSENT_MISSING).next().is_none() => return missing("the ConsentMissing".into()),
        _ => {}
    }
    Ok(run.to_string())
}

/// Each stream of `events` but those `partial` allows is whole to its head at the checkpoint:
/// its events follow on one another by `stream_seq` (from the first, for all but a person's
/// stream, which starts at his list entry), and the last is the head the checkpoint's
/// `stream-heads` line commits to, by the proof the file carries. An event left out at the end
/// is named by the head.
fn check_heads(events: &[Event], heads: &[HeadProof], cp: &Checkpoint, partial: impl Fn(&str) -> bool) -> Result<(), ProofError> {
    let mut streams: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    // Heads are of streams as stored (a v2 person's names his blind id).
    for e in events.iter().filter(|e| !partial(e.stored_stream())) {
        streams.entry(e.stored_stream()).or_default().push(e);
    }
    if streams.is_empty() {
        return Ok(());
    }
    let root = cp.heads.ok_or_else(|| {
        invalid(format!(
            "the checkpoint of tree size {} commits to no stream heads (it was signed before they existed), so nothing shows that no later event was left out",
            cp.size
        ))
    })?;
    if let Some(h) = heads.iter().find(|h| !streams.contains_key(h.stream.as_str())) {
        return Err(invalid(format!("the file proves the head of stream {}, of which it holds no event", h.stream)));
    }
    for (stream, mut evs) in streams {
        evs.sort_by_key(|e| e.seq);
        let head = heads.iter().find(|h| h.stream == stream).ok_or_else(|| invalid(format!("the file does not prove the head of stream {stream}")))?;
        events::heads::verify_head(head, &root).map_err(|e| invalid(format!("checkpoint of tree size {}: {e}", cp.size)))?;
        let first = evs[0].stream_seq;
        if first != 0 && !stream.starts_with("person:") {
            return Err(invalid(format!("stream {stream} is not whole from its first event: the file starts it at stream_seq {first} (seq {})", evs[0].seq)));
        }
        for (k, e) in evs.iter().enumerate() {
            if e.stream_seq != first + k as u64 {
                return Err(invalid(format!(
                    "stream {stream} has a gap: the file holds stream_seq {} (seq {}) where {} was due",
                    e.stream_seq,
                    e.seq,
                    first + k as u64
                )));
            }
        }
        let last = evs[evs.len() - 1];
        if head.stream_seq > last.stream_seq {
            return Err(invalid(format!(
                "the file leaves out the end of stream {stream}: it stops at stream_seq {} (seq {}), but at the checkpoint the stream's head is stream_seq {} (seq {})",
                last.stream_seq, last.seq, head.stream_seq, head.seq
            )));
        }
        if (head.stream_seq, head.seq, head.hash.as_str()) != (last.stream_seq, last.seq, last.hash.as_str()) {
            return Err(invalid(format!(
                "stream {stream}: the head the checkpoint commits to (stream_seq {}, seq {}) is not the file's last event (stream_seq {}, seq {})",
                head.stream_seq, head.seq, last.stream_seq, last.seq
            )));
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
    let imprint = crate::timestamp::imprint(&bundle.checkpoint).map_err(|e| invalid(e.to_string()))?;
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
    /// What the source signatures were checked against.
    pub sources: crate::registry::TrustBasis,
    /// For a case file: what the appeal came to (`overturned by appeal ap-7 on 2026-12-01
    /// (seq 91)`, `upheld ...`, or `appeal ap-7 is open`).
    pub appeal: Option<String>,
}

/// What a verifier checks source signatures against (`sources.md`).
#[derive(Clone, Debug)]
pub enum Sources {
    /// The auditor's own trust list (`--trust`).
    List(TrustedKeys),
    /// The keys the bundle names: the operator's own claim (`--trust-bundle-keys`).
    BundleClaim,
}

fn ground_key(g: &Ground) -> (String, String, String, String, String) {
    (g.code.clone(), g.clause.clone(), g.subject.as_str().into(), g.subject_iin.clone(), g.registry.clone())
}

/// What the rules make of a person's recorded answers in one run, next to what was proposed.
#[derive(Debug)]
pub struct Rederived {
    pub rule_set_sha256: String,
    pub rule_set_id: String,
    pub rule_set_version: String,
    /// The grounds the rules' own step machine finds in the answers.
    pub computed: Vec<Ground>,
    /// The proposal's grounds; `None` for a retention.
    pub proposed: Option<Vec<Ground>>,
    /// What the person was judged against (his entry's settlement, the decision date), and his
    /// verified answers (`(step, registry)` → records): what another rule set is judged on
    /// (`what-if`).
    pub context: Context,
    pub answers: BTreeMap<(String, RegistryId), Records>,
}

impl Rederived {
    /// Why the proposal does not follow from the answers, if it does not.
    pub fn disagreement(&self) -> Option<String> {
        let computed: BTreeSet<_> = self.computed.iter().map(ground_key).collect();
        match &self.proposed {
            Some(p) if p.iter().map(ground_key).collect::<BTreeSet<_>>() != computed => Some(format!(
                "the proposal's grounds do not follow from the answers under rule set {} v{}: computed {:?}, proposed {:?}",
                self.rule_set_id,
                self.rule_set_version,
                computed,
                p.iter().map(ground_key).collect::<BTreeSet<_>>()
            )),
            None if !computed.is_empty() => Some("the person was retained although the answers show a ground".into()),
            _ => None,
        }
    }
}

/// Re-judges a person's recorded answers in one run (`events`: his list entry, queries,
/// answers and proposal or retention, and nothing of another run) under the rule set the
/// proposal names, by the rules' own step machine: each answer's source signature checked
/// with `keys`, each step fed what it asked. `None` where the events hold no proposal or
/// retention. Both `verify-proof` and `audit` judge through this.
pub fn rederive<'e>(
    events: impl IntoIterator<Item = &'e Event> + Clone,
    iin: &str,
    procedure: Procedure,
    keys: &TrustedKeys,
    book: &RuleBook,
) -> Result<Option<Rederived>, JudgeError> {
    let answers = verified_answers(events.clone(), keys)?;
    // The proposal's grounds, or none for a retention.
    let decided = match events.clone().into_iter().find(|e| e.kind == DECISION_PROPOSED || e.kind == PERSON_RETAINED) {
        Some(e) if e.kind == DECISION_PROPOSED => e.decode::<ev::DecisionProposed>().map(|p| (p.rule_set_sha256, Some(p.grounds)))?,
        Some(e) => e.decode::<ev::PersonRetained>().map(|p| (p.rule_set_sha256, None))?,
        None => return Ok(None),
    };
    let entry = events.clone().into_iter().find(|e| e.kind == LIST_ENTRY_RECEIVED).ok_or(JudgeError::NoListEntry)?;
    let entry: ev::ListEntryReceived = entry.decode()?;
    let context = judged_by(events, &entry)?;
    let (sha, proposed) = decided;
    let rs = book.by_sha(&sha).ok_or_else(|| JudgeError::UnknownRuleSet(sha.clone()))?;
    if rs.procedure != procedure {
        return Err(JudgeError::OtherProcedure);
    }
    let computed = judge_answers(rs, iin, &context, &answers)?;
    Ok(Some(Rederived { rule_set_sha256: sha, rule_set_id: rs.id.clone(), rule_set_version: rs.version.clone(), computed, proposed, context, answers }))
}

/// What a run judged its person against, from its signed `RunStarted` among `events` and his
/// list entry: the entry's settlement, and the decision date where the run judged records as
/// they stood on it (decision 18).
pub fn judged_by<'e>(events: impl IntoIterator<Item = &'e Event>, entry: &ev::ListEntryReceived) -> Result<Context, JudgeError> {
    let started: ev::RunStarted = events
        .into_iter()
        .find(|e| e.kind == RUN_STARTED && e.run() == Some(entry.run.as_str()))
        .ok_or_else(|| JudgeError::NoRunStarted(entry.run.clone()))?
        .decode()?;
    Ok(Context::of_entry(&entry.entry, started.dated_as_of(), started.live()))
}

/// A person's recorded answers in one run, each source signature checked with `keys`:
/// `(step, registry)` → records. An answer may hold only the fields its query asked for
/// (decision 14).
pub fn verified_answers<'e>(
    events: impl IntoIterator<Item = &'e Event> + Clone,
    keys: &TrustedKeys,
) -> Result<BTreeMap<(String, RegistryId), Records>, JudgeError> {
    let mut asked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events.clone().into_iter().filter(|e| e.kind == REGISTRY_QUERIED) {
        let q: ev::RegistryQueried = e.decode()?;
        if let Some(fields) = q.fields {
            asked.insert(q.request_id, fields);
        }
    }
    let mut answers: BTreeMap<(String, RegistryId), Records> = BTreeMap::new();
    for e in events.into_iter().filter(|e| e.kind == REGISTRY_RESPONDED && e.stream.starts_with("person:")) {
        let r: ev::RegistryResponded = e.decode()?;
        let registry = RegistryId::parse(&r.registry).ok_or(JudgeError::UnknownRegistryAt(e.seq))?;
        let subjects = AnswerHead::of(&r.answer).subjects();
        let signed = SignedAnswer { item_sigs: Default::default(), ..SignedAnswer::from_responded(&r) };
        let step = r.step.unwrap_or_default();
        let kind = match asked.get(&r.request_id) {
            Some(fields) => AnswerKind::Fields(&subjects, fields),
            None => AnswerKind::Records(&subjects),
        };
        let records = check_answer(keys, registry, &r.request_id, kind, &signed).map_err(|fault| JudgeError::AnswerAt { seq: e.seq, fault })?;
        // A step may ask one registry twice (the recipient, and his family for fewer fields).
        answers.entry((step, registry)).or_default().extend(records_of(records));
    }
    Ok(answers)
}

/// The rules' own step machine, fed verified answers (`(step, registry)` → records): the
/// grounds it finds, or why the answers do not allow a decision.
pub fn judge_answers(
    rs: &crate::rules::RuleSet,
    iin: &str,
    ctx: &Context,
    answers: &BTreeMap<(String, RegistryId), Records>,
) -> Result<Vec<Ground>, JudgeError> {
    match judge_from(rs, 0, iin, ctx, Family::default(), answers, &Corrections::new())? {
        (CheckVerdict::Incomplete, _, Some(step)) => Err(JudgeError::Undecided(step)),
        (_, grounds, _) => Ok(grounds),
    }
}

/// A source owner's corrected answer, by registry: the subjects it is about and their records.
pub type Corrections = BTreeMap<RegistryId, (Vec<String>, Records)>;

/// The step machine from step index `first`, with the family the run fixed, fed verified
/// answers and, where a registry's correction covers a step's subjects, the correction instead
/// (as an appeal's re-check does). The verdict, the grounds found, and the step that could not
/// decide, if one could not.
pub fn judge_from(
    rs: &crate::rules::RuleSet,
    first: usize,
    iin: &str,
    ctx: &Context,
    family: Family,
    answers: &BTreeMap<(String, RegistryId), Records>,
    corrections: &Corrections,
) -> Result<(CheckVerdict, Vec<Ground>, Option<String>), JudgeError> {
    let mut machine = StepMachine::new(rs, first, iin, ctx.clone(), family);
    while let Some((step, subjects)) = machine.current() {
        let mut fed: BTreeMap<RegistryId, Records> = BTreeMap::new();
        for r in step.registries() {
            let records = match corrections.get(&r).filter(|(about, _)| subjects.iter().all(|s| about.contains(s))) {
                Some((_, records)) => records.iter().filter(|(k, _)| subjects.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
                None => answers.get(&(step.step.clone(), r)).cloned().ok_or_else(|| JudgeError::NoAnswer { step: step.step.clone(), registry: r })?,
            };
            fed.insert(r, records);
        }
        let refs: checks::Answers = fed.iter().map(|(r, v)| (*r, v)).collect();
        if machine.feed(&refs).verdict == CheckVerdict::Incomplete {
            return Ok((CheckVerdict::Incomplete, Vec::new(), Some(step.step.clone())));
        }
    }
    Ok(match machine.outcome() {
        Some(Outcome::Found(grounds)) => (CheckVerdict::Found, grounds.clone(), None),
        _ => (CheckVerdict::Clear, Vec::new(), None),
    })
}

/// Verifies a bundle offline against the ledger key `anchor`: every event's hash and signature
/// (keys introduced after the anchor must be introduced in the bundle by a trusted key), every
/// source signature, every inclusion path against the checkpoint, the checkpoint's signature,
/// and that the status and grounds follow from the answers under the named rule set.
pub fn verify(bundle: &Bundle, anchor: &VerifierKey, book: &RuleBook, sources: &Sources) -> Result<Verified, ProofError> {
    if bundle.format != PROOF_FORMAT {
        return Err(invalid(format!("unknown format {:?}", bundle.format)));
    }
    // Ledger keys as the log recorded them; each event under the key in force at its seq; the
    // checkpoint under a key the anchor leads to, in force at its size.
    let history = key_history(&bundle.events, anchor)?;
    check_signatures(&bundle.events, &history)?;
    let cp = anchored_checkpoint(&bundle.checkpoint, &bundle.events, &history, anchor)?;
    check_included(&bundle.events, &bundle.inclusion, &cp)?;
    // Format v2: the person's seals opened with the bundle's opening, once the stored form is
    // known to be the ledger's.
    let opened = open_bundle(bundle)?;
    let bundle = opened.as_ref().unwrap_or(bundle);
    let keys = source_keys(bundle, sources)?;
    let procedure = Procedure::parse(&bundle.procedure).map_err(|e| invalid(e.to_string()))?;
    // The status the events show.
    let mut persons = Persons::default();
    bundle.events.iter().for_each(|e| persons.apply(e));
    let case = persons.cases.get(&bundle.iin).and_then(|m| m.get(&bundle.procedure)).ok_or_else(|| invalid("the events hold no case for this person"))?;
    let overturned = case.appeal.as_ref().is_some_and(|a| a.outcome == Some(ev::AppealOutcome::Overturned));
    let run = check_whole(bundle, overturned)?;
    // The decision rests on its run's events; an appeal's re-check is judged with the appeal.
    let of_case = bundle.events.iter().filter(|e| e.run() == Some(run.as_str()) && e.appeal().is_none());
    let judged = rederive(of_case, &bundle.iin, procedure, &keys, book).map_err(|e| invalid(e.to_string()))?;
    if case.status != bundle.status {
        return Err(invalid(format!("bundle says {}, its events say {}", bundle.status, case.status)));
    }
    let (folded, stated): (BTreeSet<_>, BTreeSet<_>) = (case.grounds.iter().map(ground_key).collect(), bundle.grounds.iter().map(ground_key).collect());
    if folded != stated {
        return Err(invalid(format!("the bundle states grounds {stated:?}, its proposal {folded:?}")));
    }
    // The grounds follow from the answers under the rule set the proposal names.
    if let Some(j) = judged {
        let computed: BTreeSet<_> = j.computed.iter().map(ground_key).collect();
        let stated: BTreeSet<_> = bundle.grounds.iter().map(ground_key).collect();
        // An overturn leaves no grounds standing: the proposal's are compared below.
        if computed != stated && !overturned {
            return Err(invalid(format!(
                "the grounds do not follow from the answers under rule set {} v{}: computed {computed:?}, stated {stated:?}",
                j.rule_set_id, j.rule_set_version
            )));
        }
        if let Some(why) = j.disagreement() {
            return Err(invalid(why));
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
    // Whole streams to their heads (a run's holds other persons' data: a bundle carries only
    // its own parts of it). Checked last, so that a required event left out is named above.
    check_heads(&bundle.events, &bundle.heads, &cp, |s| s.starts_with("run:"))?;
    // The appeals the bundle holds, re-judged: what the latest came to is part of the case.
    let mut appeal = None;
    let appeals: BTreeSet<&str> = bundle.events.iter().filter_map(|e| e.stream.strip_prefix("appeal:")).collect();
    for id in appeals {
        let appeal_events: Vec<Event> = bundle
            .events
            .iter()
            .filter(|e| e.stream == format!("appeal:{id}") || e.appeal() == Some(id) || e.stream == format!("notice:{id}-reinstatement"))
            .cloned()
            .collect();
        appeal = Some(judge_appeal(&AppealView { id, events: &appeal_events, proof: bundle }, &keys, book)?);
    }
    Ok(Verified {
        status: case.status,
        grounds: bundle.grounds.len(),
        events: bundle.events.len(),
        tree_size: cp.size,
        simulation,
        sources: keys.basis,
        appeal,
    })
}
