//! The public ledger routes and `/v1/events`, on `app()` with `oneshot` (no socket).

use crate::common::{Backend, Place};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use events::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use events::{Checkpoint, NewEvent, VerifierKey};
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::auth::{create_token, Role};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

struct Api {
    state: AppState,
    _place: Place,
}

impl Api {
    async fn new() -> Self {
        let place = Place::new(Backend::Sqlite, None);
        let ledger = Arc::new(place.ledger().await);
        ledger.append((0..20).map(|i| NewEvent::new("run:r1", "Tick", json!({"i": i}))).collect()).await.unwrap();
        Api { state: AppState::new(ledger, devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED)), _place: place }
    }

    async fn token(&self, role: Role) -> String {
        create_token(&self.state.ledger, role, "").await.unwrap().0
    }

    async fn call(&self, method: &str, uri: &str, token: Option<&str>) -> (StatusCode, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let resp = app(self.state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn json(&self, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        let (s, b) = self.call("GET", uri, token).await;
        (s, serde_json::from_str(&b).unwrap_or_else(|_| panic!("{uri}: not JSON: {b}")))
    }
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn checkpoint_route() {
    let api = Api::new().await;
    let (s, b) = api.json("/v1/checkpoint", None).await;
    assert_eq!((s, error_code(&b)), (StatusCode::NOT_FOUND, "not_found"), "no checkpoint yet");
    let op = api.token(Role::Operator).await;
    let au = api.token(Role::Auditor).await;
    assert_eq!(api.call("POST", "/v1/checkpoint", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.call("POST", "/v1/checkpoint", Some(&au)).await.0, StatusCode::FORBIDDEN);
    let (s, signed) = api.call("POST", "/v1/checkpoint", Some(&op)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, text) = api.call("GET", "/v1/checkpoint", None).await;
    assert_eq!((s, &text), (StatusCode::OK, &signed));
    let key = api.state.ledger.signer().verifier();
    let cp = Checkpoint::verify_note(&text, &key).unwrap();
    assert_eq!(cp.size, 23, "the world's 21 events and the two tokens' issuance");
}

#[tokio::test]
async fn inclusion_and_consistency_routes() {
    let api = Api::new().await;
    let cp1 = api.state.ledger.checkpoint().await.unwrap();
    api.state.ledger.append((0..9).map(|i| NewEvent::new("run:r2", "Tick", json!({"i": i}))).collect()).await.unwrap();
    let cp2 = api.state.ledger.checkpoint().await.unwrap();
    let (s, b) = api.json("/v1/proofs/inclusion?seq=5&tree_size=30", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((b["seq"].as_u64(), b["tree_size"].as_u64()), (Some(5), Some(30)));
    let path: Vec<Vec<u8>> = b["path"].as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap()).collect();
    let ev = api.state.ledger.log().read(5, 1).await.unwrap().remove(0);
    verify_inclusion(5, 30, &leaf_hash(&ev.hash_bytes().unwrap()), &path, &cp2.root).unwrap();
    // tree_size defaults to the latest checkpoint.
    let (_, b) = api.json("/v1/proofs/inclusion?seq=5", None).await;
    assert_eq!(b["tree_size"].as_u64(), Some(30));
    for (uri, want) in [
        ("/v1/proofs/inclusion", StatusCode::BAD_REQUEST),
        ("/v1/proofs/inclusion?seq=abc", StatusCode::BAD_REQUEST),
        ("/v1/proofs/inclusion?seq=1&tree_size=0", StatusCode::BAD_REQUEST),
        ("/v1/proofs/consistency?from=0&to=30", StatusCode::BAD_REQUEST),
        // Well-formed sizes the log has no proof for: not found, as schema-valid requests
        // must not be refused as malformed.
        ("/v1/proofs/inclusion?seq=30&tree_size=30", StatusCode::NOT_FOUND),
        ("/v1/proofs/inclusion?seq=1&tree_size=999", StatusCode::NOT_FOUND),
        ("/v1/proofs/consistency?from=31&to=30", StatusCode::NOT_FOUND),
        ("/v1/proofs/consistency?from=1&to=999", StatusCode::NOT_FOUND),
        ("/v1/nowhere", StatusCode::NOT_FOUND),
    ] {
        let (s, b) = api.json(uri, None).await;
        assert_eq!(s, want, "{uri}: {b}");
        assert!(b["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{uri}: {b}");
    }
    let (s, b) = api.json(&format!("/v1/proofs/consistency?from={}&to={}", cp1.tree_size, cp2.tree_size), None).await;
    assert_eq!(s, StatusCode::OK);
    let path: Vec<Vec<u8>> = b["path"].as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap()).collect();
    verify_consistency(cp1.tree_size, cp2.tree_size, &cp1.root, &cp2.root, &path).unwrap();
}

#[tokio::test]
async fn keys_route() {
    let api = Api::new().await;
    let old = api.state.ledger.signer().verifier();
    let new = api.state.ledger.rotate_key("test").await.unwrap();
    let (s, b) = api.json("/v1/keys", None).await;
    assert_eq!(s, StatusCode::OK);
    let ledger: Vec<VerifierKey> = b["ledger"].as_array().unwrap().iter().map(|k| VerifierKey::parse(k.as_str().unwrap()).unwrap()).collect();
    assert_eq!(ledger, vec![old, new], "current and retired keys");
    let zags = devtools::sim::sim_signer(devtools::sim::DEFAULT_SIM_SEED, housing_ledger::rules::records::RegistryId::Zags).verifier().to_string();
    assert_eq!(b["registries"]["zags"], zags.as_str());
}

#[tokio::test]
async fn events_route_needs_an_auditor_and_pages() {
    let api = Api::new().await;
    let (s, b) = api.json("/v1/events", None).await;
    assert_eq!((s, error_code(&b)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, _) = api.json("/v1/events", Some("hl_nope_nope")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let officer = api.token(Role::AppealsOfficer).await;
    let (s, b) = api.json("/v1/events", Some(&officer)).await;
    assert_eq!((s, error_code(&b)), (StatusCode::FORBIDDEN, "forbidden"));
    let au = api.token(Role::Auditor).await;
    let mut seqs = Vec::new();
    let mut uri = "/v1/events?from=0&limit=8".to_string();
    loop {
        let (s, b) = api.json(&uri, Some(&au)).await;
        assert_eq!(s, StatusCode::OK);
        let page = b["events"].as_array().unwrap();
        assert!(page.len() <= 8);
        for e in page {
            let ev: events::Event = serde_json::from_value(e.clone()).unwrap();
            ev.check(&api.state.ledger.signer().verifier()).unwrap();
            seqs.push(ev.seq);
        }
        match b["next"].as_u64() {
            Some(n) => uri = format!("/v1/events?from={n}&limit=8"),
            None => break,
        }
    }
    // The world's 21 events and the two tokens' issuance (tokens are ledger events).
    assert_eq!(seqs, (0..23).collect::<Vec<_>>());
    for uri in ["/v1/events?limit=0", "/v1/events?limit=1001", "/v1/events?from=-1"] {
        assert_eq!(api.json(uri, Some(&au)).await.0, StatusCode::BAD_REQUEST, "{uri}");
    }
}

#[tokio::test]
async fn openapi_documents_every_route_and_every_documented_route_is_served() {
    let api = Api::new().await;
    let (s, doc) = api.json("/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let documented: Vec<(String, String)> = paths.iter().flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone()))).collect();
    // Every route of shared/spec/interfaces.md, documented.
    for (method, path) in [
        ("get", "/v1/persons/{iin}"),
        ("get", "/v1/persons/{iin}/proof"),
        ("get", "/v1/persons/{iin}/events"),
        ("get", "/v1/events"),
        ("get", "/v1/runs"),
        ("get", "/v1/runs/{id}"),
        ("get", "/v1/checkpoint"),
        ("get", "/v1/proofs/inclusion"),
        ("get", "/v1/proofs/consistency"),
        ("get", "/v1/keys"),
        // Appeals (issue 5): appeals officers write, auditors read.
        ("post", "/v1/persons/{iin}/appeals"),
        ("get", "/v1/persons/{iin}/appeals"),
        ("get", "/v1/appeals/{id}"),
        ("post", "/v1/appeals/{id}/suspension"),
        ("post", "/v1/appeals/{id}/corrections"),
        ("post", "/v1/appeals/{id}/recheck"),
        ("post", "/v1/appeals/{id}/resolution"),
        ("get", "/v1/appeals/{id}/case-file"),
    ] {
        assert!(documented.contains(&(method.to_string(), path.to_string())), "{method} {path} is not in /openapi.json");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    for (path, schema) in
        [("/v1/persons/{iin}/appeals", "Filing"), ("/v1/appeals/{id}/corrections", "CorrectionFiling"), ("/v1/appeals/{id}/resolution", "Resolution")]
    {
        let op = &paths[path]["post"];
        assert!(op["security"].is_array(), "{path} needs a token");
        let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap_or_default();
        assert!(body.ends_with(schema), "{path} documents its body: {body:?}");
        assert!(doc["components"]["schemas"][schema]["properties"].is_object(), "{schema} is described");
    }
    // Every documented route is served (the router and the document come from one list).
    for (method, path) in &documented {
        let uri = path.replace("{iin}", "850415350079").replace("{id}", "r1");
        let (s, body) = api.call(&method.to_uppercase(), &uri, None).await;
        let fallback = s == StatusCode::NOT_FOUND && body.contains("no such route");
        assert!(!fallback, "{method} {path} is documented but not served");
    }
}

/// Issue 17, finding 2: every numeric input is bounded; one beyond 2^63 - 1 is a 400 in the
/// API's error shape, never a panic.
#[tokio::test]
async fn numbers_beyond_the_store_range_are_a_400() {
    let api = Api::new().await;
    let auditor = api.token(Role::Auditor).await;
    for uri in [
        "/v1/events?from=9223372036854775808",
        "/v1/events?from=18446744073709551615",
        "/v1/proofs/inclusion?seq=9223372036854775808",
        "/v1/proofs/inclusion?seq=1&tree_size=9223372036854775808",
        "/v1/proofs/consistency?from=1&to=9223372036854775808",
    ] {
        let (s, b) = api.json(uri, Some(&auditor)).await;
        assert_eq!((s, error_code(&b)), (StatusCode::BAD_REQUEST, "bad_request"), "{uri}: {b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("2^63"), "{uri}: {b}");
    }
    // The largest allowed is an ordinary out-of-range request.
    let (s, b) = api.json("/v1/events?from=9223372036854775807", Some(&auditor)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// Issue 17, finding 11: every error is the API's JSON shape: a path or query the router
/// refuses, an over-size body (413), and the Bearer scheme in any case.
#[tokio::test]
async fn errors_are_equal_and_json() {
    let api = Api::new().await;
    let auditor = api.token(Role::Auditor).await;
    // A query the extractor refuses (a repeated or non-UTF-8 parameter) and a path segment.
    for uri in ["/v1/events?from=1&from=2", "/v1/proofs/inclusion?seq=%FF", "/v1/persons/850415350079/proof?procedure=%FF"] {
        let (s, b) = api.call("GET", uri, Some(&auditor)).await;
        let v: Value = serde_json::from_str(&b).unwrap_or_else(|_| panic!("{uri}: not JSON: {s} {b}"));
        assert!(s.is_client_error() && v["error"]["code"].is_string(), "{uri}: {s} {v}");
    }
    // An over-size body: 413, JSON.
    let officer = create_token(&api.state.ledger, Role::AppealsOfficer, "x").await.unwrap().0;
    let big = format!("{{\"procedure\": \"registry_removal\", \"grounds\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let req = Request::post("/v1/persons/850415350079/appeals")
        .header("Authorization", format!("Bearer {officer}"))
        .header("Content-Type", "application/json")
        .body(Body::from(big))
        .unwrap();
    let resp = app(api.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let b = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&b).unwrap_or_else(|_| panic!("not JSON: {status} {}", String::from_utf8_lossy(&b)));
    assert_eq!((status, error_code(&v)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"), "{v}");
    // The scheme is case-insensitive (RFC 9110).
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let req = Request::get("/v1/events?limit=1").header("Authorization", format!("{scheme} {auditor}")).body(Body::empty()).unwrap();
        assert_eq!(app(api.state.clone()).oneshot(req).await.unwrap().status(), StatusCode::OK, "{scheme}");
    }
}

/// Issue 17, finding 12: the OpenAPI schema is as strict as the code: an IIN path parameter
/// has its pattern, `limit` is 1 to 1000, `from` starts at 0 (and stays below 2^63).
#[tokio::test]
async fn the_openapi_schema_is_as_strict_as_the_code() {
    let api = Api::new().await;
    let (_, doc) = api.json("/openapi.json", None).await;
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} {name}")).clone()
    };
    for path in ["/v1/persons/{iin}", "/v1/persons/{iin}/proof", "/v1/persons/{iin}/events", "/v1/persons/{iin}/reads", "/v1/persons/{iin}/appeals"] {
        assert_eq!(param(path, "iin")["schema"]["pattern"], "^[0-9]{12}$", "{path}");
    }
    let limit = param("/v1/events", "limit");
    assert_eq!((limit["schema"]["minimum"].as_f64(), limit["schema"]["maximum"].as_f64()), (Some(1.0), Some(1000.0)), "{limit}");
    let from = param("/v1/events", "from");
    assert_eq!(from["schema"]["minimum"].as_f64(), Some(0.0), "{from}");
    // A valid IIN is more than a pattern: the format says so (the reads route takes any 12 digits).
    for path in ["/v1/persons/{iin}", "/v1/persons/{iin}/proof", "/v1/persons/{iin}/events", "/v1/persons/{iin}/appeals"] {
        assert_eq!(param(path, "iin")["schema"]["format"], "kz-iin", "{path}");
    }
    assert!(param("/v1/persons/{iin}/reads", "iin")["schema"].get("format").is_none());
    assert_eq!(param("/v1/persons/{iin}/proof", "procedure")["schema"]["pattern"], "^(registry_removal|lease_termination)$");
    assert_eq!(param("/v1/proofs/consistency", "from")["schema"]["minimum"].as_f64(), Some(1.0));
    assert_eq!(doc["components"]["schemas"]["Filing"]["properties"]["procedure"]["pattern"], "^(registry_removal|lease_termination)$");
    // Every response has its description, as OpenAPI requires; no operation has a null list.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op.get("parameters").is_none_or(Value::is_array), "{method} {path}");
            for (code, r) in op["responses"].as_object().unwrap() {
                assert!(r["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {code}");
            }
        }
    }
}

/// Issue 17, finding 8 (tokens): `token create --expires`, `token list` and `token revoke`; a
/// revoked or expired token gets 401 at once, in the same running app.
#[tokio::test]
async fn revoked_and_expired_tokens_are_refused_at_once() {
    use housing_ledger::auth::{expiry, issue_token_until};
    let api = Api::new().await;
    let store = api.state.ledger.access().clone();
    let now = chrono::Utc::now();
    let (live, rec) = issue_token_until(&api.state.ledger, Role::Auditor, "", "", Some(expiry("1h", now).unwrap())).await.unwrap();
    let (soon, soon_rec) = issue_token_until(&api.state.ledger, Role::Auditor, "", "", Some(now + chrono::Duration::milliseconds(300))).await.unwrap();
    assert_eq!(api.json("/v1/events?limit=1", Some(&live)).await.0, StatusCode::OK);
    assert_eq!(api.json("/v1/events?limit=1", Some(&soon)).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(api.json("/v1/events?limit=1", Some(&soon)).await.0, StatusCode::UNAUTHORIZED, "expired");
    assert!(housing_ledger::auth::revoke_token(&api.state.ledger, &rec.id, "2026-01-01T00:00:00.000Z").await.unwrap());
    assert!(!housing_ledger::auth::revoke_token(&api.state.ledger, &rec.id, "2026-01-01T00:00:00.000Z").await.unwrap(), "once");
    assert_eq!(api.json("/v1/events?limit=1", Some(&live)).await.0, StatusCode::UNAUTHORIZED, "revoked, at once");
    let listed = store.tokens().await.unwrap();
    let l = listed.iter().find(|t| t.id == rec.id).unwrap();
    assert_eq!((l.revoked_at.as_deref(), l.expires_at.is_some()), (Some("2026-01-01T00:00:00.000Z"), true));
    assert!(listed.iter().any(|t| t.id == soon_rec.id));
    assert!(expiry("0d", now).is_err() && expiry("2000-01-01T00:00:00Z", now).is_err() && expiry("soon", now).is_err());
}

/// The value of the sample `name` (with its labels, if any) in a text exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test]
async fn metrics_are_for_operators_and_follow_the_ledger() {
    let api = Api::new().await;
    let (s, b) = api.json("/metrics", None).await;
    assert_eq!((s, error_code(&b)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    for role in [Role::Auditor, Role::AppealsOfficer] {
        let (s, _) = api.call("GET", "/metrics", Some(&api.token(role).await)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role:?}");
    }
    let op = api.token(Role::Operator).await;
    let (s, before) = api.call("GET", "/metrics", Some(&op)).await;
    assert_eq!(s, StatusCode::OK);
    let size = api.state.ledger.size().await.unwrap();
    assert_eq!(sample(&before, "housing_ledger_log_size"), Some(size as f64), "{before}");
    assert!(sample(&before, "housing_ledger_projection_lag_events").is_some_and(|lag| lag <= size as f64));
    assert_eq!(sample(&before, "housing_ledger_read_log_queue"), Some(0.0));
    assert!(!before.contains("housing_ledger_checkpoint_age_seconds "), "no checkpoint yet");
    // An append of five events is counted (other tests append in this process too: at least).
    let appended = sample(&before, "housing_ledger_events_appended_total").unwrap();
    api.state.ledger.append((0..5).map(|i| NewEvent::new("run:r2", "Tick", json!({"i": i}))).collect()).await.unwrap();
    api.state.ledger.checkpoint().await.unwrap();
    let _ = api.call("GET", "/v1/checkpoint", None).await;
    let _ = api.call("GET", "/v1/persons/650101310010", Some(&op)).await;
    let (_, after) = api.call("GET", "/metrics", Some(&op)).await;
    assert!(sample(&after, "housing_ledger_events_appended_total").unwrap() >= appended + 5.0, "{after}");
    assert_eq!(sample(&after, "housing_ledger_log_size"), Some(size as f64 + 5.0));
    assert!(sample(&after, "housing_ledger_checkpoint_age_seconds").is_some_and(|age| (0.0..60.0).contains(&age)), "{after}");
    // Latency by route pattern, never by path: no IIN in a label.
    assert!(after.contains(r#"housing_ledger_request_seconds_count{method="GET",route="/v1/checkpoint"}"#), "{after}");
    assert!(after.contains(r#"route="/v1/persons/{iin}""#), "{after}");
    assert!(!after.contains("650101310010"));
    assert!(after.trim_end().ends_with("# EOF"));
}

/// PostgreSQL going away under a serving state: 503 with `Retry-After` while it is away (within
/// the pool's 5-second wait, not a minute), then answers and appends again once it is back,
/// with no restart of the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_then_serving_recovers() {
    let pg = crate::common::PgCluster::start();
    let place = Place::new(Backend::Postgres, Some(&pg));
    let ledger = Arc::new(place.ledger().await);
    ledger.append((0..5).map(|i| NewEvent::new("run:r1", "Tick", json!({"i": i}))).collect()).await.unwrap();
    ledger.checkpoint().await.unwrap();
    let state = AppState::new(ledger.clone(), devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED));
    let get = |state: AppState| async move {
        let resp = app(state).oneshot(Request::get("/v1/checkpoint").body(Body::empty()).unwrap()).await.unwrap();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, retry, String::from_utf8_lossy(&body).to_string())
    };
    assert_eq!(get(state.clone()).await.0, StatusCode::OK);
    // Readiness follows the store; liveness does not.
    let probe = |state: AppState, path: &'static str| async move {
        let resp = app(state).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        (status, String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).to_string())
    };
    assert_eq!(probe(state.clone(), "/readyz").await, (StatusCode::OK, r#"{"events":6,"ready":true}"#.to_string()));
    pg.stop();
    let (status, body) = probe(state.clone(), "/readyz").await;
    assert!(status == StatusCode::SERVICE_UNAVAILABLE && body.contains(r#""ready":false"#) && body.contains("the store"), "{status} {body}");
    assert_eq!(probe(state.clone(), "/healthz").await.0, StatusCode::OK, "alive while the database is away");
    let started = std::time::Instant::now();
    let (status, retry, body) = get(state.clone()).await;
    assert_eq!((status, retry.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("5")), "{body}");
    assert!(body.contains(r#""code":"unavailable""#), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "answered within the pool's wait, not after a minute");
    assert!(ledger.append(vec![NewEvent::new("run:r1", "Tick", json!({"i": 99}))]).await.is_err(), "nothing is appended while it is away");
    pg.restart();
    let (status, _, body) = get(state.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(probe(state.clone(), "/readyz").await.0, StatusCode::OK, "ready again");
    ledger.append(vec![NewEvent::new("run:r1", "Tick", json!({"i": 100}))]).await.unwrap();
    assert_eq!(ledger.verify(|_| {}).await.unwrap().events, 7);
    state.background.shutdown().await;
}

/// Issue 29, item 5: tokens issued and revoked are ledger events (the hash, never the token).
/// A token row inserted with the database alone is refused, and so is an issued token whose
/// row was changed (its role raised); a revocation is recorded.
#[tokio::test]
async fn a_token_row_the_ledger_does_not_back_is_refused() {
    use housing_ledger::store::TokenRecord;
    let api = Api::new().await;
    let auditor = api.token(Role::Auditor).await;
    assert_eq!(api.json("/v1/events?limit=1", Some(&auditor)).await.0, StatusCode::OK, "issued through the ledger: accepted");
    let issued = api.state.ledger.log().read_stream("tokens", None).await.unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].data["token_sha256"], hex::encode(housing_ledger::auth::token_hash(&auditor)), "its hash");
    assert!(!issued[0].data.to_string().contains(&auditor), "never the token");

    // Minted: a row of an auditor's token, with no issuance in the ledger.
    let minted = "hl_0123456789ab_mintedbehindtheledgersbackXXXXXXXXXXXXXXXXXX";
    api.state
        .ledger
        .access()
        .add_token(&TokenRecord {
            id: "0123456789ab".into(),
            token_hash: housing_ledger::auth::token_hash(minted),
            role: "auditor".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            holder: String::new(),
            holder_id: String::new(),
            expires_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    assert_eq!(api.json("/v1/events?limit=1", Some(minted)).await.0, StatusCode::UNAUTHORIZED, "a minted row is no token");

    // Issued as an auditor's, its row raised to an operator's.
    let raised = api.token(Role::Auditor).await;
    let id = raised.split('_').nth(1).unwrap().to_string();
    let sql = api._place.sql().await;
    crate::common::tamper(&sql, &format!("UPDATE api_tokens SET role = 'operator' WHERE id = '{id}'")).await;
    assert_eq!(api.json("/metrics", Some(&raised)).await.0, StatusCode::UNAUTHORIZED, "a row changed behind the ledger's back is no token");

    // A revocation is an event too.
    assert!(housing_ledger::auth::revoke_token(&api.state.ledger, auditor.split('_').nth(1).unwrap(), "2026-12-01T00:00:00.000Z").await.unwrap());
    let kinds: Vec<String> = api.state.ledger.log().read_stream("tokens", None).await.unwrap().iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds, ["TokenIssued", "TokenIssued", "TokenRevoked"]);
    assert_eq!(api.json("/v1/events?limit=1", Some(&auditor)).await.0, StatusCode::UNAUTHORIZED);
}

/// Issue 35, F10: unauthenticated noise grows no series. 10,000 requests, each with a method
/// and a path of its own, leave the request metrics with known methods (or `other`) and route
/// patterns (or `unmatched`) only, and `/metrics` small.
#[tokio::test]
async fn request_metrics_have_bounded_labels() {
    let api = Api::new().await;
    let op = api.token(Role::Operator).await;
    let series = |text: &str| text.lines().filter(|l| l.starts_with("housing_ledger_request_seconds_count{")).map(String::from).collect::<Vec<_>>();
    let (_, before) = api.call("GET", "/metrics", Some(&op)).await;
    for i in 0..10_000 {
        let method = format!("M{i:05}{}", "X".repeat(200));
        let _ = api.call(&method, &format!("/noise/{i}/{}", "p".repeat(100)), None).await;
    }
    let (_, after) = api.call("GET", "/metrics", Some(&op)).await;
    const KNOWN: [&str; 10] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "other"];
    for s in series(&after) {
        let method = s.split("method=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
        assert!(KNOWN.contains(&method), "an unbounded method label: {}", &s[..s.len().min(120)]);
        assert!(!s.contains("/noise/"), "a path as a label: {}", &s[..s.len().min(120)]);
    }
    // Other tests in this process add their routes' series meanwhile: a few, never thousands.
    assert!(series(&after).len() <= series(&before).len() + 40, "{} series before, {} after", series(&before).len(), series(&after).len());
    assert!(after.len() < before.len() + 64 * 1024, "/metrics grew from {} to {} bytes", before.len(), after.len());
    assert!(after.contains(r#"housing_ledger_request_seconds_count{method="other",route="unmatched"} "#), "the noise is counted, under one series");
}
