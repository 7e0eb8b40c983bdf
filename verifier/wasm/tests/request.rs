//! The browser's request, checked natively: what the `/verify` page gets back for the bundle
//! kept in `tests/data/bundles/`, for it changed, and for requests it cannot read.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/bundles")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data().join(name)).unwrap()
}

fn ask(request: Value) -> Value {
    verifier_wasm::verify_request(request.to_string().as_bytes())
}

#[test]
fn answers_as_verify_proof_does() {
    let bundle = read("removed.json");
    let mut answer = ask(json!({"bundle": bundle, "ledger_key": read("ledger-key.txt"), "trust": read("trust.json")}));
    assert_eq!(answer["text"], read("verify-proof.txt"));
    answer.as_object_mut().unwrap().remove("text");
    let printed: Value = serde_json::from_str(&read("verify-proof.json")).unwrap();
    assert_eq!(answer, printed, "the same object as verify-proof --json");

    let changed = bundle.replacen("\"status\": \"removed\"", "\"status\": \"retained\"", 1);
    let answer = ask(json!({"bundle": changed, "ledger_key": read("ledger-key.txt"), "trust": read("trust.json")}));
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["text"], read("tampered.txt"));
}

#[test]
fn names_what_it_cannot_read() {
    let key = read("ledger-key.txt");
    for (request, says) in [
        (json!({"bundle": read("removed.json"), "ledger_key": key}), "the sources were not checked"),
        (json!({"bundle": "{", "ledger_key": key, "trust_bundle_keys": true}), "the document is not JSON"),
        (json!({"bundle": "{}", "ledger_key": "nonsense", "trust_bundle_keys": true}), "the ledger key"),
        (json!({"bundle": "{}", "ledger_key": key, "trust": "[]"}), "the trust list"),
        (json!({"bundle": "{}", "ledger_key": key, "trust_bundle_keys": true, "extra": 1}), "unknown field `extra`"),
    ] {
        let answer = ask(request);
        assert_eq!((answer["ok"].clone(), answer["input"].clone()), (json!(false), json!(true)), "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{answer} should say {says:?}");
    }
}
