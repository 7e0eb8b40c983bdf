//! The scenario harness: a small fixture with named persons (`@A`, `@A.spouse`, ...), run
//! through the pipeline in process, rendered as one line per list entry: status, grounds,
//! which registries were asked at which step, and the notice's state.

use super::{Backend, Place};
use devtools::sim::FixtureRegistries;
use devtools::sim::DEFAULT_SIM_SEED;
use housing_ledger::pipeline::{self, Settings, Silent};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::rules::iin::Iin;
use housing_ledger::rules::{Procedure, RuleBook};
use projections::person::Persons;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A valid IIN for a name: recipients and spouses born 1985, children 2012.
pub fn iin_for(name: &str) -> String {
    let h = name.bytes().fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    let (year, sex) = if name.contains(".child") {
        (2012, 5)
    } else if name.contains(".spouse") {
        (1987, 4)
    } else {
        (1985, 3)
    };
    (0..10000u32)
        .find_map(|k| Iin::build(year, 1 + (h % 12), 1 + (h / 12 % 28), sex, ((h + k * 7919) % 10000) as u16))
        .expect("some serial gives a valid IIN")
        .to_string()
}

fn name_of(s: &str, names: &mut BTreeMap<String, String>) -> Option<String> {
    let n = s.strip_prefix('@')?;
    let iin = iin_for(n);
    names.insert(iin.clone(), n.to_string());
    Some(iin)
}

fn substitute(v: &mut Value, names: &mut BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(i) = name_of(s, names) {
                *s = i;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, names)),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut x) in old {
                substitute(&mut x, names);
                m.insert(name_of(&k, names).unwrap_or(k), x);
            }
        }
        _ => {}
    }
}

/// The official who confirms the scenarios' proposals unless a case says otherwise.
pub fn official() -> Value {
    json!({"id": iin_for("Official"), "name": "Полковник Омаров", "position": "chairman, housing commission, unit 12345"})
}

pub fn clean_gbd() -> Value {
    json!({"citizenship": "KZ", "residence_country": "KZ", "declared_missing": false, "declared_dead": false, "legally_incapable": false, "imprisoned": false})
}

/// The КАТО code the scenarios use for a settlement's name (test data: the service keeps no
/// classifier and compares only the codes the sources send).
pub fn kato_of(locality: &str) -> &'static str {
    match locality {
        "Астана" | "Нур-Султан" => "710000000",
        "Алматы" => "750000000",
        "Шымкент" => "790000000",
        "Караганда" => "351010000",
        _ => "999999999",
    }
}

/// Fills what a case leaves out: the format, entry fields, and a clean ГБД ФЛ record for every
/// person named (a case that wants none says `null`).
pub fn complete(procedure: Procedure, case: Value) -> (Value, BTreeMap<String, String>) {
    let mut names = BTreeMap::new();
    let mut case = case;
    substitute(&mut case, &mut names);
    let mut f = json!({"format": "housing-ledger/registry-fixture/v2", "segments": {}, "registries": {}, "default_official": official()});
    for k in ["decisions", "delivery_faults", "faults", "default_official"] {
        if let Some(v) = case.get(k) {
            f[k] = v.clone();
        }
    }
    // `"default_official": null`: a fixture that names none.
    if f["default_official"].is_null() {
        f.as_object_mut().unwrap().remove("default_official");
    }
    let entries: Vec<Value> = case["entries"].as_array().cloned().unwrap_or_default();
    let filled: Vec<Value> = entries
        .into_iter()
        .enumerate()
        .map(|(n, e)| {
            let mut base = match procedure {
                Procedure::RegistryRemoval => json!({"surname": "Ахметов", "name": "Ерлан", "category": "serviceman", "locality": "Астана", "kato": "710000000", "consent": true, "queue_number": 1000 + n, "registered_on": "2019-03-01"}),
                Procedure::LeaseTermination => json!({"surname": "Ахметов", "name": "Ерлан", "category": "serviceman", "locality": "Астана", "kato": "710000000", "consent": true, "lease_contract": format!("СЖ-2023-{n:04}"), "address": "Астана, ул. Кенесары 1"}),
            };
            // An entry that names another settlement without its code gets the scenario's.
            if e.get("locality").is_some() && e.get("kato").is_none() {
                base["kato"] = json!(kato_of(e["locality"].as_str().unwrap_or_default()));
            }
            for (k, v) in e.as_object().unwrap() {
                if v.is_null() {
                    base.as_object_mut().unwrap().remove(k);
                } else {
                    base[k] = v.clone();
                }
            }
            base
        })
        .collect();
    f["segments"][procedure.as_str()] = Value::Array(filled);
    let mut regs: Map<String, Value> = case.get("registries").and_then(Value::as_object).cloned().unwrap_or_default();
    // Housing records name their settlement's code where the scenario names only the place.
    for (registry, field) in [("egkn", "state_fund_housing"), ("ish_as_mr", "prior_station_housing")] {
        for rec in regs.get_mut(registry).and_then(Value::as_object_mut).into_iter().flat_map(|m| m.values_mut()) {
            for item in rec.get_mut(field).and_then(Value::as_array_mut).into_iter().flatten() {
                if item.get("kato").is_none() {
                    if let Some(l) = item.get("locality").and_then(Value::as_str) {
                        item["kato"] = json!(kato_of(l));
                    }
                }
            }
        }
    }
    let gbd = regs.entry("gbd_fl").or_insert_with(|| json!({})).as_object_mut().unwrap();
    for iin in names.keys() {
        gbd.entry(iin.clone()).or_insert_with(clean_gbd);
    }
    f["registries"] = Value::Object(regs);
    (f, names)
}

