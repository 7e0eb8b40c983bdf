//! `housing-ledger bench ledger`: measured figures for the ledger core, printed, never asserted.
//! Raw single-core Ed25519 signing and batch verification are measured in the same run, so the
//! ratios compare like with like on this machine.

use ed25519_dalek::{Signer, SigningKey};
use events::NewEvent;
use housing_ledger::ledger::{verify_store, Ledger};
use housing_ledger::store::sql::SqlStore;
use housing_ledger::store::EventStore;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct LedgerFigures {
    pub raw_sign_per_s: f64,
    pub raw_batch_verify_per_s: f64,
    pub append_per_s: f64,
    pub verify_per_s: f64,
    pub events: u64,
    /// Milliseconds to sign a checkpoint after each of `CHECKPOINT_ROUNDS` appends: alone, and
    /// with two local witnesses cosigning (issue 16).
    pub checkpoint_ms: Vec<f64>,
    pub checkpoint_witnessed_ms: Vec<f64>,
    /// With the TSA given to `bench ledger` (`--tsa`, `--tsa-cert`), time-stamping each.
    pub checkpoint_timestamped_ms: Vec<f64>,
}

/// Checkpoints timed, each after an append of `CHECKPOINT_GROWTH` events.
const CHECKPOINT_ROUNDS: usize = 20;
const CHECKPOINT_GROWTH: usize = 1000;

