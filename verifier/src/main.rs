//! `housing-ledger-verify`: checks a proof bundle or an appeal's case file offline, as the
//! service's `verify-proof` does, with the same code and output, built without the service's
//! storage, server or HTTP client. Exit status 0 when it verifies, 1 when it does not, 2 when
//! the inputs cannot be read.

use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use verifier::proof::Sources;
use verifier::registry::TrustedKeys;
use verifier::report::{check_document, Against};
use verifier::rules::RuleBook;

/// Check a housing-ledger proof bundle or case file offline.
#[derive(Parser)]
#[command(name = "housing-ledger-verify", version)]
struct Args {
    /// The bundle (`GET /v1/persons/{iin}/proof`) or case file.
    file: PathBuf,
    /// The ledger's verifier key, obtained on your own (the operator's `keys list`).
    #[arg(long)]
    ledger_key: String,
    /// The sources' trust list (docs/sources.md).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Without --trust: check source signatures against the keys the bundle names (the
    /// operator's own claim); every run says so.
    #[arg(long)]
    trust_bundle_keys: bool,
    /// Extra rule-set files the bundle may name.
    #[arg(long = "rule-set")]
    rule_sets: Vec<PathBuf>,
    /// A witness's verifier key (repeatable); its cosignature of the checkpoint is required.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the witnesses given must have cosigned (default: all).
    #[arg(long)]
    quorum: Option<usize>,
    /// The time-stamping authority's certificate (or its CA), PEM: checks the bundle's
    /// time-stamp.
    #[arg(long)]
    tsa_cert: Option<PathBuf>,
    /// One JSON object on stdout instead of lines.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("housing-ledger-verify: {e}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn run(a: Args) -> Result<ExitCode, String> {
    let sources = match (&a.trust, a.trust_bundle_keys) {
        (Some(_), true) => return Err("--trust and --trust-bundle-keys exclude each other: give one".into()),
        (Some(t), false) => Sources::List(TrustedKeys::load(t).map_err(|e| e.to_string())?),
        (None, true) => Sources::BundleClaim,
        (None, false) => return Err(verifier::proof::NO_TRUST.into()),
    };
    let witnesses = a.witnesses.iter().map(|k| events::CosignerKey::parse(k)).collect::<Result<Vec<_>, _>>().map_err(|e| format!("--witness: {e}"))?;
    let ledger_key = events::VerifierKey::parse(&a.ledger_key).map_err(|e| format!("--ledger-key: {e}"))?;
    let mut book = RuleBook::built_in();
    for f in &a.rule_sets {
        book.add_file(f).map_err(|e| e.to_string())?;
    }
    let anchors = match &a.tsa_cert {
        Some(p) => Some(verifier::timestamp::certificates_from_pem(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let against = Against {
        ledger_key: &ledger_key,
        book: &book,
        sources: &sources,
        quorum: a.quorum.unwrap_or(witnesses.len()),
        witnesses: &witnesses,
        tsa_anchors: anchors.as_deref(),
    };
    let report = check_document(&read(&a.file)?, &against).map_err(|e| format!("{}: {e}", a.file.display()))?;
    if a.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
