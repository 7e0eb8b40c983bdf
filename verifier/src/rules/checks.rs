//! The checks of steps 5 to 10, one small function each, citing its clause. They judge answers
//! already received and validated; they fetch nothing.

use super::records::{Egkn, GbdFl, RegistryId, Zags};
use super::{CheckKind, Step, Subjects};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An answer's records, by IIN. An IIN with no entry has "no records".
pub type Records = BTreeMap<String, Value>;

/// Grounds, verdicts and subjects are the event catalogue's own: what the checks judge is what
/// the ledger records.
pub use events::catalogue::{CheckVerdict, Ground, Subject};

/// What a person is judged against: the settlement of his list entry and the decision date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The settlement's name, shown only (decision 19)...
    pub locality: String,
    /// ...and its КАТО code, compared. `None` for a v1 list entry: its settlement then
    /// compares by name, and such a run is fit for no live decision.
    pub kato: Option<String>,
    /// The decision date D (decision 18): a record dated after it did not hold on it. `None`:
    /// no date is applied (judgments recorded before decision 18).
    pub as_of: Option<String>,
    /// A live run (decision 11): a record dated after D is a fault, not a fact to leave out.
    pub live: bool,
}

impl Context {
    /// The context of a list entry (its `locality` and `kato`) in a run as of `as_of`.
    pub fn of_entry(entry: &Value, as_of: Option<&str>, live: bool) -> Self {
        let head = super::entry::EntryHead::of(entry);
        Self { locality: head.locality.unwrap_or_default(), kato: head.kato, as_of: as_of.map(String::from), live }
    }
}

/// Why a record was left out of a judgment: dated after the decision date (decision 18), or
/// housing no longer held on it (decision 21).
pub const AFTER_DECISION_DATE: &str = "after_decision_date";
pub const ENDED_BEFORE_DECISION_DATE: &str = "ended_before_decision_date";

/// The dated parts of each registry's record: `(path of an array or object, date fields)`.
/// An array's items are left out one by one; an object (a marriage, a death) as a whole.
fn dated_parts(registry: RegistryId) -> &'static [(&'static str, &'static [&'static str])] {
    match registry {
        RegistryId::Zags => &[("marriage", &["since"]), ("death", &["date"])],
        RegistryId::Gosreestr => &[("privatization_contracts", &["date"])],
        RegistryId::Kazreestr => &[("shared_construction_contracts", &["date"])],
        RegistryId::IshAsMr => &[("prior_station_housing", &["since"])],
        RegistryId::Egkn => &[("state_fund_housing", &["since"])],
        RegistryId::GbdFl => &[],
    }
}

