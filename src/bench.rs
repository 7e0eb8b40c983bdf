//! `housing-ledger bench ledger`: measured figures for the ledger core, printed, never asserted.
//! Raw single-core Ed25519 signing and batch verification are measured in the same run, so the
//! ratios compare like with like on this machine.

use crate::ledger::{verify_store, Ledger};
use crate::store::sql::SqlStore;
use crate::store::EventStore;
use ed25519_dalek::{Signer, SigningKey};
use events::NewEvent;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

pub struct LedgerFigures {
    pub raw_sign_per_s: f64,
    pub raw_batch_verify_per_s: f64,
    pub append_per_s: f64,
    pub verify_per_s: f64,
    pub events: u64,
}

/// Raw signing on one core: signatures per second over 56-byte messages like the ledger's.
pub fn raw_sign_rate(n: usize) -> f64 {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let msg = [0x5au8; 56];
    let t = Instant::now();
    let mut acc = 0u8;
    for i in 0..n {
        let mut m = msg;
        m[0] = i as u8;
        acc ^= key.sign(&m).to_bytes()[0];
    }
    std::hint::black_box(acc);
    n as f64 / t.elapsed().as_secs_f64()
}

/// Raw batch verification on one core (ed25519-dalek `verify_batch`, batches of 64).
pub fn raw_batch_verify_rate(n: usize) -> f64 {
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let msgs: Vec<[u8; 56]> = (0..64u8).map(|i| [i; 56]).collect();
    let sigs: Vec<_> = msgs.iter().map(|m| key.sign(m)).collect();
    let keys = vec![key.verifying_key(); 64];
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    let rounds = n.div_ceil(64);
    let t = Instant::now();
    for _ in 0..rounds {
        ed25519_dalek::verify_batch(&refs, &sigs, &keys).expect("valid batch");
    }
    (rounds * 64) as f64 / t.elapsed().as_secs_f64()
}

/// Appends `events` events in batches of `batch` to a fresh database at `url`, then verifies it.
pub async fn ledger_figures(url: &str, key_dir: &std::path::Path, events: u64, batch: usize) -> anyhow::Result<LedgerFigures> {
    let raw_sign_per_s = raw_sign_rate(20_000);
    let raw_batch_verify_per_s = raw_batch_verify_rate(20_000);
    let store: Arc<dyn EventStore> = Arc::new(SqlStore::connect(url).await?);
    let ledger = Ledger::open(store.clone(), key_dir, crate::ledger::DEFAULT_ORIGIN).await?;
    let start_size = ledger.size().await?;
    let t = Instant::now();
    let mut written = 0u64;
    while written < events {
        let n = batch.min((events - written) as usize);
        let b: Vec<NewEvent> = (0..n)
            .map(|k| {
                let i = written + k as u64;
                NewEvent::new(
                    format!("person:bench{:07}", i % 50_000),
                    "BenchmarkEvent",
                    json!({"i": i, "note": "a typical small payload of a registry answer", "list": [1, 2, 3]}),
                )
            })
            .collect();
        ledger.append(b).await?;
        written += n as u64;
    }
    let append_per_s = events as f64 / t.elapsed().as_secs_f64();
    ledger.checkpoint().await?;
    let t = Instant::now();
    let report = verify_store(store.as_ref(), None, |_| {}).await?;
    let verify_per_s = report.events as f64 / t.elapsed().as_secs_f64();
    let _ = start_size;
    Ok(LedgerFigures { raw_sign_per_s, raw_batch_verify_per_s, append_per_s, verify_per_s, events: report.events })
}

/// Figures of a full run of both procedures over a synthetic population.
pub struct RunFigures {
    pub raw_sign_per_s: f64,
    pub persons: u64,
    pub events: u64,
    pub seconds: f64,
    pub peak_rss_kib: u64,
}

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Runs both procedures over `persons` recipients (half on each list), in process, with every
/// event signed and committed durably.
pub async fn run_figures(dir: &std::path::Path, persons: u64) -> anyhow::Result<RunFigures> {
    use crate::pipeline::{self, Settings, Silent};
    use crate::population::Population;
    use crate::registry::fixture::FixtureRegistries;
    use crate::registry::{Registries, TrustedKeys, DEFAULT_SIM_SEED};
    use crate::rules::{Procedure, RuleBook};
    let raw_sign_per_s = raw_sign_rate(20_000);
    let store: Arc<dyn EventStore> = Arc::new(SqlStore::connect(&format!("sqlite://{}", dir.join("bench.db").display())).await?);
    let ledger = Ledger::open(store, dir, crate::ledger::DEFAULT_ORIGIN).await?;
    let pop = Arc::new(Population::with_sizes(persons - persons / 2, persons / 2, 42));
    let book = RuleBook::built_in();
    let keys = TrustedKeys::from_sim_seed(DEFAULT_SIM_SEED);
    let before = ledger.size().await?;
    let t = Instant::now();
    for procedure in Procedure::ALL {
        let source: Arc<dyn Registries> = Arc::new(FixtureRegistries::from_source(pop.clone(), DEFAULT_SIM_SEED, format!("synthetic:{persons}:42")));
        pipeline::run(&ledger, source, keys.clone(), &book, procedure, "2026-01-15", Settings::default(), &Silent).await?;
    }
    let seconds = t.elapsed().as_secs_f64();
    let events = ledger.size().await? - before;
    Ok(RunFigures { raw_sign_per_s, persons, events, seconds, peak_rss_kib: peak_rss_kib() })
}