/// Names in place of the IINs a scenario named.
fn substitute_back(v: &mut Value, names: &BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(n) = names.get(s.as_str()) {
                *s = n.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute_back(x, names)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute_back(x, names)),
        _ => {}
    }
}

/// Runs a case and renders its outcome.
pub async fn render(procedure: Procedure, as_of: &str, case: Value) -> String {
    render_runs(procedure, &[as_of], case).await
}

/// Runs a case once per date in `dates`, in order, on one ledger, and renders the outcome
/// after each run (the run's date first where there are several).
pub async fn render_runs(procedure: Procedure, dates: &[&str], case: Value) -> String {
    let (fixture, names) = complete(procedure, case);
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    let fx = Fixture::parse("case", &fixture.to_string()).expect("case fixture is valid");
    render_fixture_runs(&ledger, procedure, dates, fx, &fixture, &names).await
}

/// `render_runs` over an already parsed fixture (a test may spoil it past the loader's checks).
pub async fn render_fixture_runs(
    ledger: &housing_ledger::ledger::Ledger,
    procedure: Procedure,
    dates: &[&str],
    fx: Fixture,
    fixture: &Value,
    names: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    for as_of in dates {
        if dates.len() > 1 {
            out.push_str(&format!("== run as of {as_of}\n"));
        }
        let regs = Arc::new(FixtureRegistries::new(fx.clone(), DEFAULT_SIM_SEED));
        let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
        match pipeline::run(ledger, regs, keys, &RuleBook::built_in(), procedure, as_of, Settings::default(), &Silent).await {
            Ok(summary) => out.push_str(&render_ledger(ledger, procedure, fixture, names, &summary, dates.len() > 1).await),
            Err(e) => out.push_str(&format!("error: {e}\n")),
        }
    }
    out
}

async fn render_ledger(
    ledger: &housing_ledger::ledger::Ledger,
    procedure: Procedure,
    fixture: &Value,
    names: &BTreeMap<String, String>,
    summary: &pipeline::RunSummary,
    count_notices: bool,
) -> String {
    ledger.verify(|_| {}).await.expect("the ledger verifies after every case");
    let events = ledger.log().read(0, 100_000).await.unwrap();
    let mut persons = Persons::default();
    let mut asked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &events {
        persons.apply(e);
        // Only this run's queries.
        if e.kind == "RegistryQueried" && e.data["run"] == summary.run.as_str() {
            let iin = e.stream.trim_start_matches("person:").to_string();
            let family = if e.data["request_id"].as_str().unwrap().ends_with("/family") { "(family)" } else { "" };
            asked.entry(iin).or_default().push(format!("{}:{}{family}", e.data["step"].as_str().unwrap(), e.data["registry"].as_str().unwrap()));
        }
    }
    let name = |iin: &str| names.get(iin).cloned().unwrap_or_else(|| iin.to_string());
    let mut out = String::new();
    for (i, e) in fixture["segments"][procedure.as_str()].as_array().unwrap().iter().enumerate() {
        let iin = e["iin"].as_str().unwrap_or("?");
        let position = format!("0:{i}");
        if let Some(rejected) = events.iter().find(|ev| ev.kind == "InputRejected" && ev.data["position"] == position.as_str()) {
            out.push_str(&format!("{}: invalid_input {}\n", name(iin), rejected.data["reasons"]));
            continue;
        }
        let case = persons.cases.get(iin).and_then(|m| m.get(procedure.as_str())).expect("an accepted entry has a case");
        let this_run = &summary.run;
        let already = events.iter().find(|ev| ev.kind == "AlreadyDecided" && ev.data["run"] == this_run.as_str() && ev.stream.ends_with(iin));
        out.push_str(&format!("{}: {}", name(iin), case.status));
        if let Some(a) = already {
            out.push_str(&format!(" (already decided: decision seq {} of run {})", a.data["decision"], a.data["decided_in_run"].as_str().unwrap()));
        }
        for g in &case.grounds {
            out.push_str(&format!(" | {} {} {} {} via {}", g.code, g.clause, g.subject, name(&g.subject_iin), g.registry));
        }
        let a = asked.get(iin).map(|v| v.join(" ")).unwrap_or_else(|| "nothing".into());
        out.push_str(&format!("\n    asked: {a}"));
        // Records left out as not holding on the decision date (decisions 18 and 21).
        let person = format!("person:{iin}");
        for c in events.iter().filter(|ev| ev.kind == "CheckEvaluated" && ev.stream == person && ev.data["run"] == this_run.as_str()) {
            for l in c.data["left_out"].as_array().into_iter().flatten() {
                let mut record = l["record"].clone();
                substitute_back(&mut record, names);
                out.push_str(&format!(
                    "\n    left out at step {}: {} {} of {}: {record}",
                    c.data["step"].as_str().unwrap_or_default(),
                    l["why"].as_str().unwrap_or_default(),
                    l["registry"].as_str().unwrap_or_default(),
                    name(l["subject_iin"].as_str().unwrap_or_default())
                ));
            }
            if c.data["verdict"] == "incomplete" {
                let mut why = c.data["reason"].as_str().unwrap_or_default().to_string();
                for (iin, n) in names {
                    why = why.replace(iin.as_str(), n);
                }
                out.push_str(&format!("\n    incomplete at step {}: {why}", c.data["step"].as_str().unwrap_or_default()));
            }
        }
        if let Some(d) = &case.decision {
            out.push_str(&format!(
                "\n    decision: {} by {} ({})",
                d.outcome,
                d.decided_by,
                d.official.as_ref().map_or("no official", |o| o.position.as_str())
            ));
        }
        if let Some(why) = &case.decision_not_taken {
            out.push_str(&format!("\n    decision not taken: {why}"));
        }
        if let Some(n) = &case.notice {
            out.push_str(&format!("\n    notice: {} after {} attempt(s)", n.state, n.attempts));
        }
        out.push('\n');
    }
    out.push_str(&format!("counts: {}\n", serde_json::to_string(&summary.counts).unwrap()));
    if count_notices {
        let notices = events.iter().filter(|e| e.kind == "NoticeIssued" && e.data["run"] == summary.run.as_str()).count();
        out.push_str(&format!("notices issued in this run: {notices}\n"));
    }
    out
}

