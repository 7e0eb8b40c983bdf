//! Issue 28: answers under the national PKI, against throwaway CAs that `openssl` makes at test
//! time (no private key is committed) and `openssl ocsp` as the responder. Each refusal names
//! why; a good answer's check is repeated offline with the responder gone.

use base64::Engine;
use devtools::sim::{SourceSigner, X509Signer};
use housing_ledger::registry::revocation::WithRevocation;
use housing_ledger::registry::{AnswerKind, NoSource, RegistryFault, SignedAnswer, TrustedKeys};
use housing_ledger::rules::records::RegistryId;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

const CONFIG: &str = r#"
[ca]
default_ca = d
[d]
database = $ENV::DB
new_certs_dir = $ENV::OUT
serial = $ENV::SERIAL
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
[any]
commonName = supplied
organizationalUnitName = optional
[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[no_bc]
keyUsage = critical, keyCertSign, cRLSign
[signer]
keyUsage = critical, digitalSignature, nonRepudiation
authorityInfoAccess = OCSP;URI:$ENV::OCSP_URL
[no_ku]
authorityInfoAccess = OCSP;URI:$ENV::OCSP_URL
[crl_signer]
keyUsage = critical, digitalSignature, nonRepudiation
crlDistributionPoints = URI:$ENV::CRL_URL
"#;

struct Pki {
    dir: tempfile::TempDir,
    ocsp_url: String,
    crl_url: String,
}

impl Pki {
    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    fn openssl(&self, args: &[&str]) -> String {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .env("DB", self.path("db.txt"))
            .env("OUT", self.dir.path())
            .env("SERIAL", self.path("serial"))
            .env("OCSP_URL", &self.ocsp_url)
            .env("CRL_URL", &self.crl_url)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn key(&self, name: &str, ec: bool) {
        let alg: &[&str] =
            if ec { &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"] } else { &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] };
        let out = format!("{name}.key");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(alg);
        args.extend_from_slice(&["-out", &out]);
        self.openssl(&args);
    }

    /// Issues `name.pem` for `key.key` with `subject`, by `issuer` (`None`: self-signed), with
    /// the config's extension section `ext`, valid from `start` to `end` (YYYYMMDDHHMMSSZ).
    fn issue(&self, name: &str, key: &str, subject: &str, issuer: Option<&str>, ext: &str, end: &str) {
        let (csr, pem, k) = (format!("{name}.csr"), format!("{name}.pem"), format!("{key}.key"));
        self.openssl(&["req", "-new", "-key", &k, "-subj", subject, "-out", &csr]);
        let mut args = vec![
            "ca",
            "-config",
            "ca.cnf",
            "-batch",
            "-notext",
            "-in",
            &csr,
            "-out",
            &pem,
            "-extensions",
            ext,
            "-startdate",
            "20250101000000Z",
            "-enddate",
            end,
        ];
        let (cert, ikey);
        match issuer {
            None => args.extend_from_slice(&["-selfsign", "-keyfile", &k]),
            Some(i) => {
                (cert, ikey) = (format!("{i}.pem"), format!("{i}.key"));
                args.extend_from_slice(&["-cert", &cert, "-keyfile", &ikey]);
            }
        }
        self.openssl(&args);
    }

    fn serial(&self, name: &str) -> String {
        self.openssl(&["x509", "-in", &format!("{name}.pem"), "-noout", "-serial"]).trim().trim_start_matches("serial=").to_string()
    }

    fn read(&self, f: &str) -> String {
        std::fs::read_to_string(self.path(f)).unwrap()
    }

    fn signer(&self, key: &str, chain: &[&str]) -> SourceSigner {
        let pem: String = chain.iter().map(|c| self.read(&format!("{c}.pem"))).collect();
        SourceSigner::X509(X509Signer::from_pem(&self.read(&format!("{key}.key")), &pem).unwrap())
    }
}

/// `openssl ocsp` serving the index, signed by the intermediate; killed on drop.
struct Responder(std::process::Child);

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn asn1_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%y%m%d%H%M%SZ").to_string()
}

fn answer(at: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    json!({"registry": "zags", "request_id": "r1", "subjects": [], "issued_at": at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "records": {}})
}

fn refused(r: Result<(), RegistryFault>) -> String {
    match r {
        Err(RegistryFault::BadSignature(why)) => why,
        other => panic!("expected bad_signature, got {other:?}"),
    }
}

const ZAGS: &str = "/CN=ZAGS/OU=BIN111111111111";

/// The throwaway PKI: a root and an intermediate, the signers each case needs, and
/// `openssl ocsp` answering for the intermediate's certificates (two of them revoked an hour
/// ago). Returns it with the time the index was written.
fn pki_world() -> (Pki, Responder, chrono::DateTime<chrono::Utc>) {
    let port = free_port();
    let pki =
        Pki { dir: tempfile::tempdir().unwrap(), ocsp_url: format!("http://127.0.0.1:{port}"), crl_url: format!("http://127.0.0.1:{}/inter.crl", free_port()) };
    std::fs::write(pki.path("ca.cnf"), CONFIG).unwrap();
    std::fs::write(pki.path("db.txt"), "").unwrap();
    std::fs::write(pki.path("serial"), "10\n").unwrap();
    for (k, ec) in [("root", false), ("inter", false), ("other", false), ("nobc", false), ("unrelated", false), ("signer", false), ("ec", true)] {
        pki.key(k, ec);
    }
    let far = "20300101000000Z";
    pki.issue("root", "root", "/CN=Test NCA Root", None, "ca_ext", far);
    pki.issue("inter", "inter", "/CN=Test NCA Intermediate", Some("root"), "ca_ext", far);
    pki.issue("other", "other", "/CN=Another Root", None, "ca_ext", far);
    pki.issue("nobc", "nobc", "/CN=Intermediate without basicConstraints", Some("root"), "no_bc", far);
    pki.issue("unrelated", "unrelated", "/CN=Unrelated responder", None, "ca_ext", far);
    let zags = ZAGS;
    pki.issue("rsa", "signer", zags, Some("inter"), "signer", far);
    pki.issue("p256", "ec", zags, Some("inter"), "signer", far);
    pki.issue("expired", "signer", zags, Some("inter"), "signer", "20250601000000Z");
    pki.issue("stranger", "signer", zags, Some("other"), "signer", far);
    pki.issue("under_nobc", "signer", zags, Some("nobc"), "signer", far);
    pki.issue("no_ku", "signer", zags, Some("inter"), "no_ku", far);
    pki.issue("other_org", "signer", "/CN=ZAGS/OU=BIN999999999999", Some("inter"), "signer", far);
    pki.issue("revoked_before", "signer", zags, Some("inter"), "signer", far);
    pki.issue("revoked_after", "signer", zags, Some("inter"), "signer", far);
    // Certificates naming a CRL and no OCSP responder; one revoked now, in the intermediate's CRL.
    pki.issue("crl_good", "signer", zags, Some("inter"), "crl_signer", far);
    pki.issue("crl_revoked", "signer", zags, Some("inter"), "crl_signer", far);
    pki.openssl(&["ca", "-config", "ca.cnf", "-batch", "-revoke", "crl_revoked.pem", "-cert", "inter.pem", "-keyfile", "inter.key"]);
    pki.openssl(&["ca", "-config", "ca.cnf", "-batch", "-gencrl", "-crldays", "1", "-cert", "inter.pem", "-keyfile", "inter.key", "-out", "inter.crl"]);
    pki.openssl(&["crl", "-in", "inter.crl", "-outform", "DER", "-out", "inter.crl.der"]);

    // The responder's index: revoked an hour ago, the rest valid.
    let now = chrono::Utc::now();
    let hour_ago = asn1_time(now - chrono::Duration::hours(1));
    let mut index = String::new();
    for name in ["rsa", "p256", "no_ku", "other_org", "expired"] {
        index += &format!("V\t300101000000Z\t\t{}\tunknown\t{zags}\n", pki.serial(name));
    }
    for name in ["revoked_before", "revoked_after"] {
        index += &format!("R\t300101000000Z\t{hour_ago}\t{}\tunknown\t{zags}\n", pki.serial(name));
    }
    std::fs::write(pki.path("ocsp-index.txt"), index).unwrap();
    std::fs::write(pki.path("ocsp-index.txt.attr"), "unique_subject = no\n").unwrap();
    let responder = Responder(
        Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                "ocsp-index.txt",
                "-port",
                &port.to_string(),
                "-rsigner",
                "inter.pem",
                "-rkey",
                "inter.key",
                "-CA",
                "inter.pem",
                "-ndays",
                "1",
            ])
            .current_dir(pki.dir.path())
            .stdout(std::fs::File::create(pki.path("ocsp.out")).unwrap())
            .stderr(std::fs::File::create(pki.path("ocsp.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    // Ready when it says so (a probe connection would hold its single accept loop).
    for _ in 0..200 {
        if std::fs::read_to_string(pki.path("ocsp.log")).unwrap_or_default().contains("waiting for OCSP client connections") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    (pki, responder, now)
}

/// The trust list whose `zags` entry is the test root, for the signer of BIN 111111111111.
fn zags_ca_entry(pki: &Pki) -> serde_json::Value {
    json!({"ca": pki.read("root.pem"), "signer": {"organization_bin": "111111111111"}, "valid_from": "2025-01-01", "valid_until": null})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_under_the_national_pki() {
    let (pki, responder, now) = pki_world();
    let list = json!({"format": "housing-ledger/trust-list/v1", "issued": "2026-12-01", "sources": {"zags": [zags_ca_entry(&pki)]}});
    let trust = TrustedKeys::parse(&list.to_string()).unwrap();
    let stapler = WithRevocation::new(std::sync::Arc::new(NoSource), trust.clone(), std::time::Duration::from_secs(5));
    let sign = |key: &str, chain: &[&str], at| pki.signer(key, chain).sign(answer(at), AnswerKind::Records(&[]));
    let log = || {
        format!("{}{}", std::fs::read_to_string(pki.path("ocsp.out")).unwrap_or_default(), std::fs::read_to_string(pki.path("ocsp.log")).unwrap_or_default())
    };
    let received =
        |signed: SignedAnswer| async { stapler.staple(RegistryId::Zags, signed).await.unwrap_or_else(|e| panic!("{e}; the responder said: {}", log())) };
    let check = |s: &SignedAnswer| trust.check_source(RegistryId::Zags, s);

    // Accepted: RSA and P-256, with the OCSP response obtained on receipt.
    let good = received(sign("signer", &["rsa", "inter"], now)).await;
    assert_eq!(good.source_sig_alg.as_deref(), Some("rsa-pkcs1-sha256"));
    assert!(good.source_revocation.is_some(), "the OCSP response is kept with the answer");
    assert_eq!(check(&good), Ok(()));
    let p256 = received(sign("ec", &["p256", "inter"], now)).await;
    assert_eq!((p256.source_sig_alg.as_deref(), check(&p256)), (Some("ecdsa-p256-sha256"), Ok(())));
    // Accepted: a signer revoked an hour ago, for an answer signed two hours ago.
    let before = received(sign("signer", &["revoked_after", "inter"], now - chrono::Duration::hours(2))).await;
    assert_eq!(check(&before), Ok(()), "a revocation after signing does not undo the answer");

    // Refused, each naming why.
    let cases: Vec<(&str, SignedAnswer, &str)> = vec![
        ("revoked before signing", received(sign("signer", &["revoked_before", "inter"], now)).await, "at or before the signing time"),
        ("expired", received(sign("signer", &["expired", "inter"], now)).await, "expired or not yet valid"),
        ("another root", received(sign("signer", &["stranger", "other"], now)).await, "does not lead"),
        ("CA without basicConstraints", received(sign("signer", &["under_nobc", "nobc"], now)).await, "has no basicConstraints CA"),
        ("no keyUsage", received(sign("signer", &["no_ku", "inter"], now)).await, "has no keyUsage"),
        ("another organisation", received(sign("signer", &["other_org", "inter"], now)).await, "is not of organisation BIN 111111111111"),
        ("stale OCSP", received(sign("signer", &["rsa", "inter"], now - chrono::Duration::hours(30))).await, "stale"),
    ];
    for (what, signed, why) in &cases {
        let got = refused(check(signed));
        assert!(got.contains(why), "{what}: {got}");
    }

    // An OCSP response signed by an unrelated key.
    pki.openssl(&["ocsp", "-issuer", "inter.pem", "-cert", "rsa.pem", "-reqout", "req.der", "-no_nonce"]);
    pki.openssl(&[
        "ocsp",
        "-index",
        "ocsp-index.txt",
        "-rsigner",
        "unrelated.pem",
        "-rkey",
        "unrelated.key",
        "-CA",
        "inter.pem",
        "-reqin",
        "req.der",
        "-respout",
        "unrelated.der",
    ]);
    let forged = base64::engine::general_purpose::STANDARD.encode(std::fs::read(pki.path("unrelated.der")).unwrap());
    let signed = SignedAnswer { source_revocation: Some(events::catalogue::SourceRevocation::Ocsp(forged)), ..good.clone() };
    assert!(refused(check(&signed)).contains("neither the CA"), "an unrelated responder");

    // A GOST certificate, refused by name.
    use der::{Decode, Encode};
    let chain = good.source_chain.clone().unwrap();
    let mut cert = x509_cert::Certificate::from_der(&base64::engine::general_purpose::STANDARD.decode(&chain[0]).unwrap()).unwrap();
    cert.tbs_certificate.subject_public_key_info.algorithm.oid = der::asn1::ObjectIdentifier::new_unwrap("1.2.398.3.10.1.1.1.1");
    let gost = base64::engine::general_purpose::STANDARD.encode(cert.to_der().unwrap());
    let signed = SignedAnswer { source_chain: Some(vec![gost, chain[1].clone()]), ..good.clone() };
    assert!(refused(check(&signed)).contains("GOST"), "a GOST certificate");

    // The offline check, with the responder gone; one byte changed in the stored chain or
    // OCSP response fails it.
    drop(responder);
    assert_eq!(check(&good), Ok(()), "repeated offline");
    let flip = |b64: &str, at: usize| {
        let mut bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        let i = at.min(bytes.len() - 1);
        bytes[i] ^= 1;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let mut changed = good.clone();
    changed.source_chain.as_mut().unwrap()[0] = flip(&chain[0], 300);
    assert!(check(&changed).is_err(), "a byte changed in the chain");
    let Some(events::catalogue::SourceRevocation::Ocsp(resp)) = &good.source_revocation else { panic!("OCSP") };
    let mut changed = good.clone();
    changed.source_revocation = Some(events::catalogue::SourceRevocation::Ocsp(flip(resp, 200)));
    assert!(check(&changed).is_err(), "a byte changed in the OCSP response");
}

/// A child process killed on drop.
struct Child(std::process::Child);

/// The proof bundle of the first person removed, written to `dir/proof.json` (the ledger is
/// closed), with the ledger's verifier key.
async fn first_removed_bundle(
    store: &std::sync::Arc<dyn housing_ledger::store::EventStore>,
    ledger: housing_ledger::ledger::Ledger,
    trust_file: &std::path::Path,
    dir: &std::path::Path,
) -> (housing_ledger::proof::Bundle, String, PathBuf) {
    let removed = store.read_by_type("DecisionTaken", 0, 10).await.unwrap()[0].stream.trim_start_matches("person:").to_string();
    let keys = TrustedKeys::load(trust_file).unwrap();
    let bundle = housing_ledger::proof::build(&ledger, &keys, &removed, housing_ledger::rules::Procedure::RegistryRemoval).await.unwrap();
    let key = ledger.signer().verifier().to_string();
    drop(ledger);
    let file = dir.join("proof.json");
    std::fs::write(&file, serde_json::to_string(&bundle).unwrap()).unwrap();
    (bundle, key, file)
}

/// `housing-ledger ARGS` (a `registry-sim`), once it listens on `port`.
fn registry_sim<S: AsRef<std::ffi::OsStr>>(port: u16, args: &[S], stderr: std::process::Stdio) -> Child {
    let sim = Child(Command::new(env!("CARGO_BIN_EXE_housing-ledger")).args(args).stdout(std::process::Stdio::null()).stderr(stderr).spawn().unwrap());
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    sim
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_housing-ledger")).arg("--data-dir").arg(dir).args(args).env("HOUSING_LEDGER_LOG", "warn").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `registry-sim --sign-with` carries a whole run over HTTP: ЗАГС answers under the RSA
/// certificate (its OCSP response obtained on receipt), the rest under Ed25519 keys; the
/// bundle then verifies offline with `--trust`, with the simulator and the responder gone, and
/// so do `verify` and `audit`. A byte changed in a stored chain fails, naming the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_http_with_a_source_under_the_national_pki() {
    let (pki, responder, _) = pki_world();
    let mut list: serde_json::Value = serde_json::from_str(&devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED).text).unwrap();
    list["sources"]["zags"] = json!([zags_ca_entry(&pki)]);
    let trust_file = pki.path("trust.json");
    std::fs::write(&trust_file, list.to_string()).unwrap();
    let trust = trust_file.to_str().unwrap();
    std::fs::write(pki.path("chain.pem"), pki.read("rsa.pem") + &pki.read("inter.pem")).unwrap();

    let port = free_port();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    let sign_with = format!("zags={}:{}", pki.path("signer.key").display(), pki.path("chain.pem").display());
    let sim = registry_sim(
        port,
        &["registry-sim", "--fixture", example.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}"), "--sign-with", &sign_with],
        std::process::Stdio::null(),
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = format!("http:http://127.0.0.1:{port}");
    let (ok, out, err) =
        cli(d, &["--trust", trust, "run", "--procedure", "registry_removal", "--as-of", "2025-09-01", "--simulation", "--registries", &source, "--json"]);
    assert!(ok, "{out}{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    // One person is incomplete by the fixture's own egkn fault, and no one for ЗАГС.
    assert!(summary["counts"]["removed"].as_u64().unwrap() > 0 && summary["counts"]["incomplete"] == 1, "{summary}");
    drop(sim);
    drop(responder);

    let store: std::sync::Arc<dyn housing_ledger::store::EventStore> =
        std::sync::Arc::new(housing_ledger::store::sql::SqlStore::connect(&format!("sqlite://{}", d.join("ledger.db").display())).await.unwrap());
    // The ledger opened gives the store its keys: what it reads comes opened.
    let ledger = housing_ledger::ledger::Ledger::open(store.clone(), d, housing_ledger::ledger::DEFAULT_ORIGIN).await.unwrap();
    let failed = store.read_by_type("RegistryFailed", 0, 100).await.unwrap();
    assert!(failed.iter().all(|e| e.data["registry"] == "egkn"), "{failed:?}");
    let answers = store.read_by_type("RegistryResponded", 0, 100_000).await.unwrap();
    let zags: Vec<_> = answers.iter().filter(|e| e.data["registry"] == "zags").collect();
    assert!(!zags.is_empty() && zags.iter().all(|e| e.data["source_sig_alg"] == "rsa-pkcs1-sha256" && e.data["source_revocation"]["ocsp"].is_string()));
    assert!(answers.iter().filter(|e| e.data["registry"] != "zags").all(|e| e.data.get("source_sig_alg").is_none()), "the rest under Ed25519");
    let (bundle, key, file) = first_removed_bundle(&store, ledger, &trust_file, d).await;
    let file = file.to_str().unwrap();

    // Offline: nothing is listening any more.
    let (ok, out, err) = cli(d, &["--trust", trust, "verify-proof", file, "--ledger-key", &key]);
    assert!(ok && out.contains("checked against the trust list given"), "{out}{err}");
    let (ok, out, err) = cli(d, &["--trust", trust, "verify"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(d, &["--trust", trust, "audit"]);
    assert!(ok && out.contains("nothing found"), "{out}{err}");

    let mut changed: serde_json::Value = serde_json::to_value(&bundle).unwrap();
    let at =
        changed["events"].as_array().unwrap().iter().position(|e| crate::common::opened(e)["registry"] == "zags" && e["type"] == "RegistryResponded").unwrap();
    let seq = changed["events"][at]["seq"].as_u64().unwrap();
    // On a v2 ledger the chain is sealed: a byte of the seal changes instead.
    let stored = &mut changed["events"][at]["data"];
    let (field, index) = if stored.get("sealed").is_some() { ("/sealed/ct", 10) } else { ("/source_chain/0", 300) };
    let text = stored.pointer(field).unwrap().as_str().unwrap().to_string();
    let mut raw = base64::engine::general_purpose::STANDARD.decode(&text).unwrap();
    raw[index] ^= 1;
    *stored.pointer_mut(field).unwrap() = json!(base64::engine::general_purpose::STANDARD.encode(raw));
    std::fs::write(file, changed.to_string()).unwrap();
    let (ok, out, _) = cli(d, &["--trust", trust, "verify-proof", file, "--ledger-key", &key]);
    assert!(!ok && out.contains(&format!("seq {seq}")), "names the event: {out}");
}

/// Where a certificate names no OCSP responder and the list gives none, the CA's CRL from the
/// certificate's distribution point is obtained on receipt and kept (`{"crl": ...}`): a signer
/// it does not list is accepted, offline too; one it lists as revoked before signing is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crl_where_no_responder_is_named() {
    let (pki, _responder, now) = pki_world();
    let crl = std::fs::read(pki.path("inter.crl.der")).unwrap();
    let port: u16 = pki.crl_url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = tokio::spawn(async move {
        let app = axum::Router::new().route("/inter.crl", axum::routing::get(move || async move { crl.clone() }));
        axum::serve(listener, app).await.unwrap()
    });
    let list = json!({"format": "housing-ledger/trust-list/v1", "issued": "2026-12-01", "sources": {"zags": [zags_ca_entry(&pki)]}});
    let trust = TrustedKeys::parse(&list.to_string()).unwrap();
    let stapler = WithRevocation::new(std::sync::Arc::new(NoSource), trust.clone(), std::time::Duration::from_secs(5));
    // Signed a minute after the CRL was made (and the one certificate revoked).
    let at = now + chrono::Duration::seconds(60);
    let sign = |name: &str| pki.signer("signer", &[name, "inter"]).sign(answer(at), AnswerKind::Records(&[]));
    let good = stapler.staple(RegistryId::Zags, sign("crl_good")).await.unwrap();
    assert!(matches!(good.source_revocation, Some(events::catalogue::SourceRevocation::Crl(_))), "{:?}", good.source_revocation);
    let revoked = stapler.staple(RegistryId::Zags, sign("crl_revoked")).await.unwrap();
    server.abort();
    // The check itself asks nothing of the network: from the kept CRL alone.
    assert_eq!(trust.check_source(RegistryId::Zags, &good), Ok(()), "checked offline");
    assert!(refused(trust.check_source(RegistryId::Zags, &revoked)).contains("at or before the signing time"));
    // A CRL that does not cover the signing time (a day after its next update).
    let late = pki.signer("signer", &["crl_good", "inter"]).sign(answer(now + chrono::Duration::days(3)), AnswerKind::Records(&[]));
    let late = SignedAnswer { source_revocation: good.source_revocation.clone(), ..late };
    assert!(refused(trust.check_source(RegistryId::Zags, &late)).contains("does not cover the signing time"));
}

/// Issue 35, F11: an OCSP responder or a CRL's server that answers too much is refused, naming
/// the limit, after reading little of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ocsp_responder_or_crl_server_that_answers_too_much_is_read_no_further() {
    use crate::peer_limits::{flood_on, FLOOD, READ_LITTLE};
    use std::sync::atomic::Ordering;
    let (pki, responder, now) = pki_world();
    drop(responder);
    let port = |url: &str| -> u16 { url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap() };
    let list = json!({"format": "housing-ledger/trust-list/v1", "issued": "2026-12-01", "sources": {"zags": [zags_ca_entry(&pki)]}});
    let trust = TrustedKeys::parse(&list.to_string()).unwrap();
    let stapler = WithRevocation::new(std::sync::Arc::new(NoSource), trust, std::time::Duration::from_secs(10));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port(&pki.ocsp_url))).await.unwrap();
    let (_, sent) = flood_on(listener, 200, FLOOD, false);
    let signed = pki.signer("signer", &["rsa", "inter"]).sign(answer(now), AnswerKind::Records(&[]));
    let err = stapler.staple(RegistryId::Zags, signed).await.unwrap_err().to_string();
    assert!(err.contains("OCSP responder") && err.contains(&format!("larger than {} bytes", 1 << 20)), "{err}");
    assert!(sent.load(Ordering::Relaxed) < READ_LITTLE, "{} bytes taken", sent.load(Ordering::Relaxed));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port(&pki.crl_url))).await.unwrap();
    let (_, sent) = flood_on(listener, 200, FLOOD, true);
    let signed = pki.signer("signer", &["crl_good", "inter"]).sign(answer(now), AnswerKind::Records(&[]));
    let err = stapler.staple(RegistryId::Zags, signed).await.unwrap_err().to_string();
    assert!(err.contains("CRL") && err.contains(&format!("larger than {} bytes", 32 << 20)), "{err}");
    assert!(sent.load(Ordering::Relaxed) < 2 * READ_LITTLE, "{} bytes taken", sent.load(Ordering::Relaxed));
}

/// Issue 31: a run over the government gateway (`shep:`) against `registry-sim --shep`, every
/// envelope signed with WS-Security under a certificate of the test PKI, decides as the same
/// fixture over `http:`. Its bundle verifies offline with the trust list; the sender's password
/// is nowhere in what the run wrote or printed; a revoked gateway certificate, or one outside
/// the trust list, is refused with its reason in `RegistryFailed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_the_government_gateway() {
    let (pki, responder, _) = pki_world();
    // Every registry's answers come through the gateway, under the test root; ИШ АС МР's items
    // keep their own Ed25519 signatures.
    let mut list: serde_json::Value = serde_json::from_str(&devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED).text).unwrap();
    // The envelope carries the signer's certificate alone: the list anchors its issuing CA.
    let issuing = json!({"ca": pki.read("inter.pem"), "signer": {"organization_bin": "111111111111"}, "valid_from": "2025-01-01", "valid_until": null});
    for (_, entries) in list["sources"].as_object_mut().unwrap() {
        entries.as_array_mut().unwrap().push(issuing.clone());
    }
    let trust_file = pki.path("trust.json");
    std::fs::write(&trust_file, list.to_string()).unwrap();
    let trust = trust_file.to_str().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    const PASSWORD: &str = "s3cret-gateway-password";

    let mut counts = Vec::new();
    let pg = crate::common::PgCluster::start();
    for (signer, shep, postgres) in
        [("rsa", true, false), ("rsa", false, false), ("rsa", true, true), ("revoked_before", true, false), ("stranger", true, false)]
    {
        let url = postgres.then(|| pg.fresh_database());
        let database: Vec<&str> = url.as_deref().map(|u| vec!["--database-url", u]).unwrap_or_default();
        std::fs::write(pki.path("chain.pem"), pki.read(&format!("{signer}.pem")) + &pki.read("inter.pem")).unwrap();
        let port = free_port();
        let mut args = vec!["registry-sim".to_string(), "--fixture".into(), example.to_str().unwrap().into(), "--listen".into(), format!("127.0.0.1:{port}")];
        if shep {
            args.extend(["--shep".into(), "--sign-with".into(), format!("gateway={}:{}", pki.path("signer.key").display(), pki.path("chain.pem").display())]);
        }
        let log = pki.path(&format!("sim-{signer}-{shep}.log"));
        let sim = registry_sim(port, &args, std::fs::File::create(&log).unwrap().into());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let source = if shep { format!("shep:http://127.0.0.1:{port}/bip-sync") } else { format!("http:http://127.0.0.1:{port}") };
        let out = Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
            .env("HOUSING_LEDGER_SHEP_PASSWORD", PASSWORD)
            .env("HOUSING_LEDGER_SHEP_SESSION", "session-42-secret")
            .args(["--data-dir", d.to_str().unwrap(), "--trust", trust])
            .args(&database)
            .args(["run", "--procedure", "registry_removal", "--as-of", "2025-09-01", "--simulation"])
            .args(["--registries", &source, "--json"])
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "{signer} {shep}: {stdout}{stderr}");
        drop(sim);
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let at = url.clone().unwrap_or_else(|| format!("sqlite://{}", d.join("ledger.db").display()));
        let store: std::sync::Arc<dyn housing_ledger::store::EventStore> =
            std::sync::Arc::new(housing_ledger::store::sql::SqlStore::connect(&at).await.unwrap());
        let ledger = housing_ledger::ledger::Ledger::open(store.clone(), d, housing_ledger::ledger::DEFAULT_ORIGIN).await.unwrap();
        let failed = store.read_by_type("RegistryFailed", 0, 1000).await.unwrap();
        match (signer, shep) {
            ("rsa", _) => {
                // Each person's status and grounds (code, registry, whose), from the projection.
                housing_ledger::read_models::catch_up(&ledger).await.unwrap();
                let mut decided = Vec::new();
                for (iin, row) in housing_ledger::read_models::all_persons(&ledger).await.unwrap() {
                    let row: serde_json::Value = serde_json::from_str(&row).unwrap();
                    for (procedure, case) in row.as_object().unwrap() {
                        let grounds: Vec<String> =
                            case["grounds"].as_array().unwrap().iter().map(|g| format!("{} {} {}", g["code"], g["registry"], g["subject_iin"])).collect();
                        decided.push(format!("{iin} {procedure} {} {grounds:?}", case["status"]));
                    }
                }
                assert!(!decided.is_empty());
                counts.push(json!({"counts": summary["counts"], "persons": decided}));
                // Only the fixture's own egkn fault.
                assert!(failed.iter().all(|e| e.data["registry"] == "egkn"), "{failed:?}");
            }
            (_, _) => {
                let why = if signer == "stranger" { "does not lead" } else { "revoked" };
                assert!(
                    failed.iter().any(|e| e.data["kind"] == "bad_signature" && e.data["detail"].as_str().unwrap().contains(why)),
                    "{signer}: {:?}",
                    failed.iter().map(|e| e.data["detail"].clone()).collect::<Vec<_>>()
                );
                continue;
            }
        }
        if !shep {
            continue;
        }
        let answers = store.read_by_type("RegistryResponded", 0, 100_000).await.unwrap();
        let enveloped: Vec<_> = answers.iter().filter(|e| e.data["source_sig_format"] == "ws-security").collect();
        assert!(!enveloped.is_empty() && enveloped.iter().all(|e| e.data["source_document"].is_string() && e.data["source_revocation"]["ocsp"].is_string()));
        // The check is repeated on the stored bytes: a changed byte, or an answer the envelope
        // does not carry, is refused.
        let keys = TrustedKeys::load(&trust_file).unwrap();
        let r: events::catalogue::RegistryResponded = serde_json::from_value(enveloped[0].data.clone()).unwrap();
        let registry = RegistryId::parse(&r.registry).unwrap();
        let signed = SignedAnswer::from_responded(&r);
        assert_eq!(keys.check_source(registry, &signed), Ok(()));
        let b64 = base64::engine::general_purpose::STANDARD;
        let xml = String::from_utf8(b64.decode(signed.source_document.as_deref().unwrap()).unwrap()).unwrap();
        let changed = SignedAnswer { source_document: Some(b64.encode(xml.replacen("<message>ok", "<message>OK", 1))), ..signed.clone() };
        assert!(refused(keys.check_source(registry, &changed)).contains("does not verify"));
        let mut other = signed.clone();
        other.answer["issued_at"] = json!("2025-09-01T00:00:00.000Z");
        assert!(refused(keys.check_source(registry, &other)).contains("not the one the signed envelope carries"));
        // The proof bundle of a removed person verifies offline, the gateway's envelopes included.
        let (_, key, file) = first_removed_bundle(&store, ledger, &trust_file, d).await;
        let (ok, out, err) = cli(d, &["--trust", trust, "verify-proof", file.to_str().unwrap(), "--ledger-key", &key]);
        assert!(ok, "{out}{err}");
        let mut verify = vec!["--trust", trust];
        verify.extend(&database);
        verify.push("verify");
        let (ok, out, err) = cli(d, &verify);
        assert!(ok, "{out}{err}");
        // At the default log level, a command on an existing database says nothing of its
        // schema (issue 33: PostgreSQL's "already exists" notice on every command).
        let quiet =
            Command::new(env!("CARGO_BIN_EXE_housing-ledger")).arg("--data-dir").arg(d).args(&verify).env_remove("HOUSING_LEDGER_LOG").output().unwrap();
        let said = String::from_utf8_lossy(&quiet.stderr);
        assert!(quiet.status.success() && !said.contains("already exists"), "{said}");
        // The sender's secrets: in nothing the run wrote, printed or logged.
        for entry in std::fs::read_dir(d).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(PASSWORD) && !text.contains("session-42-secret"));
        }
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
        assert!(!std::fs::read_to_string(&log).unwrap().contains(PASSWORD));
    }
    assert_eq!(counts[0], counts[1], "the gateway run decides as the http run: the same statuses and grounds");
    assert_eq!(counts[2], counts[1], "on PostgreSQL too");
    drop(responder);
}