/// Why a step cannot be judged from its answers: the check is incomplete, or (in a live run)
/// the answer is malformed. The text is what `CheckEvaluated` records as the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undecidable {
    #[error("{registry} records {part} of {iin} dated {date}, after the decision date {decision_date}: the answer is malformed (decision 18)")]
    DatedAfter { registry: RegistryId, part: &'static str, iin: String, date: String, decision_date: String },
    #[error("zags records a child {child} of {iin} born after the decision date {decision_date}: the answer is malformed (decision 18)")]
    ChildBornAfter { child: String, iin: String, decision_date: String },
    #[error("egkn: state-fund housing of {iin} in {locality:?} carries no КАТО code: the answer is malformed (decision 19)")]
    NoKato { iin: String, locality: String },
    #[error("{0} is unknown to gbd_fl: the criteria of clause 10 cannot be confirmed")]
    UnknownToGbdFl(String),
    #[error("the answer does not state {field} of {iin}: criterion {clause} cannot be judged")]
    Unstated { field: &'static str, iin: String, clause: String },
}

/// One registry's records as they stood on the decision date (decisions 18 and 21): what was
/// dated after it, and housing whose `until` is on or before it, left out and named (`left_out`:
/// registry, subject, record, why). A child born after it is no child yet. In a live run a
/// record dated after it can only be a fault: `Err` (the answer is malformed, decision 6).
pub fn on_decision_date(registry: RegistryId, records: &Records, ctx: &Context, left_out: &mut Vec<Value>) -> Result<Records, Undecidable> {
    let Some(d) = ctx.as_of.as_deref() else { return Ok(records.clone()) };
    let mut out = records.clone();
    let mut note = |iin: &str, record: Value, why: &str| {
        left_out.push(serde_json::json!({"registry": registry.as_str(), "subject_iin": iin, "record": record, "why": why}))
    };
    for (iin, rec) in out.iter_mut() {
        for (part, fields) in dated_parts(registry) {
            let after = |item: &Value| fields.iter().filter_map(|f| item.get(*f).and_then(Value::as_str)).find(|date| *date > d).map(String::from);
            let Some(v) = rec.get_mut(*part) else { continue };
            let items: Vec<Value> = match v {
                Value::Array(a) => std::mem::take(a),
                Value::Null => continue,
                other => vec![std::mem::take(other)],
            };
            let single = !matches!(rec[*part], Value::Array(_));
            let mut kept = Vec::new();
            for item in items {
                if let Some(date) = after(&item) {
                    if ctx.live {
                        return Err(Undecidable::DatedAfter { registry, part, iin: iin.clone(), date, decision_date: d.into() });
                    }
                    note(iin, item, AFTER_DECISION_DATE);
                } else if item.get("until").and_then(Value::as_str).is_some_and(|u| u <= d) {
                    note(iin, item, ENDED_BEFORE_DECISION_DATE);
                } else {
                    kept.push(item);
                }
            }
            rec[*part] = if single { kept.pop().unwrap_or(Value::Null) } else { Value::Array(kept) };
        }
        if registry == RegistryId::Zags {
            if let Some(children) = rec.get_mut("children").and_then(Value::as_array_mut) {
                let born_after = |c: &Value| {
                    c.as_str().and_then(|c| super::iin::Iin::parse(c).ok()).is_some_and(|c| c.birth_date().format("%Y-%m-%d").to_string().as_str() > d)
                };
                let (later, born): (Vec<Value>, Vec<Value>) = std::mem::take(children).into_iter().partition(born_after);
                *children = born;
                for c in later {
                    if ctx.live {
                        return Err(Undecidable::ChildBornAfter { child: c.as_str().unwrap_or_default().into(), iin: iin.clone(), decision_date: d.into() });
                    }
                    note(iin, serde_json::json!({"child": c}), AFTER_DECISION_DATE);
                }
            }
        }
    }
    Ok(out)
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

/// A checked record as its type; an array is none (serde would read it by position).
fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
    crate::view::object_view(v)
}

/// `:5` — the spouse where ЗАГС records a marriage in force, and the children it records
/// (decision 4). No record: not married, no children. A family is a set of distinct persons
/// (decision 13): an IIN named twice counts once, in one order whatever the order named, so
/// that the same family always gives the same grounds. (A recipient named in his own family
/// never gets here: the answer is malformed.)
pub fn family(recipient: &str, zags: &Records) -> Family {
    let rec: Zags = zags.get(recipient).and_then(parse).unwrap_or_default();
    let spouse = rec.marriage.map(|m| m.spouse_iin.to_string()).filter(|s| s != recipient);
    let children: std::collections::BTreeSet<String> =
        rec.children.iter().map(|c| c.to_string()).filter(|c| c != recipient && Some(c) != spouse.as_ref()).collect();
    Family { spouse, children: children.into_iter().collect() }
}

/// Whom a step asks about (decision 3).
pub fn subjects(covers: Subjects, recipient: &str, family: &Family) -> Vec<String> {
    match covers {
        Subjects::Recipient => vec![recipient.to_string()],
        Subjects::RecipientAndFamily => std::iter::once(recipient.to_string()).chain(family.members()).collect(),
    }
}

pub fn subject_of(recipient: &str, iin: &str) -> Subject {
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

/// `:9` — state-fund housing with the step's right (permanent use) "in this settlement": the
/// settlement of the list entry, compared by КАТО code (decision 19). A record of that right
/// without a code, against an entry that has one, is malformed (`Err`). A v1 entry, without a
/// code, compares by name.
pub fn state_fund_in_locality(step: &Step, recipient: &str, subjects: &[String], records: &Records, ctx: &Context) -> Result<Vec<Ground>, Undecidable> {
    let code = step.ground.as_deref().unwrap_or_default();
    let mut grounds = Vec::new();
    for iin in subjects {
        let rec: Egkn = records.get(iin.as_str()).and_then(parse).unwrap_or_default();
        let mut found = false;
        for h in rec.state_fund_housing.iter().filter(|h| Some(h.right) == step.right) {
            found |= match (&ctx.kato, &h.kato) {
                (Some(entry), Some(held)) => *entry == held.0,
                (Some(_), None) => return Err(Undecidable::NoKato { iin: iin.clone(), locality: h.locality.clone() }),
                (None, _) => h.locality == ctx.locality,
            };
        }
        if found {
            grounds.push(ground(code, &step.clause, recipient, iin, RegistryId::Egkn));
        }
    }
    Ok(grounds)
}

/// A criterion of clause 10 judged for one person: `Some(registry)` is a ground shown by that
/// registry, `None` the criterion met; `Err` names a field the answer does not state.
pub type CriterionFn = fn(&GbdFl, &Zags) -> Result<Option<RegistryId>, &'static str>;

/// A field a criterion reads; an answer that does not state it leaves the criterion unjudged.
fn stated<T: Copy>(v: Option<T>, field: &'static str) -> Result<T, &'static str> {
    v.ok_or(field)
}

/// `:10.1` — declared missing or dead (ГБД ФЛ), or a death recorded by ЗАГС.
fn missing_or_deceased(g: &GbdFl, z: &Zags) -> Result<Option<RegistryId>, &'static str> {
    if stated(g.declared_missing, "declared_missing")? || stated(g.declared_dead, "declared_dead")? {
        Ok(Some(RegistryId::GbdFl))
    } else {
        Ok(z.death.as_ref().map(|_| RegistryId::Zags))
    }
}

/// `:10.2` — not a citizen of the Republic of Kazakhstan.
fn not_citizen(g: &GbdFl, _: &Zags) -> Result<Option<RegistryId>, &'static str> {
    Ok((!g.citizenship.as_ref().ok_or("citizenship")?.is_kazakhstan()).then_some(RegistryId::GbdFl))
}

/// `:10.3` — permanently resides in another country.
fn permanent_residence_abroad(g: &GbdFl, _: &Zags) -> Result<Option<RegistryId>, &'static str> {
    Ok((!g.residence_country.as_ref().ok_or("residence_country")?.is_kazakhstan()).then_some(RegistryId::GbdFl))
}

