//! Issue 31: the government gateway's WS-Security signatures, checked both ways against an
//! independent implementation, `xmlsec1` (Debian's package), with a throwaway CA and signer that
//! `openssl` makes at test time. Every refusal names its reason.

use housing_ledger::registry::shep::envelope::{self, ResponseInfo};
use housing_ledger::registry::shep::wsse::{self, KeyReference, WsseError};
use std::path::Path;
use std::process::{Command, Output};

const WSU: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

fn run(dir: &Path, prog: &str, args: &[&str]) -> Output {
    Command::new(prog).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("{prog} runs: {e}"))
}

fn ok(dir: &Path, prog: &str, args: &[&str]) {
    let out = run(dir, prog, args);
    assert!(out.status.success(), "{prog} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a gateway signer under it (RSA 2048, with a subject key identifier).
fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("signer.ext"), "keyUsage = critical, digitalSignature\nsubjectKeyIdentifier = hash\n").unwrap();
    ok(d, "openssl", &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test NCA", "-days", "3650"]);
    ok(d, "openssl", &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "signer.key", "-out", "signer.csr", "-subj", "/CN=SHEP/OU=BIN222222222222"]);
    ok(
        d,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "signer.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "signer.pem",
            "-days",
            "365",
            "-extfile",
            "signer.ext",
        ],
    );
    ok(d, "openssl", &["x509", "-in", "signer.pem", "-outform", "DER", "-out", "signer.der"]);
    dir
}

fn body() -> String {
    let info = ResponseInfo {
        message_id: "resp-1".into(),
        correlation_id: "req-1".into(),
        service_id: "GBDFL_UniversalServiceSync".into(),
        response_date: "2026-12-03T10:00:00Z".into(),
        status_code: envelope::SUCCESS.into(),
        status_message: "ok".into(),
    };
    envelope::response_body(&info, Some(&serde_json::json!({"records": {"650101317494": {"citizenship": "KZ"}}})))
}

/// `xmlsec1 --verify` of `file` by the signer's certificate, checked against the CA.
fn xmlsec_verify(d: &Path, file: &str) -> Output {
    let body = format!("{SOAP11}:Body");
    run(d, "xmlsec1", &["--verify", "--id-attr:Id", &body, "--pubkey-cert-pem", "signer.pem", "--trusted-pem", "ca.pem", file])
}

#[test]
fn our_signature_verifies_under_xmlsec1_and_a_changed_byte_does_not() {
    let dir = world();
    let d = dir.path();
    let (key, der) = (std::fs::read_to_string(d.join("signer.key")).unwrap(), std::fs::read(d.join("signer.der")).unwrap());
    let signed = wsse::sign(&body(), "body-1", &key, &der, KeyReference::Token).unwrap();
    assert_eq!(wsse::verify(signed.as_bytes(), &[]).unwrap().signer, der);
    std::fs::write(d.join("good.xml"), &signed).unwrap();
    let out = xmlsec_verify(d, "good.xml");
    assert!(out.status.success(), "xmlsec1 refused our signature: {}", String::from_utf8_lossy(&out.stderr));
    // The certificate the envelope names, taken from it, chains to the same CA for openssl.
    let token = signed.split("ValueType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3\">").nth(1).unwrap();
    let token = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, token.split('<').next().unwrap()).unwrap();
    std::fs::write(d.join("from-envelope.der"), token).unwrap();
    ok(d, "openssl", &["x509", "-inform", "DER", "-in", "from-envelope.der", "-out", "from-envelope.pem"]);
    ok(d, "openssl", &["verify", "-CAfile", "ca.pem", "from-envelope.pem"]);
    std::fs::write(d.join("bad.xml"), signed.replace(">KZ<", ">RU<")).unwrap();
    assert!(!xmlsec_verify(d, "bad.xml").status.success(), "xmlsec1 accepted a changed body");
}

#[test]
fn a_signature_made_by_xmlsec1_is_accepted_and_names_its_signer() {
    let dir = world();
    let d = dir.path();
    let der = std::fs::read(d.join("signer.der")).unwrap();
    for (reference, file) in [(KeyReference::Token, "token"), (KeyReference::SubjectKeyId, "ski")] {
        let template = wsse::template(&body(), "body-7", wsse::RSA_SHA256, &der, reference).unwrap();
        std::fs::write(d.join(format!("{file}.tmpl.xml")), template).unwrap();
        let body_node = format!("{SOAP11}:Body");
        let out = format!("{file}.xml");
        ok(d, "xmlsec1", &["--sign", "--id-attr:Id", &body_node, "--privkey-pem", "signer.key,signer.pem", "--output", &out, &format!("{file}.tmpl.xml")]);
        let signed = std::fs::read(d.join(&out)).unwrap();
        let known = match reference {
            KeyReference::Token => vec![],
            KeyReference::SubjectKeyId => vec![der.clone()],
        };
        let v = wsse::verify(&signed, &known).unwrap_or_else(|e| panic!("{file}: {e}\n{}", String::from_utf8_lossy(&signed)));
        assert_eq!((v.signer, v.alg), (der.clone(), "rsa-sha256"), "{file}");
        if reference == KeyReference::SubjectKeyId {
            let unknown = wsse::verify(&signed, &[]).unwrap_err();
            assert!(unknown.to_string().contains("no configured gateway certificate"), "{unknown}");
        }
    }
}

