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

mod correction;
mod explanation;
mod reinstatement;

pub use explanation::{explanation_of, Contest, Explanation, ExplanationText};

use crate::auth::Caller;
use crate::ledger::{Ledger, LedgerError};
use crate::pipeline::person::{self, Correction, Corrections, RunContext};
use crate::registry::{check_answer, records_of, AnswerKind, NoSource, Registries, Reinstatement, SignedAnswer, TrustedKeys};
use crate::rules::checks::Family;
use crate::rules::records::RegistryId;
use crate::rules::steps::Outcome;
use crate::rules::{calendar, notice, Procedure, RuleBook, RuleSet};
use crate::store::StoreError;
use chrono::NaiveDate;
use events::catalogue::{self as ev, AppealOutcome, CheckVerdict, EventData, Ref};
use events::types::*;
use events::{Event, NewEvent};
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
    /// One field of a filing is wrong: which, why (a code a page words in its language, with
    /// the values it names), and the message as the API gives it.
    #[error("{}", .0.message)]
    Field(FieldError),
    /// The registries could not be asked (for the corrections their owners issued).
    #[error("{0}")]
    SourceUnavailable(String),
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

/// What an officer files (the API's request body is `api::appeals::Filing`).
#[derive(Clone, Debug)]
pub struct Filing {
    /// `registry_removal` or `lease_termination`.
    pub procedure: String,
    /// The appellant's grounds, as stated (not blank).
    pub grounds: String,
    /// The step contested; `None`: the step that found the ground.
    pub contested_step: Option<String>,
    /// The day the appeal was received (`YYYY-MM-DD`); `None`: today.
    pub received_on: Option<String>,
    /// Why it comes after the deadline, if it does.
    pub late_reason: Option<String>,
    /// Suspend the removal while the appeal is pending.
    pub suspend: bool,
}

/// A source owner's correction: an answer as the source signed it.
#[derive(Clone, Debug)]
pub struct CorrectionFiling {
    pub registry: String,
    /// The answer as signed; its `request_id` must be `<appeal>/<registry>`.
    pub signed: SignedAnswer,
}

/// What is wrong with one field of a filing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field as the form and the API name it (`grounds`, `received_on`, `contested_step`).
    pub field: &'static str,
    /// What is wrong: `required`, `not_a_date`, `after_today`, `before_decision`,
    /// `unknown_step`, `after_found_step`.
    pub code: &'static str,
    /// The values the message names, in its order.
    pub args: Vec<String>,
    pub message: String,
}

fn field_error(field: &'static str, code: &'static str, args: Vec<String>, message: String) -> AppealError {
    AppealError::Field(FieldError { field, code, args, message })
}

/// The last day to appeal a decision notified by the notice delivered among `person`'s events
/// (APC art. 92: three months from the day the notice was delivered, that day counted in
/// Kazakhstan, the last day moved off a day off; decision 17); `None` if it was not delivered.
pub fn deadline_of(case: &projections::person::ProcedureCase, person: &[Event]) -> Option<(NaiveDate, calendar::Deadline)> {
    let notice = case.notice.as_ref()?;
    let delivered = person.iter().find(|e| e.as_type::<ev::NoticeDelivered>().is_some_and(|d| d.notice == notice.notice)).map(date_of)?;
    Some((delivered, calendar::appeal_deadline(calendar::Calendar::built_in(), delivered)))
}

/// A correction a source owner issued about a person under appeal or his family, as the
/// registries gave it: checked like any answer, and whether the appeal has it already.
#[derive(Clone, Debug)]
pub struct IssuedCorrection {
    pub registry: String,
    pub signed: SignedAnswer,
    /// Why it would be refused (its source signature, request id or shape); `None` if it passes.
    pub refused: Option<String>,
    /// The appeal received this very answer (the same source signature) at this seq.
    pub received: Option<u64>,
}

/// `upheld` or `overturned`, with the officer's reasons.
#[derive(Clone, Debug)]
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
    /// The filing, as recorded.
    pub filing: ev::AppealFiled,
    /// Every event of the appeal's stream, in order.
    pub events: Vec<Event>,
    pub suspended: bool,
    /// The latest re-check.
    pub recheck: Option<(Event, ev::AppealRechecked)>,
    pub resolved: Option<(Event, ev::AppealResolved)>,
}

impl Appeal {
    fn next_seq(&self) -> u64 {
        self.events.len() as u64
    }

