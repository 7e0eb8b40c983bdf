//! The pipeline ties rules, registries and the ledger together: one run of a procedure from
//! the step-4 list to decisions and notices. Every query, answer, verdict, proposal, decision
//! and notice is appended before anything follows from it. A run is identified by its
//! arguments; running it again resumes it from its own events, never duplicating one.

pub mod person;

use crate::ledger::{Ledger, LedgerError};
use crate::registry::{check_answer, AnswerKind, Decision, Registries, RegistryFault, TrustedKeys};
use crate::rules::calendar;
use crate::rules::control::check_entry;
use crate::rules::records::RegistryId;
use crate::rules::{notice, Procedure, RuleBook, RuleError};
use crate::store::StoreError;
use events::catalogue::{self as ev, AppealOutcome, DecisionOutcome, Ref};
use events::types::*;
use events::{Event, NewEvent};
use person::{Batch, RunContext, Standing, StandingDecision};
use projections::run::RunProgress;
use serde_json::{json, Value};
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
}

impl From<StoreError> for PipelineError {
    fn from(e: StoreError) -> Self {
        PipelineError::Ledger(e.into())
    }
}

/// Progress reporting (a terminal bar in the binary; nothing in tests).
pub trait Progress: Send + Sync {
    fn add_total(&self, _n: u64) {}
    fn advance(&self, _n: u64) {}
    fn stage(&self, _what: &str) {}
}

pub struct Silent;
impl Progress for Silent {}

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
pub fn run_id(procedure: Procedure, as_of: &str, source: &str, rule_sha: &str, simulation: bool) -> String {
    let mut args = format!("{procedure}\n{as_of}\n{source}\n{rule_sha}");
    if simulation {
        args.push_str("\nsimulation");
    }
    let h = Sha256::digest(args.as_bytes());
    format!("{as_of}-{}-{}", if procedure == Procedure::RegistryRemoval { "rr" } else { "lt" }, &hex::encode(h)[..8])
}

/// Folds the run's own events (from its `RunStarted` on) into its progress.
pub async fn load_progress(ledger: &Ledger, run: &str) -> Result<RunProgress, PipelineError> {
    let mut progress = RunProgress::new(run);
    let head = ledger.read_stream(&run_stream(run)).await?;
    let Some(first) = head.first() else {
        return Ok(progress);
    };
    let mut from = first.seq;
    loop {
        let page = ledger.read(from, 5000).await?;
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
    ui: &'a dyn Progress,
}

/// Appends under way, at most `APPENDS_IN_FLIGHT` at once: a stage builds its next batch while
/// earlier ones are sealed and committed, and gets each back, with the tag it was started with,
/// in the order started. Each batch refers only to events already written or inside itself, so
/// none waits for another's seqs, and which commits first does not matter.
struct Appends<'l, T> {
    ledger: &'l Ledger,
    under_way: futures::stream::FuturesOrdered<Appending<'l, T>>,
}

/// One batch's append under way, with what the caller tagged it with.
type Appending<'l, T> = futures::future::BoxFuture<'l, (Result<Vec<Event>, LedgerError>, T)>;

