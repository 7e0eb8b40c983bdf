//! Appeals (decision 10 of `algorithm.md`): a contested decision from filing to resolution.
//! Every step is an event of the stream `appeal:<id>`; the re-check's queries, answers,
//! corrections and verdicts go to the person's stream marked with `appeal`. Nothing is edited:
//! an overturned removal is undone by new events, never by changing old ones.
//!
//! - Filing records who filed, against which decision, on what grounds, and the deadline: three
//!   months from the notice's delivery (Administrative Procedural Code, art. 92). A late appeal
//!   is flagged with its stated reason, never refused.
//! - A correction is an answer signed by the source owner (clauses 13, 16) to the request id
//!   `<appeal>/<registry>`; its signature is checked against the trusted key like any answer.
//! - The re-check runs the steps again from the contested step on, under the rule set valid on
//!   the original decision date (the run's `as_of`), with the family the run fixed before it.
//! - The resolution is taken by an officer who did not take the original decision, and must
//!   agree with the latest re-check: an overturn needs a clear one, upholding a non-clear one.

use crate::auth::Caller;
use crate::ledger::{Ledger, LedgerError};
use crate::pipeline::person::{self, Correction, Corrections, RunContext, StepsOutcome};
use crate::registry::{check_answer, records_of, AnswerKind, NoSource, Registries, Reinstatement, SignedAnswer, TrustedKeys};
use crate::rules::checks::Family;
use crate::rules::records::RegistryId;
use crate::rules::{calendar, notice, Procedure, RuleBook, RuleSet};
use crate::store::StoreError;
use chrono::NaiveDate;
use events::types::*;
use events::{Event, NewEvent};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Attempts at submitting a reinstatement to ИШ АС МР in one go (decision 16); a later
/// `reinstate` tries again.
const REINSTATE_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum AppealError {
    /// No appeal has this id.
    #[error("no appeal {0}")]
    UnknownAppeal(String),
    /// What the step rests on is not in the ledger: the person's case, the decision, the list
    /// entry, the run.
    #[error("{0}")]
    NotInLedger(String),
    /// A filing, resolution or correction as sent cannot be taken (a missing field, a bad
    /// date, an unknown step or registry).
    #[error("{0}")]
    Malformed(String),
    /// The source's correction is refused: its signature, its request id or its shape.
    #[error("{0}")]
    CorrectionRefused(String),
    /// Decision 15: the officer's token names no officer (or no identifier).
    #[error("{0}")]
    Unidentified(String),
    /// Decision 15: no one resolves an appeal against his own decision.
    #[error("{0}")]
    SelfReview(String),
    /// The case or the appeal is not in a state that allows this step (no confirmed decision,
    /// already filed, suspended, resolved or acknowledged, a rule set not in force).
    #[error("{0}")]
    WrongState(String),
    /// The outcome asked for contradicts the re-check.
    #[error("{0}")]
    ContradictsRecheck(String),
    /// Someone else changed the appeal meanwhile; nothing was written.
    #[error("{0}")]
    Changed(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<StoreError> for AppealError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { stream, .. } => AppealError::Changed(format!("{stream} changed meanwhile; nothing was written, try again")),
            e => AppealError::Ledger(e.into()),
        }
    }
}

type Result<T> = std::result::Result<T, AppealError>;

/// What an officer files.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filing {
    /// `registry_removal` or `lease_termination`.
    #[schema(pattern = "^(registry_removal|lease_termination)$")]
    pub procedure: String,
    /// The appellant's grounds, as stated (not blank).
    #[schema(pattern = "\\S")]
    pub grounds: String,
    /// The step contested (`"6"`, `"10"`, ...); default: the step that found the ground.
    #[serde(default)]
    pub contested_step: Option<String>,
    /// The day the appeal was received (`YYYY-MM-DD`); default: today.
    #[serde(default)]
    pub received_on: Option<String>,
    /// Why it comes after the deadline, if it does.
    #[serde(default)]
    pub late_reason: Option<String>,
    /// Suspend the removal while the appeal is pending.
    #[serde(default)]
    pub suspend: bool,
}