/// Each way of spoiling a signed response, and the words its refusal must hold.
#[test]
fn wrapped_duplicated_changed_or_gost_signatures_are_refused_naming_why() {
    let dir = world();
    let d = dir.path();
    let (key, der) = (std::fs::read_to_string(d.join("signer.key")).unwrap(), std::fs::read(d.join("signer.der")).unwrap());
    let signed = wsse::sign(&body(), "body-1", &key, &der, KeyReference::Token).unwrap();
    let body_start = signed.find("<soap:Body").unwrap();
    let body_end = signed.find("</soap:Body>").unwrap() + "</soap:Body>".len();
    let original_body = &signed[body_start..body_end];
    let forged_body = original_body.replace(">KZ<", ">RU<").replace("wsu:Id=\"body-1\"", "");
    let cases: Vec<(&str, String, &str)> = vec![
        ("a byte changed in the body", signed.replace(">KZ<", ">RU<"), "does not verify"),
        (
            // The signed Body moved into a wrapper in the Header, a forged Body in its place.
            "the signature moved to a wrapper",
            signed.replacen(original_body, &forged_body, 1).replacen("<soap:Header>", &format!("<soap:Header><Wrapper>{original_body}</Wrapper>"), 1),
            "soap:Body elements",
        ),
        (
            "a duplicated wsu:Id",
            signed.replacen("<soap:Header>", &format!("<soap:Header><Other xmlns:wsu=\"{WSU}\" wsu:Id=\"body-1\"/>"), 1),
            "hold the id \"body-1\"",
        ),
        ("a second Body", signed.replacen("</soap:Envelope>", "<soap:Body><x/></soap:Body></soap:Envelope>", 1), "2 soap:Body elements"),
        ("a GOST signature", signed.replace(wsse::RSA_SHA256, "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311"), "GOST is refused"),
        ("a DOCTYPE", signed.replacen("<soap:Envelope", "<!DOCTYPE x [<!ENTITY e \"e\">]><soap:Envelope", 1), "DOCTYPE"),
        ("another signature method", signed.replace(wsse::RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1"), "rsa-sha1"),
    ];
    for (what, xml, why) in cases {
        let err: WsseError = wsse::verify(xml.as_bytes(), &[]).expect_err(what);
        assert!(err.to_string().contains(why), "{what}: {err}");
    }
}

/// The gateway's faults, made by `registry-sim --shep`'s router from the fixture, each refused
/// by the adapter (or by `check_answer` after it) with the fault of decision 6 and its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_gateway_fault_is_refused_naming_why() {
    use crate::common::scenario::{complete, iin_for};
    use devtools::shep_sim::{shep_router, EnvelopeSigner, EnvelopeSigners};
    use devtools::sim::Simulator;
    use devtools::sim::DEFAULT_SIM_SEED;
    use housing_ledger::registry::fixture::Fixture;
    use housing_ledger::registry::shep::client::{ShepRegistries, ShepSettings};
    use housing_ledger::registry::shep::envelope::{Secret, Sender};
    use housing_ledger::registry::{check_answer, AnswerKind, Registries};
    use housing_ledger::rules::records::RegistryId;
    use housing_ledger::rules::Procedure;

    let dir = world();
    let d = dir.path();
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        serde_json::json!({"entries": [{"iin": "@A"}], "registries": {},
            "faults": [{"registry": "zags", "iin": "@A", "kind": "soap_fault"}, {"registry": "kazreestr", "iin": "@A", "kind": "error_status"},
                       {"registry": "egkn", "iin": "@A", "kind": "other_correlation"}, {"registry": "gbd_fl", "iin": "@A", "kind": "wrapped_signature"},
                       {"registry": "gosreestr", "iin": "@A", "kind": "bad_signature"}]}),
    );
    let mut sim = Simulator::new(std::sync::Arc::new(Fixture::parse("case", &fx.to_string()).unwrap()), DEFAULT_SIM_SEED);
    sim.gateway = true;
    let signer =
        EnvelopeSigner::from_pem(&std::fs::read_to_string(d.join("signer.key")).unwrap(), &std::fs::read_to_string(d.join("signer.pem")).unwrap()).unwrap();
    let signers = EnvelopeSigners { default: Some(signer), ..EnvelopeSigners::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = shep_router(std::sync::Arc::new(sim), signers, std::time::Duration::from_secs(3));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let sender = Sender { sender_id: "housing-ledger".into(), password: Secret::new("pw-never-shown"), session_id: None };
    let shep = ShepRegistries::new(&format!("http://{addr}/bip-sync"), ShepSettings::new(sender));
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let a = vec![iin_for("A")];
    let fields = vec!["citizenship".to_string()];
    for (registry, kind, why) in [
        (RegistryId::Zags, "unavailable", "SOAP fault"),
        (RegistryId::Kazreestr, "unavailable", "status ESBS0001"),
        (RegistryId::Egkn, "malformed", "a response to another request"),
        (RegistryId::GbdFl, "bad_signature", "2 soap:Body elements"),
        (RegistryId::Gosreestr, "bad_signature", "does not verify"),
    ] {
        let rid = format!("req-{registry}");
        let got = shep.query(registry, &a, &fields, &rid).await.and_then(|s| check_answer(&keys, registry, &rid, AnswerKind::Fields(&a, &fields), &s).cloned());
        match got {
            Err(e) => {
                assert_eq!(e.kind(), kind, "{registry}: {e}");
                assert!(e.detail().contains(why) && !e.detail().contains("pw-never-shown"), "{registry}: {e}");
            }
            Ok(v) => panic!("{registry}: accepted {v}"),
        }
    }
    // Without a fault (another person) the answer comes, its envelope kept whole and verifiable.
    let b = vec![iin_for("B")];
    let s = shep.query(RegistryId::Gosreestr, &b, &fields, "req-ok").await.unwrap();
    assert_eq!(s.source_sig_format.as_deref(), Some("ws-security"));
    let doc = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s.source_document.unwrap()).unwrap();
    assert_eq!(wsse::verify(&doc, &[]).map(|v| v.alg), Ok("rsa-sha256"));
}

