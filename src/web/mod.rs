//! Web pages for appeals officers, served by the same binary and rendered on the server (no
//! script): search by IIN, a person's case with a timeline of every event and whether each
//! signature and inclusion proof verifies, the appeal actions, the case file, and a dashboard.
//! Kazakh or Russian, as the user chooses (a cookie remembers it).
//!
//! Logging in with an API token opens a server-side session ([`session`]); the cookie holds
//! only the session's id. Every form carries a CSRF token and cross-site POSTs are refused.
//! Reads of a person's case are recorded like any read of personal data; every action is an
//! event of the appeal.

mod algorithm_register;
mod case;
mod dashboard;
pub mod i18n;
mod print;
pub mod session;
mod verify;
mod view;
mod what_if;

use crate::appeal::{AppealError, FieldError, Filing, IssuedCorrection, Resolution};
use crate::auth::{self, Caller, Role};
use crate::rules::iin::Iin;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use i18n::{t, Lang};
use maud::{html, Markup};
use projections::person::ProcedureCase;
use serde::Deserialize;
use std::collections::BTreeMap;

const LANG_COOKIE: &str = "hl_lang";
use session::{SessionPolicy, LOGIN_COOKIE, SESSION_COOKIE};

/// The pages' Content-Security-Policy: no script at all, the one inline stylesheet by its hash,
/// forms to ourselves, never framed.
fn content_security_policy() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let style = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(view::CSS.as_bytes()));
        format!("default-src 'none'; style-src 'sha256-{style}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    })
}

/// Security headers on every page (issue 17, finding 9); pages hold personal data, so none is
/// stored by a cache.
async fn page_headers(resp: Response) -> Response {
    let mut resp = resp;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(content_security_policy()));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}

pub fn routes(policy: SessionPolicy) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(search_page))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/lang/{lang}", get(set_lang))
        .route("/ui/search", get(search))
        .route("/ui/persons/{iin}", get(case::case_page))
        .route("/ui/persons/{iin}/appeals", post(case::file_appeal))
        .route("/ui/appeals/{id}/case-file", get(case::case_file))
        .route("/ui/appeals/{id}/print", get(print::page))
        .route("/ui/appeals/{id}/{action}", post(case::appeal_action))
        .route("/ui/dashboard", get(dashboard::page))
        .route("/ui/dashboard/cases", get(dashboard::cases))
        .route("/ui/what-if", get(what_if::page).post(what_if::run))
        .route("/register", get(register_page))
        .route("/register.json", get(register_json))
        .layer(axum::middleware::from_fn(move |req, next| session::same_origin_posts(policy.clone(), req, next)))
        .layer(axum::middleware::map_response(page_headers))
        // Its own headers: the one page that runs a script (the verifier, in the browser).
        .merge(verify::routes())
}

pub(crate) fn cookies(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// Who is looking, if logged in (with the session's id), and in which language.
pub struct Session {
    caller: Option<Caller>,
    id: Option<String>,
    lang: Lang,
    /// The page asked for: where logging in returns to (issue 30, item 10).
    path: String,
}

/// Where a login may return to: a page of the cabinet's own, never another site.
fn return_to(next: &str) -> Option<&str> {
    (next.starts_with("/ui") && !next.starts_with("//") && !next.contains(['\\', '\r', '\n']) && !next.starts_with("/ui/login")).then_some(next)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let c = cookies(&parts.headers);
        let lang = c.get(LANG_COOKIE).and_then(|l| Lang::parse(l)).unwrap_or(Lang::Kk);
        let id = c.get(SESSION_COOKIE).filter(|v| !v.is_empty()).cloned();
        let caller = match &id {
            Some(id) => session::resume(&state.ledger, &state.sessions, id).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading a session");
                None
            }),
            None => None,
        };
        let id = id.filter(|_| caller.is_some());
        if let Some(c) = &caller {
            crate::disclosure::Viewer::note(parts, c);
        }
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
        Ok(Session { caller, id, lang, path })
    }
}

/// An error page in the user's language; not logged in goes to the login page.
enum WebError {
    /// Not logged in: to the login page, then back to `next`.
    Login(String),
    /// Status, message, language, and the form token if logged in.
    Page(StatusCode, String, Lang, Option<String>),
    /// A refusal the security feed hears of.
    Noted(crate::security::Kind, String, Box<WebError>),
}

/// `resp` with a note for the security feed.
fn noted(kind: crate::security::Kind, outcome: &str, mut resp: Response) -> Response {
    resp.extensions_mut().insert(crate::security::Note { kind, outcome: outcome.to_string() });
    resp
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Login(next) => match return_to(&next) {
                Some(next) => Redirect::to(&format!("/ui/login?next={}", view::urlencode(next))).into_response(),
                None => Redirect::to("/ui/login").into_response(),
            },
            WebError::Page(status, message, lang, csrf) => {
                let body = html! { div.card.err #error { (message) } p { a #back href="/ui" { (t(lang, "back_to_search")) } } };
                (status, Html(view::layout(lang, &t(lang, "error"), "/ui", csrf.as_deref(), body).into_string())).into_response()
            }
            WebError::Noted(kind, outcome, inner) => noted(kind, &outcome, inner.into_response()),
        }
    }
}

