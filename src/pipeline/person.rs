//! One person through steps 4 to 10: the list entry, consent, then each step's queries,
//! answers and verdict, stopping at the first step that finds something (decision 1) or cannot
//! decide (decision 6), then a proposal or a retention. Returns the events, with references
//! inside the batch as `{"$rel": k}`.

use crate::registry::{check_answer, records_of, AnswerKind, Registries, TrustedKeys};
use crate::rules::checks::{self, CheckVerdict, Family, Records};
use crate::rules::control::CheckedEntry;
use crate::rules::records::RegistryId;
use crate::rules::steps::{Judged, Outcome, StepMachine};
use crate::rules::{Procedure, RuleSet, Step};
use events::catalogue::{self as ev, EventData, Ref};
use events::types::*;
use events::NewEvent;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What every person of a run shares.
pub struct RunContext {
    pub run: String,
    pub procedure: Procedure,
    pub as_of: String,
    pub rules: RuleSet,
    pub registries: Arc<dyn Registries>,
    pub keys: TrustedKeys,
    /// How `RunStarted` records the trust list in force and the entries the run may use.
    pub trust_recorded: Value,
    /// Decision 11: a run not judged as of today on live sources; not a legal act.
    pub simulation: bool,
    /// Decision 12: the decisions that stand for this procedure, by IIN.
    pub standing: Arc<Standing>,
}

/// A confirmed decision that stands (not overturned on appeal): decision 12.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandingDecision {
    pub run: String,
    pub proposal: u64,
    pub decision: u64,
    /// Taken in a simulation: it stands only against later simulations, never against a real
    /// run (a simulation must not keep anyone from a real decision).
    pub simulation: bool,
}

/// The standing decisions of one procedure, by IIN.
pub type Standing = std::collections::HashMap<String, StandingDecision>;

/// Events being built for one batch; `push` returns the index for `rel`.
#[derive(Default)]
pub struct Batch {
    pub events: Vec<NewEvent>,
}

impl Batch {
    pub fn push<T: EventData>(&mut self, stream: &str, data: T) -> usize {
        self.events.push(NewEvent::typed(stream, data));
        self.events.len() - 1
    }
}

struct Person<'a> {
    ctx: &'a RunContext,
    iin: String,
    stream: String,
    batch: Batch,
    /// The appeal a re-check runs for: its events carry `appeal` and its requests its id.
    appeal: Option<String>,
}

