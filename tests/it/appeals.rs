//! The appeal lifecycle through the API (`app()` with `oneshot`): upheld and overturned appeals,
//! a late appeal, a correction that reaches a later ground, a correction that clears all, the
//! officer who took the decision refused, the case file verified offline, and replay equality.

use crate::common::scenario::{complete, iin_for, run_fixture};
use crate::common::{Backend, Place};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Days, NaiveDate};
use devtools::sim::FixtureRegistries;
use devtools::sim::DEFAULT_SIM_SEED;
use devtools::sim::{sign_answer, sim_signer};
use events::NewEvent;
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::auth::{create_token, issue_token, Role};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::rules::records::RegistryId;
use housing_ledger::rules::{Procedure, RuleBook};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

struct World {
    state: AppState,
    /// The simulated source owners behind `state`, to issue corrections.
    registries: Arc<FixtureRegistries>,
    officer: String,
    other_officer: String,
    same_officer: String,
    auditor: String,
    today: NaiveDate,
    _place: Place,
}

fn contract() -> Value {
    json!({"privatization_contracts": [{"number": "П-1", "date": "2005-04-01", "address": "Астана, ул. Абая 1"}]})
}

/// One run of `registry_removal` over five persons, each removed, and an API whose "today" is
/// six months after the notices were delivered.
async fn world() -> World {
    let case = json!({
        "entries": [
            {"iin": "@Upheld"}, {"iin": "@Cleared"}, {"iin": "@Later"}, {"iin": "@Same"}, {"iin": "@Late"}
        ],
        "registries": {
            "zags": {"@Cleared": {"marriage": {"spouse_iin": "@Cleared.spouse", "since": "2010-06-12"}}},
            "gosreestr": {"@Upheld": contract(), "@Cleared.spouse": contract(), "@Later": contract(), "@Same": contract(), "@Late": contract()},
            "kazreestr": {"@Later": {"shared_construction_contracts": [{"number": "ДДУ-7", "date": "2021-02-02", "object": "ЖК Нурлы"}]}}
        },
        "decisions": {"@Same": {"outcome": "confirmed", "by": "housing commission", "reference": "prot. 17",
                                "official": {"id": "@SameOfficial", "name": "Майор Серikов", "position": "chairman"}}}
    });
    let (fixture, _) = complete(Procedure::RegistryRemoval, case);
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let fx = Fixture::parse("appeals", &fixture.to_string()).unwrap();
    run_fixture(&ledger, fx.clone()).await;
    // Deliveries happened today (in Kazakhstan); "today" for the API is six months on.
    let real_today = housing_ledger::rules::calendar::today();
    let today = real_today.checked_add_days(Days::new(183)).unwrap();
    let registries = Arc::new(FixtureRegistries::new(fx, DEFAULT_SIM_SEED));
    let state = AppState::new(ledger, devtools::sim::sim_trust(DEFAULT_SIM_SEED))
        .with_registries(registries.clone())
        .with_rule_book(RuleBook::built_in())
        .with_today(today);
    let token = |role, holder: &'static str, holder_id: &'static str| {
        let ledger = state.ledger.clone();
        let id = if holder_id.is_empty() { String::new() } else { iin_for(holder_id) };
        async move { issue_token(&ledger, role, holder, &id).await.unwrap().0 }
    };
    World {
        officer: token(Role::AppealsOfficer, "Капитан Ахметова", "Officer1").await,
        other_officer: token(Role::AppealsOfficer, "Подполковник Жумабаев", "Officer2").await,
        // The official who took @Same's decision, under another name on his token: decision 15
        // compares identifiers, never names.
        same_officer: token(Role::AppealsOfficer, "Подполковник Другое Имя", "SameOfficial").await,
        auditor: token(Role::Auditor, "", "").await,
        state,
        registries,
        today: real_today,
        _place: place,
    }
}

impl World {
    async fn call(&self, method: &str, uri: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder().method(method).uri(uri).header("Authorization", format!("Bearer {token}")).header("Content-Type", "application/json");
        let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes))))
    }

    fn day(&self, days_after_delivery: u64) -> String {
        self.today.checked_add_days(Days::new(days_after_delivery)).unwrap().to_string()
    }

    async fn file(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"procedure": "registry_removal", "grounds": "the registry's record is not mine", "received_on": self.day(10)});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (s, a) = self.call("POST", &format!("/v1/persons/{}/appeals", iin_for(name.trim_start_matches('@'))), &self.officer, Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        a
    }

    async fn person(&self, name: &str) -> Value {
        let (s, p) = self.call("GET", &format!("/v1/persons/{}", iin_for(name.trim_start_matches('@'))), &self.auditor, None).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        p["procedures"]["registry_removal"].clone()
    }

    /// A correction from ГосРеестр: no privatization contract for anyone it names.
    fn gosreestr_clears(&self, appeal: &str, subjects: &[String]) -> Value {
        let answer = json!({"registry": "gosreestr", "request_id": format!("{appeal}/gosreestr"), "subjects": subjects, "issued_at": "2026-12-01T10:00:00.000Z", "records": {}});
        serde_json::to_value(sign_answer(answer, &sim_signer(DEFAULT_SIM_SEED, RegistryId::Gosreestr))).unwrap()
    }
}

fn id(a: &Value) -> String {
    a["appeal"].as_str().unwrap().to_string()
}

fn codes(grounds: &Value) -> Vec<String> {
    grounds.as_array().unwrap().iter().map(|g| format!("{} {}", g["code"].as_str().unwrap(), g["clause"].as_str().unwrap())).collect()
}