impl Session {
    fn require(&self, roles: &[Role]) -> Result<&Caller, WebError> {
        let c = self.caller.as_ref().ok_or_else(|| WebError::Login(self.path.clone()))?;
        c.require(roles).map_err(|e| WebError::Noted(crate::security::Kind::RoleDenied, e.to_string(), Box::new(self.fail(StatusCode::FORBIDDEN, e))))?;
        Ok(c)
    }

    /// The session's form token (logged in only).
    fn csrf(&self) -> Option<String> {
        self.id.as_deref().map(session::csrf_token)
    }

    /// A posted form's token must be the session's (issue 17, finding 7).
    fn check_csrf(&self, given: &str) -> Result<(), WebError> {
        match self.csrf() {
            Some(expected) if session::csrf_matches(&expected, given) => Ok(()),
            _ => Err(WebError::Noted(
                crate::security::Kind::CsrfRefused,
                "the form's token is not the session's".into(),
                Box::new(self.fail(StatusCode::FORBIDDEN, t(self.lang, "bad_csrf"))),
            )),
        }
    }

    fn page(&self, title: &str, here: &str, body: Markup) -> Html<String> {
        Html(view::layout(self.lang, title, here, self.csrf().as_deref(), body).into_string())
    }

    fn fail(&self, status: StatusCode, m: impl ToString) -> WebError {
        WebError::Page(status, m.to_string(), self.lang, self.csrf())
    }
}

/// An API error on a page: an appeal that does not exist is said so in the page's language.
fn not_found_in(session: &Session, e: crate::api::AppError, id: &str) -> WebError {
    match e.status() {
        StatusCode::NOT_FOUND => session.fail(StatusCode::NOT_FOUND, format!("{}: {id}", t(session.lang, "err_unknown_appeal"))),
        status => session.fail(status, e),
    }
}

fn internal(lang: Lang) -> impl Fn(crate::ledger::LedgerError) -> WebError {
    move |e| {
        tracing::error!(error = %e, "web page");
        if let crate::ledger::LedgerError::Tampered(m) = e {
            return WebError::Page(StatusCode::SERVICE_UNAVAILABLE, m, lang, None);
        }
        WebError::Page(StatusCode::INTERNAL_SERVER_ERROR, t(lang, "internal_error"), lang, None)
    }
}

async fn search_page(State(s): State<AppState>, session: Session) -> Result<Html<String>, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let l = session.lang;
    // Issue 30, item 10: the open appeals, the most urgent first.
    let open = worklist(dashboard::all_cases(&s, l).await?);
    let list = html! {
        div.card #worklist {
            h2 { (t(l, "worklist")) }
            @if open.is_empty() { p.muted { (t(l, "worklist_empty")) } }
            @else {
                p.muted { (t(l, "worklist_due")) }
                div.scroll { table #open-appeals {
                    thead { tr { th scope="col" { (t(l, "appeal")) } th scope="col" { (t(l, "iin")) } th scope="col" { (t(l, "procedure")) } th scope="col" { (t(l, "received_on")) } th scope="col" { (t(l, "due")) } } }
                    tbody {
                        @for w in &open {
                            tr.open-appeal data-appeal=(w.appeal) {
                                td { a href=(format!("/ui/persons/{}", w.iin)) { (w.appeal) } }
                                td { (w.iin) } td { (t(l, &w.procedure)) } td { (view::day(l, &w.received_on)) }
                                td { @match &w.due {
                                    Some(due) => { (view::day(l, &due.to_string())) " — " @let left = (*due - s.appeals().today).num_days();
                                        @if left >= 0 { strong.days-left { (left) " " (t(l, "days_left")) } } @else { span.bad { (t(l, "deadline_passed")) " " (-left) } } },
                                    None => "—",
                                } }
                            }
                        }
                    }
                } }
            }
        }
    };
    // The worklist goes under the search form.
    Ok(search_form(&session, "", None, list))
}

/// One open appeal on the worklist.
struct Open {
    appeal: String,
    iin: String,
    procedure: String,
    received_on: String,
    /// The last day to decide it: twenty working days from its receipt (APC art. 100; see
    /// `docs/implementation/legal-decisions.md`), where the calendar covers them.
    due: Option<chrono::NaiveDate>,
}

