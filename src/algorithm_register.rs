//! The public algorithm register's document (`/register.json`, and the page `/register` drawn
//! from it, `web::algorithm_register`): for each procedure its legal basis and validity, its
//! rule-set versions step by step, the data sources and their keys, where humans decide and
//! how to appeal, aggregate figures from the projections only (a cell below `MIN_CELL` persons
//! is suppressed), and the log's checkpoint. No personal data. The fields follow the
//! Dutch/Amsterdam algorithm register standard where they fit (named in the README).

use crate::registry::TrustedKeys;
use crate::rules::records::RegistryId;
use crate::rules::{CheckKind, Procedure, RuleBook, RuleSet};
use projections::dashboard::Removals;
use projections::person::ProcedureCase;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Persons a published cell must count at least; fewer are suppressed.
pub const MIN_CELL: u64 = 10;

/// A count as published: the count, or `None` if it is suppressed (1 to `MIN_CELL - 1`).
fn cell(n: u64) -> Option<u64> {
    (n == 0 || n >= MIN_CELL).then_some(n)
}

/// The aggregate figures of one procedure, folded from the persons projection.
#[derive(Default)]
pub struct Figures {
    runs: BTreeSet<String>,
    removals: Removals,
}

/// Figures per procedure from the stored persons projection's rows (`iin` → cases).
pub fn figures(rows: &[(String, String)]) -> BTreeMap<String, Figures> {
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    for (_, doc) in rows {
        let Ok(cases) = serde_json::from_str::<BTreeMap<String, ProcedureCase>>(doc) else { continue };
        for (procedure, c) in &cases {
            let f = out.entry(procedure.clone()).or_default();
            f.runs.insert(c.run.clone());
            f.removals.add(procedure, c);
        }
    }
    out
}

impl Figures {
    fn published(&self) -> Published {
        let r = &self.removals;
        let by_ground: BTreeMap<String, Option<u64>> = r.by_ground.0.iter().map(|(code, (n, _))| (code.clone(), cell(*n))).collect();
        // A share is published only where both counts it divides are.
        let share = (cell(r.total).is_some_and(|n| n > 0) && cell(r.reversed).is_some()).then(|| (r.share_reversed() * 10.0).round() / 10.0);
        Published {
            runs: self.runs.len(),
            decisions_confirmed: cell(r.total),
            by_ground,
            overturned_on_appeal: cell(r.reversed),
            share_overturned_percent: share,
        }
    }
}

// The register's document, typed. Each struct's members are declared in the order `serde_json`
// sorts a map's keys, so that `/register.json` keeps the bytes it had as a map (a golden file,
// `tests/data/register-golden.json`, holds them).

/// `/register.json`: the Algorithm Register Metadata Standard's fields, where they fit.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub checkpoint: Option<String>,
    pub procedures: Vec<Entry>,
    pub standard: String,
    pub suppressed_below: u64,
    pub verify: String,
}

/// One procedure's entry in the register.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub area: String,
    pub begin_date: Option<String>,
    pub decision_making_process: String,
    pub department: String,
    pub description_short: String,
    pub domain: String,
    pub end_date: Option<String>,
    pub figures: Published,
    pub human_intervention: String,
    pub legal_basis: Option<String>,
    pub methods_and_models: String,
    pub name: String,
    pub objection_procedure: String,
    pub organization: String,
    pub procedure: String,
    pub rule_sets: Vec<RuleSetEntry>,
    pub source_data: Vec<SourceEntry>,
    pub status: String,
}

/// A procedure's aggregate figures as published (a count below `MIN_CELL` is `None`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    pub by_ground: BTreeMap<String, Option<u64>>,
    pub decisions_confirmed: Option<u64>,
    pub overturned_on_appeal: Option<u64>,
    pub runs: usize,
    pub share_overturned_percent: Option<f64>,
}

/// A rule set as the register shows it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetEntry {
    pub categories: Vec<String>,
    pub id: String,
    pub order: String,
    pub sha256: String,
    pub steps: Vec<StepEntry>,
    pub valid_from: Option<String>,
    pub valid_until: String,
    pub version: String,
}

/// A step of a rule set: its clause, what it asks and the ground it may find.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepEntry {
    pub check: CheckKind,
    pub clause: String,
    pub criteria: Vec<String>,
    pub ground: Option<String>,
    pub registries: Vec<String>,
    pub step: String,
}

/// A data source, its key and its entries in the trust list.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceEntry {
    pub name: String,
    pub registry: String,
    pub trust: Option<Vec<Value>>,
    pub verifier_key: Option<String>,
}

/// Where each registry's data comes from.
fn source_name(r: RegistryId) -> &'static str {
    match r {
        RegistryId::Zags => "civil registry (ЗАГС / АХАЖ)",
        RegistryId::Gosreestr => "state property register (ГосРеестр)",
        RegistryId::Kazreestr => "shared construction register (Казреестр)",
        RegistryId::IshAsMr => "defence gateway (ИШ АС МР)",
        RegistryId::Egkn => "cadastre (ЕГКН)",
        RegistryId::GbdFl => "national person database (ГБД ФЛ)",
    }
}

