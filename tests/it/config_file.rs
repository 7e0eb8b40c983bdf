//! Issue 33, item 3: one TOML file holds the global options, `serve`'s and the gateway's. It
//! drives a ledger's start, `serve` with a witness and a time-stamping authority, and
//! `verify-proof`; flags win over it; `config check` shows what is in force with its secrets
//! masked; a misspelt key is refused, naming it. The example file in the repository parses.

use crate::timestamps::{pki, responder, Mode};
use crate::witnesses::witness;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `housing-ledger --config FILE ARGS`: success, stdout, stderr.
fn with_config(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("HOUSING_LEDGER_LOG", "warn")
        .env_remove("HOUSING_LEDGER_DATA_DIR")
        .env_remove("HOUSING_LEDGER_DATABASE_URL")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_example_file_parses() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let c = housing_ledger::config::Config::load(&example).unwrap();
    assert_eq!(c.witnesses.len(), 2);
    assert_eq!(c.serve.max_connections, Some(512));
    assert_eq!(c.gateway.services["zags"], "ZAGS_SERVICE");
}

#[test]
fn the_file_starts_a_ledger_and_flags_win_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger-data");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, format!("data_dir = {:?}\norigin = \"config.example/ledger\"\n", data.display().to_string())).unwrap();
    let (ok, _, err) = with_config(&cfg, &["ledger", "init"]);
    assert!(ok, "{err}");
    assert!(data.join("ledger.db").exists(), "the ledger is where the file says");
    let (ok, out, err) = with_config(&cfg, &["keys", "list"]);
    assert!(ok && out.starts_with("config.example/ledger+"), "{out}{err}");
    // A flag wins over the file.
    let (ok, out, err) = with_config(&cfg, &["--origin", "flag.example/other", "config", "check"]);
    assert!(ok, "{err}");
    assert!(out.contains("origin = \"flag.example/other\""), "{out}");
    assert!(out.contains(&format!("data_dir = {:?}", data.display().to_string())), "{out}");
}

#[test]
fn config_check_masks_secrets_and_names_a_misspelt_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "database_url = \"postgres://hl:s3cret-pass@127.0.0.1:5433/hl\"\n[serve]\nmax_connections = 9\n[gateway]\nsender = \"mod-kz\"\nsession = \"session-s3cret\"\n",
    )
    .unwrap();
    let (ok, out, err) = with_config(&cfg, &["config", "check"]);
    assert!(ok, "{err}");
    assert!(out.contains("database_url = \"postgres://hl:****@127.0.0.1:5433/hl\""), "{out}");
    assert!(out.contains("max_connections = 9") && out.contains("sender = \"mod-kz\""), "{out}");
    assert!(!out.contains("s3cret"), "a secret printed:\n{out}");
    assert!(out.contains("HOUSING_LEDGER_SHEP_PASSWORD only (not set)"), "{out}");

    std::fs::write(&cfg, "[serve]\nmax_conections = 9\n").unwrap();
    let (ok, _, err) = with_config(&cfg, &["config", "check"]);
    assert!(!ok);
    assert!(err.contains(&cfg.display().to_string()) && err.contains("unknown field `max_conections`"), "{err}");
}

/// `verify-proof` takes the trust list and the witnesses from the file: with a witness there
/// that never cosigned, the kept bundle fails its quorum; without, it verifies.
#[test]
fn the_file_drives_verify_proof() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bundles");
    let key = std::fs::read_to_string(data.join("ledger-key.txt")).unwrap();
    let bundle = data.join("removed.json");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let trust = format!("trust = {:?}\n", data.join("trust.json").display().to_string());
    std::fs::write(&cfg, &trust).unwrap();
    let (ok, out, err) = with_config(&cfg, &["verify-proof", bundle.to_str().unwrap(), "--ledger-key", key.trim()]);
    assert!(ok && out.contains("checked against the trust list given"), "{out}{err}");
    let w = events::Cosigner::generate("witness.example/absent").unwrap();
    std::fs::write(&cfg, format!("{trust}[[witness]]\nkey = {:?}\n", w.public().to_string())).unwrap();
    let (ok, out, _) = with_config(&cfg, &["verify-proof", bundle.to_str().unwrap(), "--ledger-key", key.trim()]);
    assert!(!ok && out.contains("fewer than the quorum 1"), "{out}");
}

/// A running `serve` whose options all come from the file.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` with nothing but `--config`: its checkpoints go to the file's witness and TSA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_drives_serve_with_a_witness_and_a_tsa() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("config.toml");
    let base = format!("data_dir = {:?}\norigin = \"config.example/served\"\n", data.display().to_string());
    std::fs::write(&cfg, &base).unwrap();
    let (ok, _, err) = with_config(&cfg, &["ledger", "init"]);
    assert!(ok, "{err}");
    let (_, keys, _) = with_config(&cfg, &["keys", "list"]);
    let log_key = events::VerifierKey::parse(keys.lines().next().unwrap().trim()).unwrap();

    let wdir = tempfile::tempdir().unwrap();
    let (w, wurl) = witness(wdir.path(), "witness.example/cfg", vec![log_key.clone()]).await;
    let tsa_dir = tempfile::tempdir().unwrap();
    pki(tsa_dir.path());
    let tsa = responder(tsa_dir.path().to_path_buf(), Arc::new(Mutex::new(Mode::Grant("tsa")))).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        &cfg,
        format!(
            "{base}tsa = {tsa:?}\ntsa_cert = {:?}\n[[witness]]\nkey = {:?}\nurl = {wurl:?}\n[serve]\nlisten = \"127.0.0.1:{port}\"\ncheckpoint_events = 1\ncheckpoint_seconds = 1\n",
            tsa_dir.path().join("ca.crt").display().to_string(),
            w.key().to_string(),
        ),
    )
    .unwrap();
    let _serving = Serving(
        Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
            .arg("--config")
            .arg(&cfg)
            .arg("serve")
            .env("HOUSING_LEDGER_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The served checkpoint carries the witness's cosignature: only a cosigned one is served.
    let start = Instant::now();
    let note = loop {
        if let Ok(resp) = reqwest::get(format!("http://127.0.0.1:{port}/v1/checkpoint")).await {
            if resp.status().is_success() {
                break resp.text().await.unwrap();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "serve never served a cosigned checkpoint");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let signed = events::cosignature::verified(&note, std::slice::from_ref(w.key())).unwrap();
    assert_eq!(signed.len(), 1, "{note}");
    events::Checkpoint::verify_note(&note, &log_key).unwrap();
    // And time-stamped by the file's TSA: `verify` checks every token against the file's CA.
    drop(_serving);
    let (ok, out, err) = with_config(&cfg, &["verify", "--ledger-key", &log_key.to_string(), "--trust-bundle-keys"]);
    assert!(ok, "{out}{err}");
    let stamped = out.lines().find(|l| l.starts_with("time-stamps: ")).unwrap_or_else(|| panic!("{out}"));
    assert!(!stamped.starts_with("time-stamps: 0 of"), "{stamped}");
}
