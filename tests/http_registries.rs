//! The HTTP adapter against a real `registry-sim` server on loopback, faults included: an error
//! status, no answer within the deadline, a malformed body and a bad signature.

mod common;

use common::scenario::complete;
use common::{Backend, Place};
use housing_ledger::pipeline::{self, Settings, Silent};
use housing_ledger::registry::fixture::{Fixture, FixtureRegistries};
use housing_ledger::registry::http::{sim_from_fixture, HttpRegistries, HttpSettings};
use housing_ledger::registry::{check_answer, AnswerKind, Registries, RegistryFault, TrustedKeys, DEFAULT_SIM_SEED};
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
    HttpSettings { deadline: Duration::from_millis(300), retries: 2, backoff: Duration::from_millis(20) }
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
    let keys = TrustedKeys::from_sim_seed(DEFAULT_SIM_SEED);
    let a = vec![common::scenario::iin_for("A")];
    let ask = |r: RegistryId| {
        let (http, keys, a) = (&http, &keys, a.clone());
        async move {
            let rid = format!("req-{r}");
            http.query(r, &a, &rid).await.and_then(|s| check_answer(keys, r, &rid, AnswerKind::Records(&a), &s).cloned())
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
    let other = TrustedKeys::from_sim_seed("another seed");
    let s = http.query(RegistryId::Gosreestr, &a, "r2").await.unwrap();
    assert!(matches!(check_answer(&other, RegistryId::Gosreestr, "r2", AnswerKind::Records(&a), &s), Err(RegistryFault::BadSignature(_))));
    // A signed answer to another request is refused.
    assert!(matches!(check_answer(&keys, RegistryId::Gosreestr, "r3", AnswerKind::Records(&a), &s), Err(RegistryFault::Malformed(_))));
    // Unreachable registry.
    let dead = HttpRegistries::new("http://127.0.0.1:9", settings());
    assert!(matches!(dead.query(RegistryId::Zags, &a, "r4").await, Err(RegistryFault::Unavailable(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_http_decides_as_in_process() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/fixtures/example.json");
    let keys = TrustedKeys::from_sim_seed(DEFAULT_SIM_SEED);
    let book = RuleBook::built_in();
    let url = serve(Fixture::load(&example).unwrap(), Duration::from_secs(3)).await;
    for procedure in [Procedure::RegistryRemoval, Procedure::LeaseTermination] {
        let (p1, p2) = (Place::new(Backend::Sqlite, None), Place::new(Backend::Sqlite, None));
        let (l1, l2) = (p1.ledger().await, p2.ledger().await);
        let http: Arc<dyn Registries> = Arc::new(HttpRegistries::new(&url, settings()));
        let local: Arc<dyn Registries> = Arc::new(FixtureRegistries::new(Fixture::load(&example).unwrap(), DEFAULT_SIM_SEED));
        let a = pipeline::run(&l1, http, keys.clone(), &book, procedure, "2026-01-15", Settings::default(), &Silent).await.unwrap();
        let b = pipeline::run(&l2, local, keys.clone(), &book, procedure, "2026-01-15", Settings::default(), &Silent).await.unwrap();
        assert_eq!(a.counts, b.counts, "{procedure}");
        assert_ne!(a.run, b.run, "the source is part of the run's identity");
        l1.verify(|_| {}).await.unwrap();
    }
}