/// A source owner's correction.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionFiling {
    pub registry: String,
    /// The answer as the source signed it; its `request_id` must be `<appeal>/<registry>`.
    #[schema(value_type = Object)]
    pub answer: Value,
    pub source_key: String,
    pub source_sig: String,
}

/// `upheld` or `overturned`, with the officer's reasons.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub outcome: String,
    pub reason: String,
}

/// An appeal as its stream and the person's stream tell it.
#[derive(Clone, Debug)]
pub struct Appeal {
    pub id: String,
    pub iin: String,
    pub procedure: Procedure,
    pub run: String,
    pub filed: Event,
    /// Every event of the appeal's stream, in order.
    pub events: Vec<Event>,
    pub suspended: bool,
    pub recheck: Option<Event>,
    pub resolved: Option<Event>,
}

impl Appeal {
    fn next_seq(&self) -> u64 {
        self.events.len() as u64
    }

    fn open(&self) -> Result<()> {
        match &self.resolved {
            Some(r) => {
                Err(AppealError::WrongState(format!("appeal {} was resolved ({}) at seq {}", self.id, r.data["outcome"].as_str().unwrap_or("?"), r.seq)))
            }
            None => Ok(()),
        }
    }
}

/// The services an appeal needs: the ledger, the trusted source keys, the rule sets, and the
/// registries to ask for fresh answers (`NoSource` if the server has none).
pub struct Appeals<'a> {
    pub ledger: &'a Ledger,
    pub keys: &'a TrustedKeys,
    pub book: &'a RuleBook,
    pub registries: Option<Arc<dyn Registries>>,
    /// Today, as the service counts days: in Kazakhstan (decision 17).
    pub today: NaiveDate,
}

fn date(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| AppealError::Malformed(format!("{field} must be a date YYYY-MM-DD, got {s:?}")))
}

/// The local date in Kazakhstan of an event (decision 17).
fn date_of(ev: &Event) -> NaiveDate {
    calendar::local_date_of(&ev.time).unwrap_or_default()
}

fn officer_json(c: &Caller) -> Value {
    json!({"token": c.token_id, "role": c.role, "holder": c.holder, "holder_id": c.holder_id})
}

fn require_named(c: &Caller) -> Result<()> {
    if c.holder.trim().is_empty() {
        return Err(AppealError::Unidentified("this token names no officer; appeals are handled with a token created with --holder".into()));
    }
    Ok(())
}

/// The id of the appeal against the decision at `decision_seq`: one appeal per decision.
pub fn appeal_id(decision_seq: u64) -> String {
    format!("ap-{decision_seq}")
}

/// The person's events of one run, without an appeal's re-check.
fn of_run<'e>(person: &'e [Event], run: &str) -> impl Iterator<Item = &'e Event> + 'e {
    let run = run.to_string();
    person.iter().filter(move |e| e.data["run"] == run.as_str() && e.data.get("appeal").is_none())
}

