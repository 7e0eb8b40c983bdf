//! The dashboard's figures, folded from the persons projection alone: removals and
//! terminations (confirmed decisions), and how many of them were reversed on appeal, by
//! procedure, by ground and by run; appeals by state, and the share overturned by ground. A
//! [`Filter`] picks the cases a figure counts, so each figure names the list behind it.

use crate::person::ProcedureCase;
use events::catalogue::{AppealOutcome, DecisionOutcome};
use std::collections::BTreeMap;

/// Confirmed decisions and those of them reversed, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally(pub BTreeMap<String, (u64, u64)>);

impl Tally {
    fn add(&mut self, key: &str, reversed: bool) {
        let e = self.0.entry(key.to_string()).or_default();
        e.0 += 1;
        e.1 += reversed as u64;
    }

    /// `(label, total, reversed)`, the largest first (ties by label).
    pub fn rows(&self, label: impl Fn(&str) -> String) -> Vec<(String, u64, u64)> {
        let mut rows: Vec<_> = self.0.iter().map(|(k, (n, r))| (label(k), *n, *r)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removals {
    pub total: u64,
    pub reversed: u64,
    pub by_procedure: Tally,
    pub by_ground: Tally,
    pub by_run: Tally,
    /// Appeals by [`appeal_state`].
    pub appeals: BTreeMap<String, u64>,
    /// Appeals by the grounds they contested, and how many of them were overturned.
    pub appeals_by_ground: Tally,
}

/// The states an appeal is counted in, in the order it passes them.
pub const APPEAL_STATES: [&str; 5] = ["filed", "suspended", "rechecked", "upheld", "overturned"];

/// Where an appeal against the case stands: resolved (`upheld`, `overturned`), else
/// `rechecked`, `suspended` or just `filed`; `None` without an appeal.
pub fn appeal_state(c: &ProcedureCase) -> Option<&'static str> {
    let a = c.appeal.as_ref()?;
    Some(match (&a.outcome, &a.recheck, a.suspended) {
        (Some(AppealOutcome::Upheld), _, _) => "upheld",
        (Some(AppealOutcome::Overturned), _, _) => "overturned",
        (None, Some(_), _) => "rechecked",
        (None, None, true) => "suspended",
        (None, None, false) => "filed",
    })
}

fn confirmed(c: &ProcedureCase) -> bool {
    c.decision.as_ref().is_some_and(|d| d.outcome == DecisionOutcome::Confirmed)
}

fn reversed(c: &ProcedureCase) -> bool {
    c.appeal.as_ref().is_some_and(|a| a.outcome == Some(AppealOutcome::Overturned))
}

/// The ground codes a confirmed decision counts under: a reversed one under those it had
/// before the appeal. Each once.
fn ground_codes(c: &ProcedureCase) -> Vec<&str> {
    let grounds = match &c.appeal {
        Some(a) if reversed(c) => a.contested_grounds.as_slice(),
        _ => &c.grounds,
    };
    let mut codes: Vec<&str> = grounds.iter().map(|g| g.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// Which confirmed decisions a figure counts: every part given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub procedure: Option<String>,
    pub locality: Option<String>,
    pub run: Option<String>,
    pub ground: Option<String>,
    /// An appeal's state, one of [`APPEAL_STATES`], or `any` for any appeal.
    pub appeal: Option<String>,
    /// Only those reversed on appeal.
    pub reversed: bool,
    /// Runs decided on or after / on or before these days (`YYYY-MM-DD`): a period.
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Filter {
    pub fn matches(&self, procedure: &str, c: &ProcedureCase) -> bool {
        let is = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
        confirmed(c)
            && is(&self.procedure, Some(procedure))
            && is(&self.locality, c.locality.as_deref())
            && is(&self.run, Some(&c.run))
            && self.ground.as_deref().is_none_or(|g| ground_codes(c).contains(&g))
            && self.appeal.as_deref().is_none_or(|a| if a == "any" { c.appeal.is_some() } else { appeal_state(c) == Some(a) })
            && (!self.reversed || reversed(c))
            && self.in_period(&c.run)
    }

    /// Whether run `run` (named after its decision date, `YYYY-MM-DD-…`) falls in the period.
    pub fn in_period(&self, run: &str) -> bool {
        let day = run.get(..10).unwrap_or(run);
        self.from.as_deref().is_none_or(|f| day >= f) && self.to.as_deref().is_none_or(|t| day <= t)
    }

    /// The same filter and one more part (`procedure`, `locality`, `run`, `ground`, `appeal`,
    /// `reversed`), as a figure narrows the page's filter.
    pub fn and(&self, part: &str, value: &str) -> Filter {
        let mut f = self.clone();
        let v = Some(value.to_string());
        match part {
            "procedure" => f.procedure = v,
            "locality" => f.locality = v,
            "run" => f.run = v,
            "ground" => f.ground = v,
            "appeal" => f.appeal = v,
            "reversed" => f.reversed = true,
            _ => {}
        }
        f
    }

    /// The filter's parts as `(name, value)`, in a fixed order (for a link's query).
    pub fn parts(&self) -> Vec<(&'static str, String)> {
        let mut parts: Vec<(&'static str, String)> = [
            ("procedure", &self.procedure),
            ("locality", &self.locality),
            ("run", &self.run),
            ("ground", &self.ground),
            ("appeal", &self.appeal),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect();
        if self.reversed {
            parts.push(("reversed", "1".into()));
        }
        parts
    }
}

impl Removals {
    /// Counts one case of `procedure`, if its decision was confirmed. A reversed removal
    /// counts under the grounds it had before the appeal.
    pub fn add(&mut self, procedure: &str, c: &ProcedureCase) {
        if !confirmed(c) {
            return;
        }
        let reversed = reversed(c);
        self.total += 1;
        self.reversed += reversed as u64;
        self.by_procedure.add(procedure, reversed);
        self.by_run.add(&c.run, reversed);
        let codes = ground_codes(c);
        for code in &codes {
            self.by_ground.add(code, reversed);
        }
        if let Some(state) = appeal_state(c) {
            *self.appeals.entry(state.to_string()).or_default() += 1;
            for code in &codes {
                self.appeals_by_ground.add(code, reversed);
            }
        }
    }

    /// The share reversed, in percent.
    pub fn share_reversed(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.reversed as f64 / self.total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::person::{AppealCase, Decision};
    use events::catalogue::{Ground, Status, Subject};

    fn ground(code: &str) -> Ground {
        Ground {
            code: code.into(),
            clause: "000:6".into(),
            subject: Subject::Recipient,
            subject_iin: "x".into(),
            registry: "gosreestr".into(),
            evidence: vec![],
        }
    }

    fn case(run: &str, outcome: DecisionOutcome, grounds: &[&str], appeal: Option<AppealOutcome>) -> ProcedureCase {
        let decision = Decision { outcome, decided_by: "x".into(), reference: None, seq: 1, official: None };
        let g: Vec<Ground> = grounds.iter().map(|c| ground(c)).collect();
        let appeal = appeal.map(|o| AppealCase { outcome: Some(o), contested_grounds: g.clone(), ..Default::default() });
        let reversed = appeal.as_ref().is_some_and(|a| a.outcome == Some(AppealOutcome::Overturned));
        ProcedureCase {
            run: run.into(),
            status: if reversed { Status::Retained } else { Status::Removed },
            grounds: if reversed { vec![] } else { g },
            decision: Some(decision),
            appeal,
            ..Default::default()
        }
    }

    #[test]
    fn confirmed_decisions_count_and_a_reversal_keeps_its_grounds() {
        let mut r = Removals::default();
        r.add("registry_removal", &case("r1", DecisionOutcome::Confirmed, &["privatization", "privatization"], None));
        r.add("registry_removal", &case("r1", DecisionOutcome::Confirmed, &["shared_construction"], Some(AppealOutcome::Overturned)));
        r.add("registry_removal", &case("r2", DecisionOutcome::Confirmed, &["privatization"], Some(AppealOutcome::Upheld)));
        r.add("lease_termination", &case("r2", DecisionOutcome::Declined, &["privatization"], None));
        assert_eq!((r.total, r.reversed), (3, 1));
        assert_eq!(r.by_ground.rows(|k| k.to_string()), [("privatization".into(), 2, 0), ("shared_construction".into(), 1, 1)]);
        assert_eq!(r.by_run.rows(|k| k.to_string()), [("r1".into(), 2, 1), ("r2".into(), 1, 0)]);
        assert_eq!(r.by_procedure.rows(|k| k.to_string()), [("registry_removal".into(), 3, 1)]);
        assert!((r.share_reversed() - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.appeals, BTreeMap::from([("overturned".into(), 1), ("upheld".into(), 1)]));
        assert_eq!(r.appeals_by_ground.rows(|k| k.to_string()), [("privatization".into(), 1, 0), ("shared_construction".into(), 1, 1)]);
    }

    #[test]
    fn appeal_states_and_filters() {
        let mut filed = case("r1", DecisionOutcome::Confirmed, &["privatization"], None);
        filed.appeal = Some(AppealCase::default());
        filed.locality = Some("Астана".into());
        let mut suspended = filed.clone();
        suspended.appeal.as_mut().unwrap().suspended = true;
        let mut rechecked = suspended.clone();
        rechecked.appeal.as_mut().unwrap().recheck = Some(crate::person::Recheck { verdict: events::catalogue::CheckVerdict::Clear, grounds: vec![], seq: 9 });
        let overturned = case("r2", DecisionOutcome::Confirmed, &["shared_construction"], Some(AppealOutcome::Overturned));
        let states: Vec<_> = [&filed, &suspended, &rechecked, &overturned, &case("r1", DecisionOutcome::Confirmed, &[], None)].map(appeal_state).to_vec();
        assert_eq!(states, [Some("filed"), Some("suspended"), Some("rechecked"), Some("overturned"), None]);

        let all = Filter::default();
        let cases = [("registry_removal", &filed), ("lease_termination", &rechecked), ("registry_removal", &overturned)];
        let count = |f: &Filter| cases.iter().filter(|(p, c)| f.matches(p, c)).count();
        assert_eq!(count(&all), 3);
        assert_eq!(count(&all.and("procedure", "registry_removal")), 2);
        assert_eq!(count(&all.and("locality", "Астана")), 2, "a case without a locality is not in Астана");
        assert_eq!(count(&all.and("ground", "shared_construction")), 1, "a reversed one counts under its contested ground");
        assert_eq!(count(&all.and("reversed", "1").and("procedure", "lease_termination")), 0);
        assert_eq!(count(&all.and("appeal", "rechecked")), 1);
        assert_eq!(count(&all.and("appeal", "any")), 3);
        assert!(!all.matches("registry_removal", &case("r1", DecisionOutcome::Declined, &[], None)), "a declined proposal is no removal");
        assert_eq!(all.and("run", "r1").and("reversed", "1").parts(), [("run", "r1".to_string()), ("reversed", "1".to_string())]);
    }
}
