//! The law as data plus small functions. A rule set (a JSON file under `rules/`) names its
//! legal basis, validity, steps and notice texts; `checks` judges registry answers step by
//! step, each function citing its clause. The rules know no store, registry or server.

pub mod calendar;
pub mod checks;
pub mod control;
pub mod entry;
pub mod explain;
pub mod iin;
pub mod notice;
pub mod records;
pub mod steps;

use events::catalogue::{ProposedOutcome, RuleSetSummary, Status};
use records::{RegistryId, Right};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The rule sets shipped with the service (every file under `rules/`, embedded at build time).
pub const BUILT_IN: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/rule_sets.rs"));

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    RegistryRemoval,
    LeaseTermination,
}

impl Procedure {
    pub const ALL: [Procedure; 2] = [Procedure::RegistryRemoval, Procedure::LeaseTermination];

    pub fn as_str(self) -> &'static str {
        match self {
            Procedure::RegistryRemoval => "registry_removal",
            Procedure::LeaseTermination => "lease_termination",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownProcedure> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownProcedure(s.into()))
    }
}

impl std::fmt::Display for Procedure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A procedure the service does not carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown procedure {0:?}: expected registry_removal or lease_termination")]
pub struct UnknownProcedure(pub String);

impl std::str::FromStr for Procedure {
    type Err = UnknownProcedure;
    fn from_str(s: &str) -> Result<Self, UnknownProcedure> {
        Self::parse(s)
    }
}

/// Text in both languages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub kk: String,
    pub ru: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subjects {
    Recipient,
    RecipientAndFamily,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Step 5: the family from ЗАГС.
    Family,
    /// Steps 6-8: any record in `field` is a ground.
    Holding,
    /// Step 9: a `right` record in the entry's locality is a ground.
    StateFundInLocality,
    /// Step 10: the five criteria.
    Criteria,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub ground: String,
    pub clause: String,
    pub covers: Subjects,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub step: String,
    pub clause: String,
    #[serde(default)]
    pub registry: Option<RegistryId>,
    #[serde(default)]
    pub registries: Option<Vec<RegistryId>>,
    pub check: CheckKind,
    #[serde(default)]
    pub ground: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub right: Option<Right>,
    pub subjects: Subjects,
    #[serde(default)]
    pub criteria: Vec<Criterion>,
}

impl Step {
    /// The registries this step asks, in order.
    pub fn registries(&self) -> Vec<RegistryId> {
        self.registries.clone().unwrap_or_else(|| self.registry.into_iter().collect())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub id: String,
    pub version: String,
    pub order: String,
    pub procedure: Procedure,
    pub categories: Vec<String>,
    pub basis: String,
    pub valid_from: Option<String>,
    pub valid_until: String,
    /// What a proposal proposes; a confirmed one leaves the person `outcome.confirmed_status()`.
    pub outcome: ProposedOutcome,
    /// The status the file names for a confirmed decision: it must be the outcome's own.
    pub confirmed_status: Status,
    pub steps: Vec<Step>,
    pub notice: Texts,
    pub reasons: BTreeMap<String, Texts>,
    pub family_suffix: Texts,
    pub reason_separator: String,
    /// SHA-256 of the RFC 8785 form of the file as loaded (not part of the file).
    #[serde(skip)]
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rule set {name}: {detail}")]
    Invalid { name: String, detail: String },
    #[error("{procedure} as of {as_of} is outside the validity of its legal basis, {basis}: in force from {from} through {until}; its last day is {until}")]
    OutsideValidity { procedure: Procedure, as_of: String, basis: String, from: String, until: String },
    #[error("no rule set for procedure {0}")]
    NoRuleSet(Procedure),
}

impl RuleSet {
    /// Parses and checks a rule-set file.
    pub fn from_json(name: &str, text: &str) -> Result<Self, RuleError> {
        let bad = |detail: String| RuleError::Invalid { name: name.to_string(), detail };
        let raw: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut rs: RuleSet = serde_json::from_value(raw.clone()).map_err(|e| bad(e.to_string()))?;
        rs.sha256 = hex::encode(events::canonical::sha256(&raw).map_err(|e| bad(e.to_string()))?);
        for d in rs.valid_from.iter().chain([&rs.valid_until]) {
            records::Date::parse(d).map_err(|e| bad(format!("validity date {e}")))?;
        }
        for step in &rs.steps {
            let grounds: Vec<&String> = step.ground.iter().chain(step.criteria.iter().map(|c| &c.ground)).collect();
            for g in grounds {
                if !rs.reasons.contains_key(g) {
                    return Err(bad(format!("step {} names ground {g} with no reason text", step.step)));
                }
                if step.check == CheckKind::Criteria && checks::criterion_fn(g).is_none() {
                    return Err(bad(format!("step {} names criterion {g}, which no function judges", step.step)));
                }
            }
            if step.registries().is_empty() {
                return Err(bad(format!("step {} asks no registry", step.step)));
            }
            if matches!(step.check, CheckKind::Holding | CheckKind::StateFundInLocality) && (step.field.is_none() || step.ground.is_none()) {
                return Err(bad(format!("step {} needs a field and a ground", step.step)));
            }
        }
        if rs.outcome != ProposedOutcome::of_procedure(rs.procedure.as_str()) {
            return Err(bad(format!("outcome {} is not what {} proposes", rs.outcome, rs.procedure)));
        }
        if rs.confirmed_status != rs.outcome.confirmed_status() {
            return Err(bad(format!("confirmed_status {} is not what outcome {} leaves ({})", rs.confirmed_status, rs.outcome, rs.outcome.confirmed_status())));
        }
        for t in [&rs.notice.kk, &rs.notice.ru] {
            if !t.contains("{reason_kk}") && !t.contains("{reason_ru}") {
                return Err(bad("a notice text has no {reason_kk}/{reason_ru} slot".into()));
            }
        }
        Ok(rs)
    }