/// `:10.4` — declared legally incapable by a court.
fn legally_incapable(g: &GbdFl, _: &Zags) -> Result<Option<RegistryId>, &'static str> {
    Ok(stated(g.legally_incapable, "legally_incapable")?.then_some(RegistryId::GbdFl))
}

/// `:10.5` — in a place of deprivation of liberty.
fn imprisoned(g: &GbdFl, _: &Zags) -> Result<Option<RegistryId>, &'static str> {
    Ok(stated(g.imprisoned, "imprisoned")?.then_some(RegistryId::GbdFl))
}

/// A criterion of clause 10: its function, and the fields of ГБД ФЛ and ЗАГС it reads (all
/// that is asked about a person for it: decision 14).
pub struct Criterion {
    pub judge: CriterionFn,
    pub gbd_fl: &'static [&'static str],
    pub zags: &'static [&'static str],
}

/// The criterion of a ground code.
pub fn criterion(code: &str) -> Option<Criterion> {
    let (judge, gbd_fl, zags): (CriterionFn, &'static [&'static str], &'static [&'static str]) = match code {
        "missing_or_deceased" => (missing_or_deceased, &["declared_missing", "declared_dead"], &["death"]),
        "not_citizen" => (not_citizen, &["citizenship"], &[]),
        "permanent_residence_abroad" => (permanent_residence_abroad, &["residence_country"], &[]),
        "legally_incapable" => (legally_incapable, &["legally_incapable"], &[]),
        "imprisoned" => (imprisoned, &["imprisoned"], &[]),
        _ => return None,
    };
    Some(Criterion { judge, gbd_fl, zags })
}

/// The function that judges a criterion, by its ground code.
pub fn criterion_fn(code: &str) -> Option<CriterionFn> {
    criterion(code).map(|c| c.judge)
}

/// One query a step makes of a registry: whom it asks about and which fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub subjects: Vec<String>,
    pub fields: Vec<String>,
    /// Set on a query that asks only about family members, for fewer fields than the
    /// recipient's (`"family"`): it tells the request ids of one step apart.
    pub part: Option<&'static str>,
}

