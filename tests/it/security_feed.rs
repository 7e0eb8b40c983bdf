//! Issue 35, the feed for the security operations centre: each kind of security event is
//! triggered here and its record found, with the actor (token id and role, never the token),
//! the route, the outcome, and no IIN. The process test (`tests/slow`) follows the records to a
//! file and to a syslog collector, with the peer address, and the start and stop.

use crate::common::scenario::{complete, iin_for, run_fixture};
use crate::common::{tamper, Backend, Place};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use devtools::sim::DEFAULT_SIM_SEED;
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::auth::{create_token, revoke_token, Role};
use housing_ledger::registry::RegistryFault;
use housing_ledger::rules::records::RegistryId;
use housing_ledger::security::{self, Kind, Record};
use http_body_util::BodyExt;
use serde_json::json;
use std::sync::Arc;
use tower::ServiceExt;

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The records of `kind` kept so far that `matches`.
fn found(kind: Kind, matches: impl Fn(&Record) -> bool) -> Vec<Record> {
    security::kept().into_iter().filter(|r| r.kind == kind && matches(r)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_security_event_is_one_structured_record() {
    security::keep();
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let (fixture, _) = complete(housing_ledger::rules::Procedure::RegistryRemoval, json!({"entries": [{"iin": "@S"}]}));
    run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::parse("s", &fixture.to_string()).unwrap()).await;
    let state = AppState::new(ledger.clone(), devtools::sim::sim_trust(DEFAULT_SIM_SEED));
    let person = iin_for("S");

    // Token issued and revoked: by id and role.
    let (operator, rec) = create_token(&ledger, Role::Operator, "").await.unwrap();
    assert_eq!(found(Kind::TokenIssued, |r| r.actor.as_ref().is_some_and(|a| a.token == rec.id && a.role == "operator")).len(), 1);

    // A bad token, and a role that may not: the route and the outcome, never the token.
    let bad = Request::get(format!("/v1/persons/{person}")).header(header::AUTHORIZATION, "Bearer hl_000000000000_not-a-secret").body(Body::empty()).unwrap();
    assert_eq!(send(&state, bad).await.0, StatusCode::UNAUTHORIZED);
    let r = found(Kind::TokenRejected, |r| r.route.as_deref() == Some("GET /v1/persons/{iin}"));
    assert!(r.iter().any(|r| r.outcome.contains("unknown token") && r.outcome.contains("401")), "{r:?}");
    let denied = Request::get(format!("/v1/persons/{person}")).header(header::AUTHORIZATION, format!("Bearer {operator}")).body(Body::empty()).unwrap();
    assert_eq!(send(&state, denied).await.0, StatusCode::FORBIDDEN);
    let r = found(Kind::RoleDenied, |r| r.actor.as_ref().is_some_and(|a| a.token == rec.id));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].route.as_deref(), r[0].severity), (Some("GET /v1/persons/{iin}"), security::Severity::Warning));

    // A cross-site form, a form without its token, and a failed login.
    let cross = Request::post("/ui/login").header("Sec-Fetch-Site", "cross-site").body(Body::from("token=x")).unwrap();
    assert_eq!(send(&state, cross).await.0, StatusCode::FORBIDDEN);
    assert!(!found(Kind::CsrfRefused, |r| r.outcome.contains("cross-site")).is_empty());
    let (_, headers, _) = send(&state, Request::get("/ui/login").body(Body::empty()).unwrap()).await;
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = cookie.split_once('=').unwrap().1.to_string();
    let login = |form: String| {
        Request::post("/ui/login")
            .header(header::COOKIE, cookie.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    assert_eq!(send(&state, login("token=hl_x_wrong&csrf=forged".into())).await.0, StatusCode::FORBIDDEN);
    assert!(!found(Kind::CsrfRefused, |r| r.route.as_deref() == Some("POST /ui/login") && r.outcome.contains("login form")).is_empty());
    assert_eq!(send(&state, login(format!("token=hl_x_wrong&csrf={csrf}"))).await.0, StatusCode::UNAUTHORIZED);
    assert!(!found(Kind::LoginFailed, |r| r.route.as_deref() == Some("POST /ui/login")).is_empty());

    // A limit hit: a body too large.
    let officer = create_token(&ledger, Role::AppealsOfficer, "").await.unwrap().0;
    let huge = Request::post(format!("/v1/persons/{person}/appeals"))
        .header(header::AUTHORIZATION, format!("Bearer {officer}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!("{{\"grounds\": \"{}\"}}", "x".repeat(3 << 20))))
        .unwrap();
    assert_eq!(send(&state, huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!found(Kind::LimitHit, |r| r.route.as_deref() == Some("POST /v1/persons/{iin}/appeals") && r.outcome.contains("413")).is_empty());

    // A source signature refused (as the pipeline records a fault), naming no IIN.
    let fault = RegistryFault::BadSignature(format!("item {person}: the signature does not verify"));
    housing_ledger::registry::report(&fault, "run-sec", RegistryId::Gosreestr, "6", false);
    let r = found(Kind::SourceSignatureRefused, |r| r.outcome.contains("run-sec"));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].severity, security::Severity::Error);
    housing_ledger::registry::report(&fault, "run-sim", RegistryId::Gosreestr, "6", true);
    let r = found(Kind::SourceSignatureRefused, |r| r.outcome.contains("run-sim"));
    assert_eq!((r[0].severity, r[0].outcome.starts_with("in a simulation")), (security::Severity::Notice, true), "a simulation's made fault");
    assert!(!r[0].outcome.contains(&person) && r[0].outcome.contains("person:"), "{}", r[0].outcome);

    // An integrity failure: a read-model row changed behind the ledger's back.
    let sql = place.sql().await;
    tamper(&sql, &crate::common::spoil_row(&ledger.log().stored_key(&person))).await;
    housing_ledger::read_models::restore_from_events(&ledger).await.unwrap();
    let r = found(Kind::IntegrityFailure, |r| r.outcome.contains("folded afresh"));
    assert!(!r.is_empty() && r.iter().all(|r| r.severity == security::Severity::Critical), "{r:?}");

    // A configuration change: the key rotated.
    ledger.rotate_key("scheduled").await.unwrap();
    assert!(!found(Kind::ConfigurationChange, |r| r.outcome.contains("rotated")).is_empty());

    // A lost database: the key is there, the database is empty.
    let empty = Place::new(Backend::Sqlite, None);
    std::fs::copy(place.key_dir.path().join("ledger.key"), empty.key_dir.path().join("ledger.key")).unwrap();
    assert!(housing_ledger::ledger::Ledger::open(empty.store().await, empty.key_dir.path(), housing_ledger::ledger::DEFAULT_ORIGIN).await.is_err());
    assert!(!found(Kind::LostDatabaseRefused, |r| r.outcome.contains("holds no event")).is_empty());

    // Token revoked.
    revoke_token(&ledger, &rec.id, "2026-12-02T00:00:00.000Z").await.unwrap();
    assert_eq!(found(Kind::TokenRevoked, |r| r.actor.as_ref().is_some_and(|a| a.token == rec.id && a.role == "operator")).len(), 1);

    // Witnesses: a refusal, and a fork (a witness that saw another tree) are in the peer
    // limits' tests' fake witnesses; here, every record holds no secret and no IIN.
    for r in security::kept() {
        let line = r.json_line();
        assert!(!line.contains(&operator) && !line.contains(&officer) && !line.contains("not-a-secret"), "a token in {line}");
        assert!(!line.contains(&person), "an IIN in {line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        for field in ["schema", "time", "kind", "severity", "actor", "peer", "route", "outcome", "subject_ref"] {
            assert!(v.get(field).is_some(), "{field} missing from {line}");
        }
        let syslog = r.syslog_line("host");
        assert!(syslog.starts_with('<') && syslog.contains(">1 ") && syslog.contains(&format!("[hl@32473 kind=\"{}\"", r.kind.as_str())), "{syslog}");
    }
}