fn rule_set_entry(rs: &RuleSet) -> RuleSetEntry {
    RuleSetEntry {
        id: rs.id.clone(),
        version: rs.version.clone(),
        order: rs.order.clone(),
        sha256: rs.sha256.clone(),
        valid_from: rs.valid_from.clone(),
        valid_until: rs.valid_until.clone(),
        categories: rs.categories.clone(),
        steps: rs
            .steps
            .iter()
            .map(|s| StepEntry {
                step: s.step.clone(),
                clause: s.clause.clone(),
                check: s.check,
                ground: s.ground.clone(),
                criteria: s.criteria.iter().map(|c| c.ground.clone()).collect(),
                registries: s.registries().iter().map(|r| r.as_str().to_string()).collect(),
            })
            .collect(),
    }
}

/// The register as JSON.
pub fn document(book: &RuleBook, keys: &TrustedKeys, figures: &BTreeMap<String, Figures>, checkpoint: Option<&str>) -> Register {
    let procedures: Vec<Entry> = Procedure::ALL
        .into_iter()
        .map(|p| {
            let sets: Vec<&RuleSet> = book.sets.iter().filter(|rs| rs.procedure == p).collect();
            let latest = sets.iter().max_by(|a, b| a.valid_until.cmp(&b.valid_until));
            let registries: BTreeSet<RegistryId> = sets.iter().flat_map(|rs| rs.steps.iter().flat_map(|s| s.registries())).chain([RegistryId::IshAsMr]).collect();
            Entry {
                name: format!("housing-ledger: {}", p.as_str().replace('_', " ")),
                procedure: p.as_str().into(),
                organization: "Ministry of Defence of the Republic of Kazakhstan".into(),
                department: "service housing".into(),
                area: "Republic of Kazakhstan".into(),
                domain: "housing, living and living environment".into(),
                status: "in use".into(),
                description_short: match p {
                    Procedure::RegistryRemoval => "Removes servicemen and civilian staff who hold housing or fail a criterion from the waiting list for service housing, proactively, from six state registries' answers.",
                    Procedure::LeaseTermination => "Terminates service-housing leases of persons who hold housing or fail a criterion, proactively, from six state registries' answers.",
                }
                .into(),
                legal_basis: latest.map(|rs| rs.basis.clone()),
                begin_date: latest.and_then(|rs| rs.valid_from.clone()),
                end_date: latest.map(|rs| rs.valid_until.clone()),
                methods_and_models: "Fixed rules, no learning: each step is a clause of the order, judged from registry answers by the rule set named below; an incomplete answer decides nothing (decision 6).".into(),
                rule_sets: sets.iter().map(|rs| rule_set_entry(rs)).collect(),
                source_data: registries
                    .iter()
                    .map(|r| SourceEntry {
                        registry: r.as_str().into(),
                        name: source_name(*r).into(),
                        verifier_key: keys.as_map().get(r.as_str()).cloned(),
                        trust: keys.sources.get(r).map(|es| es.iter().map(|e| serde_json::to_value(&e.doc).unwrap_or_default()).collect()),
                    })
                    .collect(),
                human_intervention: "The formed list is a proposal only. The decision on each person is taken on the ИШ АС МР side by an identified official (personal identifier, name and position) and returned signed (step 11; decisions 9 and 15). Without an identified official nothing is decided and no notice goes out.".into(),
                decision_making_process: "Steps 4 to 10 ask the registries and judge each clause; step 11 sends the proposals to ИШ АС МР, where an official decides; step 12 sends the notice, in Kazakh and Russian, naming the grounds.".into(),
                objection_procedure: "A person may appeal within three months of the notice's delivery, counted in local time in Kazakhstan; a period ending on a day off ends on the next working day (decision 17). An appeals officer who is not the official who took the decision reviews it (decision 15); a correction from the source's owner is checked against its signature and the checks run again; an overturned decision is reinstated with the original queue number and date (decision 16).".into(),
                figures: figures.get(p.as_str()).map(Figures::published).unwrap_or_else(|| Figures::default().published()),
            }
        })
        .collect();
    Register {
        standard: "Algorithm Register Metadata Standard (Amsterdam, Helsinki; algoritmeregister.org), fields where they fit".into(),
        procedures,
        suppressed_below: MIN_CELL,
        checkpoint: checkpoint.map(str::to_string),
        verify: "GET /v1/persons/{iin}/proof?procedure=P (a token of an auditor or appeals officer) gives a proof bundle; housing-ledger verify-proof FILE --ledger-key VKEY checks every signature, inclusion path, the checkpoint and that the grounds follow from the answers under the rule set named, offline.".into(),
    }
}
