//! The HTTP adapter against a real `registry-sim` server on loopback, faults included: an error
//! status, no answer within the deadline, a malformed body and a bad signature.

use crate::common::scenario::complete;
use crate::common::{Backend, Place};
use devtools::sim::FixtureRegistries;
use devtools::sim::DEFAULT_SIM_SEED;
use devtools::sim_http::sim_from_fixture;
use housing_ledger::pipeline::{self, Settings, Silent};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::registry::http::{HttpRegistries, HttpSettings};
use housing_ledger::registry::{check_answer, AnswerKind, Registries, RegistryFault};
use housing_ledger::rules::records::RegistryId;
use housing_ledger::rules::{Procedure, RuleBook};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn serve(fixture: Fixture, stall: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sim_from_fixture(fixture, DEFAULT_SIM_SEED, stall)).await.unwrap() });
    format!("http://{addr}")
}

fn settings() -> HttpSettings {
    HttpSettings { deadline: Duration::from_millis(300), retries: 2, backoff: Duration::from_millis(20), ..HttpSettings::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_over_http() {
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@A"}], "registries": {"gosreestr": {"@A": {"privatization_contracts": [{"number": "П-1"}]}}},
               "faults": [{"registry": "zags", "iin": "@A", "kind": "unavailable"}, {"registry": "kazreestr", "iin": "@A", "kind": "timeout"},
                          {"registry": "egkn", "iin": "@A", "kind": "malformed"}, {"registry": "gbd_fl", "iin": "@A", "kind": "bad_signature"}]}),
    );
    let url = serve(Fixture::parse("case", &fx.to_string()).unwrap(), Duration::from_secs(3)).await;
    let http = HttpRegistries::new(&url, settings());
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let a = vec![crate::common::scenario::iin_for("A")];
    let ask = |r: RegistryId| {
        let (http, keys, a) = (&http, &keys, a.clone());
        async move {
            let rid = format!("req-{r}");
            let fields: Vec<String> =
                ["privatization_contracts", "marriage", "shared_construction_contracts", "state_fund_housing", "citizenship"].map(String::from).to_vec();
            http.query(r, &a, &fields, &rid).await.and_then(|s| check_answer(keys, r, &rid, AnswerKind::Fields(&a, &fields), &s).cloned())
        }
    };
    let ok = ask(RegistryId::Gosreestr).await.unwrap();
    assert!(ok[&a[0]]["privatization_contracts"].is_array());
    match ask(RegistryId::Zags).await {
        Err(RegistryFault::Unavailable(d)) => {
            assert!(d.contains("503") && d.contains("after 3 attempts"), "{d}")
        }
        other => panic!("{other:?}"),
    }
    let t = Instant::now();
    match ask(RegistryId::Kazreestr).await {
        Err(RegistryFault::Timeout(d)) => assert!(d.contains("after 3 attempts"), "{d}"),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(3), "the deadline cut the stalled requests short");
    assert!(matches!(ask(RegistryId::Egkn).await, Err(RegistryFault::Malformed(_))));
    assert!(matches!(ask(RegistryId::GbdFl).await, Err(RegistryFault::BadSignature(_))));
    // A key the service does not trust is refused even when the signature is valid for it.
    let other = devtools::sim::sim_trust("another seed");
    let s = http.query(RegistryId::Gosreestr, &a, &["privatization_contracts".to_string()], "r2").await.unwrap();
    assert!(matches!(check_answer(&other, RegistryId::Gosreestr, "r2", AnswerKind::Records(&a), &s), Err(RegistryFault::BadSignature(_))));
    // A signed answer to another request is refused.
    assert!(matches!(check_answer(&keys, RegistryId::Gosreestr, "r3", AnswerKind::Records(&a), &s), Err(RegistryFault::Malformed(_))));
    // Unreachable registry.
    let dead = HttpRegistries::new("http://127.0.0.1:9", settings());
    assert!(matches!(dead.query(RegistryId::Zags, &a, &[], "r4").await, Err(RegistryFault::Unavailable(_))));
}