/// The median and the largest of some figures.
pub fn p50_max(xs: &[f64]) -> (f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    (v.get(v.len() / 2).copied().unwrap_or(0.0), v.last().copied().unwrap_or(0.0))
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
pub async fn ledger_figures(
    url: &str,
    key_dir: &std::path::Path,
    events: u64,
    batch: usize,
    tsa: Option<housing_ledger::timestamp::Tsa>,
) -> anyhow::Result<LedgerFigures> {
    let raw_sign_per_s = raw_sign_rate(20_000);
    let raw_batch_verify_per_s = raw_batch_verify_rate(20_000);
    let store: Arc<dyn EventStore> = Arc::new(SqlStore::connect(url).await?);
    let ledger = Ledger::open(store.clone(), key_dir, housing_ledger::ledger::DEFAULT_ORIGIN).await?;
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
    let checkpoint_ms = checkpoint_latency(&ledger).await?;
    // Two witnesses on loopback, each with its own durable state.
    let mut witnessed = Vec::new();
    let mut specs = Vec::new();
    for k in 1..=2 {
        let dir = key_dir.join(format!("witness-{k}"));
        let w = Arc::new(housing_ledger::witness::Witness::open(&dir, &format!("bench.example/w{k}"), vec![ledger.signer().verifier()])?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        specs.push(format!("{}=http://{}", w.key(), listener.local_addr()?));
        witnessed.push(tokio::spawn(async move { axum::serve(listener, housing_ledger::witness::router(w)).await }));
    }
    let with = Ledger::open(store.clone(), key_dir, housing_ledger::ledger::DEFAULT_ORIGIN)
        .await?
        .with_witnesses(housing_ledger::witness::Witnesses::parse(&specs, None).map_err(anyhow::Error::msg)?);
    let checkpoint_witnessed_ms = checkpoint_latency(&with).await?;
    witnessed.iter().for_each(|t| t.abort());
    let checkpoint_timestamped_ms = match tsa {
        Some(tsa) => checkpoint_latency(&Ledger::open(store.clone(), key_dir, housing_ledger::ledger::DEFAULT_ORIGIN).await?.with_tsa(tsa)).await?,
        None => Vec::new(),
    };
    Ok(LedgerFigures {
        raw_sign_per_s,
        raw_batch_verify_per_s,
        append_per_s,
        verify_per_s,
        events: report.events,
        checkpoint_ms,
        checkpoint_witnessed_ms,
        checkpoint_timestamped_ms,
    })
}

/// Times `CHECKPOINT_ROUNDS` checkpoints (with whatever witnesses the ledger has), each after
/// an append of `CHECKPOINT_GROWTH` events; a checkpoint a quorum did not cosign is an error.
async fn checkpoint_latency(ledger: &Ledger) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(CHECKPOINT_ROUNDS);
    for round in 0..CHECKPOINT_ROUNDS {
        let b = (0..CHECKPOINT_GROWTH).map(|k| NewEvent::new(format!("bench:cp{round}"), "BenchmarkEvent", json!({"k": k}))).collect();
        ledger.append(b).await?;
        let t = Instant::now();
        let (_, report) = ledger.checkpoint_cosigned().await?;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some(r) = report.filter(|r| !r.reached()) {
            anyhow::bail!("the witnesses did not cosign: {:?}", r.outcomes);
        }
    }
    Ok(out)
}

/// Figures of a full run of both procedures over a synthetic population.
pub struct RunFigures {
    /// Raw single-core signing, measured before the run, between its two procedures and after
    /// it (outside the timed part): this machine's speed drifts within seconds, and the ratio
    /// is taken against the mean of the three.
    pub raw_sign: Vec<f64>,
    pub persons: u64,
    /// Events and seconds of each procedure, in the order run.
    pub procedures: Vec<(u64, f64)>,
    pub peak_rss_kib: u64,
    /// The ledger's event format (v1 or v2).
    pub format: &'static str,
}

/// Signatures in each raw-signing sample: long enough (about a second here) that one sample
/// does not catch only a fast or a slow moment of a machine shared with others.
const RAW_SIGN_SAMPLE: usize = 60_000;

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Runs both procedures over `persons` recipients (half on each list), in process, with every
/// event signed and committed durably.
pub async fn run_figures(url: &str, dir: &std::path::Path, persons: u64) -> anyhow::Result<RunFigures> {
    run_figures_in(url, dir, persons, None).await
}

/// [`run_figures`] on a new ledger of `format` (`None`: the default, or what
/// `HOUSING_LEDGER_FORMAT` asks for).
pub async fn run_figures_in(url: &str, dir: &std::path::Path, persons: u64, format: Option<&str>) -> anyhow::Result<RunFigures> {
    use crate::population::Population;
    use crate::sim::FixtureRegistries;
    use crate::sim::DEFAULT_SIM_SEED;
    use housing_ledger::pipeline::{self, Settings, Silent};
    use housing_ledger::registry::Registries;
    use housing_ledger::rules::{Procedure, RuleBook};
    let mut raw_sign = vec![raw_sign_rate(RAW_SIGN_SAMPLE)];
    let store: Arc<dyn EventStore> = Arc::new(SqlStore::connect(url).await?);
    let ledger = match format {
        Some(f) => Ledger::open_in_format(store, dir, housing_ledger::ledger::DEFAULT_ORIGIN, f).await?,
        None => Ledger::open(store, dir, housing_ledger::ledger::DEFAULT_ORIGIN).await?,
    };
    let pop = Arc::new(Population::with_sizes(persons - persons / 2, persons / 2, 42));
    let book = RuleBook::built_in();
    let keys = crate::sim::sim_trust(DEFAULT_SIM_SEED);
    let mut procedures = Vec::new();
    for (n, procedure) in Procedure::ALL.into_iter().enumerate() {
        if n > 0 {
            raw_sign.push(raw_sign_rate(RAW_SIGN_SAMPLE));
        }
        let size_before = ledger.size().await?;
        let t = Instant::now();
        let source: Arc<dyn Registries> = Arc::new(FixtureRegistries::from_source(pop.clone(), DEFAULT_SIM_SEED, format!("synthetic:{persons}:42")));
        pipeline::run(&ledger, source, keys.clone(), &book, procedure, "2026-01-15", Settings::default(), &Silent).await?;
        let seconds = t.elapsed().as_secs_f64();
        procedures.push((ledger.size().await? - size_before, seconds));
    }
    raw_sign.push(raw_sign_rate(RAW_SIGN_SAMPLE));
    Ok(RunFigures { raw_sign, persons, procedures, peak_rss_kib: peak_rss_kib(), format: ledger.format() })
}

impl RunFigures {
    pub fn raw_sign_per_s(&self) -> f64 {
        self.raw_sign.iter().sum::<f64>() / self.raw_sign.len() as f64
    }

    /// Events both procedures appended.
    pub fn events(&self) -> u64 {
        self.procedures.iter().map(|(e, _)| e).sum()
    }

    /// Seconds both procedures took (the raw signing between them not counted).
    pub fn seconds(&self) -> f64 {
        self.procedures.iter().map(|(_, s)| s).sum()
    }

    /// Events per second of both procedures as a ratio to the mean raw signing rate.
    pub fn ratio(&self) -> f64 {
        self.events() as f64 / self.seconds() / self.raw_sign_per_s()
    }

    /// Each procedure's events per second as a ratio to the raw signing measured just before
    /// and just after it.
    pub fn procedure_ratios(&self) -> Vec<f64> {
        self.procedures.iter().enumerate().map(|(i, (events, seconds))| *events as f64 / seconds / ((self.raw_sign[i] + self.raw_sign[i + 1]) / 2.0)).collect()
    }
}

/// Format v2 against v1 (issue 32's target: within 15%), measured the way this machine allows:
/// full runs of both procedures, each on a fresh ledger, v1 and v2 in turn within each round
/// and the order swapped every round, so that a slow spell of a shared machine falls on both.
/// `fresh` gives each run's database URL and directory. Returns each round's (v1, v2) figures.
pub async fn format_rounds<F>(persons: u64, rounds: usize, mut fresh: F) -> anyhow::Result<Vec<(RunFigures, RunFigures)>>
where
    F: FnMut() -> anyhow::Result<(String, std::path::PathBuf)>,
{
    use events::{envelope::EVENT_FORMAT_V2, EVENT_FORMAT};
    let mut out = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let order = if round % 2 == 0 { [EVENT_FORMAT, EVENT_FORMAT_V2] } else { [EVENT_FORMAT_V2, EVENT_FORMAT] };
        let mut got: Vec<RunFigures> = Vec::with_capacity(2);
        for format in order {
            let (url, dir) = fresh()?;
            got.push(run_figures_in(&url, &dir, persons, Some(format)).await?);
            let _ = std::fs::remove_dir_all(&dir);
        }
        got.sort_by_key(|f| f.format != EVENT_FORMAT);
        let mut it = got.into_iter();
        out.push((it.next().expect("v1"), it.next().expect("v2")));
    }
    Ok(out)
}

