//! The officers' pages on `app()` with `oneshot` (no socket, no browser): sessions, roles,
//! recorded reads, language, and a timeline that shows an event changed behind the ledger's back.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::scenario::{complete, iin_for, run_fixture};
use common::{lit, tamper, Backend, Place};
use housing_ledger::api::{app, AppState};
use housing_ledger::auth::{create_token, Role};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::registry::{TrustedKeys, DEFAULT_SIM_SEED};
use housing_ledger::rules::Procedure;
use housing_ledger::store::EventStore;
use http_body_util::BodyExt;
use serde_json::json;
use std::sync::Arc;
use tower::ServiceExt;

struct Pages {
    state: AppState,
    place: Place,
}

impl Pages {
    async fn new() -> Self {
        let case = json!({"entries": [{"iin": "@P"}], "registries": {"gosreestr": {"@P": {"privatization_contracts": [{"number": "П-9", "date": "2001-01-01", "address": "Алматы"}]}}}});
        let fixture = Fixture::parse("pages", &complete(Procedure::RegistryRemoval, case).0.to_string()).unwrap();
        let place = Place::new(Backend::Sqlite, None);
        let ledger = Arc::new(place.ledger().await);
        run_fixture(&ledger, fixture).await;
        Pages { state: AppState::new(ledger, TrustedKeys::from_sim_seed(DEFAULT_SIM_SEED)), place }
    }

    async fn cookie(&self, role: Role) -> String {
        let token = create_token(self.state.ledger.store().as_ref(), role, "Инспектор").await.unwrap().0;
        format!("hl_token={token}")
    }

    /// Status, `Location` and `Set-Cookie` (whichever the answer has, joined), and body.
    async fn call(&self, method: &str, uri: &str, cookie: Option<&str>, form: Option<&str>) -> (StatusCode, Option<String>, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let resp = app(self.state.clone()).oneshot(req.body(form.map(|f| Body::from(f.to_string())).unwrap_or_else(Body::empty)).unwrap()).await.unwrap();
        let status = resp.status();
        let location = resp.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
        let set_cookie = resp.headers().get(header::SET_COOKIE).map(|v| v.to_str().unwrap().to_string());
        let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        let both: Vec<String> = location.into_iter().chain(set_cookie).collect();
        (status, (!both.is_empty()).then(|| both.join(" | ")), body)
    }
}

#[tokio::test]
async fn sessions_roles_reads_and_language() {
    let p = Pages::new().await;
    let iin = iin_for("P");
    // No session: to the login page.
    let (s, to, _) = p.call("GET", &format!("/ui/persons/{iin}"), None, None).await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/login")));
    let (s, _, body) = p.call("POST", "/ui/login", None, Some("token=hl_nope")).await;
    assert!(s == StatusCode::UNAUTHORIZED && body.contains("Токен белгісіз"), "{s}");
    let token = create_token(p.state.ledger.store().as_ref(), Role::Auditor, "").await.unwrap().0;
    let (s, cookie, _) = p.call("POST", "/ui/login", None, Some(&format!("token={token}"))).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let cookie = cookie.unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    // The case page; the read is recorded.
    let auditor = p.cookie(Role::Auditor).await;
    let (s, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&auditor), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"timeline\"") && html.contains("есептен шығарылды") && !html.contains("class=\"bad\""), "removed, all verified");
    assert!(!html.contains("id=\"file-registry_removal\""), "auditors get no appeal form");
    let reads = p.state.ledger.store().read_stream(&format!("reads:{iin}")).await.unwrap();
    assert!(reads.iter().any(|e| e.data["read"] == "web:case"), "the page read is in the ledger");
    let (s, _, html) = p.call("GET", "/ui/persons/123", Some(&auditor), None).await;
    assert!(s == StatusCode::BAD_REQUEST && html.contains("12 digits"), "{html}");
    let (s, _, _) = p.call("POST", "/ui/appeals/ap-1/recheck", Some(&auditor), Some("")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "auditors do not act on appeals");
    let officer = p.cookie(Role::AppealsOfficer).await;
    let (_, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&officer), None).await;
    assert!(html.contains("id=\"file-registry_removal\""), "officers get the appeal form");
    let (s, to, _) = p.call("POST", &format!("/ui/persons/{iin}/appeals"), Some(&officer), Some("procedure=registry_removal&grounds=")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to.unwrap().contains("err="), "an empty filing comes back with its error");

    // Language: Russian by choice; never redirected off the site.
    let (_, set, _) = p.call("GET", "/ui/lang/ru?back=/ui/dashboard", None, None).await;
    assert!(set.unwrap().contains("hl_lang=ru"));
    let (_, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&format!("{auditor}; hl_lang=ru")), None).await;
    assert!(html.contains("снят с учёта") && html.contains("lang=\"ru\""));
    // Decision 11: a fixture run is a simulation, and the case page says so in each language,
    // with the official who decided (decision 15).
    assert!(html.contains("Симуляция, не юридический акт") && html.contains("Полковник Омаров, chairman, housing commission"), "{html}");
    let (_, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&auditor), None).await;
    assert!(html.contains("Симуляция, заңдық акт емес"), "{html}");
    let resp = app(p.state.clone()).oneshot(Request::get("/ui/lang/kk?back=//evil.example").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.headers()[header::LOCATION], "/ui");
    // Issue 17, finding 10: CR/LF in `back` is a 400, not a 500 (nor a split header).
    for back in ["/ui%0d%0aSet-Cookie:%20x=1", "/ui%0aX:1", "/ui%09"] {
        let resp = app(p.state.clone()).oneshot(Request::get(format!("/ui/lang/ru?back={back}")).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{back}");
        assert!(resp.headers().get(header::SET_COOKIE).is_none() && resp.headers().get(header::LOCATION).is_none(), "{back}");
    }
}

