//! Issue 28: trust in the sources. The trust list is parsed strictly and bounds each key by its
//! validity; an operator that fabricates answers under keys of its own choosing is caught by
//! `verify-proof`, `verify` and `audit` given the sources' own list; answers under the national
//! PKI are checked against throwaway CAs made with `openssl`, OCSP from `openssl ocsp`.

use devtools::sim::DEFAULT_SIM_SEED;
use devtools::sim::{sign_answer, sim_signer};
use expect_test::{expect, Expect};
use housing_ledger::registry::{RegistryFault, TrustBasis, TrustedKeys};
use housing_ledger::rules::records::RegistryId;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_housing-ledger");

fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(BIN).arg("--data-dir").arg(dir).args(args).env("HOUSING_LEDGER_LOG", "warn").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn zags_key(seed: &str) -> String {
    sim_signer(seed, RegistryId::Zags).verifier().to_string()
}

fn check_list(text: &str, expect: Expect) {
    let got = match TrustedKeys::parse(text) {
        Ok(t) => format!("ok: {} sources, basis {:?}", t.sources.len(), t.basis),
        Err(e) => e.to_string(),
    };
    expect.assert_eq(&got);
}

/// Parsed strictly: every fault names where it is.
#[test]
fn the_trust_list_is_parsed_strictly() {
    let key = zags_key("s");
    let list = |entry: serde_json::Value| json!({"format": "housing-ledger/trust-list/v1", "issued": "2026-12-01", "sources": {"zags": [entry]}}).to_string();
    check_list(&list(json!({"key": key, "valid_from": "2025-01-01", "valid_until": null})), expect![[r#"ok: 1 sources, basis List"#]]);
    check_list(
        &list(json!({"key": key, "valid_from": "2025-01-01", "valid_until": null, "note": "x"})),
        expect!["trust list: sources.zags[0].note: unknown field `note`, expected one of `key`, `ca`, `signer`, `ocsp`, `valid_from`, `valid_until` at line 1 column 165"],
    );
    check_list(
        &list(json!({"key": "registry/zags+00+AAAA", "valid_from": "2025-01-01", "valid_until": null})),
        expect!["trust list: sources.zags[0].key: malformed verifier key: key is not 0x01 followed by a 32-byte Ed25519 key"],
    );
    check_list(
        &list(json!({"key": key, "valid_from": "2025-13-01", "valid_until": null})),
        expect![[r#"trust list: sources.zags[0].valid_from: "2025-13-01" is not a date YYYY-MM-DD"#]],
    );
    check_list(
        &list(json!({"key": key, "valid_from": "2025-02-01", "valid_until": "2025-01-01"})),
        expect![[r#"trust list: sources.zags[0].valid_until: before valid_from"#]],
    );
    check_list(
        &list(json!({"ca": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "valid_from": "2025-01-01", "valid_until": null})),
        expect!["trust list: sources.zags[0].ca: not a PEM certificate: unknown/unsupported ASN.1 DER tag: 0x00"],
    );
    check_list(
        &list(json!({"valid_from": "2025-01-01", "valid_until": null})),
        expect![[r#"trust list: sources.zags[0].key/ca: an entry has exactly one of key and ca"#]],
    );
    check_list(
        &json!({"format": "housing-ledger/trust-list/v1", "issued": "2026-12-01", "sources": {"nowhere": []}}).to_string(),
        expect![[r#"trust list: sources.nowhere: no such registry"#]],
    );
    check_list(
        &json!({"format": "v0", "issued": "2026-12-01", "sources": {}}).to_string(),
        expect![[r#"trust list: format: "v0" is not "housing-ledger/trust-list/v1""#]],
    );
}

/// A source rotates its key: the old one valid until D, the new one from D. Each is accepted
/// inside its window; the old key's answer signed after D is `bad_signature`.
#[test]
fn a_source_rotates_its_key_by_the_lists_windows() {
    let (old, new) = (sim_signer("old", RegistryId::Zags), sim_signer("new", RegistryId::Zags));
    let list = json!({"format": "housing-ledger/trust-list/v1", "issued": "2026-06-01", "sources": {"zags": [
        {"key": old.verifier().to_string(), "valid_from": "2025-01-01", "valid_until": "2026-06-30"},
        {"key": new.verifier().to_string(), "valid_from": "2026-06-30", "valid_until": null}
    ]}});
    let trust = TrustedKeys::parse(&list.to_string()).unwrap();
    // Times in UTC; the list's days are days in Asia/Almaty (UTC+5).
    let answer = |at: &str| json!({"registry": "zags", "request_id": "r", "subjects": [], "issued_at": at, "records": {}});
    let check = |signer, at| trust.check_source(RegistryId::Zags, &sign_answer(answer(at), signer));
    assert_eq!(check(&old, "2026-06-15T10:00:00.000Z"), Ok(()));
    assert_eq!(check(&old, "2026-06-30T18:00:00.000Z"), Ok(()), "23:00 on D in Almaty: still D");
    assert_eq!(check(&new, "2026-06-30T10:00:00.000Z"), Ok(()));
    assert_eq!(check(&new, "2026-07-01T10:00:00.000Z"), Ok(()));
    match check(&old, "2026-06-30T19:30:00.000Z") {
        Err(RegistryFault::BadSignature(why)) => {
            assert!(why.contains("is trusted from 2025-01-01 until 2026-06-30") && why.contains("signed on 2026-07-01"), "{why}")
        }
        other => panic!("the old key after D: {other:?}"),
    }
    assert!(matches!(check(&new, "2026-06-29T10:00:00.000Z"), Err(RegistryFault::BadSignature(_))), "the new key before D");
    let stranger = sim_signer("stranger", RegistryId::Zags);
    match check(&stranger, "2026-07-01T10:00:00.000Z") {
        Err(RegistryFault::BadSignature(why)) => assert!(why.contains("which the trust list does not hold for zags"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// The attack of the issue: an operator with its own seed fabricates answers and serves a
/// bundle; with the genuine sources' list, `verify-proof`, `verify` and `audit` fail, naming
/// the registry, the key and the event. With no list, `verify-proof` refuses; with
/// `--trust-bundle-keys` it passes and says the sources were checked against the operator's claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_own_source_keys_are_caught_by_the_sources_list() {
    let dir = tempfile::tempdir().unwrap();
    the_forgery_is_caught(dir.path(), None).await;
}

/// The same on PostgreSQL: the trust list in force is in the events, whatever the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_own_source_keys_are_caught_on_postgres() {
    let pg = crate::common::PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    the_forgery_is_caught(dir.path(), Some(pg.fresh_database())).await;
}

async fn the_forgery_is_caught(d: &std::path::Path, database: Option<String>) {
    let url = database.clone().unwrap_or_else(|| format!("sqlite://{}", d.join("ledger.db").display()));
    let cli = |d: &std::path::Path, args: &[&str]| {
        let mut all: Vec<&str> = Vec::new();
        if let Some(u) = &database {
            all.extend(["--database-url", u.as_str()]);
        }
        all.extend_from_slice(args);
        cli(d, &all)
    };
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    let source = format!("fixture:{}", example.display());
    let (ok, _, err) =
        cli(d, &["--registry-seed", "evil-operator", "run", "--procedure", "registry_removal", "--as-of", "2025-09-01", "--registries", &source]);
    assert!(ok, "{err}");
    // The simulation wrote the list it trusted (the operator's): 0600.
    let written = TrustedKeys::load(&d.join("trust.json")).unwrap();
    assert_eq!(written.as_map()["zags"], zags_key("evil-operator"));
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(d.join("trust.json")).unwrap().permissions()) & 0o777, 0o600);
    // The sources' genuine list.
    let genuine = d.join("sources-trust.json");
    std::fs::write(&genuine, devtools::sim::sim_trust(DEFAULT_SIM_SEED).text).unwrap();
    let genuine = genuine.to_str().unwrap();

    let store: std::sync::Arc<dyn housing_ledger::store::EventStore> = std::sync::Arc::new(housing_ledger::store::sql::SqlStore::connect(&url).await.unwrap());
    let ledger = housing_ledger::ledger::Ledger::open(store.clone(), d, housing_ledger::ledger::DEFAULT_ORIGIN).await.unwrap();
    let removed = store.read_by_type("DecisionTaken", 0, 10).await.unwrap()[0].stream.trim_start_matches("person:").to_string();
    let bundle = housing_ledger::proof::build(&ledger, &written, &removed, housing_ledger::rules::Procedure::RegistryRemoval).await.unwrap();
    let key = ledger.signer().verifier().to_string();
    drop(ledger);
    let file = d.join("proof.json");
    std::fs::write(&file, serde_json::to_string(&bundle).unwrap()).unwrap();
    let file = file.to_str().unwrap();

    let (ok, out, _) = cli(d, &["--trust", genuine, "verify-proof", file, "--ledger-key", &key]);
    assert!(!ok, "{out}");
    let seq = regex_seq(&out);
    assert!(
        out.contains("which the trust list does not hold for") && out.contains("registry/") && seq.is_some(),
        "names the registry, the key and the event: {out}"
    );
    let (ok, out, err) = cli(d, &["verify-proof", file, "--ledger-key", &key]);
    assert!(!ok && err.contains("the sources were not checked"), "{out}{err}");
    let (ok, out, _) = cli(d, &["verify-proof", file, "--ledger-key", &key, "--trust-bundle-keys"]);
    assert!(ok && out.contains("operator's own claim"), "{out}");
    let (ok, out, _) = cli(d, &["verify-proof", file, "--ledger-key", &key, "--trust-bundle-keys", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(ok && v["sources"] == "claim" && v["sources_note"].as_str().unwrap().contains("operator's own claim"), "{v}");
    // The list the operator wrote verifies the operator's own answers: the pinning is what counts.
    let (ok, out, _) = cli(d, &["--trust", d.join("trust.json").to_str().unwrap(), "verify-proof", file, "--ledger-key", &key]);
    assert!(ok && out.contains("checked against the trust list given"), "{out}");

    let (ok, out, _) = cli(d, &["--trust", genuine, "verify"]);
    assert!(!ok && out.contains("FAILED at seq") && out.contains("which the trust list does not hold for"), "{out}");
    let (ok, out, err) = cli(d, &["verify"]);
    assert!(!ok && err.contains("the sources were not checked"), "{out}{err}");
    let (ok, out, _) = cli(d, &["verify", "--trust-bundle-keys"]);
    assert!(ok && out.contains("operator's own claim"), "{out}");
    let (ok, out, _) = cli(d, &["--trust", genuine, "audit"]);
    assert!(!ok && out.contains("which the trust list does not hold for"), "{out}");
    let (ok, out, _) = cli(d, &["audit", "--trust-bundle-keys", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(ok && v["sources"] == "claim" && v["findings"] == json!([]), "{v}");
}

/// `seq N` in a message.
fn regex_seq(text: &str) -> Option<u64> {
    text.split("seq ").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// `TrustBasis` as the API and `--json` name it.
#[test]
fn the_basis_is_named_in_json() {
    assert_eq!(serde_json::to_value(TrustBasis::Claim).unwrap(), json!("claim"));
    assert_eq!(serde_json::to_value(TrustBasis::List).unwrap(), json!("list"));
}

/// `serve` without `--trust` derives no key from a seed: it checks answers against the list a
/// simulation in its data directory wrote (`trust.json`, unpinned), or against none.
#[tokio::test(flavor = "multi_thread")]
async fn serve_without_a_trust_list_derives_no_key() {
    struct Serving(std::process::Child);
    impl Drop for Serving {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    async fn served_keys(d: &std::path::Path) -> serde_json::Value {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let _serving = Serving(
            std::process::Command::new(BIN)
                .arg("--data-dir")
                .arg(d)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .env("HOUSING_LEDGER_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let start = std::time::Instant::now();
        loop {
            if let Ok(resp) = reqwest::get(format!("http://127.0.0.1:{port}/v1/keys")).await {
                return resp.json().await.unwrap();
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(30), "serve never answered");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(served_keys(d).await["registries"], json!({}), "no list, no key: none made from the default seed");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    let (ok, _, err) = cli(
        d,
        &[
            "--registry-seed",
            "a-simulation",
            "run",
            "--procedure",
            "registry_removal",
            "--as-of",
            "2025-09-01",
            "--registries",
            &format!("fixture:{}", example.display()),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(served_keys(d).await["registries"]["zags"], json!(zags_key("a-simulation")), "the list the simulation wrote down");
}
