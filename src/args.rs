//! The command line's arguments: every command, subcommand and option, with its help text.
//! `main.rs` dispatches them; nothing here does any work.

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use housing_ledger::auth::Role;
use housing_ledger::config::Config;
use housing_ledger::ledger::DEFAULT_ORIGIN;
use housing_ledger::rules::Procedure;
use std::path::PathBuf;

/// The registry simulator's seed by default (its keys are derived from it; simulations only).
#[cfg(feature = "dev-tools")]
const SIM_SEED: &str = devtools::sim::DEFAULT_SIM_SEED;
/// Without the dev tools there is no simulator, and no seed to derive its keys from.
#[cfg(not(feature = "dev-tools"))]
const SIM_SEED: &str = "";

#[derive(Parser)]
#[command(name = "housing-ledger", version, about = "A verifiable ledger of proactive removals from the service-housing waiting list and lease terminations")]
pub struct Cli {
    /// A TOML configuration file holding any of the global options, serve's and the gateway's
    /// (config.example.toml); a flag given here (or its environment variable) wins over it.
    #[arg(long, global = true, env = housing_ledger::config::CONFIG_ENV)]
    pub config: Option<PathBuf>,
    /// sqlite://PATH or postgres://...; default: SQLite under --data-dir.
    #[arg(long, global = true, env = "HOUSING_LEDGER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the embedded database and the ledger key live.
    #[arg(long, global = true, env = "HOUSING_LEDGER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The log's origin: the name of its key and the first line of its checkpoints.
    #[arg(long, global = true, env = "HOUSING_LEDGER_ORIGIN", default_value = DEFAULT_ORIGIN)]
    pub origin: String,
    /// The trust list of the sources' keys and certificate authorities (docs/sources.md): what
    /// run and serve accept answers under, and what verify, verify-proof and audit check them
    /// against. A live run refuses to start without one.
    #[arg(long, global = true, env = "HOUSING_LEDGER_TRUST")]
    pub trust: Option<PathBuf>,
    /// Seed of the registry simulator's keys, for simulations only: a simulation without --trust
    /// trusts the keys derived from it and writes their list to DATA_DIR/trust.json.
    #[arg(long, global = true, env = "HOUSING_LEDGER_REGISTRY_SEED", default_value = SIM_SEED, hide_default_value = true)]
    pub registry_seed: String,
    /// A witness every checkpoint goes to: its verifier key (type 0x04) and URL, `VKEY=URL`.
    /// Repeatable. For verify-proof, `VKEY` alone: a witness whose cosignature counts.
    #[arg(long = "witness", global = true)]
    pub witnesses: Vec<String>,
    /// How many witnesses must cosign a checkpoint (default: every witness named).
    #[arg(long, global = true)]
    pub witness_quorum: Option<usize>,
    /// An RFC 3161 time-stamping authority every checkpoint is time-stamped by (with --tsa-cert).
    #[arg(long, global = true)]
    pub tsa: Option<String>,
    /// The TSA's certificate, or the CA that issued it (PEM): what its tokens are checked
    /// against, here and by verify-proof.
    #[arg(long, global = true)]
    pub tsa_cert: Option<PathBuf>,
    /// Where security events go for the SOC: a file (JSON lines, appended, 0600), `-` for
    /// standard error, or `udp:HOST:PORT` for a syslog collector (RFC 5424 over UDP).
    #[arg(long, global = true, env = "HOUSING_LEDGER_SECURITY_LOG")]
    pub security_log: Option<String>,
    /// `json` (one JSON object a line) or `syslog` (RFC 5424 lines) for a file or `-`.
    #[arg(long, global = true, default_value = "json", value_parser = ["json", "syslog"])]
    pub security_log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the algorithm once (or resume an interrupted run with the same arguments).
    Run(RunArgs),
    /// Rebuild every projection from the events alone and compare it with the stored one.
    Replay,
    /// Serve a fixture as the six registries over HTTP, faults included.
    #[cfg(feature = "dev-tools")]
    RegistrySim(RegistrySimArgs),
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Verify the whole ledger: hashes, links, signatures and every checkpoint's root.
    Verify(VerifyArgs),
    /// Verify a proof bundle offline against a ledger verifier key.
    VerifyProof(VerifyProofArgs),
    /// Re-derive every decision from its recorded answers under its recorded rule set, and
    /// check the ledger-wide rules; exits non-zero on any finding.
    Audit(AuditArgs),
    /// Judge the recorded answers of past runs under another rule set; writes nothing.
    WhatIf(WhatIfArgs),
    /// The main job: generate a population, serve it as the registries over HTTP, run both
    /// procedures, sign a checkpoint and serve the API.
    #[cfg(feature = "dev-tools")]
    Demo(DemoArgs),
    /// Sign a checkpoint of the log as it is now and print it.
    Checkpoint,
    /// The configuration file (--config, or HOUSING_LEDGER_CONFIG).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Erase one person (format v2): his data key destroyed, his read-model rows deleted,
    /// `SubjectErased` recorded; the log and its proofs stay whole. Operator role.
    Erase(EraseArgs),
    /// Erase every case whose retention period under the retention rules has run out, or list
    /// them (--dry-run). Operator role.
    Retention(RetentionArgs),
    /// A transparency-log witness (C2SP tlog-witness).
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// Start a ledger: its key and event 0, on an empty directory (and database) only.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Ledger keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measure throughput and print figures.
    #[cfg(feature = "dev-tools")]
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

/// The arguments of `run`.
#[derive(clap::Args)]
pub struct RunArgs {
    #[arg(long)]
    pub procedure: Procedure,
    /// The decision date, YYYY-MM-DD; default: today in Kazakhstan. On live sources
    /// (`http:`) it must be today unless the run is a --simulation.
    #[arg(long)]
    pub as_of: Option<String>,
    /// fixture:PATH, http:URL, shep:URL (the government gateway; the sender from
    /// HOUSING_LEDGER_SHEP_*), or synthetic:N[:SEED] (a generated population of N per list)
    #[arg(long)]
    pub registries: String,
    /// Declare the run a simulation (decision 11): judged as of --as-of, recorded as a
    /// simulation, not a legal act, and no notice is delivered through a live gateway.
    /// Implied for fixture: and synthetic: sources.
    #[arg(long)]
    pub simulation: bool,
    /// Print one JSON object {"run", "counts"} at the end.
    #[arg(long)]
    pub json: bool,
    /// An extra rule-set file (an extension order), in addition to the built-in ones.
    #[arg(long = "rule-set")]
    pub rule_sets: Vec<PathBuf>,
    /// Deadline of one HTTP registry request, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub registry_timeout_ms: u64,
    /// `SOURCE=BYTES`: the largest answer taken from a source over http: (a registry such as
    /// gbd_fl, or lists, decisions, reinstatements, corrections, notices); default 16 MiB,
    /// notices 1 MiB. Repeatable. A larger answer is malformed (decision 6).
    #[arg(long = "answer-limit")]
    pub answer_limits: Vec<String>,
}

/// The arguments of `registry-sim`.
#[cfg(feature = "dev-tools")]
#[derive(clap::Args)]
pub struct RegistrySimArgs {
    #[arg(long)]
    pub fixture: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// How long a `timeout` fault keeps the caller waiting, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub stall_ms: u64,
    /// `REGISTRY=KEY.pem:CHAIN.pem`: sign that registry's answers under an X.509 certificate
    /// (RSA or ECDSA P-256; the chain is its certificate, then the intermediates) instead of
    /// the key derived from the seed. Repeatable; not ish_as_mr.
    #[arg(long = "sign-with")]
    pub sign_with: Vec<String>,
    /// Serve through the government gateway's SOAP envelope (`POST /bip-sync`), each response
    /// signed with WS-Security under the `--sign-with` certificate of its source
    /// (`gateway=KEY.pem:CHAIN.pem` for all the others).
    #[arg(long)]
    pub shep: bool,
}

/// The arguments of `serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where appeals ask for fresh answers and deliver notices of reinstatement
    /// (`fixture:PATH`, `synthetic:N[:SEED]`, `http:URL`); without it, re-checks rely on
    /// corrections only.
    #[arg(long)]
    pub registries: Option<String>,
    #[arg(long, default_value_t = 5000)]
    pub registry_timeout_ms: u64,
    /// `SOURCE=BYTES`: the largest answer taken from a source over http: (as for `run`).
    #[arg(long = "answer-limit")]
    pub answer_limits: Vec<String>,
    /// A client must send a request's line and headers within this, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// A whole request must be read and answered within this (else 408), in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    pub request_timeout_ms: u64,
    /// Connections open at once; more wait until one closes.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Connections one client (peer address) may hold at once; more are answered 503.
    #[arg(long, default_value_t = 64)]
    pub max_connections_per_client: usize,
    /// A new connection that sends nothing within this is closed, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub first_byte_timeout_ms: u64,
    /// Where users reach the service (e.g. https://housing.example); `https://` makes the
    /// page cookies `Secure`, and forms are accepted only from this origin.
    #[arg(long)]
    pub public_url: Option<String>,
    /// A page session ends after this many minutes without a request.
    #[arg(long, default_value_t = 30)]
    pub session_idle_minutes: u64,
    /// A page session ends this many hours after login, however busy.
    #[arg(long, default_value_t = 12)]
    pub session_hours: u64,
    /// Sign a checkpoint (sent to the witnesses, time-stamped) once this many events lie past
    /// the newest one...
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_events: u64,
    /// ...or once the oldest of them has waited this many seconds, whichever comes first.
    #[arg(long, default_value_t = 30)]
    pub checkpoint_seconds: u64,
    /// How often the stored read models are checked against the events (also at start, before
    /// serving); any that differ are folded afresh from the events, in minutes.
    #[arg(long, default_value_t = 360)]
    pub integrity_check_minutes: u64,
    /// The retention rules serve erases by, once a day (format v2; default: the newest
    /// rules/retention-*.json built in).
    #[arg(long)]
    pub retention_rules: Option<PathBuf>,
    /// Do not run retention while serving (erasures then only by `retention` and `erase`).
    #[arg(long)]
    pub no_retention: bool,
}

