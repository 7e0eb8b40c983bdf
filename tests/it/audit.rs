//! `audit`: a ledger the service wrote is clean, and each kind of finding, planted behind the
//! service's back (events signed with the ledger's own key, appended past the rules, as an
//! operator holding the key could), is found and located at its seq.

use crate::common::scenario::{complete, iin_for, run_fixture};
use crate::common::{Backend, Place};
use events::catalogue as ev;
use events::catalogue::Ref;
use events::{Event, NewEvent};
use housing_ledger::audit::{audit, Finding};
use housing_ledger::ledger::Ledger;
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::rules::{Procedure, RuleBook};
use serde_json::json;

struct World {
    _place: Place,
    ledger: Ledger,
}

/// One removal run: A removed (his spouse privatised), B retained, C incomplete (the cadastre
/// unreachable).
async fn world() -> World {
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@A"}, {"iin": "@B"}, {"iin": "@C"}],
               "registries": {"zags": {"@A": {"marriage": {"spouse_iin": "@A.spouse"}}}, "gosreestr": {"@A.spouse": {"privatization_contracts": [{"number": "П-2"}]}}},
               "faults": [{"registry": "egkn", "iin": "@C", "kind": "unavailable"}]}),
    );
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    run_fixture(&ledger, Fixture::parse("audit", &fx.to_string()).unwrap()).await;
    World { _place: place, ledger }
}

impl World {
    async fn person(&self, who: &str) -> Vec<Event> {
        self.ledger.log().read_stream(&format!("person:{}", iin_for(who)), None).await.unwrap()
    }

    async fn of_kind(&self, who: &str, kind: &str) -> Event {
        self.person(who).await.into_iter().find(|e| e.kind == kind).unwrap_or_else(|| panic!("{who} has no {kind}"))
    }

    /// Appends past the rules; returns the seqs written.
    async fn plant(&self, events: Vec<NewEvent>) -> Vec<u64> {
        self.ledger.append(events).await.unwrap().iter().map(|e| e.seq).collect()
    }

    async fn findings(&self) -> Vec<Finding> {
        audit(&self.ledger, &RuleBook::built_in(), Some(&devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED)), |_, _| {}).await.unwrap().findings
    }
}

/// The findings as `at who: what`, the seqs in `named` by their names, the persons by
/// their scenario names.
fn check(findings: &[Finding], named: &[(&str, u64)], expect: expect_test::Expect) {
    let who = |iin: &str| ["A", "B", "C"].into_iter().find(|p| iin_for(p) == iin).map(String::from).unwrap_or_else(|| iin.to_string());
    let shown: String = findings
        .iter()
        .map(|f| {
            let at = named.iter().find(|(_, s)| *s == f.seq).map(|(n, _)| n.to_string()).unwrap_or_else(|| format!("seq {}", f.seq));
            let what = named.iter().fold(f.what.clone(), |w, (n, s)| w.replace(&format!("seq {s}"), n));
            format!("{at} {}: {what}\n", who(&f.iin))
        })
        .collect();
    expect.assert_eq(&shown);
}

fn actor(token: &str, holder_id: &str) -> ev::Actor {
    ev::Actor { token: token.into(), role: "appeals_officer".into(), holder: "Officer".into(), holder_id: holder_id.into() }
}

#[tokio::test]
async fn a_ledger_the_service_wrote_is_clean() {
    let w = world().await;
    let report = audit(&w.ledger, &RuleBook::built_in(), Some(&devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED)), |_, _| {}).await.unwrap();
    assert_eq!((report.decisions, report.findings), (2, vec![]), "A's proposal and B's retention re-derived; C has neither");
}

