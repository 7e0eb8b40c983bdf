//! `demo`: the main job, a population served as registries, both procedures run, a checkpoint
//! signed and the API served.

use super::*;

pub(crate) async fn demo(g: &Global, persons: u64, listen: &str, as_of: &str, no_serve: bool, shep: bool) -> anyhow::Result<std::process::ExitCode> {
    use devtools::population::Population;
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
        let router = devtools::sim_http::sim_from_fixture(fixture, seed, Duration::from_secs(10));
        let (url, settings) = (sim_url.clone(), settings.clone());
        let registries: DemoSource =
            Box::new(move || Arc::new(HttpRegistries::new(&url, settings.clone()).named(format!("registry-sim:synthetic:{persons}:2026")).simulator()));
        (router, devtools::sim::sim_trust(seed), registries)
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
    housing_ledger::read_models::catch_up(&ledger).await?;
    let (token, _) = auth::create_token(&ledger, Role::Auditor, "").await?;
    let officer_id = (0..10000u16).find_map(|serial| housing_ledger::rules::iin::Iin::build(1980, 5, 6, 4, serial)).expect("some serial gives a valid IIN");
    let (officer, _) = auth::issue_token(&ledger, Role::AppealsOfficer, "Demo appeals officer", officer_id.as_str()).await?;
    // One removed person whose proof the README walks through (the first of the first 1,000
    // decisions that is one).
    let removed = ledger
        .log()
        .read_by_type("DecisionTaken", 0, 1000)
        .await?
        .into_iter()
        .find(|e| e.as_type::<events::catalogue::DecisionTaken>().is_some_and(|d| d.outcome == "confirmed" && d.procedure == "registry_removal"));
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    // Before the address is announced: see server::stop_signal.
    let stop = housing_ledger::server::stop_signal();
    let addr = format!("http://{}", listener.local_addr()?);
    println!();
    println!("ledger:        {} events, checkpoint at tree size {}", ledger.size().await?, cp.tree_size);
    println!("ledger key:    {}", ledger.signer().verifier());
    println!("trust list:    {} (the simulator's source keys: pin it with --trust)", trust_path.display());
    println!("API:           {addr}");
    println!("auditor token: {token}");
    println!("appeals officer pages: {addr}/ui  (log in with the token {officer})");
    if let Some(ev) = removed {
        // (Corrections are issued to the simulator's JSON side, which `--shep` does not serve.)
        print_walkthrough(&ledger, ev.stream.trim_start_matches("person:"), &token, &addr, &trust_path, (!no_serve && !shep).then_some(sim_url.as_str()))
            .await?;
    }
    if no_serve {
        return Ok(std::process::ExitCode::SUCCESS);
    }
    // Appeals ask the same registries for fresh answers.
    let state = AppState::new(ledger, keys).with_registries(registries()).with_checkpoints(Default::default());
    println!("serving; Ctrl-C stops");
    let background = state.background.clone();
    housing_ledger::server::serve(listener, app(state), Default::default(), stop).await?;
    background.shutdown().await;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The lines the README walks through for one removed person: his proof fetched and checked
/// and, where the simulator takes corrections at `corrections_to`, one that would overturn it.
async fn print_walkthrough(
    ledger: &housing_ledger::ledger::Ledger,
    iin: &str,
    token: &str,
    addr: &str,
    trust_path: &std::path::Path,
    corrections_to: Option<&str>,
) -> anyhow::Result<()> {
    println!("a removed person's proof:");
    println!("  curl -s -H 'Authorization: Bearer {token}' '{addr}/v1/persons/{iin}/proof?procedure=registry_removal' > proof.json");
    println!("  housing-ledger verify-proof proof.json --ledger-key '{}' --trust '{}'", ledger.signer().verifier(), trust_path.display());
    // What the ground's source owner would send to say it holds nothing after all: the
    // officer accepts it on the person's page once an appeal is filed.
    let cases = housing_ledger::read_models::person(ledger, iin).await?;
    let ground = cases.and_then(|c| c.get("registry_removal")?.grounds.first().cloned());
    if let Some((g, sim_url)) = ground.zip(corrections_to) {
        println!(
            "a correction by the owner of {} of its record of {}, to accept on {addr}/ui/persons/{iin} once an appeal is filed:",
            g.registry, g.subject_iin
        );
        let body = serde_json::json!({"registry": g.registry, "iin": g.subject_iin, "record": null});
        println!("  curl -s -X POST {sim_url}/v1/corrections -H 'Content-Type: application/json' -d '{body}'");
    }
    Ok(())
}

/// Makes the registries the demo asks, afresh for each run.
pub(crate) type DemoSource = Box<dyn Fn() -> Arc<dyn Registries>>;

/// `demo --shep`: the simulator behind the gateway's envelope, signed under a throwaway CA whose
/// CRL it serves at `/gateway.crl`; the trust list anchors that CA for every registry. Returns
/// the simulator's routes, the trust list and the registries over `shep:`.
pub(crate) fn demo_gateway(fixture: Fixture, seed: &str, sim_url: &str, http: HttpSettings) -> anyhow::Result<(axum::Router, TrustedKeys, DemoSource)> {
    use devtools::gateway_pki;
    use devtools::shep_sim as sim;
    use housing_ledger::registry::shep::{client, envelope};
    let pki = gateway_pki::make(&format!("{sim_url}/gateway.crl")).map_err(anyhow::Error::msg)?;
    let mut simulator = devtools::sim::Simulator::new(Arc::new(fixture), seed);
    simulator.gateway = true;
    let signer = sim::EnvelopeSigner::from_pem(&pki.key_pem, &pki.cert_pem).map_err(anyhow::Error::msg)?;
    let crl = pki.crl_der.clone();
    let router = sim::shep_router(Arc::new(simulator), sim::EnvelopeSigners { default: Some(signer), ..Default::default() }, Duration::from_secs(10))
        .route("/gateway.crl", axum::routing::get(move || async move { crl.clone() }));
    let mut list: serde_json::Value = serde_json::from_str(&devtools::sim::sim_trust(seed).text)?;
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

pub(crate) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("housing-ledger-bench-{}", std::process::id()));
    housing_ledger::private_files::create_dir(&dir)?;
    Ok(dir)
}