/// `demo --shep`: the whole demo over the gateway's envelope, under a CA it makes for itself,
/// decides as the demo over the JSON protocol, and its ledger verifies offline against the trust
/// list it wrote (the gateway's CA anchored in it, each envelope re-checked).
#[test]
fn the_demo_runs_over_the_gateway() {
    let runs = |dir: &Path, extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
            .args(["--data-dir", dir.to_str().unwrap(), "demo", "--persons", "12", "--no-serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
        // The counts of each procedure (the run ids name the source, and differ).
        text.lines().filter(|l| l.contains(": run ")).map(|l| format!("{} {}", l.split(':').next().unwrap(), l.split_once('{').unwrap().1)).collect::<Vec<_>>()
    };
    let (gateway, json) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(runs(gateway.path(), &["--shep"]), runs(json.path(), &[]));
    let trust = gateway.path().join("trust.json");
    let out = run(
        gateway.path(),
        env!("CARGO_BIN_EXE_housing-ledger"),
        &["--data-dir", gateway.path().to_str().unwrap(), "--trust", trust.to_str().unwrap(), "verify"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("source signatures checked against the trust list"), "{text}");
}

/// An envelope that names its signer by subject key identifier only is refused unless the
/// gateway's certificate is configured, then accepted; the certificate is recorded in
/// `source_chain`, so the check is repeated offline without the configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_named_by_key_identifier_needs_its_certificate_configured() {
    use devtools::shep_sim::{shep_router, EnvelopeSigner, EnvelopeSigners};
    use devtools::sim::Simulator;
    use devtools::sim::DEFAULT_SIM_SEED;
    use housing_ledger::registry::fixture::Fixture;
    use housing_ledger::registry::shep::client::{ShepRegistries, ShepSettings};
    use housing_ledger::registry::shep::envelope::{Secret, Sender};
    use housing_ledger::registry::{Registries, RegistryFault};
    use housing_ledger::rules::records::RegistryId;

    let dir = world();
    let d = dir.path();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    let mut sim = Simulator::new(std::sync::Arc::new(Fixture::load(&example).unwrap()), DEFAULT_SIM_SEED);
    sim.gateway = true;
    let signer = EnvelopeSigner::from_pem(&std::fs::read_to_string(d.join("signer.key")).unwrap(), &std::fs::read_to_string(d.join("signer.pem")).unwrap())
        .unwrap()
        .by_key_identifier()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bip-sync", listener.local_addr().unwrap());
    let router =
        shep_router(std::sync::Arc::new(sim), EnvelopeSigners { default: Some(signer), ..EnvelopeSigners::default() }, std::time::Duration::from_secs(3));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let settings = || ShepSettings::new(Sender { sender_id: "housing-ledger".into(), password: Secret::new("pw"), session_id: None });
    let who = vec!["650101317494".to_string()];
    let ask = |settings: ShepSettings| {
        let (url, who) = (url.clone(), who.clone());
        async move { ShepRegistries::new(&url, settings).query(RegistryId::Zags, &who, &["marriage".to_string()], "r-ski").await }
    };
    match ask(settings()).await {
        Err(RegistryFault::BadSignature(why)) => assert!(why.contains("no configured gateway certificate"), "{why}"),
        other => panic!("{other:?}"),
    }
    let der = std::fs::read(d.join("signer.der")).unwrap();
    let signed = ask(ShepSettings { certificates: vec![der.clone()], ..settings() }).await.unwrap();
    let chain = signed.source_chain.clone().unwrap();
    assert_eq!(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &chain[0]).unwrap(), der);
    let certs = housing_ledger::pki::chain_from_base64(&chain).unwrap();
    housing_ledger::registry::shep::check_document(&signed, &certs).expect("the document carries the answer recorded");
}
