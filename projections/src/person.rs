//! Each person's case per procedure, folded from events alone: status, grounds, the decision
//! taken on it, and the notice's state with its delivery attempts.

use events::types::*;
use events::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

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
    /// The identified official who decided (decision 15): `id`, `name`, `position`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub official: Value,
}

/// The latest appeal against a case's decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppealCase {
    pub appeal: String,
    /// `filed` or `resolved`.
    pub state: String,
    pub filed_seq: u64,
    pub filed_by: String,
    pub received_on: String,
    /// The last day to appeal (3 months from the notice's delivery); `None` if never delivered.
    pub deadline: Option<String>,
    pub late: bool,
    pub late_reason: Option<String>,
    pub contested_step: String,
    /// The grounds the decision appealed rested on.
    pub contested_grounds: Value,
    pub suspended: bool,
    /// The latest re-check: `clear`, `found` or `incomplete`, with its grounds.
    pub recheck: Option<Value>,
    /// `upheld` or `overturned`.
    pub outcome: Option<String>,
    pub resolved_by: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcedureCase {
    pub run: String,
    pub status: String,
    pub grounds: Value,
    pub proposal_seq: Option<u64>,
    pub decision: Option<Decision>,
    pub notice: Option<NoticeState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<AppealCase>,
    /// What an overturned removal restored: the queue number and registration date, or the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinstated: Option<Value>,
    /// Decision 16: `pending` until ИШ АС МР acknowledges the reinstatement, then
    /// `acknowledged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinstatement: Option<String>,
    /// Decision 11: the case comes from a simulation, not a legal act.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulation: bool,
    /// Decision 15: why the decision returned on the proposal was not taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_not_taken: Option<String>,
}

impl ProcedureCase {
    /// A confirmed decision that stands (decision 12): not overturned on appeal.
    pub fn decision_stands(&self) -> bool {
        self.decision.as_ref().is_some_and(|d| d.outcome == "confirmed") && self.status != "retained"
    }
}

/// iin → procedure → case. Each event touches one person's cases only, so the fold can run
/// over any subset of persons (the stored projection applies new events person by person).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Persons {
    pub cases: BTreeMap<String, BTreeMap<String, ProcedureCase>>,
}

/// Types [`Persons::apply`] passes over whatever their data, so a consumer that keeps the
/// projection need not read them: registry queries and answers are most of the log. Every
/// other type of the catalogue (`events::types::ALL`), a new one included, is read.
pub const PASSED_OVER: &[&str] = &[
    KEY_INTRODUCED,
    KEY_RETIRED,
    RUN_STARTED,
    RUN_FINISHED,
    INPUT_REJECTED,
    REGISTRY_QUERIED,
    REGISTRY_RESPONDED,
    REGISTRY_FAILED,
    LIST_SUBMITTED,
    // The case it cites stands as it was (the list entry before it left it so).
    ALREADY_DECIDED,
    // A failed attempt leaves the reinstatement pending (decision 16).
    REINSTATEMENT_FAILED,
    CHECKPOINT_REFUSED,
];

/// The types of the catalogue the fold reads: all but those it passes over.
pub fn folded() -> Vec<&'static str> {
    ALL.iter().copied().filter(|k| !PASSED_OVER.contains(k)).collect()
}

