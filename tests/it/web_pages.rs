//! The officers' pages on `app()` with `oneshot` (no socket, no browser): sessions, roles,
//! recorded reads, language, and a timeline that shows an event changed behind the ledger's back.

use crate::common::scenario::{complete, iin_for, run_fixture};
use crate::common::{lit, tamper, Backend, Place};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use devtools::sim::DEFAULT_SIM_SEED;
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::auth::{create_token, Role};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::registry::{RegistryFault, SignedAnswer};
use housing_ledger::rules::records::RegistryId;
use housing_ledger::rules::Procedure;
use housing_ledger::store::LogStore;
use housing_ledger::web::session::{self, SessionPolicy};
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
        Pages { state: AppState::new(ledger, devtools::sim::sim_trust(DEFAULT_SIM_SEED)), place }
    }

    /// A session cookie for a new token of `role`, as logging in gives it.
    async fn cookie(&self, role: Role) -> String {
        let store = self.state.ledger.access();
        let token = create_token(&self.state.ledger, role, "Инспектор").await.unwrap().0;
        let caller = housing_ledger::auth::authenticate(&self.state.ledger, &token).await.unwrap().unwrap();
        format!("hl_session={}", session::open(store.as_ref(), &caller).await.unwrap())
    }

    /// Status, `Location` and `Set-Cookie` (whichever the answer has, joined), and body. A form
    /// posted with a session cookie carries the session's CSRF token unless it names one.
    async fn call(&self, method: &str, uri: &str, cookie: Option<&str>, form: Option<&str>) -> (StatusCode, Option<String>, String) {
        self.call_with(method, uri, cookie, form, &[]).await
    }

    async fn call_with(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        form: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let session_id = cookie.and_then(|c| c.split("; ").find_map(|kv| kv.strip_prefix("hl_session=")));
        let form = form.map(|f| match session_id {
            Some(id) if !f.contains("csrf=") => format!("{f}{}csrf={}", if f.is_empty() { "" } else { "&" }, session::csrf_token(id)),
            _ => f.to_string(),
        });
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let resp = app(self.state.clone()).oneshot(req.body(form.map(Body::from).unwrap_or_else(Body::empty)).unwrap()).await.unwrap();
        let status = resp.status();
        let location = resp.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
        let set_cookie = resp.headers().get(header::SET_COOKIE).map(|v| v.to_str().unwrap().to_string());
        let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        let both: Vec<String> = location.into_iter().chain(set_cookie).collect();
        (status, (!both.is_empty()).then(|| both.join(" | ")), body)
    }
}

impl Pages {
    async fn ledger_size(&self) -> u64 {
        self.state.ledger.size().await.unwrap()
    }

    /// The login page's CSRF cookie (`name=value`) and the token its form carries.
    async fn login_form(&self) -> (String, String) {
        let resp = app(self.state.clone()).oneshot(Request::get("/ui/login").body(Body::empty()).unwrap()).await.unwrap();
        let set = resp.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        let csrf = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        (cookie, csrf)
    }

    /// Logs in with a new token of `role`: the session cookie (`name=value`) and the whole `Set-Cookie`.
    async fn log_in(&self, role: Role) -> (String, String, String) {
        let token = create_token(&self.state.ledger, role, "Инспектор").await.unwrap().0;
        let (login_cookie, csrf) = self.login_form().await;
        let (s, set, _) = self.call("POST", "/ui/login", Some(&login_cookie), Some(&format!("token={token}&csrf={csrf}"))).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let set = set.unwrap();
        let cookie = set.split(" | ").nth(1).unwrap().split(';').next().unwrap().to_string();
        (cookie, set, token)
    }
}