/// Every appeal not yet resolved among `cases`, the earliest due first.
fn worklist(cases: Vec<(String, BTreeMap<String, ProcedureCase>)>) -> Vec<Open> {
    let cal = crate::rules::calendar::Calendar::built_in();
    let mut out = Vec::new();
    for (iin, cases) in cases {
        for (procedure, c) in cases {
            let Some(a) = c.appeal.filter(|a| a.state != "resolved") else { continue };
            let received = chrono::NaiveDate::parse_from_str(&a.received_on, "%Y-%m-%d").ok();
            let due = received.and_then(|d| cal.working_days_after(d, APPEAL_DECIDED_IN_WORKING_DAYS).ok());
            out.push(Open { appeal: a.appeal, iin: iin.clone(), procedure, received_on: a.received_on, due });
        }
    }
    out.sort_by(|a, b| a.due.cmp(&b.due).then(a.appeal.cmp(&b.appeal)));
    out
}

/// Working days within which a complaint is decided (APC art. 100).
const APPEAL_DECIDED_IN_WORKING_DAYS: u32 = 20;

/// The search form, with what was typed and what is wrong with it beside the field.
fn search_form(session: &Session, value: &str, error: Option<&str>, below: Markup) -> Html<String> {
    let l = session.lang;
    let (described, invalid) = view::error_attrs("iin", error);
    session.page(
        &t(l, "search_iin"),
        "/ui",
        html! {
            form.card method="get" action="/ui/search" {
                (view::field_with(l, "iin", "iin_or_name", true, error, html! {
                    input #iin type="text" name="iin" value=(value) maxlength="100" required autofocus aria-describedby=[described] aria-invalid=[invalid];
                }))
                button #find type="submit" { (t(l, "find")) }
            }
            (below)
        },
    )
}

async fn login_page(State(s): State<AppState>, session: Session, Query(q): Query<BTreeMap<String, String>>) -> Response {
    // The login form's CSRF token rides in a cookie of its own (there is no session yet).
    let token = session::random_token();
    let next = q.get("next").map(String::as_str).and_then(return_to).unwrap_or("/ui");
    ([(header::SET_COOKIE, s.sessions.login_cookie(&token))], login_form(&session, &token, None, next)).into_response()
}

