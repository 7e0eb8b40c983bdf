//! Retention as data (issue 32): how long each kind of case is kept, from which event, on which
//! legal basis (`rules/retention-*.json`), and the erasure of what is due. Periods the
//! operator's legal service has not confirmed say so in the file and in every listing.

use crate::erasure::{erase_subject, Erased, ErasureError};
use crate::ledger::{Ledger, LedgerError};
use chrono::NaiveDate;
use events::catalogue::{InputRejected, Status};
use events::types::*;
use projections::person::ProcedureCase;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use verifier::registry::EntryHead;

/// The retention rules files under `rules/` (`retention-*.json`), by name, oldest first.
pub const VERSIONS: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/retention_rules.rs"));

/// A retention rules file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRules {
    pub id: String,
    pub version: u32,
    pub valid_from: String,
    pub law: String,
    pub note: String,
    /// By kind of case: `retained`, `removed`, `overturned`, `invalid_input`, `no_consent`.
    pub kinds: BTreeMap<String, Period>,
}

/// How long one kind of case is kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// ISO 8601: `P5Y`, `P6M`, `P90D`.
    pub period: String,
    /// The event type the period counts from (the person's latest of it).
    pub from: String,
    pub basis: String,
    pub source: String,
    /// Whether the operator's legal service has confirmed the period.
    pub confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_confirm: Option<String>,
}

/// The kinds of case a rules file must give a period for.
const KINDS: [&str; 5] = ["retained", "removed", "overturned", "invalid_input", "no_consent"];

/// A retention rules file that cannot be used, naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("retention rules: {0}")]
    Json(serde_json::Error),
    #[error("retention rules: no period for {0}")]
    NoPeriod(&'static str),
    #[error("retention rules: {kind}: period {period:?} is not PnY, PnM or PnD")]
    Period { kind: &'static str, period: String },
    #[error("retention rules: unknown kind of case {0:?} (known: {known})", known = KINDS.join(", "))]
    UnknownKind(String),
}

impl RetentionRules {
    pub fn parse(text: &str) -> Result<Self, RulesError> {
        let rules: Self = serde_json::from_str(text).map_err(RulesError::Json)?;
        for k in KINDS {
            let p = rules.kinds.get(k).ok_or(RulesError::NoPeriod(k))?;
            add_period(NaiveDate::MIN, &p.period).ok_or_else(|| RulesError::Period { kind: k, period: p.period.clone() })?;
        }
        if let Some(k) = rules.kinds.keys().find(|k| !KINDS.contains(&k.as_str())) {
            return Err(RulesError::UnknownKind(k.clone()));
        }
        Ok(rules)
    }

    /// The newest rules built in (the highest `version` of `rules/retention-*.json`).
    pub fn built_in() -> Self {
        let all = VERSIONS.iter().map(|(name, text)| Self::parse(text).unwrap_or_else(|e| panic!("{name}: {e}")));
        all.max_by_key(|r| r.version).expect("rules/ holds a retention-*.json")
    }

    /// `retention:v1`: how an erasure names the rules it followed.
    pub fn name(&self) -> String {
        format!("{}:v{}", self.id, self.version)
    }
}

/// `date` plus an ISO 8601 period of years, months or days.
fn add_period(date: NaiveDate, period: &str) -> Option<NaiveDate> {
    let rest = period.strip_prefix('P')?;
    let (n, unit) = rest.split_at(rest.len().checked_sub(1)?);
    let n: u32 = n.parse().ok()?;
    match unit {
        "Y" => date.checked_add_months(chrono::Months::new(n.checked_mul(12)?)),
        "M" => date.checked_add_months(chrono::Months::new(n)),
        "D" => date.checked_add_days(chrono::Days::new(n as u64)),
        _ => None,
    }
    .or((date == NaiveDate::MIN).then_some(date))
}

/// A case whose period has run out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Due {
    /// The person as his cases name him (an IIN; for an entry refused before it had a case, the
    /// IIN as the list wrote it).
    pub person: String,
    pub kind: String,
    /// The event the period counts from, and when it was recorded.
    pub from_seq: u64,
    pub from_time: String,
    pub due_on: String,
    pub confirmed: bool,
}

/// The kind of a closed case, `None` while its purpose lasts (a check under way, a proposal
/// awaiting its decision).
fn kind_of(case: &ProcedureCase) -> Option<&'static str> {
    if case.appeal.as_ref().is_some_and(|a| a.outcome == Some(events::catalogue::AppealOutcome::Overturned)) {
        return Some("overturned");
    }
    if case.appeal.as_ref().is_some_and(|a| a.state != "resolved") {
        return None;
    }
    match case.status {
        Status::Retained => Some("retained"),
        Status::Removed | Status::Terminated => Some("removed"),
        Status::InvalidInput => Some("invalid_input"),
        Status::NoConsent => Some("no_consent"),
        _ => None,
    }
}