/// Issue 21, item 3: a correction comes from the source owner through the registries; the
/// officer accepts it as issued, its source signature checked as any answer's.
#[tokio::test]
async fn a_correction_issued_by_the_source_is_accepted_as_issued() {
    use housing_ledger::appeal::AppealError;
    let w = world().await;
    let officer = housing_ledger::auth::authenticate(&w.state.ledger, &w.officer).await.unwrap().unwrap();
    let a = id(&w.file("@Cleared", json!({})).await);
    let appeals = w.state.appeals();
    assert!(appeals.issued_corrections(&a).await.unwrap().is_empty(), "nothing issued yet");

    // ГосРеестр's owner corrects its record of the spouse: no contract. Of someone outside the
    // case too, which this appeal is not told of.
    let spouse = iin_for("Cleared.spouse");
    w.registries.simulator().issue_correction(RegistryId::Gosreestr, &spouse, Value::Null).unwrap();
    w.registries.simulator().issue_correction(RegistryId::Gosreestr, &iin_for("Upheld"), Value::Null).unwrap();
    let bad = w.registries.simulator().issue_correction(RegistryId::Gosreestr, &spouse, json!({"privatization_contracts": "none"}));
    assert!(
        matches!(bad, Err(devtools::sim::SimError::Record { ref detail, .. }) if detail.to_string().contains("privatization_contracts")),
        "a record the registry could not give is not issued"
    );
    let issued = appeals.issued_corrections(&a).await.unwrap();
    assert_eq!(issued.len(), 1, "{issued:?}");
    let c = &issued[0];
    assert_eq!((c.registry.as_str(), c.refused.as_deref(), c.received), ("gosreestr", None, None));
    assert_eq!(c.signed.answer["subjects"], json!([iin_for("Cleared"), spouse]), "about the appellant and his family, nobody else");
    assert_eq!(c.signed.answer["records"], json!({}), "neither holds a contract now");
    assert_eq!(c.signed.answer["request_id"], format!("{a}/gosreestr"));

    // Accepted by its signature; a signature it does not carry is refused.
    let e = appeals.accept_correction(&a, "gosreestr", "c2lnbmF0dXJl", &officer).await.unwrap_err();
    assert!(matches!(e, AppealError::CorrectionRefused(_)), "{e}");
    let recorded = appeals.accept_correction(&a, "gosreestr", &c.signed.source_sig, &officer).await.unwrap();
    assert_eq!((recorded.kind.as_str(), recorded.data["correction"].clone(), recorded.data["appeal"].clone()), ("RegistryResponded", json!(true), json!(a)));
    assert_eq!(appeals.issued_corrections(&a).await.unwrap()[0].received, Some(recorded.seq), "shown as received");
    let e = appeals.accept_correction(&a, "gosreestr", &c.signed.source_sig, &officer).await.unwrap_err();
    assert!(matches!(e, AppealError::WrongState(_)), "not received twice: {e}");
    let (s, r) = w.call("POST", &format!("/v1/appeals/{a}/recheck"), &w.officer, None).await;
    assert_eq!((s, r["recheck"]["verdict"].clone()), (StatusCode::OK, json!("clear")), "the re-check reads the accepted correction: {r}");

    // A source whose key the service does not trust: shown refused, never accepted.
    let fx = Fixture::parse("appeals", &complete(Procedure::RegistryRemoval, json!({"entries": [{"iin": "@Cleared"}]})).0.to_string()).unwrap();
    let impostor = Arc::new(FixtureRegistries::new(fx, "another seed"));
    impostor.simulator().issue_correction(RegistryId::Gosreestr, &spouse, Value::Null).unwrap();
    let state = w.state.clone().with_registries(impostor);
    let appeals = state.appeals();
    let issued = appeals.issued_corrections(&a).await.unwrap();
    assert!(issued[0].refused.as_deref().unwrap_or_default().contains("which the trust list does not hold for gosreestr"), "{issued:?}");
    let e = appeals.accept_correction(&a, "gosreestr", &issued[0].signed.source_sig, &officer).await.unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");

    // No source configured: said so, not an empty list.
    let mut bare = w.state.clone();
    bare.registries = None;
    let e = bare.appeals().issued_corrections(&a).await.unwrap_err();
    assert!(matches!(e, AppealError::SourceUnavailable(_)) && e.to_string().contains("no registry source"), "{e}");
}

