//! The step machine: a rule set's steps judged in order, fed the answers of each step. One
//! pure state machine serves every place that judges steps — the pipeline (which asks the
//! registries), an appeal's re-check (from the contested step), and the offline verifier of a
//! proof bundle (which takes the answers from the bundle) — so they cannot come to disagree.
//!
//! `000:5` fixes the family for the later steps; a step that finds something ends the checks
//! (decision 1), and so does one that cannot decide (decision 6).

use super::checks::{self, Answers, CheckVerdict, Context, Family, Ground, Records};
use super::records::RegistryId;
use super::{CheckKind, RuleSet, Step};

/// Where the machine stands: the next step to judge, the family known so far.
#[derive(Clone, Debug)]
pub struct StepMachine<'r> {
    rules: &'r RuleSet,
    next: usize,
    recipient: String,
    ctx: Context,
    family: Family,
    outcome: Option<Outcome>,
}

/// How the steps ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every step was clear.
    Clear,
    /// A step found a ground (or an unmet criterion): its grounds.
    Found(Vec<Ground>),
    /// A step could not decide.
    Incomplete,
}

impl Outcome {
    /// The verdict the outcome amounts to.
    pub fn verdict(&self) -> CheckVerdict {
        match self {
            Outcome::Clear => CheckVerdict::Clear,
            Outcome::Found(_) => CheckVerdict::Found,
            Outcome::Incomplete => CheckVerdict::Incomplete,
        }
    }
}

/// One step judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub verdict: CheckVerdict,
    pub grounds: Vec<Ground>,
    /// Why the step could not decide, where it could not.
    pub reason: Option<String>,
    /// The family the step fixed (the family step only).
    pub family: Option<Family>,
    /// The records left out as not holding on the decision date (decisions 18 and 21): each
    /// `{registry, subject_iin, record, why}`.
    pub left_out: Vec<serde_json::Value>,
}

impl<'r> StepMachine<'r> {
    /// Starts at step index `first` of `rules` for `recipient`, judged against `ctx` (his
    /// entry's settlement, the decision date), with the family known before that step (none at
    /// the first step).
    pub fn new(rules: &'r RuleSet, first: usize, recipient: &str, ctx: Context, family: Family) -> Self {
        Self { rules, next: first, recipient: recipient.to_string(), ctx, family, outcome: None }
    }

    /// The step to answer next, with the persons it asks about; `None` once the steps ended.
    pub fn current(&self) -> Option<(&'r Step, Vec<String>)> {
        if self.outcome.is_some() {
            return None;
        }
        let step = self.rules.steps.get(self.next)?;
        Some((step, checks::subjects(step.subjects, &self.recipient, &self.family)))
    }

    /// Judges the current step from its registries' answers and moves on.
    pub fn feed(&mut self, answers: &Answers) -> Judged {
        let step = &self.rules.steps[self.next];
        self.next += 1;
        // Each answer as it stood on the decision date (decisions 18 and 21).
        let mut left_out = Vec::new();
        let mut dated: std::collections::BTreeMap<RegistryId, Records> = std::collections::BTreeMap::new();
        let mut fault = None;
        for (r, records) in answers {
            match checks::on_decision_date(*r, records, &self.ctx, &mut left_out) {
                Ok(d) => {
                    dated.insert(*r, d);
                }
                Err(why) => {
                    fault.get_or_insert(why);
                }
            }
        }
        let answers: Answers = dated.iter().map(|(r, v)| (*r, v)).collect();
        let judged = if let Some(why) = fault {
            Judged { verdict: CheckVerdict::Incomplete, grounds: Vec::new(), reason: Some(why.to_string()), family: None, left_out: Vec::new() }
        } else if step.check == CheckKind::Family {
            let empty = Default::default();
            self.family = checks::family(&self.recipient, answers.get(&RegistryId::Zags).copied().unwrap_or(&empty));
            Judged { verdict: CheckVerdict::Clear, grounds: Vec::new(), reason: None, family: Some(self.family.clone()), left_out }
        } else {
            let (verdict, grounds, reason) = checks::judge(step, &self.recipient, &self.family, &self.ctx, &answers);
            Judged { verdict, grounds, reason, family: None, left_out }
        };
        match judged.verdict {
            CheckVerdict::Found => self.outcome = Some(Outcome::Found(judged.grounds.clone())),
            CheckVerdict::Incomplete => self.outcome = Some(Outcome::Incomplete),
            CheckVerdict::Clear if self.next >= self.rules.steps.len() => self.outcome = Some(Outcome::Clear),
            CheckVerdict::Clear => {}
        }
        judged
    }

    /// How the steps ended; `None` while a step is still to be answered.
    pub fn outcome(&self) -> Option<&Outcome> {
        match (&self.outcome, self.next >= self.rules.steps.len()) {
            (Some(o), _) => Some(o),
            (None, true) => Some(&Outcome::Clear),
            (None, false) => None,
        }
    }
}
