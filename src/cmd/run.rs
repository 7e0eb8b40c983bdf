//! `run`: one run of a procedure (or its resumption).

use super::*;

/// `run`.
pub(crate) async fn run_procedure(g: &Global, a: RunArgs) -> anyhow::Result<std::process::ExitCode> {
    let RunArgs { procedure, as_of, registries, simulation, json, rule_sets, registry_timeout_ms, answer_limits } = a;
    let mut book = RuleBook::built_in();
    for f in &rule_sets {
        book.add_file(f)?;
    }
    // A simulation without --trust trusts the simulator's keys (the dev tools'); a live run
    // without one is refused below.
    let trusted = match &g.trust {
        Some(t) => Ok(t.clone()),
        None => simulation_keys(g),
    };
    let no_trust = TrustedKeys::default();
    let source = registries_from(&registries, g, registry_timeout_ms, &answer_limits, trusted.as_ref().unwrap_or(&no_trust))?;
    let as_of = as_of.unwrap_or_else(|| housing_ledger::rules::calendar::today().to_string());
    // Refuse a back-dated live run, a live run without a trust list, and an out-of-validity
    // one before touching storage (the ledger would be created).
    pipeline::admit(&book, procedure, &as_of, !simulation && source.is_live(), g.trust.is_some())?;
    // Refused before the ledger is touched where there is nothing to trust.
    let trust = match g.trust {
        Some(_) => trusted?,
        None => write_sim_trust(&g.loc.data_dir, trusted?)?,
    };
    let ledger = g.loc.ledger().await?;
    let bar = TerminalProgress::new();
    let settings = Settings { simulation, ..Settings::default() };
    let summary = pipeline::run(&ledger, source, trust, &book, procedure, &as_of, settings, &bar).await;
    bar.done();
    let summary = summary?;
    housing_ledger::read_models::catch_up(&ledger).await?;
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