impl<'l, T: Send + 'l> Appends<'l, T> {
    fn new(ledger: &'l Ledger) -> Self {
        Self { ledger, under_way: futures::stream::FuturesOrdered::new() }
    }

    fn full(&self) -> bool {
        self.under_way.len() >= APPENDS_IN_FLIGHT
    }

    fn is_empty(&self) -> bool {
        self.under_way.is_empty()
    }

    /// Starts appending `parts` as one batch; each part's `{"$rel": k}` counts from its own
    /// first event.
    fn start(&mut self, parts: Vec<Vec<NewEvent>>, tag: T) {
        let ledger = self.ledger;
        self.under_way.push_back(Box::pin(async move { (ledger.append_relative_parts(parts).await, tag) }));
    }

    /// The oldest append's events and tag once it is done; `None` when none is under way.
    async fn next(&mut self) -> Result<Option<(Vec<Event>, T)>, PipelineError> {
        use futures::StreamExt;
        match self.under_way.next().await {
            Some((appended, tag)) => Ok(Some((appended?, tag))),
            None => Ok(None),
        }
    }
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

    /// Step 4 and steps 5-10, as one stream. The list is asked for page by page, each page
    /// recorded before its entries are taken up, and the next page is asked for while this
    /// one's persons are checked. A window of persons is checked in parallel, in list order,
    /// ahead of the appends; while one batch commits the next is sealed. So neither the cores
    /// nor the disk wait for the other, nor for a page boundary.
    async fn list_and_persons(&mut self) -> Result<(), PipelineError> {
        use futures::StreamExt;
        let per_append = self.settings.persons_per_append.max(1);
        let (ledger, ui, ctx) = (self.ledger, self.ui, self.ctx.clone());
        // Entries already taken up (when resuming) and pages already recorded.
        let (done, known_pages) = (self.progress.positions_done.clone(), self.progress.list_pages.clone());
        let (page_tx, page_rx) = tokio::sync::mpsc::channel::<(Vec<(String, Value, Option<String>)>, u64)>(1);
        let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(per_append);
        let mut seen: HashSet<String> = self.progress.status.keys().cloned().collect();
        let producer = tokio::spawn({
            let ctx = ctx.clone();
            async move {
                let (mut pages, mut in_flight) = (page_rx, futures::stream::FuturesOrdered::new());
                'pages: while let Some((todo, list_seq)) = pages.recv().await {
                    for (position, raw, sig) in todo {
                        in_flight.push_back(check_person(ctx.clone(), position, raw, sig, list_seq, &mut seen));
                        if in_flight.len() >= PERSONS_IN_FLIGHT {
                            let batch = in_flight.next().await.expect("a person is in flight");
                            if tx.send(batch).await.is_err() {
                                break 'pages; // the appender stopped on an error; it reports it
                            }
                        }
                    }
                }
                while let Some(batch) = in_flight.next().await {
                    if tx.send(batch).await.is_err() {
                        break;
                    }
                }
            }
        });
        let fetching = async move {
            let mut appended: Vec<Event> = Vec::new();
            let mut page = 0u64;
            let outcome = loop {
                let (list_seq, records, sigs) = match known_pages.get(&page) {
                    Some(seq) => match ledger.read_seqs(&[*seq]).await.map(|mut evs| evs.pop()) {
                        Ok(Some(e)) => match e.decode::<ev::RegistryResponded>() {
                            Ok(r) => (*seq, r.answer["records"].clone(), r.item_sigs.unwrap_or_default()),
                            Err(err) => break Err(PipelineError::Ledger(err.into())),
                        },
                        Ok(None) => break Err(PipelineError::Ledger(LedgerError::NoSuchEvent { seq: *seq, size: 0 })),
                        Err(e) => break Err(e.into()),
                    },
                    None => match fetch_list_page(ledger, &ctx, page).await {
                        Ok((ev, fetched)) => {
                            let sigs = ev.as_type::<ev::RegistryResponded>().and_then(|r| r.item_sigs).unwrap_or_default();
                            let seq = ev.seq;
                            appended.push(ev);
                            match fetched {
                                Ok(records) => (seq, records, sigs),
                                Err(fault) => break Err(PipelineError::List(fault)),
                            }
                        }
                        Err(e) => break Err(e),
                    },
                };
                let entries = records["entries"].as_array().cloned().unwrap_or_default();
                // Each entry with its own signature by the source (evidence per person).
                let todo: Vec<(String, Value, Option<String>)> = entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| (format!("{page}:{i}"), e, sigs.get(&i.to_string()).cloned()))
                    .filter(|(pos, _, _)| !done.contains(pos))
                    .collect();
                ui.add_total(todo.len() as u64);
                if page_tx.send((todo, list_seq)).await.is_err() {
                    break Ok(()); // the checker stopped because the appender did; it reports why
                }
                match records["next_page"].as_u64() {
                    Some(next) if next > page => page = next,
                    _ => break Ok(()),
                }
            };
            (appended, outcome)
        };
        let appending = async {
            // Owned here, so that an error drops it, which stops the checker and the page fetching.
            let mut rx = rx;
            // Up to three appends in flight: one sealing while the one before it waits for the
            // one before that to commit. Each is tagged with the persons it covers.
            let mut appends = Appends::new(ledger);
            let mut received: Vec<Batch> = Vec::with_capacity(per_append);
            let mut open = true;
            loop {
                if received.len() >= per_append || (!open && !received.is_empty()) {
                    let n = received.len();
                    let parts = std::mem::replace(&mut received, Vec::with_capacity(per_append)).into_iter().map(|b| b.events).collect();
                    appends.start(parts, n);
                }
                if !open && appends.is_empty() {
                    return Ok(());
                }
                let done = if appends.full() || !open {
                    appends.next().await?
                } else {
                    tokio::select! {
                        done = appends.next(), if !appends.is_empty() => done?,
                        one = rx.recv() => {
                            match one {
                                Some(b) => received.push(b),
                                None => open = false,
                            }
                            None
                        }
                    }
                };
                if let Some((evs, n)) = done {
                    self.absorb(&evs);
                    ui.advance(n as u64);
                    // Freeing a batch's values is real work: not on the thread that feeds the writer.
                    rayon::spawn(move || drop(evs));
                }
            }
        };
        let ((pages, fetched), appended) = tokio::join!(fetching, appending);
        self.absorb(&pages);
        if let Err(e) = appended {
            producer.abort();
            return Err(e);
        }
        producer.await.expect("the person checker does not panic");
        fetched
    }

    /// Folds appended events into the run's progress.
    fn absorb(&mut self, evs: &[Event]) {
        evs.iter().for_each(|e| self.progress.apply(e));
    }

    /// Step 11: the formed list goes to ИШ АС МР.
    async fn submit(&mut self) -> Result<(), PipelineError> {
        if self.progress.submitted.is_some() {
            return Ok(());
        }
        let proposals: Vec<u64> = self.progress.proposals.iter().map(|(_, s)| *s).collect();
        let ev = NewEvent::new(
            self.run_stream(),
            LIST_SUBMITTED,
            json!({"run": self.ctx.run, "procedure": self.ctx.procedure, "proposals": proposals, "rule_set_sha256": self.ctx.rules.sha256}),
        );
        self.append(vec![ev]).await?;
        Ok(())
    }

    /// Decision 9: the decision is taken on the ИШ АС МР side, per person.
    async fn decisions(&mut self) -> Result<(), PipelineError> {
        let ctx = self.ctx.clone();
        let pending: Vec<(String, u64)> = self.progress.proposals.iter().filter(|(iin, _)| !self.progress.decided.contains_key(iin)).cloned().collect();
        self.ui.stage("decisions");
        let mut appends = Appends::new(self.ledger);
        for (k, chunk) in pending.chunks(self.settings.decisions_per_request).enumerate() {
            let iins: Vec<String> = chunk.iter().map(|(i, _)| i.clone()).collect();
            let request_id = format!("{}/decisions/{}/{k}", ctx.run, chunk[0].1);
            let checked = ctx
                .registries
                .decisions(ctx.procedure, &iins, &request_id)
                .await
                .and_then(|s| check_answer(&ctx.keys, RegistryId::IshAsMr, &request_id, AnswerKind::Decisions(&iins), &s).cloned().map(|r| (s, r)));
            let (signed, records) = match checked {
                Ok(x) => x,
                Err(fault) => {
                    let ev = NewEvent::new(
                        self.run_stream(),
                        REGISTRY_FAILED,
                        json!({"run": ctx.run, "registry": "ish_as_mr", "request_id": request_id, "step": "11", "kind": fault.kind(), "detail": fault.detail()}),
                    );
                    self.queue(&mut appends, vec![ev]).await?;
                    self.settle(&mut appends).await?;
                    return Err(PipelineError::Decisions(fault));
                }
            };
            let signed_items = signed.item_sigs.clone();
            let mut b = Batch::default();
            let answer_ix =
                b.push(&self.run_stream(), ev::RegistryResponded { step: Some("11".into()), ..signed.responded(&ctx.run, RegistryId::IshAsMr, &request_id) });
            for (iin, proposal) in chunk {
                // A missing or unreadable decision leaves the proposal open for the next run.
                let Some((d, outcome)) =
                    records.get(iin).and_then(|v| serde_json::from_value::<Decision>(v.clone()).ok()).and_then(|d| d.known().map(|o| (d, o)))
                else {
                    continue;
                };
                // Decision 15: no identified official, no decision (and so no notice).
                let official = match d.official() {
                    Ok(o) => o,
                    Err(why) => {
                        b.push(
                            &person_stream(iin),
                            ev::DecisionNotTaken {
                                run: ctx.run.clone(),
                                procedure: ctx.procedure.to_string(),
                                proposal: *proposal,
                                outcome,
                                reason: why,
                                evidence: vec![Ref::at(answer_ix)],
                            },
                        );
                        continue;
                    }
                };
                // Evidence per person: the decision as the source sent it, with its own signature.
                let taken = ev::DecisionTaken {
                    run: ctx.run.clone(),
                    procedure: ctx.procedure.to_string(),
                    proposal: Ref::Seq(*proposal),
                    outcome,
                    decided_by: official.name.clone(),
                    official: Some(official.record()),
                    body: d.by.clone().into(),
                    reference: d.reference.clone(),
                    evidence: Some(vec![Ref::at(answer_ix)]),
                    decision: Some(records[iin].clone()),
                    decision_sig: signed_items.get(iin).cloned().into(),
                    simulation: ctx.simulation.then_some(true),
                };
                b.push(&person_stream(iin), taken);
            }
            self.queue(&mut appends, b.events).await?;
        }
        self.settle(&mut appends).await
    }

    /// Step 12: a notice for each confirmed decision, then delivery with retries; every attempt
    /// is recorded.
    async fn notices(&mut self) -> Result<(), PipelineError> {
        let ctx = self.ctx.clone();
        self.ui.stage("notices");
        let issued: HashSet<String> = self.progress.notices.values().map(|n| n.iin.clone()).collect();
        let mut to_issue: Vec<(String, u64, u64)> = self
            .progress
            .proposals
            .iter()
            .filter_map(|(iin, prop)| match self.progress.decided.get(iin) {
                Some((seq, outcome)) if outcome == "confirmed" && !issued.contains(iin) => Some((iin.clone(), *prop, *seq)),
                _ => None,
            })
            .collect();
        to_issue.sort_by_key(|(_, p, _)| *p);
        let mut appends = Appends::new(self.ledger);
        for chunk in to_issue.chunks(500) {
            let proposals = self.ledger.read_seqs(&chunk.iter().map(|(_, p, _)| *p).collect::<Vec<_>>()).await?;
            let by_seq: BTreeMap<u64, &Event> = proposals.iter().map(|e| (e.seq, e)).collect();
            let mut batch = Vec::new();
            for (iin, prop, decision) in chunk {
                let grounds = by_seq.get(prop).and_then(|e| e.decode::<ev::DecisionProposed>().ok()).map(|p| p.grounds).unwrap_or_default();
                let text = notice::render(&ctx.rules, &grounds);
                let id = notice_id(&ctx.run, iin);
                let issued = ev::NoticeIssued {
                    run: Some(ctx.run.clone()),
                    notice: id.clone(),
                    kind: None,
                    appeal: None,
                    iin: iin.clone(),
                    procedure: ctx.procedure.to_string(),
                    decision: Ref::Seq(*decision),
                    proposal: Some(Ref::Seq(*prop)),
                    acknowledgement: None,
                    text: ev::NoticeText { kk: text.kk, ru: text.ru },
                    grounds,
                    simulation: ctx.simulation.then_some(true),
                };
                batch.push(NewEvent::typed(notice_stream(&id), issued));
            }
            self.queue(&mut appends, batch).await?;
        }
        // Deliveries are for notices on the ledger only.
        self.settle(&mut appends).await?;
        if ctx.simulation && ctx.registries.is_live() {
            // Decision 11: a simulation never delivers through a live gateway.
            let pending: Vec<(String, String)> =
                self.progress.notices.iter().filter(|(_, n)| !n.delivered && !n.withheld).map(|(id, n)| (id.clone(), n.iin.clone())).collect();
            for chunk in pending.chunks(500) {
                let batch = chunk
                    .iter()
                    .map(|(id, iin)| {
                        NewEvent::typed(
                            notice_stream(id),
                            ev::NoticeWithheld {
                                run: ctx.run.clone(),
                                notice: id.clone(),
                                iin: iin.clone(),
                                reason: "simulation, not a legal act: not delivered through the live gateway (decision 11)".into(),
                            },
                        )
                    })
                    .collect();
                self.queue(&mut appends, batch).await?;
            }
            return self.settle(&mut appends).await;
        }
        loop {
            let pending: Vec<(String, String, u32)> = self
                .progress
                .notices
                .iter()
                .filter(|(_, n)| !n.delivered && n.attempts < self.settings.max_delivery_attempts)
                .map(|(id, n)| (id.clone(), n.iin.clone(), n.attempts + 1))
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            for chunk in pending.chunks(500) {
                let mut batch = Vec::new();
                for (id, iin, attempt) in chunk {
                    let of = DeliveryOf { run: Some(ctx.run.clone()), appeal: None };
                    batch.push(attempt_delivery(ctx.registries.as_ref(), id, iin, *attempt, self.settings.max_delivery_attempts, of).await);
                }
                self.queue(&mut appends, batch).await?;
            }
            // The next round is chosen from this one's recorded outcomes.
            self.settle(&mut appends).await?;
            tokio::time::sleep(self.settings.delivery_backoff).await;
        }
    }
}

