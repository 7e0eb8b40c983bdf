//! `audit` and `what-if`: every decision judged again, under its own rule set or another.

use super::*;

/// `audit`.
pub(crate) async fn audit(g: &Global, a: AuditArgs) -> anyhow::Result<std::process::ExitCode> {
    let AuditArgs { rule_sets, json, trust_bundle_keys } = a;
    let trust = verifier_trust(g, trust_bundle_keys)?;
    let mut book = RuleBook::built_in();
    for f in &rule_sets {
        book.add_file(f)?;
    }
    let ledger = g.loc.ledger().await?;
    let bar = walk_bar("auditing", json);
    let t = std::time::Instant::now();
    let report = housing_ledger::audit::audit(&ledger, &book, trust.as_ref(), walk_progress(&bar)).await?;
    if let Some(note) = report.sources_note.filter(|_| !json) {
        println!("{note}");
    }
    bar.iter().for_each(|b| b.finish_and_clear());
    let seconds = t.elapsed().as_secs_f64();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for f in &report.findings {
            println!("seq {}\t{}\t{}", f.seq, f.iin, f.what);
        }
        println!(
            "{} events, {} decisions re-derived in {seconds:.1} s ({:.0} events/s): {}",
            report.events,
            report.decisions,
            report.events as f64 / seconds.max(1e-9),
            match report.findings.len() {
                0 => "nothing found".to_string(),
                n => format!("{n} findings"),
            }
        );
    }
    Ok(if report.findings.is_empty() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}

/// `what-if`.
pub(crate) async fn what_if(g: &Global, a: WhatIfArgs) -> anyhow::Result<std::process::ExitCode> {
    let WhatIfArgs { rule_set, run, all: _, json } = a;
    let text = std::fs::read_to_string(&rule_set).with_context(|| format!("cannot read {}", rule_set.display()))?;
    let rs = housing_ledger::rules::RuleSet::from_json(&rule_set.display().to_string(), &text)?;
    let book = RuleBook::built_in();
    let ledger = g.loc.ledger().await?;
    let bar = walk_bar("judging again", json);
    let w = housing_ledger::audit::what_if(&ledger, &rs, &book, run.as_deref(), walk_progress(&bar)).await?;
    bar.iter().for_each(|b| b.finish_and_clear());
    if let Some(run) = run.as_deref().filter(|_| w.persons == 0) {
        bail!("run {run} holds no decided case of {} (is the run id right?)", rs.procedure);
    }
    if json {
        println!("{}", serde_json::to_string(&w)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!(
        "under rule set {} v{} (sha256 {}): {} persons judged again; {} would change; {} cannot tell without asking",
        rs.id,
        rs.version,
        rs.sha256,
        w.persons,
        w.changed.len(),
        w.cannot_tell.len()
    );
    for c in &w.changed {
        println!(
            "  {} {} run {} ({}): {} -> {}; grounds [{}] -> [{}]",
            c.iin,
            c.procedure,
            c.run,
            c.locality,
            c.from,
            c.to,
            c.grounds_from.join(", "),
            c.grounds_to.join(", ")
        );
    }
    for ((what, value), n) in w.counts() {
        println!("  {what} {value}: {n}");
    }
    for c in &w.cannot_tell {
        println!("  cannot tell: {} {} run {}: {}", c.iin, c.procedure, c.run, c.why);
    }
    Ok(std::process::ExitCode::SUCCESS)
}