/// Everything due on `today` under `rules`: a person is due once every case of his is closed
/// and the period of each has run out (his erasure erases them all).
pub async fn due(ledger: &Ledger, rules: &RetentionRules, today: NaiveDate) -> Result<Vec<Due>, LedgerError> {
    let rows = ledger.projections().projection_all(crate::read_models::PERSONS).await?;
    let seal = crate::read_models::RowSeal::of(ledger);
    let mut out = Vec::new();
    let mut with_case = BTreeSet::new();
    for (iin, row) in rows {
        with_case.insert(iin.clone());
        let Ok(doc) = seal.open(crate::read_models::PERSONS, &iin, &row) else { continue };
        let Ok(cases) = serde_json::from_str::<BTreeMap<String, ProcedureCase>>(doc) else { continue };
        let kinds: Option<Vec<&str>> = cases.values().map(kind_of).collect();
        let Some(kinds) = kinds.filter(|k| !k.is_empty()) else { continue };
        let events = person_events(ledger, &iin, &cases).await?;
        let mut latest: Option<Due> = None;
        for (case, kind) in cases.values().zip(kinds) {
            let period = &rules.kinds[kind];
            let of_case = |e: &&events::Event| e.kind == period.from && (period.from == APPEAL_RESOLVED || e.run() == Some(case.run.as_str()));
            let from = events.iter().filter(of_case).max_by_key(|e| e.seq);
            let Some(from) = from else {
                latest = None;
                break;
            };
            let Some(d) = due_of(&iin, kind, period, from.seq, &from.time) else { continue };
            if latest.as_ref().is_none_or(|l| l.due_on < d.due_on) {
                latest = Some(d);
            }
        }
        if let Some(d) = latest.filter(|d| d.due_on.as_str() <= today.to_string().as_str()) {
            out.push(d);
        }
    }
    // Entries refused before they had a case (an IIN that fails its control): by the list's text.
    let period = &rules.kinds["invalid_input"];
    let mut refused: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for e in ledger.log().read_all_by_type(INPUT_REJECTED).await? {
        let Some(r) = e.as_type::<InputRejected>() else { continue };
        let Some(person) = EntryHead::of(&r.entry).iin.filter(|p| !p.is_empty() && !with_case.contains(p.as_str())) else { continue };
        refused.insert(person, (e.seq, e.time.clone()));
    }
    for (person, (seq, time)) in refused {
        if let Some(d) = due_of(&person, "invalid_input", period, seq, &time).filter(|d| d.due_on.as_str() <= today.to_string().as_str()) {
            out.push(d);
        }
    }
    Ok(out)
}

fn due_of(person: &str, kind: &str, period: &Period, seq: u64, time: &str) -> Option<Due> {
    let day = chrono::DateTime::parse_from_rfc3339(time).ok()?.date_naive();
    let due_on = add_period(day, &period.period)?;
    Some(Due { person: person.into(), kind: kind.into(), from_seq: seq, from_time: time.into(), due_on: due_on.to_string(), confirmed: period.confirmed })
}

/// A person's events a period may count from: his stream, his appeals' resolutions and his
/// refused entries in his runs' streams.
async fn person_events(ledger: &Ledger, iin: &str, cases: &BTreeMap<String, ProcedureCase>) -> Result<Vec<events::Event>, LedgerError> {
    let mut events = ledger.log().read_stream(&person_stream(iin), None).await?;
    for c in cases.values() {
        if let Some(a) = &c.appeal {
            events.extend(ledger.log().read_stream(&appeal_stream(&a.appeal), Some(APPEAL_RESOLVED)).await?);
        }
        if c.status == Status::InvalidInput {
            let refused = ledger.log().read_stream(&run_stream(&c.run), Some(INPUT_REJECTED)).await?;
            events.extend(refused.into_iter().filter(|e| e.as_type::<InputRejected>().is_some_and(|r| EntryHead::of(&r.entry).iin.as_deref() == Some(iin))));
        }
    }
    Ok(events)
}

/// Erases everything due on `today`, each with the rule that made it due. Returns what was
/// erased; the first refusal stops it (what was erased before stays erased and recorded).
pub async fn apply(ledger: &Ledger, rules: &RetentionRules, today: NaiveDate, erased_by: &str) -> Result<Vec<(Due, Erased)>, ErasureError> {
    let mut done = Vec::new();
    for d in due(ledger, rules, today).await? {
        let period = &rules.kinds[&d.kind];
        let reason = format!("retention period {} of a {} case, from {} (seq {}), ran out on {}", period.period, d.kind, period.from, d.from_seq, d.due_on);
        let rule = format!("{}#{}", rules.name(), d.kind);
        let e = erase_subject(ledger, &d.person, &reason, &period.source, erased_by, Some(&rule)).await?;
        done.push((d, e));
    }
    Ok(done)
}
