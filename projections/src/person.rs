//! Each person's case per procedure, folded from events alone: status, grounds, the decision
//! taken on it, and the notice's state with its delivery attempts.

use events::catalogue::{self as c, AppealOutcome, CheckVerdict, DecisionOutcome, Ground, Official, ProposedOutcome, Status};
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

/// Decision 22: what the decision's notice explains (`{"findings", "body"}`), kept after a
/// notice of reinstatement replaces it as the case's notice, and when it was delivered (the
/// event's time, UTC): the appeal period runs from its local date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explained {
    pub notice: String,
    pub explanation: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: DecisionOutcome,
    pub decided_by: String,
    pub reference: Option<String>,
    pub seq: u64,
    /// The identified official who decided (decision 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<Official>,
}

/// An appeal's latest re-check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recheck {
    pub verdict: CheckVerdict,
    pub grounds: Vec<Ground>,
    pub seq: u64,
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
    pub contested_grounds: Vec<Ground>,
    pub suspended: bool,
    pub recheck: Option<Recheck>,
    pub outcome: Option<AppealOutcome>,
    pub resolved_by: Option<String>,
    /// When it was resolved (the event's time, UTC) and the resolution's seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_seq: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcedureCase {
    pub run: String,
    /// The locality of the person's list entry (the dashboard filters by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// The person's name as his list entry gives it (officers search by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: Status,
    pub grounds: Vec<Ground>,
    pub proposal_seq: Option<u64>,
    pub decision: Option<Decision>,
    pub notice: Option<NoticeState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explained: Option<Explained>,
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
        self.decision.as_ref().is_some_and(|d| d.outcome == DecisionOutcome::Confirmed) && self.status != Status::Retained
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

/// The persons projection folded in `shards` shards on every core: each event goes to the
/// shard of the person it is about (an event about no one changes no case), and each shard
/// folds its events in log order. Since an event touches one person's cases only, the shards'
/// cases, put together, are the serial fold's (a property test holds this).
pub struct Sharded {
    shards: Vec<Persons>,
}

impl Sharded {
    pub fn new(shards: usize) -> Self {
        Self { shards: (0..shards.max(1)).map(|_| Persons::default()).collect() }
    }

    /// Folds the next events of the log, in order.
    pub fn apply_all(&mut self, events: &[Event]) {
        use rayon::prelude::*;
        let n = self.shards.len();
        let mut parts: Vec<Vec<&Event>> = vec![Vec::new(); n];
        for e in events {
            if let Some(iin) = subject_of(e) {
                parts[shard_of(&iin, n)].push(e);
            }
        }
        self.shards.par_iter_mut().zip(parts).for_each(|(persons, evs)| evs.into_iter().for_each(|e| persons.apply(e)));
    }

    /// The shards put together.
    pub fn into_persons(self) -> Persons {
        let mut all = Persons::default();
        for s in self.shards {
            all.cases.extend(s.cases);
        }
        all
    }
}

/// A person's shard: FNV-1a of the IIN (any stable spread would do).
fn shard_of(iin: &str, shards: usize) -> usize {
    let h = iin.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    (h % shards as u64) as usize
}

impl ProcedureCase {
    /// What of the case the figures count, and nothing that names or describes the person or
    /// the officials: kept, under his blind id, once he is erased (format v2), so that the
    /// dashboard's figures stay. Run, locality, status, ground codes (whom a ground was about
    /// as `recipient`/`family_member` only), the decision's outcome and the appeal's state.
    pub fn aggregate(&self) -> ProcedureCase {
        let grounds = |g: &[Ground]| g.iter().map(|g| Ground { subject_iin: String::new(), evidence: Vec::new(), ..g.clone() }).collect::<Vec<_>>();
        ProcedureCase {
            run: self.run.clone(),
            locality: self.locality.clone(),
            status: self.status,
            grounds: grounds(&self.grounds),
            decision: self.decision.as_ref().map(|d| Decision { outcome: d.outcome, decided_by: String::new(), reference: None, seq: d.seq, official: None }),
            appeal: self.appeal.as_ref().map(|a| AppealCase {
                appeal: a.appeal.clone(),
                state: a.state.clone(),
                filed_seq: a.filed_seq,
                contested_grounds: grounds(&a.contested_grounds),
                suspended: a.suspended,
                recheck: a.recheck.as_ref().map(|r| Recheck { verdict: r.verdict, grounds: grounds(&r.grounds), seq: r.seq }),
                outcome: a.outcome,
                resolved_at: a.resolved_at.clone(),
                resolved_seq: a.resolved_seq,
                ..AppealCase::default()
            }),
            simulation: self.simulation,
            ..ProcedureCase::default()
        }
    }
}

