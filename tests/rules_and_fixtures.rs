//! Rule sets as data (an extension order is a new file) and strict fixture reading (unknown
//! fields and bad IINs are errors naming their place).

use expect_test::{expect, Expect};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::rules::{Procedure, RuleBook};

#[test]
fn built_in_rule_sets_load_with_their_hashes() {
    let book = RuleBook::built_in();
    assert_eq!(book.sets.len(), 2);
    for rs in &book.sets {
        assert_eq!(rs.sha256.len(), 64);
        assert!(rs.steps.iter().all(|s| s.clause.starts_with(&format!("{}:", rs.order))), "every step cites its order's clause");
    }
}

#[test]
fn an_extension_order_is_a_new_rule_set_file() {
    let book = RuleBook::built_in();
    assert!(book.select(Procedure::RegistryRemoval, "2026-06-01").is_err());
    let mut v: serde_json::Value = serde_json::from_str(include_str!("../rules/registry-removal-000-v1.json")).unwrap();
    v["version"] = "2".into();
    v["valid_until"] = "2027-03-31".into();
    v["basis"] = "order 000 as extended by a (hypothetical) order to 1 April 2027".into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry-removal-000-v2.json");
    std::fs::write(&path, v.to_string()).unwrap();
    let mut book = RuleBook::built_in();
    book.add_file(&path).unwrap();
    let rs = book.select(Procedure::RegistryRemoval, "2026-06-01").unwrap();
    assert_eq!((rs.version.as_str(), rs.valid_until.as_str()), ("2", "2027-03-31"));
    let v1 = RuleBook::built_in().select(Procedure::RegistryRemoval, "2026-01-01").unwrap().sha256.clone();
    assert_ne!(rs.sha256, v1, "the extension has its own hash");
    assert_eq!(book.select(Procedure::RegistryRemoval, "2026-01-01").unwrap().version, "2", "where both are in force, the latest version applies");
    // A rule set naming a ground no function judges is refused.
    v["steps"][5]["criteria"][0]["ground"] = "unknown_ground".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let err = RuleBook::built_in().add_file(&path).unwrap_err().to_string();
    assert!(err.contains("unknown_ground"), "{err}");
}

fn check_fixture(text: &str, expect: Expect) {
    let got = match Fixture::parse("case.json", text) {
        Ok(f) => format!("ok: {} segments", f.segments.len()),
        Err(e) => e.to_string(),
    };
    expect.assert_eq(&got);
}

#[test]
fn fixtures_are_read_strictly() {
    let head = r#""format": "housing-ledger/registry-fixture/v1""#;
    check_fixture(&format!(r#"{{{head}, "segments": {{}}, "registries": {{}}}}"#), expect!["ok: 0 segments"]);
    check_fixture(&format!(r#"{{{head}, "segments": {{}}, "registries": {{}}, "extra": 1}}"#), expect!["fixture case.json: line 1 column 90: unknown field `extra`, expected one of `format`, `segments`, `registries`, `decisions`, `delivery_faults`, `faults` at line 1 column 90"]);
    check_fixture(
        r#"{"format": "v0", "segments": {}, "registries": {}}"#,
        expect![[r#"fixture case.json: format: "v0" is not "housing-ledger/registry-fixture/v1""#]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{"registry_removal": [{{"iin": "850415350079", "queue_nmber": 1}}]}}, "registries": {{}}}}"#),
        expect![[
            r#"fixture case.json: segments.registry_removal[0]: unknown field "queue_nmber" (known: iin, surname, name, patronymic, category, locality, consent, queue_number, registered_on, lease_contract, address)"#
        ]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"zags": {{"85041535007": {{}}}}}}}}"#),
        expect![[r#"fixture case.json: registries.zags["85041535007"]: IIN must be 12 digits, got "85041535007""#]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"zags": {{"850415350079": {{"marriage": {{"spouse_iin": "870602450145"}}}}}}}}}}"#),
        expect![[r#"fixture case.json: registries.zags["850415350079"]: IIN 870602450145: check digit does not match (expected 4)"#]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"gbd_fl": {{"850415350079": {{"citizenship": "KZ"}}}}}}}}"#),
        expect![[r#"fixture case.json: registries.gbd_fl["850415350079"]: missing field `residence_country`"#]],
    );
    check_fixture(
        &format!(
            r#"{{{head}, "segments": {{}}, "registries": {{"egkn": {{"850415350079": {{"state_fund_housing": [{{"locality": "Астана", "right": "lease"}}]}}}}}}}}"#
        ),
        expect![[
            r#"fixture case.json: registries.egkn["850415350079"]: unknown variant `lease`, expected one of `permanent_use`, `ownership`, `temporary_use`"#
        ]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"cadastre": {{}}}}}}"#),
        expect!["fixture case.json: registries.cadastre: unknown registry (expected ish_as_mr, zags, gosreestr, kazreestr, egkn, gbd_fl)"],
    );
    check_fixture(&format!(r#"{{{head}, "segments": {{}}, "registries": {{}}, "faults": [{{"registry": "zags", "iin": "*", "kind": "slow"}}]}}"#), expect!["fixture case.json: line 1 column 141: unknown variant `slow`, expected one of `unavailable`, `timeout`, `malformed`, `bad_signature` at line 1 column 141"]);
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{}}, "decisions": {{"850415350079": {{"outcome": "maybe", "by": "x"}}}}}}"#),
        expect![[r#"fixture case.json: decisions["850415350079"].outcome: "maybe" is neither confirmed nor declined"#]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{"evictions": []}}, "registries": {{}}}}"#),
        expect![[r#"fixture case.json: segments.evictions: unknown procedure "evictions": expected registry_removal or lease_termination"#]],
    );
}

#[test]
fn the_shared_example_fixture_loads() {
    let f = Fixture::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/fixtures/example.json")).unwrap();
    assert_eq!(f.entries(Procedure::RegistryRemoval).len(), 6);
    assert_eq!(f.entries(Procedure::LeaseTermination).len(), 2);
}
