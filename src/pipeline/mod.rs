//! The pipeline ties rules, registries and the ledger together: one run of a procedure from
//! the step-4 list to decisions and notices. Every query, answer, verdict, proposal, decision
//! and notice is appended before anything follows from it. A run is identified by its
//! arguments; running it again resumes it from its own events, never duplicating one.

mod decisions;
mod list;
mod notices;
pub mod person;
mod window;

pub use notices::{attempt_delivery, DeliveryOf, MAX_DELIVERY_ATTEMPTS};
use window::Appends;

use crate::ledger::{Ledger, LedgerError};
use crate::registry::{check_answer, AnswerKind, Decision, Registries, RegistryFault, TrustedKeys};
use crate::rules::calendar;
use crate::rules::control::check_entry;
use crate::rules::records::RegistryId;
use crate::rules::{notice, Procedure, RuleBook, RuleError, RuleSet};
use crate::store::StoreError;
use events::catalogue::{self as ev, AppealOutcome, DecisionOutcome, Ref};
use events::types::*;
use events::{Event, NewEvent};
use person::{RunContext, Standing, StandingDecision};
use projections::run::RunProgress;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Persons checked at once, ahead of the appends.
const PERSONS_IN_FLIGHT: usize = 64;
/// Appends under way at once: one committing, one sealed and waiting, one sealing.
const APPENDS_IN_FLIGHT: usize = 3;

#[derive(Clone, Debug)]
pub struct Settings {
    /// Persons whose events go into one durable append.
    pub persons_per_append: usize,
    pub decisions_per_request: usize,
    /// Proposals in one part of the list submission (step 11).
    pub list_part: usize,
    pub max_delivery_attempts: u32,
    pub delivery_backoff: Duration,
    /// Declared a simulation (`run --simulation`, decision 11). A fixture or a synthetic
    /// source makes every run one, declared or not.
    pub simulation: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            persons_per_append: 128,
            decisions_per_request: 500,
            list_part: decisions::LIST_PART,
            max_delivery_attempts: MAX_DELIVERY_ATTEMPTS,
            delivery_backoff: Duration::from_millis(0),
            simulation: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("step 4: the list from ish_as_mr could not be read ({0}); the run is recorded as unfinished and resumes when run again")]
    List(RegistryFault),
    #[error("step 11: decisions from ish_as_mr could not be read ({0}); the run resumes when run again")]
    Decisions(RegistryFault),
    #[error("run {0} is being written by another process")]
    Busy(String),
    #[error("a run on live sources judges as of the day it runs, {today} in Kazakhstan, not {as_of} (decision 11); to judge as of another date, declare a simulation with --simulation: it is recorded as one, is not a legal act and delivers no notice through a live gateway")]
    NotToday { as_of: String, today: String },
    #[error("a live run needs a trust list of the sources' keys (--trust FILE, docs/sources.md); the simulator's keys (--registry-seed) serve simulations only. Nothing was written")]
    NoTrustList,
}

impl From<StoreError> for PipelineError {
    fn from(e: StoreError) -> Self {
        PipelineError::Ledger(e.into())
    }
}

/// Where a run shows how far it has come (a terminal bar in the binary; nothing in tests). Not
/// to be confused with `projections::run::RunProgress`, the run's state folded from its events.
pub trait ProgressSink: Send + Sync {
    fn add_total(&self, _n: u64) {}
    fn advance(&self, _n: u64) {}
    fn stage(&self, _what: &str) {}
}

pub struct Silent;
impl ProgressSink for Silent {}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub run: String,
    pub counts: BTreeMap<String, u64>,
    /// Whether this invocation found the run already begun.
    #[serde(skip)]
    pub resumed: bool,
}