    pub fn valid_on(&self, as_of: &str) -> bool {
        self.valid_from.as_deref().is_none_or(|f| f <= as_of) && as_of <= self.valid_until.as_str()
    }

    /// What `RunStarted` and proposals record of the rule set.
    pub fn summary(&self) -> RuleSetSummary {
        RuleSetSummary {
            id: self.id.clone(),
            version: self.version.clone(),
            sha256: self.sha256.clone(),
            basis: self.basis.clone(),
            valid_from: self.valid_from.clone(),
            valid_until: self.valid_until.clone(),
        }
    }
}

/// The rule sets the service knows: the built-in ones plus any extra files given.
#[derive(Clone, Debug, Default)]
pub struct RuleBook {
    pub sets: Vec<RuleSet>,
}

impl RuleBook {
    pub fn built_in() -> Self {
        let sets = BUILT_IN.iter().map(|(name, text)| RuleSet::from_json(name, text).expect("built-in rule sets are valid (checked by tests)")).collect();
        Self { sets }
    }

    /// Adds a rule-set file (an extension order is a new file, not a code change).
    pub fn add_file(&mut self, path: &Path) -> Result<(), RuleError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RuleError::Invalid { name: name.clone(), detail: e.to_string() })?;
        self.sets.push(RuleSet::from_json(&name, &text)?);
        Ok(())
    }

    /// The rule set for `procedure` valid on `as_of` (the latest version where several are),
    /// or an error naming the basis and its last day.
    pub fn select(&self, procedure: Procedure, as_of: &str) -> Result<&RuleSet, RuleError> {
        records::Date::parse(as_of).map_err(|detail| RuleError::Invalid { name: "--as-of".into(), detail: detail.to_string() })?;
        let mut candidates: Vec<&RuleSet> = self.sets.iter().filter(|r| r.procedure == procedure).collect();
        candidates.sort_by(|a, b| (&a.valid_until, &a.version).cmp(&(&b.valid_until, &b.version)));
        if let Some(rs) = candidates.iter().rev().find(|r| r.valid_on(as_of)) {
            return Ok(rs);
        }
        let latest = candidates.last().ok_or(RuleError::NoRuleSet(procedure))?;
        Err(RuleError::OutsideValidity {
            procedure,
            as_of: as_of.into(),
            basis: format!("order {} ({} v{})", latest.order, latest.id, latest.version),
            from: latest.valid_from.clone().unwrap_or_else(|| "its first official publication".into()),
            until: latest.valid_until.clone(),
        })
    }

    pub fn by_sha(&self, sha: &str) -> Option<&RuleSet> {
        self.sets.iter().find(|r| r.sha256 == sha)
    }
}
