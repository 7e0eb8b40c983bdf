//! The progress of one run, folded from its events: which list pages and entries were taken
//! up, each person's status, proposals, decisions and notices. The pipeline resumes an
//! interrupted run from this fold; `GET /v1/runs/{id}` shows it.

use events::catalogue::{self as c, CheckVerdict, DecisionOutcome, ProposedOutcome, Status};
use events::types::*;
use events::Event;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NoticeProgress {
    pub iin: String,
    pub issued: u64,
    pub attempts: u32,
    pub delivered: bool,
    /// A simulation's notice kept from a live gateway (decision 11).
    pub withheld: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunProgress {
    pub run: String,
    pub procedure: String,
    pub as_of: String,
    pub started: Option<u64>,
    /// page → seq of the signed list answer (the entries stay in the ledger, not in memory).
    pub list_pages: BTreeMap<u64, u64>,
    /// `page:index` of every list entry already taken up (accepted or rejected).
    pub positions_done: HashSet<String>,
    pub status: HashMap<String, Status>,
    pub rejected: Vec<Value>,
    /// (iin, seq of DecisionProposed), in order.
    pub proposals: Vec<(String, u64)>,
    pub submitted: Option<u64>,
    /// iin → (seq of DecisionTaken, outcome)
    pub decided: HashMap<String, (u64, DecisionOutcome)>,
    pub notices: BTreeMap<String, NoticeProgress>,
    /// The counts `RunFinished` recorded.
    pub finished: Option<BTreeMap<String, u64>>,
}

impl RunProgress {
    pub fn new(run: &str) -> Self {
        Self { run: run.to_string(), ..Default::default() }
    }

    /// Folds one event; events of other runs, and events whose data does not decode, are
    /// passed over.
    pub fn apply(&mut self, ev: &Event) {
        if ev.run() != Some(self.run.as_str()) {
            return;
        }
        let iin = || ev.stream.strip_prefix("person:").unwrap_or_default().to_string();
        match ev.kind.as_str() {
            RUN_STARTED => {
                let Some(d) = ev.as_type::<c::RunStarted>() else { return };
                self.started = Some(ev.seq);
                self.procedure = d.procedure;
                self.as_of = d.as_of;
            }
            REGISTRY_RESPONDED if ev.stream.starts_with("run:") => {
                // Only the list's pages carry a page: step 11's answers do not.
                if let Some(page) = ev.data.get("list_page").and_then(Value::as_u64) {
                    self.list_pages.insert(page, ev.seq);
                }
            }
            LIST_ENTRY_RECEIVED => {
                let Some(d) = ev.as_type::<c::ListEntryReceived>() else { return };
                self.positions_done.insert(d.position);
                self.status.insert(iin(), Status::Incomplete);
            }
            INPUT_REJECTED => {
                let Some(d) = ev.as_type::<c::InputRejected>() else { return };
                self.positions_done.insert(d.position);
                self.rejected.push(serde_json::json!({"entry": d.entry, "reasons": d.reasons, "seq": ev.seq}));
            }
            CONSENT_MISSING => {
                self.status.insert(iin(), Status::NoConsent);
            }
            ALREADY_DECIDED => {
                self.status.insert(iin(), Status::AlreadyDecided);
            }
            CHECK_EVALUATED if ev.as_type::<c::CheckEvaluated>().is_some_and(|d| d.verdict == CheckVerdict::Incomplete) => {
                self.status.insert(iin(), Status::Incomplete);
            }
            DECISION_PROPOSED => {
                self.status.insert(iin(), Status::Proposed);
                self.proposals.push((iin(), ev.seq));
            }
            PERSON_RETAINED => {
                self.status.insert(iin(), Status::Retained);
            }
            LIST_SUBMITTED => self.submitted = Some(ev.seq),
            DECISION_TAKEN => {
                let Some(d) = ev.as_type::<c::DecisionTaken>() else { return };
                let status = match d.outcome {
                    DecisionOutcome::Confirmed => ProposedOutcome::of_procedure(&self.procedure).confirmed_status(),
                    DecisionOutcome::Declined => Status::Declined,
                };
                self.status.insert(iin(), status);
                self.decided.insert(iin(), (ev.seq, d.outcome));
            }
            NOTICE_ISSUED => {
                let Some(d) = ev.as_type::<c::NoticeIssued>() else { return };
                self.notices.insert(d.notice, NoticeProgress { iin: d.iin, issued: ev.seq, ..Default::default() });
            }
            NOTICE_DELIVERED | NOTICE_DELIVERY_FAILED => {
                let (notice, attempt, delivered) = match ev.as_type::<c::NoticeDelivered>() {
                    Some(d) => (d.notice, d.attempt, true),
                    None => match ev.as_type::<c::NoticeDeliveryFailed>() {
                        Some(d) => (d.notice, d.attempt, false),
                        None => return,
                    },
                };
                if let Some(n) = self.notices.get_mut(&notice) {
                    n.attempts = n.attempts.max(attempt);
                    n.delivered |= delivered;
                }
            }
            NOTICE_WITHHELD => {
                let Some(d) = ev.as_type::<c::NoticeWithheld>() else { return };
                if let Some(n) = self.notices.get_mut(&d.notice) {
                    n.withheld = true;
                }
            }
            RUN_FINISHED => {
                let Some(d) = ev.as_type::<c::RunFinished>() else { return };
                self.finished = Some(d.counts);
            }
            _ => {}
        }
    }

    /// Persons by status, plus `invalid_input` for rejected entries.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut c: BTreeMap<String, u64> = BTreeMap::new();
        for st in self.status.values() {
            *c.entry(st.to_string()).or_default() += 1;
        }
        if !self.rejected.is_empty() {
            c.insert("invalid_input".into(), self.rejected.len() as u64);
        }
        c
    }
}
