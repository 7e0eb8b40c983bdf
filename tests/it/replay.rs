//! Projections are pure folds over events: golden event logs in `tests/data/` fold into expected
//! read models, the stored projection equals a rebuild from the events, and `replay` finds a row
//! changed behind the ledger's back.

use crate::common::{tamper, Backend, Place};
use events::verify::ChainVerifier;
use events::Event;
use expect_test::expect;
use projections::person::Persons;
use projections::run::RunProgress;

/// A log written by `housing-ledger run` on `shared/spec/fixtures/example.json`, both procedures.
fn golden() -> Vec<Event> {
    include_str!("../data/example-both-procedures.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_golden_log_verifies() {
    let mut v = ChainVerifier::new();
    v.feed(&golden()).unwrap();
    assert_eq!(v.size(), 143);
}

#[test]
fn golden_log_folds_into_person_cases() {
    let mut persons = Persons::default();
    golden().iter().for_each(|e| persons.apply(e));
    let mut out = String::new();
    for (iin, cases) in &persons.cases {
        for (p, c) in cases {
            let grounds: Vec<String> = c.grounds.iter().map(|g| format!("{}/{}", g.code, g.subject)).collect();
            let notice = c.notice.as_ref().map(|n| format!("{} after {}", n.state, n.attempts)).unwrap_or_else(|| "-".into());
            let decision = c.decision.as_ref().map(|d| d.outcome.to_string()).unwrap_or_else(|| "-".into());
            out.push_str(&format!("{iin} {p}: {} [{}] decision {decision}, notice {notice}\n", c.status, grounds.join(", ")));
        }
    }
    expect![[r#"
        850415350079 registry_removal: retained [] decision -, notice -
        850415350356 registry_removal: removed [privatization_contract/family_member] decision confirmed, notice delivered after 1
        850415350495 registry_removal: removed [state_fund_housing_in_locality/recipient] decision confirmed, notice delivered after 1
        850415350564 registry_removal: removed [permanent_residence_abroad/recipient] decision confirmed, notice delivered after 1
        850415350633 registry_removal: incomplete [] decision -, notice -
        850415350702 registry_removal: no_consent [] decision -, notice -
        850415350772 lease_termination: terminated [shared_construction_contract/recipient] decision confirmed, notice delivered after 1
        850415350841 lease_termination: retained [] decision -, notice -
    "#]]
    .assert_eq(&out);
}

#[test]
fn golden_log_folds_into_run_progress() {
    let events = golden();
    let mut out = String::new();
    for run in ["2026-01-15-rr-e14e3920", "2026-01-15-lt-d15ca6d1"] {
        let mut p = RunProgress::new(run);
        events.iter().for_each(|e| p.apply(e));
        out.push_str(&format!(
            "{run}: {} counts {:?}, {} proposals, {} notices, finished {}\n",
            p.procedure,
            p.counts(),
            p.proposals.len(),
            p.notices.len(),
            p.finished.is_some()
        ));
    }
    expect![[r#"
        2026-01-15-rr-e14e3920: registry_removal counts {"incomplete": 1, "no_consent": 1, "removed": 3, "retained": 1}, 3 proposals, 3 notices, finished true
        2026-01-15-lt-d15ca6d1: lease_termination counts {"retained": 1, "terminated": 1}, 1 proposals, 1 notices, finished true
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn replay_equals_the_stored_projection_and_finds_a_row_changed_behind_its_back() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    let (fx, _) = crate::common::scenario::complete(
        housing_ledger::rules::Procedure::RegistryRemoval,
        serde_json::json!({"entries": [{"iin": "@A"}, {"iin": "@B"}], "registries": {"gosreestr": {"@A": {"privatization_contracts": [{"number": "1"}]}}}, "delivery_faults": {"@A": 1}}),
    );
    crate::common::scenario::run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("c", &fx.to_string()).unwrap()).await;
    // The projection followed the run batch by batch: queryable when the run ends, nothing
    // left to catch up (the cursor moves with the rows, so nothing is applied twice).
    let cursor = ledger.projections().projection_cursor(housing_ledger::read_models::PERSONS).await.unwrap();
    assert_eq!(cursor, ledger.size().await.unwrap());
    assert_eq!(housing_ledger::read_models::catch_up(&ledger).await.unwrap(), 0);
    let r = housing_ledger::read_models::replay(&ledger).await.unwrap();
    assert!(r.differences.is_empty(), "{:?}", r.differences);
    let a = crate::common::scenario::iin_for("A");
    let stored = housing_ledger::read_models::person(&ledger, &a).await.unwrap().unwrap();
    assert_eq!(stored["registry_removal"].status, "removed");
    assert_eq!(stored["registry_removal"].notice.as_ref().unwrap().attempts, 2);
    // Change the stored row behind the ledger's back.
    let sql = place.sql().await;
    // On a v2 ledger the row is sealed under the row key, which the database does not hold:
    // a change makes it no row at all.
    tamper(&sql, &crate::common::spoil_row(&ledger.log().stored_key(&a))).await;
    let r = housing_ledger::read_models::replay(&ledger).await.unwrap();
    // The row no longer opens: it stands under its stored key (A's blind id) as a row the
    // events do not give, and A's row is missing.
    let blind = ledger.log().stored_key(&a);
    let keys: Vec<&String> = r.differences.iter().map(|(k, _, _)| k).collect();
    assert_eq!(keys, [&a, &blind], "{:?}", r.differences);
    assert!(r.differences[0].1.is_none() && r.differences[0].2.as_ref().unwrap().contains("removed"));
    let spoiled = housing_ledger::read_models::person(&ledger, &a).await;
    assert!(matches!(spoiled, Err(housing_ledger::ledger::LedgerError::Tampered(_))), "a row that does not open is never served: {spoiled:?}");
}

/// Every golden ledger, whole.
static LEDGERS: std::sync::LazyLock<Vec<Vec<Event>>> = std::sync::LazyLock::new(|| {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut all: Vec<Vec<Event>> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect())
        .collect();
    all.push(golden());
    all
});

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]
    /// `replay` folds in shards on every core: any prefix of any golden ledger, in any number
    /// of shards, fed in pages of any size, folds to the serial fold's cases.
    #[test]
    fn the_sharded_fold_equals_the_serial_fold(ledger in 0usize..10, cut in 0.0f64..=1.0, shards in 1usize..9, page in 1usize..300) {
        let events = &LEDGERS[ledger % LEDGERS.len()];
        let events = &events[..(events.len() as f64 * cut) as usize];
        let mut serial = Persons::default();
        events.iter().for_each(|e| serial.apply(e));
        let mut sharded = projections::person::Sharded::new(shards);
        for chunk in events.chunks(page) {
            sharded.apply_all(chunk);
        }
        proptest::prop_assert_eq!(sharded.into_persons(), serial);
    }
}

/// Issue 29, item 5: the database alone changes nothing the service shows unnoticed. An edited
/// projection row and deleted subject-index rows are caught by `verify --deep`, naming them;
/// `serve`'s check (at start, before listening, and on a schedule) folds them afresh from the
/// events, so the edited status is never served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_edited_behind_the_ledgers_back_are_caught_and_never_served() {
    let place = Place::new(Backend::Sqlite, None);
    // Format v1: rows keyed by IIN, their documents in the clear under an HMAC, which an
    // edit in place must get past (a v2 row is sealed whole: `replay_equals_...` edits one).
    let ledger = std::sync::Arc::new(place.ledger_v1().await);
    let (fx, _) = crate::common::scenario::complete(
        housing_ledger::rules::Procedure::RegistryRemoval,
        serde_json::json!({"entries": [{"iin": "@A"}, {"iin": "@B"}], "registries": {"gosreestr": {"@A": {"privatization_contracts": [{"number": "1"}]}}}}),
    );
    crate::common::scenario::run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("c", &fx.to_string()).unwrap()).await;
    let a = crate::common::scenario::iin_for("A");
    // Two reads of A, recorded and indexed.
    let keys = devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED);
    let state = housing_ledger::api::AppState::new(ledger.clone(), keys.clone());
    let (auditor, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Auditor, "").await.unwrap();
    let get = |state: housing_ledger::api::AppState, uri: String| {
        let auditor = auditor.clone();
        async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let req = axum::http::Request::builder().uri(uri).header("Authorization", format!("Bearer {auditor}")).body(axum::body::Body::empty()).unwrap();
            let resp = housing_ledger::app(state).oneshot(req).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
        }
    };
    for _ in 0..2 {
        get(state.clone(), format!("/v1/persons/{a}")).await;
    }
    housing_ledger::reads::index_catch_up(&ledger).await.unwrap();
    state.background.shutdown().await;
    let verify_deep = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
            .arg("--data-dir")
            .arg(place.key_dir.path())
            .args(["verify", "--deep", "--trust-bundle-keys"])
            .env("HOUSING_LEDGER_LOG", "warn")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, out) = verify_deep();
    assert!(ok && out.contains("equal the fold of the events"), "{out}");

    let sql = place.sql().await;
    tamper(&sql, &format!("UPDATE projection_rows SET doc = replace(doc, '\"removed\"', '\"retained\"') WHERE key = '{a}'")).await;
    tamper(&sql, &format!("DELETE FROM subject_index WHERE subject = '{a}'")).await;
    let (ok, out) = verify_deep();
    assert!(!ok && out.contains(&format!("persons/{a}")) && out.contains(&format!("subject_index ({a}, ")) && out.contains("missing from the index"), "{out}");
    // Meanwhile the edited row is never served: its seal (HMAC under the read-model key, which
    // the database does not hold) no longer opens. Nor is a row minted for someone else.
    let state = housing_ledger::api::AppState::new(ledger.clone(), keys.clone());
    let person = get(state.clone(), format!("/v1/persons/{a}")).await;
    assert_eq!(person["error"]["code"], "integrity", "{person}");
    assert!(!person.to_string().contains("retained"), "{person}");
    let b = crate::common::scenario::iin_for("B");
    tamper(&sql, &format!("UPDATE projection_rows SET doc = (SELECT doc FROM projection_rows WHERE key = '{a}') WHERE key = '{b}'")).await;
    let minted = get(state.clone(), format!("/v1/persons/{b}")).await;
    assert_eq!(minted["error"]["code"], "integrity", "another person's sealed row moved to B does not open as B's: {minted}");
    state.background.shutdown().await;

    // What serve does before it listens: the rows come back from the events.
    assert_eq!(housing_ledger::read_models::restore_from_events(&ledger).await.unwrap(), 4, "two person rows and two index rows");
    let state = housing_ledger::api::AppState::new(ledger.clone(), keys);
    let person = get(state.clone(), format!("/v1/persons/{a}")).await;
    assert_eq!(person["procedures"]["registry_removal"]["status"], "removed", "{person}");
    let reads = get(state.clone(), format!("/v1/persons/{a}/reads")).await;
    assert!(reads["reads"].as_array().unwrap().len() >= 3, "every read of A listed again: {reads}");
    state.background.shutdown().await;
    let (ok, out) = verify_deep();
    assert!(ok, "{out}");
}