/// Delivery attempts of a notice before it is left `failed`, a run's and an appeal's alike.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 5;

/// Whose notice is delivered: a run's or an appeal's.
pub struct DeliveryOf {
    pub run: Option<String>,
    pub appeal: Option<String>,
}

/// One attempt at delivering notice `notice` to `iin` through ИШ АС МР (clause 12): the event
/// that records it, `NoticeDelivered` or `NoticeDeliveryFailed` — `final` when the last allowed
/// attempt fails, which leaves the notice `failed`.
pub async fn attempt_delivery(registries: &dyn Registries, notice: &str, iin: &str, attempt: u32, max_attempts: u32, of: DeliveryOf) -> NewEvent {
    let (notice, iin, stream) = (notice.to_string(), iin.to_string(), notice_stream(notice));
    match registries.deliver(&notice, &iin, attempt).await {
        Ok(detail) => NewEvent::typed(stream, ev::NoticeDelivered { run: of.run, appeal: of.appeal, notice, iin, attempt, detail, r#final: false }),
        Err(detail) => {
            let r#final = attempt >= max_attempts;
            NewEvent::typed(stream, ev::NoticeDeliveryFailed { run: of.run, appeal: of.appeal, notice, iin, attempt, detail, r#final })
        }
    }
}

/// Runs (or resumes) one procedure as of a date.
// The run's inputs are each of their own kind; a struct of them would only rename them.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    ledger: &Ledger,
    registries: Arc<dyn Registries>,
    keys: TrustedKeys,
    book: &RuleBook,
    procedure: Procedure,
    as_of: &str,
    settings: Settings,
    ui: &dyn Progress,
) -> Result<RunSummary, PipelineError> {
    // Decision 11: on live sources, the decision date is today in Kazakhstan unless the run is
    // declared a simulation; a fixture or a synthetic population is one by nature.
    let simulation = settings.simulation || !registries.is_live();
    let today = calendar::today().to_string();
    if !simulation && as_of != today {
        return Err(PipelineError::NotToday { as_of: as_of.into(), today });
    }
    // Refused before anything is written when the basis is not in force on `as_of`.
    let rules = book.select(procedure, as_of)?.clone();
    let run = run_id(procedure, as_of, &registries.describe(), &rules.sha256, simulation && registries.is_live());
    let progress = load_progress(ledger, &run).await?;
    let resumed = progress.started.is_some();
    if let Some(counts) = &progress.finished {
        return Ok(RunSummary { run, counts: counts.clone(), resumed });
    }
    let standing = Arc::new(standing_decisions(ledger, procedure).await?);
    let ctx = Arc::new(RunContext { run: run.clone(), procedure, as_of: as_of.to_string(), rules, registries, keys, simulation, standing });
    let mut r = Runner { ledger, ctx: ctx.clone(), settings, progress, ui };
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
                source_keys: Some(ctx.keys.as_map()),
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
    // The service signs a checkpoint at least after every run.
    ledger.checkpoint().await?;
    Ok(RunSummary { run, counts, resumed })
}

/// Decision 12: the confirmed decisions of `procedure` that stand, from the events alone: every
/// `DecisionTaken` confirmed, less those overturned on appeal.
pub async fn standing_decisions(ledger: &Ledger, procedure: Procedure) -> Result<Standing, PipelineError> {
    let mut all: Vec<Event> = Vec::new();
    for kind in [DECISION_TAKEN, APPEAL_RESOLVED] {
        all.extend(ledger.read_all_by_type(kind).await?);
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

/// Step 4: one page of the list, asked for and recorded. Returns the event recorded, with the
/// page's records or the fault.
async fn fetch_list_page(ledger: &Ledger, ctx: &RunContext, page: u64) -> Result<(Event, Result<Value, RegistryFault>), PipelineError> {
    let request_id = format!("{}/list/{page}", ctx.run);
    let checked = ctx
        .registries
        .list_page(ctx.procedure, page, &request_id)
        .await
        .and_then(|s| check_answer(&ctx.keys, RegistryId::IshAsMr, &request_id, AnswerKind::List, &s).cloned().map(|r| (s, r)));
    let stream = run_stream(&ctx.run);
    let (ev, outcome) = match checked {
        Ok((signed, records)) if records["entries"].is_array() => {
            let item_sigs = Some(signed.item_sigs.clone());
            let responded = ev::RegistryResponded {
                step: Some("4".into()),
                list_page: Some(page),
                item_sigs,
                ..signed.responded(&ctx.run, RegistryId::IshAsMr, &request_id)
            };
            (NewEvent::typed(&stream, responded), Ok(records))
        }
        other => {
            let fault = match other {
                Err(f) => f,
                Ok(_) => RegistryFault::Malformed("the list answer has no entries array".into()),
            };
            let failed = ev::RegistryFailed { list_page: Some(page), ..fault.failed(&ctx.run, RegistryId::IshAsMr, &request_id, "4") };
            (NewEvent::typed(&stream, failed), Err(fault))
        }
    };
    let recorded = ledger.append(vec![ev]).await?.remove(0);
    Ok((recorded, outcome))
}

/// Format-logical control for one entry, in list order (it fixes which duplicate is taken);
/// then, for an accepted entry, steps 5-10 on their own task.
fn check_person(
    ctx: Arc<RunContext>,
    position: String,
    raw: Value,
    sig: Option<String>,
    list_seq: u64,
    seen: &mut HashSet<String>,
) -> impl std::future::Future<Output = Batch> {
    let checked = check_entry(&ctx.rules, ctx.procedure, &ctx.as_of, &raw).and_then(|e| {
        if seen.insert(e.iin.to_string()) {
            Ok(e)
        } else {
            Err(vec![format!("iin: {} appears more than once in the list; its first entry is taken", e.iin)])
        }
    });
    let task = match checked {
        Ok(entry) => Ok(tokio::spawn(person::process(ctx, entry, raw, sig, position, list_seq))),
        Err(reasons) => {
            let mut b = Batch::default();
            let rejected = ev::InputRejected {
                run: ctx.run.clone(),
                procedure: ctx.procedure.to_string(),
                entry: raw,
                reasons,
                position,
                evidence: vec![Ref::Seq(list_seq)],
            };
            b.push(&run_stream(&ctx.run), rejected);
            Err(b)
        }
    };
    async move {
        match task {
            Ok(handle) => handle.await.expect("person task does not panic"),
            Err(rejected) => rejected,
        }
    }
}
