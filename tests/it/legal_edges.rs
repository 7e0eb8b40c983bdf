//! Issue 34: the legal edges of decisions 18-24 of `algorithm.md`, case by case at each
//! boundary, through the whole pipeline (`render`: statuses, grounds, what was asked, and
//! the records left out as not holding on the decision date).

use crate::common::scenario::{clean_gbd, render};
use expect_test::{expect, Expect};
use housing_ledger::rules::iin::Iin;
use housing_ledger::rules::Procedure;
use serde_json::{json, Value};

/// The decision date of every case here.
const D: &str = "2026-01-15";

async fn check(case: Value, expect: Expect) {
    expect.assert_eq(&render(Procedure::RegistryRemoval, D, case).await);
}

/// A valid IIN of a boy born on `y-m-d`.
fn born(y: i32, m: u32, d: u32) -> String {
    person(y, m, d, 5)
}

/// Decision 18: each dated record kind the day before, the day of and the day after D. Before
/// and on D it counts; after D it is left out and named (a simulation judges as a decision on
/// D would have).
#[tokio::test]
async fn decision_18_a_record_counts_from_its_date() {
    let cases = [("Before", "2026-01-14"), ("On", "2026-01-15"), ("After", "2026-01-16")];
    let mut entries = Vec::new();
    let mut gosreestr = serde_json::Map::new();
    let mut kazreestr = serde_json::Map::new();
    let mut ish = serde_json::Map::new();
    let mut egkn = serde_json::Map::new();
    let mut zags = serde_json::Map::new();
    for (who, date) in cases {
        for kind in ["Contract", "Shared", "Prior", "Fund", "Death", "Married"] {
            let p = format!("@{kind}{who}");
            entries.push(json!({"iin": p}));
            match kind {
                "Contract" => {
                    gosreestr.insert(p, json!({"privatization_contracts": [{"number": "П-1", "date": date}]}));
                }
                "Shared" => {
                    kazreestr.insert(p, json!({"shared_construction_contracts": [{"number": "ДДУ-1", "date": date}]}));
                }
                "Prior" => {
                    ish.insert(p, json!({"prior_station_housing": [{"address": "Балхаш, в/ч 41", "locality": "Балхаш", "kato": "102010000", "since": date}]}));
                }
                "Fund" => {
                    egkn.insert(p, json!({"state_fund_housing": [{"locality": "Астана", "kato": "710000000", "right": "permanent_use", "since": date}]}));
                }
                "Death" => {
                    zags.insert(p, json!({"death": {"date": date, "record": "АЗ-1"}}));
                }
                _ => {
                    // A spouse is family from the marriage's date: her contract counts only then.
                    let spouse = format!("{p}.spouse");
                    zags.insert(p, json!({"marriage": {"spouse_iin": spouse, "since": date}}));
                    gosreestr.insert(spouse, json!({"privatization_contracts": [{"number": "П-9", "date": "2001-01-01"}]}));
                }
            }
        }
    }
    check(
        json!({"entries": entries, "registries": {"gosreestr": gosreestr, "kazreestr": kazreestr, "ish_as_mr": ish, "egkn": egkn, "zags": zags}}),
        expect![[r#"
            ContractBefore: removed | privatization_contract 000:6 recipient ContractBefore via gosreestr
                asked: 5:zags 6:gosreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            SharedBefore: removed | shared_construction_contract 000:7 recipient SharedBefore via kazreestr
                asked: 5:zags 6:gosreestr 7:kazreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            PriorBefore: removed | prior_service_housing 000:8 recipient PriorBefore via ish_as_mr
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            FundBefore: removed | state_fund_housing_in_locality 000:9 recipient FundBefore via egkn
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            DeathBefore: removed | missing_or_deceased 000:10.1 recipient DeathBefore via zags
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            MarriedBefore: removed | privatization_contract 000:6 family_member MarriedBefore.spouse via gosreestr
                asked: 5:zags 6:gosreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            ContractOn: removed | privatization_contract 000:6 recipient ContractOn via gosreestr
                asked: 5:zags 6:gosreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            SharedOn: removed | shared_construction_contract 000:7 recipient SharedOn via kazreestr
                asked: 5:zags 6:gosreestr 7:kazreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            PriorOn: removed | prior_service_housing 000:8 recipient PriorOn via ish_as_mr
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            FundOn: removed | state_fund_housing_in_locality 000:9 recipient FundOn via egkn
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            DeathOn: removed | missing_or_deceased 000:10.1 recipient DeathOn via zags
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            MarriedOn: removed | privatization_contract 000:6 family_member MarriedOn.spouse via gosreestr
                asked: 5:zags 6:gosreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            ContractAfter: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                left out at step 6: after_decision_date gosreestr of ContractAfter: {"date":"2026-01-16","number":"П-1"}
            SharedAfter: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                left out at step 7: after_decision_date kazreestr of SharedAfter: {"date":"2026-01-16","number":"ДДУ-1"}
            PriorAfter: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                left out at step 8: after_decision_date ish_as_mr of PriorAfter: {"address":"Балхаш, в/ч 41","kato":"102010000","locality":"Балхаш","since":"2026-01-16"}
            FundAfter: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                left out at step 9: after_decision_date egkn of FundAfter: {"kato":"710000000","locality":"Астана","right":"permanent_use","since":"2026-01-16"}
            DeathAfter: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                left out at step 10: after_decision_date zags of DeathAfter: {"date":"2026-01-16","record":"АЗ-1"}
            MarriedAfter: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                left out at step 5: after_decision_date zags of MarriedAfter: {"since":"2026-01-16","spouse_iin":"MarriedAfter.spouse"}
            counts: {"removed":12,"retained":6}
        "#]],
    )
    .await;
}

/// Decision 18: a child born after D (by his IIN's birth date) is not family on D.
#[tokio::test]
async fn decision_18_a_child_born_after_the_decision_date_is_not_family() {
    let (before, on, after) = (born(2026, 1, 14), born(2026, 1, 15), born(2026, 1, 16));
    let contract = json!({"privatization_contracts": [{"number": "П-5", "date": "2026-01-14"}]});
    check(
        json!({"entries": [{"iin": "@Before"}, {"iin": "@On"}, {"iin": "@After"}],
               "registries": {"zags": {"@Before": {"children": [before]}, "@On": {"children": [on]}, "@After": {"children": [after]}},
                              "gosreestr": {before.clone(): contract, on.clone(): contract, after.clone(): contract},
                              "gbd_fl": {before.clone(): clean_gbd(), on.clone(): clean_gbd(), after.clone(): clean_gbd()}}}),
        expect![[r#"
            Before: removed | privatization_contract 000:6 family_member 260114510002 via gosreestr
                asked: 5:zags 6:gosreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            On: removed | privatization_contract 000:6 family_member 260115510008 via gosreestr
                asked: 5:zags 6:gosreestr
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            After: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                left out at step 5: after_decision_date zags of After: {"child":"260116510003"}
            counts: {"removed":2,"retained":1}
        "#]],
    )
    .await;
}

/// Decision 21: housing held until the day before D, until D, and until the day after D.
#[tokio::test]
async fn decision_21_holding_means_holding_on_the_decision_date() {
    let mut ish = serde_json::Map::new();
    let mut egkn = serde_json::Map::new();
    let mut entries = Vec::new();
    for (who, until) in [("Before", json!("2026-01-14")), ("On", json!("2026-01-15")), ("After", json!("2026-01-16")), ("Held", Value::Null)] {
        entries.push(json!({"iin": format!("@Prior{who}")}));
        entries.push(json!({"iin": format!("@Fund{who}")}));
        ish.insert(
            format!("@Prior{who}"),
            json!({"prior_station_housing": [{"address": "Балхаш, в/ч 41", "locality": "Балхаш", "kato": "102010000", "since": "2012-09-01", "until": until}]}),
        );
        egkn.insert(
            format!("@Fund{who}"),
            json!({"state_fund_housing": [{"locality": "Астана", "kato": "710000000", "right": "permanent_use", "since": "2017-01-01", "until": until}]}),
        );
    }
    check(json!({"entries": entries, "registries": {"ish_as_mr": ish, "egkn": egkn}}), expect![[r#"
        PriorBefore: retained
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
            left out at step 8: ended_before_decision_date ish_as_mr of PriorBefore: {"address":"Балхаш, в/ч 41","kato":"102010000","locality":"Балхаш","since":"2012-09-01","until":"2026-01-14"}
        FundBefore: retained
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
            left out at step 9: ended_before_decision_date egkn of FundBefore: {"kato":"710000000","locality":"Астана","right":"permanent_use","since":"2017-01-01","until":"2026-01-14"}
        PriorOn: retained
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
            left out at step 8: ended_before_decision_date ish_as_mr of PriorOn: {"address":"Балхаш, в/ч 41","kato":"102010000","locality":"Балхаш","since":"2012-09-01","until":"2026-01-15"}
        FundOn: retained
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
            left out at step 9: ended_before_decision_date egkn of FundOn: {"kato":"710000000","locality":"Астана","right":"permanent_use","since":"2017-01-01","until":"2026-01-15"}
        PriorAfter: removed | prior_service_housing 000:8 recipient PriorAfter via ish_as_mr
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr
            decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
            notice: delivered after 1 attempt(s)
        FundAfter: removed | state_fund_housing_in_locality 000:9 recipient FundAfter via egkn
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
            decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
            notice: delivered after 1 attempt(s)
        PriorHeld: removed | prior_service_housing 000:8 recipient PriorHeld via ish_as_mr
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr
            decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
            notice: delivered after 1 attempt(s)
        FundHeld: removed | state_fund_housing_in_locality 000:9 recipient FundHeld via egkn
            asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
            decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
            notice: delivered after 1 attempt(s)
        counts: {"removed":4,"retained":4}
    "#]]).await;
}

/// Decision 19: "in this settlement" compares КАТО codes. Нур-Султан is Астана under one
/// code; two villages of one name under two codes are two places; an entry without a code (a v1
/// list, simulated) compares names; a housing record without a code against an entry with one
/// is malformed.
#[tokio::test]
async fn decision_19_a_place_is_its_kato_code() {
    let fund = |locality: &str, kato: Option<&str>| {
        // `null`: no code (the scenarios fill in a code only where the record names none).
        json!({"state_fund_housing": [{"locality": locality, "kato": kato, "right": "permanent_use", "since": "2017-01-01"}]})
    };
    check(
        json!({"entries": [
                   {"iin": "@Renamed"},
                   {"iin": "@Village", "locality": "Көктерек", "kato": "195249100"},
                   {"iin": "@Samevillage", "locality": "Көктерек", "kato": "195249100"},
                   {"iin": "@NamesOnly", "kato": null},
                   {"iin": "@NoCode"}],
               "registries": {"egkn": {
                   "@Renamed": fund("Нур-Султан", Some("710000000")),
                   "@Village": fund("Көктерек", Some("635655100")),
                   "@Samevillage": fund("Көктерек", Some("195249100")),
                   "@NamesOnly": fund("Астана", None),
                   "@NoCode": fund("Астана", None)}}}),
        expect![[r#"
            Renamed: removed | state_fund_housing_in_locality 000:9 recipient Renamed via egkn
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            Village: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
            Samevillage: removed | state_fund_housing_in_locality 000:9 recipient Samevillage via egkn
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            NamesOnly: removed | state_fund_housing_in_locality 000:9 recipient NamesOnly via egkn
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            NoCode: incomplete
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn
                incomplete at step 9: egkn: state-fund housing of NoCode in "Астана" carries no КАТО code: the answer is malformed (decision 19)
            counts: {"incomplete":1,"removed":3,"retained":1}
        "#]],
    )
    .await;
}

/// Decision 20: a stateless recipient is not a citizen (10.2 found); a missing citizenship
/// stays unjudged.
#[tokio::test]
async fn decision_20_statelessness_is_a_value() {
    let gbd = |citizenship: Value| {
        let mut g = clean_gbd();
        g["citizenship"] = citizenship;
        g
    };
    check(
        json!({"entries": [{"iin": "@Stateless"}, {"iin": "@Citizen"}],
               "registries": {"gbd_fl": {"@Stateless": gbd(json!("stateless")), "@Citizen": gbd(json!("KZ"))}}}),
        expect![[r#"
            Stateless: removed | not_citizen 000:10.2 recipient Stateless via gbd_fl
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
                decision: confirmed by Полковник Омаров (chairman, housing commission, unit 12345)
                notice: delivered after 1 attempt(s)
            Citizen: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
            counts: {"removed":1,"retained":1}
        "#]],
    )
    .await;
}

/// Decision 18 in a live run: a record dated after D (today) can only be a fault, so the
/// answer is malformed and the check incomplete; an ended record is history either way.
#[test]
fn decision_18_a_future_record_in_a_live_run_is_a_fault() {
    use housing_ledger::rules::checks::{on_decision_date, Context, Records};
    use housing_ledger::rules::records::RegistryId;
    let records: Records = [("850415350079".to_string(), json!({"privatization_contracts": [{"number": "П-1", "date": "2026-01-16"}]}))].into_iter().collect();
    let ctx = |live| Context { locality: "Астана".into(), kato: Some("710000000".into()), as_of: Some(D.into()), live };
    let mut left_out = Vec::new();
    let e = on_decision_date(RegistryId::Gosreestr, &records, &ctx(true), &mut left_out).unwrap_err();
    assert!(e.to_string().contains("dated 2026-01-16, after the decision date 2026-01-15: the answer is malformed (decision 18)"), "{e}");
    let kept = on_decision_date(RegistryId::Gosreestr, &records, &ctx(false), &mut left_out).unwrap();
    assert_eq!(kept["850415350079"]["privatization_contracts"], json!([]));
    assert_eq!(left_out.len(), 1);
    // No decision date (a run recorded before decision 18): the records as they are.
    let as_recorded = on_decision_date(RegistryId::Gosreestr, &records, &Context { as_of: None, ..ctx(true) }, &mut left_out).unwrap();
    assert_eq!(as_recorded, records);
}

/// Decision 19 in a live run: a list entry without its settlement's code is invalid input (a
/// live decision never compares names); with a malformed code too.
#[test]
fn decision_19_a_live_entry_needs_its_kato_code() {
    use housing_ledger::rules::control::check_entry;
    use housing_ledger::rules::RuleBook;
    let rs = RuleBook::built_in().select(Procedure::RegistryRemoval, D).unwrap().clone();
    let entry = |kato: Value| json!({"iin": "850415350079", "surname": "А", "name": "Б", "category": "serviceman", "locality": "Астана", "kato": kato, "consent": true, "queue_number": 1, "registered_on": "2019-03-01"});
    let reasons = |kato: Value, live: bool| check_entry(&rs, Procedure::RegistryRemoval, D, live, &entry(kato)).err().unwrap_or_default().join("; ");
    expect![[r#"kato: missing (decision 19: a settlement is its КАТО code; a live decision does not compare names)"#]].assert_eq(&reasons(Value::Null, true));
    expect![[r#""#]].assert_eq(&reasons(Value::Null, false));
    expect![[r#"kato: "71000000" is not a КАТО code (nine digits)"#]].assert_eq(&reasons(json!("71000000"), false));
    expect![[r#""#]].assert_eq(&reasons(json!("710000000"), true));
}

/// The offline verifier judges as the run did: a bundle whose person was retained because his
/// contract is dated after D verifies, and its proposal-free status re-derives; a removal on a
/// record dated D verifies too.
#[tokio::test]
async fn bundles_re_derive_with_the_runs_decision_date() {
    use crate::common::scenario::{complete, iin_for, run_fixture};
    use crate::common::{Backend, Place};
    use devtools::sim::DEFAULT_SIM_SEED;
    use housing_ledger::proof;
    use housing_ledger::registry::fixture::Fixture;
    use housing_ledger::rules::RuleBook;
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@After"}, {"iin": "@On"}],
               "registries": {"gosreestr": {"@After": {"privatization_contracts": [{"number": "П-1", "date": "2026-01-16"}]},
                                            "@On": {"privatization_contracts": [{"number": "П-2", "date": D}]}}}}),
    );
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    run_fixture(&ledger, Fixture::parse("c", &fx.to_string()).unwrap()).await;
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    for (who, status) in [("After", "retained"), ("On", "removed")] {
        let b = proof::build(&ledger, &keys, &iin_for(who), Procedure::RegistryRemoval).await.unwrap();
        let v = proof::verify(&b, &ledger.signer().verifier(), &RuleBook::built_in(), &proof::Sources::List(keys.clone())).unwrap();
        assert_eq!(v.status.to_string(), status, "{who}");
    }
}

/// Decision 24: one person, one entry. Identical entries are one (the first is taken);
/// entries that differ are both rejected, naming the fields, in either order, and go back to
/// ИШ АС МР with the list submission. (Before, the first was judged and the outcome hung on the
/// list's order.)
#[tokio::test]
async fn decision_24_one_person_one_entry() {
    let astana = json!({"iin": "@Twice", "category": "civilian", "queue_number": 6085});
    let shymkent = json!({"iin": "@Twice", "category": "serviceman", "locality": "Шымкент", "queue_number": 16395});
    let case = |entries: Value| json!({"entries": entries, "registries": {"egkn": {"@Twice": {"state_fund_housing": [{"locality": "Шымкент", "right": "permanent_use", "since": "2017-01-01"}]}}}});
    check(
        case(json!([{"iin": "@Same", "queue_number": 7}, {"iin": "@Same", "queue_number": 7}, astana, shymkent])),
        expect![[r#"
            Same: retained
                asked: 5:zags 6:gosreestr 7:kazreestr 8:ish_as_mr 9:egkn 10:gbd_fl 10:zags
            Same: invalid_input ["iin: 850226339972 appears more than once in the list with identical entries: one entry, the first, is taken (decision 24)"]
            Twice: invalid_input ["conflicting_entries: 850618390255 is listed more than once with entries that differ in category, kato, locality, queue_number; none is judged until the list is consistent (decision 24)"]
            Twice: invalid_input ["conflicting_entries: 850618390255 is listed more than once with entries that differ in category, kato, locality, queue_number; none is judged until the list is consistent (decision 24)"]
            counts: {"invalid_input":3,"retained":1}
        "#]],
    )
    .await;
    check(case(json!([shymkent, astana])), expect![[r#"
        Twice: invalid_input ["conflicting_entries: 850618390255 is listed more than once with entries that differ in category, kato, locality, queue_number; none is judged until the list is consistent (decision 24)"]
        Twice: invalid_input ["conflicting_entries: 850618390255 is listed more than once with entries that differ in category, kato, locality, queue_number; none is judged until the list is consistent (decision 24)"]
        counts: {"invalid_input":2}
    "#]]).await;
}

#[tokio::test]
async fn decision_24_conflicts_go_back_with_the_list() {
    use crate::common::scenario::{complete, run_fixture};
    use crate::common::{Backend, Place};
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@Twice", "queue_number": 1}, {"iin": "@Twice", "queue_number": 2}, {"iin": "@Other"}]}),
    );
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("c", &fx.to_string()).unwrap()).await;
    let rejected: Vec<u64> = ledger.log().read_by_type("InputRejected", 0, 10).await.unwrap().iter().map(|e| e.seq).collect();
    let submitted = ledger.log().read_by_type("ListSubmitted", 0, 10).await.unwrap();
    let conflicts: Vec<u64> = submitted[0].data["conflicts"].as_array().unwrap().iter().map(|r| r.as_u64().unwrap()).collect();
    assert_eq!((rejected.len(), conflicts), (2, rejected), "both entries rejected, both reported");
}

/// A valid IIN born `y-m-d` with century-and-sex digit `sex` (3, 5: a man; 4, 6: a woman).
fn person(y: i32, m: u32, d: u32, sex: u8) -> String {
    (1000..9999).find_map(|serial| Iin::build(y, m, d, sex, serial)).unwrap().to_string()
}

/// Decision 22: every notice keeps the annex's wording and then says what was found (each
/// ground's record, whose it is, the registry) and how to contest, in Kazakh and Russian. One
/// person per ground and subject kind; the texts after the annex's, in both languages.
#[tokio::test]
async fn decision_22_notices_explain_themselves() {
    use crate::common::scenario::{complete, iin_for, run_fixture};
    use crate::common::{Backend, Place};
    let (husband, wife, son, daughter) = (person(1984, 2, 3, 3), person(1986, 7, 8, 4), person(2010, 5, 6, 5), person(2012, 9, 10, 6));
    let gbd = |f: &str, v: Value| {
        let mut g = clean_gbd();
        g[f] = v;
        g
    };
    let (fx, names) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@Contract"}, {"iin": "@Wife"}, {"iin": "@Husband"}, {"iin": "@Son"}, {"iin": "@Daughter"}, {"iin": "@Shared"},
                           {"iin": "@Prior"}, {"iin": "@Fund"}, {"iin": "@Dead"}, {"iin": "@Missing"}, {"iin": "@Stateless"}, {"iin": "@Abroad"},
                           {"iin": "@Incapable"}, {"iin": "@Prison"}],
               "registries": {
                   "zags": {"@Wife": {"marriage": {"spouse_iin": wife, "since": "2010-06-12"}}, "@Husband": {"marriage": {"spouse_iin": husband, "since": "2009-01-01"}},
                            "@Son": {"children": [son]}, "@Daughter": {"children": [daughter]}, "@Dead": {"death": {"date": "2025-11-03", "record": "АЗ-77"}}},
                   "gosreestr": {"@Contract": {"privatization_contracts": [{"number": "П-1", "date": "2004-05-06", "address": "Караганда, ул. Ерубаева, 1"}]},
                                 wife.clone(): {"privatization_contracts": [{"number": "П-2", "date": "2008-03-02"}]},
                                 husband.clone(): {"privatization_contracts": [{"number": "П-3"}]},
                                 son.clone(): {"privatization_contracts": [{"number": "П-4", "date": "2019-12-16"}]},
                                 daughter.clone(): {"privatization_contracts": [{"number": "П-5"}]}},
                   "kazreestr": {"@Shared": {"shared_construction_contracts": [{"number": "ДДУ-9", "date": "2022-03-01", "object": "ЖК Алатау"}]}},
                   "ish_as_mr": {"@Prior": {"prior_station_housing": [{"address": "Балхаш, в/ч 41", "locality": "Балхаш", "kato": "102010000", "duty_station": "в/ч 41", "since": "2012-09-01", "until": null}]}},
                   "egkn": {"@Fund": {"state_fund_housing": [{"address": "Нур-Султан, ул. Абая 1", "locality": "Нур-Султан", "kato": "710000000", "right": "permanent_use", "since": "2017-01-01"}]}},
                   "gbd_fl": {"@Missing": gbd("declared_missing", json!(true)), "@Stateless": gbd("citizenship", json!("stateless")), "@Abroad": gbd("residence_country", json!("DE")),
                              "@Incapable": gbd("legally_incapable", json!(true)), "@Prison": gbd("imprisoned", json!(true)),
                              wife.clone(): clean_gbd(), husband.clone(): clean_gbd(), son.clone(): clean_gbd(), daughter.clone(): clean_gbd()}}}),
    );
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("c", &fx.to_string()).unwrap()).await;
    let notices = ledger.log().read_by_type("NoticeIssued", 0, 100).await.unwrap();
    let name = |iin: &str| names.get(iin).cloned().unwrap_or_else(|| iin.to_string());
    let mut out = String::new();
    for who in ["Contract", "Wife", "Husband", "Son", "Daughter", "Shared", "Prior", "Fund", "Dead", "Missing", "Stateless", "Abroad", "Incapable", "Prison"] {
        let n = notices.iter().find(|n| n.data["iin"] == iin_for(who).as_str()).unwrap_or_else(|| panic!("no notice for {who}"));
        for lang in ["kk", "ru"] {
            let text = n.data["text"][lang].as_str().unwrap();
            let (annex, added) = text.split_once("\n\n").unwrap();
            assert!(annex.starts_with(if lang == "kk" { "Құрметті" } else { "Уважаемый" }), "the annex's wording comes first");
            let found = added.split("\n\n").next().unwrap();
            out.push_str(&format!("{} {lang}: {}\n", name(&iin_for(who)), found.replace('\n', "\n    ")));
        }
    }
    // How to contest: once for all, it is the same paragraph in every notice.
    let last = notices[0].data["text"]["ru"].as_str().unwrap().rsplit("\n\n").next().unwrap().to_string();
    let last_kk = notices[0].data["text"]["kk"].as_str().unwrap().rsplit("\n\n").next().unwrap().to_string();
    out.push_str(&format!("contest kk: {last_kk}\ncontest ru: {last}\n"));
    expect![[r#"
        Contract kk: Анықталғаны:
            – тұрғынжайды жекешелендіру туралы шарт № П-1, күні: 2004 жылғы 6 мамыр, мекенжайы: Караганда, ул. Ерубаева, 1 — Сізге қатысты (дереккөз: Мемлекеттік тізілім).
        Contract ru: Что установлено:
            – договор о приватизации жилища № П-1 от 6 мая 2004 г., адрес: Караганда, ул. Ерубаева, 1 — в отношении Вас (источник: ГосРеестр).
        Wife kk: Анықталғаны:
            – тұрғынжайды жекешелендіру туралы шарт № П-2, күні: 2008 жылғы 2 наурыз — жұбайыңызға қатысты, 1986 жылы туған (дереккөз: Мемлекеттік тізілім).
        Wife ru: Что установлено:
            – договор о приватизации жилища № П-2 от 2 марта 2008 г. — в отношении супруги, 1986 г. р. (источник: ГосРеестр).
        Husband kk: Анықталғаны:
            – тұрғынжайды жекешелендіру туралы шарт № П-3 — жұбайыңызға қатысты, 1984 жылы туған (дереккөз: Мемлекеттік тізілім).
        Husband ru: Что установлено:
            – договор о приватизации жилища № П-3 — в отношении супруга, 1984 г. р. (источник: ГосРеестр).
        Son kk: Анықталғаны:
            – тұрғынжайды жекешелендіру туралы шарт № П-4, күні: 2019 жылғы 16 желтоқсан — ұлыңызға қатысты, 2010 жылы туған (дереккөз: Мемлекеттік тізілім).
        Son ru: Что установлено:
            – договор о приватизации жилища № П-4 от 16 декабря 2019 г. — в отношении сына, 2010 г. р. (источник: ГосРеестр).
        Daughter kk: Анықталғаны:
            – тұрғынжайды жекешелендіру туралы шарт № П-5 — қызыңызға қатысты, 2012 жылы туған (дереккөз: Мемлекеттік тізілім).
        Daughter ru: Что установлено:
            – договор о приватизации жилища № П-5 — в отношении дочери, 2012 г. р. (источник: ГосРеестр).
        Shared kk: Анықталғаны:
            – тұрғын үй салуға үлестік қатысу туралы шарт № ДДУ-9, күні: 2022 жылғы 1 наурыз, нысаны: ЖК Алатау — Сізге қатысты (дереккөз: Қазтізілім).
        Shared ru: Что установлено:
            – договор о долевом участии в жилищном строительстве № ДДУ-9 от 1 марта 2022 г., объект: ЖК Алатау — в отношении Вас (источник: Казреестр).
        Prior kk: Анықталғаны:
            – бұрынғы қызмет орны бойынша қызметтік тұрғынжай, мекенжайы: Балхаш, в/ч 41, қызмет орны: в/ч 41, елді мекен: Балхаш, берілген күні: 2012 жылғы 1 қыркүйек — Сізге қатысты (дереккөз: ЖР АЖ ИШ).
        Prior ru: Что установлено:
            – служебное жилище по прежнему месту службы, адрес: Балхаш, в/ч 41, место службы: в/ч 41, населённый пункт: Балхаш, предоставлено с 1 сентября 2012 г. — в отношении Вас (источник: ИШ АС МР).
        Fund kk: Анықталғаны:
            – мемлекеттік тұрғын үй қорынан тұрақты пайдаланудағы тұрғынжай, мекенжайы: Нур-Султан, ул. Абая 1, елді мекен: Нур-Султан, берілген күні: 2017 жылғы 1 қаңтар — Сізге қатысты (дереккөз: ЖМБМК).
        Fund ru: Что установлено:
            – жилище из государственного жилищного фонда в постоянном пользовании, адрес: Нур-Султан, ул. Абая 1, населённый пункт: Нур-Султан, предоставлено с 1 января 2017 г. — в отношении Вас (источник: ЕГКН).
        Dead kk: Анықталғаны:
            – қайтыс болу туралы акт жазбасы № АЗ-77, күні: 2025 жылғы 3 қараша — Сізге қатысты (дереккөз: АХАЖ).
        Dead ru: Что установлено:
            – запись акта о смерти № АЗ-77 от 3 ноября 2025 г. — в отношении Вас (источник: ЗАГС).
        Missing kk: Анықталғаны:
            – хабар-ошарсыз кетті деп тану — Сізге қатысты (дереккөз: ЖТ МДҚ).
        Missing ru: Что установлено:
            – признание безвестно отсутствующим — в отношении Вас (источник: ГБД ФЛ).
        Stateless kk: Анықталғаны:
            – азаматтығы жоқ адам — Сізге қатысты (дереккөз: ЖТ МДҚ).
        Stateless ru: Что установлено:
            – лицо без гражданства — в отношении Вас (источник: ГБД ФЛ).
        Abroad kk: Анықталғаны:
            – тұрақты тұратын елі: DE — Сізге қатысты (дереккөз: ЖТ МДҚ).
        Abroad ru: Что установлено:
            – страна постоянного проживания: DE — в отношении Вас (источник: ГБД ФЛ).
        Incapable kk: Анықталғаны:
            – сот шешімімен әрекетке қабілетсіз деп тану — Сізге қатысты (дереккөз: ЖТ МДҚ).
        Incapable ru: Что установлено:
            – признание недееспособным по решению суда — в отношении Вас (источник: ГБД ФЛ).
        Prison kk: Анықталғаны:
            – бас бостандығынан айыру орнында болу — Сізге қатысты (дереккөз: ЖТ МДҚ).
        Prison ru: Что установлено:
            – нахождение в местах лишения свободы — в отношении Вас (источник: ГБД ФЛ).
        contest kk: Шешімге шағым жасау тәртібі: осы хабарлама Сізге тапсырылған күннен бастап үш ай ішінде шешім қабылдаған органға (chairman, housing commission, unit 12345) шағым бере аласыз. Мерзімнің соңғы күні демалыс немесе мереке күніне келсе, мерзім одан кейінгі бірінші жұмыс күні аяқталады. Шешім қабылдаған орган Сіздің өтінішіңіз бойынша оның орындалуын тоқтата тұруы мүмкін.
        contest ru: Порядок обжалования: Вы вправе подать жалобу в орган, принявший решение (chairman, housing commission, unit 12345), в течение трёх месяцев со дня вручения Вам настоящего уведомления. Если последний день срока приходится на выходной или праздничный день, срок истекает в первый следующий за ним рабочий день. Орган, принявший решение, может по Вашему заявлению приостановить его исполнение.
    "#]].assert_eq(&out);
}

/// Decision 22: `GET /v1/persons/{iin}` gives the explanation as data: the findings, and how to
/// contest with the last day counted from the delivery (decision 17).
#[tokio::test]
async fn the_person_route_gives_the_explanation_as_data() {
    use crate::common::scenario::{complete, iin_for, run_fixture};
    use crate::common::{Backend, Place};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@P"}], "registries": {"gosreestr": {"@P": {"privatization_contracts": [{"number": "П-9", "date": "2001-01-01"}]}}}}),
    );
    let place = Place::new(Backend::Sqlite, None);
    let ledger = std::sync::Arc::new(place.ledger().await);
    run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("c", &fx.to_string()).unwrap()).await;
    let state = housing_ledger::api::AppState::new(ledger.clone(), devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED));
    let (token, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Auditor, "").await.unwrap();
    let req = axum::http::Request::builder()
        .uri(format!("/v1/persons/{}", iin_for("P")))
        .header("Authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = housing_ledger::app(state.clone()).oneshot(req).await.unwrap();
    let v: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let e = &v["procedures"]["registry_removal"]["explanation"];
    let delivered = ledger.log().read_by_type("NoticeDelivered", 0, 1).await.unwrap()[0].time.clone();
    let on = housing_ledger::rules::calendar::local_date_of(&delivered).unwrap();
    let last = housing_ledger::rules::calendar::appeal_deadline(housing_ledger::rules::calendar::Calendar::built_in(), on).last_day;
    assert_eq!(e["findings"][0]["records"][0]["number"], "П-9", "{e}");
    assert_eq!((e["findings"][0]["whose"].as_str(), e["findings"][0]["registry"].as_str()), (Some("recipient"), Some("gosreestr")));
    assert_eq!(e["contest"]["to"], "chairman, housing commission, unit 12345");
    assert_eq!(e["contest"]["delivered_on"], on.to_string());
    assert_eq!(e["contest"]["last_day"], last.to_string());
    assert_eq!(e["contest"]["suspension_on_request"], true);
    assert!(e["text"]["ru"].as_str().unwrap().starts_with("Что установлено:\n– договор о приватизации жилища № П-9 от 1 января 2001 г."), "{e}");
    state.background.shutdown().await;
}
