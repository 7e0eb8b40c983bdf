//! Embeds the retention rules (`rules/retention-*.json`), of which the newest is in force (the
//! rule sets beside them are the verifier's, `verifier/build.rs`); and builds the verifier for
//! WebAssembly (`verifier/wasm`), which `/verify` serves, so that the page always checks as
//! this binary's `verify-proof` does.
include!("../build-support/embed.rs");

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    // The repository: this crate's manifest is in `service/`, its sources in `src/`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("service/ is in the repository");
    embed(&root.join("rules"), "retention_rules.rs", |name| name.starts_with("retention-"));
    verifier_wasm(root);
}

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// `OUT_DIR/verifier.wasm`: the verifier crate built for the browser, in a target directory of
/// its own beside this build's (a nested build cannot share the outer one's lock). Without the
/// target installed it is empty, with a warning, and `/verify` says how to get it.
fn verifier_wasm(root: &Path) {
    for dir in ["verifier/src", "verifier/wasm", "events/src", "projections/src", "rules", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=HOUSING_LEDGER_NO_WASM");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let embedded = out.join("verifier.wasm");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let installed = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|dir| dir.exists());
    if !installed || std::env::var_os("HOUSING_LEDGER_NO_WASM").is_some() {
        println!("cargo:warning=the /verify page is built without its verifier: `rustup target add {WASM_TARGET}` and build again");
        std::fs::write(&embedded, b"").unwrap();
        return;
    }
    // OUT_DIR is TARGET_DIR/PROFILE/build/PACKAGE-HASH/out.
    let target_dir = out.ancestors().nth(4).expect("OUT_DIR lies in the target directory").join("verify-wasm");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root)
        .args(["build", "-p", "verifier-wasm", "--lib", "--target", WASM_TARGET, "--profile", "wasm", "--target-dir"])
        .arg(&target_dir)
        // The outer build's flags and wrappers (clippy's, a profiler's) are not the wasm's.
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env("CARGO_ENCODED_RUSTFLAGS", "--cfg\u{1f}getrandom_backend=\"unsupported\"");
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "building the verifier for {WASM_TARGET} failed");
    std::fs::copy(target_dir.join(WASM_TARGET).join("wasm/verifier_wasm.wasm"), &embedded).unwrap();
}
