//! `housing-ledger-verify` on the bundle kept in the workspace's `tests/data/bundles/`: it prints
//! exactly what the service's `verify-proof` prints there (held to the same files by the
//! service's own test), refuses the bundle with one field changed, and says why it cannot start
//! when the inputs are wrong.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/bundles")
}

fn verify(file: &Path, extra: &[&str]) -> (i32, String, String) {
    let key = std::fs::read_to_string(data().join("ledger-key.txt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_housing-ledger-verify")).arg(file).args(["--ledger-key", key.trim()]).args(extra).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(data().join(name)).unwrap()
}

fn trust() -> String {
    data().join("trust.json").display().to_string()
}

#[test]
fn prints_what_the_service_prints() {
    let bundle = data().join("removed.json");
    let (code, out, err) = verify(&bundle, &["--trust", &trust()]);
    assert_eq!((code, out.as_str()), (0, expected("verify-proof.txt").as_str()), "{err}");
    let (code, out, _) = verify(&bundle, &["--trust", &trust(), "--json"]);
    assert_eq!((code, out.as_str()), (0, expected("verify-proof.json").as_str()));
}

#[test]
fn refuses_a_changed_bundle() {
    let text = std::fs::read_to_string(data().join("removed.json")).unwrap();
    let dir = std::env::temp_dir().join(format!("hlv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let changed = dir.join("tampered.json");
    std::fs::write(&changed, text.replacen("\"status\": \"removed\"", "\"status\": \"retained\"", 1)).unwrap();
    let (code, out, _) = verify(&changed, &["--trust", &trust()]);
    assert_eq!((code, out.as_str()), (1, expected("tampered.txt").as_str()));
    // Another ledger key: the events' signatures are not that ledger's.
    let other = "registry/egkn+65e2f4e1+AdlwCBJ8jFBiT59S2i3/I5X20mtocG1A5EOacRZzsvye";
    let out = Command::new(env!("CARGO_BIN_EXE_housing-ledger-verify"))
        .arg(data().join("removed.json"))
        .args(["--ledger-key", other, "--trust", &trust()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FAILED: "));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_what_is_wrong_with_its_inputs() {
    let bundle = data().join("removed.json");
    let (code, _, err) = verify(&bundle, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("the sources were not checked: give --trust FILE"), "{err}");
    let (code, _, err) = verify(&data().join("ledger-key.txt"), &["--trust", &trust()]);
    assert_eq!(code, 2);
    assert!(err.contains("ledger-key.txt: the document is not JSON"), "{err}");
    let (code, _, err) = verify(&bundle, &["--trust", &trust(), "--quorum", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("a quorum of 1 is more than the 0 witnesses given"), "{err}");
}