/// Runs `registry_removal` as of the scenarios' date over `fixture`, in process.
pub async fn run_fixture(ledger: &housing_ledger::ledger::Ledger, fixture: Fixture) -> pipeline::RunSummary {
    let regs = Arc::new(FixtureRegistries::new(fixture, DEFAULT_SIM_SEED));
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    pipeline::run(ledger, regs, keys, &RuleBook::built_in(), Procedure::RegistryRemoval, "2026-01-15", Settings::default(), &Silent).await.unwrap()
}

/// Twelve persons removed on a privatisation contract, three on a shared-construction
/// contract, two retained.
pub fn population() -> (Value, Vec<String>) {
    let contract = json!({"privatization_contracts": [{"number": "П-1", "date": "2005-04-01", "address": "Астана"}]});
    let shared = json!({"shared_construction_contracts": [{"number": "ДДУ-7", "date": "2021-02-02", "object": "ЖК Нурлы"}]});
    let names: Vec<String> = (0..17).map(|k| format!("R{k}")).collect();
    let mut gos = serde_json::Map::new();
    let mut kaz = serde_json::Map::new();
    for (k, n) in names.iter().enumerate() {
        match k {
            0..12 => gos.insert(format!("@{n}"), contract.clone()),
            12..15 => kaz.insert(format!("@{n}"), shared.clone()),
            _ => None,
        };
    }
    let entries: Vec<Value> = names.iter().map(|n| json!({"iin": format!("@{n}")})).collect();
    (json!({"entries": entries, "registries": {"gosreestr": gos, "kazreestr": kaz}}), names)
}

/// Nobody's identifier and no name from the list appear in `text`.
pub fn assert_no_personal_data(text: &str, names: &[String]) {
    for n in names {
        let iin = iin_for(n);
        assert!(!text.contains(&iin), "the IIN of {n} ({iin}) is shown");
        assert!(!text.contains(&iin_for(&format!("{n}.spouse"))), "the spouse of {n} is shown");
    }
    for name in ["Ахметов", "Ерлан"] {
        assert!(!text.contains(name), "a name ({name}) is shown");
    }
}

/// `population()` run through the removal procedure, its projection caught up and a
/// checkpoint signed: the register's world. Returns the ledger and the persons' names.
pub async fn register_world(place: &Place) -> (Arc<housing_ledger::ledger::Ledger>, Vec<String>) {
    let (case, names) = population();
    let ledger = Arc::new(place.ledger().await);
    run_fixture(&ledger, Fixture::parse("register", &complete(Procedure::RegistryRemoval, case).0.to_string()).unwrap()).await;
    housing_ledger::read_models::catch_up(&ledger).await.unwrap();
    ledger.checkpoint().await.unwrap();
    (ledger, names)
}