/// The same through the API, for scripts: the issued corrections as signed answers, each
/// postable as given; reading them is a recorded read.
#[tokio::test]
async fn issued_corrections_through_the_api() {
    let w = world().await;
    let a = id(&w.file("@Cleared", json!({})).await);
    let uri = format!("/v1/appeals/{a}/corrections/issued");
    assert_eq!(w.call("GET", &uri, &w.auditor, None).await, (StatusCode::OK, json!({"appeal": a, "corrections": []})));
    w.registries.simulator().issue_correction(RegistryId::Gosreestr, &iin_for("Cleared.spouse"), Value::Null).unwrap();
    let (s, issued) = w.call("GET", &uri, &w.auditor, None).await;
    assert_eq!(s, StatusCode::OK, "{issued}");
    let c = issued["corrections"][0].clone();
    assert_eq!((c["registry"].clone(), c["refused"].clone(), c["received"].clone()), (json!("gosreestr"), Value::Null, Value::Null), "{c}");
    let mut filing = c.clone();
    filing.as_object_mut().unwrap().retain(|k, _| ["registry", "answer", "source_key", "source_sig"].contains(&k.as_str()));
    let (s, r) = w.call("POST", &format!("/v1/appeals/{a}/corrections"), &w.officer, Some(filing)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(w.call("GET", &uri, &w.officer, None).await.1["corrections"][0]["received"], r["seq"], "shown as received");
    let (_, reads) = w.call("GET", &format!("/v1/persons/{}/reads", iin_for("Cleared")), &w.auditor, None).await;
    assert!(reads["reads"].as_array().unwrap().iter().any(|r| r["read"] == format!("corrections-issued:{a}")), "{reads}");
    assert_eq!(w.call("GET", "/v1/appeals/ap-999/corrections/issued", &w.auditor, None).await.0, StatusCode::NOT_FOUND);
    let mut bare = w.state.clone();
    bare.registries = None;
    let resp = app(bare).oneshot(Request::get(&uri).header("Authorization", format!("Bearer {}", w.auditor)).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "no source to ask: said so");
}

#[tokio::test]
async fn appeal_lifecycles() {
    let w = world().await;

    // Upheld: no correction; the fresh re-check finds the same ground.
    let a = w.file("@Upheld", json!({"suspend": true})).await;
    assert_eq!((a["late"].clone(), a["suspended"].clone(), a["contested_step"].clone()), (json!(false), json!(true), json!("6")));
    assert_eq!(w.person("@Upheld").await["appeal"]["suspended"], true, "suspension shows in the person's case");
    let (s, r) = w.call("POST", &format!("/v1/appeals/{}/recheck", id(&a)), &w.officer, None).await;
    assert_eq!((s, r["recheck"]["verdict"].clone()), (StatusCode::OK, json!("found")), "{r}");
    let (s, e) = w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.officer, Some(json!({"outcome": "overturned", "reason": "x"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "an overturn against a re-check that found a ground is refused: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("privatization_contract"), "{e}");
    let (s, r) = w
        .call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.officer, Some(json!({"outcome": "upheld", "reason": "the contract is registered"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let p = w.person("@Upheld").await;
    assert_eq!((p["status"].clone(), p["appeal"]["outcome"].clone(), p["appeal"]["suspended"].clone()), (json!("removed"), json!("upheld"), json!(false)));
    let (s, _) = w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.other_officer, Some(json!({"outcome": "upheld", "reason": "again"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "a resolved appeal is not resolved twice");
    let (s, _) = w
        .call("POST", &format!("/v1/persons/{}/appeals", iin_for("Upheld")), &w.officer, Some(json!({"procedure": "registry_removal", "grounds": "again"})))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "one appeal per decision");

    // A correction that clears everything: reinstated with the original queue number.
    let a = w.file("@Cleared", json!({})).await;
    let subjects = vec![iin_for("Cleared"), iin_for("Cleared.spouse")];
    let mut forged = w.gosreestr_clears(&id(&a), &subjects);
    forged["answer"]["subjects"] = json!([iin_for("Cleared")]);
    let (s, e) = w
        .call(
            "POST",
            &format!("/v1/appeals/{}/corrections", id(&a)),
            &w.officer,
            Some(json!({"registry": "gosreestr"}).as_object().unwrap().clone().into_iter().chain(forged.as_object().unwrap().clone()).collect()),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "an answer changed after signing is refused: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("signature"), "{e}");
    let mut c = w.gosreestr_clears(&id(&a), &subjects);
    c["registry"] = json!("gosreestr");
    let (s, r) = w.call("POST", &format!("/v1/appeals/{}/corrections", id(&a)), &w.officer, Some(c)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = w.call("POST", &format!("/v1/appeals/{}/recheck", id(&a)), &w.officer, None).await;
    assert_eq!((s, r["recheck"]["verdict"].clone()), (StatusCode::OK, json!("clear")), "{r}");
    let (s, e) = w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.officer, Some(json!({"outcome": "upheld", "reason": "x"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "upholding against a clear re-check is refused: {e}");
    let (s, r) = w
        .call(
            "POST",
            &format!("/v1/appeals/{}/resolution", id(&a)),
            &w.officer,
            Some(json!({"outcome": "overturned", "reason": "ГосРеестр corrected its record"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let p = w.person("@Cleared").await;
    assert_eq!(p["status"], "retained", "{p}");
    assert_eq!(p["reinstated"], json!({"queue_number": 1001, "registered_on": "2019-03-01"}), "the original queue number and date are restored");
    assert_eq!(p["notice"]["state"], "delivered", "{p}");
    let (_, events) = w.call("GET", &format!("/v1/persons/{}/events", iin_for("Cleared")), &w.auditor, None).await;
    assert!(
        events["events"].as_array().unwrap().iter().any(|e| e["type"] == "CheckEvaluated" && crate::common::opened(e)["appeal"] == id(&a).as_str()),
        "the re-check is in the person's stream"
    );
    let file = w.call("GET", &format!("/v1/appeals/{}/case-file", id(&a)), &w.auditor, None).await.1;
    let notice = file["appeal_events"].as_array().unwrap().iter().find(|e| e["type"] == "NoticeIssued").expect("the notice of reinstatement").clone();
    assert!(
        crate::common::opened(&notice)["text"]["kk"].as_str().unwrap().contains("(1001)")
            && crate::common::opened(&notice)["text"]["ru"].as_str().unwrap().contains("восстановлены"),
        "{notice}"
    );
    let anchor = w.state.ledger.key_history().await.unwrap().all()[0].clone();
    let parsed: housing_ledger::proof::CaseFile = serde_json::from_value(file.clone()).unwrap();
    let verified = housing_ledger::proof::verify_case_file(
        &parsed,
        &anchor,
        &RuleBook::built_in(),
        &housing_ledger::proof::Sources::List(devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED)),
    )
    .expect("the case file verifies offline");
    // Issue 29, item 2: the case file says what the appeal came to; its events cannot be left out.
    let outcome = verified.appeal.unwrap();
    assert!(outcome.starts_with(&format!("overturned by appeal {}", id(&a))), "{outcome}");
    // Issue 30, item 1: so does the person's own bundle, which holds the appeal whole: the
    // decision shows as overturned, re-judged, not as standing.
    let bundle = w.call("GET", &format!("/v1/persons/{}/proof?procedure=registry_removal", iin_for("Cleared")), &w.auditor, None).await.1;
    let bundle: housing_ledger::proof::Bundle = serde_json::from_value(bundle).unwrap();
    assert!(bundle.events.iter().any(|e| e.kind == "AppealResolved"), "the appeal's resolution is in the bundle");
    let sources = housing_ledger::proof::Sources::List(devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED));
    let v = housing_ledger::proof::verify(&bundle, &anchor, &RuleBook::built_in(), &sources).expect("the bundle verifies");
    assert_eq!(v.status.to_string(), "retained");
    assert!(v.appeal.as_deref().is_some_and(|o| o.starts_with(&format!("overturned by appeal {}", id(&a)))), "{:?}", v.appeal);
    let mut cut = bundle.clone();
    let resolved = cut.events.iter().find(|e| e.kind == "AppealResolved").unwrap().seq;
    cut.events.retain(|e| e.seq != resolved);
    cut.inclusion.retain(|i| i.seq != resolved);
    let e = housing_ledger::proof::verify(&cut, &anchor, &RuleBook::built_in(), &sources).unwrap_err().to_string();
    assert!(e.contains("does not hold the PersonRetained") || e.contains("leaves out the end of stream appeal:"), "the overturn cannot be hidden: {e}");
    // And `verify-proof` prints it.
    let dir = tempfile::tempdir().unwrap();
    let (path, trust) = (dir.path().join("case-file.json"), dir.path().join("trust.json"));
    std::fs::write(&path, file.to_string()).unwrap();
    std::fs::write(&trust, devtools::sim::sim_trust(DEFAULT_SIM_SEED).text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "verify-proof",
            path.to_str().unwrap(),
            "--ledger-key",
            &anchor.to_string(),
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && printed.contains(&format!("appeal: overturned by appeal {}", id(&a))) && printed.contains("OVERTURNED on appeal"),
        "{printed}"
    );
    let mut hidden = parsed.clone();
    (hidden.appeal_events, hidden.inclusion) = (Vec::new(), Vec::new());
    let e = housing_ledger::proof::verify_case_file(
        &hidden,
        &anchor,
        &RuleBook::built_in(),
        &housing_ledger::proof::Sources::List(devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED)),
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not hold appeal") && e.to_string().contains("AppealFiled"), "{e}");
    let mut bad = parsed.clone();
    bad.appeal_events[0].data["grounds"] = json!("changed");
    assert!(
        housing_ledger::proof::verify_case_file(
            &bad,
            &anchor,
            &RuleBook::built_in(),
            &housing_ledger::proof::Sources::List(devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED))
        )
        .is_err(),
        "a changed appeal event fails"
    );
    assert_eq!(parsed.notice.as_ref().map(|n| n.kind.as_str()), Some("NoticeIssued"), "the notice as sent is in the case file");

    // A correction clears step 6, and the re-check reaches step 7's ground: removed on it.
    let a = w.file("@Later", json!({})).await;
    let mut c = w.gosreestr_clears(&id(&a), &[iin_for("Later")]);
    c["registry"] = json!("gosreestr");
    assert_eq!(w.call("POST", &format!("/v1/appeals/{}/corrections", id(&a)), &w.officer, Some(c)).await.0, StatusCode::CREATED);
    let (_, r) = w.call("POST", &format!("/v1/appeals/{}/recheck", id(&a)), &w.officer, None).await;
    assert_eq!(
        (r["recheck"]["verdict"].clone(), codes(&r["recheck"]["grounds"])),
        (json!("found"), vec!["shared_construction_contract 000:7".to_string()]),
        "{r}"
    );
    let (s, r) =
        w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.officer, Some(json!({"outcome": "upheld", "reason": "a ДДУ contract"}))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let p = w.person("@Later").await;
    assert_eq!((p["status"].clone(), codes(&p["grounds"])), (json!("removed"), vec!["shared_construction_contract 000:7".to_string()]), "{p}");

    // The officer who took the decision may not resolve its appeal.
    let a = w.file("@Same", json!({})).await;
    let (s, e) = w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.same_officer, Some(json!({"outcome": "upheld", "reason": "mine"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("took the decision"), "{e}");
    // A namesake of the decider is another person: his token's identifier differs.
    let namesake = issue_token(&w.state.ledger, Role::AppealsOfficer, "Майор Серikов", &iin_for("Namesake")).await.unwrap().0;
    let (s, e) = w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &namesake, Some(json!({"outcome": "upheld", "reason": "reviewed"}))).await;
    assert_eq!(s, StatusCode::OK, "another officer may, whatever his name: {e}");

    // Late: received four months after delivery; flagged with its reason, not refused.
    let a = w.file("@Late", json!({"received_on": w.day(122), "late_reason": "in hospital"})).await;
    assert_eq!((a["late"].clone(), a["late_reason"].clone()), (json!(true), json!("in hospital")), "{a}");
    let deadline = NaiveDate::parse_from_str(a["deadline"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    assert!(deadline > w.today && deadline < w.today.checked_add_days(Days::new(122)).unwrap(), "three months from delivery: {deadline}");
    assert_eq!(w.person("@Late").await["appeal"]["late"], true);

    // Replay rebuilds the same projection from the events alone.
    housing_ledger::read_models::catch_up(&w.state.ledger).await.unwrap();
    let replay = housing_ledger::read_models::replay(&w.state.ledger).await.unwrap();
    assert!(replay.differences.is_empty(), "replay differs after appeals: {:?}", replay.differences);
    w.state.ledger.verify(|_| {}).await.expect("the ledger verifies after appeals");
    // Upheld, overturned, re-checked, refused and late appeals, as the service wrote them,
    // break no rule the audit checks.
    let report =
        housing_ledger::audit::audit(&w.state.ledger, &RuleBook::built_in(), Some(&devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED)), |_, _| {})
            .await
            .unwrap();
    assert!(report.decisions >= 5, "{report:?}");
    assert_eq!(report.findings, [], "the service's own appeals are clean");
}

#[tokio::test]
async fn appeal_routes_refuse_what_they_must() {
    let w = world().await;
    let iin = iin_for("Upheld");
    let uri = format!("/v1/persons/{iin}/appeals");
    let filing = json!({"procedure": "registry_removal", "grounds": "not mine"});
    assert_eq!(w.call("POST", &uri, &w.auditor, Some(filing.clone())).await.0, StatusCode::FORBIDDEN, "auditors do not file");
    let unnamed = create_token(&w.state.ledger, Role::AppealsOfficer, "").await.unwrap().0;
    assert_eq!(w.call("POST", &uri, &unnamed, Some(filing.clone())).await.0, StatusCode::FORBIDDEN, "an officer must be named");
    let (s, e) = w.call("POST", &uri, &w.officer, Some(json!({"procedure": "registry_removal", "grounds": "x", "colour": "red"}))).await;
    assert_eq!((s, e["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("bad_request")));
    assert!(e["error"]["message"].as_str().unwrap().contains("colour"), "{e}");
    let (s, e) = w.call("POST", &uri, &w.officer, Some(json!({"procedure": "registry_removal", "grounds": "x", "received_on": "2026-13-01"}))).await;
    assert!(s == StatusCode::BAD_REQUEST && e["error"]["message"].as_str().unwrap().contains("received_on"), "{e}");
    let (s, e) = w.call("POST", &uri, &w.officer, Some(json!({"procedure": "registry_removal", "grounds": "x", "contested_step": "9"}))).await;
    assert!(s == StatusCode::BAD_REQUEST && e["error"]["message"].as_str().unwrap().contains("after step 6"), "{e}");
    assert_eq!(w.call("POST", "/v1/persons/123/appeals", &w.officer, Some(filing.clone())).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(w.call("POST", &format!("/v1/persons/{}/appeals", iin_for("Nobody")), &w.officer, Some(filing.clone())).await.0, StatusCode::NOT_FOUND);
    assert_eq!(w.call("GET", "/v1/appeals/ap-999999", &w.auditor, None).await.0, StatusCode::NOT_FOUND);
    // Without a registry source, a re-check that needs fresh answers is incomplete, and nothing can be overturned on it.
    let state = w.state.clone();
    let bare = World { state: AppState { registries: None, ..state }, ..w };
    let (_, a) = bare.call("POST", &uri, &bare.officer, Some(filing)).await;
    let (_, r) = bare.call("POST", &format!("/v1/appeals/{}/recheck", id(&a)), &bare.officer, None).await;
    assert_eq!(r["recheck"]["verdict"], "incomplete", "{r}");
    let (s, _) = bare.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &bare.officer, Some(json!({"outcome": "overturned", "reason": "x"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, list) = bare.call("GET", &uri, &bare.auditor, None).await;
    assert_eq!((s, list["appeals"].as_array().unwrap().len()), (StatusCode::OK, 1));
    let (_, reads) = bare.call("GET", &format!("/v1/persons/{iin}/reads"), &bare.auditor, None).await;
    assert!(reads["reads"].as_array().unwrap().iter().any(|r| r["read"] == "appeals"), "reading appeals is recorded: {reads}");
}

#[tokio::test]
async fn an_overturned_lease_termination_keeps_the_lease_in_force() {
    use housing_ledger::pipeline::{self, Settings, Silent};
    let case = json!({"entries": [{"iin": "@Lease"}], "registries": {"gosreestr": {"@Lease": contract()}}});
    let fx = Fixture::parse("lease", &complete(Procedure::LeaseTermination, case).0.to_string()).unwrap();
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let regs = Arc::new(FixtureRegistries::new(fx, DEFAULT_SIM_SEED));
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    pipeline::run(&ledger, regs.clone(), keys.clone(), &RuleBook::built_in(), Procedure::LeaseTermination, "2026-01-15", Settings::default(), &Silent)
        .await
        .unwrap();
    let state = AppState::new(ledger, keys).with_registries(regs.clone());
    let officer = issue_token(&state.ledger, Role::AppealsOfficer, "Капитан Ахметова", &iin_for("Officer1")).await.unwrap().0;
    let w = World {
        registries: regs,
        other_officer: officer.clone(),
        same_officer: officer.clone(),
        auditor: officer.clone(),
        officer,
        state,
        today: housing_ledger::rules::calendar::today(),
        _place: place,
    };
    let iin = iin_for("Lease");
    let (s, a) =
        w.call("POST", &format!("/v1/persons/{iin}/appeals"), &w.officer, Some(json!({"procedure": "lease_termination", "grounds": "not mine"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let mut c = w.gosreestr_clears(&id(&a), std::slice::from_ref(&iin));
    c["registry"] = json!("gosreestr");
    assert_eq!(w.call("POST", &format!("/v1/appeals/{}/corrections", id(&a)), &w.officer, Some(c)).await.0, StatusCode::CREATED);
    let (_, r) = w.call("POST", &format!("/v1/appeals/{}/recheck", id(&a)), &w.officer, None).await;
    assert_eq!(r["recheck"]["verdict"], "clear", "{r}");
    let (s, r) = w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.officer, Some(json!({"outcome": "overturned", "reason": "corrected"}))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, p) = w.call("GET", &format!("/v1/persons/{iin}"), &w.officer, None).await;
    let case = &p["procedures"]["lease_termination"];
    assert_eq!(case["status"], "retained");
    assert_eq!(case["reinstated"], json!({"lease_contract": "СЖ-2023-0000", "address": "Астана, ул. Кенесары 1"}));
    let (_, events) = w.call("GET", &format!("/v1/appeals/{}", id(&a)), &w.officer, None).await;
    assert_eq!(events["resolution"]["outcome"], "overturned");
    let notice = w.state.ledger.log().read_stream(&format!("notice:{}-reinstatement", id(&a)), None).await.unwrap();
    assert!(notice[0].data["text"]["ru"].as_str().unwrap().contains("СЖ-2023-0000 остается в силе"), "{:?}", notice[0].data);
}

/// Decision 15 (finding 5, and look-alikes): an officer's token carries his IIN, checked; a
/// look-alike of an identifier (other digits, a no-break or zero-width space, a Latin letter) is
/// no identifier, so no one passes for another.
#[tokio::test]
async fn officer_tokens_carry_a_checked_identifier() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    let id = iin_for("Officer1");
    let mut out = String::new();
    let arabic: String = id.chars().map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap()).unwrap()).collect();
    for (what, holder, holder_id) in [
        ("the IIN", "Капитан Ахметова", id.clone()),
        ("no IIN", "Капитан Ахметова", String::new()),
        ("no name", "", id.clone()),
        ("Arabic-Indic digits", "Капитан Ахметова", arabic),
        ("a no-break space inside", "Капитан Ахметова", format!("{}\u{a0}{}", &id[..6], &id[6..])),
        ("a zero-width space inside", "Капитан Ахметова", format!("{}\u{200b}{}", &id[..6], &id[6..])),
        ("a Latin O for a zero", "Капитан Ахметова", id.replacen('0', "O", 1)),
        ("fullwidth digits", "Капитан Ахметова", id.chars().map(|c| char::from_u32(0xFF10 + c.to_digit(10).unwrap()).unwrap()).collect()),
    ] {
        let got = match issue_token(&ledger, Role::AppealsOfficer, holder, &holder_id).await {
            Ok((_, rec)) => format!("issued to {} ({})", rec.holder, rec.holder_id == id),
            Err(e) => format!("refused: {e}"),
        };
        out.push_str(&format!("{what}: {}\n", got.replace(&id, "<IIN>")));
    }
    expect_test::expect![[r#"
        the IIN: issued to Капитан Ахметова (true)
        no IIN: refused: an appeals_officer token must name its holder and his IIN: --holder "NAME" --holder-id IIN (decision 15: self-review is judged by identifiers)
        no name: refused: an appeals_officer token must name its holder and his IIN: --holder "NAME" --holder-id IIN (decision 15: self-review is judged by identifiers)
        Arabic-Indic digits: refused: --holder-id: IIN must be 12 digits, got "٨٥٠٣٢٥٣٨٩٤٦١"
        a no-break space inside: refused: --holder-id: IIN must be 12 digits, got "850325\u{a0}389461"
        a zero-width space inside: refused: --holder-id: IIN must be 12 digits, got "850325\u{200b}389461"
        a Latin O for a zero: refused: --holder-id: IIN must be 12 digits, got "85O325389461"
        fullwidth digits: refused: --holder-id: IIN must be 12 digits, got "８５０３２５３８９４６１"
    "#]].assert_eq(&out);
}

/// A test double in front of the fixture's registries: ИШ АС МР refuses the first `fail`
/// reinstatements, as a gateway that is down would.
struct FlakyGateway {
    inner: FixtureRegistries,
    fail: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl housing_ledger::registry::Registries for FlakyGateway {
    async fn list_page(&self, p: Procedure, page: u64, r: &str) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        self.inner.list_page(p, page, r).await
    }
    async fn query(
        &self,
        reg: RegistryId,
        s: &[String],
        f: &[String],
        r: &str,
    ) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        self.inner.query(reg, s, f, r).await
    }
    async fn decisions(&self, p: Procedure, i: &[String], r: &str) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        self.inner.decisions(p, i, r).await
    }
    async fn deliver(&self, n: &str, i: &str, a: u32) -> Result<String, housing_ledger::registry::DeliveryFault> {
        self.inner.deliver(n, i, a).await
    }
    async fn reinstate(
        &self,
        x: &housing_ledger::registry::Reinstatement,
        r: &str,
    ) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        use std::sync::atomic::Ordering;
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(housing_ledger::registry::RegistryFault::Unavailable("ish_as_mr answered 503".into()));
        }
        self.inner.reinstate(x, r).await
    }
    async fn corrections(&self, a: &str, s: &[String]) -> Result<Vec<housing_ledger::registry::SignedAnswer>, housing_ledger::registry::RegistryFault> {
        self.inner.corrections(a, s).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn is_live(&self) -> bool {
        false
    }
}

/// Decision 16 (finding 6): an overturn goes back to ИШ АС МР with the original queue number and
/// registration date; its signed acknowledgement is recorded before the notice of
/// reinstatement. Faults are recorded and retried; until acknowledged the person shows it
/// pending, and no notice goes out. Decision 12: an overturned decision no longer stands, so the
/// next run proposes the person again.
#[tokio::test]
async fn decision_16_reinstatement_goes_back_to_the_list_keeper() {
    let case = json!({"entries": [{"iin": "@Back"}], "registries": {"gosreestr": {"@Back": contract()}}});
    let (fixture, _) = complete(Procedure::RegistryRemoval, case);
    let fx = Fixture::parse("back", &fixture.to_string()).unwrap();
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    run_fixture(&ledger, fx.clone()).await;
    // Down for four attempts: the three of the resolution and one more.
    let gateway = Arc::new(FlakyGateway { inner: FixtureRegistries::new(fx.clone(), DEFAULT_SIM_SEED), fail: 4.into() });
    let registries = Arc::new(FixtureRegistries::new(fx.clone(), DEFAULT_SIM_SEED));
    let state = AppState::new(ledger.clone(), devtools::sim::sim_trust(DEFAULT_SIM_SEED)).with_registries(gateway).with_rule_book(RuleBook::built_in());
    let officer = issue_token(&state.ledger, Role::AppealsOfficer, "Капитан Ахметова", &iin_for("Officer1")).await.unwrap().0;
    let mut w = World {
        other_officer: officer.clone(),
        same_officer: officer.clone(),
        auditor: create_token(&state.ledger, Role::Auditor, "").await.unwrap().0,
        officer,
        registries,
        state,
        today: housing_ledger::rules::calendar::today(),
        _place: place,
    };
    let iin = iin_for("Back");
    let a = w.file("@Back", json!({"received_on": w.day(0)})).await;
    let mut c = w.gosreestr_clears(&id(&a), std::slice::from_ref(&iin));
    c["registry"] = json!("gosreestr");
    assert_eq!(w.call("POST", &format!("/v1/appeals/{}/corrections", id(&a)), &w.officer, Some(c)).await.0, StatusCode::CREATED);
    w.call("POST", &format!("/v1/appeals/{}/recheck", id(&a)), &w.officer, None).await;
    let (s, r) = w.call("POST", &format!("/v1/appeals/{}/resolution", id(&a)), &w.officer, Some(json!({"outcome": "overturned", "reason": "corrected"}))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let p = w.person("@Back").await;
    assert_eq!(
        (p["status"].clone(), p["reinstatement"].clone(), p["notice"]["notice"].clone()),
        (json!("retained"), json!("pending"), p["notice"]["notice"].clone())
    );
    let notices = |w: &World| {
        let (store, id) = (w.state.ledger.log().clone(), id(&a));
        async move { store.read_stream(&format!("notice:{id}-reinstatement"), None).await.unwrap() }
    };
    assert!(notices(&w).await.is_empty(), "no notice of reinstatement before ИШ АС МР acknowledges it");
    // Issue 28: a server without a trust list accepts no acknowledgement (and asks for none).
    let pinned = w.state.registry_keys.clone();
    w.state.registry_keys = Arc::new(devtools::sim::sim_trust(DEFAULT_SIM_SEED).with_basis(housing_ledger::registry::TrustBasis::Unpinned));
    w.call("POST", &format!("/v1/appeals/{}/reinstatement", id(&a)), &w.officer, None).await;
    assert_eq!(w.person("@Back").await["reinstatement"], "pending");
    w.state.registry_keys = pinned;
    // Tried again: fails once more, then is acknowledged.
    let (s, r) = w.call("POST", &format!("/v1/appeals/{}/reinstatement", id(&a)), &w.officer, None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(w.person("@Back").await["reinstatement"], "acknowledged");
    let events = w.state.ledger.log().read_stream(&format!("appeal:{}", id(&a)), None).await.unwrap();
    let kinds: Vec<String> =
        events.iter().map(|e| format!("{}{}", e.kind, e.data.get("kind").map(|k| format!("({})", k.as_str().unwrap())).unwrap_or_default())).collect();
    expect_test::expect![[r#"
        AppealFiled
        AppealRechecked
        AppealResolved
        ReinstatementFailed(unavailable)
        ReinstatementFailed(unavailable)
        ReinstatementFailed(unavailable)
        ReinstatementFailed(bad_signature)
        ReinstatementFailed(bad_signature)
        ReinstatementFailed(bad_signature)
        ReinstatementFailed(unavailable)
        ReinstatementAcknowledged"#]]
    .assert_eq(&kinds.join("\n"));
    let ack = events.iter().find(|e| e.kind == "ReinstatementAcknowledged").unwrap();
    assert_eq!(ack.data["answer"]["records"][&iin]["queue_number"], 1000, "the original queue number went back: {}", ack.data);
    assert_eq!(ack.data["answer"]["records"][&iin]["registered_on"], "2019-03-01");
    let notice = notices(&w).await;
    assert!(notice[0].seq > ack.seq && notice[0].data["acknowledgement"] == ack.seq, "the acknowledgement is recorded before the notice");
    let (s, _) = w.call("POST", &format!("/v1/appeals/{}/reinstatement", id(&a)), &w.officer, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "acknowledged once");
    // The overturned decision no longer stands: the next run takes the person up again.
    let regs = Arc::new(FixtureRegistries::new(fx, DEFAULT_SIM_SEED));
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    use housing_ledger::pipeline::{self, Settings, Silent};
    let again =
        pipeline::run(&ledger, regs, keys, &RuleBook::built_in(), Procedure::RegistryRemoval, "2026-02-01", Settings::default(), &Silent).await.unwrap();
    assert_eq!(again.counts.get("removed"), Some(&1), "{:?}", again.counts);
    assert_eq!(again.counts.get("already_decided"), None);
}

/// Issue 28: a correction is checked against the server's trust list alone. One about anyone
/// outside the appellant and the family his run fixed is refused, whoever signed it; one signed
/// under the public default seed is refused by a server whose list holds the sources' own keys;
/// a server started without a trust list accepts none. Under the simulation's list it passes.
#[tokio::test]
async fn corrections_are_trusted_only_under_the_servers_list() {
    use housing_ledger::registry::TrustBasis;
    let mut w = world().await;
    let a = id(&w.file("@Cleared", json!({})).await);
    let uri = format!("/v1/appeals/{a}/corrections");
    let family = vec![iin_for("Cleared"), iin_for("Cleared.spouse")];
    let mut with_stranger = family.clone();
    with_stranger.push(iin_for("Stranger"));
    fn filing(w: &World, a: &str, subjects: &[String]) -> Value {
        let mut body = w.gosreestr_clears(a, subjects);
        body["registry"] = json!("gosreestr");
        body
    }
    let (s, e) = w.call("POST", &uri, &w.officer, Some(filing(&w, &a, &with_stranger))).await;
    assert!(s.is_client_error() && e.to_string().contains("neither the appellant nor a member of the family"), "{s} {e}");

    w.state.registry_keys = Arc::new(devtools::sim::sim_trust("the sources' own keys").with_basis(TrustBasis::List));
    let (s, e) = w.call("POST", &uri, &w.officer, Some(filing(&w, &a, &family))).await;
    assert!(s.is_client_error() && e.to_string().contains("bad signature") && e.to_string().contains("does not hold for gosreestr"), "{s} {e}");

    w.state.registry_keys = Arc::new(devtools::sim::sim_trust(DEFAULT_SIM_SEED).with_basis(TrustBasis::Unpinned));
    let (s, e) = w.call("POST", &uri, &w.officer, Some(filing(&w, &a, &family))).await;
    assert!(s.is_client_error() && e.to_string().contains("without a trust list"), "{s} {e}");

    w.state.registry_keys = Arc::new(devtools::sim::sim_trust(DEFAULT_SIM_SEED));
    let (s, e) = w.call("POST", &uri, &w.officer, Some(filing(&w, &a, &family))).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
}

/// Issue 29, item 2: a case file is re-judged offline. A resolution that contradicts its
/// re-check, and a re-check whose verdict the answers do not give, written behind the service's
/// back with the ledger key, fail `verify_case_file`, naming the event; the case file of an
/// upheld appeal says so.
#[tokio::test]
async fn a_case_file_is_re_judged_offline() {
    let w = world().await;
    let sources = || housing_ledger::proof::Sources::List(devtools::sim::sim_trust(DEFAULT_SIM_SEED));
    let anchor = w.state.ledger.key_history().await.unwrap().all()[0].clone();
    let case_file = |id: String| {
        let w = &w;
        async move {
            let file = w.call("GET", &format!("/v1/appeals/{id}/case-file"), &w.auditor, None).await.1;
            serde_json::from_value::<housing_ledger::proof::CaseFile>(file).unwrap()
        }
    };
    let check =
        |f: &housing_ledger::proof::CaseFile| housing_ledger::proof::verify_case_file(f, &anchor, &RuleBook::built_in(), &sources()).map_err(|e| e.to_string());

    // Upheld on a re-check that found the contract again.
    let a = id(&w.file("@Upheld", json!({})).await);
    w.call("POST", &format!("/v1/appeals/{a}/recheck"), &w.officer, None).await;
    let (s, r) = w.call("POST", &format!("/v1/appeals/{a}/resolution"), &w.officer, Some(json!({"outcome": "upheld", "reason": "registered"}))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let upheld = case_file(a.clone()).await;
    let outcome = check(&upheld).unwrap().appeal.unwrap();
    assert!(outcome.starts_with(&format!("upheld by appeal {a}")), "{outcome}");
    // Its resolution, the appeal stream's last event, left out: it would read as open, but the
    // checkpoint's stream heads name the end left out (issue 29, item 2).
    let mut cut = upheld.clone();
    let last = cut.appeal_events.iter().filter(|e| e.stream == format!("appeal:{a}")).map(|e| e.seq).max().unwrap();
    cut.appeal_events.retain(|e| e.seq != last);
    cut.inclusion.retain(|i| i.seq != last);
    let e = check(&cut).unwrap_err();
    assert!(e.contains(&format!("leaves out the end of stream appeal:{a}")) && e.contains(&format!("(seq {last})")), "{e}");

    // Open, then overturned behind the service's back although the re-check found a ground.
    let b = id(&w.file("@Later", json!({})).await);
    let open = check(&case_file(b.clone()).await).unwrap().appeal.unwrap();
    assert_eq!(open, format!("appeal {b} is open"));
    let (_, r) = w.call("POST", &format!("/v1/appeals/{b}/recheck"), &w.officer, None).await;
    assert_eq!(r["recheck"]["verdict"], "found", "{r}");
    let stream = format!("appeal:{b}");
    let next = w.state.ledger.log().read_stream(&stream, None).await.unwrap().len() as u64;
    let recheck = w.state.ledger.log().read_stream(&stream, None).await.unwrap().into_iter().rev().find(|e| e.kind == "AppealRechecked").unwrap();
    let person = iin_for("Later");
    w.state
        .ledger
        .append(vec![NewEvent::new(
            &stream,
            "AppealResolved",
            json!({"appeal": b, "iin": person, "procedure": "registry_removal", "outcome": "overturned", "reason": "x",
                   "resolved_by": {"token": "t", "role": "appeals_officer", "holder": "h", "holder_id": iin_for("Officer2")},
                   "recheck": recheck.seq, "grounds": [], "reinstated": null}),
        )
        .expecting(next)])
        .await
        .unwrap();
    let e = check(&case_file(b.clone()).await).unwrap_err();
    assert!(e.contains("resolved overturned against its latest re-check") && e.contains(&format!("seq {}, found", recheck.seq)), "{e}");

    // A re-check recorded clear where its answers find a ground.
    let c = id(&w.file("@Same", json!({})).await);
    w.call("POST", &format!("/v1/appeals/{c}/recheck"), &w.officer, None).await;
    let stream = format!("appeal:{c}");
    let found = w.state.ledger.log().read_stream(&stream, None).await.unwrap().into_iter().rev().find(|e| e.kind == "AppealRechecked").unwrap();
    let next = w.state.ledger.log().read_stream(&stream, None).await.unwrap().len() as u64;
    let mut forged = found.data.clone();
    forged["verdict"] = json!("clear");
    forged["grounds"] = json!([]);
    let planted = w.state.ledger.append(vec![NewEvent::new(&stream, "AppealRechecked", forged).expecting(next)]).await.unwrap();
    let e = check(&case_file(c).await).unwrap_err();
    assert!(e.contains(&format!("seq {}: the re-check does not follow", planted[0].seq)), "{e}");
}

/// Issue 35, F6 and F7: every answer of the appeal routes, 409s included, and every answer that
/// shows a family member's record, records a read of the appellant and of his family; a
/// refusal of the request itself records none.
#[tokio::test]
async fn appeal_answers_record_reads_of_the_appellant_and_his_family() {
    let w = world().await;
    let (person, spouse) = (iin_for("Cleared"), iin_for("Cleared.spouse"));
    let reads_of = |iin: String| {
        let w = &w;
        async move {
            let (s, v) = w.call("GET", &format!("/v1/persons/{iin}/reads"), &w.auditor, None).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["reads"].as_array().unwrap().iter().filter(|r| r["read"] != "reads").map(|r| r["read"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    let a = id(&w.file("@Cleared", json!({})).await);
    assert!(reads_of(spouse.clone()).await.contains(&"appeal-filing".to_string()), "the filing shows the spouse's record");
    let before = (reads_of(person.clone()).await.len(), reads_of(spouse.clone()).await.len());
    // Refused requests show nothing: an auditor may not suspend, an unknown token is no one.
    assert_eq!(w.call("POST", &format!("/v1/appeals/{a}/suspension"), &w.auditor, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(w.call("POST", &format!("/v1/appeals/{a}/suspension"), "not-a-token", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!((reads_of(person.clone()).await.len(), reads_of(spouse.clone()).await.len()), before, "refusals are no reads");
    let steps = [
        ("POST", format!("/v1/appeals/{a}/suspension"), None, StatusCode::OK, format!("appeal:{a}:suspension")),
        ("POST", format!("/v1/appeals/{a}/suspension"), None, StatusCode::CONFLICT, format!("appeal:{a}:suspension")),
        ("POST", format!("/v1/appeals/{a}/recheck"), None, StatusCode::OK, format!("appeal:{a}:recheck")),
        ("POST", format!("/v1/appeals/{a}/reinstatement"), None, StatusCode::CONFLICT, format!("appeal:{a}:reinstatement")),
        (
            "POST",
            format!("/v1/appeals/{a}/resolution"),
            Some(json!({"outcome": "upheld", "reason": "the record stands"})),
            StatusCode::OK,
            format!("appeal:{a}:resolution"),
        ),
        (
            "POST",
            format!("/v1/appeals/{a}/resolution"),
            Some(json!({"outcome": "upheld", "reason": "again"})),
            StatusCode::CONFLICT,
            format!("appeal:{a}:resolution"),
        ),
        ("GET", format!("/v1/appeals/{a}"), None, StatusCode::OK, format!("appeal:{a}")),
        ("GET", format!("/v1/appeals/{a}/case-file"), None, StatusCode::OK, format!("case-file:{a}")),
        ("GET", format!("/v1/persons/{person}/proof?procedure=registry_removal"), None, StatusCode::OK, "proof:registry_removal".into()),
    ];
    for (method, uri, body, status, label) in steps {
        let token = if method == "GET" { &w.auditor } else { &w.other_officer };
        let (s, v) = w.call(method, &uri, token, body).await;
        if s == StatusCode::OK && uri.contains("/recheck") {
            assert!(v.to_string().contains(&spouse), "the re-check names the spouse: {v}");
        }
        assert_eq!(s, status, "{method} {uri}: {v}");
        for (who, iin) in [("the appellant", &person), ("his spouse", &spouse)] {
            let reads = reads_of(iin.clone()).await;
            assert_eq!(reads.iter().filter(|r| **r == label).count(), reads.iter().filter(|r| **r == label).count().max(1), "{who}: {label}: {reads:?}");
            assert!(reads.last() == Some(&label), "{method} {uri} ({status}) recorded for {who} last: {reads:?}");
        }
    }
    // The person's events show the spouse's answers: read under the spouse too.
    let (s, _) = w.call("GET", &format!("/v1/persons/{person}/events"), &w.auditor, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(reads_of(spouse.clone()).await.last().map(String::as_str), Some("events"));
}

/// Issue 35, F6 and F7: one mechanism: an answer that names a person with nobody to record
/// the read against is withheld, never sent.
#[tokio::test]
async fn an_answer_naming_a_person_without_a_caller_is_withheld() {
    let w = world().await;
    let leak = iin_for("Cleared");
    let router = axum::Router::new()
        .route("/leak", axum::routing::get(move || async move { axum::Json(json!({"iin": leak})) }))
        .route("/fine", axum::routing::get(|| async { axum::Json(json!({"size": 12})) }))
        .layer(axum::middleware::from_fn_with_state(w.state.clone(), housing_ledger::disclosure::record_shown));
    let get = |uri: &'static str| {
        let router = router.clone();
        async move { router.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap().status() }
    };
    assert_eq!(get("/leak").await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(get("/fine").await, StatusCode::OK);
}

/// Issue 35, F6 and F7, the tidy side: every GET route the API documents, asked for with an
/// auditor's token, records a read of every person its answer names (found here by a scan of
/// our own: any 12 digits that are a person of the scenario), so a new route cannot forget.
#[tokio::test]
async fn every_documented_route_records_whom_it_shows() {
    let w = world().await;
    let a = id(&w.file("@Cleared", json!({})).await);
    let (_, runs) = w.call("GET", "/v1/runs", &w.auditor, None).await;
    let run = runs["runs"][0]["run"].as_str().unwrap().to_string();
    let people: Vec<String> = ["Upheld", "Cleared", "Cleared.spouse", "Later", "Same", "Late"].iter().map(|n| iin_for(n)).collect();
    let (_, doc) = w.call("GET", "/openapi.json", &w.auditor, None).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() || path.ends_with("/reads") {
            continue;
        }
        let id = if path.starts_with("/v1/runs") { &run } else { &a };
        let uri = path.replace("{iin}", &iin_for("Cleared")).replace("{id}", id) + "?procedure=registry_removal&seq=0";
        let req = Request::get(&uri).header("Authorization", format!("Bearer {}", w.auditor)).body(Body::empty()).unwrap();
        let resp = app(w.state.clone()).oneshot(req).await.unwrap();
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).to_string();
        for iin in people.iter().filter(|p| body.contains(p.as_str())) {
            let reads = housing_ledger::reads::of_person(&w.state.ledger, iin).await.unwrap();
            let last = reads.last().map(|r| r["seq"].as_u64().unwrap());
            assert!(last.is_some(), "GET {uri} showed {iin} and recorded no read");
            checked += 1;
            // The newest read of the person is this answer's: nothing was read since.
            let size = w.state.ledger.size().await.unwrap();
            assert!(last.unwrap() + 1 >= size - 1, "GET {uri} showed {iin}; its newest read is at {last:?}, the log ends at {size}");
        }
    }
    assert!(checked >= 8, "the routes that show persons were asked for: {checked}");
}

/// The login page keeps the page asked for, which may name a person: the request's own words,
/// shown to no one else, so it is not withheld (and no read is recorded without a caller).
#[tokio::test]
async fn the_login_page_may_echo_the_page_asked_for() {
    let w = world().await;
    let uri = format!("/ui/login?next=/ui/persons/{}", iin_for("Cleared"));
    let resp = app(w.state.clone()).oneshot(Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).to_string();
    assert!(body.contains(&iin_for("Cleared")), "the return path is kept");
}

/// Issue 35, F7 on the pages: the case page and the printed case file show the spouse's record,
/// so each records a read under the spouse too.
#[tokio::test]
async fn the_pages_record_reads_of_the_family_they_show() {
    let w = world().await;
    let a = id(&w.file("@Cleared", json!({})).await);
    let caller = housing_ledger::auth::authenticate(&w.state.ledger, &w.auditor).await.unwrap().unwrap();
    let cookie = format!("hl_session={}", housing_ledger::web::session::open(w.state.ledger.access().as_ref(), &caller).await.unwrap());
    let spouse = iin_for("Cleared.spouse");
    for (uri, label) in [(format!("/ui/persons/{}", iin_for("Cleared")), "web:case".to_string()), (format!("/ui/appeals/{a}/print"), format!("web:print:{a}"))]
    {
        let req = Request::get(&uri).header("Cookie", &cookie).body(Body::empty()).unwrap();
        let resp = app(w.state.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{uri}");
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).to_string();
        assert!(body.contains(&spouse), "{uri} shows the spouse");
        let reads = housing_ledger::reads::of_person(&w.state.ledger, &spouse).await.unwrap();
        assert!(reads.iter().any(|r| r["read"] == label.as_str() && r["token"] == caller.token_id.as_str()), "{uri}: {reads:?}");
    }
}