/// The person an event is about, if it is about one.
pub fn subject_of(ev: &Event) -> Option<String> {
    if let Some(iin) = ev.stream.strip_prefix("person:") {
        return Some(iin.to_string());
    }
    if ev.stream.starts_with("notice:") || ev.stream.starts_with("appeal:") {
        return ev.iin().map(String::from);
    }
    None
}

impl Persons {
    fn case(&mut self, iin: &str, procedure: &str) -> &mut ProcedureCase {
        self.cases.entry(iin.to_string()).or_default().entry(procedure.to_string()).or_default()
    }

    /// The procedure of an event that does not name it: the case of the same run.
    fn of_run(&self, iin: &str, run: &str) -> Option<String> {
        self.cases.get(iin)?.iter().find(|(_, c)| c.run == run).map(|(p, _)| p.clone())
    }

    /// Folds one event. An event of a type the fold reads whose data does not decode is not
    /// the service's: it changes nothing here (`verify` and `audit` report it).
    pub fn apply(&mut self, ev: &Event) {
        // An erased person's event (format v2) stays sealed: nothing of it is folded, so that
        // the fold of the events agrees with his rows, which his erasure deleted.
        if events::personal::is_shut(ev) {
            return;
        }
        let iin = ev.stream.strip_prefix("person:").unwrap_or_default();
        match ev.kind.as_str() {
            LIST_ENTRY_RECEIVED => {
                self.list_entry(iin, ev);
            }
            CONSENT_MISSING => {
                let Some(d) = ev.as_type::<c::ConsentMissing>() else { return };
                self.case(iin, &d.procedure).status = Status::NoConsent;
            }
            CHECK_EVALUATED => {
                let Some(d) = ev.as_type::<c::CheckEvaluated>() else { return };
                // An appeal's re-check does not change the case until the appeal is resolved.
                if d.verdict == CheckVerdict::Incomplete && d.appeal.is_none() {
                    if let Some(p) = self.of_run(iin, &d.run) {
                        self.case(iin, &p).status = Status::Incomplete;
                    }
                }
            }
            DECISION_PROPOSED => {
                let Some(d) = ev.as_type::<c::DecisionProposed>() else { return };
                let case = self.case(iin, &d.procedure);
                case.status = Status::Proposed;
                case.simulation |= d.simulation == Some(true);
                case.grounds = d.grounds;
                case.proposal_seq = Some(ev.seq);
            }
            PERSON_RETAINED => {
                let Some(d) = ev.as_type::<c::PersonRetained>() else { return };
                self.case(iin, &d.procedure).status = Status::Retained;
            }
            DECISION_TAKEN => {
                let Some(d) = ev.as_type::<c::DecisionTaken>() else { return };
                let case = self.case(iin, &d.procedure);
                case.status = match d.outcome {
                    DecisionOutcome::Confirmed => ProposedOutcome::of_procedure(&d.procedure).confirmed_status(),
                    DecisionOutcome::Declined => Status::Declined,
                };
                case.decision = Some(Decision { outcome: d.outcome, decided_by: d.decided_by, reference: d.reference, seq: ev.seq, official: d.official });
            }
            DECISION_NOT_TAKEN => {
                let Some(d) = ev.as_type::<c::DecisionNotTaken>() else { return };
                self.case(iin, &d.procedure).decision_not_taken = Some(d.reason);
            }
            NOTICE_ISSUED => {
                let Some(d) = ev.as_type::<c::NoticeIssued>() else { return };
                let case = self.case(&d.iin, &d.procedure);
                if let Some(explanation) = d.explanation {
                    case.explained = Some(Explained { notice: d.notice.clone(), explanation, delivered_at: None });
                }
                case.notice = Some(NoticeState { notice: d.notice, state: "pending".into(), attempts: 0, issued_seq: ev.seq });
            }
            NOTICE_DELIVERED | NOTICE_DELIVERY_FAILED | NOTICE_WITHHELD => {
                self.delivery(ev);
            }
            APPEAL_FILED => {
                self.appeal_filed(ev);
            }
            REINSTATEMENT_ACKNOWLEDGED => {
                let Some(d) = ev.as_type::<c::ReinstatementAcknowledged>() else { return };
                let case = self.case(&d.iin, &d.procedure);
                if case.appeal.as_ref().is_some_and(|a| a.appeal == d.appeal) {
                    case.reinstatement = Some("acknowledged".into());
                }
            }
            REMOVAL_SUSPENDED => {
                let Some(d) = ev.as_type::<c::RemovalSuspended>() else { return };
                if let Some(a) = self.appeal(&d.iin, &d.procedure, &d.appeal) {
                    a.suspended = true;
                }
            }
            APPEAL_RECHECKED => {
                let Some(d) = ev.as_type::<c::AppealRechecked>() else { return };
                if let Some(a) = self.appeal(&d.iin, &d.procedure, &d.appeal) {
                    a.recheck = Some(Recheck { verdict: d.verdict, grounds: d.grounds, seq: ev.seq });
                }
            }
            APPEAL_RESOLVED => {
                self.appeal_resolved(ev);
            }
            _ => {}
        }
    }

