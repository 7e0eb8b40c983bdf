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
    let mut v: serde_json::Value = serde_json::from_str(include_str!("../../rules/registry-removal-000-v1.json")).unwrap();
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

/// A rule-set file, changed by `edit`, loaded: what the loader says.
fn check_rule_set(edit: impl FnOnce(&mut serde_json::Value), expect: Expect) {
    let mut v: serde_json::Value = serde_json::from_str(include_str!("../../rules/registry-removal-000-v1.json")).unwrap();
    edit(&mut v);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rs.json");
    std::fs::write(&path, v.to_string()).unwrap();
    let got = match RuleBook::built_in().add_file(&path) {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string().replace(&path.display().to_string(), "rs.json"),
    };
    expect.assert_eq(&got);
}

#[test]
fn a_rule_set_says_what_its_procedure_decides() {
    check_rule_set(|_| {}, expect![[r#"ok"#]]);
    check_rule_set(|v| v["outcome"] = "terminate".into(), expect!["rule set rs.json: outcome terminate is not what registry_removal proposes"]);
    check_rule_set(
        |v| v["confirmed_status"] = "terminated".into(),
        expect!["rule set rs.json: confirmed_status terminated is not what outcome remove leaves (removed)"],
    );
    check_rule_set(|v| v["outcome"] = "evict".into(), expect!["rule set rs.json: unknown variant `evict`, expected `remove` or `terminate`"]);
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
    check_fixture(&format!(r#"{{{head}, "segments": {{}}, "registries": {{}}, "extra": 1}}"#), expect!["fixture case.json: extra: unknown field `extra`, expected one of `format`, `segments`, `registries`, `decisions`, `default_official`, `delivery_faults`, `faults` at line 1 column 90"]);
    check_fixture(
        r#"{"format": "v0", "segments": {}, "registries": {}}"#,
        expect![[r#"fixture case.json: format: "v0" is neither "housing-ledger/registry-fixture/v2" nor "housing-ledger/registry-fixture/v1""#]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{"registry_removal": [{{"iin": "850415350079", "queue_nmber": 1}}]}}, "registries": {{}}}}"#),
        expect![[
            r#"fixture case.json: segments.registry_removal[0]: unknown field "queue_nmber" (known: iin, surname, name, patronymic, category, locality, kato, consent, queue_number, registered_on, lease_contract, address)"#
        ]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"zags": {{"85041535007": {{}}}}}}}}"#),
        expect![[r#"fixture case.json: registries.zags["85041535007"]: IIN must be 12 digits, got "85041535007""#]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"zags": {{"850415350079": {{"marriage": {{"spouse_iin": "870602450145"}}}}}}}}}}"#),
        expect![[r#"fixture case.json: registries.zags["850415350079"]: marriage.spouse_iin: IIN 870602450145: check digit does not match (expected 4)"#]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"gbd_fl": {{"850415350079": {{"citizenship": "KZ"}}}}}}}}"#),
        expect![[r#"fixture case.json: registries.gbd_fl["850415350079"].residence_country: missing"#]],
    );
    check_fixture(
        &format!(
            r#"{{{head}, "segments": {{}}, "registries": {{"egkn": {{"850415350079": {{"state_fund_housing": [{{"locality": "Астана", "right": "lease"}}]}}}}}}}}"#
        ),
        expect![[
            r#"fixture case.json: registries.egkn["850415350079"]: state_fund_housing[0].right: unknown variant `lease`, expected one of `permanent_use`, `ownership`, `temporary_use`"#
        ]],
    );
    check_fixture(
        &format!(r#"{{{head}, "segments": {{}}, "registries": {{"cadastre": {{}}}}}}"#),
        expect!["fixture case.json: registries.cadastre: unknown registry (expected ish_as_mr, zags, gosreestr, kazreestr, egkn, gbd_fl)"],
    );
    check_fixture(&format!(r#"{{{head}, "segments": {{}}, "registries": {{}}, "faults": [{{"registry": "zags", "iin": "*", "kind": "slow"}}]}}"#), expect!["fixture case.json: faults[0].kind: unknown variant `slow`, expected one of `unavailable`, `timeout`, `malformed`, `bad_signature`, `soap_fault`, `error_status`, `other_correlation`, `wrapped_signature` at line 1 column 141"]);
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
    let f = Fixture::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json")).unwrap();
    assert_eq!(f.entries(Procedure::RegistryRemoval).len(), 6);
    assert_eq!(f.entries(Procedure::LeaseTermination).len(), 2);
}

/// Decision 13: every value a criterion reads has its stated form; the loader refuses any
/// other, naming where it is.
#[test]
fn decision_13_values_of_the_wrong_form_are_refused_naming_their_place() {
    let head = r#""format": "housing-ledger/registry-fixture/v1", "segments": {}"#;
    let gbd = |citizenship: &str, residence: &str| {
        format!(
            r#"{{{head}, "registries": {{"gbd_fl": {{"850415350079": {{"citizenship": {citizenship}, "residence_country": {residence}, "declared_missing": false, "declared_dead": false, "legally_incapable": false, "imprisoned": false}}}}}}}}"#
        )
    };
    let mut out = String::new();
    let mut line = |what: &str, text: String| {
        let got = match Fixture::parse("case.json", &text) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        out.push_str(&format!("{what}: {got}\n"));
    };
    line("KZ", gbd(r#""KZ""#, r#""KZ""#));
    line("RU abroad in DE", gbd(r#""RU""#, r#""DE""#));
    line("lower case", gbd(r#""kz""#, r#""KZ""#));
    line("empty", gbd(r#""""#, r#""KZ""#));
    line("a name", gbd(r#""Казахстан""#, r#""KZ""#));
    line("alpha-3", gbd(r#""KAZ""#, r#""KZ""#));
    line("not a code at all", gbd(r#""KZ""#, r#""XX""#));
    line("residence lower case", gbd(r#""KZ""#, r#""kz""#));
    line("a number", gbd("7", r#""KZ""#));
    line(
        "a missing field",
        format!(
            r#"{{{head}, "registries": {{"gbd_fl": {{"850415350079": {{"citizenship": "KZ", "residence_country": "KZ", "declared_missing": false, "declared_dead": false, "legally_incapable": false}}}}}}}}"#
        ),
    );
    line("an impossible date", format!(r#"{{{head}, "registries": {{"zags": {{"850415350079": {{"death": {{"date": "2024-02-30"}}}}}}}}}}"#));
    line(
        "a right that is not one of three",
        format!(r#"{{{head}, "registries": {{"egkn": {{"850415350079": {{"state_fund_housing": [{{"locality": "Астана", "right": "Permanent_use"}}]}}}}}}}}"#),
    );
    line("a child failing its check digit", format!(r#"{{{head}, "registries": {{"zags": {{"850415350079": {{"children": ["120110550213"]}}}}}}}}"#));
    line("a recipient his own child", format!(r#"{{{head}, "registries": {{"zags": {{"850415350079": {{"children": ["120110550212", "850415350079"]}}}}}}}}"#));
    line(
        "a recipient his own spouse",
        format!(r#"{{{head}, "registries": {{"zags": {{"850415350079": {{"marriage": {{"spouse_iin": "850415350079"}}}}}}}}}}"#),
    );
    // serde would read a struct from an array by position: a record is an object of named fields.
    line("a record given as an array", format!(r#"{{{head}, "registries": {{"zags": {{"850415350079": [null, ["120110550212"]]}}}}}}"#));
    line(
        "a marriage given as an array",
        format!(r#"{{{head}, "registries": {{"zags": {{"850415350079": {{"marriage": ["120110550212", "2010-01-01"]}}}}}}}}"#),
    );
    line(
        "a contract given as an array",
        format!(r#"{{{head}, "registries": {{"gosreestr": {{"850415350079": {{"privatization_contracts": [{{"number": "1"}}, ["2", "2004-05-06"]]}}}}}}}}"#),
    );
    line(
        "an official whose id fails its check digit",
        format!(r#"{{{head}, "registries": {{}}, "default_official": {{"id": "850415350078", "name": "Омаров", "position": "chairman"}}}}"#),
    );
    line(
        "an official with no position",
        format!(
            r#"{{{head}, "registries": {{}}, "decisions": {{"850415350079": {{"outcome": "confirmed", "official": {{"id": "850415350079", "name": "Омаров", "position": " "}}}}}}}}"#
        ),
    );
    expect![[r#"
        KZ: ok
        RU abroad in DE: ok
        lower case: fixture case.json: registries.gbd_fl["850415350079"]: citizenship: "kz" is not an ISO 3166-1 alpha-2 country code in capitals (such as "KZ"), nor "stateless"
        empty: fixture case.json: registries.gbd_fl["850415350079"]: citizenship: "" is not an ISO 3166-1 alpha-2 country code in capitals (such as "KZ"), nor "stateless"
        a name: fixture case.json: registries.gbd_fl["850415350079"]: citizenship: "Казахстан" is not an ISO 3166-1 alpha-2 country code in capitals (such as "KZ"), nor "stateless"
        alpha-3: fixture case.json: registries.gbd_fl["850415350079"]: citizenship: "KAZ" is not an ISO 3166-1 alpha-2 country code in capitals (such as "KZ"), nor "stateless"
        not a code at all: fixture case.json: registries.gbd_fl["850415350079"]: residence_country: "XX" is not an ISO 3166-1 alpha-2 country code in capitals (such as "KZ")
        residence lower case: fixture case.json: registries.gbd_fl["850415350079"]: residence_country: "kz" is not an ISO 3166-1 alpha-2 country code in capitals (such as "KZ")
        a number: fixture case.json: registries.gbd_fl["850415350079"]: citizenship: invalid type: integer `7`, expected a string
        a missing field: fixture case.json: registries.gbd_fl["850415350079"].imprisoned: missing
        an impossible date: fixture case.json: registries.zags["850415350079"]: death.date: "2024-02-30" is not a real YYYY-MM-DD date
        a right that is not one of three: fixture case.json: registries.egkn["850415350079"]: state_fund_housing[0].right: unknown variant `Permanent_use`, expected one of `permanent_use`, `ownership`, `temporary_use`
        a child failing its check digit: fixture case.json: registries.zags["850415350079"]: children[0]: IIN 120110550213: check digit does not match (expected 2)
        a recipient his own child: fixture case.json: registries.zags["850415350079"]: children: 850415350079 is named as his own child
        a recipient his own spouse: fixture case.json: registries.zags["850415350079"]: marriage.spouse_iin: 850415350079 is named as his own spouse
        a record given as an array: fixture case.json: registries.zags["850415350079"]: invalid type: sequence, expected a record of named fields
        a marriage given as an array: fixture case.json: registries.zags["850415350079"]: marriage: invalid type: sequence, expected a record of named fields
        a contract given as an array: fixture case.json: registries.gosreestr["850415350079"]: privatization_contracts[1]: invalid type: sequence, expected a record of named fields
        an official whose id fails its check digit: fixture case.json: default_official.id: IIN 850415350078: check digit does not match (expected 9) at line 1 column 124
        an official with no position: fixture case.json: decisions["850415350079"]: official.position is empty
    "#]].assert_eq(&out);
}

/// Decision 13: a family is a set. Any order or repetition of the children ЗАГС names, and the
/// spouse named again as a child, gives the same family and so the same grounds.
mod family_is_a_set {
    use housing_ledger::rules::checks::{self, Records};
    use housing_ledger::rules::iin::Iin;
    use housing_ledger::rules::records::RegistryId;
    use housing_ledger::rules::{Procedure, RuleBook};
    use proptest::prelude::*;
    use serde_json::json;

    fn iin(n: u16) -> String {
        (0..10000u16).find_map(|k| Iin::build(2012, 1 + (n % 12) as u32, 1 + (n % 28) as u32, 5, (n * 37 + k) % 10000)).unwrap().to_string()
    }

    /// The grounds of steps 6 and 10 for a recipient whose ЗАГС record names `named`.
    fn grounds(spouse: &str, named: &[String], holder: &str, imprisoned: &str) -> Vec<String> {
        let rs = RuleBook::built_in().select(Procedure::RegistryRemoval, "2026-01-15").unwrap().clone();
        let recipient = "850415350079";
        let zags: Records = [(recipient.to_string(), json!({"marriage": {"spouse_iin": spouse}, "children": named}))].into_iter().collect();
        let family = checks::family(recipient, &zags);
        let ctx = checks::Context { locality: "Астана".into(), ..Default::default() };
        let mut out = Vec::new();
        let gosreestr: Records = [(holder.to_string(), json!({"privatization_contracts": [{"number": "П-1"}]}))].into_iter().collect();
        let step6 = rs.steps.iter().find(|s| s.step == "6").unwrap();
        let (_, g, _) = checks::judge(step6, recipient, &family, &ctx, &[(RegistryId::Gosreestr, &gosreestr)].into_iter().collect());
        out.extend(g.iter().map(|g| format!("{} {} {}", g.code, g.subject_iin, g.registry)));
        let clean = json!({"citizenship": "KZ", "residence_country": "KZ", "declared_missing": false, "declared_dead": false, "legally_incapable": false, "imprisoned": false});
        let mut gbd: Records = std::iter::once(recipient.to_string()).chain(family.members()).map(|m| (m, clean.clone())).collect();
        gbd.insert(imprisoned.to_string(), json!({"declared_missing": false, "declared_dead": false, "imprisoned": true}));
        let step10 = rs.steps.iter().find(|s| s.step == "10").unwrap();
        let empty = Records::new();
        let (_, g, why) = checks::judge(step10, recipient, &family, &ctx, &[(RegistryId::GbdFl, &gbd), (RegistryId::Zags, &empty)].into_iter().collect());
        assert!(why.is_none(), "{why:?}");
        out.extend(g.iter().map(|g| format!("{} {} {}", g.code, g.subject_iin, g.registry)));
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_order_or_repetition_of_the_family_gives_the_same_grounds(
            n in 1usize..5,
            order in proptest::collection::vec(0usize..100, 1..12),
            holder_pick in 0usize..5,
            prisoner_pick in 0usize..5,
            spouse_as_child in any::<bool>(),
            keys in proptest::collection::vec(any::<u32>(), 24),
        ) {
            let spouse = "870602450144".to_string();
            let children: Vec<String> = (0..n as u16).map(iin).collect();
            let holder = children[holder_pick % n].clone();
            let prisoner = children[prisoner_pick % n].clone();
            let plain = grounds(&spouse, &children, &holder, &prisoner);
            // Every child at least once, then any of them again, in any order.
            let mut named: Vec<String> = children.clone();
            named.extend(order.iter().map(|k| children[k % n].clone()));
            if spouse_as_child {
                named.push(spouse.clone());
            }
            // In an order drawn at random.
            let mut keyed: Vec<(u32, String)> = named.into_iter().enumerate().map(|(i, c)| (keys[i], c)).collect();
            keyed.sort();
            let shuffled: Vec<String> = keyed.into_iter().map(|(_, c)| c).collect();
            prop_assert_eq!(grounds(&spouse, &shuffled, &holder, &prisoner), plain.clone());
            // One ground per person: a child named twice is one family member.
            prop_assert_eq!(plain.iter().filter(|g| g.contains(&holder) && g.starts_with("privatization")).count(), 1);
        }
    }
}

/// What a run may judge by (`pipeline::admit`, shared by `run` and the pipeline): the first
/// refusal in the order the CLI has always given them (decision 11, the rule set's validity,
/// `sources.md`).
fn check_admit(as_of: &str, live: bool, trust_list: bool, expect: Expect) {
    let today = housing_ledger::rules::calendar::today().to_string();
    let as_of = if as_of == "TODAY" { today.as_str() } else { as_of };
    let mut book = RuleBook::built_in();
    // An extension order in force until 2099, as version "2-test".
    let mut v: serde_json::Value = serde_json::from_str(include_str!("../../rules/registry-removal-000-v1.json")).unwrap();
    (v["version"], v["valid_from"], v["valid_until"]) = ("2-test".into(), "2026-04-01".into(), "2099-12-31".into());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("extension.json"), v.to_string()).unwrap();
    book.add_file(&dir.path().join("extension.json")).unwrap();
    let got = match housing_ledger::pipeline::admit(&book, Procedure::RegistryRemoval, as_of, live, trust_list) {
        Ok(rules) => format!("ok: {}", rules.version),
        Err(e) => e.to_string(),
    };
    // Today's date varies; the expectation names it TODAY.
    expect.assert_eq(&got.replace(&today, "TODAY"));
}

#[test]
fn a_run_is_admitted_or_refused_before_anything_is_written() {
    check_admit("2026-01-15", false, false, expect!["ok: 1"]);
    check_admit("2026-01-15", true, true, expect!["a run on live sources judges as of the day it runs, TODAY in Kazakhstan, not 2026-01-15 (decision 11); to judge as of another date, declare a simulation with --simulation: it is recorded as one, is not a legal act and delivers no notice through a live gateway"]);
    check_admit("2026-01-15", true, false, expect!["a run on live sources judges as of the day it runs, TODAY in Kazakhstan, not 2026-01-15 (decision 11); to judge as of another date, declare a simulation with --simulation: it is recorded as one, is not a legal act and delivers no notice through a live gateway"]);
    check_admit("TODAY", true, true, expect!["ok: 2-test"]);
    check_admit("TODAY", true, false, expect!["a live run needs a trust list of the sources' keys (--trust FILE, docs/sources.md); the simulator's keys (--registry-seed) serve simulations only. Nothing was written"]);
    check_admit("2100-01-01", false, false, expect!["registry_removal as of 2100-01-01 is outside the validity of its legal basis, order 000 (kz-mod-000-registry-removal v2-test): in force from 2026-04-01 through 2099-12-31; its last day is 2099-12-31"]);
    check_admit("15.01.2026", false, true, expect![[r#"rule set --as-of: "15.01.2026" is not a real YYYY-MM-DD date"#]]);
}
