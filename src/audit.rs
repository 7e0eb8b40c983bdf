//! `housing-ledger audit` and `what-if`: the whole log walked in order, each person's recorded
//! answers in each run gathered until his proposal or retention, then judged by the rules' own
//! step machine (`proof::verify::rederive`, the one `verify-proof` uses). `audit` judges under
//! the rule set the proposal names and checks the ledger-wide rules; `what-if` judges the same
//! answers under another rule set and writes nothing.

use crate::ledger::{Ledger, LedgerError};
use crate::proof::{judge_answers, rederive};
use crate::registry::{TrustBasis, TrustedKeys};
use crate::rules::checks::Ground;
use crate::rules::{Procedure, RuleBook, RuleSet};
use events::catalogue as ev;
use events::types::*;
use events::Event;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Events read at a time.
const PAGE: u64 = 20_000;

/// One thing the audit found: where, about whom, what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub seq: u64,
    pub iin: String,
    pub what: String,
}

/// What `audit` found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Proposals and retentions re-derived.
    pub decisions: u64,
    pub findings: Vec<Finding>,
    /// What the source signatures were checked against: `list` (the auditor's `--trust`) or
    /// `claim` (the keys each run recorded: the operator's own claim).
    pub sources: TrustBasis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources_note: Option<&'static str>,
    #[serde(skip)]
    pub events: u64,
    /// Persons erased (format v2), whose events were passed over.
    pub erased_persons: u64,
}

/// A person's recorded answers in one run, up to and with his proposal or retention.
struct Case {
    pub run: String,
    pub iin: String,
    pub procedure: Procedure,
    /// The proposal's or retention's seq.
    pub seq: u64,
    /// The registry keys the run trusted (its `RunStarted`).
    pub keys: TrustedKeys,
    pub events: Vec<Event>,
}

/// The fold over the log: cases gathered as they close, and the ledger-wide rules checked as
/// events go by. Pure: it is fed events in seq order and reads nothing.
#[derive(Default)]
struct Walk {
    /// The auditor's own trust list; without one, each run's recorded claim.
    trust: Option<TrustedKeys>,
    /// Each run's trusted registry keys.
    run_keys: HashMap<String, TrustedKeys>,
    /// Each run's `RunStarted`: what its persons were judged against (its decision date).
    run_started: HashMap<String, Event>,
    /// Every run's recorded claim so far: what corrections and acknowledgements are checked
    /// against without a trust list.
    claim: TrustedKeys,
    /// (run, iin) → the person's events of the run so far.
    open: HashMap<(String, String), Vec<Event>>,
    /// (run, iin) with a check that could not decide.
    incomplete: HashSet<(String, String)>,
    /// Proposal seq → (run, iin, procedure).
    proposals: HashMap<u64, (String, String, String)>,
    /// Decision seq → what a notice or an appeal needs of it.
    decisions: HashMap<u64, Decided>,
    /// (iin, procedure) → the confirmed decision standing.
    standing: HashMap<(String, String), u64>,
    /// Appeal id → (iin, procedure, id of the official who decided).
    appeals: HashMap<String, (String, String, Option<String>)>,
    /// (token, iin): reads recorded so far.
    reads: HashSet<(String, String)>,
    /// (token, iin) → (seq, appeal): filings with no read before them, waiting for the
    /// filing's own read (recorded right after the filing, before its answer went out).
    unread_filings: HashMap<(String, String), (u64, String)>,
    pub findings: Vec<Finding>,
    /// Persons erased (format v2): their events stay sealed and are passed over, counted apart.
    pub erased: std::collections::BTreeSet<String>,
}

struct Decided {
    confirmed: bool,
    official: Option<String>,
}

fn person_of(e: &Event) -> Option<&str> {
    e.stream.strip_prefix("person:")
}

impl Walk {
    fn find(&mut self, seq: u64, iin: &str, what: impl Into<String>) {
        self.findings.push(Finding { seq, iin: iin.to_string(), what: what.into() });
    }

    /// A walk whose source signatures are checked against `trust` (the auditor's list), or,
    /// without one, against what each run recorded.
    pub fn new(trust: Option<TrustedKeys>) -> Self {
        Self { trust, ..Self::default() }
    }