/// The login form; it keeps the page asked for (`next`), the request's own words.
fn login_form(session: &Session, csrf: &str, error: Option<&str>, next: &str) -> (axum::Extension<crate::disclosure::OnlyEchoes>, Html<String>) {
    let l = session.lang;
    let page = session.page(
        &t(l, "login_title"),
        "/ui/login",
        html! {
            @if let Some(e) = error { div.card.err #error { (e) } }
            form.card method="post" action="/ui/login" {
                (view::csrf_field(csrf))
                input type="hidden" name="next" value=(next);
                (view::field(l, "token", "token", true, html! { input #token type="password" name="token" autocomplete="off" required; }))
                button #login type="submit" { (t(l, "login")) }
            }
        },
    );
    (axum::Extension(crate::disclosure::OnlyEchoes), page)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

async fn login(State(s): State<AppState>, session: Session, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let expected = cookies(&headers).get(LOGIN_COOKIE).cloned().unwrap_or_default();
    if expected.is_empty() || !session::csrf_matches(&expected, &f.csrf) {
        let token = session::random_token();
        let page = login_form(&session, &token, Some(&t(session.lang, "bad_csrf")), return_to(&f.next).unwrap_or("/ui"));
        let resp = (StatusCode::FORBIDDEN, [(header::SET_COOKIE, s.sessions.login_cookie(&token))], page).into_response();
        return noted(crate::security::Kind::CsrfRefused, "the login form's token is not the one it was given", resp);
    }
    match auth::authenticate(&s.ledger, f.token.trim()).await {
        Ok(Some(caller)) => match session::open(s.ledger.access().as_ref(), &caller).await {
            Ok(id) => ([(header::SET_COOKIE, s.sessions.cookie(&id))], Redirect::to(return_to(&f.next).unwrap_or("/ui"))).into_response(),
            Err(e) => internal(session.lang)(e.into()).into_response(),
        },
        _ => {
            let resp = (StatusCode::UNAUTHORIZED, login_form(&session, &f.csrf, Some(&t(session.lang, "bad_token")), return_to(&f.next).unwrap_or("/ui")))
                .into_response();
            noted(crate::security::Kind::LoginFailed, "unknown token", resp)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(s): State<AppState>, session: Session, Form(f): Form<CsrfForm>) -> Result<Response, WebError> {
    if let Some(id) = &session.id {
        session.check_csrf(&f.csrf)?;
        session::end(s.ledger.access().as_ref(), id).await.map_err(|e| internal(session.lang)(e.into()))?;
    }
    Ok(([(header::SET_COOKIE, s.sessions.cleared())], Redirect::to("/ui/login")).into_response())
}

async fn set_lang(Path(lang): Path<String>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let lang = Lang::parse(&lang).unwrap_or(Lang::Kk);
    // A control character (CR, LF) would split the Location header: refused, not a 500.
    if q.get("back").is_some_and(|b| b.chars().any(char::is_control)) {
        let body = view::layout(lang, &t(lang, "error"), "/ui", None, html! { p { "back: a control character is not allowed" } });
        return (StatusCode::BAD_REQUEST, Html(body.into_string())).into_response();
    }
    // Only back to a page of ours.
    let back = q
        .get("back")
        .filter(|b| (b.starts_with("/ui") || b.as_str() == "/register" || b.as_str() == "/verify") && !b.starts_with("//"))
        .cloned()
        .unwrap_or_else(|| "/ui".into());
    ([(header::SET_COOKIE, format!("{LANG_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000", lang.code()))], Redirect::to(&back)).into_response()
}

async fn search(State(s): State<AppState>, session: Session, Query(q): Query<BTreeMap<String, String>>) -> Result<Response, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let l = session.lang;
    let typed = q.get("iin").map(|s| s.trim()).unwrap_or_default();
    // Letters: a search by name (issue 30, item 10); digits: an IIN.
    if typed.chars().any(char::is_alphabetic) {
        let words: Vec<String> = typed.to_lowercase().split_whitespace().map(String::from).collect();
        if words.iter().map(|w| w.chars().count()).sum::<usize>() < 3 {
            return Ok((StatusCode::BAD_REQUEST, search_form(&session, typed, Some(&t(l, "name_too_short")), html! {})).into_response());
        }
        let mut found: Vec<(String, String, String, String)> = Vec::new();
        for (iin, cases) in dashboard::all_cases(&s, l).await? {
            for (procedure, c) in cases {
                let Some(name) = c.name.clone() else { continue };
                let lower = name.to_lowercase();
                if words.iter().all(|w| lower.split_whitespace().any(|part| part.starts_with(w.as_str()))) {
                    found.push((name, iin.clone(), procedure, c.status.as_str().to_string()));
                }
            }
        }
        found.sort();
        found.truncate(NAME_RESULTS);
        let list = html! {
            div.card #name-results {
                h2 { (t(l, "search_results")) }
                @if found.is_empty() { p.muted { (t(l, "no_results")) } }
                @else { div.scroll { table {
                    thead { tr { th scope="col" { (t(l, "full_name")) } th scope="col" { (t(l, "iin")) } th scope="col" { (t(l, "procedure")) } th scope="col" { (t(l, "status")) } } }
                    tbody { @for (name, iin, procedure, status) in &found {
                        tr.result { td { a href=(format!("/ui/persons/{iin}")) { (name) } } td { (iin) } td { (t(l, procedure)) } td { (t(l, status)) } }
                    } }
                } } }
            }
        };
        return Ok(search_form(&session, typed, None, list).into_response());
    }
    match Iin::parse(typed) {
        Ok(iin) => Ok(Redirect::to(&format!("/ui/persons/{iin}")).into_response()),
        // Back to the form, with what was typed and what is wrong with it beside the field.
        Err(e) => Ok((StatusCode::BAD_REQUEST, search_form(&session, typed, Some(&i18n::iin_error(l, &e)), html! {})).into_response()),
    }
}

/// Results a search by name shows at most.
const NAME_RESULTS: usize = 50;

/// The register's document, from the stored projection and the latest served checkpoint;
/// kept for a minute, as anyone may ask for it.
async fn algorithm_register_document(s: &AppState) -> Result<crate::algorithm_register::Register, crate::ledger::LedgerError> {
    if let Some((at, doc)) = s.register.lock().expect("register cache lock").clone() {
        if at.elapsed() < REGISTER_KEPT {
            return Ok(doc);
        }
    }
    let rows = crate::read_models::all_persons(&s.ledger).await?;
    let checkpoint = s.ledger.latest_served().await?.map(|(_, note)| note);
    let doc = crate::algorithm_register::document(&s.book, &s.registry_keys, &crate::algorithm_register::figures(&rows), checkpoint.as_deref());
    *s.register.lock().expect("register cache lock") = Some((std::time::Instant::now(), doc.clone()));
    Ok(doc)
}

/// How long the register's document is kept.
const REGISTER_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

/// `/register`: public, no personal data, in the visitor's language.
async fn register_page(State(s): State<AppState>, session: Session) -> Result<Html<String>, WebError> {
    let l = session.lang;
    let doc = algorithm_register_document(&s).await.map_err(internal(l))?;
    Ok(session.page(&t(l, "reg_title"), "/register", algorithm_register::page(l, &doc)))
}

/// `/register.json`.
async fn register_json(State(s): State<AppState>) -> Result<axum::Json<crate::algorithm_register::Register>, crate::api::AppError> {
    Ok(axum::Json(algorithm_register_document(&s).await?))
}
