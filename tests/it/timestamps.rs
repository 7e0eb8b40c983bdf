//! RFC 3161 time-stamps (issue 16, §3) against a real TSA: OpenSSL's `openssl ts -reply` behind
//! a small HTTP responder, with a throwaway CA and TSA certificate made here. Tokens are
//! checked for the imprint, the signature, the chain with its `timeStamping` use, and the
//! certificate's validity; a TSA that is down or answers badly leaves the checkpoint
//! untimestamped, and it is asked again later.

use crate::common::scenario::{complete, iin_for, run_fixture};
use crate::common::{Backend, Place};
use axum::routing::post;
use devtools::sim::DEFAULT_SIM_SEED;
use housing_ledger::ledger::Ledger;
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::rules::Procedure;
use housing_ledger::timestamp::{self, Tsa};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a TSA certificate it issued for time-stamping, a second one already expired, and an
/// unrelated CA.
pub(crate) fn pki(dir: &Path) {
    std::fs::write(
        dir.join("ts.cnf"),
        "[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = ./serial\ncrypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\ness_cert_id_alg = sha256\n",
    )
    .unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    std::fs::write(dir.join("tsa.ext"), "extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n").unwrap();
    std::fs::write(
        dir.join("ca.cnf"),
        "[ ca ]\ndefault_ca = c\n[ c ]\ndir = .\ndatabase = ./index.txt\nnew_certs_dir = .\nserial = ./ca.serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = none\n[ p ]\ncommonName = supplied\n[ ext ]\nextendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("ca.serial"), "1000\n").unwrap();
    for (key, cn) in [("ca", "Test CA"), ("other", "Another CA")] {
        openssl(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &format!("{key}.key")]);
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &format!("{key}.key"),
                "-subj",
                &format!("/CN={cn}"),
                "-days",
                "3",
                "-out",
                &format!("{key}.crt"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        );
    }
    for tsa in ["tsa", "expired"] {
        openssl(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &format!("{tsa}.key")]);
        openssl(dir, &["req", "-new", "-key", &format!("{tsa}.key"), "-subj", &format!("/CN=Test {tsa} TSA"), "-out", &format!("{tsa}.csr")]);
    }
    openssl(
        dir,
        &["x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "tsa.ext", "-out", "tsa.crt"],
    );
    // RSA throughout, as most TSAs are: a CA and a TSA, 2048-bit keys.
    openssl(dir, &["genrsa", "-out", "rsaca.key", "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "rsaca.key",
            "-subj",
            "/CN=RSA CA",
            "-days",
            "3",
            "-out",
            "rsaca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(dir, &["genrsa", "-out", "rsatsa.key", "2048"]);
    openssl(dir, &["req", "-new", "-key", "rsatsa.key", "-subj", "/CN=RSA TSA", "-out", "rsatsa.csr"]);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "rsatsa.csr",
            "-CA",
            "rsaca.crt",
            "-CAkey",
            "rsaca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "tsa.ext",
            "-out",
            "rsatsa.crt",
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.crt",
            "-keyfile",
            "ca.key",
            "-in",
            "expired.csr",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
            "-extensions",
            "ext",
            "-out",
            "expired.crt",
            "-notext",
        ],
    );
}

/// How the test TSA answers.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Grant(&'static str),
    Down,
}