    /// Ends the walk: the findings only the whole log can settle.
    pub fn close(&mut self) {
        let mut unread: Vec<_> = std::mem::take(&mut self.unread_filings).into_iter().collect();
        unread.sort_by_key(|(_, (seq, _))| *seq);
        for ((token, iin), (seq, appeal)) in unread {
            self.find(seq, &iin, format!("appeal {appeal} was filed by token {token} with no recorded read of the person's data"));
        }
    }

    /// Takes in the next event; returns the case it closes, if any.
    pub fn apply(&mut self, e: &Event) -> Option<Case> {
        // An erased person's event stays sealed: nothing of it can be judged any more.
        if events::personal::is_shut(e) {
            self.erased.extend(events::personal::seal_subjects(&e.data));
            return None;
        }
        // Every source signature the event carries (entries, decisions, corrections,
        // acknowledgements); a case's answers are checked when it is judged.
        if matches!(e.kind.as_str(), LIST_ENTRY_RECEIVED | DECISION_TAKEN | REINSTATEMENT_ACKNOWLEDGED)
            || (e.kind == REGISTRY_RESPONDED && e.appeal().is_some())
        {
            let keys = self.trust.as_ref().unwrap_or(&self.claim);
            if let Err(why) = crate::proof::check_event_sources(e, keys) {
                let who = projections::person::subject_of(e).unwrap_or_default();
                self.find(e.seq, &who, format!("source signature: {why}"));
            }
        }
        match e.kind.as_str() {
            RUN_STARTED => {
                if let Some(s) = e.as_type::<ev::RunStarted>() {
                    let claim = TrustedKeys::claimed_by_run(s.trust.as_ref(), s.source_keys.as_ref());
                    self.claim.extend(&claim);
                    self.run_started.insert(s.run.clone(), e.clone());
                    self.run_keys.insert(s.run, self.trust.clone().unwrap_or(claim));
                }
                None
            }
            PERSONAL_DATA_READS => {
                for r in crate::reads::reads_in(e) {
                    if crate::disclosure::FILING_READS.contains(&r.read.as_str()) {
                        for iin in &r.iins {
                            self.unread_filings.remove(&(r.token.clone(), iin.clone()));
                        }
                    }
                    self.reads.extend(r.iins.into_iter().map(|iin| (r.token.clone(), iin)));
                }
                None
            }
            PERSONAL_DATA_READ => {
                if let Some(r) = e.as_type::<ev::PersonalDataRead>() {
                    let iin = r.iin.or_else(|| e.stream.strip_prefix("reads:").map(String::from)).unwrap_or_default();
                    self.reads.insert((r.token, iin));
                }
                None
            }
            NOTICE_ISSUED => {
                self.notice(e);
                None
            }
            APPEAL_FILED => {
                self.appeal_filed(e);
                None
            }
            APPEAL_RESOLVED => {
                self.appeal_resolved(e);
                None
            }
            _ => self.person_event(e),
        }
    }

    /// A person's event of a run (an appeal's re-check is the appeal's, not the run's).
    fn person_event(&mut self, e: &Event) -> Option<Case> {
        let iin = person_of(e)?.to_string();
        if e.appeal().is_some() {
            return None;
        }
        let run = e.run()?.to_string();
        match e.kind.as_str() {
            LIST_ENTRY_RECEIVED | REGISTRY_QUERIED | REGISTRY_RESPONDED => {
                self.open.entry((run, iin)).or_default().push(e.clone());
                None
            }
            CHECK_EVALUATED => {
                if e.as_type::<ev::CheckEvaluated>().is_some_and(|c| c.verdict == ev::CheckVerdict::Incomplete) {
                    self.incomplete.insert((run, iin));
                }
                None
            }
            DECISION_PROPOSED | PERSON_RETAINED => {
                let procedure = e.data.get("procedure").and_then(|p| p.as_str()).unwrap_or_default().to_string();
                if e.kind == DECISION_PROPOSED {
                    if self.incomplete.contains(&(run.clone(), iin.clone())) {
                        self.find(e.seq, &iin, "a decision was proposed although a check could not decide");
                    }
                    self.proposals.insert(e.seq, (run.clone(), iin.clone(), procedure.clone()));
                }
                let mut events: Vec<Event> = self.run_started.get(&run).cloned().into_iter().collect();
                events.extend(self.open.remove(&(run.clone(), iin.clone())).unwrap_or_default());
                events.push(e.clone());
                let Ok(procedure) = Procedure::parse(&procedure) else {
                    self.find(e.seq, &iin, format!("unknown procedure {procedure:?}"));
                    return None;
                };
                let keys = self.run_keys.get(&run).cloned().unwrap_or_default();
                Some(Case { run, iin, procedure, seq: e.seq, keys, events })
            }
            DECISION_TAKEN => {
                self.decision(e, &run, &iin);
                None
            }
            _ => None,
        }
    }