#[tokio::test]
async fn the_timeline_shows_an_event_changed_behind_the_ledgers_back() {
    let p = Pages::new().await;
    let iin = iin_for("P");
    let auditor = p.cookie(Role::Auditor).await;
    let events = p.state.ledger.store().read_stream(&format!("person:{iin}")).await.unwrap();
    let answer = events.iter().find(|e| e.kind == "RegistryResponded" && e.data["registry"] == "gosreestr").unwrap();
    let store = p.place.sql().await;
    let (_, body) = store.read_raw(answer.seq, 1).await.unwrap().remove(0);
    tamper(&store, &format!("UPDATE events SET body = {} WHERE seq = {}", lit(&body.replace("П-9", "П-8")), answer.seq)).await;
    let (s, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&auditor), None).await;
    assert_eq!(s, StatusCode::OK);
    let row = html.split("<tr").find(|r| r.contains(&format!("#{}<", answer.seq))).expect("the changed event is shown");
    assert!(row.contains("class=\"bad\"") && row.contains("қолтаңба ЖАРАМСЫЗ"), "its signature fails: {row}");
    assert!(row.contains("дереккөз қолтаңбасы ЖАРАМСЫЗ"), "and so does the source's");
}

/// Issue 17, finding 9: pages carry a Content-Security-Policy that allows no script and no
/// framing, nosniff and no referrer; every personal-data answer, page or JSON, is `no-store`.
/// The policy's style hash is the page's own stylesheet (or the page would lose its styles).
#[tokio::test]
async fn security_headers_on_pages_and_personal_data() {
    let p = Pages::new().await;
    let iin = iin_for("P");
    let auditor = p.cookie(Role::Auditor).await;
    let resp =
        app(p.state.clone()).oneshot(Request::get(format!("/ui/persons/{iin}")).header(header::COOKIE, &auditor).body(Body::empty()).unwrap()).await.unwrap();
    let h = resp.headers().clone();
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"), "{csp}");
    assert_eq!((h[header::X_CONTENT_TYPE_OPTIONS].to_str().unwrap(), h[header::REFERRER_POLICY].to_str().unwrap()), ("nosniff", "no-referrer"));
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let html = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let style = html.split("<style>").nth(1).and_then(|s| s.split("</style>").next()).expect("the page's stylesheet");
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    assert!(csp.contains(&format!("'sha256-{hash}'")), "the policy allows the page's own stylesheet: {csp}");
    assert!(!html.contains("<script"), "no script");
    // JSON with personal data: no-store; the public ledger routes keep their caching.
    let token = create_token(p.state.ledger.store().as_ref(), Role::Auditor, "").await.unwrap().0;
    for (uri, no_store) in [(format!("/v1/persons/{iin}"), true), ("/v1/events?limit=1".to_string(), true), ("/v1/keys".to_string(), false)] {
        let resp = app(p.state.clone())
            .oneshot(Request::get(&uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.headers().get(header::CACHE_CONTROL).is_some_and(|v| v == "no-store"), no_store, "{uri}");
    }
}