    fn open(&self) -> Result<()> {
        match &self.resolved {
            Some((e, r)) => Err(AppealError::WrongState(format!("appeal {} was resolved ({}) at seq {}", self.id, r.outcome.as_str(), e.seq))),
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

/// A date as people here type it, `02.12.2026` (DD.MM.YYYY), or as the API writes it,
/// `2026-12-02` (issue 30, item 8: checked here, not by the browser).
fn date(field: &'static str, s: &str) -> Result<NaiveDate> {
    let s = s.trim();
    calendar::parse_day(s)
        .ok_or_else(|| field_error(field, "not_a_date", vec![s.to_string()], format!("{field} must be a date DD.MM.YYYY (or YYYY-MM-DD), got {s:?}")))
}

/// The local date in Kazakhstan of an event (decision 17).
fn date_of(ev: &Event) -> NaiveDate {
    calendar::local_date_of(&ev.time).unwrap_or_default()
}

fn actor(c: &Caller) -> ev::Actor {
    ev::Actor { token: c.token_id.clone(), role: c.role.to_string(), holder: c.holder.clone(), holder_id: c.holder_id.clone() }
}

fn require_named(c: &Caller) -> Result<()> {
    if c.holder.trim().is_empty() {
        return Err(AppealError::Unidentified("this token names no officer; appeals are handled with a token created with --holder".into()));
    }
    Ok(())
}

/// The source owners' corrections the appeal `id` received, among a person's events.
fn corrections_received<'e>(person: &'e [Event], id: &'e str) -> impl Iterator<Item = (&'e Event, ev::RegistryResponded)> + 'e {
    person
        .iter()
        .filter_map(move |e| Some((e, e.as_type::<ev::RegistryResponded>().filter(|c| c.appeal.as_deref() == Some(id) && c.correction == Some(true))?)))
}

/// The subjects an answer names.
fn subjects_of(answer: &Value) -> Vec<String> {
    crate::registry::AnswerHead::of(answer).subjects()
}

/// An unknown step, as the error of the field that named it.
fn as_field(field: &'static str, e: AppealError) -> AppealError {
    match e {
        AppealError::Field(f) => AppealError::Field(FieldError { field, ..f }),
        other => other,
    }
}

/// The person's events of type `T` of one run, without an appeal's re-check.
fn of_run<'e, T: EventData + 'e>(person: &'e [Event], run: &str) -> impl Iterator<Item = (&'e Event, T)> + 'e {
    let run = run.to_string();
    person.iter().filter(move |e| e.run() == Some(run.as_str()) && e.appeal().is_none()).filter_map(|e| Some((e, e.as_type::<T>()?)))
}

/// An event as its catalogue type; one that does not decode is not the service's.
fn decoded<T: EventData>(e: &Event) -> Result<T> {
    e.decode().map_err(|x| AppealError::Ledger(LedgerError::Format(x)))
}