    fn decision(&mut self, e: &Event, run: &str, iin: &str) {
        let Some(d) = e.as_type::<ev::DecisionTaken>() else {
            return self.find(e.seq, iin, "a DecisionTaken that does not decode");
        };
        match d.proposal.seq().and_then(|p| self.proposals.get(&p)) {
            Some((r, i, _)) if r == run && i == iin => {}
            _ => self.find(e.seq, iin, format!("the decision answers no proposal of this person in run {run}")),
        }
        if self.incomplete.contains(&(run.to_string(), iin.to_string())) {
            self.find(e.seq, iin, "a decision was taken although a check could not decide");
        }
        let confirmed = d.outcome == ev::DecisionOutcome::Confirmed;
        let official = d.official.map(|o| o.id).filter(|id| !id.is_empty());
        if confirmed {
            let key = (iin.to_string(), d.procedure.clone());
            if let Some(first) = self.standing.get(&key) {
                let first = *first;
                self.find(e.seq, iin, format!("a second decision stands for {} (the first, seq {first}, was never overturned)", d.procedure));
            } else {
                self.standing.insert(key, e.seq);
            }
        }
        self.decisions.insert(e.seq, Decided { confirmed, official });
    }

    fn notice(&mut self, e: &Event) {
        let Some(n) = e.as_type::<ev::NoticeIssued>() else { return };
        if n.kind.is_some() {
            // An appeal's notice of reinstatement follows its resolution, not a decision.
            return;
        }
        match n.decision.seq().and_then(|s| self.decisions.get(&s)) {
            Some(Decided { confirmed: true, official: Some(_) }) => {}
            Some(Decided { confirmed: true, official: None }) => self.find(e.seq, &n.iin, "a notice of a decision by no identified official"),
            Some(_) => self.find(e.seq, &n.iin, "a notice of a decision that was not confirmed"),
            None => self.find(e.seq, &n.iin, "a notice that follows no decision"),
        }
    }

    fn appeal_filed(&mut self, e: &Event) {
        let Some(a) = e.as_type::<ev::AppealFiled>() else { return };
        if !self.reads.contains(&(a.filed_by.token.clone(), a.iin.clone())) {
            self.unread_filings.insert((a.filed_by.token.clone(), a.iin.clone()), (e.seq, a.appeal.clone()));
        }
        self.appeals.insert(a.appeal, (a.iin, a.procedure, a.decided_by_id));
    }

    fn appeal_resolved(&mut self, e: &Event) {
        let Some(r) = e.as_type::<ev::AppealResolved>() else { return };
        let Some((iin, procedure, decided_by)) = self.appeals.get(&r.appeal).cloned() else {
            return self.find(e.seq, &r.iin, format!("appeal {} is resolved but was never filed", r.appeal));
        };
        if decided_by.as_deref().is_some_and(|id| id == r.resolved_by.holder_id) {
            self.find(e.seq, &iin, format!("appeal {} was resolved by the official who took the decision", r.appeal));
        }
        if r.outcome == ev::AppealOutcome::Overturned {
            self.standing.remove(&(iin, procedure));
        }
    }
}

/// Re-derives a closed case under the rule set its proposal names: a finding where the
/// proposal does not follow from the answers.
fn audit_case(case: &Case, book: &RuleBook) -> Option<Finding> {
    let what = match rederive(&case.events, &case.iin, case.procedure, &case.keys, book) {
        Ok(Some(j)) => j.disagreement()?,
        Ok(None) => return None,
        Err(why) => format!("the proposal cannot be re-derived from the recorded answers: {why}"),
    };
    Some(Finding { seq: case.seq, iin: case.iin.clone(), what })
}