/// The median of `xs` (the mean of the middle two for an even count).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Latency figures of one route under load.
pub struct Latency {
    pub route: &'static str,
    pub requests: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// What the reads of a load added to the ledger.
pub struct ReadCost {
    pub reads: u64,
    pub events: u64,
    /// Bytes of the stored events (their canonical JSON bodies) per read.
    pub event_bytes_per_read: f64,
    /// Growth of the database files (with the WAL) per read: rows, indexes and Merkle nodes.
    pub file_bytes_per_read: f64,
}

/// The database's size: for SQLite once its WAL is folded in and emptied (what the rows,
/// indexes and Merkle nodes take, not how large the WAL happened to grow); for PostgreSQL,
/// `pg_database_size`.
async fn file_bytes(store: &SqlStore, url: &str) -> anyhow::Result<u64> {
    if store.dialect() == housing_ledger::store::sql::Dialect::Postgres {
        let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(store.pool()).await?;
        return Ok(bytes as u64);
    }
    sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(store.pool()).await?;
    let path = url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default();
    Ok(std::fs::metadata(path)?.len())
}

/// What `bench api` measured.
pub struct ApiFigures {
    /// The run that built the ledger, where this bench built it.
    pub built: Option<RunFigures>,
    pub events: u64,
    /// `None` where not replayed.
    pub replay_per_s: Option<f64>,
    pub latencies: Vec<Latency>,
    /// Requests each server answered (one server: in process; more: `serve` processes).
    pub per_server: Vec<usize>,
    /// Peak RSS of this process, and of each `serve` process, KiB.
    pub peak_rss_kib: Vec<u64>,
    /// What the reads cost now and, written one event per read as before issue 17.
    pub cost: [ReadCost; 2],
}

/// `serve` processes of this binary on one database, each on a port of its own; killed when
/// dropped.
struct Servers(Vec<(std::process::Child, String)>);

impl Servers {
    async fn start(n: usize, url: &str, dir: &std::path::Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut out = Servers(Vec::new());
        for _ in 0..n {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let child = std::process::Command::new(&exe)
                .args(["--database-url", url, "--data-dir"])
                .arg(dir)
                // The load comes from one address, this process: no per-client share below the cap.
                .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--max-connections-per-client", "512"])
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .spawn()?;
            out.0.push((child, format!("http://127.0.0.1:{port}")));
        }
        let client = reqwest::Client::new();
        for (child, base) in &mut out.0 {
            // serve checks its read models against the events before it listens: a replay of
            // the whole log (about a minute at 10 million events).
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                    break;
                }
                if let Some(status) = child.try_wait()? {
                    anyhow::bail!("serve at {base} exited: {status}");
                }
                anyhow::ensure!(Instant::now() < deadline, "serve at {base} did not answer within 600 s");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(out)
    }

