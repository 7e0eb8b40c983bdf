//! Each person's case per procedure, folded from events alone: status, grounds, the decision
//! taken on it, and the notice's state with its delivery attempts.

use events::types::*;
use events::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoticeState {
    pub notice: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u64,
    pub issued_seq: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: String,
    pub decided_by: String,
    pub reference: Value,
    pub seq: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcedureCase {
    pub run: String,
    pub status: String,
    pub grounds: Value,
    pub proposal_seq: Option<u64>,
    pub decision: Option<Decision>,
    pub notice: Option<NoticeState>,
}

/// iin → procedure → case.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Persons {
    pub cases: BTreeMap<String, BTreeMap<String, ProcedureCase>>,
    #[serde(skip)]
    run_procedure: HashMap<String, String>,
    #[serde(skip)]
    notice_owner: HashMap<String, (String, String)>,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Persons {
    fn case(&mut self, iin: &str, procedure: &str) -> &mut ProcedureCase {
        self.cases.entry(iin.to_string()).or_default().entry(procedure.to_string()).or_default()
    }

    pub fn apply(&mut self, ev: &Event) {
        let d = &ev.data;
        let iin = ev.stream.strip_prefix("person:").unwrap_or_default().to_string();
        let run = s(d, "run");
        let procedure = || d.get("procedure").and_then(Value::as_str).map(String::from);
        match ev.kind.as_str() {
            RUN_STARTED => {
                self.run_procedure.insert(run, s(d, "procedure"));
            }
            LIST_ENTRY_RECEIVED => {
                let p = procedure().unwrap_or_default();
                // A new run takes the person up afresh.
                *self.case(&iin, &p) = ProcedureCase { run, status: "incomplete".into(), grounds: Value::Array(vec![]), ..Default::default() };
            }
            CONSENT_MISSING => self.case(&iin, &procedure().unwrap_or_default()).status = "no_consent".into(),
            CHECK_EVALUATED if d["verdict"] == "incomplete" => {
                if let Some(p) = self.run_procedure.get(&run).cloned() {
                    self.case(&iin, &p).status = "incomplete".into();
                }
            }
            DECISION_PROPOSED => {
                let c = self.case(&iin, &procedure().unwrap_or_default());
                c.status = "proposed".into();
                c.grounds = d["grounds"].clone();
                c.proposal_seq = Some(ev.seq);
            }
            PERSON_RETAINED => self.case(&iin, &procedure().unwrap_or_default()).status = "retained".into(),
            DECISION_TAKEN => {
                let p = procedure().or_else(|| self.run_procedure.get(&run).cloned()).unwrap_or_default();
                let outcome = s(d, "outcome");
                let c = self.case(&iin, &p);
                c.status = if outcome == "confirmed" { crate::run::confirmed_status(&p).into() } else { "declined".into() };
                c.decision = Some(Decision { outcome, decided_by: s(d, "decided_by"), reference: d["reference"].clone(), seq: ev.seq });
            }
            NOTICE_ISSUED => {
                let (owner, p, id) = (s(d, "iin"), s(d, "procedure"), s(d, "notice"));
                self.notice_owner.insert(id.clone(), (owner.clone(), p.clone()));
                self.case(&owner, &p).notice = Some(NoticeState { notice: id, state: "pending".into(), attempts: 0, issued_seq: ev.seq });
            }
            NOTICE_DELIVERED | NOTICE_DELIVERY_FAILED => {
                let Some((owner, p)) = self.notice_owner.get(&s(d, "notice")).cloned() else {
                    return;
                };
                if let Some(n) = self.case(&owner, &p).notice.as_mut() {
                    n.attempts = n.attempts.max(d["attempt"].as_u64().unwrap_or_default());
                    n.state = if ev.kind == NOTICE_DELIVERED {
                        "delivered".into()
                    } else if d["final"] == true {
                        "failed".into()
                    } else {
                        "pending".into()
                    };
                }
            }
            _ => {}
        }
    }
}
