//! `verify` (the whole ledger) and `verify-proof` (one bundle or case file, with the verifier
//! crate's report).

use super::*;

/// `verify`.
pub(crate) async fn verify(g: &Global, a: VerifyArgs) -> anyhow::Result<std::process::ExitCode> {
    let VerifyArgs { ledger_key, json, trust_bundle_keys, deep } = a;
    let trust = verifier_trust(g, trust_bundle_keys)?;
    let anchor = ledger_key.map(|k| events::VerifierKey::parse(&k)).transpose().context("--ledger-key")?;
    if anchor.is_none() {
        eprintln!("warning: no --ledger-key given: this checks the ledger's self-consistency only, not that it is the ledger whose key you trust");
    }
    let store = g.loc.existing_store().await?;
    if store.size().await? == 0 {
        println!("FAILED: the database holds no event: there is no ledger to verify (a ledger starts with event 0, its key)");
        return Ok(std::process::ExitCode::FAILURE);
    }
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
    if let Some(b) = &bar {
        b.set_length(store.size().await?);
    }
    let verified = verify_store(store.as_ref(), anchor.as_ref(), |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })
    .await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = match verified {
        Ok(r) => r,
        Err(LedgerError::Invalid(f)) => {
            use housing_ledger::security::{record, Kind, Record};
            record(Record::new(Kind::IntegrityFailure, format!("verify: the ledger fails at seq {}: {}", f.seq, f.fault)));
            if json {
                println!("{}", serde_json::json!({"ok": false, "seq": f.seq, "fault": f.fault.to_string(), "detail": f.detail}));
            } else {
                println!("FAILED at {f}");
            }
            return Ok(std::process::ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    // With --tsa-cert: every token, and each before the next checkpoint.
    let stamps = match &g.tsa_anchors {
        Some(anchors) => Some(housing_ledger::timestamp::verify_ledger(store.as_ref(), anchors).await),
        None => None,
    };
    // Every source signature, against the trust list (or, asked for, the runs' own claim).
    let (sources, bad) = housing_ledger::audit::verify_sources(store.as_ref(), trust.as_ref()).await?;
    if let Some((seq, why)) = bad {
        use housing_ledger::security::{record, Kind, Record};
        record(Record::new(Kind::IntegrityFailure, format!("verify: a source signature fails at seq {seq}")));
        if json {
            println!("{}", serde_json::json!({"ok": false, "seq": seq, "fault": "source", "detail": why}));
        } else {
            println!("FAILED at seq {seq}: source signature: {why}");
        }
        return Ok(std::process::ExitCode::FAILURE);
    }
    let note = housing_ledger::registry::trust::basis_note(sources.basis);
    let tail = housing_ledger::ledger::tail(store.as_ref()).await?;
    // --deep: the stored read models against a fold of the events.
    if deep {
        let d = housing_ledger::projection::deep_check(store.clone()).await?;
        if !d.clean() {
            let rows: Vec<String> = d
                .persons
                .differences
                .iter()
                .map(|(k, _, _)| format!("persons/{k}"))
                .chain(d.subjects.iter().map(|(s, q, what)| format!("subject_index ({s}, {q}): {what}")))
                .collect();
            if json {
                println!("{}", serde_json::json!({"ok": false, "fault": "read model", "detail": rows}));
            } else {
                println!("FAILED: {} stored read-model rows differ from the fold of the events:", rows.len());
                rows.iter().for_each(|r| println!("  {r}"));
            }
            return Ok(std::process::ExitCode::FAILURE);
        }
        if !json {
            println!("deep: the persons projection ({} events folded) and the subject index equal the fold of the events", d.persons.events);
        }
    }
    let keys: Vec<String> = report.keys.iter().map(|k| k.to_string()).collect();
    let mut out = serde_json::json!({"ok": true, "events": report.events, "checkpoints": report.checkpoints, "root": hex::encode(report.root), "keys": keys,
        "sources": {"basis": sources.basis, "checked": sources.checked, "note": note},
        "unwitnessed": {"events": tail.events, "after_tree_size": tail.checkpoint_size, "oldest": tail.oldest.map(|t| t.to_rfc3339())},
        "checkpoints_without_stream_heads": report.checkpoints_without_heads});
    if !json {
        println!(
            "ok: {} events, {} checkpoints, root {}, {} ledger keys",
            report.events,
            report.checkpoints,
            out["root"].as_str().unwrap_or_default(),
            keys.len()
        );
        println!(
            "sources: {} source signatures checked against {}",
            sources.checked,
            match g.trust.as_ref() {
                Some(_) => "the trust list given (--trust)".to_string(),
                None => "the keys the runs recorded".to_string(),
            }
        );
        if let Some(n) = note {
            println!("{n}");
        }
        if report.checkpoints_without_heads > 0 {
            println!(
                "note: {} of the {} checkpoints were signed before checkpoints committed to every stream's head: bundles against them cannot show their tails whole; every map root the others commit to was recomputed and holds",
                report.checkpoints_without_heads, report.checkpoints
            );
        } else if report.checkpoints > 0 {
            println!("stream heads: every checkpoint's map of stream heads recomputed from the events, and each holds");
        }
        if tail.events > 0 {
            println!(
                "warning: the newest {} (after the checkpoint of tree size {}) {} past every checkpoint: no witness or time-stamp covers {}, and {} could vanish unnoticed; sign one (checkpoint) or let serve sign them",
                if tail.events == 1 { "event".to_string() } else { format!("{} events", tail.events) },
                tail.checkpoint_size,
                if tail.events == 1 { "lies" } else { "lie" },
                if tail.events == 1 { "it" } else { "them" },
                if tail.events == 1 { "it" } else { "they" }
            );
        }
    }
    match stamps {
        None => {}
        Some(Ok(s)) => {
            let late: Vec<serde_json::Value> = s.late.iter().map(|(size, next)| serde_json::json!({"checkpoint": size, "after_checkpoint": next})).collect();
            out["timestamps"] = serde_json::json!({"stamped": s.stamped, "checkpoints": s.checkpoints, "late": late});
            if !json {
                println!("time-stamps: {} of {} checkpoints time-stamped, every token valid", s.stamped, s.checkpoints);
                for (size, next) in &s.late {
                    println!(
                        "warning: the token of checkpoint {size} was obtained after checkpoint {next} was signed: it shows only that the state existed by then"
                    );
                }
            }
        }
        Some(Err(e)) => {
            if json {
                println!("{}", serde_json::json!({"ok": false, "fault": "timestamp", "detail": e.to_string()}));
            } else {
                println!("FAILED at time-stamps: {e}");
            }
            return Ok(std::process::ExitCode::FAILURE);
        }
    }
    if json {
        println!("{out}");
    }
    Ok(std::process::ExitCode::SUCCESS)
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
