//! The public algorithm register (`/register`, `/register.json`): for each procedure its legal
//! basis and validity, its rule-set versions step by step, the data sources and their keys,
//! where humans decide and how to appeal, aggregate figures from the projections only (a cell
//! below `MIN_CELL` persons is suppressed), and the log's checkpoint with how to verify a proof.
//! No token, no personal data. The JSON follows the fields of the Dutch/Amsterdam algorithm
//! register standard where they fit (named in the README).

use super::i18n::{t, Lang};
use super::view;
use crate::registry::TrustedKeys;
use crate::rules::records::RegistryId;
use crate::rules::{Procedure, RuleBook, RuleSet};
use maud::{html, Markup};
use projections::dashboard::Removals;
use projections::person::ProcedureCase;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Persons a published cell must count at least; fewer are suppressed.
const MIN_CELL: u64 = 10;

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
    fn json(&self) -> Value {
        let r = &self.removals;
        let by_ground: BTreeMap<String, Option<u64>> = r.by_ground.0.iter().map(|(code, (n, _))| (code.clone(), cell(*n))).collect();
        // A share is published only where both counts it divides are.
        let share = (cell(r.total).is_some_and(|n| n > 0) && cell(r.reversed).is_some()).then(|| (r.share_reversed() * 10.0).round() / 10.0);
        json!({
            "runs": self.runs.len(),
            "decisions_confirmed": cell(r.total),
            "by_ground": by_ground,
            "overturned_on_appeal": cell(r.reversed),
            "share_overturned_percent": share,
        })
    }
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