/// Walks the log page by page (`progress` told how far), judging the cases on every core.
async fn walk(
    ledger: &Ledger,
    trust: Option<&TrustedKeys>,
    mut judge_page: impl FnMut(Vec<Case>),
    mut progress: impl FnMut(u64, u64),
) -> Result<Walk, LedgerError> {
    let mut walk = Walk::new(trust.cloned());
    let size = ledger.size().await?;
    let mut from = 0;
    while from < size {
        let page = ledger.log().read(from, PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        let cases: Vec<Case> = page.iter().filter_map(|e| walk.apply(e)).collect();
        judge_page(cases);
        progress(from, size);
    }
    walk.close();
    Ok(walk)
}

/// `audit`: every proposal and retention re-derived, and the ledger-wide rules. Findings in
/// seq order.
pub async fn audit(ledger: &Ledger, book: &RuleBook, trust: Option<&TrustedKeys>, progress: impl FnMut(u64, u64)) -> Result<Report, LedgerError> {
    let mut decisions = 0;
    let mut judged = Vec::new();
    let walk = walk(
        ledger,
        trust,
        |cases| {
            decisions += cases.len() as u64;
            judged.extend(cases.par_iter().filter_map(|c| audit_case(c, book)).collect::<Vec<_>>());
        },
        progress,
    )
    .await?;
    let erased_persons = walk.erased.len() as u64;
    let mut findings = walk.findings;
    findings.extend(judged);
    findings.sort_by(|a, b| (a.seq, &a.what).cmp(&(b.seq, &b.what)));
    let sources = trust.map_or(TrustBasis::Claim, |t| t.basis);
    Ok(Report { decisions, findings, sources, sources_note: crate::registry::trust::basis_note(sources), events: ledger.size().await?, erased_persons })
}

/// One person whose status would change under the other rule set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub iin: String,
    pub procedure: String,
    pub run: String,
    pub locality: String,
    pub from: String,
    pub to: String,
    pub grounds_from: Vec<String>,
    pub grounds_to: Vec<String>,
}

/// One person the recorded answers cannot settle under the other rule set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CannotTell {
    pub iin: String,
    pub procedure: String,
    pub run: String,
    pub why: String,
}

/// What `what-if` found.
#[derive(Debug, Default, Serialize)]
pub struct WhatIf {
    /// Persons whose case was judged again.
    pub persons: u64,
    pub changed: Vec<Change>,
    pub cannot_tell: Vec<CannotTell>,
}

impl WhatIf {
    /// Persons changed per (what, value): by ground (each ground gained or lost), procedure
    /// and locality.
    pub fn counts(&self) -> BTreeMap<(&'static str, String), u64> {
        let mut out = BTreeMap::new();
        for c in &self.changed {
            *out.entry(("procedure", c.procedure.clone())).or_default() += 1;
            *out.entry(("locality", c.locality.clone())).or_default() += 1;
            for g in c.grounds_from.iter().filter(|g| !c.grounds_to.contains(g)) {
                *out.entry(("ground lost", g.clone())).or_default() += 1;
            }
            for g in c.grounds_to.iter().filter(|g| !c.grounds_from.contains(g)) {
                *out.entry(("ground gained", g.clone())).or_default() += 1;
            }
        }
        out
    }
}

/// The status a procedure gives with grounds found, or without.
fn status_of(procedure: Procedure, grounds: &[Ground]) -> String {
    if grounds.is_empty() {
        ev::Status::Retained.to_string()
    } else {
        ev::ProposedOutcome::of_procedure(procedure.as_str()).confirmed_status().to_string()
    }
}

fn codes(grounds: &[Ground]) -> Vec<String> {
    let mut out: Vec<String> = grounds.iter().map(|g| g.code.clone()).collect();
    out.sort();
    out.dedup();
    out
}

/// Why a closed case cannot be judged again from what the ledger recorded.
#[derive(Debug, thiserror::Error)]
enum Untellable {
    /// The recorded decision cannot be re-derived from its events.
    #[error("{0}")]
    Recorded(crate::proof::JudgeError),
    #[error("no proposal")]
    NoProposal,
    /// The other rule set needs an answer the run did not ask for.
    #[error("cannot tell without asking: {0}")]
    WithoutAsking(crate::proof::JudgeError),
}

