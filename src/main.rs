//! The `housing-ledger` command line. `anyhow` lives here only; the library has typed errors.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use housing_ledger::api::{app, AppState};
use housing_ledger::auth::{self, Role};
use housing_ledger::cli::Location;
use housing_ledger::ledger::{verify_store, LedgerError, DEFAULT_ORIGIN};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "housing-ledger",
    version,
    about = "A verifiable ledger of proactive removals from the service-housing waiting list and lease terminations"
)]
struct Cli {
    /// sqlite://PATH or postgres://...; default: SQLite under --data-dir.
    #[arg(long, global = true, env = "HOUSING_LEDGER_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the embedded database and the ledger key live.
    #[arg(
        long,
        global = true,
        env = "HOUSING_LEDGER_DATA_DIR",
        default_value = "./data"
    )]
    data_dir: PathBuf,
    /// The log's origin: the name of its key and the first line of its checkpoints.
    #[arg(long, global = true, env = "HOUSING_LEDGER_ORIGIN", default_value = DEFAULT_ORIGIN)]
    origin: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Verify the whole ledger: hashes, links, signatures and every checkpoint's root.
    Verify {
        /// A ledger verifier key that must be in the ledger's key history.
        #[arg(long)]
        ledger_key: Option<String>,
    },
    /// Sign a checkpoint of the log as it is now and print it.
    Checkpoint,
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
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new API token for a role.
    Create {
        #[arg(long)]
        role: Role,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Introduce a new ledger key, signed by the current one, and retire the current one.
    Rotate {
        #[arg(long, default_value = "scheduled rotation")]
        reason: String,
    },
    /// Print the ledger's verifier keys, oldest first.
    List,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Append and verify throughput next to raw Ed25519 rates.
    Ledger {
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOUSING_LEDGER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let loc = Location {
        database_url: cli.database_url,
        data_dir: cli.data_dir,
        origin: cli.origin,
    };
    match cli.command {
        Command::Serve { listen } => {
            let ledger = loc.ledger().await?;
            let cp = ledger.checkpoint().await?;
            tracing::info!(tree_size = cp.tree_size, "checkpoint signed");
            let state = AppState {
                ledger,
                registry_keys: Arc::new(BTreeMap::new()),
            };
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            println!("serving on http://{}", listener.local_addr()?);
            axum::serve(listener, app(state))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        Command::Verify { ledger_key } => {
            let anchor = ledger_key
                .map(|k| events::VerifierKey::parse(&k))
                .transpose()
                .context("--ledger-key")?;
            let store = loc.store().await?;
            match verify_store(store.as_ref(), anchor.as_ref(), |_| {}).await {
                Ok(r) => println!(
                    "ok: {} events, {} checkpoints, root {}, {} ledger keys",
                    r.events,
                    r.checkpoints,
                    hex::encode(r.root),
                    r.keys.len()
                ),
                Err(LedgerError::Invalid(finding)) => {
                    println!("FAILED at {finding}");
                    return Ok(std::process::ExitCode::FAILURE);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Checkpoint => {
            let ledger = loc.ledger().await?;
            print!("{}", ledger.checkpoint().await?.note);
        }
        Command::Token {
            command: TokenCommand::Create { role },
        } => {
            let ledger = loc.ledger().await?;
            let (token, rec) = auth::create_token(ledger.store().as_ref(), role).await?;
            eprintln!(
                "token {} for role {} (shown once; only its hash is stored)",
                rec.id, rec.role
            );
            println!("{token}");
        }
        Command::Keys { command } => {
            let ledger = loc.ledger().await?;
            match command {
                KeysCommand::Rotate { reason } => println!("{}", ledger.rotate_key(&reason).await?),
                KeysCommand::List => {
                    for k in ledger.key_history().await?.all() {
                        println!("{k}");
                    }
                }
            }
        }
        Command::Bench {
            command: BenchCommand::Ledger { events, batch },
        } => {
            if events == 0 || batch == 0 {
                bail!("--events and --batch must be positive");
            }
            let dir = tempfile_dir()?;
            let url = loc
                .database_url
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let f = housing_ledger::bench::ledger_figures(&url, &dir, events, batch).await?;
            println!(
                "raw Ed25519 signing, one core:          {:>10.0} signatures/s",
                f.raw_sign_per_s
            );
            println!(
                "raw Ed25519 batch verification, one core:{:>10.0} signatures/s",
                f.raw_batch_verify_per_s
            );
            println!(
                "append (sign + durable commit, batch {batch}): {:>10.0} events/s  ratio {:.2}",
                f.append_per_s,
                f.append_per_s / f.raw_sign_per_s
            );
            println!(
                "verify (whole ledger, {} events):      {:>10.0} events/s  ratio {:.2}",
                f.events,
                f.verify_per_s,
                f.verify_per_s / f.raw_batch_verify_per_s
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("housing-ledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
