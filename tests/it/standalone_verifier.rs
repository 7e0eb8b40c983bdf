//! Issue 33: the auditor's `housing-ledger-verify` (crate `verifier`) and the service's
//! `verify-proof` run the same code, so they print the same. A bundle kept in
//! `tests/data/bundles/` is checked here by the service and in `verifier/tests/cli.rs` by the
//! standalone binary, against the same expected outputs: as served, as `--json`, and with one
//! field changed. `UPDATE_GOLDEN=1` makes the bundle and the outputs afresh.

use crate::common::scenario::{complete, iin_for};
use crate::common::{Backend, Place};
use devtools::sim::DEFAULT_SIM_SEED;
use devtools::sim::{sim_trust, FixtureRegistries};
use housing_ledger::pipeline::{self, Settings, Silent};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::rules::{Procedure, RuleBook};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bundles")
}

/// A removal (a spouse's privatisation contract), its bundle, the trust list and the key.
async fn make_bundle(dir: &Path) {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let case = json!({"entries": [{"iin": "@A"}],
        "registries": {"zags": {"@A": {"marriage": {"spouse_iin": "@A.spouse"}}}, "gosreestr": {"@A.spouse": {"privatization_contracts": [{"number": "П-2"}]}}}});
    let (fx, _) = complete(Procedure::RegistryRemoval, case);
    let regs = Arc::new(FixtureRegistries::new(Fixture::parse("case", &fx.to_string()).unwrap(), DEFAULT_SIM_SEED));
    let keys = sim_trust(DEFAULT_SIM_SEED);
    pipeline::run(&ledger, regs, keys.clone(), &RuleBook::built_in(), Procedure::RegistryRemoval, "2026-01-15", Settings::default(), &Silent).await.unwrap();
    let bundle = housing_ledger::proof::build(&ledger, &keys, &iin_for("A"), Procedure::RegistryRemoval).await.unwrap();
    assert_eq!(bundle.status, "removed");
    std::fs::write(dir.join("removed.json"), serde_json::to_string_pretty(&bundle).unwrap() + "\n").unwrap();
    std::fs::write(dir.join("trust.json"), &keys.text).unwrap();
    std::fs::write(dir.join("ledger-key.txt"), format!("{}\n", ledger.signer().verifier())).unwrap();
}

/// The same bundle with its status changed from `removed` to `retained`.
pub fn tampered(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(data().join("removed.json")).unwrap();
    let changed = text.replacen("\"status\": \"removed\"", "\"status\": \"retained\"", 1);
    assert_ne!(text, changed, "the bundle has a status to change");
    let path = dir.join("tampered.json");
    std::fs::write(&path, changed).unwrap();
    path
}

/// `verify-proof` by the service: exit status and stdout.
fn service(file: &Path, json: bool) -> (i32, String) {
    let key = std::fs::read_to_string(data().join("ledger-key.txt")).unwrap();
    let trust = data().join("trust.json");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_housing-ledger"));
    cmd.arg("--trust").arg(&trust).arg("verify-proof").arg(file).args(["--ledger-key", key.trim()]).env("HOUSING_LEDGER_LOG", "warn");
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

/// Compares with the expected output kept beside the bundle (or writes it, when updating).
fn expect(name: &str, got: &str) {
    let path = data().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    assert_eq!(got, std::fs::read_to_string(&path).unwrap(), "{name}");
}

#[tokio::test]
async fn the_service_prints_what_the_standalone_verifier_is_held_to() {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        make_bundle(&data()).await;
    }
    let (code, out) = service(&data().join("removed.json"), false);
    assert_eq!(code, 0, "{out}");
    expect("verify-proof.txt", &out);
    let (code, out) = service(&data().join("removed.json"), true);
    assert_eq!(code, 0, "{out}");
    expect("verify-proof.json", &out);
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = service(&tampered(dir.path()), false);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED: "), "{out}");
    expect("tampered.txt", &out);
}
