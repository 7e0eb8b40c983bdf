//! `registry-sim`: a fixture served as the six registries, over HTTP or through the gateway's
//! envelope.

use super::*;

/// `registry-sim`.
pub(crate) async fn registry_sim(g: &Global, a: RegistrySimArgs) -> anyhow::Result<std::process::ExitCode> {
    let RegistrySimArgs { fixture, listen, stall_ms, sign_with, shep } = a;
    let fixture = Fixture::load(&fixture)?;
    let name = fixture.name.clone();
    let mut sim = devtools::sim::Simulator::new(Arc::new(fixture), &g.seed);
    if shep {
        return registry_sim_shep(sim, &name, &listen, stall_ms, &sign_with).await;
    }
    for spec in &sign_with {
        let (registry, files) = spec.split_once('=').with_context(|| format!("--sign-with {spec:?}: REGISTRY=KEY.pem:CHAIN.pem"))?;
        let (key, chain) = files.split_once(':').with_context(|| format!("--sign-with {spec:?}: REGISTRY=KEY.pem:CHAIN.pem"))?;
        let registry = housing_ledger::rules::records::RegistryId::parse(registry).with_context(|| format!("--sign-with: no registry {registry:?}"))?;
        let read = |p: &str| std::fs::read_to_string(p).with_context(|| format!("--sign-with: cannot read {p}"));
        let signer = devtools::sim::X509Signer::from_pem(&read(key)?, &read(chain)?).map_err(|e| anyhow::anyhow!("--sign-with {registry}: {e}"))?;
        sim = sim.with_x509(registry, signer).map_err(|e| anyhow::anyhow!("--sign-with: {e}"))?;
        eprintln!("registry-sim: {registry} signs under the certificate in {chain}");
    }
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    // Before the address is announced: see server::stop_signal.
    let stop = housing_ledger::server::stop_signal();
    println!("registry-sim serving {name} on http://{}", listener.local_addr()?);
    let router = devtools::sim_http::sim_router(Arc::new(sim), Duration::from_millis(stall_ms));
    housing_ledger::server::serve(listener, router, Default::default(), stop).await?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `registry-sim --shep`: the fixture behind the gateway's envelope, each envelope signed under
/// the `--sign-with` certificate of its source (`gateway=` for every source without its own).
pub(crate) async fn registry_sim_shep(
    mut sim: devtools::sim::Simulator,
    name: &str,
    listen: &str,
    stall_ms: u64,
    sign_with: &[String],
) -> anyhow::Result<std::process::ExitCode> {
    use devtools::shep_sim::{EnvelopeSigner, EnvelopeSigners};
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
    // Before the address is announced: see server::stop_signal.
    let stop = housing_ledger::server::stop_signal();
    println!("registry-sim serving {name} through the gateway envelope on http://{}/bip-sync", listener.local_addr()?);
    let router = devtools::shep_sim::shep_router(Arc::new(sim), signers, Duration::from_millis(stall_ms));
    housing_ledger::server::serve(listener, router, Default::default(), stop).await?;
    Ok(std::process::ExitCode::SUCCESS)
}