    /// Step 4: a person taken up by a run, unless a decision stands for him (decision 12).
    fn list_entry(&mut self, iin: &str, ev: &Event) {
        let Some(d) = ev.as_type::<c::ListEntryReceived>() else { return };
        let simulation = d.simulation == Some(true);
        let case = self.case(iin, &d.procedure);
        // Decision 12: a decision that stands is not taken up again (a simulated one
        // only by later simulations); a new run takes anyone else up afresh.
        if case.decision_stands() && (simulation || !case.simulation) {
            return;
        }
        let locality = d.entry["locality"].as_str().map(String::from);
        // The name as the list gives it: what officers search by.
        let name = ["surname", "name", "patronymic"].iter().filter_map(|k| d.entry[*k].as_str()).collect::<Vec<_>>().join(" ");
        let name = (!name.is_empty()).then_some(name);
        *case = ProcedureCase { run: d.run, locality, name, status: Status::Incomplete, simulation, ..Default::default() };
    }

    /// A notice's delivery, failed attempt or withholding (decision 11), on the case whose
    /// notice it is.
    fn delivery(&mut self, ev: &Event) {
        let (owner, id, state, attempt) = if let Some(d) = ev.as_type::<c::NoticeDelivered>() {
            (d.iin, d.notice, "delivered", Some(d.attempt))
        } else if let Some(d) = ev.as_type::<c::NoticeDeliveryFailed>() {
            (d.iin, d.notice, if d.r#final { "failed" } else { "pending" }, Some(d.attempt))
        } else if let Some(d) = ev.as_type::<c::NoticeWithheld>() {
            (d.iin, d.notice, "withheld", None)
        } else {
            return;
        };
        let Some(p) = self.cases.get(&owner).and_then(|m| m.iter().find(|(_, c)| c.notice.as_ref().is_some_and(|n| n.notice == id))).map(|(p, _)| p.clone())
        else {
            return;
        };
        let case = self.case(&owner, &p);
        if let Some(x) = case.explained.as_mut().filter(|x| x.notice == id && state == "delivered" && x.delivered_at.is_none()) {
            x.delivered_at = Some(ev.time.clone());
        }
        if let Some(n) = case.notice.as_mut() {
            n.state = state.into();
            if let Some(a) = attempt {
                n.attempts = n.attempts.max(a.into());
            }
        }
    }

    /// An appeal filed: it contests the grounds the case holds now.
    fn appeal_filed(&mut self, ev: &Event) {
        let Some(d) = ev.as_type::<c::AppealFiled>() else { return };
        let case = self.case(&d.iin, &d.procedure);
        let contested_grounds = case.grounds.clone();
        case.appeal = Some(AppealCase {
            appeal: d.appeal,
            state: "filed".into(),
            filed_seq: ev.seq,
            filed_by: d.filed_by.holder,
            received_on: d.received_on,
            deadline: d.deadline,
            late: d.late,
            late_reason: d.late_reason,
            contested_step: d.contested_step,
            contested_grounds,
            ..Default::default()
        });
    }

    /// An appeal resolved: an overturn undoes the removal, an upheld decision keeps the
    /// grounds the resolution names.
    fn appeal_resolved(&mut self, ev: &Event) {
        let Some(d) = ev.as_type::<c::AppealResolved>() else { return };
        let Some(a) = self.appeal(&d.iin, &d.procedure, &d.appeal) else { return };
        a.state = "resolved".into();
        a.suspended = false;
        a.outcome = Some(d.outcome);
        a.resolved_by = Some(d.resolved_by.holder);
        a.resolved_at = Some(ev.time.clone());
        a.resolved_seq = Some(ev.seq);
        let case = self.case(&d.iin, &d.procedure);
        if d.outcome == AppealOutcome::Overturned {
            // The removal is undone: back on the list / the lease stays in force.
            case.status = Status::Retained;
            case.grounds = Vec::new();
            case.reinstated = Some(d.reinstated.unwrap_or_default());
            case.reinstatement = Some("pending".into());
        } else {
            case.grounds = d.grounds;
        }
    }

    /// The case's appeal `appeal`, if it is the latest.
    fn appeal(&mut self, iin: &str, procedure: &str, appeal: &str) -> Option<&mut AppealCase> {
        self.case(iin, procedure).appeal.as_mut().filter(|a| a.appeal == appeal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(seq: u64, stream: &str, kind: &str, data: Value) -> Event {
        Event::unsealed(seq, stream, kind, data)
    }

    /// A consumer may skip the types passed over only if folding one never changes anything,
    /// whatever it carries: each is applied in every stream, with every field the fold looks
    /// at and then without `appeal`, to a person with a case, an open notice and an appeal.
    #[test]
    fn the_types_passed_over_change_nothing() {
        let iin = "650101310010";
        let run = "2026-01-15-rr-00000000";
        let mut persons = Persons::default();
        let actor = json!({"token": "t1", "role": "appeals_officer", "holder": "Officer", "holder_id": "650101310011"});
        let setup = [
            (
                LIST_ENTRY_RECEIVED,
                format!("person:{iin}"),
                json!({"run": run, "procedure": "registry_removal", "entry": {"iin": iin}, "evidence": [1], "position": "0:0"}),
            ),
            (
                DECISION_PROPOSED,
                format!("person:{iin}"),
                json!({"run": run, "procedure": "registry_removal", "outcome": "remove", "grounds": [], "rule_set_sha256": "ab", "evidence": []}),
            ),
            (
                NOTICE_ISSUED,
                "notice:n1".into(),
                json!({"run": run, "iin": iin, "procedure": "registry_removal", "notice": "n1", "decision": 3, "text": {"kk": "", "ru": ""}, "grounds": []}),
            ),
            (
                APPEAL_FILED,
                "appeal:a1".into(),
                json!({"appeal": "a1", "iin": iin, "procedure": "registry_removal", "run": run, "notice": "n1", "decision": 3, "decided_by": "x",
                    "decided_by_id": null, "delivered_on": null, "received_on": "2026-02-01", "deadline": null, "deadline_moved_from": null,
                    "deadline_unchecked": null, "late": false, "late_reason": null, "contested_step": "6", "grounds": "not mine", "filed_by": actor}),
            ),
        ];
        for (seq, (kind, stream, data)) in setup.into_iter().enumerate() {
            persons.apply(&event(seq as u64, &stream, kind, data));
        }
        let before = persons.clone();
        // Every member of every type the fold reads, each outcome, with and without `appeal`.
        let ground = json!({"code": "x", "clause": "000:6", "subject": "recipient", "subject_iin": iin, "registry": "gosreestr", "evidence": [1]});
        let everything = json!({"run": run, "procedure": "registry_removal", "iin": iin, "notice": "n1", "appeal": "a1", "verdict": "incomplete",
            "step": "6", "clause": "000:6", "grounds": [ground], "evidence": [1], "rule_set_sha256": "ab", "proposal": 1, "decided_by": "x",
            "reference": null, "attempt": 9, "detail": "d", "final": true, "reason": "r", "resolved_by": actor, "recheck": null,
            "reinstated": null, "counts": {}});
        let data: Vec<Value> = ["confirmed", "declined", "upheld", "overturned"]
            .into_iter()
            .flat_map(|outcome| {
                let mut with = everything.clone();
                with["outcome"] = outcome.into();
                let mut without = with.clone();
                without.as_object_mut().expect("an object").remove("appeal");
                [with, without]
            })
            .collect();
        let streams = [format!("person:{iin}"), "notice:n1".into(), "appeal:a1".into(), format!("run:{run}")];
        let changes = |persons: &mut Persons, kind: &str| {
            streams.iter().any(|stream| {
                data.iter().any(|data| {
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
