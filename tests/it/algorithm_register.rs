//! The public algorithm register (`/register`, `/register.json`) on `app()` with `oneshot`: no
//! token, both languages, the rule sets and source keys, figures from the projection with cells
//! below 10 persons suppressed, and no IIN or name of anyone on it.

use crate::common::scenario::{assert_no_personal_data, register_world};
use crate::common::{Backend, Place};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use devtools::sim::DEFAULT_SIM_SEED;
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::rules::{Procedure, RuleBook};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn state() -> (Place, AppState, Vec<String>) {
    let place = Place::new(Backend::Sqlite, None);
    let (ledger, names) = register_world(&place).await;
    (place, AppState::new(ledger, devtools::sim::sim_trust(DEFAULT_SIM_SEED)), names)
}

async fn get(state: &AppState, uri: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder().uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let resp = app(state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    (status, String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
}

#[tokio::test]
async fn the_register_is_public_in_both_languages_and_names_nobody() {
    let (_place, state, names) = state().await;
    let (s, kk) = get(&state, "/register", None).await;
    assert_eq!(s, StatusCode::OK, "no token needed");
    assert!(kk.contains("lang=\"kk\"") && kk.contains("Алгоритмдер тізілімі") && kk.contains("Есептен шығару"), "Kazakh by default");
    let (_, ru) = get(&state, "/register", Some("hl_lang=ru")).await;
    assert!(ru.contains("lang=\"ru\"") && ru.contains("Реестр алгоритмов") && ru.contains("Снятие с учёта"), "Russian when chosen");
    // A step that finds no ground (the family's composition) says so, rather than an empty cell.
    assert!(ru.contains("не основание: определяет состав семьи"), "the step without a ground is named");
    let (s, json) = get(&state, "/register.json", None).await;
    assert_eq!(s, StatusCode::OK);
    for text in [&kk, &ru, &json] {
        assert_no_personal_data(text, &names);
    }

    let doc: Value = serde_json::from_str(&json).unwrap();
    let removal = doc["procedures"].as_array().unwrap().iter().find(|p| p["procedure"] == "registry_removal").unwrap();
    let book = RuleBook::built_in();
    let built_in = book.sets.iter().find(|rs| rs.procedure == Procedure::RegistryRemoval).unwrap();
    assert_eq!(removal["rule_sets"][0]["sha256"], built_in.sha256.as_str());
    assert_eq!(
        removal["rule_sets"][0]["steps"][1],
        json!({"step": "6", "clause": "000:6", "check": "holding", "ground": "privatization_contract", "criteria": [], "registries": ["gosreestr"]})
    );
    // Issue 30, item 12: the register explains itself to the public, in its own header, with
    // each order's status, and no legal basis in English.
    for (page, how, cabinet) in
        [(&kk, "Бұл қалай жұмыс істейді", "Шағымдар жөніндегі қызметкер кабинеті"), (&ru, "Как это работает", "Кабинет сотрудника по обжалованиям")]
    {
        assert!(page.contains(how) && !page.contains(cabinet), "plain words first, a public header");
        assert!(page.find("id=\"register-how\"") < page.find("id=\"procedure-registry_removal\""));
        assert!(page.contains("id=\"status-registry_removal\""), "whether the order is in force");
        assert!(!page.contains("Joint order 000") && !page.contains("Ministry of Defence"), "no English legal basis");
    }
    assert_eq!(removal["end_date"], built_in.valid_until.as_str());
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let zags = removal["source_data"].as_array().unwrap().iter().find(|s| s["registry"] == "zags").unwrap();
    assert_eq!(zags["verifier_key"], keys.as_map()["zags"]);
    // 15 removals: 12 on privatisation (shown), 3 on shared construction (fewer than 10:
    // suppressed); none overturned (zero is no one: shown).
    assert_eq!(
        removal["figures"],
        json!({"runs": 1, "decisions_confirmed": 15, "by_ground": {"privatization_contract": 12, "shared_construction_contract": null},
               "overturned_on_appeal": 0, "share_overturned_percent": 0.0})
    );
    assert!(kk.contains("&lt; 10") && ru.contains("скрыто"), "a suppressed cell says so");
    let lease = doc["procedures"].as_array().unwrap().iter().find(|p| p["procedure"] == "lease_termination").unwrap();
    assert_eq!(lease["figures"]["runs"], 0);
    assert!(doc["checkpoint"].as_str().unwrap().contains("— "), "the log's signed checkpoint");
}

/// Issue 33, item 2: `/register.json` keeps its bytes whether it is built as a map or as typed
/// structs; `tests/data/register-golden.json` holds them (rewritten with `UPDATE_EXPECT=1`). The
/// checkpoint note, which names this run's ledger key, stands as `<checkpoint>`.
#[tokio::test]
async fn the_register_document_keeps_its_bytes() {
    let (_place, state, _) = state().await;
    let (s, served) = get(&state, "/register.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_str(&served).unwrap();
    let note = serde_json::to_string(&doc["checkpoint"]).unwrap();
    assert!(doc["checkpoint"].is_string(), "the world has a checkpoint: {note}");
    let text = served.replace(&note, "\"<checkpoint>\"") + "\n";
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/register-golden.json");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    assert_eq!(text, std::fs::read_to_string(&golden).unwrap(), "the register's bytes changed");
}
