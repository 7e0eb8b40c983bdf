//! Two writer processes on one ledger never fork the chain, on SQLite and on PostgreSQL. The
//! test binary runs itself as the child writers (the ignored `child_writer` test).

use crate::common::{Backend, PgCluster, Place};
use events::NewEvent;
use housing_ledger::ledger::{Ledger, DEFAULT_ORIGIN};
use housing_ledger::store::sql::SqlStore;
use serde_json::json;
use std::process::Command;
use std::sync::Arc;

const BATCHES: u64 = 30;
const PER_BATCH: u64 = 25;

#[test]
#[ignore = "run by two_processes_never_fork as a child process"]
fn child_writer() {
    let (Ok(url), Ok(dir), Ok(id)) = (std::env::var("HL_CHILD_URL"), std::env::var("HL_CHILD_KEYDIR"), std::env::var("HL_CHILD_ID")) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Arc::new(SqlStore::connect(&url).await.unwrap());
        let ledger = Ledger::open(store, std::path::Path::new(&dir), DEFAULT_ORIGIN).await.unwrap();
        for b in 0..BATCHES {
            let batch = (0..PER_BATCH).map(|i| NewEvent::new(format!("proc:{id}"), "Tick", json!({"b": b, "i": i}))).collect();
            ledger.append(batch).await.unwrap();
        }
    });
}

fn run_two_writers(place: &Place) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|id| {
            Command::new(&exe)
                .args(["processes::child_writer", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
                .env("HL_CHILD_URL", &place.url)
                .env("HL_CHILD_KEYDIR", place.key_dir.path())
                .env("HL_CHILD_ID", id.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer process failed");
    }
}

async fn check(place: &Place) {
    let ledger = place.ledger().await;
    ledger.checkpoint().await.unwrap();
    let report = ledger.verify(|_| {}).await.unwrap();
    assert_eq!(report.events, 1 + 2 * BATCHES * PER_BATCH, "every event of both writers is in one chain");
    for id in 0..2 {
        let s = ledger.log().read_stream(&format!("proc:{id}"), None).await.unwrap();
        assert_eq!(s.len() as u64, BATCHES * PER_BATCH);
        assert!(s.iter().enumerate().all(|(n, e)| e.stream_seq == n as u64));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_never_fork() {
    let pg = PgCluster::start();
    for (backend, pg) in [(Backend::Sqlite, None), (Backend::Postgres, Some(&pg))] {
        let place = Place::new(backend, pg);
        place.ledger().await; // creates the key and event 0 first, as a deployment would
        run_two_writers(&place);
        check(&place).await;
    }
}