impl Appeals<'_> {
    /// Reads an appeal after a write of it: the stored projection is caught up first, so that
    /// whoever wrote reads his own write.
    async fn written(&self, id: &str) -> Result<Appeal> {
        crate::read_models::catch_up(self.ledger).await?;
        self.load(id).await
    }

    /// Reads an appeal.
    pub async fn load(&self, id: &str) -> Result<Appeal> {
        let events = self.ledger.log().read_stream(&appeal_stream(id), None).await?;
        let filed = events.first().filter(|e| e.kind == APPEAL_FILED).cloned().ok_or_else(|| AppealError::UnknownAppeal(id.to_string()))?;
        let filing: ev::AppealFiled = decoded(&filed)?;
        let procedure = Procedure::parse(&filing.procedure).map_err(|e| AppealError::Malformed(e.to_string()))?;
        let mut a = Appeal {
            id: id.into(),
            iin: filing.iin.clone(),
            procedure,
            run: filing.run.clone(),
            filed: filed.clone(),
            filing,
            events: events.clone(),
            suspended: false,
            recheck: None,
            resolved: None,
        };
        for e in events {
            match e.kind.as_str() {
                REMOVAL_SUSPENDED => a.suspended = true,
                APPEAL_RECHECKED => a.recheck = Some((e.clone(), decoded(&e)?)),
                APPEAL_RESOLVED => a.resolved = Some((e.clone(), decoded(&e)?)),
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
        let procedure = Procedure::parse(&filing.procedure).map_err(|e| AppealError::Malformed(e.to_string()))?;
        if filing.grounds.trim().is_empty() {
            return Err(field_error("grounds", "required", vec![], "grounds: the appellant's grounds are required".into()));
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
        let (delivered, counted) = deadline_of(case, &person).unzip();
        let deadline = counted.as_ref().map(|d| d.last_day);
        let received_on = match &filing.received_on {
            Some(s) => date("received_on", s)?,
            None => self.today,
        };
        if received_on > self.today {
            let args = vec![received_on.to_string(), self.today.to_string()];
            return Err(field_error("received_on", "after_today", args, format!("received_on {received_on} is after today ({})", self.today)));
        }
        if received_on < date_of(decision_event) {
            let (on, decided) = (received_on.to_string(), date_of(decision_event).to_string());
            return Err(field_error(
                "received_on",
                "before_decision",
                vec![on.clone(), decided.clone()],
                format!("received_on {on} is before the decision ({decided})"),
            ));
        }
        let late = deadline.is_some_and(|d| received_on > d);
        let rs = self.rule_set_of(&case.run).await?.0;
        let found_step =
            of_run::<ev::CheckEvaluated>(&person, &case.run).filter(|(_, c)| c.verdict == CheckVerdict::Found).last().map(|(_, c)| c.step).unwrap_or_default();
        let contested = filing.contested_step.clone().unwrap_or_else(|| found_step.clone());
        let (ci, fi) = (step_index(&rs, &contested).map_err(|e| as_field("contested_step", e))?, step_index(&rs, &found_step)?);
        if ci > fi {
            return Err(field_error(
                "contested_step",
                "after_found_step",
                vec![contested.clone(), found_step.clone()],
                format!("contested_step {contested} comes after step {found_step}, which found the ground; contest it or an earlier step"),
            ));
        }
        let id = appeal_id(decision.seq);
        let stream = appeal_stream(&id);
        let filed = ev::AppealFiled {
            appeal: id.clone(),
            iin: iin.to_string(),
            procedure: procedure.to_string(),
            run: case.run.clone(),
            notice: case.notice.as_ref().map(|n| n.notice.clone()),
            decision: decision.seq,
            decided_by: decision.decided_by.clone(),
            decided_by_id: decision.official.as_ref().map(|o| o.id.clone()),
            delivered_on: delivered.map(|d| d.to_string()),
            received_on: received_on.to_string(),
            deadline: deadline.map(|d| d.to_string()),
            deadline_moved_from: counted.as_ref().and_then(|d| d.moved_from).map(|d| d.to_string()),
            deadline_unchecked: counted.as_ref().and_then(|d| d.unchecked.clone()),
            deadline_provisional: counted.as_ref().and_then(|d| d.provisional.clone()),
            late,
            late_reason: filing.late_reason.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from),
            contested_step: contested,
            grounds: filing.grounds.trim().to_string(),
            filed_by: actor(by),
        };
        let mut batch = vec![NewEvent::typed(&stream, filed).expecting(0)];
        if filing.suspend {
            let suspended = ev::RemovalSuspended { appeal: id.clone(), iin: iin.to_string(), procedure: procedure.to_string(), by: actor(by) };
            batch.push(NewEvent::typed(&stream, suspended).expecting(1));
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
        let suspended = ev::RemovalSuspended { appeal: id.to_string(), iin: a.iin.clone(), procedure: a.procedure.to_string(), by: actor(by) };
        let event = NewEvent::typed(appeal_stream(id), suspended).expecting(a.next_seq());
        self.ledger.append(vec![event]).await.map_err(stream_conflict)?;
        self.written(id).await
    }

    /// The rule set the run was decided under, checked to be the one valid on its `as_of`.
    async fn rule_set_of(&self, run: &str) -> Result<(RuleSet, ev::RunStarted)> {
        let started = self.ledger.log().read_stream(&run_stream(run), Some(RUN_STARTED)).await?;
        let started: ev::RunStarted = decoded(started.first().ok_or_else(|| AppealError::NotInLedger(format!("run {run} has no RunStarted")))?)?;
        let procedure = Procedure::parse(&started.procedure).map_err(|e| AppealError::Malformed(e.to_string()))?;
        let as_of = started.as_of.clone();
        let rs = self.book.select(procedure, &as_of).map_err(|e| AppealError::WrongState(format!("re-check of run {run}: {e}")))?;
        if rs.sha256 != started.rule_set.sha256 {
            return Err(AppealError::WrongState(format!(
                "the rule set valid on {as_of} is {} v{} ({}), but run {run} was decided under {}; it is not loaded",
                rs.id, rs.version, rs.sha256, started.rule_set.sha256
            )));
        }
        Ok((rs.clone(), started))
    }

    /// Runs the checks again from the contested step on (decision 10).
    pub async fn recheck(&self, id: &str, by: &Caller) -> Result<Appeal> {
        require_named(by)?;
        let a = self.load(id).await?;
        a.open()?;
        let (rs, started) = self.rule_set_of(&a.run).await?;
        let person = self.ledger.log().read_stream(&person_stream(&a.iin), None).await?;
        let contested = a.filing.contested_step.clone();
        let first = step_index(&rs, &contested)?;
        let entry: ev::ListEntryReceived = of_run::<ev::ListEntryReceived>(&person, &a.run)
            .next()
            .map(|(_, x)| x)
            .ok_or_else(|| AppealError::NotInLedger(format!("no list entry of run {}", a.run)))?;
        // Judged as the run judged: the entry's settlement, the run's decision date.
        let judged_by = crate::rules::checks::Context::of_entry(&entry.entry, started.dated_as_of(), started.live());
        // The family the run fixed at step 5 holds for later steps; a re-check from step 5 fixes it afresh.
        let family = crate::proof::family_fixed(&person, &a.run, &rs, first);
        let mut corrections = Corrections::new();
        for (e, c) in corrections_received(&person, id) {
            let Some(r) = RegistryId::parse(&c.registry) else { continue };
            corrections.insert(r, Correction { subjects: subjects_of(&c.answer), records: records_of(crate::registry::records_in(&c.answer)), seq: e.seq });
        }
        let ctx = RunContext {
            run: a.run.clone(),
            procedure: a.procedure,
            as_of: started.as_of.clone(),
            rules: rs.clone(),
            registries: self.registries.clone().unwrap_or_else(|| Arc::new(NoSource)),
            keys: self.keys.clone(),
            trust_recorded: serde_json::Value::Null,
            // A re-check proposes nothing: neither is read.
            simulation: false,
            standing: Default::default(),
        };
        let (mut batch, outcome, evidence) = person::recheck(&ctx, id, &a.iin, judged_by, first, family, &corrections).await;
        let grounds = match &outcome {
            Outcome::Found(g) => g.clone(),
            _ => Vec::new(),
        };
        let rechecked = ev::AppealRechecked {
            appeal: id.to_string(),
            iin: a.iin.clone(),
            procedure: a.procedure.to_string(),
            run: a.run.clone(),
            from_step: contested,
            rule_set_sha256: rs.sha256.clone(),
            verdict: outcome.verdict(),
            grounds,
            evidence,
            by: actor(by),
        };
        batch.push(&appeal_stream(id), rechecked);
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
        let decided_by_id = a.filing.decided_by_id.as_deref().unwrap_or_default();
        if decided_by_id.is_empty() {
            return Err(AppealError::Unidentified(format!(
                "the decision under appeal (seq {}) names no identified official, so no one can be shown not to have taken it",
                a.filing.decision
            )));
        }
        if by.holder_id.is_empty() {
            return Err(AppealError::Unidentified("this token names no holder IIN; an appeal is resolved with a token created with --holder-id".into()));
        }
        if by.holder_id == decided_by_id {
            return Err(AppealError::SelfReview(format!(
                "the holder of this token ({}) took the decision under appeal (seq {}) and may not resolve the appeal against it",
                by.holder_id, a.filing.decision
            )));
        }
        if r.reason.trim().is_empty() {
            return Err(AppealError::Malformed("reason: the officer's reasons are required".into()));
        }
        let recheck = a.recheck.as_ref();
        let person = self.ledger.log().read_stream(&person_stream(&a.iin), None).await?;
        let proposal = of_run::<ev::DecisionProposed>(&person, &a.run).last().map(|(_, p)| p);
        let outcome = match r.outcome.as_str() {
            "overturned" => AppealOutcome::Overturned,
            "upheld" => AppealOutcome::Upheld,
            other => return Err(AppealError::Malformed(format!("outcome must be upheld or overturned, got {other:?}"))),
        };
        let (grounds, reinstated) = match outcome {
            AppealOutcome::Overturned => {
                match recheck {
                    Some((_, c)) if c.verdict == CheckVerdict::Clear => {}
                    Some((e, c)) => {
                        return Err(AppealError::ContradictsRecheck(format!(
                            "the latest re-check (seq {}) is {}{}; a removal is overturned only when a re-check clears it",
                            e.seq,
                            c.verdict.as_str(),
                            grounds_text(&c.grounds)
                        )))
                    }
                    None => return Err(AppealError::ContradictsRecheck("no re-check yet: a removal is overturned only when a re-check clears it".into())),
                }
                let entry = of_run::<ev::ListEntryReceived>(&person, &a.run).next().map(|(_, e)| e.entry).unwrap_or_default();
                let reinstated = match a.procedure {
                    Procedure::RegistryRemoval => json!({"queue_number": entry["queue_number"], "registered_on": entry["registered_on"]}),
                    Procedure::LeaseTermination => json!({"lease_contract": entry["lease_contract"], "address": entry["address"]}),
                };
                (Vec::new(), Some(reinstated))
            }
            AppealOutcome::Upheld => {
                let grounds = match recheck {
                    Some((e, c)) if c.verdict == CheckVerdict::Clear => {
                        return Err(AppealError::ContradictsRecheck(format!(
                            "the latest re-check (seq {}) found no ground; the removal cannot be upheld on it",
                            e.seq
                        )))
                    }
                    // The removal stands on what the re-check found, if it found something.
                    Some((_, c)) if c.verdict == CheckVerdict::Found => c.grounds.clone(),
                    _ => proposal.map(|p| p.grounds).unwrap_or_default(),
                };
                (grounds, None)
            }
        };
        let resolved = ev::AppealResolved {
            appeal: id.to_string(),
            iin: a.iin.clone(),
            procedure: a.procedure.to_string(),
            outcome,
            reason: r.reason.trim().to_string(),
            resolved_by: actor(by),
            recheck: recheck.map(|(e, _)| e.seq),
            grounds,
            reinstated,
        };
        self.ledger.append_relative(vec![NewEvent::typed(appeal_stream(id), resolved).expecting(a.next_seq())]).await.map_err(stream_conflict)?;
        if outcome == AppealOutcome::Overturned {
            let a = self.load(id).await?;
            self.reinstate_and_notify(&a).await?;
        }
        self.ledger.checkpoint().await?;
        self.written(id).await
    }
}

fn stream_conflict(e: LedgerError) -> AppealError {
    match e {
        LedgerError::Store(s) => s.into(),
        e => e.into(),
    }
}

fn grounds_text(g: &[ev::Ground]) -> String {
    let codes: Vec<&str> = g.iter().map(|g| g.code.as_str()).collect();
    if codes.is_empty() {
        String::new()
    } else {
        format!(" ({})", codes.join(", "))
    }
}

fn step_index(rs: &RuleSet, step: &str) -> Result<usize> {
    rs.steps.iter().position(|s| s.step == step).ok_or_else(|| {
        let steps = rs.steps.iter().map(|s| s.step.as_str()).collect::<Vec<_>>().join(", ");
        field_error(
            "step",
            "unknown_step",
            vec![step.to_string(), steps.clone()],
            format!("step {step:?} is not a step of {} v{}; steps: {steps}", rs.id, rs.version),
        )
    })
}

/// Everything that happened in a person's cases, in ledger order: his stream, his notices, his
/// appeals and their notices.
pub async fn timeline(ledger: &Ledger, iin: &str) -> std::result::Result<Vec<Event>, LedgerError> {
    let (persons, mut events, _) = crate::proof::load_person(ledger, iin).await?;
    for case in persons.cases.get(iin).into_iter().flat_map(|m| m.values()) {
        if let Some(d) = &case.decision {
            let id = appeal_id(d.seq);
            events.extend(ledger.log().read_stream(&appeal_stream(&id), None).await?);
            events.extend(ledger.log().read_stream(&notice_stream(&reinstatement_notice_id(&id)), None).await?);
        }
    }
    events.sort_by_key(|e| e.seq);
    events.dedup_by_key(|e| e.seq);
    Ok(events)
}

/// The appellant and the family his run fixed (its last `CheckEvaluated` naming one): whom a
/// correction in his appeal may be about.
fn appellant_and_family(person: &[Event], a: &Appeal) -> Vec<String> {
    let family: Family = of_run::<ev::CheckEvaluated>(person, &a.run).filter_map(|(_, c)| serde_json::from_value(c.family?).ok()).last().unwrap_or_default();
    std::iter::once(a.iin.clone()).chain(family.members()).collect()
}