impl Person<'_> {
    fn push<T: EventData>(&mut self, data: T) -> usize {
        let stream = self.stream.clone();
        self.batch.push(&stream, data)
    }

    /// Asks one registry for the fields of one query; records the query and its answer or
    /// failure.
    async fn ask(&mut self, step: &Step, registry: RegistryId, q: &checks::Query) -> Result<(Records, usize), usize> {
        let ctx = self.ctx;
        let mut request_id = format!("{}/{}/{}/{}", self.appeal.as_deref().unwrap_or(&ctx.run), self.iin, step.step, registry);
        if let Some(part) = q.part {
            request_id = format!("{request_id}/{part}");
        }
        let subjects = &q.subjects;
        self.push(ev::RegistryQueried {
            run: ctx.run.clone(),
            registry: registry.to_string(),
            subjects: subjects.clone(),
            fields: Some(q.fields.iter().map(|f| f.to_string()).collect()),
            step: step.step.clone(),
            request_id: request_id.clone(),
            appeal: self.appeal.clone(),
        });
        let result = ctx.registries.query(registry, subjects, &q.fields, &request_id).await;
        let checked = result.and_then(|signed| {
            check_answer(&ctx.keys, registry, &request_id, AnswerKind::Fields(subjects, &q.fields), &signed).map(records_of).map(|records| (signed, records))
        });
        match checked {
            Ok((signed, records)) => {
                let ix = self.push(ev::RegistryResponded {
                    step: Some(step.step.clone()),
                    appeal: self.appeal.clone(),
                    ..signed.responded(&ctx.run, registry, &request_id)
                });
                Ok((records, ix))
            }
            Err(fault) => {
                let appeal = self.appeal.clone();
                crate::registry::report(&fault, &ctx.run, registry, &step.step, ctx.simulation);
                Err(self.push(ev::RegistryFailed { appeal, ..fault.failed(&ctx.run, registry, &request_id, &step.step) }))
            }
        }
    }

    /// Records how a step was judged (`judged`, its grounds given their evidence).
    fn evaluated(&mut self, step: &Step, judged: Judged, grounds: Vec<ev::Ground>, evidence: Vec<Ref>) -> usize {
        self.push(ev::CheckEvaluated {
            run: self.ctx.run.clone(),
            step: step.step.clone(),
            clause: step.clause.clone(),
            verdict: judged.verdict,
            grounds,
            evidence,
            reason: judged.reason,
            family: judged.family.map(|f| serde_json::to_value(f).expect("a family serialises")),
            appeal: self.appeal.clone(),
            left_out: judged.left_out,
        })
    }

    /// Steps from `first` on (an index into the rule set's steps), judged by the rules' step
    /// machine: it stops at the first step that finds something (decision 1) or cannot decide
    /// (decision 6). This asks, records and feeds it the answers. A registry with a correction
    /// covering the step's subjects is not asked: the correction is its answer.
    async fn steps(&mut self, first: usize, family: Family, judged_by: checks::Context, corrections: &Corrections, evidence: &mut Vec<Ref>) -> Outcome {
        let ctx = self.ctx;
        let iin = self.iin.clone();
        let mut machine = StepMachine::new(&ctx.rules, first, &iin, judged_by, family);
        while let Some((step, subjects)) = machine.current() {
            let mut answers: BTreeMap<RegistryId, Records> = BTreeMap::new();
            // Each registry's answers (one per query: decision 14 may split a step's subjects).
            let mut answered: BTreeMap<RegistryId, Vec<Ref>> = BTreeMap::new();
            for registry in step.registries() {
                if let Some(c) = corrections.get(&registry).filter(|c| subjects.iter().all(|s| c.subjects.contains(s))) {
                    answers.insert(registry, c.records.iter().filter(|(k, _)| subjects.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect());
                    answered.insert(registry, vec![Ref::Seq(c.seq)]);
                    evidence.push(Ref::Seq(c.seq));
                    continue;
                }
                for q in checks::queries(step, registry, &iin, &subjects) {
                    match self.ask(step, registry, &q).await {
                        Ok((records, ix)) => {
                            answers.entry(registry).or_default().extend(records);
                            answered.entry(registry).or_default().push(Ref::at(ix));
                            evidence.push(Ref::at(ix));
                        }
                        Err(failed_ix) => {
                            // Decision 6: incomplete, no later step, no decision.
                            let why = format!("{registry} could not be read; no later step is run");
                            let judged =
                                Judged { verdict: CheckVerdict::Incomplete, grounds: Vec::new(), reason: Some(why), family: None, left_out: Vec::new() };
                            self.evaluated(step, judged, Vec::new(), vec![Ref::at(failed_ix)]);
                            return Outcome::Incomplete;
                        }
                    }
                }
            }
            let step_evidence: Vec<Ref> = answered.values().flatten().copied().collect();
            let refs: checks::Answers = answers.iter().map(|(k, v)| (*k, v)).collect();
            let judged = machine.feed(&refs);
            if judged.family.is_some() {
                // `:5` fixes the family for the later steps.
                let ix = self.evaluated(step, judged, Vec::new(), step_evidence);
                evidence.push(Ref::at(ix));
                continue;
            }
            let grounds = with_evidence(judged.grounds.clone(), &answered);
            let verdict = judged.verdict;
            let ix = self.evaluated(step, judged, grounds.clone(), step_evidence);
            evidence.push(Ref::at(ix));
            match verdict {
                CheckVerdict::Clear => continue,
                CheckVerdict::Incomplete => return Outcome::Incomplete,
                // Decision 2: property found or a criterion unmet; later steps are not run (decision 1).
                CheckVerdict::Found => return Outcome::Found(grounds),
            }
        }
        Outcome::Clear
    }
}

/// A source owner's correction (clauses 13, 16): its records, whom it covers, and the seq of
/// the `RegistryResponded` that holds it.
#[derive(Clone, Debug)]
pub struct Correction {
    pub subjects: Vec<String>,
    pub records: Records,
    pub seq: u64,
}