fn rule_set_json(rs: &RuleSet) -> Value {
    json!({
        "id": rs.id, "version": rs.version, "order": rs.order, "sha256": rs.sha256,
        "valid_from": rs.valid_from, "valid_until": rs.valid_until, "categories": rs.categories,
        "steps": rs.steps.iter().map(|s| json!({
            "step": s.step, "clause": s.clause, "check": s.check, "ground": s.ground,
            "criteria": s.criteria.iter().map(|c| c.ground.as_str()).collect::<Vec<_>>(),
            "registries": s.registries().iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The register as JSON.
pub fn document(book: &RuleBook, keys: &TrustedKeys, figures: &BTreeMap<String, Figures>, checkpoint: Option<&str>) -> Value {
    let procedures: Vec<Value> = Procedure::ALL
        .into_iter()
        .map(|p| {
            let sets: Vec<&RuleSet> = book.sets.iter().filter(|rs| rs.procedure == p).collect();
            let latest = sets.iter().max_by(|a, b| a.valid_until.cmp(&b.valid_until));
            let registries: BTreeSet<RegistryId> = sets.iter().flat_map(|rs| rs.steps.iter().flat_map(|s| s.registries())).chain([RegistryId::IshAsMr]).collect();
            json!({
                "name": format!("housing-ledger: {}", p.as_str().replace('_', " ")),
                "procedure": p.as_str(),
                "organization": "Ministry of Defence of the Republic of Kazakhstan",
                "department": "service housing",
                "area": "Republic of Kazakhstan",
                "domain": "housing, living and living environment",
                "status": "in use",
                "description_short": match p {
                    Procedure::RegistryRemoval => "Removes servicemen and civilian staff who hold housing or fail a criterion from the waiting list for service housing, proactively, from six state registries' answers.",
                    Procedure::LeaseTermination => "Terminates service-housing leases of persons who hold housing or fail a criterion, proactively, from six state registries' answers.",
                },
                "legal_basis": latest.map(|rs| rs.basis.clone()),
                "begin_date": latest.and_then(|rs| rs.valid_from.clone()),
                "end_date": latest.map(|rs| rs.valid_until.clone()),
                "methods_and_models": "Fixed rules, no learning: each step is a clause of the order, judged from registry answers by the rule set named below; an incomplete answer decides nothing (decision 6).",
                "rule_sets": sets.iter().map(|rs| rule_set_json(rs)).collect::<Vec<_>>(),
                "source_data": registries.iter().map(|r| json!({"registry": r.as_str(), "name": source_name(*r), "verifier_key": keys.as_map().get(r.as_str()).cloned(), "trust": keys.sources.get(r).map(|es| es.iter().map(|e| serde_json::to_value(&e.doc).unwrap_or_default()).collect::<Vec<_>>())})).collect::<Vec<_>>(),
                "human_intervention": "The formed list is a proposal only. The decision on each person is taken on the ИШ АС МР side by an identified official (personal identifier, name and position) and returned signed (step 11; decisions 9 and 15). Without an identified official nothing is decided and no notice goes out.",
                "decision_making_process": "Steps 4 to 10 ask the registries and judge each clause; step 11 sends the proposals to ИШ АС МР, where an official decides; step 12 sends the notice, in Kazakh and Russian, naming the grounds.",
                "objection_procedure": "A person may appeal within three months of the notice's delivery, counted in local time in Kazakhstan; a period ending on a day off ends on the next working day (decision 17). An appeals officer who is not the official who took the decision reviews it (decision 15); a correction from the source's owner is checked against its signature and the checks run again; an overturned decision is reinstated with the original queue number and date (decision 16).",
                "figures": figures.get(p.as_str()).map(Figures::json).unwrap_or_else(|| Figures::default().json()),
            })
        })
        .collect();
    json!({
        "standard": "Algorithm Register Metadata Standard (Amsterdam, Helsinki; algoritmeregister.org), fields where they fit",
        "procedures": procedures,
        "suppressed_below": MIN_CELL,
        "checkpoint": checkpoint,
        "verify": "GET /v1/persons/{iin}/proof?procedure=P (a token of an auditor or appeals officer) gives a proof bundle; housing-ledger verify-proof FILE --ledger-key VKEY checks every signature, inclusion path, the checkpoint and that the grounds follow from the answers under the rule set named, offline.",
    })
}

fn count(l: Lang, n: Option<u64>) -> String {
    match n {
        Some(n) => n.to_string(),
        None => format!("< {MIN_CELL} ({})", t(l, "reg_suppressed")),
    }
}

/// The register as a page in `l`.
pub fn page(l: Lang, doc: &Value) -> Markup {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    html! {
        // Issue 30, item 12: what happens to a person, in plain words, first; the technical
        // material after, for auditors.
        div.card #register-how {
            h2 { (t(l, "reg_how_title")) }
            @for para in t(l, "reg_how_text").split("\n") { p { (para) } }
        }
        div.card #register-intro {
            p { (t(l, "reg_intro")) }
            p { a href="/register.json" { "register.json" } }
        }
        @for p in doc["procedures"].as_array().into_iter().flatten() {
            @let procedure = s(&p["procedure"]);
            @let today = crate::rules::calendar::today().to_string();
            @let (begin, end) = (s(&p["begin_date"]), s(&p["end_date"]));
            div.card id=(format!("procedure-{procedure}")) {
                h2 { (t(l, &procedure)) }
                dl {
                    dt { (t(l, "reg_basis")) } dd { (t(l, &format!("reg_basis_{procedure}"))) }
                    dt { (t(l, "reg_validity")) } dd { (view::day(l, &begin)) " — " (view::day(l, &end)) }
                    dt { (t(l, "reg_status")) } dd #(format!("status-{procedure}")) {
                        @if today.as_str() > end.as_str() { span.bad { (t(l, "reg_ended")) } } @else if today.as_str() < begin.as_str() { (t(l, "reg_not_yet")) } @else { span.ok { (t(l, "reg_in_force")) } }
                    }
                    dt { (t(l, "reg_human")) } dd { (t(l, "reg_human_text")) }
                    dt { (t(l, "reg_appeal")) } dd { (t(l, "reg_appeal_text")) }
                    dt { (t(l, "reg_contact")) } dd { (t(l, "reg_contact_text")) }
                }
                h3 { (t(l, "reg_rule_sets")) }
                @for rs in p["rule_sets"].as_array().into_iter().flatten() {
                    p { strong { (s(&rs["id"])) " v" (s(&rs["version"])) } br; code { "sha256 " (s(&rs["sha256"])) } }
                    table {
                        thead { tr { th { (t(l, "reg_step")) } th { (t(l, "reg_clause")) } th { (t(l, "reg_asks")) } th { (t(l, "reg_ground")) } } }
                        tbody {
                            @for st in rs["steps"].as_array().into_iter().flatten() {
                                tr {
                                    td { (s(&st["step"])) }
                                    td { (s(&st["clause"])) }
                                    td { (st["registries"].as_array().into_iter().flatten().map(|r| t(l, r.as_str().unwrap_or_default())).collect::<Vec<_>>().join(", ")) }
                                    td {
                                        @if let Some(g) = st["ground"].as_str() { (t(l, g)) }
                                        @else if let Some(cs) = st["criteria"].as_array() { (cs.iter().filter_map(|c| c.as_str().or(c["ground"].as_str())).map(|g| t(l, g)).collect::<Vec<_>>().join("; ")) }
                                        @else { span.muted { (t(l, "reg_no_ground")) } }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { (t(l, "reg_sources")) }
                ul {
                    @for src in p["source_data"].as_array().into_iter().flatten() {
                        li { (t(l, src["registry"].as_str().unwrap_or_default())) ": " code { (src["verifier_key"].as_str().unwrap_or("—")) } }
                    }
                }
                h3 { (t(l, "reg_figures")) }
                @let f = &p["figures"];
                dl {
                    dt { (t(l, "reg_runs")) } dd { (f["runs"]) }
                    dt { (t(l, &format!("reg_decided_{procedure}"))) } dd { (count(l, f["decisions_confirmed"].as_u64())) }
                    dt { (t(l, "reg_overturned")) } dd {
                        (count(l, f["overturned_on_appeal"].as_u64()))
                        @if let Some(share) = f["share_overturned_percent"].as_f64() { " (" (super::dashboard::percent(share)) ")" }
                    }
                }
                @if let Some(by) = f["by_ground"].as_object().filter(|m| !m.is_empty()) {
                    table {
                        thead { tr { th { (t(l, "reg_ground")) } th { (t(l, &format!("reg_decided_{procedure}"))) } } }
                        tbody { @for (code, n) in by { tr { td { (t(l, code)) } td { (count(l, n.as_u64())) } } } }
                    }
                }
            }
        }
        div.card #register-checkpoint {
            h2 { (t(l, "reg_checkpoint")) }
            pre { (doc["checkpoint"].as_str().unwrap_or("—")) }
            p { (t(l, "reg_verify_text")) }
            pre { "housing-ledger verify-proof proof.json --ledger-key VKEY" }
        }
    }
}