/// Decision 14: a query names its fields; the simulator over HTTP answers those only, and an
/// answer holding a field not asked for is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_fields_asked_for_are_answered() {
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@A"}], "registries": {"zags": {"@A": {"marriage": {"spouse_iin": "@A.spouse"}, "children": ["@A.child1"]}}}}),
    );
    let url = serve(Fixture::parse("case", &fx.to_string()).unwrap(), Duration::from_secs(3)).await;
    let http = HttpRegistries::new(&url, settings());
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let a = vec![crate::common::scenario::iin_for("A")];
    let asked = vec!["citizenship".to_string(), "imprisoned".to_string()];
    let s = http.query(RegistryId::GbdFl, &a, &asked, "f1").await.unwrap();
    let rec = &s.answer["records"][&a[0]];
    assert_eq!(rec.as_object().unwrap().keys().collect::<Vec<_>>(), ["citizenship", "imprisoned"], "{rec}");
    check_answer(&keys, RegistryId::GbdFl, "f1", AnswerKind::Fields(&a, &asked), &s).unwrap();
    // The same answer, checked as one to a query that asked for less, holds a field not asked for.
    let fewer = vec!["imprisoned".to_string()];
    match check_answer(&keys, RegistryId::GbdFl, "f1", AnswerKind::Fields(&a, &fewer), &s) {
        Err(RegistryFault::Malformed(d)) => assert!(d.contains("\"citizenship\", which was not asked for"), "{d}"),
        other => panic!("{other:?}"),
    }
    // A person with none of the fields asked for has no record.
    let s = http.query(RegistryId::Zags, &a, &["death".to_string()], "f2").await.unwrap();
    assert_eq!(s.answer["records"], json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_http_decides_as_in_process() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let book = RuleBook::built_in();
    let url = serve(Fixture::load(&example).unwrap(), Duration::from_secs(3)).await;
    for procedure in [Procedure::RegistryRemoval, Procedure::LeaseTermination] {
        let (p1, p2) = (Place::new(Backend::Sqlite, None), Place::new(Backend::Sqlite, None));
        let (l1, l2) = (p1.ledger().await, p2.ledger().await);
        let http: Arc<dyn Registries> = Arc::new(HttpRegistries::new(&url, settings()));
        let local: Arc<dyn Registries> = Arc::new(FixtureRegistries::new(Fixture::load(&example).unwrap(), DEFAULT_SIM_SEED));
        // An http: source is live: judging as of another day than today is a simulation.
        let simulation = Settings { simulation: true, ..Settings::default() };
        let a = pipeline::run(&l1, http, keys.clone(), &book, procedure, "2026-01-15", simulation, &Silent).await.unwrap();
        let b = pipeline::run(&l2, local, keys.clone(), &book, procedure, "2026-01-15", Settings::default(), &Silent).await.unwrap();
        assert_eq!(a.counts, b.counts, "{procedure}");
        assert_ne!(a.run, b.run, "the source is part of the run's identity");
        l1.verify(|_| {}).await.unwrap();
    }
}

/// The `registry-sim` router, counting the notices delivered through it.
async fn serve_counting(fixture: Fixture) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let delivered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = delivered.clone();
    let router = sim_from_fixture(fixture, DEFAULT_SIM_SEED, Duration::from_secs(3)).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counter = counter.clone();
            async move {
                if req.uri().path() == "/v1/notices" {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                next.run(req).await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), delivered)
}

fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_housing-ledger")).arg("--data-dir").arg(dir).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Decision 11 (findings 1 and 8), with live sources over `registry-sim` and the real binary: a
/// back-dated run is refused unless declared a simulation; a simulation is recorded as one,
/// marked so in its bundle and by `verify-proof`, and delivers nothing through the live
/// gateway; a run as of today needs a basis in force today (both orders have ended, so an
/// extension order is given), and delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_11_a_live_run_judges_as_of_today() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    let (url, delivered) = serve_counting(Fixture::load(&example).unwrap()).await;
    let source = format!("http:{url}");
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--procedure", "registry_removal", "--registries", &source, "--json"];
        args.extend_from_slice(extra);
        cli(dir.path(), &args)
    };

    // Back-dated, not declared a simulation: refused before anything is written.
    let (ok, _, err) = run(&["--as-of", "2026-01-15"]);
    assert!(!ok && err.contains("not 2026-01-15") && err.contains("--simulation"), "{err}");
    assert!(!dir.path().join("ledger.db").exists(), "nothing is created for a refused run");
    // As of today: order 000 ended on 2026-03-31.
    let (ok, _, err) = run(&[]);
    assert!(!ok && err.contains("its last day is 2026-03-31"), "{err}");

    // Declared a simulation: it runs, and nothing goes through the live gateway.
    let (ok, out, err) = run(&["--as-of", "2026-01-15", "--simulation"]);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(summary["counts"]["removed"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(delivered.load(std::sync::atomic::Ordering::SeqCst), 0, "a simulation never delivers through a live gateway");
    let store: Arc<dyn housing_ledger::store::EventStore> =
        Arc::new(housing_ledger::store::sql::SqlStore::connect(&format!("sqlite://{}", dir.path().join("ledger.db").display())).await.unwrap());
    let ledger = housing_ledger::ledger::Ledger::open(store.clone(), dir.path(), housing_ledger::ledger::DEFAULT_ORIGIN).await.unwrap();
    let started = store.read_by_type("RunStarted", 0, 10).await.unwrap();
    assert_eq!(started[0].data["simulation"], true);
    let withheld = store.read_by_type("NoticeWithheld", 0, 100).await.unwrap().len();
    assert_eq!((withheld, store.read_by_type("NoticeDelivered", 0, 100).await.unwrap().len()), (summary["counts"]["removed"].as_u64().unwrap() as usize, 0));
    // Its proof bundle says so, and verify-proof says so; a bundle that hides it fails.
    let removed = store.read_by_type("DecisionTaken", 0, 10).await.unwrap()[0].stream.trim_start_matches("person:").to_string();
    let bundle = housing_ledger::proof::build(&ledger, &devtools::sim::sim_trust(DEFAULT_SIM_SEED), &removed, Procedure::RegistryRemoval).await.unwrap();
    assert_eq!(bundle.simulation.as_deref(), Some("simulation, not a legal act"));
    let key = ledger.signer().verifier().to_string();
    let file = dir.path().join("proof.json");
    std::fs::write(&file, serde_json::to_string(&bundle).unwrap()).unwrap();
    let trust = dir.path().join("trust.json");
    let trust = trust.to_str().unwrap();
    let (ok, out, _) = cli(dir.path(), &["verify-proof", file.to_str().unwrap(), "--ledger-key", &key, "--trust", trust]);
    assert!(ok && out.contains("SIMULATION, not a legal act"), "{out}");
    let mut hidden = serde_json::to_value(&bundle).unwrap();
    hidden.as_object_mut().unwrap().remove("simulation");
    std::fs::write(&file, hidden.to_string()).unwrap();
    let (ok, out, _) = cli(dir.path(), &["verify-proof", file.to_str().unwrap(), "--ledger-key", &key, "--trust", trust]);
    assert!(!ok && out.contains("the events are of a simulation, but the bundle does not say so"), "{out}");
    drop(ledger);

    // As of today under an extension order: a real run, which delivers; the simulated
    // removals do not stand against it (decision 12).
    let mut v: serde_json::Value = serde_json::from_str(include_str!("../../rules/registry-removal-000-v1.json")).unwrap();
    v["version"] = "2-test".into();
    v["valid_until"] = "2099-12-31".into();
    let extension = dir.path().join("extension.json");
    std::fs::write(&extension, v.to_string()).unwrap();
    // Without a trust list a live run is refused, and nothing is written (sources.md).
    let size = store.size().await.unwrap();
    let (ok, _, err) = run(&["--rule-set", extension.to_str().unwrap()]);
    assert!(!ok && err.contains("a live run needs a trust list") && err.contains("Nothing was written"), "{err}");
    assert_eq!(store.size().await.unwrap(), size, "nothing is written");
    let (ok, out, err) = run(&["--rule-set", extension.to_str().unwrap(), "--trust", trust]);
    assert!(ok, "{err}");
    let real: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(real["counts"]["removed"], summary["counts"]["removed"], "the same persons are removed for real: {real}");
    assert!(real["counts"].get("already_decided").is_none(), "{real}");
    assert!(delivered.load(std::sync::atomic::Ordering::SeqCst) > 0, "a real run delivers");
    let started = store.read_by_type("RunStarted", 0, 10).await.unwrap();
    assert_eq!(
        (started[1].data["simulation"].clone(), started[1].data["as_of"].clone()),
        (json!(false), json!(housing_ledger::rules::calendar::today().to_string()))
    );
    // A simulation after it meets the real decisions that stand.
    let (ok, out, err) = run(&["--as-of", "2026-02-01", "--simulation"]);
    assert!(ok, "{err}");
    let later: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(later["counts"]["already_decided"], summary["counts"]["removed"], "{later}");
}

/// Issue 21, item 3: a source owner issues a correction to `registry-sim`; the adapter fetches
/// the corrections pending about an appeal's persons, and each checks as a signed answer to the
/// request id `<appeal>/<registry>`. What cannot be a record of the registry is not issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_issued_at_the_source_are_fetched_over_http() {
    use crate::common::scenario::iin_for;
    let contract = json!({"privatization_contracts": [{"number": "П-1"}]});
    let (fx, _) = complete(Procedure::RegistryRemoval, json!({"entries": [{"iin": "@A"}], "registries": {"gosreestr": {"@A": contract, "@B": contract}}}));
    let url = serve(Fixture::parse("case", &fx.to_string()).unwrap(), Duration::from_secs(3)).await;
    let http = HttpRegistries::new(&url, settings());
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let (a, b) = (iin_for("A"), iin_for("B"));
    let persons = vec![a.clone(), b.clone()];
    assert!(http.corrections("ap-1", &persons).await.unwrap().is_empty(), "none issued");

    let issue = |body: serde_json::Value| {
        let url = url.clone();
        async move { reqwest::Client::new().post(format!("{url}/v1/corrections")).json(&body).send().await.unwrap() }
    };
    let r = issue(json!({"registry": "gosreestr", "iin": a, "record": null})).await;
    assert_eq!(r.status(), 201);
    let r = issue(json!({"registry": "gosreestr", "iin": a, "record": {"privatization_contracts": 7}})).await;
    assert_eq!(r.status(), 400, "not a record ГосРеестр could give");
    assert!(r.text().await.unwrap().contains("privatization_contracts"));
    assert_eq!(issue(json!({"registry": "nowhere", "iin": a, "record": null})).await.status(), 404);
    assert_eq!(issue(json!({"registry": "gosreestr", "iin": "123", "record": null})).await.status(), 400, "a malformed IIN");

    let got = http.corrections("ap-1", &persons).await.unwrap();
    assert_eq!(got.len(), 1, "ГосРеестр's, and no other registry's");
    let records = check_answer(&keys, RegistryId::Gosreestr, "ap-1/gosreestr", AnswerKind::Records(&persons), &got[0]).unwrap();
    assert_eq!(records, &json!({b.clone(): {"privatization_contracts": [{"number": "П-1"}]}}), "A corrected, B as the registry holds him");
    assert_eq!(http.corrections("ap-1", &persons).await.unwrap(), got, "fetched again, the same signed answer");
    assert!(http.corrections("ap-2", std::slice::from_ref(&b)).await.unwrap().is_empty(), "nothing issued about B alone");
    let down = HttpRegistries::new("http://127.0.0.1:9", settings());
    assert!(matches!(down.corrections("ap-1", &persons).await, Err(RegistryFault::Unavailable(_))), "an unreachable source says so");
}