/// The run id: a function of the arguments, so that the same arguments resume the same run.
/// A simulation over a live source is another run than the real one of the same day.
fn run_id(procedure: Procedure, as_of: &str, source: &str, rule_sha: &str, simulation: bool) -> String {
    let mut args = format!("{procedure}\n{as_of}\n{source}\n{rule_sha}");
    if simulation {
        args.push_str("\nsimulation");
    }
    let h = Sha256::digest(args.as_bytes());
    format!("{as_of}-{}-{}", if procedure == Procedure::RegistryRemoval { "rr" } else { "lt" }, &hex::encode(h)[..8])
}

/// Folds the run's own events (from its `RunStarted` on) into its progress.
async fn load_progress(ledger: &Ledger, run: &str) -> Result<RunProgress, PipelineError> {
    let mut progress = RunProgress::new(run);
    let head = ledger.log().read_stream(&run_stream(run), None).await?;
    let Some(first) = head.first() else {
        return Ok(progress);
    };
    let mut from = first.seq;
    loop {
        let page = ledger.log().read(from, 5000).await?;
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        page.iter().for_each(|e| progress.apply(e));
    }
    Ok(progress)
}

struct Runner<'a> {
    ledger: &'a Ledger,
    ctx: Arc<RunContext>,
    settings: Settings,
    progress: RunProgress,
    ui: &'a dyn ProgressSink,
    /// The persons projection, kept right behind the appends.
    follower: crate::read_models::Follower,
}

impl<'a> Runner<'a> {
    /// Starts appending `batch`, first folding in the oldest append if the window is full.
    async fn queue(&mut self, appends: &mut Appends<'a, ()>, batch: Vec<NewEvent>) -> Result<(), PipelineError> {
        if appends.full() {
            if let Some((evs, ())) = appends.next().await? {
                self.absorb(&evs);
            }
        }
        appends.start(vec![batch], ());
        Ok(())
    }

    /// Waits for every append under way and folds it in.
    async fn settle(&mut self, appends: &mut Appends<'a, ()>) -> Result<(), PipelineError> {
        while let Some((evs, ())) = appends.next().await? {
            self.absorb(&evs);
        }
        Ok(())
    }

    async fn append(&mut self, batch: Vec<NewEvent>) -> Result<Vec<Event>, PipelineError> {
        let evs = self.ledger.append_relative(batch).await?;
        self.absorb(&evs);
        Ok(evs)
    }

    fn run_stream(&self) -> String {
        run_stream(&self.ctx.run)
    }

    /// Folds appended events into the run's progress, and hands them to the projection.
    fn absorb(&mut self, evs: &[Event]) {
        evs.iter().for_each(|e| self.progress.apply(e));
        self.follower.committed(evs);
    }
}

