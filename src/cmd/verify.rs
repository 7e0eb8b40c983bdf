//! `verify` (the whole ledger) and `verify-proof` (one bundle or case file, with the verifier
//! crate's report).

use super::*;

/// `verify`: the library's check of the whole ledger, printed.
pub(crate) async fn verify(g: &Global, a: VerifyArgs) -> anyhow::Result<std::process::ExitCode> {
    let VerifyArgs { ledger_key, json, trust_bundle_keys, deep } = a;
    let trust = verifier_trust(g, trust_bundle_keys)?;
    let anchor = ledger_key.map(|k| events::VerifierKey::parse(&k)).transpose().context("--ledger-key")?;
    if anchor.is_none() {
        eprintln!("warning: no --ledger-key given: this checks the ledger's self-consistency only, not that it is the ledger whose key you trust");
    }
    let store = g.loc.existing_store().await?;
    // A bar on a terminal, by events verified.
    let bar = (std::io::stderr().is_terminal() && !json).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("verifying [{bar:40}] {pos}/{len} events {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let against = housing_ledger::verification::Against { anchor: anchor.as_ref(), trust: trust.as_ref(), tsa_anchors: g.tsa_anchors.as_deref(), deep };
    let checked = housing_ledger::verification::check_ledger(store, &against, |n, size| {
        if let Some(b) = &bar {
            b.set_length(size);
            b.set_position(n);
        }
    })
    .await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let checked = checked?;
    if json {
        println!("{}", checked.to_json());
    } else {
        print!("{checked}");
    }
    Ok(if checked.ok() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}

/// `verify-proof`.
pub(crate) async fn verify_proof(g: &Global, a: VerifyProofArgs) -> anyhow::Result<std::process::ExitCode> {
    let VerifyProofArgs { file, ledger_key, rule_sets, quorum, trust_bundle_keys, json } = a;
    let sources = match verifier_trust(g, trust_bundle_keys)? {
        Some(list) => housing_ledger::proof::Sources::List(list),
        None => housing_ledger::proof::Sources::BundleClaim,
    };
    let witness_keys =
        g.witness_keys.iter().map(|k| events::CosignerKey::parse(k)).collect::<Result<Vec<_>, _>>().context("--witness (a witness verifier key)")?;
    let anchor = events::VerifierKey::parse(&ledger_key).context("--ledger-key")?;
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut book = RuleBook::built_in();
    for f in &rule_sets {
        book.add_file(f)?;
    }
    let against = verifier::report::Against {
        ledger_key: &anchor,
        book: &book,
        sources: &sources,
        quorum: quorum.unwrap_or(witness_keys.len()),
        witnesses: &witness_keys,
        tsa_anchors: g.tsa_anchors.as_deref(),
    };
    let report = verifier::report::check_document(&text, &against).with_context(|| file.display().to_string())?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(if report.ok() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}
