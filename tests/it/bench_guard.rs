//! Issue 35, F17: no tool writes into a ledger that holds live runs. `bench api` refuses one,
//! naming why, with nothing written; on a ledger of simulations its token expires and is
//! revoked when it ends, and the only reads in the ledger are those the service recorded for
//! that token (the old-format baseline goes to a throwaway ledger).

use crate::common::scenario::{complete, run_fixture};
use crate::common::{Backend, Place};
use events::NewEvent;
use housing_ledger::rules::Procedure;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_refuses_a_ledger_with_a_live_run_and_writes_nothing() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    let live = json!({"run": "2026-12-02-rr-live", "procedure": "registry_removal", "as_of": "2026-12-02", "simulation": false,
        "rule_set": {"id": "x", "version": "1", "sha256": "00"}, "source": "http:https://gateway.example"});
    ledger.append(vec![NewEvent::new("run:2026-12-02-rr-live", "RunStarted", live)]).await.unwrap();
    let size = ledger.size().await.unwrap();
    let err = match devtools::bench::api_figures(&place.url, place.key_dir.path(), 10, 10, 1, 1, false).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the bench ran on a ledger with a live run"),
    };
    assert!(err.contains("live sources") && err.contains("2026-12-02-rr-live") && err.contains("Nothing was written"), "{err}");
    assert_eq!(ledger.size().await.unwrap(), size, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_ledger_of_simulations_the_bench_leaves_no_live_token_and_no_invented_read() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    let contract = json!({"privatization_contracts": [{"number": "П-1", "date": "2005-04-01", "address": "Астана"}]});
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@A"}, {"iin": "@B"}], "registries": {"gosreestr": {"@A": contract.clone(), "@B": contract}}}),
    );
    run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("b", &fx.to_string()).unwrap()).await;
    drop(ledger);
    let f = devtools::bench::api_figures(&place.url, place.key_dir.path(), 10, 20, 1, 1, false).await.unwrap();
    assert!(f.cost[0].reads > 0 && f.cost[1].reads == f.cost[0].reads, "measured, with its baseline");
    let ledger = place.ledger().await;
    let tokens = ledger.log().read_all_by_type("TokenIssued").await.unwrap();
    assert_eq!(tokens.len(), 1);
    let id = tokens[0].data["id"].as_str().unwrap();
    assert!(tokens[0].data["expires_at"].is_string(), "the bench's token expires");
    let revoked = ledger.log().read_all_by_type("TokenRevoked").await.unwrap();
    assert!(revoked.iter().any(|e| e.data["id"] == id), "and is revoked when the bench ends");
    assert!(ledger.log().read_all_by_type("PersonalDataRead").await.unwrap().is_empty(), "no read written by the tool");
    for e in ledger.log().read_all_by_type("PersonalDataReads").await.unwrap() {
        for r in housing_ledger::reads::reads_in(&e) {
            assert_eq!(r.token, id, "every read recorded is the service's, under the bench's token");
        }
    }
}

/// `bench formats` (issue 32's measure): every round runs both procedures once on a fresh v1
/// ledger and once on a fresh v2 one (the order swapped each round), the same population each
/// time, and hands back the pair in the order (v1, v2) whichever ran first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_formats_runs_a_fresh_ledger_of_each_format_every_round() {
    let root = tempfile::tempdir().unwrap();
    let mut made = Vec::new();
    let fresh = || -> anyhow::Result<(String, std::path::PathBuf)> {
        let dir = root.path().join(format!("run-{}", made.len()));
        std::fs::create_dir(&dir)?;
        made.push(dir.clone());
        Ok((format!("sqlite://{}", dir.join("bench.db").display()), dir))
    };
    let rounds = devtools::bench::format_rounds(6, 2, fresh).await.unwrap();
    assert_eq!(rounds.len(), 2);
    for (v1, v2) in &rounds {
        assert_eq!((v1.format, v2.format), (events::EVENT_FORMAT, events::envelope::EVENT_FORMAT_V2));
        assert_eq!(v1.events(), v2.events(), "the same population, the same events");
        assert!(v1.events() > 0 && v1.seconds() > 0.0 && v2.seconds() > 0.0);
    }
    assert_eq!(made.len(), 4, "a fresh ledger for every run");
    assert!(made.iter().all(|d| !d.exists()), "each removed once measured");
    assert_eq!(devtools::bench::median(&[0.9, 0.7, 0.8]), 0.8);
    assert_eq!(devtools::bench::median(&[0.5, 0.75, 0.25, 1.0]), 0.625);
}
