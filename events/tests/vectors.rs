//! Every published vector in `tests/data/vectors/` (the repository's copy of
//! `../shared/vectors/`, with its sources and licences; `tidy` keeps the two in step):
//! transparency-dev Merkle proofs and reference roots, C2SP signed notes and the checkpoint
//! golden, the cyberphone RFC 8785 pairs, Wycheproof Ed25519 and the dalek validation vectors.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use events::keys::{LedgerSigner, VerifierKey};
use events::merkle::{self, consistency_plan, inclusion_plan, leaf_hash, root_plan, Hash, MerkleFrontier, NodeId};
use events::note::{self, Checkpoint};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn vectors() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/vectors");
    assert!(dir.is_dir(), "test vectors not found at {}", dir.display());
    dir
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            json_files(&p, out)
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p)
        }
    }
    out.sort();
}

fn b64(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap_or("")).unwrap()
}

fn b64_list(v: &Value) -> Vec<Vec<u8>> {
    v.as_array().map(|a| a.iter().map(b64).collect()).unwrap_or_default()
}

#[test]
fn transparency_dev_inclusion_and_consistency() {
    let base = vectors().join("transparency-dev-merkle/testdata");
    let (mut inclusion, mut consistency) = (Vec::new(), Vec::new());
    json_files(&base.join("inclusion"), &mut inclusion);
    json_files(&base.join("consistency"), &mut consistency);
    assert_eq!(inclusion.len() + consistency.len(), 196, "the vector set changed size");
    let (mut passes, mut fails) = (0, 0);
    for p in &inclusion {
        let v = read_json(p);
        let r = merkle::verify_inclusion(
            v["leafIdx"].as_u64().unwrap(),
            v["treeSize"].as_u64().unwrap(),
            &b64(&v["leafHash"]),
            &b64_list(&v["proof"]),
            &b64(&v["root"]),
        );
        assert_eq!(r.is_err(), v["wantErr"].as_bool().unwrap(), "{}: {r:?}", p.display());
        if r.is_ok() {
            passes += 1
        } else {
            fails += 1
        }
    }
    for p in &consistency {
        let v = read_json(p);
        let r = merkle::verify_consistency(
            v["size1"].as_u64().unwrap(),
            v["size2"].as_u64().unwrap(),
            &b64(&v["root1"]),
            &b64(&v["root2"]),
            &b64_list(&v["proof"]),
        );
        assert_eq!(r.is_err(), v["wantErr"].as_bool().unwrap(), "{}: {r:?}", p.display());
        if r.is_ok() {
            passes += 1
        } else {
            fails += 1
        }
    }
    assert!(passes > 0 && fails > 0, "both accepting and rejecting cases must be exercised");
}

/// Builds a stored tree the way the ledger does (perfect nodes as they are made).
fn build(leaves: &[Hash]) -> (MerkleFrontier, HashMap<NodeId, Hash>) {
    let mut f = MerkleFrontier::default();
    let mut made = Vec::new();
    for l in leaves {
        f.push(*l, &mut made);
    }
    (f, made.into_iter().collect())
}

fn hexes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap().try_into().unwrap()).collect()
}

#[test]
fn rfc6962_reference_tree() {
    let v = read_json(&vectors().join("transparency-dev-merkle/rfc6962_reference_tree.json"));
    let inputs: Vec<Vec<u8>> = v["leaf_inputs_hex"].as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap()).collect();
    let leaves: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();
    assert_eq!(leaves, hexes(&v["leaf_hashes_hex"]));
    for (size, root) in v["root_by_tree_size_hex"].as_object().unwrap() {
        let size: usize = size.parse().unwrap();
        let (f, nodes) = build(&leaves[..size]);
        let want = hex::decode(root.as_str().unwrap()).unwrap();
        assert_eq!(f.root().to_vec(), want, "frontier root at size {size}");
        assert_eq!(root_plan(size as u64).resolve(&nodes).unwrap()[0].to_vec(), want, "stored-node root at size {size}");
    }
    let (_, nodes) = build(&leaves);
    for case in v["inclusion"].as_array().unwrap() {
        let (i, n) = (case["leaf_index"].as_u64().unwrap(), case["tree_size"].as_u64().unwrap());
        let got = inclusion_plan(i, n).unwrap().resolve(&nodes).unwrap();
        assert_eq!(got, hexes(&case["proof_hex"]), "inclusion {i} in {n}");
    }
    for case in v["consistency"].as_array().unwrap() {
        let (m, n) = (case["size1"].as_u64().unwrap(), case["size2"].as_u64().unwrap());
        let got = consistency_plan(m, n).unwrap().resolve(&nodes).unwrap();
        assert_eq!(got, hexes(&case["proof_hex"]), "consistency {m} to {n}");
    }
    let unit = &v["hasher_unit"];
    assert_eq!(hex::encode(leaf_hash(b"L123456")), unit["leaf(\"L123456\")"].as_str().unwrap());
    assert_eq!(hex::encode(merkle::node_hash(b"N123", b"N456")), unit["node(\"N123\",\"N456\")"].as_str().unwrap());
    assert_eq!(hex::encode(merkle::empty_root()), unit["empty_tree"].as_str().unwrap());
}