/// Runs (or resumes) one procedure as of a date.
// The run's inputs are each of their own kind; a struct of them would only rename them.
/// What a run may judge by, refused before anything is written: a live run decides as of today
/// in Kazakhstan (decision 11), by a rule set in force on that day, and trusts only the
/// sources' own list (`sources.md`). A simulation may be back-dated and use the simulator's keys.
pub fn admit<'b>(book: &'b RuleBook, procedure: Procedure, as_of: &str, live: bool, trust_list: bool) -> Result<&'b RuleSet, PipelineError> {
    let today = calendar::today().to_string();
    if live && as_of != today {
        return Err(PipelineError::NotToday { as_of: as_of.into(), today });
    }
    let rules = book.select(procedure, as_of)?;
    if live && !trust_list {
        return Err(PipelineError::NoTrustList);
    }
    Ok(rules)
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    ledger: &Ledger,
    registries: Arc<dyn Registries>,
    keys: TrustedKeys,
    book: &RuleBook,
    procedure: Procedure,
    as_of: &str,
    settings: Settings,
    ui: &dyn ProgressSink,
) -> Result<RunSummary, PipelineError> {
    // Decision 11: on live sources, the decision date is today in Kazakhstan unless the run is
    // declared a simulation; a fixture or a synthetic population is one by nature.
    let simulation = settings.simulation || !registries.is_live();
    let rules = admit(book, procedure, as_of, !simulation, keys.basis == crate::registry::TrustBasis::List)?.clone();
    let (keys, trust_recorded) = keys.for_run(calendar::today());
    let run = run_id(procedure, as_of, &registries.describe(), &rules.sha256, simulation && registries.is_live());
    let progress = load_progress(ledger, &run).await?;
    let resumed = progress.started.is_some();
    if let Some(counts) = &progress.finished {
        return Ok(RunSummary { run, counts: counts.clone(), resumed });
    }
    let standing = Arc::new(standing_decisions(ledger, procedure).await?);
    let ctx = Arc::new(RunContext { run: run.clone(), procedure, as_of: as_of.to_string(), rules, registries, keys, trust_recorded, simulation, standing });
    let follower = crate::read_models::Follower::start(ledger.log().clone(), ledger.projections().clone(), crate::read_models::RowSeal::of(ledger));
    let mut r = Runner { ledger, ctx: ctx.clone(), settings, progress, ui, follower };
    if !resumed {
        let started = NewEvent::typed(
            run_stream(&run),
            ev::RunStarted {
                run: run.clone(),
                procedure: procedure.to_string(),
                as_of: as_of.to_string(),
                simulation: Some(simulation),
                rule_set: ctx.rules.summary(),
                source: ctx.registries.describe(),
                source_keys: None,
                trust: Some(ctx.trust_recorded.clone()),
                dated: Some(true),
            },
        )
        .expecting(0);
        match r.append(vec![started]).await {
            Err(PipelineError::Ledger(LedgerError::Store(StoreError::Conflict { .. }))) => return Err(PipelineError::Busy(run)),
            other => {
                other?;
            }
        }
    }
    r.list_and_persons().await?;
    r.submit().await?;
    r.decisions().await?;
    r.notices().await?;
    let counts = r.progress.counts();
    let finished = ev::RunFinished { run: run.clone(), procedure: procedure.to_string(), counts: counts.clone() };
    r.append(vec![NewEvent::typed(run_stream(&run), finished)]).await?;
    // The projection is caught up right behind the run; what it could not fold (a full
    // channel, a failure) the next catch-up folds.
    if let Err(e) = r.follower.finish().await {
        tracing::warn!(error = %e, "the persons projection did not follow the run; it catches up later");
    }
    // The service signs a checkpoint at least after every run.
    ledger.checkpoint().await?;
    Ok(RunSummary { run, counts, resumed })
}

/// Decision 12: the confirmed decisions of `procedure` that stand, from the events alone: every
/// `DecisionTaken` confirmed, less those overturned on appeal.
async fn standing_decisions(ledger: &Ledger, procedure: Procedure) -> Result<Standing, PipelineError> {
    let mut all: Vec<Event> = Vec::new();
    for kind in [DECISION_TAKEN, APPEAL_RESOLVED] {
        all.extend(ledger.log().read_all_by_type(kind).await?);
    }
    all.sort_by_key(|e| e.seq);
    let mut standing = Standing::new();
    for e in &all {
        if let Some(d) = e.as_type::<ev::DecisionTaken>().filter(|d| d.procedure == procedure.as_str() && d.outcome == DecisionOutcome::Confirmed) {
            let iin = e.stream.strip_prefix("person:").unwrap_or_default().to_string();
            let proposal = d.proposal.seq().unwrap_or_default();
            standing.insert(iin, StandingDecision { run: d.run, proposal, decision: e.seq, simulation: d.simulation == Some(true) });
        } else if let Some(d) = e.as_type::<ev::AppealResolved>().filter(|d| d.procedure == procedure.as_str() && d.outcome == AppealOutcome::Overturned) {
            if standing.get(&d.iin).is_some_and(|s| appeal_id(s.decision) == d.appeal) {
                standing.remove(&d.iin);
            }
        }
    }
    Ok(standing)
}
