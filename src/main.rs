//! The `housing-ledger` command line. `anyhow` lives here only; the library has typed errors.

use anyhow::{bail, Context};

/// serde_json-heavy work allocates a lot; mimalloc is markedly faster than glibc malloc here.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod args;

use args::*;
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::auth::{self, Role};
use housing_ledger::cli::Location;
use housing_ledger::ledger::{verify_store, LedgerError};
use housing_ledger::pipeline::{self, Progress, Settings};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::registry::http::{HttpRegistries, HttpSettings};
use housing_ledger::registry::sim::FixtureRegistries;
use housing_ledger::registry::{Registries, TrustBasis, TrustedKeys};
use housing_ledger::rules::{Procedure, RuleBook};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A progress bar on a terminal; nothing otherwise.
struct TerminalProgress(Option<indicatif::ProgressBar>);

impl TerminalProgress {
    fn new() -> Self {
        Self(std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} persons {per_sec} eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_message("persons");
            bar
        }))
    }
    fn done(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for TerminalProgress {
    fn add_total(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc_length(n);
        }
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
    fn stage(&self, what: &str) {
        if let Some(b) = &self.0 {
            b.set_message(what.to_string());
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("HOUSING_LEDGER_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let parsed = args::parse().map_err(anyhow::Error::from);
    match async { run(parsed?).await }.await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What every command may need beyond its own arguments: where the ledger is, the registry
/// keys' seed, the witnesses' keys and the TSA's certificates.
struct Global {
    loc: Location,
    /// The configuration file's own values (for the gateway's settings and `config check`).
    config: housing_ledger::config::Config,
    /// The options as given (file and flags together), for `config check`.
    trust_path: Option<PathBuf>,
    witness_flags: Vec<String>,
    tsa_cert_path: Option<PathBuf>,
    security_log: Option<String>,
    security_log_format: String,
    seed: String,
    /// `--trust`: the sources' trust list.
    trust: Option<TrustedKeys>,
    witness_keys: Vec<String>,
    tsa_anchors: Option<Vec<x509_cert::Certificate>>,
}

/// Dispatches a command to its function.
async fn run((cli, config): (Cli, housing_ledger::config::Config)) -> anyhow::Result<std::process::ExitCode> {
    let cli_config = cli.config.clone();
    if let Some(spec) = &cli.security_log {
        housing_ledger::security::init(housing_ledger::security::Sink::parse(spec, cli.security_log_format == "syslog").map_err(anyhow::Error::msg)?)
            .map_err(anyhow::Error::msg)?;
    }
    // verify-proof takes witnesses' keys only; every other command sends checkpoints to them.
    let witness_keys: Vec<String> = cli.witnesses.iter().map(|w| w.split_once('=').map_or(w.as_str(), |(k, _)| k).to_string()).collect();
    let witnesses = if cli.witnesses.is_empty() || matches!(cli.command, Command::VerifyProof { .. }) {
        None
    } else {
        Some(housing_ledger::witness::Witnesses::parse(&cli.witnesses, cli.witness_quorum).map_err(anyhow::Error::msg)?)
    };
    let tsa_anchors = match &cli.tsa_cert {
        Some(p) => Some(
            housing_ledger::timestamp::certificates_from_pem(&std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?)
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    let tsa = match (&cli.tsa, &tsa_anchors) {
        (Some(url), Some(anchors)) => Some(housing_ledger::timestamp::Tsa { url: url.clone(), anchors: anchors.clone(), timeout: Duration::from_secs(10) }),
        (Some(_), None) => bail!("--tsa needs --tsa-cert: the TSA's certificate (or its CA), to check its tokens"),
        _ => None,
    };
    let trust = cli.trust.as_deref().map(TrustedKeys::load).transpose()?;
    let g = Global {
        loc: Location { database_url: cli.database_url, data_dir: cli.data_dir, origin: cli.origin, witnesses, tsa },
        seed: cli.registry_seed,
        config,
        trust_path: cli.trust,
        witness_flags: cli.witnesses,
        tsa_cert_path: cli.tsa_cert,
        security_log: cli.security_log,
        security_log_format: cli.security_log_format,
        trust,
        witness_keys,
        tsa_anchors,
    };
    match cli.command {
        Command::Serve(a) => serve(&g, a).await,
        Command::Run(a) => run_procedure(&g, a).await,
        Command::Replay => replay(&g).await,
        Command::RegistrySim(a) => registry_sim(&g, a).await,
        Command::Verify(a) => verify(&g, a).await,
        Command::VerifyProof(a) => verify_proof(&g, a).await,
        Command::Audit(a) => audit(&g, a).await,
        Command::WhatIf(a) => what_if(&g, a).await,
        Command::Demo(a) => demo(&g, a.persons, &a.listen, &a.as_of, a.no_serve, a.shep).await,
        Command::Ledger { command: LedgerCommand::Init } => ledger_init(&g).await,
        Command::Checkpoint => checkpoint(&g).await,
        Command::Config { command: ConfigCommand::Check } => config_check(&g, cli_config.as_deref()),
        Command::Erase(a) => erase(&g, a).await,
        Command::Retention(a) => retention(&g, a).await,
        Command::Witness { command } => witness(&g, command).await,
        Command::Token { command } => token(&g, command).await,
        Command::Keys { command } => keys(&g, command).await,
        Command::Bench { command } => bench(&g, command).await,
    }
}

/// The operator a token names, or why not.
async fn operator(ledger: &housing_ledger::ledger::Ledger, token: &str) -> anyhow::Result<housing_ledger::auth::Caller> {
    let caller = housing_ledger::auth::authenticate(ledger, token).await?.context("the token is not a valid, unrevoked, unexpired API token")?;
    anyhow::ensure!(caller.role == housing_ledger::auth::Role::Operator, "erasure is the operator's: the token's role is {}", caller.role);
    Ok(caller)
}

/// `erase`.
async fn erase(g: &Global, a: EraseArgs) -> anyhow::Result<std::process::ExitCode> {
    let ledger = g.loc.ledger().await?;
    let caller = operator(&ledger, &a.token).await?;
    let by = format!("{} (token {})", caller.holder, caller.token_id);
    let done = housing_ledger::erasure::erase(&ledger, &a.iin, &a.reason, &a.basis, &by).await?;
    if a.json {
        println!("{}", serde_json::to_string(&done)?);
    } else if done.now {
        println!("erased {} (SubjectErased at seq {}): his data key is destroyed; the log and its proofs are whole", done.subject, done.seq);
    } else {
        println!("{} was erased before (SubjectErased at seq {}); what was left of it is done", done.subject, done.seq);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `retention`.
async fn retention(g: &Global, a: RetentionArgs) -> anyhow::Result<std::process::ExitCode> {
    use housing_ledger::retention::{self, RetentionRules};
    let rules = match &a.rules {
        Some(p) => RetentionRules::parse(&std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?).map_err(anyhow::Error::msg)?,
        None => RetentionRules::built_in(),
    };
    let today = match &a.today {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").context("--today is YYYY-MM-DD")?,
        None => chrono::Utc::now().date_naive(),
    };
    let ledger = g.loc.ledger().await?;
    let caller = operator(&ledger, &a.token).await?;
    let unconfirmed: Vec<&String> = rules.kinds.iter().filter(|(_, p)| !p.confirmed).map(|(k, _)| k).collect();
    if !unconfirmed.is_empty() && !a.json {
        eprintln!(
            "warning: {} periods await the operator's legal service's confirmation: {}",
            rules.name(),
            unconfirmed.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if a.dry_run {
        let due = retention::due(&ledger, &rules, today).await?;
        if a.json {
            println!("{}", serde_json::json!({"rules": rules.name(), "today": today.to_string(), "dry_run": true, "due": due}));
        } else {
            println!("{} case(s) due on {today} under {} (nothing erased):", due.len(), rules.name());
            for d in &due {
                println!(
                    "  {} {} from seq {} ({}), due {}{}",
                    d.person,
                    d.kind,
                    d.from_seq,
                    d.from_time,
                    d.due_on,
                    if d.confirmed { "" } else { " [period unconfirmed]" }
                );
            }
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let by = format!("retention by {} (token {})", caller.holder, caller.token_id);
    let done = retention::apply(&ledger, &rules, today, &by).await?;
    if a.json {
        let erased: Vec<_> = done.iter().map(|(d, e)| serde_json::json!({"due": d, "erased": e})).collect();
        println!("{}", serde_json::json!({"rules": rules.name(), "today": today.to_string(), "dry_run": false, "erased": erased}));
    } else {
        println!("{} case(s) erased on {today} under {}:", done.len(), rules.name());
        for (d, e) in &done {
            println!("  {} {} (SubjectErased at seq {})", e.subject, d.kind, e.seq);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// A bar on a terminal (not under `--json`), by events walked.
fn walk_bar(what: &str, json: bool) -> Option<indicatif::ProgressBar> {
    (std::io::stderr().is_terminal() && !json).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!("{what} [{{bar:40}}] {{pos}}/{{len}} events {{per_sec}} eta {{eta}}"))
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    })
}

/// Moves `bar`, if there is one, to `n` of `size` events.
fn walk_progress(bar: &Option<indicatif::ProgressBar>) -> impl FnMut(u64, u64) + '_ {
    move |n, size| {
        if let Some(b) = bar {
            b.set_length(size);
            b.set_position(n);
        }
    }
}

/// `audit`.
async fn audit(g: &Global, a: AuditArgs) -> anyhow::Result<std::process::ExitCode> {
    let AuditArgs { rule_sets, json, trust_bundle_keys } = a;
    let trust = verifier_trust(g, trust_bundle_keys)?;
    let mut book = RuleBook::built_in();
    for f in &rule_sets {
        book.add_file(f)?;
    }
    let ledger = g.loc.ledger().await?;
    let bar = walk_bar("auditing", json);
    let t = std::time::Instant::now();
    let report = housing_ledger::audit::audit(&ledger, &book, trust.as_ref(), walk_progress(&bar)).await?;
    if let Some(note) = report.sources_note.filter(|_| !json) {
        println!("{note}");
    }
    bar.iter().for_each(|b| b.finish_and_clear());
    let seconds = t.elapsed().as_secs_f64();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for f in &report.findings {
            println!("seq {}\t{}\t{}", f.seq, f.iin, f.what);
        }
        println!(
            "{} events, {} decisions re-derived in {seconds:.1} s ({:.0} events/s): {}",
            report.events,
            report.decisions,
            report.events as f64 / seconds.max(1e-9),
            match report.findings.len() {
                0 => "nothing found".to_string(),
                n => format!("{n} findings"),
            }
        );
    }
    Ok(if report.findings.is_empty() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}

/// `what-if`.
async fn what_if(g: &Global, a: WhatIfArgs) -> anyhow::Result<std::process::ExitCode> {
    let WhatIfArgs { rule_set, run, all: _, json } = a;
    let text = std::fs::read_to_string(&rule_set).with_context(|| format!("cannot read {}", rule_set.display()))?;
    let rs = housing_ledger::rules::RuleSet::from_json(&rule_set.display().to_string(), &text)?;
    let book = RuleBook::built_in();
    let ledger = g.loc.ledger().await?;
    let bar = walk_bar("judging again", json);
    let w = housing_ledger::audit::what_if(&ledger, &rs, &book, run.as_deref(), walk_progress(&bar)).await?;
    bar.iter().for_each(|b| b.finish_and_clear());
    if let Some(run) = run.as_deref().filter(|_| w.persons == 0) {
        bail!("run {run} holds no decided case of {} (is the run id right?)", rs.procedure);
    }
    if json {
        println!("{}", serde_json::to_string(&w)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!(
        "under rule set {} v{} (sha256 {}): {} persons judged again; {} would change; {} cannot tell without asking",
        rs.id,
        rs.version,
        rs.sha256,
        w.persons,
        w.changed.len(),
        w.cannot_tell.len()
    );
    for c in &w.changed {
        println!(
            "  {} {} run {} ({}): {} -> {}; grounds [{}] -> [{}]",
            c.iin,
            c.procedure,
            c.run,
            c.locality,
            c.from,
            c.to,
            c.grounds_from.join(", "),
            c.grounds_to.join(", ")
        );
    }
    for ((what, value), n) in w.counts() {
        println!("  {what} {value}: {n}");
    }
    for c in &w.cannot_tell {
        println!("  cannot tell: {} {} run {}: {}", c.iin, c.procedure, c.run, c.why);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `replay`.
async fn replay(g: &Global) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    let ledger = loc.ledger().await?;
    housing_ledger::projection::catch_up(&ledger).await?;
    let r = housing_ledger::projection::replay(&ledger).await?;
    println!("replayed {} events in {:.2} s ({:.0} events/s)", r.events, r.seconds, r.events as f64 / r.seconds.max(1e-9));
    if !r.differences.is_empty() {
        for (key, stored, rebuilt) in &r.differences {
            println!("DIFFERENT persons/{key}:\n  stored:  {}\n  rebuilt: {}", stored.as_deref().unwrap_or("(none)"), rebuilt.as_deref().unwrap_or("(none)"));
        }
        println!("{} rows differ", r.differences.len());
        return Ok(std::process::ExitCode::FAILURE);
    }
    println!("ok: the stored projections equal the ones rebuilt from events");
    Ok(std::process::ExitCode::SUCCESS)
}

/// `checkpoint`.
async fn checkpoint(g: &Global) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    let ledger = loc.ledger().await?;
    let (cp, report) = ledger.checkpoint_cosigned().await?;
    print!("{}", housing_ledger::witness::cosigned_note(&ledger, &cp.note, cp.tree_size).await?);
    if loc.tsa.is_some() && ledger.checkpoints().timestamp(cp.tree_size).await?.is_none() {
        eprintln!(
            "warning: the checkpoint of tree size {} is UNTIMESTAMPED (the TSA did not answer with a valid token); it is asked again at the next checkpoint",
            cp.tree_size
        );
    }
    if let Some(r) = report {
        for (name, outcome) in &r.outcomes {
            eprintln!("witness {name}: {outcome:?}");
        }
        if !r.reached() {
            let missing: Vec<&str> = r.outcomes.iter().filter(|(_, o)| *o != housing_ledger::witness::Outcome::Cosigned).map(|(n, _)| n.as_str()).collect();
            eprintln!(
                "error: the checkpoint of tree size {} is cosigned by {} witnesses, fewer than the quorum {}; refused or failed: {}",
                r.tree_size,
                r.cosigned(),
                r.quorum,
                missing.join(", ")
            );
            return Ok(std::process::ExitCode::FAILURE);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `witness ...`.
async fn witness(g: &Global, command: WitnessCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    match command {
        WitnessCommand::Vkey { name } => {
            println!("{}", housing_ledger::witness::witness_key(&loc.data_dir, &name)?.public());
            Ok(std::process::ExitCode::SUCCESS)
        }
        WitnessCommand::Serve { name, logs, listen } => {
            let logs = logs.iter().map(|k| events::VerifierKey::parse(k)).collect::<Result<Vec<_>, _>>().context("--log (a ledger verifier key)")?;
            let witness = Arc::new(housing_ledger::witness::Witness::open(&loc.data_dir, &name, logs)?);
            let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            println!("witness {} serving on http://{}", witness.key(), listener.local_addr()?);
            housing_ledger::server::serve(listener, housing_ledger::witness::router(witness), Default::default(), housing_ledger::server::stop_signal())
                .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// `ledger init`: starts a ledger, once.
async fn ledger_init(g: &Global) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    if loc.data_dir.join(housing_ledger::ledger::KEY_FILE).exists() {
        bail!("a ledger key already exists in {}: a ledger is started once", loc.data_dir.display());
    }
    let ledger = loc.ledger().await?;
    println!("started a ledger: {}", ledger.signer().verifier());
    Ok(std::process::ExitCode::SUCCESS)
}

/// `token ...`.
async fn token(g: &Global, command: TokenCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    match command {
        TokenCommand::List => {
            let ledger = loc.ledger().await?;
            println!("{:<14} {:<16} {:<24} {:<13} {:<25} {:<25} revoked", "id", "role", "holder", "holder IIN", "created", "expires");
            for t in ledger.access().tokens().await? {
                println!(
                    "{:<14} {:<16} {:<24} {:<13} {:<25} {:<25} {}",
                    t.id,
                    t.role,
                    t.holder,
                    t.holder_id,
                    t.created_at,
                    t.expires_at.as_deref().unwrap_or("never"),
                    t.revoked_at.as_deref().unwrap_or("-")
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id } => {
            let ledger = loc.ledger().await?;
            let now = housing_ledger::store::utc_millis(chrono::Utc::now());
            if !auth::revoke_token(&ledger, &id, &now).await? {
                bail!("no token {id:?} to revoke (unknown, or revoked before)");
            }
            eprintln!("token {id} revoked at {now}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        TokenCommand::Create { role, holder, holder_id, expires } => {
            let expires_at = expires.as_deref().map(|e| auth::expiry(e, chrono::Utc::now())).transpose().map_err(anyhow::Error::msg)?;
            // Checked before the ledger is opened: a refused token touches nothing.
            if role == Role::AppealsOfficer && (holder.trim().is_empty() || holder_id.trim().is_empty()) {
                return Err(auth::TokenError::Unidentified.into());
            }
            if !holder_id.trim().is_empty() {
                housing_ledger::rules::iin::Iin::parse(holder_id.trim()).context("--holder-id")?;
            }
            let ledger = loc.ledger().await?;
            let (token, rec) = auth::issue_token_until(&ledger, role, &holder, &holder_id, expires_at).await?;
            eprintln!("token {} for role {} (shown once; only its hash is stored)", rec.id, rec.role);
            println!("{token}");
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// `keys ...`.
async fn keys(g: &Global, command: KeysCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    let ledger = loc.ledger().await?;
    match command {
        KeysCommand::Rotate { reason } => println!("{}", ledger.rotate_key(&reason).await?),
        KeysCommand::List => {
            for k in ledger.key_history().await?.all() {
                println!("{k}");
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `bench ...`.
async fn bench(g: &Global, command: BenchCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    match command {
        BenchCommand::Api { persons, rate, seconds, keep, servers, no_replay } => {
            if servers == 0 {
                bail!("--servers must be at least 1");
            }
            let dir = match &keep {
                Some(d) => {
                    housing_ledger::private_files::create_dir(d)?;
                    d.clone()
                }
                None => tempfile_dir()?,
            };
            let url = loc.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let f = housing_ledger::tools::bench::api_figures(&url, &dir, persons, rate, seconds, servers, !no_replay).await?;
            if let Some(b) = &f.built {
                print_run_figures(b);
            }
            match f.replay_per_s {
                Some(r) => println!("ledger: {} events; replay {r:.0} events/s", f.events),
                None => println!("ledger: {} events; not replayed (--no-replay)", f.events),
            }
            for l in &f.latencies {
                println!(
                    "GET {:<6} {} requests at {rate}/s (both routes together), {} errors: p50 {:.2} ms, p99 {:.2} ms",
                    l.route, l.requests, l.errors, l.p50_ms, l.p99_ms
                );
            }
            println!("requests per server: {:?}; peak RSS (KiB), this process then each server: {:?}", f.per_server, f.peak_rss_kib);
            let [cost, old] = &f.cost;
            println!(
                "reads: {} recorded in {} events; {:.0} bytes of events per read; database files grew {:.0} bytes per read",
                cost.reads, cost.events, cost.event_bytes_per_read, cost.file_bytes_per_read
            );
            println!(
                "  as before (one event per read, written after the load): {:.0} bytes of events per read; files grew {:.0} bytes per read; ratio now/before {:.2} (events), {:.2} (files)",
                old.event_bytes_per_read,
                old.file_bytes_per_read,
                cost.event_bytes_per_read / old.event_bytes_per_read.max(1.0),
                cost.file_bytes_per_read / old.file_bytes_per_read.max(1.0)
            );
            if keep.is_none() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCommand::Run { persons } => {
            if persons < 2 {
                bail!("--persons must be at least 2");
            }
            let dir = tempfile_dir()?;
            let url = loc.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let f = housing_ledger::tools::bench::run_figures(&url, &dir, persons).await?;
            print_run_figures(&f);
            let _ = std::fs::remove_dir_all(&dir);
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCommand::Ledger { events, batch } => {
            if events == 0 || batch == 0 {
                bail!("--events and --batch must be positive");
            }
            let dir = tempfile_dir()?;
            let url = loc.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let f = housing_ledger::tools::bench::ledger_figures(&url, &dir, events, batch, loc.tsa.clone()).await?;
            println!("raw Ed25519 signing, one core:          {:>10.0} signatures/s", f.raw_sign_per_s);
            println!("raw Ed25519 batch verification, one core:{:>10.0} signatures/s", f.raw_batch_verify_per_s);
            println!("append (sign + durable commit, batch {batch}): {:>10.0} events/s  ratio {:.2}", f.append_per_s, f.append_per_s / f.raw_sign_per_s);
            println!(
                "verify (whole ledger, {} events):      {:>10.0} events/s  ratio {:.2}",
                f.events,
                f.verify_per_s,
                f.verify_per_s / f.raw_batch_verify_per_s
            );
            let ((p50, max), (wp50, wmax)) =
                (housing_ledger::tools::bench::p50_max(&f.checkpoint_ms), housing_ledger::tools::bench::p50_max(&f.checkpoint_witnessed_ms));
            println!("checkpoint after 1,000 events, alone:            p50 {p50:.2} ms, max {max:.2} ms ({} rounds)", f.checkpoint_ms.len());
            println!("checkpoint with two local witnesses cosigning:   p50 {wp50:.2} ms, max {wmax:.2} ms ({} rounds)", f.checkpoint_witnessed_ms.len());
            if !f.checkpoint_timestamped_ms.is_empty() {
                let (tp50, tmax) = housing_ledger::tools::bench::p50_max(&f.checkpoint_timestamped_ms);
                println!("checkpoint time-stamped by the TSA given:        p50 {tp50:.2} ms, max {tmax:.2} ms ({} rounds)", f.checkpoint_timestamped_ms.len());
            }
            let _ = std::fs::remove_dir_all(&dir);
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// What `bench run` measured (also `bench api`, where it built the ledger).
fn print_run_figures(f: &housing_ledger::tools::bench::RunFigures) {
    println!(
        "raw Ed25519 signing, one core: {:>10.0} signatures/s (before, between and after the procedures: {})",
        f.raw_sign_per_s(),
        f.raw_sign.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
    );
    println!("persons:                       {:>10} (both procedures)", f.persons);
    println!("events:                        {:>10} in {:.1} s", f.events(), f.seconds());
    println!("persons per second:            {:>10.0}", f.persons as f64 / f.seconds());
    println!("events per second:             {:>10.0}  ratio to raw signing {:.2}", f.events() as f64 / f.seconds(), f.ratio());
    println!(
        "per procedure:                 ratio {} (against the raw signing either side of it)",
        f.procedure_ratios().iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
    );
    println!("peak RSS:                      {:>10} KiB", f.peak_rss_kib);
}

/// `serve`.
async fn serve(g: &Global, a: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    let ServeArgs {
        listen,
        registries,
        registry_timeout_ms,
        answer_limits,
        header_timeout_ms,
        request_timeout_ms,
        max_connections,
        max_connections_per_client,
        first_byte_timeout_ms,
        public_url,
        session_idle_minutes,
        session_hours,
        checkpoint_events,
        checkpoint_seconds,
        integrity_check_minutes,
        retention_rules,
        no_retention,
    } = a;
    if checkpoint_events == 0 || checkpoint_seconds == 0 {
        bail!("--checkpoint-events and --checkpoint-seconds must be at least 1");
    }
    let ledger = g.loc.ledger().await?;
    let cp = ledger.checkpoint().await?;
    tracing::info!(tree_size = cp.tree_size, "checkpoint signed");
    // No stored row that the events do not give is served: checked before listening.
    let restored = housing_ledger::projection::restore_from_events(&ledger).await?;
    tracing::info!(restored, "read models checked against the events");
    let sessions = housing_ledger::web::session::SessionPolicy {
        idle: Duration::from_secs(session_idle_minutes.max(1) * 60),
        absolute: Duration::from_secs(session_hours.max(1) * 3600),
        public_url: public_url.map(|u| u.trim_end_matches('/').to_string()),
    };
    // Without a trust list the pages still mark the simulator's answers, but no new source
    // answer (a correction, an acknowledgement) is accepted.
    let trust = g.trust.clone().unwrap_or_else(|| {
        tracing::warn!("no --trust: this server accepts no correction and no reinstatement acknowledgement");
        housing_ledger::registry::sim::sim_trust(&g.seed).with_basis(TrustBasis::Unpinned)
    });
    let policy = housing_ledger::state::CheckpointPolicy { every_events: checkpoint_events, every: Duration::from_secs(checkpoint_seconds) };
    let mut state = AppState::new(ledger, trust.clone())
        .with_sessions(sessions)
        .with_checkpoints(policy)
        .with_integrity_check(Duration::from_secs(integrity_check_minutes.max(1) * 60));
    if let Some(spec) = registries {
        state = state.with_registries(registries_from(&spec, g, registry_timeout_ms, &answer_limits, &trust)?);
    }
    if !no_retention {
        let rules = match &retention_rules {
            Some(p) => housing_ledger::retention::RetentionRules::parse(&std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?)
                .map_err(anyhow::Error::msg)?,
            None => housing_ledger::retention::RetentionRules::built_in(),
        };
        state = state.with_retention(rules);
    }
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    println!("serving on http://{}", listener.local_addr()?);
    let limits = housing_ledger::server::Limits {
        header_read: Duration::from_millis(header_timeout_ms),
        request: Duration::from_millis(request_timeout_ms),
        max_connections,
        per_client: max_connections_per_client,
        first_byte: Duration::from_millis(first_byte_timeout_ms),
        ..Default::default()
    };
    use housing_ledger::security::{record, Kind, Record};
    housing_ledger::security::init_subject_key(state.ledger.subject_ref_key());
    let witnesses = state.ledger.witnesses().map_or(0, |w| w.witnesses.len());
    record(Record::new(
        Kind::ServiceStart,
        format!(
            "serving on {}: sources {}, trust list {:?}, {witnesses} witness(es), limits {limits:?}",
            listener.local_addr()?,
            state.registries.as_ref().map_or("none".to_string(), |r| r.describe()),
            state.registry_keys.basis
        ),
    ));
    let background = state.background.clone();
    housing_ledger::server::serve(listener, app(state), limits, housing_ledger::server::stop_signal()).await?;
    background.shutdown().await;
    record(Record::new(Kind::ServiceStop, "stopped"));
    tracing::info!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// `run`.
async fn run_procedure(g: &Global, a: RunArgs) -> anyhow::Result<std::process::ExitCode> {
    let RunArgs { procedure, as_of, registries, simulation, json, rule_sets, registry_timeout_ms, answer_limits } = a;
    let mut book = RuleBook::built_in();
    for f in &rule_sets {
        book.add_file(f)?;
    }
    let sim_keys = housing_ledger::registry::sim::sim_trust(&g.seed);
    let source = registries_from(&registries, g, registry_timeout_ms, &answer_limits, g.trust.as_ref().unwrap_or(&sim_keys))?;
    let today = housing_ledger::rules::calendar::today().to_string();
    let as_of = as_of.unwrap_or(today.clone());
    // Refuse a back-dated live run, a live run without a trust list, and an out-of-validity
    // one before touching storage.
    let live = !simulation && source.is_live();
    if live && as_of != today {
        return Err(pipeline::PipelineError::NotToday { as_of, today }.into());
    }
    book.select(procedure, &as_of)?;
    if live && g.trust.is_none() {
        return Err(pipeline::PipelineError::NoTrustList.into());
    }
    let ledger = g.loc.ledger().await?;
    let trust = match &g.trust {
        Some(t) => t.clone(),
        None => write_sim_trust(&g.loc.data_dir, sim_keys)?,
    };
    let bar = TerminalProgress::new();
    let settings = Settings { simulation, ..Settings::default() };
    let summary = pipeline::run(&ledger, source, trust, &book, procedure, &as_of, settings, &bar).await;
    bar.done();
    let summary = summary?;
    housing_ledger::projection::catch_up(&ledger).await?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("run {}{}", summary.run, if summary.resumed { " (resumed)" } else { "" });
        for (status, n) in &summary.counts {
            println!("  {status:<14} {n}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `registry-sim`.
async fn registry_sim(g: &Global, a: RegistrySimArgs) -> anyhow::Result<std::process::ExitCode> {
    let RegistrySimArgs { fixture, listen, stall_ms, sign_with, shep } = a;
    let fixture = Fixture::load(&fixture)?;
    let name = fixture.name.clone();
    let mut sim = housing_ledger::registry::sim::Simulator::new(Arc::new(fixture), &g.seed);
    if shep {
        return registry_sim_shep(sim, &name, &listen, stall_ms, &sign_with).await;
    }
    for spec in &sign_with {
        let (registry, files) = spec.split_once('=').with_context(|| format!("--sign-with {spec:?}: REGISTRY=KEY.pem:CHAIN.pem"))?;
        let (key, chain) = files.split_once(':').with_context(|| format!("--sign-with {spec:?}: REGISTRY=KEY.pem:CHAIN.pem"))?;
        let registry = housing_ledger::rules::records::RegistryId::parse(registry).with_context(|| format!("--sign-with: no registry {registry:?}"))?;
        let read = |p: &str| std::fs::read_to_string(p).with_context(|| format!("--sign-with: cannot read {p}"));
        let signer =
            housing_ledger::registry::sim::X509Signer::from_pem(&read(key)?, &read(chain)?).map_err(|e| anyhow::anyhow!("--sign-with {registry}: {e}"))?;
        sim = sim.with_x509(registry, signer).map_err(|e| anyhow::anyhow!("--sign-with: {e}"))?;
        eprintln!("registry-sim: {registry} signs under the certificate in {chain}");
    }
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    println!("registry-sim serving {name} on http://{}", listener.local_addr()?);
    let router = housing_ledger::registry::http::sim_router(Arc::new(sim), Duration::from_millis(stall_ms));
    housing_ledger::server::serve(listener, router, Default::default(), housing_ledger::server::stop_signal()).await?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `registry-sim --shep`: the fixture behind the gateway's envelope, each envelope signed under
/// the `--sign-with` certificate of its source (`gateway=` for every source without its own).
async fn registry_sim_shep(
    mut sim: housing_ledger::registry::sim::Simulator,
    name: &str,
    listen: &str,
    stall_ms: u64,
    sign_with: &[String],
) -> anyhow::Result<std::process::ExitCode> {
    use housing_ledger::registry::shep::sim::{EnvelopeSigner, EnvelopeSigners};
    sim.gateway = true;
    let mut signers = EnvelopeSigners::default();
    for spec in sign_with {
        let usage = || {
            format!("--sign-with {spec:?}: SOURCE=KEY.pem:CHAIN.pem (SOURCE: gateway, a registry, lists, decisions, reinstatements, corrections or notices)")
        };
        let (source, files) = spec.split_once('=').with_context(usage)?;
        let (key, chain) = files.split_once(':').with_context(usage)?;
        let read = |p: &str| std::fs::read_to_string(p).with_context(|| format!("--sign-with: cannot read {p}"));
        let signer = EnvelopeSigner::from_pem(&read(key)?, &read(chain)?).map_err(|e| anyhow::anyhow!("--sign-with {source}: {e}"))?;
        match source {
            "gateway" => signers.default = Some(signer),
            other => {
                signers.by_source.insert(other.to_string(), signer);
            }
        }
        eprintln!("registry-sim: {source}'s envelopes are signed under the certificate in {chain}");
    }
    if signers.default.is_none() && signers.by_source.is_empty() {
        bail!("registry-sim --shep signs every envelope under a certificate: give --sign-with gateway=KEY.pem:CHAIN.pem");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    println!("registry-sim serving {name} through the gateway envelope on http://{}/bip-sync", listener.local_addr()?);
    let router = housing_ledger::registry::shep::sim::shep_router(Arc::new(sim), signers, Duration::from_millis(stall_ms));
    housing_ledger::server::serve(listener, router, Default::default(), housing_ledger::server::stop_signal()).await?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `verify`.
async fn verify(g: &Global, a: VerifyArgs) -> anyhow::Result<std::process::ExitCode> {
    let VerifyArgs { ledger_key, json, trust_bundle_keys, deep } = a;
    let trust = verifier_trust(g, trust_bundle_keys)?;
    let anchor = ledger_key.map(|k| events::VerifierKey::parse(&k)).transpose().context("--ledger-key")?;
    if anchor.is_none() {
        eprintln!("warning: no --ledger-key given: this checks the ledger's self-consistency only, not that it is the ledger whose key you trust");
    }
    let store = g.loc.existing_store().await?;
    if store.size().await? == 0 {
        println!("FAILED: the database holds no event: there is no ledger to verify (a ledger starts with event 0, its key)");
        return Ok(std::process::ExitCode::FAILURE);
    }
    // A bar on a terminal, by events verified.
    let bar = (std::io::stderr().is_terminal() && !json).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("verifying [{bar:40}] {pos}/{len} events {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    });
    if let Some(b) = &bar {
        b.set_length(store.size().await?);
    }
    let verified = verify_store(store.as_ref(), anchor.as_ref(), |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })
    .await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = match verified {
        Ok(r) => r,
        Err(LedgerError::Invalid(f)) => {
            use housing_ledger::security::{record, Kind, Record};
            record(Record::new(Kind::IntegrityFailure, format!("verify: the ledger fails at seq {}: {}", f.seq, f.fault)));
            if json {
                println!("{}", serde_json::json!({"ok": false, "seq": f.seq, "fault": f.fault.to_string(), "detail": f.detail}));
            } else {
                println!("FAILED at {f}");
            }
            return Ok(std::process::ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    // With --tsa-cert: every token, and each before the next checkpoint.
    let stamps = match &g.tsa_anchors {
        Some(anchors) => Some(housing_ledger::timestamp::verify_ledger(store.as_ref(), anchors).await),
        None => None,
    };
    // Every source signature, against the trust list (or, asked for, the runs' own claim).
    let (sources, bad) = housing_ledger::audit::verify_sources(store.as_ref(), trust.as_ref()).await?;
    if let Some((seq, why)) = bad {
        use housing_ledger::security::{record, Kind, Record};
        record(Record::new(Kind::IntegrityFailure, format!("verify: a source signature fails at seq {seq}")));
        if json {
            println!("{}", serde_json::json!({"ok": false, "seq": seq, "fault": "source", "detail": why}));
        } else {
            println!("FAILED at seq {seq}: source signature: {why}");
        }
        return Ok(std::process::ExitCode::FAILURE);
    }
    let note = housing_ledger::registry::trust::basis_note(sources.basis);
    let tail = housing_ledger::ledger::tail(store.as_ref()).await?;
    // --deep: the stored read models against a fold of the events.
    if deep {
        let d = housing_ledger::projection::deep_check(store.clone()).await?;
        if !d.clean() {
            let rows: Vec<String> = d
                .persons
                .differences
                .iter()
                .map(|(k, _, _)| format!("persons/{k}"))
                .chain(d.subjects.iter().map(|(s, q, what)| format!("subject_index ({s}, {q}): {what}")))
                .collect();
            if json {
                println!("{}", serde_json::json!({"ok": false, "fault": "read model", "detail": rows}));
            } else {
                println!("FAILED: {} stored read-model rows differ from the fold of the events:", rows.len());
                rows.iter().for_each(|r| println!("  {r}"));
            }
            return Ok(std::process::ExitCode::FAILURE);
        }
        if !json {
            println!("deep: the persons projection ({} events folded) and the subject index equal the fold of the events", d.persons.events);
        }
    }
    let keys: Vec<String> = report.keys.iter().map(|k| k.to_string()).collect();
    let mut out = serde_json::json!({"ok": true, "events": report.events, "checkpoints": report.checkpoints, "root": hex::encode(report.root), "keys": keys,
        "sources": {"basis": sources.basis, "checked": sources.checked, "note": note},
        "unwitnessed": {"events": tail.events, "after_tree_size": tail.checkpoint_size, "oldest": tail.oldest.map(|t| t.to_rfc3339())},
        "checkpoints_without_stream_heads": report.checkpoints_without_heads});
    if !json {
        println!(
            "ok: {} events, {} checkpoints, root {}, {} ledger keys",
            report.events,
            report.checkpoints,
            out["root"].as_str().unwrap_or_default(),
            keys.len()
        );
        println!(
            "sources: {} source signatures checked against {}",
            sources.checked,
            match g.trust.as_ref() {
                Some(_) => "the trust list given (--trust)".to_string(),
                None => "the keys the runs recorded".to_string(),
            }
        );
        if let Some(n) = note {
            println!("{n}");
        }
        if report.checkpoints_without_heads > 0 {
            println!(
                "note: {} of the {} checkpoints were signed before checkpoints committed to every stream's head: bundles against them cannot show their tails whole; every map root the others commit to was recomputed and holds",
                report.checkpoints_without_heads, report.checkpoints
            );
        } else if report.checkpoints > 0 {
            println!("stream heads: every checkpoint's map of stream heads recomputed from the events, and each holds");
        }
        if tail.events > 0 {
            println!(
                "warning: the newest {} (after the checkpoint of tree size {}) {} past every checkpoint: no witness or time-stamp covers {}, and {} could vanish unnoticed; sign one (checkpoint) or let serve sign them",
                if tail.events == 1 { "event".to_string() } else { format!("{} events", tail.events) },
                tail.checkpoint_size,
                if tail.events == 1 { "lies" } else { "lie" },
                if tail.events == 1 { "it" } else { "them" },
                if tail.events == 1 { "it" } else { "they" }
            );
        }
    }
    match stamps {
        None => {}
        Some(Ok(s)) => {
            let late: Vec<serde_json::Value> = s.late.iter().map(|(size, next)| serde_json::json!({"checkpoint": size, "after_checkpoint": next})).collect();
            out["timestamps"] = serde_json::json!({"stamped": s.stamped, "checkpoints": s.checkpoints, "late": late});
            if !json {
                println!("time-stamps: {} of {} checkpoints time-stamped, every token valid", s.stamped, s.checkpoints);
                for (size, next) in &s.late {
                    println!(
                        "warning: the token of checkpoint {size} was obtained after checkpoint {next} was signed: it shows only that the state existed by then"
                    );
                }
            }
        }
        Some(Err(e)) => {
            if json {
                println!("{}", serde_json::json!({"ok": false, "fault": "timestamp", "detail": e.to_string()}));
            } else {
                println!("FAILED at time-stamps: {e}");
            }
            return Ok(std::process::ExitCode::FAILURE);
        }
    }
    if json {
        println!("{out}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `verify-proof`.
async fn verify_proof(g: &Global, a: VerifyProofArgs) -> anyhow::Result<std::process::ExitCode> {
    let VerifyProofArgs { file, ledger_key, rule_sets, quorum, trust_bundle_keys, json } = a;
    let sources = match verifier_trust(g, trust_bundle_keys)? {
        Some(list) => housing_ledger::proof::Sources::List(list),
        None => housing_ledger::proof::Sources::BundleClaim,
    };
    let witness_keys =
        g.witness_keys.iter().map(|k| events::CosignerKey::parse(k)).collect::<Result<Vec<_>, _>>().context("--witness (a witness verifier key)")?;
    let anchor = events::VerifierKey::parse(&ledger_key).context("--ledger-key")?;
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut book = RuleBook::built_in();
    for f in &rule_sets {
        book.add_file(f)?;
    }
    let against = verifier::report::Against {
        ledger_key: &anchor,
        book: &book,
        sources: &sources,
        quorum: quorum.unwrap_or(witness_keys.len()),
        witnesses: &witness_keys,
        tsa_anchors: g.tsa_anchors.as_deref(),
    };
    let report = verifier::report::check_document(&text, &against).with_context(|| file.display().to_string())?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(if report.ok() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}

/// The gateway sender's settings: `HOUSING_LEDGER_SHEP_SENDER` (default `housing-ledger`),
/// `HOUSING_LEDGER_SHEP_PASSWORD` (required), `HOUSING_LEDGER_SHEP_SESSION` (optional),
/// `HOUSING_LEDGER_SHEP_SERVICES` (`NAME=SERVICE_ID,...`), `HOUSING_LEDGER_SHEP_CERTS` (a PEM file
/// of the gateway's certificates, where it names them by key identifier only); each but the
/// password may come from the configuration file's `[gateway]` instead, the environment winning.
/// Secrets never come from flags, which every user of the machine can read in the process list,
/// nor from the file.
fn shep_settings(http: HttpSettings, file: &housing_ledger::config::GatewayConfig) -> anyhow::Result<housing_ledger::registry::shep::client::ShepSettings> {
    use housing_ledger::registry::shep::envelope::{Secret, Sender};
    let env = |name: &str| std::env::var(name).ok();
    let password =
        env("HOUSING_LEDGER_SHEP_PASSWORD").ok_or_else(|| anyhow::anyhow!("shep: set HOUSING_LEDGER_SHEP_PASSWORD to the gateway sender's password"))?;
    let sender = Sender {
        sender_id: env("HOUSING_LEDGER_SHEP_SENDER").or_else(|| file.sender.clone()).unwrap_or_else(|| "housing-ledger".into()),
        password: Secret::new(password),
        session_id: env("HOUSING_LEDGER_SHEP_SESSION").or_else(|| file.session.clone()).map(Secret::new),
    };
    let services: Vec<String> = match env("HOUSING_LEDGER_SHEP_SERVICES") {
        Some(list) => list.split(',').filter(|s| !s.trim().is_empty()).map(str::to_string).collect(),
        None => file.services.iter().map(|(name, id)| format!("{name}={id}")).collect(),
    };
    let settings = housing_ledger::registry::shep::client::ShepSettings::new(sender).with_services(&services).map_err(anyhow::Error::msg)?;
    // The gateway's certificates, for envelopes that name their signer by key identifier only.
    let certificates = match env("HOUSING_LEDGER_SHEP_CERTS").map(PathBuf::from).or_else(|| file.certs.clone()) {
        Some(path) => {
            let pem = std::fs::read(&path).with_context(|| format!("the gateway's certificates: cannot read {}", path.display()))?;
            let certs = x509_cert::Certificate::load_pem_chain(&pem)
                .map_err(|e| anyhow::anyhow!("the gateway's certificates: {} is not PEM certificates: {e}", path.display()))?;
            certs.iter().map(|c| der::Encode::to_der(c).map_err(|e| anyhow::anyhow!("{e}"))).collect::<anyhow::Result<_>>()?
        }
        None => Vec::new(),
    };
    Ok(housing_ledger::registry::shep::client::ShepSettings { http, certificates, ..settings })
}

/// `config check`: the effective configuration as TOML, secrets masked. Everything it names
/// was already read and checked (`run`: the trust list, the witnesses, the TSA's certificate).
fn config_check(g: &Global, file: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
    use housing_ledger::config::{mask_url, Config, WitnessEntry};
    let loc = &g.loc;
    let env = |name: &str| std::env::var(name).ok();
    let mut gateway = g.config.gateway.clone();
    gateway.sender = env("HOUSING_LEDGER_SHEP_SENDER").or(gateway.sender);
    gateway.session = env("HOUSING_LEDGER_SHEP_SESSION").map(|_| "****".into()).or(gateway.session.map(|_| "****".into()));
    gateway.certs = env("HOUSING_LEDGER_SHEP_CERTS").map(PathBuf::from).or(gateway.certs);
    let effective = Config {
        database_url: Some(mask_url(&loc.url())),
        data_dir: Some(loc.data_dir.clone()),
        origin: Some(loc.origin.clone()),
        trust: g.trust_path.clone(),
        registry_seed: None,
        witnesses: g
            .witness_flags
            .iter()
            .map(|w| {
                let (key, url) = w.split_once('=').map_or((w.as_str(), None), |(k, u)| (k, Some(u.to_string())));
                WitnessEntry { key: key.to_string(), url }
            })
            .collect(),
        witness_quorum: loc.witnesses.as_ref().map(|w| w.quorum),
        tsa: loc.tsa.as_ref().map(|t| t.url.clone()),
        tsa_cert: g.tsa_cert_path.clone(),
        security_log: g.security_log.clone(),
        security_log_format: Some(g.security_log_format.clone()),
        serve: g.config.serve.clone(),
        gateway,
    };
    match file {
        Some(f) => println!("# the effective configuration: {} with the flags and environment over it", f.display()),
        None => println!("# the effective configuration: no configuration file (--config or HOUSING_LEDGER_CONFIG); flags, environment and defaults"),
    }
    println!(
        "# secrets are masked; the gateway's password is read from HOUSING_LEDGER_SHEP_PASSWORD only ({})",
        if env("HOUSING_LEDGER_SHEP_PASSWORD").is_some() { "set" } else { "not set" }
    );
    print!("{}", toml::to_string(&effective).context("the configuration as TOML")?);
    Ok(std::process::ExitCode::SUCCESS)
}

/// The registries a `--registries` value names: `fixture:PATH`, `synthetic:N[:SEED]`, `http:URL`
/// or `shep:URL` (the government gateway).
fn registries_from(spec: &str, g: &Global, timeout_ms: u64, answer_limits: &[String], trust: &TrustedKeys) -> anyhow::Result<Arc<dyn Registries>> {
    let seed = g.seed.as_str();
    let limits = housing_ledger::registry::http::AnswerLimits::default().with(answer_limits).map_err(anyhow::Error::msg)?;
    let source: Arc<dyn Registries> = match spec.split_once(':') {
        Some(("fixture", path)) => Arc::new(FixtureRegistries::new(Fixture::load(std::path::Path::new(path))?, seed)),
        Some(("synthetic", rest)) => {
            let (n, pop_seed) = rest.split_once(':').unwrap_or((rest, "42"));
            let n: u64 = n.parse().context("synthetic:N[:SEED] needs a number of persons")?;
            let pop_seed: u64 = pop_seed.parse().context("synthetic:N[:SEED] needs a numeric seed")?;
            let pop = Arc::new(housing_ledger::tools::population::Population::new(n, pop_seed));
            Arc::new(FixtureRegistries::from_source(pop, seed, format!("synthetic:{n}:{pop_seed}")))
        }
        Some(("http", url)) => {
            Arc::new(HttpRegistries::new(url, HttpSettings { deadline: Duration::from_millis(timeout_ms), limits, ..HttpSettings::default() }))
        }
        Some(("shep", url)) => {
            let http = HttpSettings { deadline: Duration::from_millis(timeout_ms), limits, ..HttpSettings::default() };
            Arc::new(housing_ledger::registry::shep::client::ShepRegistries::new(url, shep_settings(http, &g.config.gateway)?))
        }
        _ => bail!("--registries must be fixture:PATH, synthetic:N[:SEED], http:URL or shep:URL, got {spec:?}"),
    };
    // Answers under the national PKI get their signer's OCSP response on receipt.
    Ok(Arc::new(housing_ledger::registry::revocation::WithRevocation::new(source, trust.clone(), Duration::from_millis(timeout_ms))))
}

/// What a verifier checks source signatures against: `--trust`, or with `--trust-bundle-keys`
/// the operator's own claim (`None`). Neither is an error: the sources would go unchecked.
fn verifier_trust(g: &Global, trust_bundle_keys: bool) -> anyhow::Result<Option<TrustedKeys>> {
    match (&g.trust, trust_bundle_keys) {
        (Some(_), true) => bail!("--trust and --trust-bundle-keys exclude each other: give one"),
        (Some(t), false) => Ok(Some(t.clone())),
        (None, true) => Ok(None),
        (None, false) => bail!(housing_ledger::proof::NO_TRUST),
    }
}

/// A simulation without `--trust` trusts the simulator's keys and writes their list to
/// `DATA_DIR/trust.json` (0600), so that its auditors have a list to pin.
fn write_sim_trust(data_dir: &std::path::Path, keys: TrustedKeys) -> anyhow::Result<TrustedKeys> {
    housing_ledger::private_files::create_dir(data_dir)?;
    let path = data_dir.join("trust.json");
    let mut f = housing_ledger::private_files::create_file(&path).with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut f, keys.text.as_bytes())?;
    f.sync_all()?;
    Ok(keys)
}

async fn demo(g: &Global, persons: u64, listen: &str, as_of: &str, no_serve: bool, shep: bool) -> anyhow::Result<std::process::ExitCode> {
    use housing_ledger::tools::population::Population;
    let (loc, seed) = (&g.loc, g.seed.as_str());
    if g.trust.is_some() {
        bail!("demo runs its own registry simulator and trusts its keys, which it writes to DATA_DIR/trust.json; it takes no --trust");
    }
    let ledger = loc.ledger().await?;
    // The registries: a synthetic population written as a fixture and served over HTTP.
    let population = Population::new(persons, 2026);
    let fixture_path = loc.data_dir.join("demo-fixture.json");
    // The fixture names persons: owner-only, like the database.
    housing_ledger::private_files::create_dir(&loc.data_dir)?;
    let mut out = std::io::BufWriter::new(housing_ledger::private_files::create_file(&fixture_path)?);
    population.write_fixture(&mut out)?;
    std::io::Write::flush(&mut out)?;
    drop(out);
    let fixture = Fixture::load(&fixture_path)?;
    let sim = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim_url = format!("http://{}", sim.local_addr()?);
    let settings = HttpSettings { deadline: Duration::from_millis(500), retries: 1, backoff: Duration::from_millis(50), ..HttpSettings::default() };
    // The simulator's keys, written as the trust list its auditors pin (with the gateway's CA).
    let (router, keys, registries) = if shep {
        demo_gateway(fixture, seed, &sim_url, settings.clone())?
    } else {
        let router = housing_ledger::registry::http::sim_from_fixture(fixture, seed, Duration::from_secs(10));
        let (url, settings) = (sim_url.clone(), settings.clone());
        let registries: DemoSource =
            Box::new(move || Arc::new(HttpRegistries::new(&url, settings.clone()).named(format!("registry-sim:synthetic:{persons}:2026")).simulator()));
        (router, housing_ledger::registry::sim::sim_trust(seed), registries)
    };
    tokio::spawn(async move { axum::serve(sim, router).await });
    eprintln!(
        "registry-sim: {} persons per list from {} on {sim_url}{}",
        persons,
        fixture_path.display(),
        if shep { "/bip-sync (the gateway's envelope)" } else { "" }
    );
    let keys = write_sim_trust(&loc.data_dir, keys)?;
    let trust_path = loc.data_dir.join("trust.json");
    let book = RuleBook::built_in();
    for procedure in Procedure::ALL {
        // The demo's own simulator, not a live gateway: its runs are simulations (decision 11).
        let source = registries();
        let bar = TerminalProgress::new();
        let summary = pipeline::run(&ledger, source, keys.clone(), &book, procedure, as_of, Settings::default(), &bar).await;
        bar.done();
        let summary = summary?;
        println!("{procedure}: run {} {}", summary.run, serde_json::to_string(&summary.counts)?);
    }
    let cp = ledger.checkpoint().await?;
    housing_ledger::projection::catch_up(&ledger).await?;
    let (token, _) = auth::create_token(&ledger, Role::Auditor, "").await?;
    let officer_id = (0..10000u16).find_map(|serial| housing_ledger::rules::iin::Iin::build(1980, 5, 6, 4, serial)).expect("some serial gives a valid IIN");
    let (officer, _) = auth::issue_token(&ledger, Role::AppealsOfficer, "Demo appeals officer", officer_id.as_str()).await?;
    // One removed person whose proof the README walks through (the first of the first 1,000
    // decisions that is one).
    let removed = ledger
        .store()
        .read_by_type("DecisionTaken", 0, 1000)
        .await?
        .into_iter()
        .find(|e| e.as_type::<events::catalogue::DecisionTaken>().is_some_and(|d| d.outcome == "confirmed" && d.procedure == "registry_removal"));
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = format!("http://{}", listener.local_addr()?);
    println!();
    println!("ledger:        {} events, checkpoint at tree size {}", ledger.size().await?, cp.tree_size);
    println!("ledger key:    {}", ledger.signer().verifier());
    println!("trust list:    {} (the simulator's source keys: pin it with --trust)", trust_path.display());
    println!("API:           {addr}");
    println!("auditor token: {token}");
    println!("appeals officer pages: {addr}/ui  (log in with the token {officer})");
    if let Some(ev) = removed {
        let iin = ev.stream.trim_start_matches("person:");
        println!("a removed person's proof:");
        println!("  curl -s -H 'Authorization: Bearer {token}' '{addr}/v1/persons/{iin}/proof?procedure=registry_removal' > proof.json");
        println!("  housing-ledger verify-proof proof.json --ledger-key '{}' --trust '{}'", ledger.signer().verifier(), trust_path.display());
        // What the ground's source owner would send to say it holds nothing after all: the
        // officer accepts it on the person's page once an appeal is filed.
        let cases = housing_ledger::projection::person(&ledger, iin).await?;
        let ground = cases.and_then(|c| c.get("registry_removal")?.grounds.first().cloned());
        // (Corrections are issued to the simulator's JSON side, which `--shep` does not serve.)
        if let Some(g) = ground.filter(|_| !no_serve && !shep) {
            println!(
                "a correction by the owner of {} of its record of {}, to accept on {addr}/ui/persons/{iin} once an appeal is filed:",
                g.registry, g.subject_iin
            );
            let body = serde_json::json!({"registry": g.registry, "iin": g.subject_iin, "record": null});
            println!("  curl -s -X POST {sim_url}/v1/corrections -H 'Content-Type: application/json' -d '{body}'");
        }
    }
    if no_serve {
        return Ok(std::process::ExitCode::SUCCESS);
    }
    // Appeals ask the same registries for fresh answers.
    let state = AppState::new(ledger, keys).with_registries(registries()).with_checkpoints(Default::default());
    println!("serving; Ctrl-C stops");
    let background = state.background.clone();
    housing_ledger::server::serve(listener, app(state), Default::default(), housing_ledger::server::stop_signal()).await?;
    background.shutdown().await;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Makes the registries the demo asks, afresh for each run.
type DemoSource = Box<dyn Fn() -> Arc<dyn Registries>>;

/// `demo --shep`: the simulator behind the gateway's envelope, signed under a throwaway CA whose
/// CRL it serves at `/gateway.crl`; the trust list anchors that CA for every registry. Returns
/// the simulator's routes, the trust list and the registries over `shep:`.
fn demo_gateway(fixture: Fixture, seed: &str, sim_url: &str, http: HttpSettings) -> anyhow::Result<(axum::Router, TrustedKeys, DemoSource)> {
    use housing_ledger::registry::shep::{client, envelope, sim};
    use housing_ledger::tools::gateway_pki;
    let pki = gateway_pki::make(&format!("{sim_url}/gateway.crl")).map_err(anyhow::Error::msg)?;
    let mut simulator = housing_ledger::registry::sim::Simulator::new(Arc::new(fixture), seed);
    simulator.gateway = true;
    let signer = sim::EnvelopeSigner::from_pem(&pki.key_pem, &pki.cert_pem).map_err(anyhow::Error::msg)?;
    let crl = pki.crl_der.clone();
    let router = sim::shep_router(Arc::new(simulator), sim::EnvelopeSigners { default: Some(signer), ..Default::default() }, Duration::from_secs(10))
        .route("/gateway.crl", axum::routing::get(move || async move { crl.clone() }));
    let mut list: serde_json::Value = serde_json::from_str(&housing_ledger::registry::sim::sim_trust(seed).text)?;
    let anchor =
        serde_json::json!({"ca": pki.ca_pem, "signer": {"organization_bin": gateway_pki::GATEWAY_BIN}, "valid_from": "2025-01-01", "valid_until": null});
    for entries in list["sources"].as_object_mut().context("the simulator's trust list has sources")?.values_mut() {
        entries.as_array_mut().context("a source's entries are a list")?.push(anchor.clone());
    }
    let keys = TrustedKeys::parse(&serde_json::to_string_pretty(&list)?)?;
    // The demo's own sender: a password made now, which goes to the simulator and nowhere else.
    let password = events::personal::Secret::generate().to_base64();
    let sender = envelope::Sender { sender_id: "housing-ledger-demo".into(), password: envelope::Secret::new(password), session_id: None };
    let settings = client::ShepSettings { http, ..client::ShepSettings::new(sender) };
    let (url, trust) = (format!("{sim_url}/bip-sync"), keys.clone());
    let registries: DemoSource = Box::new(move || {
        let shep = Arc::new(client::ShepRegistries::new(&url, settings.clone()).simulator());
        Arc::new(housing_ledger::registry::revocation::WithRevocation::new(shep, trust.clone(), Duration::from_secs(5)))
    });
    Ok((router, keys, registries))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("housing-ledger-bench-{}", std::process::id()));
    housing_ledger::private_files::create_dir(&dir)?;
    Ok(dir)
}
