//! Format-logical control of a list entry (decision 8; clause 17): the IIN with its check digit,
//! the fields each segment needs, and real dates. A failing entry is `invalid_input` with every
//! reason named, and nothing about it is queried.

use super::iin::Iin;
use super::records::{Date, Kato};
use super::{Procedure, RuleSet};
use serde_json::Value;

/// What the pipeline needs of an entry that passed the control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedEntry {
    pub iin: Iin,
    pub locality: String,
    /// The settlement's КАТО code (decision 19); `None` in a v1 list, never in a live run.
    pub kato: Option<String>,
    pub consent: bool,
}

fn text<'a>(e: &'a Value, field: &str, reasons: &mut Vec<String>) -> Option<&'a str> {
    match e.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        None | Some(Value::Null) => {
            reasons.push(format!("{field}: missing"));
            None
        }
        Some(_) => {
            reasons.push(format!("{field}: must be a non-empty string"));
            None
        }
    }
}

/// Checks one entry of the `procedure` segment, as of the run's decision date. In a `live` run
/// the settlement's КАТО code is required (decision 19); a simulation over a v1 list may lack
/// it, and its settlements then compare by name.
pub fn check_entry(rs: &RuleSet, procedure: Procedure, as_of: &str, live: bool, e: &Value) -> Result<CheckedEntry, Vec<String>> {
    let mut reasons = Vec::new();
    if !e.is_object() {
        return Err(vec!["entry is not an object".into()]);
    }
    let iin = match e.get("iin") {
        Some(Value::String(s)) => Iin::parse(s).map_err(|err| reasons.push(format!("iin: {err}"))).ok(),
        _ => {
            reasons.push("iin: missing or not a string".into());
            None
        }
    };
    text(e, "surname", &mut reasons);
    text(e, "name", &mut reasons);
    if !matches!(e.get("patronymic"), None | Some(Value::Null) | Some(Value::String(_))) {
        reasons.push("patronymic: must be a string".into());
    }
    if let Some(c) = text(e, "category", &mut reasons) {
        if !rs.categories.iter().any(|k| k == c) {
            reasons.push(format!("category: {c:?} is not one of {}", rs.categories.join(", ")));
        }
    }
    let locality = text(e, "locality", &mut reasons).map(str::to_string);
    let kato = match e.get("kato") {
        None | Some(Value::Null) if live => {
            reasons.push("kato: missing (decision 19: a settlement is its КАТО code; a live decision does not compare names)".into());
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Kato::parse(k).map(|k| k.0).map_err(|err| reasons.push(format!("kato: {err}"))).ok(),
        Some(_) => {
            reasons.push("kato: must be a string of nine digits".into());
            None
        }
    };
    let consent = match e.get("consent") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            reasons.push("consent: must be true or false".into());
            false
        }
    };
    match procedure {
        Procedure::RegistryRemoval => {
            match e.get("queue_number") {
                Some(Value::Number(n)) if n.as_u64().is_some_and(|q| q > 0) => {}
                _ => reasons.push("queue_number: must be a positive integer".into()),
            }
            if let Some(d) = text(e, "registered_on", &mut reasons) {
                match Date::parse(d) {
                    Err(err) => reasons.push(format!("registered_on: {err}")),
                    Ok(d) if d.0.as_str() > as_of => reasons.push(format!("registered_on: {} is after the decision date {as_of}", d.0)),
                    Ok(_) => {}
                }
            }
        }
        Procedure::LeaseTermination => {
            text(e, "lease_contract", &mut reasons);
            text(e, "address", &mut reasons);
        }
    }
    match (iin, locality) {
        (Some(iin), Some(locality)) if reasons.is_empty() => Ok(CheckedEntry { iin, locality, kato, consent }),
        _ => Err(reasons),
    }
}
