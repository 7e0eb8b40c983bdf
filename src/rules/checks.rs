//! The checks of steps 5 to 10, one small function each, citing its clause. They judge answers
//! already received and validated; they fetch nothing.

use super::records::{Egkn, GbdFl, RegistryId, Zags};
use super::{CheckKind, Step, Subjects};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An answer's records, by IIN. An IIN with no entry has "no records".
pub type Records = BTreeMap<String, Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Recipient,
    FamilyMember,
}

/// A ground for removal, as `ledger-format.md` defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ground {
    pub code: String,
    pub clause: String,
    pub subject: Subject,
    pub subject_iin: String,
    pub registry: String,
    pub evidence: Vec<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    Clear,
    Found,
    Incomplete,
}

/// The family fixed by step 5.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    pub spouse: Option<String>,
    pub children: Vec<String>,
}

impl Family {
    pub fn members(&self) -> Vec<String> {
        self.spouse.iter().cloned().chain(self.children.iter().cloned()).collect()
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
    T::deserialize(v).ok()
}

/// `:5` — the spouse where ЗАГС records a marriage in force, and the children it records
/// (decision 4). No record: not married, no children.
pub fn family(recipient: &str, zags: &Records) -> Family {
    let rec: Zags = zags.get(recipient).and_then(parse).unwrap_or_default();
    let mut children: Vec<String> = rec.children.iter().map(|c| c.to_string()).filter(|c| c != recipient).collect();
    children.dedup();
    Family { spouse: rec.marriage.map(|m| m.spouse_iin.to_string()).filter(|s| s != recipient), children }
}

/// Whom a step asks about (decision 3).
pub fn subjects(covers: Subjects, recipient: &str, family: &Family) -> Vec<String> {
    match covers {
        Subjects::Recipient => vec![recipient.to_string()],
        Subjects::RecipientAndFamily => std::iter::once(recipient.to_string()).chain(family.members()).collect(),
    }
}

fn subject_of(recipient: &str, iin: &str) -> Subject {
    if iin == recipient {
        Subject::Recipient
    } else {
        Subject::FamilyMember
    }
}

fn ground(step_ground: &str, clause: &str, recipient: &str, iin: &str, registry: RegistryId) -> Ground {
    Ground {
        code: step_ground.into(),
        clause: clause.into(),
        subject: subject_of(recipient, iin),
        subject_iin: iin.into(),
        registry: registry.as_str().into(),
        evidence: Vec::new(),
    }
}

/// `:6`, `:7`, `:8` — a housing record of the step's kind (privatization contract, shared-
/// construction contract, prior-station service housing) for the recipient or a family member.
pub fn holding(step: &Step, recipient: &str, subjects: &[String], records: &Records) -> Vec<Ground> {
    let (field, code, registry) = (step.field.as_deref().unwrap_or_default(), step.ground.as_deref().unwrap_or_default(), step.registries()[0]);
    subjects
        .iter()
        .filter(|iin| records.get(iin.as_str()).and_then(|r| r.get(field)).and_then(Value::as_array).is_some_and(|a| !a.is_empty()))
        .map(|iin| ground(code, &step.clause, recipient, iin, registry))
        .collect()
}

/// `:9` — state-fund housing with the step's right (permanent use) in the locality of the list
/// entry (decision 5; localities compare by exact name).
pub fn state_fund_in_locality(step: &Step, recipient: &str, subjects: &[String], records: &Records, locality: &str) -> Vec<Ground> {
    let code = step.ground.as_deref().unwrap_or_default();
    subjects
        .iter()
        .filter(|iin| {
            let rec: Egkn = records.get(iin.as_str()).and_then(parse).unwrap_or_default();
            rec.state_fund_housing.iter().any(|h| Some(h.right) == step.right && h.locality == locality)
        })
        .map(|iin| ground(code, &step.clause, recipient, iin, RegistryId::Egkn))
        .collect()
}

/// A criterion of clause 10 that is *not met* for one person: `true` means a ground.
pub type CriterionFn = fn(&GbdFl, &Zags) -> Option<RegistryId>;

/// `:10.1` — declared missing or dead (ГБД ФЛ), or a death recorded by ЗАГС.
fn missing_or_deceased(g: &GbdFl, z: &Zags) -> Option<RegistryId> {
    if g.declared_missing || g.declared_dead {
        Some(RegistryId::GbdFl)
    } else {
        z.death.as_ref().map(|_| RegistryId::Zags)
    }
}

/// `:10.2` — not a citizen of the Republic of Kazakhstan.
fn not_citizen(g: &GbdFl, _: &Zags) -> Option<RegistryId> {
    (g.citizenship != "KZ").then_some(RegistryId::GbdFl)
}

/// `:10.3` — permanently resides in another country.
fn permanent_residence_abroad(g: &GbdFl, _: &Zags) -> Option<RegistryId> {
    (g.residence_country != "KZ").then_some(RegistryId::GbdFl)
}

/// `:10.4` — declared legally incapable by a court.
fn legally_incapable(g: &GbdFl, _: &Zags) -> Option<RegistryId> {
    g.legally_incapable.then_some(RegistryId::GbdFl)
}

/// `:10.5` — in a place of deprivation of liberty.
fn imprisoned(g: &GbdFl, _: &Zags) -> Option<RegistryId> {
    g.imprisoned.then_some(RegistryId::GbdFl)
}

/// The function that judges a criterion, by its ground code.
pub fn criterion_fn(code: &str) -> Option<CriterionFn> {
    Some(match code {
        "missing_or_deceased" => missing_or_deceased,
        "not_citizen" => not_citizen,
        "permanent_residence_abroad" => permanent_residence_abroad,
        "legally_incapable" => legally_incapable,
        "imprisoned" => imprisoned,
        _ => return None,
    })
}

/// `:10` — every criterion judged from one answer of ГБД ФЛ and one of ЗАГС (decision 1);
/// each unmet criterion is a ground. A subject unknown to ГБД ФЛ leaves the criteria unconfirmed:
/// `Err` names him, and the check is incomplete.
pub fn criteria(step: &Step, recipient: &str, subjects: &[String], gbd: &Records, zags: &Records) -> Result<Vec<Ground>, String> {
    let mut grounds = Vec::new();
    for iin in subjects {
        let g: GbdFl =
            gbd.get(iin.as_str()).and_then(parse).ok_or_else(|| format!("{iin} is unknown to gbd_fl: the criteria of clause 10 cannot be confirmed"))?;
        let z: Zags = zags.get(iin.as_str()).and_then(parse).unwrap_or_default();
        for c in &step.criteria {
            if c.covers == Subjects::Recipient && iin != recipient {
                continue;
            }
            let judge = criterion_fn(&c.ground).expect("rule sets are checked at load");
            if let Some(registry) = judge(&g, &z) {
                grounds.push(ground(&c.ground, &c.clause, recipient, iin, registry));
            }
        }
    }
    Ok(grounds)
}

/// The answers a step's check reads, by registry.
pub type Answers<'a> = BTreeMap<RegistryId, &'a Records>;

/// Judges one step of 6 to 10 from its answers.
pub fn judge(step: &Step, recipient: &str, family: &Family, locality: &str, answers: &Answers) -> (CheckVerdict, Vec<Ground>, Option<String>) {
    let subjects = subjects(step.subjects, recipient, family);
    let empty = Records::new();
    let get = |r: RegistryId| answers.get(&r).copied().unwrap_or(&empty);
    let grounds = match step.check {
        CheckKind::Family => Ok(Vec::new()),
        CheckKind::Holding => Ok(holding(step, recipient, &subjects, get(step.registries()[0]))),
        CheckKind::StateFundInLocality => Ok(state_fund_in_locality(step, recipient, &subjects, get(RegistryId::Egkn), locality)),
        CheckKind::Criteria => criteria(step, recipient, &subjects, get(RegistryId::GbdFl), get(RegistryId::Zags)),
    };
    match grounds {
        Ok(g) if g.is_empty() => (CheckVerdict::Clear, g, None),
        Ok(g) => (CheckVerdict::Found, g, None),
        Err(why) => (CheckVerdict::Incomplete, Vec::new(), Some(why)),
    }
}