/// A projection store that counts its commits.
struct CountingCommits {
    inner: std::sync::Arc<dyn housing_ledger::store::ProjectionStore>,
    commits: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl housing_ledger::store::ProjectionStore for CountingCommits {
    async fn projection_cursor(&self, p: &str) -> housing_ledger::store::Result<u64> {
        self.inner.projection_cursor(p).await
    }
    async fn projection_rows(&self, p: &str, keys: &[String]) -> housing_ledger::store::Result<std::collections::HashMap<String, String>> {
        self.inner.projection_rows(p, keys).await
    }
    async fn projection_all(&self, p: &str) -> housing_ledger::store::Result<Vec<(String, String)>> {
        self.inner.projection_all(p).await
    }
    async fn projection_commit(&self, p: &str, from: u64, to: u64, rows: Vec<(String, String)>) -> housing_ledger::store::Result<bool> {
        self.commits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.projection_commit(p, from, to, rows).await
    }
    async fn subject_index_commit(&self, from: u64, to: u64, rows: Vec<(String, u64)>) -> housing_ledger::store::Result<bool> {
        self.inner.subject_index_commit(from, to, rows).await
    }
    async fn subject_seqs(&self, subject: &str) -> housing_ledger::store::Result<Vec<u64>> {
        self.inner.subject_seqs(subject).await
    }
    async fn subject_index_all(&self) -> housing_ledger::store::Result<Vec<(String, u64)>> {
        self.inner.subject_index_all().await
    }
    async fn forget_subject(&self, p: &str, key: &str) -> housing_ledger::store::Result<()> {
        self.inner.forget_subject(p, key).await
    }
    async fn projection_reset(&self, p: &str) -> housing_ledger::store::Result<()> {
        self.inner.projection_reset(p).await
    }
}

/// Batches that wait in the follower's channel are folded and committed as one (a person's row
/// is rewritten, and on v2 sealed, once for all of them), and the rows are what a replay of
/// the events gives.
#[tokio::test]
async fn a_follower_behind_folds_the_waiting_batches_in_one_commit() {
    use housing_ledger::read_models::{Follower, RowSeal, PERSONS};
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    let (fx, _) = crate::common::scenario::complete(
        housing_ledger::rules::Procedure::RegistryRemoval,
        serde_json::json!({"entries": [{"iin": "@A"}, {"iin": "@B"}, {"iin": "@C"}], "registries": {"gosreestr": {"@A": {"privatization_contracts": [{"number": "1"}]}}}}),
    );
    crate::common::scenario::run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("c", &fx.to_string()).unwrap()).await;
    ledger.projections().projection_reset(PERSONS).await.unwrap();
    let size = ledger.size().await.unwrap();
    let events = ledger.log().read(0, size).await.unwrap();
    let counting = std::sync::Arc::new(CountingCommits { inner: ledger.projections().clone(), commits: Default::default() });
    let follower = Follower::start(ledger.log().clone(), counting.clone(), RowSeal::of(&ledger));
    // Three committed batches, handed over before the follower's task first runs.
    let third = events.len() / 3;
    for batch in [&events[..third], &events[third..2 * third], &events[2 * third..]] {
        follower.committed(batch);
    }
    follower.finish().await.unwrap();
    assert_eq!(counting.commits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(ledger.projections().projection_cursor(PERSONS).await.unwrap(), size);
    let r = housing_ledger::read_models::replay(&ledger).await.unwrap();
    assert!(r.differences.is_empty(), "{:?}", r.differences);
}