/// The queries a step makes of `registry` about `subjects`: those asked the same fields in one
/// query, the recipient's first (decision 14).
pub fn queries(step: &Step, registry: RegistryId, recipient: &str, subjects: &[String]) -> Vec<Query> {
    let mut out: Vec<Query> = Vec::new();
    for s in subjects {
        let fields = fields(step, registry, subject_of(recipient, s));
        match out.iter_mut().find(|q| q.fields == fields) {
            Some(q) => q.subjects.push(s.clone()),
            None => {
                let part = (!out.is_empty()).then_some("family");
                out.push(Query { subjects: vec![s.clone()], fields, part });
            }
        }
    }
    out
}

/// The fields a step asks of `registry` about one subject (decision 14): step 5 the marriage
/// and children of the recipient, steps 6-9 their one field, step 10 what the criteria that
/// cover this subject read (about a family member only 10.1 and 10.5).
pub fn fields(step: &Step, registry: RegistryId, subject: Subject) -> Vec<String> {
    let mut out: Vec<String> = match step.check {
        CheckKind::Family => vec!["marriage".into(), "children".into()],
        CheckKind::Holding | CheckKind::StateFundInLocality => step.field.iter().cloned().collect(),
        CheckKind::Criteria => step
            .criteria
            .iter()
            .filter(|c| subject == Subject::Recipient || c.covers == Subjects::RecipientAndFamily)
            .filter_map(|c| criterion(&c.ground))
            .flat_map(|c| if registry == RegistryId::Zags { c.zags } else { c.gbd_fl }.iter().map(|f| f.to_string()))
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

/// `:10` — every criterion judged from one answer of ГБД ФЛ and one of ЗАГС (decision 1);
/// each unmet criterion is a ground. A subject unknown to ГБД ФЛ leaves the criteria unconfirmed:
/// `Err` names him, and the check is incomplete.
pub fn criteria(step: &Step, recipient: &str, subjects: &[String], gbd: &Records, zags: &Records) -> Result<Vec<Ground>, Undecidable> {
    let mut grounds = Vec::new();
    for iin in subjects {
        let g: GbdFl = gbd.get(iin.as_str()).and_then(parse).ok_or_else(|| Undecidable::UnknownToGbdFl(iin.clone()))?;
        let z: Zags = zags.get(iin.as_str()).and_then(parse).unwrap_or_default();
        for c in &step.criteria {
            if c.covers == Subjects::Recipient && iin != recipient {
                continue;
            }
            let judge = criterion_fn(&c.ground).expect("rule sets are checked at load");
            match judge(&g, &z) {
                Ok(Some(registry)) => grounds.push(ground(&c.ground, &c.clause, recipient, iin, registry)),
                Ok(None) => {}
                Err(field) => return Err(Undecidable::Unstated { field, iin: iin.clone(), clause: c.clause.clone() }),
            }
        }
    }
    Ok(grounds)
}

/// The answers a step's check reads, by registry.
pub type Answers<'a> = BTreeMap<RegistryId, &'a Records>;

/// Judges one step of 6 to 10 from its answers.
pub fn judge(step: &Step, recipient: &str, family: &Family, ctx: &Context, answers: &Answers) -> (CheckVerdict, Vec<Ground>, Option<String>) {
    let subjects = subjects(step.subjects, recipient, family);
    let empty = Records::new();
    let get = |r: RegistryId| answers.get(&r).copied().unwrap_or(&empty);
    let grounds = match step.check {
        CheckKind::Family => Ok(Vec::new()),
        CheckKind::Holding => Ok(holding(step, recipient, &subjects, get(step.registries()[0]))),
        CheckKind::StateFundInLocality => state_fund_in_locality(step, recipient, &subjects, get(RegistryId::Egkn), ctx),
        CheckKind::Criteria => criteria(step, recipient, &subjects, get(RegistryId::GbdFl), get(RegistryId::Zags)),
    };
    match grounds {
        Ok(g) if g.is_empty() => (CheckVerdict::Clear, g, None),
        Ok(g) => (CheckVerdict::Found, g, None),
        Err(why) => (CheckVerdict::Incomplete, Vec::new(), Some(why.to_string())),
    }
}