/// `openssl ts -reply` behind HTTP: the request in, the response out.
pub(crate) async fn responder(dir: PathBuf, mode: Arc<Mutex<Mode>>) -> String {
    let app = axum::Router::new().route(
        "/",
        post(move |body: axum::body::Bytes| {
            let (dir, mode) = (dir.clone(), mode.clone());
            async move {
                let m = *mode.lock().unwrap();
                let Mode::Grant(signer) = m else {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
                };
                let q = dir.join(format!("q-{}", rand_name()));
                let r = q.with_extension("tsr");
                std::fs::write(&q, &body).unwrap();
                openssl(
                    &dir,
                    &[
                        "ts",
                        "-reply",
                        "-queryfile",
                        q.to_str().unwrap(),
                        "-inkey",
                        &format!("{signer}.key"),
                        "-signer",
                        &format!("{signer}.crt"),
                        "-config",
                        "ts.cnf",
                        "-out",
                        r.to_str().unwrap(),
                    ],
                );
                (axum::http::StatusCode::OK, std::fs::read(&r).unwrap())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

fn rand_name() -> u64 {
    rand_core::RngCore::next_u64(&mut rand_core::OsRng)
}

fn certs(dir: &Path, name: &str) -> Vec<x509_cert::Certificate> {
    timestamp::certificates_from_pem(&std::fs::read_to_string(dir.join(format!("{name}.crt"))).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_time_stamped_and_tokens_checked() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let mode = Arc::new(Mutex::new(Mode::Grant("tsa")));
    let url = responder(dir.path().to_path_buf(), mode.clone()).await;
    let tsa = Tsa { url, anchors: certs(dir.path(), "ca"), timeout: Duration::from_secs(10) };
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await.with_tsa(tsa));
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@A"}], "registries": {"gosreestr": {"@A": {"privatization_contracts": [{"number": "П-1"}]}}}}),
    );
    run_fixture(&ledger, Fixture::parse("case", &fx.to_string()).unwrap()).await;
    // The run's checkpoint was time-stamped; the bundle carries the token, which verifies
    // against the CA.
    let bundle = housing_ledger::proof::build(&ledger, &devtools::sim::sim_trust(DEFAULT_SIM_SEED), &iin_for("A"), Procedure::RegistryRemoval).await.unwrap();
    assert!(bundle.timestamp.is_some(), "the bundle carries the time-stamp");
    let stamp = housing_ledger::proof::check_timestamp(&bundle, &certs(dir.path(), "ca")).unwrap();
    assert!(stamp.tsa.contains("Test tsa TSA"), "{stamp:?}");
    assert!((stamp.gen_time as i64 - chrono::Utc::now().timestamp()).abs() < 300);
    // The TSA certificate itself may be the anchor.
    housing_ledger::proof::check_timestamp(&bundle, &certs(dir.path(), "tsa")).unwrap();

    let mut out = String::new();
    let mut line = |what: &str, r: Result<timestamp::Stamp, String>| out.push_str(&format!("{what}: {}\n", r.map(|_| "ok".to_string()).unwrap_or_else(|e| e)));
    let check =
        |b: &housing_ledger::proof::Bundle, anchors: &str| housing_ledger::proof::check_timestamp(b, &certs(dir.path(), anchors)).map_err(|e| e.to_string());
    line("as served", check(&bundle, "ca"));
    line("another CA", check(&bundle, "other"));
    // A token over another checkpoint: the imprint is not this one's.
    let mut other = bundle.clone();
    grow(&ledger).await;
    let cp2 = ledger.checkpoint().await.unwrap();
    other.checkpoint = cp2.note.clone();
    line("the token of another checkpoint", check(&other, "ca"));
    // One byte changed in the token, at its end (the signature) and in its middle (the TSTInfo).
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.decode(bundle.timestamp.as_ref().unwrap()).unwrap();
    // The TSTInfo's serial number and time follow its message imprint.
    let imprint = timestamp::imprint(&bundle.checkpoint).unwrap();
    let in_tst = token.windows(32).position(|w| w == imprint).unwrap() + 40;
    for (what, at) in
        [("a byte of the signature changed", token.len() - 3), ("a byte of the TSTInfo changed", in_tst), ("a byte of a certificate changed", token.len() / 3)]
    {
        let mut t = token.clone();
        t[at] ^= 0x01;
        let mut b = bundle.clone();
        b.timestamp = Some(base64::engine::general_purpose::STANDARD.encode(&t));
        line(what, check(&b, "ca"));
    }
    let mut none = bundle.clone();
    none.timestamp = None;
    line("no token", check(&none, "ca"));
    expect_test::expect![[r#"
        as served: ok
        another CA: proof does not verify: time-stamp: the TSA certificate does not chain to the --tsa-cert given
        the token of another checkpoint: proof does not verify: time-stamp: the token's message imprint is not SHA-256 of this checkpoint's body
        a byte of the signature changed: proof does not verify: time-stamp: the TSA's signature: the signature does not verify
        a byte of the TSTInfo changed: proof does not verify: time-stamp: the signed message digest is not SHA-256 of the TSTInfo
        a byte of a certificate changed: proof does not verify: time-stamp: the TSA certificate does not chain to the --tsa-cert given
        no token: proof does not verify: the checkpoint carries no time-stamp
    "#]]
    .assert_eq(&out);
    ledger.verify(|_| {}).await.unwrap();
    assert_stamped(&ledger, cp2.tree_size, true).await;
}

async fn grow(l: &Ledger) {
    l.append(vec![events::NewEvent::new("test:t", "Tick", json!({}))]).await.unwrap();
}

async fn assert_stamped(ledger: &Ledger, tree_size: u64, stamped: bool) {
    assert_eq!(ledger.checkpoints().timestamp(tree_size).await.unwrap().is_some(), stamped, "checkpoint {tree_size}");
}

/// A TSA that is down, or that signs with an expired certificate: the checkpoint is still
/// signed, left untimestamped and said so, and time-stamped once the TSA answers well again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tsa_leaves_checkpoints_untimestamped_until_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let mode = Arc::new(Mutex::new(Mode::Down));
    let url = responder(dir.path().to_path_buf(), mode.clone()).await;
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await.with_tsa(Tsa { url, anchors: certs(dir.path(), "ca"), timeout: Duration::from_secs(10) });
    grow(&ledger).await;
    let down = ledger.checkpoint().await.unwrap();
    assert_stamped(&ledger, down.tree_size, false).await;
    *mode.lock().unwrap() = Mode::Grant("expired");
    grow(&ledger).await;
    let expired = ledger.checkpoint().await.unwrap();
    assert_stamped(&ledger, expired.tree_size, false).await;
    let tried = ledger.timestamp_pending().await.unwrap();
    assert!(matches!(&tried[..], [(size, Err(e))] if *size == down.tree_size && e.to_string().contains("expired")), "oldest first: {tried:?}");
    // Back to a good certificate: the next checkpoint is stamped, and so are the two left.
    *mode.lock().unwrap() = Mode::Grant("tsa");
    grow(&ledger).await;
    let good = ledger.checkpoint().await.unwrap();
    for size in [down.tree_size, expired.tree_size, good.tree_size] {
        assert_stamped(&ledger, size, true).await;
    }
    // Every token verifies.
    let anchors = certs(dir.path(), "ca");
    let all = timestamp::verify_ledger(ledger.checkpoints().as_ref(), &anchors).await.unwrap();
    assert_eq!((all.stamped, all.checkpoints), (3, 3));
    let err = timestamp::verify_ledger(ledger.checkpoints().as_ref(), &certs(dir.path(), "other")).await.unwrap_err();
    let timestamp::StampsError::Checkpoint { tree_size, fault } = &err else { panic!("{err}") };
    assert!(*tree_size == down.tree_size && matches!(fault, timestamp::StampFault::NotAnchored), "{err}");
}

/// A token whose genTime is after the next checkpoint was signed is found and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_obtained_after_the_next_checkpoint_is_found() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let url = responder(dir.path().to_path_buf(), Arc::new(Mutex::new(Mode::Grant("tsa")))).await;
    let tsa = Tsa { url, anchors: certs(dir.path(), "ca"), timeout: Duration::from_secs(10) };
    let place = Place::new(Backend::Sqlite, None);
    let plain = place.ledger().await;
    // Two checkpoints signed without a TSA, the first stamped only afterwards, behind the
    // service's back (its genTime is after the second was signed).
    grow(&plain).await;
    let first = plain.checkpoint().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    grow(&plain).await;
    plain.checkpoint().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = tsa.stamp(&first.note).await.unwrap();
    plain.checkpoints().add_timestamp(first.tree_size, &token).await.unwrap();
    let all = timestamp::verify_ledger(plain.checkpoints().as_ref(), &certs(dir.path(), "ca")).await.unwrap();
    assert_eq!((all.stamped, all.late.len()), (1, 1));
    assert_eq!(all.late[0].0, first.tree_size, "{all:?}");
}

/// A TSA with RSA keys, as most are: its tokens verify under its RSA CA, and not under another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsa_tsa_is_verified_too() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let url = responder(dir.path().to_path_buf(), Arc::new(Mutex::new(Mode::Grant("rsatsa")))).await;
    let tsa = Tsa { url, anchors: certs(dir.path(), "rsaca"), timeout: Duration::from_secs(10) };
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await.with_tsa(tsa);
    grow(&ledger).await;
    let cp = ledger.checkpoint().await.unwrap();
    let token = ledger.checkpoints().timestamp(cp.tree_size).await.unwrap().expect("an RSA token was accepted");
    let imprint = timestamp::imprint(&cp.note).unwrap();
    let stamp = timestamp::verify(&token, &imprint, None, &certs(dir.path(), "rsaca")).unwrap();
    assert!(stamp.tsa.contains("RSA TSA"), "{stamp:?}");
    assert!(timestamp::verify(&token, &imprint, None, &certs(dir.path(), "ca")).unwrap_err().to_string().contains("does not chain"));
    let mut bad = token.clone();
    let at = bad.len() - 5;
    bad[at] ^= 1;
    assert!(timestamp::verify(&bad, &imprint, None, &certs(dir.path(), "rsaca")).unwrap_err().to_string().contains("signature"));
}