    fn peak_rss_kib(&self) -> Vec<u64> {
        self.0
            .iter()
            .map(|(c, _)| {
                std::fs::read_to_string(format!("/proc/{}/status", c.id()))
                    .ok()
                    .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
                    .unwrap_or(0)
            })
            .collect()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (c, _) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Builds a ledger of both procedures over `persons` recipients in the database at `url` (the
/// ledger key in `dir`) unless it holds one, then measures replay speed and the latency of the
/// person and proof routes under an open-loop load of `rate` requests per second for
/// `seconds`, from a load generator in this process over loopback: against one server in this
/// process, or split evenly between `servers` `serve` processes on the same database.
pub async fn api_figures(url: &str, dir: &std::path::Path, persons: u64, rate: u64, seconds: u64, servers: usize, replay: bool) -> anyhow::Result<ApiFigures> {
    let sql = Arc::new(SqlStore::connect(url).await?);
    refuse_live_ledger(sql.as_ref()).await?;
    let built = if housing_ledger::store::LogStore::size(sql.as_ref()).await? == 0 { Some(run_figures(url, dir, persons).await?) } else { None };
    let store: Arc<dyn EventStore> = sql.clone();
    let ledger = Arc::new(Ledger::open(store, dir, housing_ledger::ledger::DEFAULT_ORIGIN).await?);
    housing_ledger::read_models::catch_up(&ledger).await?;
    let replay_rate = if replay {
        let replay = housing_ledger::read_models::replay(&ledger).await?;
        anyhow::ensure!(replay.differences.is_empty(), "replay differs from the stored projection");
        Some(replay.events as f64 / replay.seconds)
    } else {
        None
    };
    let events = ledger.size().await?;
    // The persons asked about: the removed among the first 20,000 decisions (a sample is enough).
    let removed: Vec<String> = ledger
        .log()
        .read_by_type("DecisionTaken", 0, 20_000)
        .await?
        .into_iter()
        .filter(|e| e.as_type::<events::catalogue::DecisionTaken>().is_some_and(|d| d.outcome == "confirmed" && d.procedure == "registry_removal"))
        .map(|e| e.stream.trim_start_matches("person:").to_string())
        .collect();
    anyhow::ensure!(!removed.is_empty(), "no removed person to ask about");
    // The load's token lives no longer than the load, and is revoked when it ends.
    let expires = chrono::Utc::now() + chrono::Duration::seconds(seconds as i64 + 900);
    let (token, rec) = housing_ledger::auth::issue_token_until(&ledger, housing_ledger::auth::Role::Auditor, "bench api", "", Some(expires)).await?;
    let measured = load(&ledger, &sql, url, dir, &removed, &token, rate, seconds, servers).await;
    housing_ledger::auth::revoke_token(&ledger, &rec.id, &housing_ledger::store::utc_millis(chrono::Utc::now())).await?;
    let (latencies, per_server, peak_rss_kib, cost, reads) = measured?;
    let old = baseline(&removed, reads, &rec.id).await?;
    Ok(ApiFigures { built, events, replay_per_s: replay_rate, latencies, per_server, peak_rss_kib, cost: [cost, old] })
}

/// A ledger that holds a live run is no place for a bench: it would write a token and the
/// load's reads into the legal record. Refused, naming why, before anything is written.
pub async fn refuse_live_ledger(store: &dyn housing_ledger::store::LogStore) -> anyhow::Result<()> {
    let size = store.size().await?;
    let started = store.read_kinds(&[events::types::RUN_STARTED], 0, size).await?;
    // One that cannot be read as a run counts as live: refused rather than written into.
    let live: Vec<String> = started
        .iter()
        .filter_map(|e| match e.as_type::<events::catalogue::RunStarted>() {
            Some(r) if !r.live() => None,
            Some(r) => Some(r.run),
            None => Some(e.stream.clone()),
        })
        .collect();
    anyhow::ensure!(
        live.is_empty(),
        "this ledger holds {} run(s) on live sources ({}): bench api writes into the ledger it measures (a token and the reads of its load), so it works only on a ledger of simulations; point it at a copy or a fresh database. Nothing was written",
        live.len(),
        live.join(", ")
    );
    Ok(())
}

type Measured = (Vec<Latency>, Vec<usize>, Vec<u64>, ReadCost, u64);

/// The open-loop load against the servers, and what its reads added to the ledger.
#[allow(clippy::too_many_arguments)]
async fn load(
    ledger: &Arc<Ledger>,
    sql: &SqlStore,
    url: &str,
    dir: &std::path::Path,
    removed: &[String],
    token: &str,
    rate: u64,
    seconds: u64,
    servers: usize,
) -> anyhow::Result<Measured> {
    use crate::sim::DEFAULT_SIM_SEED;
    use housing_ledger::api::AppState;
    use housing_ledger::app::app;
    let processes = if servers > 1 { Some(Servers::start(servers, url, dir).await?) } else { None };
    let bases: Vec<String> = match &processes {
        Some(p) => p.0.iter().map(|(_, base)| base.clone()).collect(),
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let state = AppState::new(ledger.clone(), crate::sim::sim_trust(DEFAULT_SIM_SEED));
            // The load comes from one address, this process: no per-client share below the cap.
            let limits = housing_ledger::server::Limits { per_client: housing_ledger::server::Limits::default().max_connections, ..Default::default() };
            tokio::spawn(async move { housing_ledger::server::serve(listener, app(state), limits, std::future::pending()).await });
            vec![base]
        }
    };
    let (size_before, files_before) = (ledger.size().await?, file_bytes(sql, url).await?);
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    let total = rate * seconds;
    let mut per_server = vec![0usize; bases.len()];
    for n in 0..total {
        tick.tick().await;
        let iin = &removed[(n as usize * 7919) % removed.len()];
        // Round robin over the servers, each route alike.
        let server = (n as usize / 2) % bases.len();
        per_server[server] += 1;
        let base = &bases[server];
        let (route, url) = if n % 2 == 0 {
            ("proof", format!("{base}/v1/persons/{iin}/proof?procedure=registry_removal"))
        } else {
            ("person", format!("{base}/v1/persons/{iin}"))
        };
        let (client, token) = (client.clone(), token.to_string());
        tasks.spawn(async move {
            let t = Instant::now();
            let ok = client.get(&url).bearer_auth(token).send().await.map(|r| r.status().is_success()).unwrap_or(false);
            (route, t.elapsed().as_secs_f64() * 1000.0, ok)
        });
    }
    let mut by_route: std::collections::BTreeMap<&'static str, (Vec<f64>, usize)> = Default::default();
    while let Some(r) = tasks.join_next().await {
        let (route, ms, ok) = r?;
        let e = by_route.entry(route).or_default();
        e.0.push(ms);
        if !ok {
            e.1 += 1;
        }
    }
    let reads: u64 = by_route.values().map(|(ms, errors)| (ms.len() - errors) as u64).sum();
    let size_after = ledger.size().await?;
    let mut event_bytes = 0u64;
    let mut from = size_before;
    while from < size_after {
        let page = ledger.log().read_raw(from, 5000).await?;
        let Some(last) = page.last() else { break };
        from = last.0 + 1;
        event_bytes += page.iter().map(|(_, body)| body.len() as u64).sum::<u64>();
    }
    let per = |b: u64| b as f64 / reads.max(1) as f64;
    let cost = ReadCost {
        reads,
        events: size_after - size_before,
        event_bytes_per_read: per(event_bytes),
        file_bytes_per_read: per(file_bytes(sql, url).await?.saturating_sub(files_before)),
    };
    let figures = by_route
        .into_iter()
        .map(|(route, (mut ms, errors))| {
            ms.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
            Latency { route, requests: ms.len(), errors, p50_ms: percentile(&ms, 0.5), p99_ms: percentile(&ms, 0.99) }
        })
        .collect();
    let mut peak_rss_kib = vec![peak_rss_kib()];
    if let Some(p) = &processes {
        peak_rss_kib.extend(p.peak_rss_kib());
    }
    drop(processes);
    Ok((figures, per_server, peak_rss_kib, cost, reads))
}

/// The baseline, in the same run: the same reads written as before issue 17, one
/// `PersonalDataRead` event per read in the person's own `reads:<iin>` stream, into a throwaway
/// ledger of its own (never into the measured one: no tool writes reads there).
async fn baseline(removed: &[String], reads: u64, token_id: &str) -> anyhow::Result<ReadCost> {
    let dir = std::env::temp_dir().join(format!("housing-ledger-baseline-{}", std::process::id()));
    housing_ledger::private_files::create_dir(&dir)?;
    let url = format!("sqlite://{}", dir.join("baseline.db").display());
    let result = async {
        let sql = Arc::new(SqlStore::connect(&url).await?);
        let store: Arc<dyn EventStore> = sql.clone();
        let ledger = Ledger::open(store, &dir, housing_ledger::ledger::DEFAULT_ORIGIN).await?;
        baseline_in(&ledger, &sql, &url, removed, reads, token_id).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn baseline_in(ledger: &Ledger, sql: &SqlStore, url: &str, removed: &[String], reads: u64, token_id: &str) -> anyhow::Result<ReadCost> {
    let per = |b: u64| b as f64 / reads.max(1) as f64;
    let files_mid = file_bytes(sql, url).await?;
    let mut old_bytes = 0u64;
    for chunk in (0..reads).collect::<Vec<_>>().chunks(64) {
        let batch = chunk
            .iter()
            .map(|n| {
                let iin = &removed[(*n as usize * 7919) % removed.len()];
                let what = if n % 2 == 0 { "proof:registry_removal" } else { "person" };
                let read = events::catalogue::PersonalDataRead { iin: Some(iin.clone()), token: token_id.into(), role: "auditor".into(), read: what.into() };
                NewEvent::typed(housing_ledger::reads::reads_stream(iin), read)
            })
            .collect();
        old_bytes += ledger.append(batch).await?.iter().map(|e| serde_json::to_string(e).map(|t| t.len() as u64).unwrap_or(0)).sum::<u64>();
    }
    Ok(ReadCost { reads, events: reads, event_bytes_per_read: per(old_bytes), file_bytes_per_read: per(file_bytes(sql, url).await?.saturating_sub(files_mid)) })
}
