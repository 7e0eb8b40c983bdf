//! The commands, one module each (the ripgrep way): `main.rs` only parses and dispatches. Each
//! command takes the options every command shares (`Global`) and its own arguments, calls the
//! library, and prints what the library's reports say.

pub(crate) mod admin;
pub(crate) mod audit;
#[cfg(feature = "dev-tools")]
pub(crate) mod bench;
#[cfg(feature = "dev-tools")]
pub(crate) mod demo;
pub(crate) mod progress;
#[cfg(feature = "dev-tools")]
pub(crate) mod registry_sim;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod sources;
pub(crate) mod verify;

// What every command module takes with `use super::*`: the arguments, the shared helpers and
// the library's types they all use.
pub(crate) use crate::args::*;
pub(crate) use anyhow::{bail, Context};
pub(crate) use housing_ledger::api::AppState;
pub(crate) use housing_ledger::app;
pub(crate) use housing_ledger::auth::{self, Role};
pub(crate) use housing_ledger::cli::Location;
pub(crate) use housing_ledger::pipeline::{self, ProgressSink, Settings};
#[cfg(feature = "dev-tools")]
pub(crate) use housing_ledger::registry::fixture::Fixture;
pub(crate) use housing_ledger::registry::http::{HttpRegistries, HttpSettings};
pub(crate) use housing_ledger::registry::{Registries, TrustBasis, TrustedKeys};
#[cfg(feature = "dev-tools")]
pub(crate) use housing_ledger::rules::Procedure;
pub(crate) use housing_ledger::rules::RuleBook;
pub(crate) use progress::{walk_bar, walk_progress, TerminalProgress};
pub(crate) use sources::{registries_from, simulation_keys, verifier_trust, write_sim_trust};
pub(crate) use std::io::IsTerminal;
pub(crate) use std::path::PathBuf;
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Duration;

/// What every command may need beyond its own arguments: where the ledger is, the registry
/// keys' seed, the witnesses' keys and the TSA's certificates.
pub(crate) struct Global {
    pub(crate) loc: Location,
    /// The configuration file's own values (for the gateway's settings and `config check`).
    pub(crate) config: housing_ledger::config::Config,
    /// The options as given (file and flags together), for `config check`.
    pub(crate) trust_path: Option<PathBuf>,
    pub(crate) witness_flags: Vec<String>,
    pub(crate) tsa_cert_path: Option<PathBuf>,
    pub(crate) security_log: Option<String>,
    pub(crate) security_log_format: String,
    // Read by the dev tools only (a build without them has no simulator to seed).
    #[cfg_attr(not(feature = "dev-tools"), allow(dead_code))]
    pub(crate) seed: String,
    /// `--trust`: the sources' trust list.
    pub(crate) trust: Option<TrustedKeys>,
    pub(crate) witness_keys: Vec<String>,
    pub(crate) tsa_anchors: Option<Vec<x509_cert::Certificate>>,
}
