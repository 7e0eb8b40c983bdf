//! The progress of one run, folded from its events: which list pages and entries were taken
//! up, each person's status, proposals, decisions and notices. The pipeline resumes an
//! interrupted run from this fold; `GET /v1/runs/{id}` shows it.

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
    pub status: HashMap<String, String>,
    pub rejected: Vec<Value>,
    /// (iin, seq of DecisionProposed), in order.
    pub proposals: Vec<(String, u64)>,
    pub submitted: Option<u64>,
    /// iin → (seq of DecisionTaken, outcome)
    pub decided: HashMap<String, (u64, String)>,
    pub notices: BTreeMap<String, NoticeProgress>,
    pub finished: Option<Value>,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The status of a confirmed decision in a procedure.
pub fn confirmed_status(procedure: &str) -> &'static str {
    if procedure == "lease_termination" {
        "terminated"
    } else {
        "removed"
    }
}

impl RunProgress {
    pub fn new(run: &str) -> Self {
        Self { run: run.to_string(), ..Default::default() }
    }

    /// Folds one event; events of other runs are ignored.
    pub fn apply(&mut self, ev: &Event) {
        let d = &ev.data;
        if d.get("run").and_then(Value::as_str) != Some(self.run.as_str()) {
            return;
        }
        let iin = || ev.stream.strip_prefix("person:").unwrap_or_default().to_string();
        match ev.kind.as_str() {
            RUN_STARTED => {
                self.started = Some(ev.seq);
                self.procedure = s(d, "procedure");
                self.as_of = s(d, "as_of");
            }
            REGISTRY_RESPONDED if ev.stream.starts_with("run:") && d.get("list_page").is_some() => {
                let page = d["list_page"].as_u64().unwrap_or_default();
                self.list_pages.insert(page, ev.seq);
            }
            LIST_ENTRY_RECEIVED => {
                self.positions_done.insert(s(d, "position"));
                self.status.insert(iin(), "incomplete".into());
            }
            INPUT_REJECTED => {
                self.positions_done.insert(s(d, "position"));
                self.rejected.push(serde_json::json!({"entry": d["entry"], "reasons": d["reasons"], "seq": ev.seq}));
            }
            CONSENT_MISSING => {
                self.status.insert(iin(), "no_consent".into());
            }
            ALREADY_DECIDED => {
                self.status.insert(iin(), "already_decided".into());
            }
            CHECK_EVALUATED if d["verdict"] == "incomplete" => {
                self.status.insert(iin(), "incomplete".into());
            }
            DECISION_PROPOSED => {
                self.status.insert(iin(), "proposed".into());
                self.proposals.push((iin(), ev.seq));
            }
            PERSON_RETAINED => {
                self.status.insert(iin(), "retained".into());
            }
            LIST_SUBMITTED => self.submitted = Some(ev.seq),
            DECISION_TAKEN => {
                let outcome = s(d, "outcome");
                let status = if outcome == "confirmed" { confirmed_status(&self.procedure) } else { "declined" };
                self.status.insert(iin(), status.into());
                self.decided.insert(iin(), (ev.seq, outcome));
            }
            NOTICE_ISSUED => {
                self.notices.insert(s(d, "notice"), NoticeProgress { iin: s(d, "iin"), issued: ev.seq, ..Default::default() });
            }
            NOTICE_DELIVERED | NOTICE_DELIVERY_FAILED => {
                if let Some(n) = self.notices.get_mut(&s(d, "notice")) {
                    n.attempts = n.attempts.max(d["attempt"].as_u64().unwrap_or_default() as u32);
                    n.delivered |= ev.kind == NOTICE_DELIVERED;
                }
            }
            NOTICE_WITHHELD => {
                if let Some(n) = self.notices.get_mut(&s(d, "notice")) {
                    n.withheld = true;
                }
            }
            RUN_FINISHED => self.finished = Some(d["counts"].clone()),
            _ => {}
        }
    }

    /// Persons by status, plus `invalid_input` for rejected entries.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut c: BTreeMap<String, u64> = BTreeMap::new();
        for st in self.status.values() {
            *c.entry(st.clone()).or_default() += 1;
        }
        if !self.rejected.is_empty() {
            c.insert("invalid_input".into(), self.rejected.len() as u64);
        }
        c
    }
}