/// The arguments of `verify`.
#[derive(clap::Args)]
pub struct AuditArgs {
    /// Extra rule-set files the ledger's proposals may name (the built-in ones are known).
    #[arg(long = "rule-set")]
    pub rule_sets: Vec<PathBuf>,
    /// One JSON object: `{"decisions": N, "findings": [{"seq", "iin", "what"}], "sources"}`.
    #[arg(long)]
    pub json: bool,
    /// Without --trust: check source signatures against the keys each run recorded (the
    /// operator's own claim); every run says so.
    #[arg(long)]
    pub trust_bundle_keys: bool,
}

#[derive(clap::Args)]
pub struct WhatIfArgs {
    /// The other rule set (a rule-set file, as `run --rule-set` takes).
    #[arg(long)]
    pub rule_set: PathBuf,
    /// Only this run's cases.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub run: Option<String>,
    /// Every run's cases of the rule set's procedure.
    #[arg(long)]
    pub all: bool,
    /// One JSON object: `{"persons": N, "changed": [{"iin", "procedure", "from", "to",
    /// "grounds_from", "grounds_to"}], "cannot_tell": [{"iin", "procedure", "why"}]}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// A ledger verifier key that must be in the ledger's key history.
    #[arg(long)]
    pub ledger_key: Option<String>,
    /// One JSON object: `{"ok": true, "events", "checkpoints", "root", "keys", "sources"}`, or
    /// `{"ok": false, "seq", "fault", "detail"}` naming the first bad event.
    #[arg(long)]
    pub json: bool,
    /// Without --trust: check source signatures against the keys each run recorded (the
    /// operator's own claim); every run says so.
    #[arg(long)]
    pub trust_bundle_keys: bool,
    /// Also refold the stored read models (the persons projection, the subject index) from the
    /// events and compare them with the stored rows.
    #[arg(long)]
    pub deep: bool,
}