pub type Corrections = BTreeMap<RegistryId, Correction>;

/// Grounds with their evidence: the answers of the registry that showed each.
fn with_evidence(mut grounds: Vec<checks::Ground>, answered: &BTreeMap<RegistryId, Vec<Ref>>) -> Vec<checks::Ground> {
    for g in grounds.iter_mut() {
        g.evidence = RegistryId::parse(&g.registry).and_then(|r| answered.get(&r)).cloned().unwrap_or_default();
    }
    grounds
}

/// Runs steps 4 to 10 for one accepted list entry.
pub async fn process(ctx: Arc<RunContext>, entry: CheckedEntry, raw_entry: Value, entry_sig: Option<String>, position: String, list_seq: u64) -> Batch {
    let iin = entry.iin.to_string();
    let mut p = Person { ctx: &ctx, stream: person_stream(&iin), iin: iin.clone(), batch: Batch::default(), appeal: None };
    let rs = &ctx.rules;
    // Evidence per person: the entry as the source sent it, with its own signature.
    let procedure = ctx.procedure.to_string();
    let raw_entry_copy = raw_entry.clone();
    let entry_ix = p.push(ev::ListEntryReceived {
        run: ctx.run.clone(),
        procedure: procedure.clone(),
        entry: raw_entry,
        evidence: vec![Ref::Seq(list_seq)],
        position,
        entry_sig: entry_sig.into(),
        simulation: ctx.simulation.then_some(true),
    });
    // Decision 12: a decision that stands is not taken again; nothing is asked, and the
    // earlier decision is cited. A real decision stands against every later run, a simulated
    // one only against later simulations.
    if let Some(d) = ctx.standing.get(&iin).filter(|d| ctx.simulation || !d.simulation) {
        p.push(ev::AlreadyDecided {
            run: ctx.run.clone(),
            procedure,
            decision: d.decision,
            proposal: d.proposal,
            decided_in_run: d.run.clone(),
            evidence: vec![Ref::at(entry_ix), Ref::Seq(d.decision)],
        });
        return p.batch;
    }
    // Decision 7: no consent, no query.
    if !entry.consent {
        p.push(ev::ConsentMissing { run: ctx.run.clone(), procedure, evidence: vec![Ref::at(entry_ix)] });
        return p.batch;
    }
    let mut evidence = vec![Ref::at(entry_ix)];
    let judged_by = checks::Context::of_entry(&raw_entry_copy, Some(&ctx.as_of), !ctx.simulation);
    match p.steps(0, Family::default(), judged_by, &Corrections::new(), &mut evidence).await {
        Outcome::Incomplete => {}
        Outcome::Found(grounds) => {
            p.push(ev::DecisionProposed {
                run: ctx.run.clone(),
                procedure,
                outcome: rs.outcome,
                grounds,
                rule_set_sha256: rs.sha256.clone(),
                rule_set: Some(ev::RuleSetId { id: rs.id.clone(), version: rs.version.clone() }),
                as_of: Some(ctx.as_of.clone()),
                evidence,
                // Decision 11: signed into the proposal, so that no copy can hide it.
                simulation: ctx.simulation.then_some(true),
            });
        }
        Outcome::Clear => {
            p.push(ev::PersonRetained { run: ctx.run.clone(), procedure, rule_set_sha256: rs.sha256.clone(), evidence });
        }
    }
    p.batch
}

/// An appeal's re-check (decision 10): the steps again from `first` on, for the person of
/// `iin`, with the family the original run fixed before that step and the corrections received.
/// Its events carry `appeal`; returns them, how the steps ended, and the evidence.
pub async fn recheck(
    ctx: &RunContext,
    appeal: &str,
    iin: &str,
    judged_by: checks::Context,
    first: usize,
    family: Family,
    corrections: &Corrections,
) -> (Batch, Outcome, Vec<Ref>) {
    let mut p = Person { ctx, stream: person_stream(iin), iin: iin.to_string(), batch: Batch::default(), appeal: Some(appeal.to_string()) };
    let mut evidence = Vec::new();
    let outcome = p.steps(first, family, judged_by, corrections, &mut evidence).await;
    (p.batch, outcome, evidence)
}