#[test]
fn c2sp_signed_notes() {
    let v = read_json(&vectors().join("signed_note_vectors.json"));
    for case in v["vectors"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let vkey = VerifierKey::parse(case["vkey"].as_str().unwrap()).unwrap();
        assert_eq!(vkey.to_string(), case["vkey"].as_str().unwrap(), "{name}: verifier key round trip");
        let text = case["note_text"].as_str().unwrap();
        let signed = match (case.get("signed_note"), case.get("signature_line")) {
            (Some(s), _) => s.as_str().unwrap().to_string(),
            (None, Some(line)) => format!("{text}\n{}", line.as_str().unwrap()),
            _ => panic!("{name}: no signature"),
        };
        assert_eq!(note::verify(&signed, &vkey).unwrap(), text, "{name}");
        // A changed text or a changed signature byte must fail.
        let tampered = signed.replacen(&text[..1], &text[..1].to_ascii_lowercase().replace(&text[..1], "#"), 1);
        assert!(note::verify(&tampered, &vkey).is_err(), "{name}: tampered text verified");
        if let Some(skey) = case.get("skey") {
            let signer = LedgerSigner::parse(skey.as_str().unwrap()).unwrap();
            assert_eq!(signer.verifier(), vkey, "{name}: signer/verifier pair");
            assert_eq!(note::sign(text, &signer).unwrap(), signed, "{name}: deterministic signature");
            assert_eq!(signer.to_private_text(), skey.as_str().unwrap());
        }
    }
}

#[test]
fn checkpoint_body_golden() {
    let v = read_json(&vectors().join("signed_note_vectors.json"));
    let cp = Checkpoint { origin: "go.sum database tree".into(), size: 123456789012, root: leaf_hash(b"hello world"), heads: None };
    let want = v["checkpoint_body_golden"]["text"].as_str().unwrap();
    assert_eq!(cp.body(), want);
    assert_eq!(Checkpoint::parse_body(want).unwrap(), cp);
}

#[test]
fn cyberphone_jcs_pairs() {
    let base = vectors().join("json-canonicalization");
    let mut n = 0;
    for entry in std::fs::read_dir(base.join("input")).unwrap() {
        let p = entry.unwrap().path();
        let file = p.file_name().unwrap().to_str().unwrap().to_string();
        let input: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let got = events::canonical::to_vec(&input).unwrap();
        let want = std::fs::read(base.join("output").join(&file)).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{file}");
        let outhex = std::fs::read_to_string(base.join("outhex").join(file.replace(".json", ".txt"))).unwrap();
        let want_hex: String = outhex.split_whitespace().collect();
        assert_eq!(hex::encode(&got), want_hex, "{file} (hex)");
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn wycheproof_ed25519() {
    let v = read_json(&vectors().join("ed25519/wycheproof_ed25519_test.json"));
    let mut count = 0;
    for group in v["testGroups"].as_array().unwrap() {
        let pk: [u8; 32] = hex::decode(group["publicKey"]["pk"].as_str().unwrap()).unwrap().try_into().unwrap();
        for t in group["tests"].as_array().unwrap() {
            let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
            let ok = ed25519_dalek::VerifyingKey::from_bytes(&pk)
                .ok()
                .and_then(|k| VerifierKey::new("wycheproof", k).ok())
                .is_some_and(|k| k.verify(&msg, &sig).is_ok());
            let want = t["result"].as_str().unwrap() == "valid";
            assert_eq!(ok, want, "tcId {} ({})", t["tcId"], t["comment"]);
            count += 1;
        }
    }
    assert_eq!(count, v["numberOfTests"].as_u64().unwrap());
}

#[test]
fn dalek_validation_vectors_under_strict_verification() {
    let v = read_json(&vectors().join("ed25519/dalek_VALIDATIONVECTORS.json"));
    // verify_strict permits only these edge cases (ed25519-dalek's documented criteria).
    let allowed = ["low_order_component_A", "low_order_component_R"];
    let (mut accepted, mut rejected) = (0, 0);
    for t in v.as_array().unwrap() {
        let pk: [u8; 32] = hex::decode(t["key"].as_str().unwrap()).unwrap().try_into().unwrap();
        let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
        let msg = t["msg"].as_str().unwrap().as_bytes();
        let ok = ed25519_dalek::VerifyingKey::from_bytes(&pk).ok().and_then(|k| VerifierKey::new("cctv", k).ok()).is_some_and(|k| k.verify(msg, &sig).is_ok());
        let flags: Vec<&str> = t["flags"].as_array().map(|f| f.iter().map(|x| x.as_str().unwrap()).collect()).unwrap_or_default();
        let want = flags.iter().all(|f| allowed.contains(f));
        assert_eq!(ok, want, "vector {} flags {flags:?}", t["number"]);
        if ok {
            accepted += 1
        } else {
            rejected += 1
        }
    }
    assert!(accepted > 0 && rejected > 0);
}

#[test]
fn dalek_rfc8032_sign_and_verify() {
    let text = std::fs::read_to_string(vectors().join("ed25519/dalek_TESTVECTORS.txt")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split(':').collect();
        let sk = hex::decode(parts[0]).unwrap();
        let pk = hex::decode(parts[1]).unwrap();
        let msg = hex::decode(parts[2]).unwrap();
        let sig = hex::decode(&parts[3][..128]).unwrap();
        let signer = LedgerSigner::from_seed("dalek", sk[..32].try_into().unwrap()).unwrap();
        assert_eq!(signer.verifier().key.as_bytes().to_vec(), pk, "line {n}: public key");
        assert_eq!(signer.sign(&msg).to_vec(), sig, "line {n}: signature");
        signer.verifier().verify(&msg, &sig).unwrap();
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert!(signer.verifier().verify(&msg, &bad).is_err());
        n += 1;
    }
    assert_eq!(n, 128);
}