/// The person an event is about, if it is about one.
pub fn subject_of(ev: &Event) -> Option<String> {
    if let Some(iin) = ev.stream.strip_prefix("person:") {
        return Some(iin.to_string());
    }
    if ev.stream.starts_with("notice:") || ev.stream.starts_with("appeal:") {
        return ev.data.get("iin").and_then(Value::as_str).map(String::from);
    }
    None
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
        // The procedure of an event that does not name it: the case of the same run.
        let of_run = |cases: &BTreeMap<String, BTreeMap<String, ProcedureCase>>, iin: &str, run: &str| -> Option<String> {
            cases.get(iin)?.iter().find(|(_, c)| c.run == run).map(|(p, _)| p.clone())
        };
        match ev.kind.as_str() {
            LIST_ENTRY_RECEIVED => {
                let p = procedure().unwrap_or_default();
                let simulation = d["simulation"] == true;
                let c = self.case(&iin, &p);
                // Decision 12: a decision that stands is not taken up again (a simulated one
                // only by later simulations); a new run takes anyone else up afresh.
                if c.decision_stands() && (simulation || !c.simulation) {
                    return;
                }
                *c = ProcedureCase { run, status: "incomplete".into(), grounds: Value::Array(vec![]), simulation, ..Default::default() };
            }
            CONSENT_MISSING => self.case(&iin, &procedure().unwrap_or_default()).status = "no_consent".into(),
            // An appeal's re-check does not change the case until the appeal is resolved.
            CHECK_EVALUATED if d["verdict"] == "incomplete" && d.get("appeal").is_none() => {
                if let Some(p) = of_run(&self.cases, &iin, &run) {
                    self.case(&iin, &p).status = "incomplete".into();
                }
            }
            DECISION_PROPOSED => {
                let c = self.case(&iin, &procedure().unwrap_or_default());
                c.status = "proposed".into();
                c.simulation |= d["simulation"] == true;
                c.grounds = d["grounds"].clone();
                c.proposal_seq = Some(ev.seq);
            }
            PERSON_RETAINED => self.case(&iin, &procedure().unwrap_or_default()).status = "retained".into(),
            DECISION_TAKEN => {
                let p = procedure().or_else(|| of_run(&self.cases, &iin, &run)).unwrap_or_default();
                let outcome = s(d, "outcome");
                let c = self.case(&iin, &p);
                c.status = if outcome == "confirmed" { crate::run::confirmed_status(&p).into() } else { "declined".into() };
                c.decision =
                    Some(Decision { outcome, decided_by: s(d, "decided_by"), reference: d["reference"].clone(), seq: ev.seq, official: d["official"].clone() });
            }
            DECISION_NOT_TAKEN => {
                if let Some(p) = procedure().or_else(|| of_run(&self.cases, &iin, &run)) {
                    self.case(&iin, &p).decision_not_taken = Some(s(d, "reason"));
                }
            }
            NOTICE_ISSUED => {
                let (owner, p, id) = (s(d, "iin"), s(d, "procedure"), s(d, "notice"));
                self.case(&owner, &p).notice = Some(NoticeState { notice: id, state: "pending".into(), attempts: 0, issued_seq: ev.seq });
            }
            NOTICE_DELIVERED | NOTICE_DELIVERY_FAILED | NOTICE_WITHHELD => {
                let (owner, id) = (s(d, "iin"), s(d, "notice"));
                let Some(p) =
                    self.cases.get(&owner).and_then(|m| m.iter().find(|(_, c)| c.notice.as_ref().is_some_and(|n| n.notice == id))).map(|(p, _)| p.clone())
                else {
                    return;
                };
                if let Some(n) = self.case(&owner, &p).notice.as_mut() {
                    if ev.kind == NOTICE_WITHHELD {
                        n.state = "withheld".into();
                        return;
                    }
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
            APPEAL_FILED => {
                let c = self.case(&s(d, "iin"), &s(d, "procedure"));
                let contested_grounds = c.grounds.clone();
                c.appeal = Some(AppealCase {
                    appeal: s(d, "appeal"),
                    state: "filed".into(),
                    filed_seq: ev.seq,
                    filed_by: s(&d["filed_by"], "holder"),
                    received_on: s(d, "received_on"),
                    deadline: d["deadline"].as_str().map(String::from),
                    late: d["late"] == true,
                    late_reason: d["late_reason"].as_str().map(String::from),
                    contested_step: s(d, "contested_step"),
                    contested_grounds,
                    ..Default::default()
                });
            }
            REINSTATEMENT_ACKNOWLEDGED => {
                let c = self.case(&s(d, "iin"), &s(d, "procedure"));
                if c.appeal.as_ref().is_some_and(|a| a.appeal == s(d, "appeal")) {
                    c.reinstatement = Some("acknowledged".into());
                }
            }
            REMOVAL_SUSPENDED | APPEAL_RECHECKED | APPEAL_RESOLVED => {
                let c = self.case(&s(d, "iin"), &s(d, "procedure"));
                let Some(a) = c.appeal.as_mut().filter(|a| a.appeal == s(d, "appeal")) else {
                    return;
                };
                match ev.kind.as_str() {
                    REMOVAL_SUSPENDED => a.suspended = true,
                    APPEAL_RECHECKED => a.recheck = Some(serde_json::json!({"verdict": d["verdict"], "grounds": d["grounds"], "seq": ev.seq})),
                    _ => {
                        a.state = "resolved".into();
                        a.suspended = false;
                        a.outcome = Some(s(d, "outcome"));
                        a.resolved_by = Some(s(&d["resolved_by"], "holder"));
                        if d["outcome"] == "overturned" {
                            // The removal is undone: back on the list / the lease stays in force.
                            c.status = "retained".into();
                            c.grounds = Value::Array(vec![]);
                            c.reinstated = Some(d["reinstated"].clone());
                            c.reinstatement = Some("pending".into());
                        } else {
                            c.grounds = d["grounds"].clone();
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(seq: u64, stream: &str, kind: &str, data: Value) -> Event {
        Event {
            format: events::envelope::EVENT_FORMAT.into(),
            seq,
            prev: String::new(),
            time: String::new(),
            stream: stream.into(),
            stream_seq: seq,
            kind: kind.into(),
            data,
            key: String::new(),
            hash: String::new(),
            sig: String::new(),
        }
    }

    /// A consumer may skip the types passed over only if folding one never changes anything,
    /// whatever it carries: each is applied in every stream, with every field the fold looks
    /// at and then without `appeal`, to a person with a case, an open notice and an appeal.
    #[test]
    fn the_types_passed_over_change_nothing() {
        let iin = "650101310010";
        let run = "2026-01-15-rr-00000000";
        let mut persons = Persons::default();
        let setup = [
            (LIST_ENTRY_RECEIVED, format!("person:{iin}"), json!({"run": run, "procedure": "registry_removal"})),
            (DECISION_PROPOSED, format!("person:{iin}"), json!({"run": run, "procedure": "registry_removal", "grounds": []})),
            (NOTICE_ISSUED, "notice:n1".into(), json!({"run": run, "iin": iin, "procedure": "registry_removal", "notice": "n1"})),
            (APPEAL_FILED, "appeal:a1".into(), json!({"appeal": "a1", "iin": iin, "procedure": "registry_removal"})),
        ];
        for (seq, (kind, stream, data)) in setup.into_iter().enumerate() {
            persons.apply(&event(seq as u64, &stream, kind, data));
        }
        let before = persons.clone();
        let everything = json!({"run": run, "procedure": "registry_removal", "iin": iin, "notice": "n1", "appeal": "a1", "verdict": "incomplete",
            "outcome": "confirmed", "attempt": 9, "final": true, "grounds": [{"code": "x"}], "counts": {}});
        let mut no_appeal = everything.clone();
        no_appeal.as_object_mut().expect("an object").remove("appeal");
        let streams = [format!("person:{iin}"), "notice:n1".into(), "appeal:a1".into(), format!("run:{run}")];
        let changes = |persons: &mut Persons, kind: &str| {
            streams.iter().any(|stream| {
                [&everything, &no_appeal].iter().any(|data| {
                    let mut p = persons.clone();
                    p.apply(&event(100, stream, kind, (*data).clone()));
                    p != *persons
                })
            })
        };
        for kind in PASSED_OVER {
            assert!(!changes(&mut persons, kind), "{kind} changed the projection");
        }
        assert_eq!(persons, before);
        // The check can fail: each type the fold reads changes something.
        for kind in [CHECK_EVALUATED, PERSON_RETAINED, DECISION_TAKEN, NOTICE_DELIVERED, APPEAL_RESOLVED] {
            assert!(changes(&mut persons, kind), "{kind} changed nothing");
            assert!(folded().contains(&kind));
        }
    }
}