#[tokio::test]
async fn a_proposal_that_does_not_follow_from_the_answers() {
    let w = world().await;
    // A's recorded answers, written again, then a retention they do not allow.
    let a = w.person("A").await;
    let proposal = a.iter().find(|e| e.kind == "DecisionProposed").unwrap().decode::<ev::DecisionProposed>().unwrap();
    let mut again: Vec<NewEvent> = a
        .iter()
        .take_while(|e| e.kind != "DecisionProposed")
        .filter(|e| ["ListEntryReceived", "RegistryQueried", "RegistryResponded"].contains(&e.kind.as_str()))
        .map(|e| NewEvent::new(e.stream.clone(), e.kind.clone(), e.data.clone()))
        .collect();
    again.push(NewEvent::typed(
        format!("person:{}", iin_for("A")),
        ev::PersonRetained { run: proposal.run, procedure: proposal.procedure, rule_set_sha256: proposal.rule_set_sha256, evidence: vec![] },
    ));
    let planted = w.plant(again).await;
    let retained = *planted.last().unwrap();
    check(
        &w.findings().await,
        &[("@retained", retained)],
        expect_test::expect![[r#"
            @retained A: the person was retained although the answers show a ground
        "#]],
    );
}

#[tokio::test]
async fn a_decision_on_an_incomplete_check() {
    let w = world().await;
    // A's proposal and decision, written again as C's.
    let proposed = w.of_kind("A", "DecisionProposed").await.decode::<ev::DecisionProposed>().unwrap();
    let stream = format!("person:{}", iin_for("C"));
    let planted = w.plant(vec![NewEvent::typed(stream.clone(), proposed)]).await;
    let mut taken = w.of_kind("A", "DecisionTaken").await.decode::<ev::DecisionTaken>().unwrap();
    taken.proposal = Ref::Seq(planted[0]);
    let taken = w.plant(vec![NewEvent::typed(stream, taken)]).await;
    check(
        &w.findings().await,
        &[("@proposed", planted[0]), ("@taken", taken[0])],
        expect_test::expect![[r#"
            @proposed C: a decision was proposed although a check could not decide
            @proposed C: the proposal cannot be re-derived from the recorded answers: step 9: no verified answer from egkn
            @taken C: a decision was taken although a check could not decide
        "#]],
    );
}

#[tokio::test]
async fn a_notice_without_a_confirmed_decision_by_an_identified_official() {
    let w = world().await;
    let first = w.of_kind("A", "DecisionTaken").await;
    let mut taken = first.decode::<ev::DecisionTaken>().unwrap();
    let first = first.seq;
    let sent = w.ledger.log().read_all_by_type("NoticeIssued").await.unwrap().remove(0).decode::<ev::NoticeIssued>().unwrap();
    let notice =
        |iin: String, decision: u64| NewEvent::typed(format!("notice:planted-{iin}"), ev::NoticeIssued { iin, decision: Ref::Seq(decision), ..sent.clone() });
    let stream = format!("person:{}", iin_for("A"));
    // Decisions on A's proposal: rejected; confirmed by no identified official. A notice of
    // each, and one of B, on whom nothing was decided.
    taken.outcome = ev::DecisionOutcome::Declined;
    let declined = w.plant(vec![NewEvent::typed(stream.clone(), taken.clone())]).await[0];
    taken.outcome = ev::DecisionOutcome::Confirmed;
    taken.official = None;
    let nobody = w.plant(vec![NewEvent::typed(stream, taken)]).await[0];
    let retained = w.of_kind("B", "PersonRetained").await.seq;
    let notices = w.plant(vec![notice(iin_for("A"), declined), notice(iin_for("A"), nobody), notice(iin_for("B"), retained)]).await;
    check(
        &w.findings().await,
        &[("@first", first), ("@nobody", nobody), ("@notice-of-declined", notices[0]), ("@notice-of-nobody", notices[1]), ("@notice-of-b", notices[2])],
        expect_test::expect![[r#"
            @nobody A: a second decision stands for registry_removal (the first, @first, was never overturned)
            @notice-of-declined A: a notice of a decision that was not confirmed
            @notice-of-nobody A: a notice of a decision by no identified official
            @notice-of-b B: a notice that follows no decision
        "#]],
    );
}

#[tokio::test]
async fn a_second_decision_that_stands() {
    let w = world().await;
    let first = w.of_kind("A", "DecisionTaken").await;
    let again = w.plant(vec![NewEvent::new(first.stream.clone(), first.kind.clone(), first.data.clone())]).await[0];
    check(
        &w.findings().await,
        &[("@first", first.seq), ("@again", again)],
        expect_test::expect![[r#"
            @again A: a second decision stands for registry_removal (the first, @first, was never overturned)
        "#]],
    );
}

#[tokio::test]
async fn appeals_resolved_by_the_decider_and_filed_without_a_read() {
    let w = world().await;
    let decided = w.of_kind("A", "DecisionTaken").await;
    let d = decided.decode::<ev::DecisionTaken>().unwrap();
    let decider = d.official.clone().unwrap().id;
    let iin = iin_for("A");
    let filed = |appeal: &str, token: &str| {
        NewEvent::new(
            events::types::appeal_stream(appeal),
            "AppealFiled",
            json!({"appeal": appeal, "iin": iin, "procedure": "registry_removal", "run": d.run, "notice": null, "decision": decided.seq,
                   "decided_by": d.decided_by, "decided_by_id": decider, "delivered_on": null, "received_on": "2026-02-01", "deadline": null,
                   "deadline_moved_from": null, "deadline_unchecked": null, "late": false, "late_reason": null, "contested_step": "6",
                   "grounds": "not mine", "filed_by": actor(token, &iin_for("Officer"))}),
        )
    };
    let resolved = |appeal: &str, by: &str| {
        NewEvent::new(
            events::types::appeal_stream(appeal),
            "AppealResolved",
            json!({"appeal": appeal, "iin": iin, "procedure": "registry_removal", "outcome": "upheld", "reason": "as decided",
                   "resolved_by": actor("tok-resolver", by), "recheck": null, "grounds": [], "reinstated": null}),
        )
    };
    let read = ev::PersonalDataReads {
        reads: vec![ev::Read { token: "tok-read".into(), role: "appeals_officer".into(), read: "appeal-filing".into(), iins: vec![iin.clone()] }],
    };
    let seqs = w
        .plant(vec![
            NewEvent::typed(events::types::READS_STREAM, read),
            filed("ap-1", "tok-read"),
            resolved("ap-1", &decider),
            filed("ap-2", "tok-unread"),
            resolved("ap-2", &iin_for("Other")),
        ])
        .await;
    check(
        &w.findings().await,
        &[("@filed-after-read", seqs[1]), ("@resolved-by-decider", seqs[2]), ("@filed-unread", seqs[3]), ("@resolved-by-other", seqs[4])],
        expect_test::expect![[r#"
            @resolved-by-decider A: appeal ap-1 was resolved by the official who took the decision
            @filed-unread A: appeal ap-2 was filed by token tok-unread with no recorded read of the person's data
        "#]],
    );
}

/// The built-in removal rule set's file, changed by `change`, as another rule set.
fn changed_rule_set(change: impl FnOnce(&mut serde_json::Value)) -> housing_ledger::rules::RuleSet {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root.join("rules/registry-removal-000-v1.json")).unwrap()).unwrap();
    change(&mut doc);
    housing_ledger::rules::RuleSet::from_json("what-if.json", &doc.to_string()).unwrap()
}

/// A removed at step 6 (his spouse privatised; steps 7 on never asked), B retained, D holding
/// state-fund housing for permanent use in another locality than his list's (retained).
async fn what_if_world() -> World {
    let (fx, _) = complete(
        Procedure::RegistryRemoval,
        json!({"entries": [{"iin": "@A"}, {"iin": "@B"}, {"iin": "@D"}],
               "registries": {"zags": {"@A": {"marriage": {"spouse_iin": "@A.spouse"}}},
                              "gosreestr": {"@A.spouse": {"privatization_contracts": [{"number": "П-2"}]}},
                              "egkn": {"@D": {"state_fund_housing": [{"address": "ул. 1", "locality": "Алматы", "right": "permanent_use", "since": "2017-01-01"}]}}}}),
    );
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    run_fixture(&ledger, Fixture::parse("what-if", &fx.to_string()).unwrap()).await;
    World { _place: place, ledger }
}

/// What `what-if` reports, persons by their scenario names.
async fn what_if_shown(w: &World, rs: &housing_ledger::rules::RuleSet) -> String {
    let r = housing_ledger::audit::what_if(&w.ledger, rs, &RuleBook::built_in(), None, |_, _| {}).await.unwrap();
    let who = |iin: &str| ["A", "B", "D"].into_iter().find(|p| iin_for(p) == iin).unwrap_or("?");
    let mut out = format!("{} persons\n", r.persons);
    for c in &r.changed {
        out += &format!("changed {} {} ({}): {} -> {}, {:?} -> {:?}\n", who(&c.iin), c.procedure, c.locality, c.from, c.to, c.grounds_from, c.grounds_to);
    }
    for ((what, value), n) in r.counts() {
        out += &format!("count {what} {value}: {n}\n");
    }
    for c in &r.cannot_tell {
        out += &format!("cannot tell {} {}: {}\n", who(&c.iin), c.procedure, c.why);
    }
    out
}

/// What is changed in the rule set, how, and what `what-if` must report.
type WhatIfCase = (&'static str, Box<dyn FnOnce(&mut serde_json::Value)>, expect_test::Expect);

#[tokio::test]
async fn what_if_diffs_recorded_answers_under_another_rule_set() {
    let w = what_if_world().await;
    let cases: [WhatIfCase; 4] = [
        (
            "the same rule set",
            Box::new(|_| {}),
            expect_test::expect![[r#"
                the same rule set
                3 persons
            "#]],
        ),
        (
            "an extension order: a later valid_until, a new version",
            Box::new(|d| {
                d["version"] = json!("2");
                d["valid_until"] = json!("2027-03-31");
            }),
            expect_test::expect![[r#"
                an extension order: a later valid_until, a new version
                3 persons
            "#]],
        ),
        (
            "step 6 (privatisation) removed: what A's run never asked cannot be told",
            Box::new(|d| d["steps"].as_array_mut().unwrap().retain(|s| s["step"] != "6")),
            expect_test::expect![[r#"
                step 6 (privatisation) removed: what A's run never asked cannot be told
                3 persons
                cannot tell A registry_removal: cannot tell without asking: step 7: no verified answer from kazreestr
            "#]],
        ),
        (
            "step 9 counting state-fund housing in any locality",
            Box::new(|d| {
                let step9 = d["steps"].as_array_mut().unwrap().iter_mut().find(|s| s["step"] == "9").unwrap();
                step9["check"] = json!("holding");
                step9.as_object_mut().unwrap().remove("right");
            }),
            expect_test::expect![[r#"
                step 9 counting state-fund housing in any locality
                3 persons
                changed D registry_removal (Астана): retained -> removed, [] -> ["state_fund_housing_in_locality"]
                count ground gained state_fund_housing_in_locality: 1
                count locality Астана: 1
                count procedure registry_removal: 1
            "#]],
        ),
    ];
    let size = w.ledger.size().await.unwrap();
    for (what, change, expect) in cases {
        let rs = changed_rule_set(change);
        let shown = what_if_shown(&w, &rs).await;
        expect.assert_eq(&format!("{what}\n{shown}"));
    }
    assert_eq!(w.ledger.size().await.unwrap(), size, "what-if writes nothing");
}

/// `/ui/what-if`: an auditor pastes a rule set and sees who would change, with the charts;
/// the persons listed are a recorded read, and nothing else is written.
#[tokio::test]
async fn the_what_if_page_shows_the_diff_and_records_the_read() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let w = what_if_world().await;
    let ledger = std::sync::Arc::new(w.ledger);
    let state = housing_ledger::api::AppState::new(ledger.clone(), devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED));
    let store = ledger.access();
    let token = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Auditor, "Аудитор").await.unwrap().0;
    let caller = housing_ledger::auth::authenticate(&ledger, &token).await.unwrap().unwrap();
    let id = housing_ledger::web::session::open(store.as_ref(), &caller).await.unwrap();
    let call = |method: &str, uri: &str, form: Option<String>, lang: &str| {
        let mut req = Request::builder().method(method).uri(uri).header(header::COOKIE, format!("hl_session={id}; hl_lang={lang}"));
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req.body(form.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        let app = housing_ledger::app(state.clone());
        async move {
            let resp = app.oneshot(req).await.unwrap();
            (resp.status(), String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
        }
    };
    let (s, page) = call("GET", "/ui/what-if", None, "kk").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("kz-mod-000-registry-removal") && page.contains("for=\"pasted\""), "the known rule sets, and a place to paste one");

    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/registry-removal-000-v1.json")).unwrap()).unwrap();
    doc["steps"].as_array_mut().unwrap().iter_mut().find(|s| s["step"] == "9").unwrap()["check"] = json!("holding");
    let size = ledger.size().await.unwrap();
    let csrf = housing_ledger::web::session::csrf_token(&id);
    let form = |lang| {
        let body = url_encoded(&[("known", ""), ("pasted", &doc.to_string()), ("run", ""), ("csrf", &csrf)]);
        call("POST", "/ui/what-if", Some(body), lang)
    };
    let (s, kk) = form("kk").await;
    assert_eq!(s, StatusCode::OK, "{kk}");
    assert!(kk.contains("id=\"wi-persons\">3<") && kk.contains("id=\"wi-changed\">1<"), "three judged again, one changes");
    assert!(kk.contains("svg id=\"chart-wi-gained\"") && kk.contains(&iin_for("D")), "the dashboard's charts and the person");
    let (_, ru) = form("ru").await;
    assert!(ru.contains("lang=\"ru\"") && ru.contains("Стало бы"), "in Russian too");
    // Two pages named D: two reads recorded, and nothing else written.
    let after = ledger.log().read(size, 100).await.unwrap();
    assert!(after.iter().all(|e| e.kind == "PersonalDataReads"), "{:?}", after.iter().map(|e| &e.kind).collect::<Vec<_>>());
    let read: Vec<_> = after.iter().flat_map(housing_ledger::reads::reads_in).filter(|r| r.read == "web:what-if").collect();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].iins, [iin_for("D")]);
    // Issue 30: a question asked without writing a rule set: the known one with step 6 left
    // out. A was removed at step 6 (his spouse's contract), so the later steps were never asked
    // about him: what he would come to cannot be told without asking, and the page says so.
    let known = RuleBook::built_in().select(Procedure::RegistryRemoval, "2026-01-15").unwrap().sha256.clone();
    let (s, dropped) = call("POST", "/ui/what-if", Some(url_encoded(&[("known", &known), ("drop-6", "6"), ("run", ""), ("csrf", &csrf)])), "ru").await;
    assert_eq!(s, StatusCode::OK, "{dropped}");
    assert!(dropped.contains("-without-6") && dropped.contains("id=\"wi-cannot-tell\">1<") && dropped.contains(&iin_for("A")), "{dropped}");
    // A rule set that is neither known nor pasted is refused, in the page's language.
    let (s, _) = call("POST", "/ui/what-if", Some(url_encoded(&[("known", ""), ("pasted", ""), ("csrf", &csrf)])), "ru").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

fn url_encoded(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}
