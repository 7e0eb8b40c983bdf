//! `run`: one run of a procedure (or its resumption).

use super::*;

/// `run`.
pub(crate) async fn run_procedure(g: &Global, a: RunArgs) -> anyhow::Result<std::process::ExitCode> {
    let RunArgs { procedure, as_of, registries, simulation, json, rule_sets, registry_timeout_ms, answer_limits } = a;
    let mut book = RuleBook::built_in();
    for f in &rule_sets {
        book.add_file(f)?;
    }
    let sim_keys = devtools::sim::sim_trust(&g.seed);
    let source = registries_from(&registries, g, registry_timeout_ms, &answer_limits, g.trust.as_ref().unwrap_or(&sim_keys))?;
    let as_of = as_of.unwrap_or_else(|| housing_ledger::rules::calendar::today().to_string());
    // Refuse a back-dated live run, a live run without a trust list, and an out-of-validity
    // one before touching storage (the ledger would be created).
    pipeline::admit(&book, procedure, &as_of, !simulation && source.is_live(), g.trust.is_some())?;
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
