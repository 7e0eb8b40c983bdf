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
    let cursor = ledger.projections().projection_cursor(housing_ledger::projection::PERSONS).await.unwrap();
    assert_eq!(cursor, ledger.size().await.unwrap());
    assert_eq!(housing_ledger::projection::catch_up(&ledger).await.unwrap(), 0);
    let r = housing_ledger::projection::replay(&ledger).await.unwrap();
    assert!(r.differences.is_empty(), "{:?}", r.differences);
    let a = crate::common::scenario::iin_for("A");
    let stored = housing_ledger::projection::person(&ledger, &a).await.unwrap().unwrap();
    assert_eq!(stored["registry_removal"].status, "removed");
    assert_eq!(stored["registry_removal"].notice.as_ref().unwrap().attempts, 2);
    // Change the stored row behind the ledger's back.
    let sql = place.sql().await;
    tamper(&sql, &format!("UPDATE projection_rows SET doc = replace(doc, '\"removed\"', '\"retained\"') WHERE key = '{a}'")).await;
    let r = housing_ledger::projection::replay(&ledger).await.unwrap();
    assert_eq!(r.differences.len(), 1);
    let (key, stored, rebuilt) = &r.differences[0];
    assert_eq!(key, &a);
    assert!(stored.as_ref().unwrap().contains("retained") && rebuilt.as_ref().unwrap().contains("removed"));
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