impl Appeals<'_> {
    /// Reads an appeal after a write of it: the stored projection is caught up first, so that
    /// whoever wrote reads his own write.
    async fn written(&self, id: &str) -> Result<Appeal> {
        crate::projection::catch_up(self.ledger).await?;
        self.load(id).await
    }

    /// Reads an appeal.
    pub async fn load(&self, id: &str) -> Result<Appeal> {
        let events = self.ledger.store().read_stream(&appeal_stream(id)).await?;
        let filed = events.first().filter(|e| e.kind == APPEAL_FILED).cloned().ok_or_else(|| AppealError::UnknownAppeal(id.to_string()))?;
        let d = &filed.data;
        let procedure = Procedure::parse(d["procedure"].as_str().unwrap_or_default()).map_err(AppealError::Malformed)?;
        let mut a = Appeal {
            id: id.into(),
            iin: d["iin"].as_str().unwrap_or_default().into(),
            procedure,
            run: d["run"].as_str().unwrap_or_default().into(),
            filed: filed.clone(),
            events: events.clone(),
            suspended: false,
            recheck: None,
            resolved: None,
        };
        for e in events {
            match e.kind.as_str() {
                REMOVAL_SUSPENDED => a.suspended = true,
                APPEAL_RECHECKED => a.recheck = Some(e),
                APPEAL_RESOLVED => a.resolved = Some(e),
                _ => {}
            }
        }
        Ok(a)
    }

    /// The appeals filed about a person, newest last.
    pub async fn of_person(&self, iin: &str) -> Result<Vec<Appeal>> {
        let (persons, _, _) = crate::proof::load_person(self.ledger, iin).await?;
        let mut out = Vec::new();
        for case in persons.cases.get(iin).into_iter().flat_map(|m| m.values()) {
            if let Some(d) = &case.decision {
                match self.load(&appeal_id(d.seq)).await {
                    Ok(a) => out.push(a),
                    Err(AppealError::UnknownAppeal(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        out.sort_by_key(|a| a.filed.seq);
        Ok(out)
    }

    /// Files an appeal against the person's confirmed decision in `filing.procedure`.
    pub async fn file(&self, iin: &str, filing: &Filing, by: &Caller) -> Result<Appeal> {
        require_named(by)?;
        let procedure = Procedure::parse(&filing.procedure).map_err(AppealError::Malformed)?;
        if filing.grounds.trim().is_empty() {
            return Err(AppealError::Malformed("grounds: the appellant's grounds are required".into()));
        }
        let (persons, person, _) = crate::proof::load_person(self.ledger, iin).await?;
        let case =
            persons.cases.get(iin).and_then(|m| m.get(procedure.as_str())).ok_or_else(|| AppealError::NotInLedger(format!("no {procedure} case for {iin}")))?;
        let decision = case
            .decision
            .as_ref()
            .filter(|d| d.outcome == "confirmed")
            .ok_or_else(|| AppealError::WrongState(format!("{iin} has no confirmed {procedure} decision to appeal (status {})", case.status)))?;
        let decision_event =
            person.iter().find(|e| e.seq == decision.seq).ok_or_else(|| AppealError::NotInLedger(format!("decision {} is not in the ledger", decision.seq)))?;
        // APC art. 92: three months from the day the notice was delivered, that day counted in
        // Kazakhstan, the last day moved off a day off (decision 17).
        let delivered =
            case.notice.as_ref().and_then(|n| person.iter().find(|e| e.kind == NOTICE_DELIVERED && e.data["notice"] == n.notice.as_str())).map(date_of);
        let counted = delivered.map(|d| calendar::appeal_deadline(calendar::Calendar::built_in(), d));
        let deadline = counted.as_ref().map(|d| d.last_day);
        let received_on = match &filing.received_on {
            Some(s) => date("received_on", s)?,
            None => self.today,
        };
        if received_on > self.today {
            return Err(AppealError::Malformed(format!("received_on {received_on} is after today ({})", self.today)));
        }
        if received_on < date_of(decision_event) {
            return Err(AppealError::Malformed(format!("received_on {received_on} is before the decision ({})", date_of(decision_event))));
        }
        let late = deadline.is_some_and(|d| received_on > d);
        let rs = self.rule_set_of(&case.run).await?.0;
        let found_step =
            of_run(&person, &case.run).filter(|e| e.kind == CHECK_EVALUATED && e.data["verdict"] == "found").last().map(|e| e.data["step"].clone());
        let found_step = found_step.and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let contested = filing.contested_step.clone().unwrap_or_else(|| found_step.clone());
        let (ci, fi) = (step_index(&rs, &contested)?, step_index(&rs, &found_step)?);
        if ci > fi {
            return Err(AppealError::Malformed(format!(
                "contested_step {contested} comes after step {found_step}, which found the ground; contest it or an earlier step"
            )));
        }
        let id = appeal_id(decision.seq);
        let stream = appeal_stream(&id);
        let mut batch = vec![NewEvent::new(
            &stream,
            APPEAL_FILED,
            json!({
                "appeal": id, "iin": iin, "procedure": procedure, "run": case.run, "decision": decision.seq,
                "decided_by": decision.decided_by, "decided_by_id": decision.official["id"], "notice": case.notice.as_ref().map(|n| n.notice.clone()),
                "filed_by": officer_json(by), "grounds": filing.grounds.trim(), "contested_step": contested,
                "received_on": received_on.to_string(), "delivered_on": delivered.map(|d| d.to_string()),
                "deadline": deadline.map(|d| d.to_string()), "deadline_moved_from": counted.as_ref().and_then(|d| d.moved_from).map(|d| d.to_string()),
                "deadline_unchecked": counted.as_ref().and_then(|d| d.unchecked.clone()), "late": late,
                "late_reason": filing.late_reason.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            }),
        )
        .expecting(0)];
        if filing.suspend {
            batch.push(
                NewEvent::new(&stream, REMOVAL_SUSPENDED, json!({"appeal": id, "iin": iin, "procedure": procedure, "by": officer_json(by)})).expecting(1),
            );
        }
        match self.ledger.append(batch).await {
            Ok(_) => {}
            Err(LedgerError::Store(StoreError::Conflict { .. })) => {
                return Err(AppealError::WrongState(format!("an appeal against decision {} is already filed: {id}", decision.seq)));
            }
            Err(e) => return Err(e.into()),
        }
        self.written(&id).await
    }

    /// Suspends the removal while the appeal is pending.
    pub async fn suspend(&self, id: &str, by: &Caller) -> Result<Appeal> {
        require_named(by)?;
        let a = self.load(id).await?;
        a.open()?;
        if a.suspended {
            return Err(AppealError::WrongState(format!("the removal under appeal {id} is already suspended")));
        }
        let ev = NewEvent::new(appeal_stream(id), REMOVAL_SUSPENDED, json!({"appeal": id, "iin": a.iin, "procedure": a.procedure, "by": officer_json(by)}))
            .expecting(a.next_seq());
        self.ledger.append(vec![ev]).await.map_err(stream_conflict)?;
        self.written(id).await
    }

    /// Receives a source owner's signed correction; it is checked like any answer.
    pub async fn correction(&self, id: &str, c: &CorrectionFiling, by: &Caller) -> Result<Event> {
        require_named(by)?;
        let a = self.load(id).await?;
        a.open()?;
        let registry = RegistryId::parse(&c.registry).ok_or_else(|| AppealError::CorrectionRefused(format!("unknown registry {:?}", c.registry)))?;
        let request_id = format!("{id}/{registry}");
        let subjects: Vec<String> =
            c.answer["subjects"].as_array().map(|s| s.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
        if subjects.is_empty() {
            return Err(AppealError::CorrectionRefused("the correction's answer names no subjects".into()));
        }
        let signed =
            SignedAnswer { answer: c.answer.clone(), source_key: c.source_key.clone(), source_sig: c.source_sig.clone(), item_sigs: Default::default() };
        check_answer(self.keys, registry, &request_id, AnswerKind::Records(&subjects), &signed)
            .map_err(|f| AppealError::CorrectionRefused(format!("the correction from {registry} is refused: {f}")))?;
        let ev = NewEvent::new(
            person_stream(&a.iin),
            REGISTRY_RESPONDED,
            with(
                json!({"run": a.run, "registry": registry, "request_id": request_id, "appeal": id, "correction": true, "received_by": officer_json(by), "source_key": signed.source_key, "source_sig": signed.source_sig}),
                "answer",
                signed.answer,
            ),
        );
        let ev = self.ledger.append(vec![ev]).await?.remove(0);
        crate::projection::catch_up(self.ledger).await?;
        Ok(ev)
    }

    /// The rule set the run was decided under, checked to be the one valid on its `as_of`.
    async fn rule_set_of(&self, run: &str) -> Result<(RuleSet, String)> {
        let started = self.ledger.store().read_stream_kind(&run_stream(run), RUN_STARTED).await?;
        let started = started.first().ok_or_else(|| AppealError::NotInLedger(format!("run {run} has no RunStarted")))?;
        let d = &started.data;
        let procedure = Procedure::parse(d["procedure"].as_str().unwrap_or_default()).map_err(AppealError::Malformed)?;
        let as_of = d["as_of"].as_str().unwrap_or_default().to_string();
        let rs = self.book.select(procedure, &as_of).map_err(|e| AppealError::WrongState(format!("re-check of run {run}: {e}")))?;
        if rs.sha256 != d["rule_set"]["sha256"].as_str().unwrap_or_default() {
            return Err(AppealError::WrongState(format!(
                "the rule set valid on {as_of} is {} v{} ({}), but run {run} was decided under {}; it is not loaded",
                rs.id, rs.version, rs.sha256, d["rule_set"]["sha256"]
            )));
        }
        Ok((rs.clone(), as_of))
    }

    /// Runs the checks again from the contested step on (decision 10).
    pub async fn recheck(&self, id: &str, by: &Caller) -> Result<Appeal> {
        require_named(by)?;
        let a = self.load(id).await?;
        a.open()?;
        let (rs, as_of) = self.rule_set_of(&a.run).await?;
        let person = self.ledger.store().read_stream(&person_stream(&a.iin)).await?;
        let contested = a.filed.data["contested_step"].as_str().unwrap_or_default().to_string();
        let first = step_index(&rs, &contested)?;
        let entry = of_run(&person, &a.run)
            .find(|e| e.kind == LIST_ENTRY_RECEIVED)
            .ok_or_else(|| AppealError::NotInLedger(format!("no list entry of run {}", a.run)))?;
        let locality = entry.data["entry"]["locality"].as_str().unwrap_or_default().to_string();
        // The family the run fixed at step 5 holds for later steps; a re-check from step 5 fixes it afresh.
        let family: Family = of_run(&person, &a.run)
            .filter(|e| e.kind == CHECK_EVALUATED && e.data.get("family").is_some())
            .filter(|e| step_index(&rs, e.data["step"].as_str().unwrap_or_default()).is_ok_and(|i| i < first))
            .last()
            .and_then(|e| serde_json::from_value(e.data["family"].clone()).ok())
            .unwrap_or_default();
        let mut corrections = Corrections::new();
        for e in person.iter().filter(|e| e.kind == REGISTRY_RESPONDED && e.data["appeal"] == id && e.data["correction"] == true) {
            let Some(r) = RegistryId::parse(e.data["registry"].as_str().unwrap_or_default()) else { continue };
            let subjects = e.data["answer"]["subjects"].as_array().map(|s| s.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
            corrections.insert(r, Correction { subjects, records: records_of(&e.data["answer"]["records"]), seq: e.seq });
        }
        let ctx = RunContext {
            run: a.run.clone(),
            procedure: a.procedure,
            as_of,
            rules: rs.clone(),
            registries: self.registries.clone().unwrap_or_else(|| Arc::new(NoSource)),
            keys: self.keys.clone(),
            // A re-check proposes nothing: neither is read.
            simulation: false,
            standing: Default::default(),
        };
        let (mut batch, outcome, evidence) = person::recheck(&ctx, id, &a.iin, &locality, first, family, &corrections).await;
        let grounds = match &outcome {
            StepsOutcome::Found(g) => g.clone(),
            _ => json!([]),
        };
        batch.push(
            &appeal_stream(id),
            APPEAL_RECHECKED,
            json!({"appeal": id, "iin": a.iin, "procedure": a.procedure, "run": a.run, "from_step": contested, "rule_set_sha256": rs.sha256, "verdict": outcome.verdict(), "grounds": grounds, "evidence": evidence, "by": officer_json(by)}),
        );
        if let Some(last) = batch.events.last_mut() {
            last.expected_stream_seq = Some(a.next_seq());
        }
        self.ledger.append_relative(batch.events).await.map_err(stream_conflict)?;
        self.written(id).await
    }

    /// Resolves the appeal. An overturn reinstates the person and sends a notice of reinstatement.
    pub async fn resolve(&self, id: &str, r: &Resolution, by: &Caller) -> Result<Appeal> {
        require_named(by)?;
        let a = self.load(id).await?;
        a.open()?;
        // Decision 15: identifiers compared, never names.
        let decided_by_id = a.filed.data["decided_by_id"].as_str().unwrap_or_default();
        if decided_by_id.is_empty() {
            return Err(AppealError::Unidentified(format!(
                "the decision under appeal (seq {}) names no identified official, so no one can be shown not to have taken it",
                a.filed.data["decision"]
            )));
        }
        if by.holder_id.is_empty() {
            return Err(AppealError::Unidentified("this token names no holder IIN; an appeal is resolved with a token created with --holder-id".into()));
        }
        if by.holder_id == decided_by_id {
            return Err(AppealError::SelfReview(format!(
                "the holder of this token ({}) took the decision under appeal (seq {}) and may not resolve the appeal against it",
                by.holder_id, a.filed.data["decision"]
            )));
        }
        if r.reason.trim().is_empty() {
            return Err(AppealError::Malformed("reason: the officer's reasons are required".into()));
        }
        let recheck = a.recheck.as_ref().map(|e| (e.data["verdict"].as_str().unwrap_or_default().to_string(), e));
        let person = self.ledger.store().read_stream(&person_stream(&a.iin)).await?;
        let proposal = of_run(&person, &a.run).filter(|e| e.kind == DECISION_PROPOSED).last().cloned();
        let stream = appeal_stream(id);
        let mut batch: Vec<NewEvent> = Vec::new();
        match r.outcome.as_str() {
            "overturned" => {
                match &recheck {
                    Some((v, _)) if v == "clear" => {}
                    Some((v, e)) => {
                        return Err(AppealError::ContradictsRecheck(format!(
                            "the latest re-check (seq {}) is {v}{}; a removal is overturned only when a re-check clears it",
                            e.seq,
                            grounds_text(&e.data["grounds"])
                        )))
                    }
                    None => return Err(AppealError::ContradictsRecheck("no re-check yet: a removal is overturned only when a re-check clears it".into())),
                }
                let entry = of_run(&person, &a.run).find(|e| e.kind == LIST_ENTRY_RECEIVED).map(|e| e.data["entry"].clone()).unwrap_or_default();
                let reinstated = match a.procedure {
                    Procedure::RegistryRemoval => json!({"queue_number": entry["queue_number"], "registered_on": entry["registered_on"]}),
                    Procedure::LeaseTermination => json!({"lease_contract": entry["lease_contract"], "address": entry["address"]}),
                };
                batch.push(
                    NewEvent::new(
                        &stream,
                        APPEAL_RESOLVED,
                        json!({"appeal": id, "iin": a.iin, "procedure": a.procedure, "outcome": "overturned", "reason": r.reason.trim(), "resolved_by": officer_json(by), "recheck": recheck.as_ref().map(|(_, e)| e.seq), "grounds": [], "reinstated": reinstated}),
                    )
                    .expecting(a.next_seq()),
                );
            }
            "upheld" => {
                let grounds = match &recheck {
                    Some((v, e)) if v == "clear" => {
                        return Err(AppealError::ContradictsRecheck(format!(
                            "the latest re-check (seq {}) found no ground; the removal cannot be upheld on it",
                            e.seq
                        )))
                    }
                    // The removal stands on what the re-check found, if it found something.
                    Some((v, e)) if v == "found" => e.data["grounds"].clone(),
                    _ => proposal.as_ref().map(|p| p.data["grounds"].clone()).unwrap_or(json!([])),
                };
                batch.push(
                    NewEvent::new(
                        &stream,
                        APPEAL_RESOLVED,
                        json!({"appeal": id, "iin": a.iin, "procedure": a.procedure, "outcome": "upheld", "reason": r.reason.trim(), "resolved_by": officer_json(by), "recheck": recheck.as_ref().map(|(_, e)| e.seq), "grounds": grounds, "reinstated": null}),
                    )
                    .expecting(a.next_seq()),
                );
            }
            other => return Err(AppealError::Malformed(format!("outcome must be upheld or overturned, got {other:?}"))),
        }
        self.ledger.append_relative(batch).await.map_err(stream_conflict)?;
        if r.outcome == "overturned" {
            let a = self.load(id).await?;
            self.reinstate_and_notify(&a).await?;
        }
        self.ledger.checkpoint().await?;
        self.written(id).await
    }

    /// Decision 16: submits an overturned decision's reinstatement to ИШ АС МР again, where it
    /// is not yet acknowledged; once it is, the notice of reinstatement goes out.
    pub async fn reinstate(&self, id: &str, by: &Caller) -> Result<Appeal> {
        require_named(by)?;
        let a = self.load(id).await?;
        match &a.resolved {
            Some(r) if r.data["outcome"] == "overturned" => {}
            _ => return Err(AppealError::WrongState(format!("appeal {id} has not overturned a decision; there is nothing to reinstate"))),
        }
        if a.events.iter().any(|e| e.kind == REINSTATEMENT_ACKNOWLEDGED) {
            return Err(AppealError::WrongState(format!("the reinstatement under appeal {id} is already acknowledged")));
        }
        self.reinstate_and_notify(&a).await?;
        self.ledger.checkpoint().await?;
        self.written(id).await
    }

    /// Asks ИШ АС МР to restore the person, recording each attempt; on its signed
    /// acknowledgement, issues and delivers the notice of reinstatement. Without one, the
    /// reinstatement stays pending and no notice goes out.
    async fn reinstate_and_notify(&self, a: &Appeal) -> Result<()> {
        let resolved = a.resolved.as_ref().expect("an overturned appeal is resolved");
        let registries = self.registries.clone().unwrap_or_else(|| Arc::new(NoSource));
        let request = Reinstatement { iin: a.iin.clone(), procedure: a.procedure, appeal: a.id.clone(), restore: resolved.data["reinstated"].clone() };
        let tried = a.events.iter().filter(|e| e.kind == REINSTATEMENT_FAILED).count() as u32;
        let stream = appeal_stream(&a.id);
        for (next, attempt) in (a.next_seq()..).zip(tried + 1..=tried + REINSTATE_ATTEMPTS) {
            let request_id = format!("{}/reinstatement/{attempt}", a.id);
            let subjects = [a.iin.clone()];
            let result = registries.reinstate(&request, &request_id).await.and_then(|s| {
                // The borrowed records are not needed: only that the answer checks.
                check_answer(self.keys, RegistryId::IshAsMr, &request_id, AnswerKind::Acknowledgement(&subjects), &s)?;
                Ok(s)
            });
            let ev = match result {
                Ok(signed) => NewEvent::new(
                    &stream,
                    REINSTATEMENT_ACKNOWLEDGED,
                    with(
                        json!({"appeal": a.id, "iin": a.iin, "procedure": a.procedure, "registry": "ish_as_mr", "request_id": request_id, "attempt": attempt, "source_key": signed.source_key, "source_sig": signed.source_sig}),
                        "answer",
                        signed.answer,
                    ),
                ),
                Err(fault) => NewEvent::new(
                    &stream,
                    REINSTATEMENT_FAILED,
                    json!({"appeal": a.id, "iin": a.iin, "procedure": a.procedure, "registry": "ish_as_mr", "request_id": request_id, "attempt": attempt, "kind": fault.kind(), "detail": fault.detail()}),
                ),
            }
            .expecting(next);
            let acknowledged = ev.kind == REINSTATEMENT_ACKNOWLEDGED;
            let recorded = self.ledger.append(vec![ev]).await.map_err(stream_conflict)?.remove(0);
            if acknowledged {
                return self.notify_reinstatement(a, &recorded).await;
            }
        }
        Ok(())
    }

    /// The notice of reinstatement, after ИШ АС МР acknowledged it (`ack`).
    async fn notify_reinstatement(&self, a: &Appeal, ack: &Event) -> Result<()> {
        let resolved = a.resolved.as_ref().expect("an overturned appeal is resolved");
        let mut fields = resolved.data["reinstated"].clone();
        fields["received_on"] = a.filed.data["received_on"].clone();
        let text = notice::reinstatement(a.procedure, &fields);
        let notice = format!("{}-reinstatement", a.id);
        let issued = NewEvent::new(
            notice_stream(&notice),
            NOTICE_ISSUED,
            json!({"notice": notice, "kind": "reinstatement", "appeal": a.id, "iin": a.iin, "procedure": a.procedure, "decision": resolved.seq, "acknowledgement": ack.seq, "text": {"kk": text.kk, "ru": text.ru}, "grounds": []}),
        )
        .expecting(0);
        let issued = self.ledger.append(vec![issued]).await.map_err(stream_conflict)?.remove(0);
        self.deliver(&issued).await
    }

    /// Delivers a reinstatement notice through ИШ АС МР, recording every attempt.
    async fn deliver(&self, issued: &Event) -> Result<()> {
        let Some(registries) = &self.registries else { return Ok(()) };
        let (notice, iin) = (issued.data["notice"].as_str().unwrap_or_default(), issued.data["iin"].as_str().unwrap_or_default());
        let max = crate::pipeline::MAX_DELIVERY_ATTEMPTS;
        for attempt in 1..=max {
            let event = crate::pipeline::attempt_delivery(registries.as_ref(), notice, iin, attempt, max, json!({"appeal": issued.data["appeal"]})).await;
            let delivered = event.kind == NOTICE_DELIVERED;
            self.ledger.append(vec![event]).await?;
            if delivered {
                break;
            }
        }
        Ok(())
    }
}

fn stream_conflict(e: LedgerError) -> AppealError {
    match e {
        LedgerError::Store(s) => s.into(),
        e => e.into(),
    }
}

fn grounds_text(g: &Value) -> String {
    let codes: Vec<&str> = g.as_array().into_iter().flatten().filter_map(|g| g["code"].as_str()).collect();
    if codes.is_empty() {
        String::new()
    } else {
        format!(" ({})", codes.join(", "))
    }
}

fn step_index(rs: &RuleSet, step: &str) -> Result<usize> {
    rs.steps.iter().position(|s| s.step == step).ok_or_else(|| {
        AppealError::Malformed(format!(
            "step {step:?} is not a step of {} v{}; steps: {}",
            rs.id,
            rs.version,
            rs.steps.iter().map(|s| s.step.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Everything that happened in a person's cases, in ledger order: his stream, his notices, his
/// appeals and their notices.
pub async fn timeline(ledger: &Ledger, iin: &str) -> std::result::Result<Vec<Event>, LedgerError> {
    let store = ledger.store();
    let (persons, mut events, _) = crate::proof::load_person(ledger, iin).await?;
    for case in persons.cases.get(iin).into_iter().flat_map(|m| m.values()) {
        if let Some(d) = &case.decision {
            let id = appeal_id(d.seq);
            events.extend(store.read_stream(&appeal_stream(&id)).await?);
            events.extend(store.read_stream(&notice_stream(&format!("{id}-reinstatement"))).await?);
        }
    }
    events.sort_by_key(|e| e.seq);
    events.dedup_by_key(|e| e.seq);
    Ok(events)
}