/// Issue 17, finding 8: the cookie holds a session id, never the token; the session ends on
/// logout, when idle, at its absolute time, and when its token is revoked.
#[tokio::test]
async fn sessions_hold_no_token_and_end() {
    let mut p = Pages::new().await;
    p.state = p.state.clone().with_sessions(SessionPolicy { idle: std::time::Duration::from_millis(400), ..Default::default() });
    let (cookie, set, token) = p.log_in(Role::Auditor).await;
    assert!(cookie.starts_with("hl_session=") && !set.contains(&token) && !set.contains("Secure"), "{set}");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Max-Age=43200"), "{set}");
    assert_eq!(p.call("GET", "/ui", Some(&cookie), None).await.0, StatusCode::OK);
    // The raw token in a cookie is no session.
    assert_eq!(p.call("GET", "/ui", Some(&format!("hl_session={token}")), None).await.0, StatusCode::SEE_OTHER);
    assert_eq!(p.call("GET", "/ui", Some(&format!("hl_token={token}")), None).await.0, StatusCode::SEE_OTHER);
    // Idle past its time: ended.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(p.call("GET", "/ui", Some(&cookie), None).await.1.is_some_and(|to| to.starts_with("/ui/login")), "idle");

    // Absolute: ends however busy.
    p.state = p.state.clone().with_sessions(SessionPolicy {
        absolute: std::time::Duration::from_millis(700),
        public_url: Some("https://housing.example".into()),
        ..Default::default()
    });
    let (cookie, set, _) = p.log_in(Role::Auditor).await;
    assert!(set.contains("; Secure"), "served over HTTPS: {set}");
    let mut ended = false;
    for _ in 0..30 {
        if p.call("GET", "/ui", Some(&cookie), None).await.0 != StatusCode::OK {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "the absolute timeout ends a busy session");

    // Logout ends it on the server: the old cookie is no good after.
    p.state = p.state.clone().with_sessions(SessionPolicy::default());
    let (cookie, _, _) = p.log_in(Role::Auditor).await;
    let (s, set, _) = p.call("POST", "/ui/logout", Some(&cookie), Some("")).await;
    assert!(s == StatusCode::SEE_OTHER && set.unwrap().contains("hl_session=;"));
    assert_eq!(p.call("GET", "/ui", Some(&cookie), None).await.0, StatusCode::SEE_OTHER, "ended on the server");
    // Revoking the token ends its sessions at once.
    let (cookie, _, token) = p.log_in(Role::Auditor).await;
    let store = p.state.ledger.access().clone();
    let id = housing_ledger::auth::authenticate(&p.state.ledger, &token).await.unwrap().unwrap().token_id;
    assert_eq!(p.call("GET", "/ui", Some(&cookie), None).await.0, StatusCode::OK);
    assert!(store.revoke_token(&id, "2026-01-01T00:00:00.000Z").await.unwrap());
    assert_eq!(p.call("GET", "/ui", Some(&cookie), None).await.0, StatusCode::SEE_OTHER, "revoked");
}

/// Issue 17, finding 7: a form without the session's CSRF token, or posted from another site
/// (another port of this host included), is refused with 403 and changes nothing.
#[tokio::test]
async fn cross_site_posts_and_forms_without_their_token_are_refused() {
    let p = Pages::new().await;
    let officer = p.cookie(Role::AppealsOfficer).await;
    let iin = iin_for("P");
    let filing = "procedure=registry_removal&grounds=x";
    let size = p.state.ledger.size().await.unwrap();
    for (form, headers) in [
        (format!("{filing}&csrf=forged"), vec![]),
        (format!("{filing}&csrf="), vec![]),
        (filing.to_string(), vec![("Origin", "http://evil.example"), ("Host", "127.0.0.1:8080")]),
        (filing.to_string(), vec![("Origin", "http://127.0.0.1:9999"), ("Host", "127.0.0.1:8080")]),
        (filing.to_string(), vec![("Origin", "null"), ("Host", "127.0.0.1:8080")]),
        (filing.to_string(), vec![("Sec-Fetch-Site", "cross-site")]),
        (filing.to_string(), vec![("Sec-Fetch-Site", "same-site")]),
        (filing.to_string(), vec![("Sec-Fetch-Site", "cross-site"), ("Origin", "http://127.0.0.1:8080"), ("Host", "127.0.0.1:8080")]),
    ] {
        let (s, _, body) = p.call_with("POST", &format!("/ui/persons/{iin}/appeals"), Some(&officer), Some(&form), &headers).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{form} {headers:?}");
        assert!(body.contains("id=\"error\""), "a page that says why: {body}");
    }
    let (login_cookie, csrf) = p.login_form().await;
    assert_eq!(p.ledger_size().await, size, "nothing was written");
    let token = create_token(&p.state.ledger, Role::Auditor, "").await.unwrap().0;
    // Issuing the token is itself an event; what is refused below writes nothing either.
    let size = p.ledger_size().await;
    let (s, _, _) =
        p.call_with("POST", "/ui/login", Some(&login_cookie), Some(&format!("token={token}&csrf={csrf}")), &[("Origin", "http://evil.example")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "login from another site");
    let (s, _, _) = p.call("POST", "/ui/login", None, Some(&format!("token={token}&csrf={csrf}"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "login without its cookie");
    let (s, _, _) = p.call("POST", "/ui/logout", Some(&officer), Some("csrf=forged")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "logout without the token");
    assert_eq!(p.ledger_size().await, size, "nothing was written");
    // The same form from this origin, with its token, is taken.
    let (s, to, _) = p
        .call_with(
            "POST",
            &format!("/ui/persons/{iin}/appeals"),
            Some(&officer),
            Some(filing),
            &[("Origin", "null"), ("Host", "127.0.0.1:8080"), ("Sec-Fetch-Site", "same-origin")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let to = to.unwrap();
    assert_eq!(to, format!("/ui/persons/{iin}"), "filed (a browser under no-referrer sends Origin: null with Sec-Fetch-Site)");
    // Issue 30, item 11: what happened is kept with the session and shown once; a message
    // crafted into the URL is never shown.
    let page = p.call("GET", &to, Some(&officer), None).await.2;
    assert!(page.contains("id=\"flash\"") && page.contains("ap-"), "shown once");
    let again = p.call("GET", &to, Some(&officer), None).await.2;
    assert!(!again.contains("id=\"flash\""), "and only once");
    let crafted = p.call("GET", &format!("{to}?err=Call+8-800-FAKE&msg=Call+us"), Some(&officer), None).await.2;
    assert!(!crafted.contains("8-800-FAKE") && !crafted.contains("Call us") && !crafted.contains("id=\"error\""), "a crafted ?err= shows nothing");
    // Issue 17, finding 1: an action's answer leads to the person's page: a recorded read,
    // even when the action fails (here a correction that is not a signed answer).
    let appeal = housing_ledger::reads::of_person(&p.state.ledger, &iin).await.unwrap();
    assert!(appeal.iter().any(|r| r["read"] == "web:appeal-filing"), "{appeal:?}");
    let id = p.state.appeals().of_person(&iin).await.unwrap()[0].id.clone();
    let (s, to, _) = p.call("POST", &format!("/ui/appeals/{id}/correction"), Some(&officer), Some("signed=nonsense")).await;
    assert!(s == StatusCode::SEE_OTHER && !to.unwrap().contains("err="));
    assert!(p.call("GET", &format!("/ui/persons/{iin}"), Some(&officer), None).await.2.contains("id=\"error\""), "the refusal, once");
    let reads = housing_ledger::reads::of_person(&p.state.ledger, &iin).await.unwrap();
    assert!(reads.iter().any(|r| r["read"] == format!("web:appeal:{id}:correction")), "{reads:?}");
    let (s, _, _) =
        p.call_with("POST", "/ui/appeals/none/recheck", Some(&officer), Some(""), &[("Origin", "http://127.0.0.1:8080"), ("Host", "127.0.0.1:8080")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "an Origin that is ours passes (to a 404 for an appeal that does not exist)");
}

#[tokio::test]
async fn sessions_roles_reads_and_language() {
    let p = Pages::new().await;
    let iin = iin_for("P");
    // No session: to the login page.
    let (s, to, _) = p.call("GET", &format!("/ui/persons/{iin}"), None, None).await;
    let to = to.unwrap();
    assert!(s == StatusCode::SEE_OTHER && to.starts_with("/ui/login?next=") && to.contains(&iin), "{to}");
    // Issue 30, item 10: logging in returns to the page asked for; never to another site.
    let (login_cookie, csrf) = p.login_form().await;
    let officer_token = create_token(&p.state.ledger, Role::AppealsOfficer, "").await.unwrap().0;
    let next = format!("/ui/persons/{iin}");
    let (s, back, _) =
        p.call("POST", "/ui/login", Some(&login_cookie), Some(&format!("token={officer_token}&csrf={csrf}&next={}", next.replace('/', "%2F")))).await;
    assert!(s == StatusCode::SEE_OTHER && back.as_deref().is_some_and(|b| b.starts_with(&next)), "{back:?}");
    let (_, away, _) = p.call("POST", "/ui/login", Some(&login_cookie), Some(&format!("token={officer_token}&csrf={csrf}&next=%2F%2Fevil.example%2Fui"))).await;
    assert!(away.as_deref().is_some_and(|b| b.starts_with("/ui") && !b.contains("evil")), "{away:?}");
    let (s, _, body) = p.call("POST", "/ui/login", Some(&login_cookie), Some(&format!("token=hl_nope&csrf={csrf}"))).await;
    assert!(s == StatusCode::UNAUTHORIZED && body.contains("Токен белгісіз"), "{s}");
    let token = create_token(&p.state.ledger, Role::Auditor, "").await.unwrap().0;
    let (s, cookie, _) = p.call("POST", "/ui/login", Some(&login_cookie), Some(&format!("token={token}&csrf={csrf}"))).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let cookie = cookie.unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    // The case page; the read is recorded.
    let auditor = p.cookie(Role::Auditor).await;
    let (s, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&auditor), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"timeline\"") && html.contains("есептен шығарылды") && !html.contains("class=\"bad\""), "removed, all verified");
    // Decision 22: the case opens with what was found and how to contest, before the timeline.
    let explained = html.split("id=\"explanation-registry_removal\"").nth(1).expect("the case's explanation").split("</section>").next().unwrap();
    assert!(explained.contains("№ П-9") && explained.contains("Сізге қатысты") && explained.contains("Мемлекеттік тізілім"), "{explained}");
    assert!(html.find("id=\"explanation-registry_removal\"") < html.find("id=\"timeline\""));
    // Issue 30, item 10: search by name; the persons a result names are a recorded read.
    let (s, _, found) = p.call("GET", &format!("/ui/search?iin={}", urlencoding("ахмет ерл")), Some(&auditor), None).await;
    assert_eq!(s, StatusCode::OK);
    let results = found.split("id=\"name-results\"").nth(1).expect("results").split("</table>").next().unwrap();
    assert!(results.contains(&format!("href=\"/ui/persons/{iin}\"")) && results.contains("Ахметов Ерлан"), "{results}");
    let reads = housing_ledger::reads::of_person(&p.state.ledger, &iin).await.unwrap();
    assert!(reads.iter().any(|r| r["read"] == "web:search-by-name"), "{reads:?}");
    let (s, _, _) = p.call("GET", "/ui/search?iin=%D0%B0%D1%85", Some(&auditor), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "two letters are too few");
    // Issue 30: the case opens with a summary card: who, where, which registration.
    let card = html.split("id=\"summary-registry_removal\"").nth(1).expect("a summary card").split("</dl>").next().unwrap();
    assert!(card.contains("Ахметов Ерлан") && card.contains("Астана") && card.contains("1000") && card.contains("2019"), "{card}");
    // Issue 30, item 4: the ground links to the registry answer it rests on, which is there.
    let link = html.split("class=\"evidence\" href=\"").nth(1).expect("a ground's link").split('"').next().unwrap().replace("&amp;", "&");
    let anchor = link.split('#').nth(1).unwrap();
    assert!(link.starts_with(&format!("/ui/persons/{iin}?page=1")), "{link}");
    let row = html.split(&format!("id=\"{anchor}\"")).nth(1).expect("the answer's row").split("</tr>").next().unwrap();
    assert!(row.contains("data-type=\"RegistryResponded\""), "{row}");
    assert!(!html.contains("id=\"file-registry_removal\""), "auditors get no appeal form");
    let reads = housing_ledger::reads::of_person(&p.state.ledger, &iin).await.unwrap();
    assert!(reads.iter().any(|r| r["read"] == "web:case"), "the page read is in the ledger");
    let (s, _, html) = p.call("GET", "/ui/persons/123", Some(&auditor), None).await;
    assert!(s == StatusCode::BAD_REQUEST && html.contains("ЖСН 12 цифрдан тұруы керек"), "in the page's language: {html}");
    let (s, _, _) = p.call("POST", "/ui/appeals/ap-1/recheck", Some(&auditor), Some("")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "auditors do not act on appeals");
    let officer = p.cookie(Role::AppealsOfficer).await;
    let (_, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&officer), None).await;
    assert!(html.contains("id=\"file-registry_removal\""), "officers get the appeal form");
    // Issue 21, item 4: each field's label sits above it, tied by for/id; required ones marked.
    let form = html.split("id=\"file-registry_removal\"").nth(1).unwrap().split("</form>").next().unwrap();
    for id in ["grounds", "received_on", "late_reason", "contested_step", "suspend_on_file"] {
        assert!(form.contains(&format!("<label for=\"{id}\"")) || form.contains(&format!("<label class=\"inline\" for=\"{id}\"")), "{id} has no label: {form}");
        assert!(form.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let grounds_label = form.split("<label for=\"grounds\">").nth(1).unwrap().split("</label>").next().unwrap();
    assert!(grounds_label.contains("title=\"міндетті өріс\""), "the required field is marked: {grounds_label}");
    let optional = form.split("<label for=\"late_reason\">").nth(1).unwrap().split("</label>").next().unwrap();
    assert!(!optional.contains("class=\"req\""), "an optional one is not: {optional}");
    // The deadline and the days left, before filing.
    let deadline = form.split("id=\"deadline-registry_removal\"").nth(1).expect("the deadline is shown").split("</dl>").next().unwrap();
    assert!(deadline.contains("күн қалды") && deadline.contains("<time datetime="), "{deadline}");
    // A filing with an error comes back as typed, the error beside its field, in the page's
    // language, and named by the field's aria-describedby.
    let (s, _, html) =
        p.call("POST", &format!("/ui/persons/{iin}/appeals"), Some(&officer), Some("procedure=registry_removal&grounds=+&late_reason=ауырдым")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let field = html.split("<div class=\"field invalid\">").nth(1).expect("the field is marked invalid").split("</div>").next().unwrap();
    assert!(field.contains("for=\"grounds\"") && field.contains("id=\"grounds-error\" role=\"alert\">⚠ Бұл өрісті толтырыңыз"), "{field}");
    assert!(field.contains("aria-describedby=\"grounds-error\" aria-invalid=\"true\""), "{field}");
    assert!(html.contains("name=\"late_reason\" value=\"ауырдым\""), "what was typed is kept");
    let tomorrow = (housing_ledger::rules::calendar::today() + chrono::Days::new(1)).to_string();
    let (s, _, html) = p
        .call(
            "POST",
            &format!("/ui/persons/{iin}/appeals"),
            Some(&format!("{officer}; hl_lang=ru")),
            Some(&format!("procedure=registry_removal&grounds=x&received_on={tomorrow}")),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let error = html.split("id=\"received_on-error\"").nth(1).expect("beside the date").split("</p>").next().unwrap();
    assert!(error.contains("Дата получения") && !error.contains(&tomorrow), "in Russian, the date as people write it: {error}");
    assert!(p.state.appeals().of_person(&iin).await.unwrap().is_empty(), "no appeal was filed (only the reads were recorded)");
    // Issue 30, item 8: the contested step is chosen by name (default: the step that found the
    // ground, said so); a wrong date comes back in an error summary whose link leads to the
    // field; a date typed DD.MM.YYYY is taken.
    assert!(html.contains("<select id=\"contested_step\"") && html.contains("<option value=\"6\">"), "the steps by name");
    let (s, _, refused) =
        p.call("POST", &format!("/ui/persons/{iin}/appeals"), Some(&officer), Some("procedure=registry_removal&grounds=x&received_on=31.02.2026")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let summary = refused.split("class=\"error-summary\"").nth(1).expect("an error summary").split("</div>").next().unwrap();
    assert!(summary.contains("href=\"#received_on\"") && summary.contains("31.02.2026"), "{summary}");
    let today = chrono::Utc::now().with_timezone(&housing_ledger::rules::calendar::almaty()).format("%d.%m.%Y").to_string();
    let (s, _, _) =
        p.call("POST", &format!("/ui/persons/{iin}/appeals"), Some(&officer), Some(&format!("procedure=registry_removal&grounds=x&received_on={today}"))).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{today} is taken");
    let filed = p.state.appeals().of_person(&iin).await.unwrap();
    assert_eq!(
        filed[0].filing.received_on,
        chrono::Utc::now().with_timezone(&housing_ledger::rules::calendar::almaty()).date_naive().to_string(),
        "recorded as a day"
    );

    // Language: Russian by choice; never redirected off the site.
    let (_, set, _) = p.call("GET", "/ui/lang/ru?back=/ui/dashboard", None, None).await;
    assert!(set.unwrap().contains("hl_lang=ru"));
    let (_, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&format!("{auditor}; hl_lang=ru")), None).await;
    assert!(html.contains("снят с учёта") && html.contains("lang=\"ru\""));
    // Issue 21, item 1: each event's time in local time in Kazakhstan, with the month's name;
    // the exact UTC instant in its title.
    let first = p.state.ledger.log().read_stream(&format!("person:{iin}"), None).await.unwrap().remove(0);
    let local = housing_ledger::web::i18n::local_time(housing_ledger::web::i18n::Lang::Ru, &first.time).unwrap();
    assert!(local.contains(" 20") && !local.contains('T'), "{local}");
    assert!(html.contains(&format!("<time datetime=\"{}\" title=\"{} (UTC)\">{local}</time>", first.time, first.time)), "{local}");
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
    let events = p.state.ledger.log().read_stream(&format!("person:{iin}"), None).await.unwrap();
    let answer = events.iter().find(|e| e.kind == "RegistryResponded" && e.data["registry"] == "gosreestr").unwrap();
    let store = p.place.sql().await;
    let (_, body) = store.read_raw(answer.seq, 1).await.unwrap().remove(0);
    // On a v2 ledger the answer is sealed: a byte of its ciphertext changes instead.
    let changed = if body.contains("П-9") {
        body.replace("П-9", "П-8")
    } else {
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let ct = v["data"]["sealed"]["ct"].as_str().unwrap().to_string();
        v["data"]["sealed"]["ct"] = json!(if ct.starts_with('A') { ct.replacen('A', "B", 1) } else { format!("A{}", &ct[1..]) });
        v.to_string()
    };
    tamper(&store, &format!("UPDATE events SET body = {} WHERE seq = {}", lit(&changed), answer.seq)).await;
    let (s, _, html) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&auditor), None).await;
    assert_eq!(s, StatusCode::OK);
    let row = html.split("<tr").find(|r| r.contains(&format!("id=\"event-{}\"", answer.seq))).expect("the changed event is shown");
    assert!(row.contains("class=\"bad\"") && row.contains("қолтаңба ЖАРАМСЫЗ"), "its signature fails: {row}");
    assert!(row.contains("дереккөз қолтаңбасы ЖАРАМСЫЗ"), "and so does the source's");
    // Issue 21, item 2: one mark per event, the checks behind it in a <details> that opens on
    // demand; the changed event's mark says it is not verified, the others' that they are.
    assert!(row.contains("<details class=\"check\"") && row.contains("<summary><span class=\"bad\">✗ тексеруден өтпеді</span></summary>"), "{row}");
    let others: Vec<&str> = html.split("<tr").filter(|r| r.contains("class=\"event\"") && !r.contains(&format!("id=\"event-{}\"", answer.seq))).collect();
    assert!(
        others.len() >= 5
            && others.iter().all(|r| r.contains("<summary><span class=\"ok\">✓<span class=\"visually-hidden\"> тексерілді</span></span></summary>")),
        "{others:?}"
    );
    // Issue 30: "verified" is said once above the timeline, not on every row; a failure is counted there.
    let line = html.split("id=\"timeline-verified\"").nth(1).expect("one line").split("</p>").next().unwrap();
    assert!(line.contains("class=\"bad\"") && line.contains(": 1 ("), "{line}");
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
    let token = create_token(&p.state.ledger, Role::Auditor, "").await.unwrap().0;
    for (uri, no_store) in [(format!("/v1/persons/{iin}"), true), ("/v1/events?limit=1".to_string(), true), ("/v1/keys".to_string(), false)] {
        let resp = app(p.state.clone())
            .oneshot(Request::get(&uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.headers().get(header::CACHE_CONTROL).is_some_and(|v| v == "no-store"), no_store, "{uri}");
    }
}

/// Issue 21, item 3: the case page lists the corrections the source owners issued for an open
/// appeal, readably, and the officer accepts one with a click; the signed JSON is pasted only
/// behind a "raw" details element. An auditor sees them but has no button.
#[tokio::test]
async fn an_officer_accepts_a_correction_issued_at_the_source() {
    use devtools::sim::FixtureRegistries;
    let mut p = Pages::new().await;
    let case = json!({"entries": [{"iin": "@P"}]});
    let regs = Arc::new(FixtureRegistries::new(Fixture::parse("now", &complete(Procedure::RegistryRemoval, case).0.to_string()).unwrap(), DEFAULT_SIM_SEED));
    p.state = p.state.clone().with_registries(regs.clone());
    let (iin, officer, auditor) = (iin_for("P"), p.cookie(Role::AppealsOfficer).await, p.cookie(Role::Auditor).await);
    let (s, _, _) = p.call("POST", &format!("/ui/persons/{iin}/appeals"), Some(&officer), Some("procedure=registry_removal&grounds=not+mine")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let id = p.state.appeals().of_person(&iin).await.unwrap()[0].id.clone();
    let page = p.call("GET", &format!("/ui/persons/{iin}"), Some(&officer), None).await.2;
    assert!(page.contains("Бұл іс бойынша түзету жоқ"), "none issued yet, said so");
    assert!(page.contains("<details class=\"raw\"><summary>") && page.contains("name=\"signed\""), "pasting sits behind a raw details element");

    regs.simulator().issue_correction(RegistryId::Gosreestr, &iin, serde_json::Value::Null).unwrap();
    let page = p.call("GET", &format!("/ui/persons/{iin}"), Some(&officer), None).await.2;
    let card = page.split("class=\"correction\" data-registry=\"gosreestr\"").nth(1).expect("the correction is listed");
    assert!(card.contains("Мемлекеттік тізілім"), "named in Kazakh: {card}");
    assert!(card.contains(&iin) && card.contains("<time datetime="), "readable: whom it is about, when it was issued");
    assert!(card.contains("id=\"accept-gosreestr\""), "an officer can accept it");
    // Issue 30, item 9: what it replaces beside it (the contract the run found), and a way to
    // ask the sources again.
    let was = card.split("class=\"was\"").nth(1).unwrap().split("class=\"now\"").next().unwrap();
    assert!(was.contains("П-9"), "{was}");
    assert!(page.contains("class=\"ask-again\""));
    let auditor_page = p.call("GET", &format!("/ui/persons/{iin}"), Some(&auditor), None).await.2;
    assert!(auditor_page.contains("data-registry=\"gosreestr\"") && !auditor_page.contains("accept-gosreestr"), "an auditor sees it, without the button");

    let sig = card.split("name=\"source_sig\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let form = format!("registry=gosreestr&source_sig={}", urlencoding(sig));
    let (s, to, _) = p.call("POST", &format!("/ui/appeals/{id}/accept-correction"), Some(&officer), Some(&form)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(to.as_deref(), Some(format!("/ui/persons/{iin}").as_str()));
    let page = p.call("GET", &format!("/ui/persons/{iin}"), Some(&officer), None).await.2;
    assert!(page.contains("id=\"flash\""), "what happened, once");
    assert!(page.contains("✓ Қабылданды") && !page.contains("accept-gosreestr"), "received, no longer offered");
    let responded = housing_ledger::appeal::timeline(&p.state.ledger, &iin).await.unwrap();
    assert!(responded.iter().any(|e| e.kind == "RegistryResponded" && e.data["correction"] == true), "recorded in the ledger");
    let (_, to, _) = p.call("POST", &format!("/ui/appeals/{id}/accept-correction"), Some(&officer), Some(&form)).await;
    let page = p.call("GET", &to.unwrap(), Some(&officer), None).await.2;
    let err = page.split("id=\"error\" role=\"alert\">").nth(1).map(|e| e.split("</div>").next().unwrap().to_string()).expect("not twice");
    let err = err.replace("&quot;", "\"");
    assert!(err == "Іс немесе шағым күйі мұны істеуге мүмкіндік бермейді." && !err.contains("received already"), "why, in the page's language: {err}");

    // A source that never answers: the page says so after a few seconds, and still shows.
    p.state = p.state.clone().with_registries(Arc::new(Unanswering(regs)));
    let (s, _, page) = p.call("GET", &format!("/ui/persons/{iin}"), Some(&officer), None).await;
    assert_eq!(s, StatusCode::OK);
    let corrections = page.split("class=\"corrections\"").nth(1).unwrap();
    assert!(corrections.contains("Түзетулерді тізілімдерден алу мүмкін болмады: no answer within 3 s"), "{corrections}");
}

/// Registries whose corrections never come: every other question goes to the simulator.
struct Unanswering(Arc<devtools::sim::FixtureRegistries>);

#[async_trait::async_trait]
impl housing_ledger::registry::Registries for Unanswering {
    async fn list_page(&self, p: Procedure, page: u64, r: &str) -> Result<SignedAnswer, RegistryFault> {
        self.0.list_page(p, page, r).await
    }
    async fn query(&self, reg: RegistryId, s: &[String], f: &[String], r: &str) -> Result<SignedAnswer, RegistryFault> {
        self.0.query(reg, s, f, r).await
    }
    async fn decisions(&self, p: Procedure, i: &[String], r: &str) -> Result<SignedAnswer, RegistryFault> {
        self.0.decisions(p, i, r).await
    }
    async fn deliver(&self, n: &str, i: &str, a: u32) -> Result<String, housing_ledger::registry::DeliveryFault> {
        self.0.deliver(n, i, a).await
    }
    async fn reinstate(&self, x: &housing_ledger::registry::Reinstatement, r: &str) -> Result<SignedAnswer, RegistryFault> {
        self.0.reinstate(x, r).await
    }
    async fn corrections(&self, _: &str, _: &[String]) -> Result<Vec<SignedAnswer>, RegistryFault> {
        std::future::pending().await
    }
    fn describe(&self) -> String {
        "unanswering".into()
    }
    fn is_live(&self) -> bool {
        false
    }
}

fn urlencoding(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Issue 21, item 5: the printable case file holds the notice as sent in both languages, the
/// decision with its official, the grounds with the answers they rest on, the appeal's steps,
/// and the checkpoint, verified as `verify-proof` verifies it; reading it is a recorded read.
#[tokio::test]
async fn the_printable_case_file() {
    let p = Pages::new().await;
    let (iin, officer) = (iin_for("P"), p.cookie(Role::AppealsOfficer).await);
    let (s, _, _) = p.call("POST", &format!("/ui/persons/{iin}/appeals"), Some(&officer), Some("procedure=registry_removal&grounds=not+mine")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let id = p.state.appeals().of_person(&iin).await.unwrap()[0].id.clone();
    // Issue 30, item 10: the worklist at /ui lists the open appeal with its days left, and the
    // persons it names are a recorded read.
    let (s, _, ui) = p.call("GET", "/ui", Some(&officer), None).await;
    assert_eq!(s, StatusCode::OK);
    let row = ui.split(&format!("data-appeal=\"{id}\"")).nth(1).expect("the open appeal on the worklist").split("</tr>").next().unwrap();
    assert!(row.contains(&iin) && row.contains("class=\"days-left\""), "{row}");
    let reads = housing_ledger::reads::of_person(&p.state.ledger, &iin).await.unwrap();
    assert!(reads.iter().any(|r| r["read"] == "web:worklist"), "{reads:?}");
    let (s, _, page) = p.call("GET", &format!("/ui/appeals/{id}/print"), Some(&officer), None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let section = |name: &str| {
        page.split(&format!("id=\"print-{name}\"")).nth(1).unwrap_or_else(|| panic!("no section {name}")).split("</section>").next().unwrap().to_string()
    };
    assert!(section("person").contains(&iin));
    // Decision 22: the explanation is the first section: the record, whose, how to contest.
    assert!(page.find("id=\"print-explanation\"") < page.find("id=\"print-person\""), "the explanation comes first");
    let explained = section("explanation");
    assert!(
        explained.contains("тұрғынжайды жекешелендіру туралы шарт № П-9, күні: 2001 жылғы 1 қаңтар, мекенжайы: Алматы — Сізге қатысты")
            && explained.contains("үш ай ішінде")
            && explained.contains("class=\"last-day\""),
        "{explained}"
    );
    let notice = section("notice");
    assert!(notice.contains("lang=\"kk\"") && notice.contains("lang=\"ru\"") && notice.contains(&iin), "both texts: {notice}");
    assert!(section("decision").contains("id=\"print-official\""), "the official who decided");
    let grounds = section("grounds");
    assert!(grounds.contains("000:6") && grounds.contains("П-9"), "the ground and the answer it rests on: {grounds}");
    assert!(section("appeal").contains("data-type=\"AppealFiled\""));
    let checkpoint = section("checkpoint");
    let size = p.state.ledger.latest_served().await.unwrap().map(|(c, _)| c.tree_size);
    assert!(checkpoint.contains("id=\"print-verified\"><span class=\"ok\">✓"), "verified: {checkpoint}");
    assert!(size.is_some_and(|n| checkpoint.contains(&format!("id=\"print-tree-size\">{n}<"))), "{size:?}: {checkpoint}");
    assert!(section("verify").contains(&format!("verify-proof case-file-{id}.json --ledger-key")));
    assert!(page.contains("@media print"), "paginated by a print stylesheet");
    let reads = housing_ledger::reads::of_person(&p.state.ledger, &iin).await.unwrap();
    assert!(reads.iter().any(|r| r["read"] == format!("web:print:{id}")), "{reads:?}");
    assert_eq!(p.call("GET", "/ui/appeals/ap-999/print", Some(&officer), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(p.call("GET", &format!("/ui/appeals/{id}/print"), None, None).await.0, StatusCode::SEE_OTHER, "to the login page");
}

/// Issue 21, item 6: the dashboard answers questions. Removals and terminations per run over
/// time, appeals by state with the share overturned by ground, filters by procedure and
/// locality; each figure links to the cases behind it, a paged list whose pages are recorded
/// reads of the persons they name.
#[tokio::test]
async fn the_dashboard_answers_questions() {
    use crate::common::scenario::population;
    use devtools::sim::FixtureRegistries;
    use housing_ledger::appeal::{Filing, Resolution};
    use housing_ledger::auth::issue_token;
    use housing_ledger::pipeline::{self, Settings, Silent};
    use housing_ledger::rules::RuleBook;
    // Seventeen on the waiting list, five of them in Алматы: fifteen removed. Two leases
    // terminated in a run of their own.
    let (mut case, _) = population();
    for k in 0..5 {
        case["entries"][k]["locality"] = json!("Алматы");
    }
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let removal = Fixture::parse("dash", &complete(Procedure::RegistryRemoval, case.clone()).0.to_string()).unwrap();
    run_fixture(&ledger, removal).await;
    let lease = json!({"entries": [{"iin": "@L0"}, {"iin": "@L1"}], "registries": {"gosreestr": {"@L0": {"privatization_contracts": [{"number": "П-2"}]}, "@L1": {"privatization_contracts": [{"number": "П-3"}]}}}});
    let lease = Fixture::parse("lease", &complete(Procedure::LeaseTermination, lease).0.to_string()).unwrap();
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let regs = Arc::new(FixtureRegistries::new(lease, DEFAULT_SIM_SEED));
    pipeline::run(&ledger, regs, keys.clone(), &RuleBook::built_in(), Procedure::LeaseTermination, "2026-01-15", Settings::default(), &Silent).await.unwrap();
    // Appeals: R0 suspended, R5 filed, R1 overturned (ГосРеестр no longer holds its contract).
    let mut now = case.clone();
    now["registries"]["gosreestr"].as_object_mut().unwrap().remove("@R1");
    let now = Fixture::parse("now", &complete(Procedure::RegistryRemoval, now).0.to_string()).unwrap();
    let state = AppState::new(ledger.clone(), keys).with_registries(Arc::new(FixtureRegistries::new(now, DEFAULT_SIM_SEED)));
    let token = issue_token(&ledger, Role::AppealsOfficer, "Капитан Ахметова", &iin_for("Officer1")).await.unwrap().0;
    let officer = housing_ledger::auth::authenticate(&ledger, &token).await.unwrap().unwrap();
    let appeals = state.appeals();
    let filing = |suspend| Filing {
        procedure: "registry_removal".into(),
        grounds: "not mine".into(),
        contested_step: None,
        received_on: None,
        late_reason: None,
        suspend,
    };
    appeals.file(&iin_for("R0"), &filing(true), &officer).await.unwrap();
    appeals.file(&iin_for("R5"), &filing(false), &officer).await.unwrap();
    let a = appeals.file(&iin_for("R1"), &filing(false), &officer).await.unwrap();
    appeals.recheck(&a.id, &officer).await.unwrap();
    appeals.resolve(&a.id, &Resolution { outcome: "overturned".into(), reason: "corrected".into() }, &officer).await.unwrap();
    let p = Pages { state, place };
    let auditor = p.cookie(Role::Auditor).await;
    let get = |uri: String| {
        let (p, auditor) = (&p, auditor.clone());
        async move {
            let (s, _, html) = p.call("GET", &uri, Some(&auditor), None).await;
            assert_eq!(s, StatusCode::OK, "{uri}: {html}");
            html
        }
    };
    let inner = |html: &str, id: &str| html.split(&format!("id=\"{id}\"")).nth(1).unwrap_or_else(|| panic!("no #{id}")).split_once('>').unwrap().1.to_string();
    let text_of = |html: &str| {
        let mut out = String::new();
        let mut tag = false;
        for ch in html.chars() {
            match ch {
                '<' => tag = true,
                '>' => tag = false,
                c if !tag => out.push(c),
                _ => {}
            }
        }
        out
    };
    let number = |html: &str, id: &str| text_of(inner(html, id).split("</strong>").next().unwrap()).trim().to_string();

    let html = get("/ui/dashboard".into()).await;
    assert_eq!((number(&html, "total-removals"), number(&html, "share-reversed")), ("17".into(), "5,9\u{a0}%".into()));
    let chart = inner(&html, "chart-runs");
    assert_eq!(chart.split("</svg>").next().unwrap().matches("<polyline").count(), 2, "a line for removals, one for terminations");
    let states = inner(&html, "appeal-states");
    for (state, n) in [("filed", "1"), ("suspended", "1"), ("rechecked", "0"), ("upheld", "0"), ("overturned", "1")] {
        let cell = text_of(states.split(&format!("data-state=\"{state}\">")).nth(1).unwrap().split("</td>").next().unwrap());
        assert_eq!(cell, n, "appeals {state}");
    }
    let row = inner(&html, "overturned-by-ground");
    let row = row.split("data-ground=\"privatization_contract\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains("33,3\u{a0}%"), "one of three appeals on this ground overturned: {row}");

    // Filters.
    assert_eq!(number(&get("/ui/dashboard?procedure=lease_termination".into()).await, "total-removals"), "2");
    let almaty = get(format!("/ui/dashboard?locality={}", urlencoding("Алматы"))).await;
    assert_eq!(number(&almaty, "total-removals"), "5");
    assert!(almaty.contains("<option value=\"Алматы\" selected>"), "the filter shows as chosen");
    assert_eq!(p.call("GET", "/ui/dashboard?procedure=nothing", Some(&auditor), None).await.0, StatusCode::BAD_REQUEST);
    // Issue 30, item 6: a period, typed as people write days; removals and terminations apart.
    let within = get("/ui/dashboard?from=01.01.2026&to=31.01.2026".into()).await;
    assert_eq!(number(&within, "total-removals"), "17", "every run here is of 15 January 2026");
    assert!(within.contains("value=\"01.01.2026\""), "the period shows as typed");
    assert_eq!(number(&get("/ui/dashboard?from=2026-02-01".into()).await, "total-removals"), "0", "none after");
    assert_eq!(
        (number(&html, "total-registry_removal"), number(&html, "total-lease_termination")),
        ("15".into(), "2".into()),
        "removals and terminations are not added into one headline"
    );
    assert_eq!(p.call("GET", "/ui/dashboard?from=2026-13-01", Some(&auditor), None).await.0, StatusCode::BAD_REQUEST);

    // A figure's cases: the privatization ground's twelve, five at a time.
    let href = row.split("href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(href.starts_with("/ui/dashboard/cases?ground=privatization_contract"), "{href}");
    let list = get(href.clone()).await;
    assert_eq!(list.matches("<tr class=\"case\">").count(), 3, "the three appeals on the ground");
    let all = get("/ui/dashboard/cases?procedure=registry_removal&ground=privatization_contract&per=5&page=2".into()).await;
    assert!(text_of(&inner(&all, "count")).contains("12") && all.matches("<tr class=\"case\">").count() == 5, "page 2 of 12, five a page");
    assert!(all.contains("id=\"prev\"") && all.contains("id=\"next\"") && all.contains("page=3&amp;per=5"));
    let listed: Vec<String> = all.split("<tr class=\"case\"><td><a href=\"/ui/persons/").skip(1).map(|x| x[..12].to_string()).collect();
    assert_eq!(listed.len(), 5);
    for iin in &listed {
        let reads = housing_ledger::reads::of_person(&p.state.ledger, iin).await.unwrap();
        assert!(reads.iter().any(|r| r["read"] == "web:dashboard-cases"), "{iin}: listing is a recorded read");
    }
    let first_page = get("/ui/dashboard/cases?procedure=registry_removal&ground=privatization_contract&per=5&page=1".into()).await;
    assert!(!first_page.contains(&format!("/ui/persons/{}", listed[0])), "another page, other persons");
    assert_eq!(p.call("GET", "/ui/dashboard/cases?per=0", Some(&auditor), None).await.0, StatusCode::BAD_REQUEST);

    // An operator sees the figures, not the persons behind them.
    let operator = p.cookie(Role::Operator).await;
    let (s, _, html) = p.call("GET", "/ui/dashboard", Some(&operator), None).await;
    assert!(s == StatusCode::OK && !html.contains("/ui/dashboard/cases"), "no links to persons for an operator");
    assert_eq!(p.call("GET", "/ui/dashboard/cases", Some(&operator), None).await.0, StatusCode::FORBIDDEN);
}

/// Issue 21, item 2: a registry step's query, answer and verdict sit together under one head;
/// a long timeline comes in pages, no step split between two, every event on exactly one.
#[tokio::test]
async fn the_timeline_groups_registry_steps_and_comes_in_pages() {
    let p = Pages::new().await;
    let (iin, auditor) = (iin_for("P"), p.cookie(Role::Auditor).await);
    let all = housing_ledger::appeal::timeline(&p.state.ledger, &iin).await.unwrap();
    let page = |n: usize, per: usize| {
        let (p, auditor, iin) = (&p, auditor.clone(), iin.clone());
        async move { p.call("GET", &format!("/ui/persons/{iin}?page={n}&per={per}"), Some(&auditor), None).await.2 }
    };
    let whole = page(1, 1000).await;
    assert!(!whole.contains("id=\"timeline-pages\""), "one page, no pager");
    let step6 = whole.split("<tbody class=\"step\" data-step=\"6\">").nth(1).expect("step 6 grouped").split("</tbody>").next().unwrap();
    let head = step6.split("</tr>").next().unwrap();
    assert!(head.contains("scope=\"rowgroup\"") && head.contains("Мемлекеттік тізілім") && head.contains("табылды"), "{head}");
    let kinds: Vec<&str> = step6.split("data-type=\"").skip(1).map(|x| x.split('"').next().unwrap()).collect();
    assert_eq!(kinds, ["RegistryQueried", "RegistryResponded", "CheckEvaluated"]);
    assert!(step6.contains("<time datetime=\"2001-01-01\">2001 жылғы 1 қаңтар</time>"), "an answer's date as people write it: {step6}");

    let seqs = |html: &str| -> Vec<u64> {
        let table = html.split("id=\"timeline\"").nth(1).unwrap().split("</table>").next().unwrap();
        table.split("<tr class=\"event\"").skip(1).map(|r| r.split("<td>#").nth(1).unwrap().split('<').next().unwrap().parse().unwrap()).collect()
    };
    let first = page(1, 5).await;
    assert!(first.contains("id=\"timeline-next\"") && !first.contains("id=\"timeline-prev\""));
    let pages: usize = first.split("id=\"timeline-pages\"").nth(1).unwrap().split(" / ").nth(1).unwrap().split('<').next().unwrap().parse().unwrap();
    assert!(pages >= 3, "{} events, five a page: {pages} pages", all.len());
    let mut seen = Vec::new();
    for n in 1..=pages {
        let html = page(n, 5).await;
        let on_page = seqs(&html);
        assert!(!on_page.is_empty(), "page {n}");
        for g in html.split("<tbody class=\"step\"").skip(1) {
            let step = g.split('"').nth(1).unwrap();
            assert!(g.split("</tbody>").next().unwrap().contains("CheckEvaluated"), "step {step} on page {n} is whole, its verdict with it");
        }
        seen.extend(on_page);
    }
    assert_eq!(seen, all.iter().map(|e| e.seq).collect::<Vec<_>>(), "every event on exactly one page, in order");
    assert_eq!(seqs(&page(pages + 7, 5).await), seqs(&page(pages, 5).await), "past the end: the last page");
}
