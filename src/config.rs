//! The configuration file (issue 33): every global option, `serve`'s limits and the government
//! gateway's settings in one TOML file, given with `--config FILE` or `HOUSING_LEDGER_CONFIG`.
//! A flag on the command line (or its environment variable) wins over the file, the file over
//! the built-in default. `config.example.toml` documents every key; an unknown key is refused,
//! naming it, so that a misspelt one is never silently ignored.
//!
//! Secrets stay out of it: the gateway's password only ever comes from the environment, and
//! `config check` masks a database URL's password.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "HOUSING_LEDGER_CONFIG";

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub origin: Option<String>,
    /// The sources' trust list.
    pub trust: Option<PathBuf>,
    pub registry_seed: Option<String>,
    /// Every witness checkpoints go to (`url`), or whose cosignature `verify-proof` requires.
    #[serde(default, rename = "witness", skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<WitnessEntry>,
    pub witness_quorum: Option<usize>,
    pub tsa: Option<String>,
    pub tsa_cert: Option<PathBuf>,
    pub security_log: Option<String>,
    pub security_log_format: Option<String>,
    #[serde(default)]
    pub serve: ServeConfig,
    #[serde(default)]
    pub gateway: GatewayConfig,
}

/// A witness: its verifier key, and where it listens (not needed to check cosignatures).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessEntry {
    pub key: String,
    pub url: Option<String>,
}

impl WitnessEntry {
    /// As `--witness` takes it: `VKEY=URL`, or `VKEY`.
    pub fn flag(&self) -> String {
        match &self.url {
            Some(u) => format!("{}={u}", self.key),
            None => self.key.clone(),
        }
    }
}

/// `serve`'s options (the flags of the same names).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: Option<String>,
    pub registries: Option<String>,
    pub registry_timeout_ms: Option<u64>,
    pub answer_limits: Option<Vec<String>>,
    pub header_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_client: Option<usize>,
    pub first_byte_timeout_ms: Option<u64>,
    pub public_url: Option<String>,
    pub session_idle_minutes: Option<u64>,
    pub session_hours: Option<u64>,
    pub checkpoint_events: Option<u64>,
    pub checkpoint_seconds: Option<u64>,
    pub integrity_check_minutes: Option<u64>,
    pub retention_rules: Option<PathBuf>,
}

/// The government gateway's sender (`HOUSING_LEDGER_SHEP_*` win over these). Its password is
/// never read from the file: `HOUSING_LEDGER_SHEP_PASSWORD` only.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub sender: Option<String>,
    pub session: Option<String>,
    /// Registry name → the gateway's service id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, String>,
    /// A PEM file of the gateway's certificates, where it names them by key identifier only.
    pub certs: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("the configuration file {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read { path: path.into(), detail: e.to_string() })?;
        Self::parse(&text).map_err(|e| ConfigError::Invalid { path: path.into(), detail: e.to_string().trim_end().to_string() })
    }

    /// Parses a configuration's text; the error is TOML's, naming the line and the key.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// A database URL with its password, if any, masked: `postgres://user:****@host:5432/db`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return url.to_string() };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let masked = if userinfo.contains(':') { format!("{user}:****") } else { user.to_string() };
    let mut out = format!("{scheme}://{masked}@{host}");
    if let Some(p) = path {
        // A password given as a query parameter is masked too.
        let p = p
            .split('&')
            .map(|kv| if kv.starts_with("password=") || kv.contains("?password=") { mask_param(kv) } else { kv.to_string() })
            .collect::<Vec<_>>()
            .join("&");
        out.push('/');
        out.push_str(&p);
    }
    out
}

fn mask_param(kv: &str) -> String {
    let at = kv.find("password=").expect("a password parameter") + "password=".len();
    format!("{}****", &kv[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        for (url, shown) in [
            ("postgres://hl:s3cret@db.example:5432/housing_ledger", "postgres://hl:****@db.example:5432/housing_ledger"),
            ("postgres://hl@127.0.0.1:5433/hl", "postgres://hl@127.0.0.1:5433/hl"),
            ("postgres://hl@db/hl?password=s3cret&sslmode=require", "postgres://hl@db/hl?password=****&sslmode=require"),
            ("sqlite:///var/lib/hl/ledger.db", "sqlite:///var/lib/hl/ledger.db"),
        ] {
            assert_eq!(mask_url(url), shown);
        }
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = Config::parse("data_dir = \"/x\"\n[serve]\nlisten = \"0.0.0.0:1\"\nmax_conections = 3\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `max_conections`"), "{e}");
        let c = Config::parse("[[witness]]\nkey = \"k\"\nurl = \"http://w\"\n[gateway.services]\nzags = \"ZAGS_1\"\n").unwrap();
        assert_eq!(c.witnesses[0].flag(), "k=http://w");
        assert_eq!(c.gateway.services["zags"], "ZAGS_1");
    }
}
