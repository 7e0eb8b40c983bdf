//! The `housing-ledger` command line. `anyhow` lives here only; the library has typed errors.

/// serde_json-heavy work allocates a lot; mimalloc is markedly faster than glibc malloc here.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod args;
mod cmd;

use anyhow::{bail, Context};
use args::*;
use cmd::Global;
use housing_ledger::cli::Location;
use housing_ledger::registry::TrustedKeys;
use std::time::Duration;

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
        Command::Serve(a) => cmd::serve::serve(&g, a).await,
        Command::Run(a) => cmd::run::run_procedure(&g, a).await,
        Command::Replay => cmd::admin::replay(&g).await,
        #[cfg(feature = "dev-tools")]
        Command::RegistrySim(a) => cmd::registry_sim::registry_sim(&g, a).await,
        Command::Verify(a) => cmd::verify::verify(&g, a).await,
        Command::VerifyProof(a) => cmd::verify::verify_proof(&g, a).await,
        Command::Audit(a) => cmd::audit::audit(&g, a).await,
        Command::WhatIf(a) => cmd::audit::what_if(&g, a).await,
        #[cfg(feature = "dev-tools")]
        Command::Demo(a) => cmd::demo::demo(&g, a.persons, &a.listen, &a.as_of, a.no_serve, a.shep).await,
        Command::Ledger { command: LedgerCommand::Init } => cmd::admin::ledger_init(&g).await,
        Command::Checkpoint => cmd::admin::checkpoint(&g).await,
        Command::Config { command: ConfigCommand::Check } => cmd::admin::config_check(&g, cli_config.as_deref()),
        Command::Erase(a) => cmd::admin::erase(&g, a).await,
        Command::Retention(a) => cmd::admin::retention(&g, a).await,
        Command::Witness { command } => cmd::admin::witness(&g, command).await,
        Command::Token { command } => cmd::admin::token(&g, command).await,
        Command::Keys { command } => cmd::admin::keys(&g, command).await,
        #[cfg(feature = "dev-tools")]
        Command::Bench { command } => cmd::bench::bench(&g, command).await,
    }
}