/// Judges one closed case again under `rs` (for its procedure): `Ok(Some)` when the status or
/// the grounds change, `Err` when the recorded answers cannot tell.
fn what_if_case(case: &Case, rs: &RuleSet, book: &RuleBook) -> Result<Option<Change>, Untellable> {
    // What was decided, re-derived under the recorded rule set (so a case the ledger cannot
    // support is not compared at all).
    let recorded = rederive(&case.events, &case.iin, case.procedure, &case.keys, book).map_err(Untellable::Recorded)?.ok_or(Untellable::NoProposal)?;
    // The same verified answers, judged under the other rule set.
    let to = judge_answers(rs, &case.iin, &recorded.context, &recorded.answers).map_err(Untellable::WithoutAsking)?;
    let (from_status, to_status) = (status_of(case.procedure, &recorded.computed), status_of(case.procedure, &to));
    let (grounds_from, grounds_to) = (codes(&recorded.computed), codes(&to));
    if from_status == to_status && grounds_from == grounds_to {
        return Ok(None);
    }
    Ok(Some(Change {
        iin: case.iin.clone(),
        procedure: case.procedure.to_string(),
        run: case.run.clone(),
        locality: recorded.context.locality.clone(),
        from: from_status,
        to: to_status,
        grounds_from,
        grounds_to,
    }))
}

/// `what-if`: the closed cases of `rs`'s procedure (of run `only`, or of every run) judged
/// again under `rs`. Writes nothing.
pub async fn what_if(ledger: &Ledger, rs: &RuleSet, book: &RuleBook, only: Option<&str>, progress: impl FnMut(u64, u64)) -> Result<WhatIf, LedgerError> {
    let mut out = WhatIf::default();
    walk(
        ledger,
        None,
        |cases| {
            let mine: Vec<&Case> = cases.iter().filter(|c| c.procedure == rs.procedure && only.is_none_or(|r| r == c.run)).collect();
            out.persons += mine.len() as u64;
            for (case, judged) in mine.par_iter().map(|c| (c, what_if_case(c, rs, book))).collect::<Vec<_>>() {
                match judged {
                    Ok(Some(change)) => out.changed.push(change),
                    Ok(None) => {}
                    Err(why) => out.cannot_tell.push(CannotTell {
                        iin: case.iin.clone(),
                        procedure: case.procedure.to_string(),
                        run: case.run.clone(),
                        why: why.to_string(),
                    }),
                }
            }
        },
        progress,
    )
    .await?;
    Ok(out)
}

/// What `verify` found of the source signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcesChecked {
    pub basis: TrustBasis,
    /// Events whose source signatures were checked.
    pub checked: u64,
    /// Events whose signed documents stay sealed (format v2: a person erased, or the keys not
    /// at hand), so not checked.
    pub sealed: u64,
}

/// `verify`'s source check: every source signature in the log (registry answers, corrections,
/// list entries, decisions, acknowledgements) against `trust`, or, without one, against the
/// keys each run recorded (the operator's claim). The first that fails, by seq and why.
pub async fn verify_sources(store: &dyn crate::store::LogStore, trust: Option<&TrustedKeys>) -> Result<(SourcesChecked, Option<(u64, String)>), LedgerError> {
    let mut claim = TrustedKeys::default();
    let (size, mut from, mut checked, mut sealed) = (store.size().await?, 0, 0, 0);
    let kinds = [RUN_STARTED, REGISTRY_RESPONDED, LIST_ENTRY_RECEIVED, DECISION_TAKEN, REINSTATEMENT_ACKNOWLEDGED];
    while from < size {
        let to = (from + PAGE).min(size);
        let page = store.read_kinds(&kinds, from, to).await?;
        for e in &page {
            if e.kind == RUN_STARTED {
                if let Some(s) = e.as_type::<ev::RunStarted>() {
                    claim.extend(&TrustedKeys::claimed_by_run(s.trust.as_ref(), s.source_keys.as_ref()));
                }
                continue;
            }
            let keys = trust.unwrap_or(&claim);
            if !events::personal::seal_subjects(&e.data).is_empty() {
                sealed += 1;
                continue;
            }
            if let Err(why) = crate::proof::check_event_sources(e, keys) {
                return Ok((SourcesChecked { basis: keys.basis, checked, sealed }, Some((e.seq, why.to_string()))));
            }
            checked += 1;
        }
        from = to;
    }
    Ok((SourcesChecked { basis: trust.map_or(TrustBasis::Claim, |t| t.basis), checked, sealed }, None))
}
