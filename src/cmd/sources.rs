//! Where answers come from and what they are checked against: `--registries` (fixture, synthetic,
//! http, the government gateway with its settings) and the trust a verifier is given.

use super::*;

/// The gateway sender's settings: `HOUSING_LEDGER_SHEP_SENDER` (default `housing-ledger`),
/// `HOUSING_LEDGER_SHEP_PASSWORD` (required), `HOUSING_LEDGER_SHEP_SESSION` (optional),
/// `HOUSING_LEDGER_SHEP_SERVICES` (`NAME=SERVICE_ID,...`), `HOUSING_LEDGER_SHEP_CERTS` (a PEM file
/// of the gateway's certificates, where it names them by key identifier only); each but the
/// password may come from the configuration file's `[gateway]` instead, the environment winning.
/// Secrets never come from flags, which every user of the machine can read in the process list,
/// nor from the file.
pub(crate) fn shep_settings(
    http: HttpSettings,
    file: &housing_ledger::config::GatewayConfig,
) -> anyhow::Result<housing_ledger::registry::shep::client::ShepSettings> {
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

/// The registries a `--registries` value names: `fixture:PATH`, `synthetic:N[:SEED]`, `http:URL`
/// or `shep:URL` (the government gateway).
pub(crate) fn registries_from(spec: &str, g: &Global, timeout_ms: u64, answer_limits: &[String], trust: &TrustedKeys) -> anyhow::Result<Arc<dyn Registries>> {
    #[cfg(feature = "dev-tools")]
    let seed = g.seed.as_str();
    let limits = housing_ledger::registry::http::AnswerLimits::default().with(answer_limits).map_err(anyhow::Error::msg)?;
    let source: Arc<dyn Registries> = match spec.split_once(':') {
        #[cfg(feature = "dev-tools")]
        Some(("fixture", path)) => Arc::new(devtools::sim::FixtureRegistries::new(Fixture::load(std::path::Path::new(path))?, seed)),
        #[cfg(feature = "dev-tools")]
        Some(("synthetic", rest)) => {
            let (n, pop_seed) = rest.split_once(':').unwrap_or((rest, "42"));
            let n: u64 = n.parse().context("synthetic:N[:SEED] needs a number of persons")?;
            let pop_seed: u64 = pop_seed.parse().context("synthetic:N[:SEED] needs a numeric seed")?;
            let pop = Arc::new(devtools::population::Population::new(n, pop_seed));
            Arc::new(devtools::sim::FixtureRegistries::from_source(pop, seed, format!("synthetic:{n}:{pop_seed}")))
        }
        #[cfg(not(feature = "dev-tools"))]
        Some(("fixture" | "synthetic", _)) => {
            bail!("{spec:?}: fixture: and synthetic: sources are the registry simulator's, which this binary was built without (the dev-tools feature)")
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
pub(crate) fn verifier_trust(g: &Global, trust_bundle_keys: bool) -> anyhow::Result<Option<TrustedKeys>> {
    match (&g.trust, trust_bundle_keys) {
        (Some(_), true) => bail!("--trust and --trust-bundle-keys exclude each other: give one"),
        (Some(t), false) => Ok(Some(t.clone())),
        (None, true) => Ok(None),
        (None, false) => bail!(housing_ledger::proof::NO_TRUST),
    }
}

/// The registry simulator's keys as a trust list, for a simulation without `--trust`: derived
/// from `--registry-seed` by the dev tools, never by the service.
pub(crate) fn simulation_keys(g: &Global) -> anyhow::Result<TrustedKeys> {
    #[cfg(feature = "dev-tools")]
    return Ok(devtools::sim::sim_trust(&g.seed));
    #[cfg(not(feature = "dev-tools"))]
    {
        let _ = g;
        bail!("a simulation without --trust trusts the registry simulator's keys, which this binary was built without (the dev-tools feature): give --trust")
    }
}

/// A simulation without `--trust` trusts the simulator's keys and writes their list to
/// `DATA_DIR/trust.json` (0600), so that its auditors have a list to pin.
pub(crate) fn write_sim_trust(data_dir: &std::path::Path, keys: TrustedKeys) -> anyhow::Result<TrustedKeys> {
    housing_ledger::private_files::create_dir(data_dir)?;
    let path = data_dir.join("trust.json");
    let mut f = housing_ledger::private_files::create_file(&path).with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut f, keys.text.as_bytes())?;
    f.sync_all()?;
    Ok(keys)
}