/// The arguments of `verify-proof`.
#[derive(clap::Args)]
pub struct VerifyProofArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub ledger_key: String,
    /// Extra rule-set files the bundle may name.
    #[arg(long = "rule-set")]
    pub rule_sets: Vec<PathBuf>,
    /// How many of the witnesses given (the global `--witness VKEY`, repeatable; a URL after
    /// `=` is ignored here) must have cosigned the bundle's checkpoint (default: all).
    #[arg(long)]
    pub quorum: Option<usize>,
    /// Without --trust: check source signatures against the keys the bundle names (the
    /// operator's own claim); every run says so.
    #[arg(long)]
    pub trust_bundle_keys: bool,
    /// One JSON object: `{"ok", "iin", "procedure", "status", "grounds", "events", "tree_size",
    /// "simulation", "sources", "sources_note"}` or `{"ok": false, "error"}`.
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `demo`.
#[cfg(feature = "dev-tools")]
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Recipients on each list.
    #[arg(long, default_value_t = 1000)]
    pub persons: u64,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[arg(long, default_value = "2026-01-15")]
    pub as_of: String,
    /// Run and print, then exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Reach the simulator through the government gateway's SOAP envelope, each response
    /// signed with WS-Security under a throwaway CA the demo makes (and anchors in its trust
    /// list), instead of the JSON protocol.
    #[arg(long)]
    pub shep: bool,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a new API token for a role.
    Create {
        #[arg(long)]
        role: Role,
        /// Whom the token is issued to (required for appeals officers), as shown on pages.
        #[arg(long, default_value = "")]
        holder: String,
        /// The holder's IIN (required for appeals officers): no one resolves an appeal
        /// against his own decision, judged by this identifier, never by the name.
        #[arg(long, default_value = "")]
        holder_id: String,
        /// When the token stops working: a duration from now (90d, 12h, 30m) or an RFC 3339
        /// time; default: never.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List the tokens (never their secrets: only hashes are stored).
    List,
    /// Revoke a token by its id: refused at once, in a running server too.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Serve POST /add-checkpoint for the logs given; the witness key is made in --data-dir on
    /// first start (0600), and its state is kept there.
    Serve {
        #[arg(long)]
        name: String,
        /// A log's verifier key (the ledger key, type 0x01). Repeatable.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        #[arg(long, default_value = "127.0.0.1:8070")]
        listen: String,
    },
    /// Print the witness's verifier key (C2SP vkey, signature type 0x04).
    Vkey {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Create the ledger key and event 0. Refuses where a key or any event already exists.
    Init,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (the file, the flags and the defaults together), its
    /// secrets masked, after checking it.
    Check,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Introduce a new ledger key, signed by the current one, and retire the current one.
    Rotate {
        #[arg(long, default_value = "scheduled rotation")]
        reason: String,
    },
    /// Print the ledger's verifier keys, oldest first.
    List,
}

#[cfg(feature = "dev-tools")]
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Latency of the person and proof routes under load, and replay speed, on a large ledger.
    Api {
        /// Recipients in all (50,000 make about a million events).
        #[arg(long, default_value_t = 50_000)]
        persons: u64,
        #[arg(long, default_value_t = 500)]
        rate: u64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Keep the ledger in DIR and reuse it if it is there (building a million events takes
        /// minutes); without it, a temporary directory is used and removed. With
        /// --database-url, DIR holds the ledger key and the database is reused if it holds a
        /// ledger.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Serve from this many `serve` processes on the same database, the load split evenly
        /// between them (1: one server in this process).
        #[arg(long, default_value_t = 1)]
        servers: usize,
        /// Measure the routes without first replaying the projection (replay reads most of the
        /// database: with the page cache dropped before, the routes then meet a cold cache).
        #[arg(long)]
        no_replay: bool,
    },
    /// A full run of both procedures over a synthetic population, in process.
    Run {
        /// Recipients in all (half on each list).
        #[arg(long, default_value_t = 20_000)]
        persons: u64,
    },
    /// Format v2 against v1: `bench run` on a fresh ledger of each, in turn, for several
    /// rounds (the order swapped every round); prints each run and the median ratio v2/v1.
    Formats {
        /// Recipients in all per run (half on each list).
        #[arg(long, default_value_t = 10_000)]
        persons: u64,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Append and verify throughput next to raw Ed25519 rates.
    Ledger {
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
}

#[derive(clap::Args)]
pub struct EraseArgs {
    /// The person's IIN.
    #[arg(long)]
    pub iin: String,
    /// Why he is erased (recorded).
    #[arg(long)]
    pub reason: String,
    /// The legal basis of the erasure (recorded).
    #[arg(long)]
    pub basis: String,
    /// An operator's API token: its holder is recorded as who erased.
    #[arg(long, env = "HOUSING_LEDGER_TOKEN", hide_env_values = true)]
    pub token: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct RetentionArgs {
    /// List what is due; erase nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The retention rules (default: the newest rules/retention-*.json built in).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The day to count to (YYYY-MM-DD; default: today).
    #[arg(long)]
    pub today: Option<String>,
    /// An operator's API token: its holder is recorded as who erased.
    #[arg(long, env = "HOUSING_LEDGER_TOKEN", hide_env_values = true)]
    pub token: String,
    #[arg(long)]
    pub json: bool,
}

/// The command line, with the configuration file's values where no flag (or environment
/// variable) was given: flags win over the file, the file over the built-in defaults.
pub fn parse() -> Result<(Cli, Config), housing_ledger::config::ConfigError> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    apply(&mut cli, &matches, config.clone());
    Ok((cli, config))
}

/// Whether the user gave `id` himself (a flag or its environment variable), not a default.
fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(m.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable))
}

/// Takes the file's value for each option the user did not give.
fn apply(cli: &mut Cli, m: &ArgMatches, c: Config) {
    macro_rules! take {
        ($m:expr, $id:literal, $dst:expr, $value:expr) => {
            if !given($m, $id) {
                if let Some(v) = $value {
                    $dst = v;
                }
            }
        };
    }
    take!(m, "database_url", cli.database_url, c.database_url.map(Some));
    take!(m, "data_dir", cli.data_dir, c.data_dir);
    take!(m, "origin", cli.origin, c.origin);
    take!(m, "trust", cli.trust, c.trust.map(Some));
    take!(m, "registry_seed", cli.registry_seed, c.registry_seed);
    take!(m, "witnesses", cli.witnesses, Some(c.witnesses.iter().map(|w| w.flag()).collect::<Vec<_>>()).filter(|w| !w.is_empty()));
    take!(m, "witness_quorum", cli.witness_quorum, c.witness_quorum.map(Some));
    take!(m, "tsa", cli.tsa, c.tsa.map(Some));
    take!(m, "tsa_cert", cli.tsa_cert, c.tsa_cert.map(Some));
    take!(m, "security_log", cli.security_log, c.security_log.map(Some));
    take!(m, "security_log_format", cli.security_log_format, c.security_log_format);
    if let (Command::Serve(a), Some(m)) = (&mut cli.command, m.subcommand_matches("serve")) {
        let s = c.serve;
        take!(m, "listen", a.listen, s.listen);
        take!(m, "registries", a.registries, s.registries.map(Some));
        take!(m, "registry_timeout_ms", a.registry_timeout_ms, s.registry_timeout_ms);
        take!(m, "answer_limits", a.answer_limits, s.answer_limits);
        take!(m, "header_timeout_ms", a.header_timeout_ms, s.header_timeout_ms);
        take!(m, "request_timeout_ms", a.request_timeout_ms, s.request_timeout_ms);
        take!(m, "max_connections", a.max_connections, s.max_connections);
        take!(m, "max_connections_per_client", a.max_connections_per_client, s.max_connections_per_client);
        take!(m, "first_byte_timeout_ms", a.first_byte_timeout_ms, s.first_byte_timeout_ms);
        take!(m, "public_url", a.public_url, s.public_url.map(Some));
        take!(m, "session_idle_minutes", a.session_idle_minutes, s.session_idle_minutes);
        take!(m, "session_hours", a.session_hours, s.session_hours);
        take!(m, "checkpoint_events", a.checkpoint_events, s.checkpoint_events);
        take!(m, "checkpoint_seconds", a.checkpoint_seconds, s.checkpoint_seconds);
        take!(m, "integrity_check_minutes", a.integrity_check_minutes, s.integrity_check_minutes);
        take!(m, "retention_rules", a.retention_rules, s.retention_rules.map(Some));
    }
}
