//! The dashboard's figures, folded from the persons projection alone: removals and
//! terminations (confirmed decisions), and how many of them were reversed on appeal, by
//! procedure, by ground and by run.

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
}

impl Removals {
    /// Counts one case of `procedure`, if its decision was confirmed. A reversed removal
    /// counts under the grounds it had before the appeal.
    pub fn add(&mut self, procedure: &str, c: &ProcedureCase) {
        if c.decision.as_ref().is_none_or(|d| d.outcome != DecisionOutcome::Confirmed) {
            return;
        }
        let reversed = c.appeal.as_ref().is_some_and(|a| a.outcome == Some(AppealOutcome::Overturned));
        let grounds = if reversed { c.appeal.as_ref().map(|a| a.contested_grounds.as_slice()).unwrap_or_default() } else { &c.grounds };
        self.total += 1;
        self.reversed += reversed as u64;
        self.by_procedure.add(procedure, reversed);
        self.by_run.add(&c.run, reversed);
        let mut codes: Vec<&str> = grounds.iter().map(|g| g.code.as_str()).collect();
        codes.dedup();
        for code in codes {
            self.by_ground.add(code, reversed);
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
    }
}
