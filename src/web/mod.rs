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
        .route("/ui/persons/{iin}", get(case_page))
        .route("/ui/persons/{iin}/appeals", post(file_appeal))
        .route("/ui/appeals/{id}/case-file", get(case_file))
        .route("/ui/appeals/{id}/print", get(print::page))
        .route("/ui/appeals/{id}/{action}", post(appeal_action))
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

fn status_line(l: Lang, procedure: &str, c: &ProcedureCase, link: &dyn Fn(u64) -> String, entry: Option<&serde_json::Value>) -> Markup {
    let field = |k: &str| entry.and_then(|e| e[k].as_str()).map(String::from);
    html! {
        @if c.simulation {
            p.simulation #(format!("simulation-{procedure}")) { strong { (t(l, "simulation_banner")) } }
        }
        // A summary card (GOV.UK): who, where, which registration, then the status.
        dl.summary #(format!("summary-{procedure}")) {
            @if let Some(name) = &c.name { dt { (t(l, "full_name")) } dd { (name) } }
            @if let Some(x) = field("locality") { dt { (t(l, "locality")) } dd { (x) } }
            @if let Some(q) = entry.and_then(|e| verifier::registry::EntryHead::of(e).queue_number) { dt { (t(l, "queue_number")) } dd { (q) } }
            @if let Some(x) = field("registered_on") { dt { (t(l, "registered_on")) } dd { (view::day(l, &x)) } }
            @if let Some(x) = field("lease_contract") { dt { (t(l, "lease_contract")) } dd { (x) } }
        }
        dl {
            dt { (t(l, "status")) } dd {
                span.status #(format!("status-{procedure}")) { (t(l, c.status.as_str())) }
                @if let Some(o) = view::appeal_outcome(l, c) { " — " span #(format!("status-appeal-{procedure}")) { (o) } }
            }
            dt { (t(l, "grounds")) } dd { (view::grounds_linked(l, &c.grounds, Some(link))) }
            @if let Some(d) = &c.decision {
                dt { (t(l, "decision")) } dd {
                    (t(l, d.outcome.as_str())) " — " (d.decided_by) " (#" (d.seq) ")"
                    @if let Some(o) = view::appeal_outcome(l, c) { " — " (o) }
                }
                @if let Some(position) = d.official.as_ref().map(|o| o.position.as_str()) {
                    dt { (t(l, "official")) } dd { (d.decided_by) ", " (position) }
                }
            }
            @if let Some(why) = &c.decision_not_taken {
                dt { (t(l, "decision_not_taken")) } dd { (why) }
            }
            @if let Some(n) = &c.notice {
                dt { (t(l, "notice")) } dd { (t(l, &n.state)) ", " (i18n::attempts(l, n.attempts)) }
            }
            @if let Some(r) = &c.reinstated {
                dt { (t(l, "reinstated")) } dd #(format!("reinstated-{procedure}")) { (view::value(l, r)) }
            }
            @if let Some(r) = &c.reinstatement {
                dt { (t(l, "reinstatement")) } dd #(format!("reinstatement-{procedure}")) { (t(l, r)) }
            }
        }
    }
}

/// The corrections the source owners issued about an open appeal: each as readable fields,
/// with its check, and a button that accepts it. Pasting a signed answer stays possible, out
/// of the way (an auditor's exceptional case).
fn corrections_block(
    l: Lang,
    appeal: &str,
    issued: Option<&Result<Vec<IssuedCorrection>, NotListed>>,
    officer: bool,
    csrf: &str,
    was: &dyn Fn(&str) -> Option<serde_json::Value>,
) -> Markup {
    html! {
        div.corrections #(format!("corrections-{appeal}")) {
            h4 { (t(l, "corrections_issued")) }
            @match issued {
                Some(Err(e)) => p.bad { (t(l, "corrections_unavailable")) ": " (e) },
                Some(Ok(list)) if list.is_empty() => p.muted { (t(l, "no_corrections")) },
                Some(Ok(list)) => @for c in list {
                    div.correction data-registry=(c.registry) {
                        strong { (t(l, &c.registry)) } " — " (t(l, "issued_at")) " "
                        (view::issued_at(l, &c.signed.answer))
                        // Issue 30, item 9: what the correction replaces, beside it.
                        div.was-now {
                            div.was { h5 { (t(l, "was")) } @match was(&c.registry) { Some(a) => (view::subjects_records(l, &a)), None => span.muted { "—" } } }
                            div.now { h5 { (t(l, "now")) } (view::subjects_records(l, &c.signed.answer)) }
                        }
                        @if let Some(why) = &c.refused {
                            p.bad { "✗ " (t(l, "correction_refused")) ": " (why) }
                        } @else if let Some(seq) = c.received {
                            p.ok { "✓ " (t(l, "correction_received")) " (#" (seq) ")" }
                        } @else if officer {
                            form method="post" action=(format!("/ui/appeals/{appeal}/accept-correction")) {
                                (view::csrf_field(csrf))
                                input type="hidden" name="registry" value=(c.registry);
                                input type="hidden" name="source_sig" value=(c.signed.source_sig);
                                button.accept-correction #(format!("accept-{}", c.registry)) type="submit" { (t(l, "accept_correction")) }
                            }
                        }
                    }
                },
                None => {},
            }
            p { a.ask-again href=(format!("?ask={appeal}#corrections-{appeal}")) { (t(l, "ask_again")) } }
            @if officer {
                details.raw {
                    summary { (t(l, "raw_correction")) }
                    form method="post" action=(format!("/ui/appeals/{appeal}/correction")) {
                        (view::csrf_field(csrf))
                        (view::field(l, "correction", "correction_json", true, html! { textarea #correction name="signed" rows="4" required {} }))
                        button #submit-correction type="submit" { (t(l, "submit_correction")) }
                    }
                }
            }
        }
    }
}

/// What a case page is drawn with, beyond the person's cases.
struct CaseView<'a> {
    l: Lang,
    iin: &'a str,
    officer: bool,
    csrf: String,
    /// The corrections issued for each open appeal, by appeal.
    issued: BTreeMap<String, Result<Vec<IssuedCorrection>, NotListed>>,
    /// A filing sent back, with what is wrong in it.
    refiled: Option<(&'a FilingForm, &'a FieldError)>,
    /// The person's events, for the notice's delivery and the deadline.
    events: &'a [events::Event],
    today: chrono::NaiveDate,
}

impl CaseView<'_> {
    /// The error of `field` of a filing sent back for `procedure`, in the page's language.
    fn error(&self, procedure: &str, field: &str) -> Option<String> {
        self.refiled.filter(|(f, e)| f.procedure == procedure && e.field == field).map(|(_, e)| i18n::field_error(self.l, e))
    }

    /// What was typed in `field` of a filing sent back for `procedure`.
    fn typed(&self, procedure: &str, field: fn(&FilingForm) -> &str) -> String {
        self.refiled.filter(|(f, _)| f.procedure == procedure).map(|(f, _)| field(f).to_string()).unwrap_or_default()
    }

    /// The deadline to appeal, and the days left, shown before filing (decision 17).
    fn deadline(&self, procedure: &str, c: &ProcedureCase) -> Markup {
        let l = self.l;
        html! {
            @if let Some((delivered, d)) = crate::appeal::deadline_of(c, self.events) {
                @let left = (d.last_day - self.today).num_days();
                dl #(format!("deadline-{procedure}")) {
                    dt { (t(l, "delivered_on")) } dd { (view::day(l, &delivered.to_string())) }
                    dt { (t(l, "deadline")) } dd {
                        (view::day(l, &d.last_day.to_string())) " — "
                        @if left >= 0 { strong.days-left { (left) " " (t(l, "days_left")) } }
                        @else { span.bad { (t(l, "deadline_passed")) " " (-left) } " " (t(l, "late_needs_reason")) }
                        @if d.provisional.is_some() { " " span.provisional { (t(l, "deadline_provisional")) } }
                    }
                }
            }
        }
    }
}

/// The contested step, chosen from the case's steps by name (issue 30, item 8); left as it is,
/// it is the step that found the ground, and the choice says so.
fn contested_step_field(v: &CaseView, procedure: &str, c: &ProcedureCase) -> Markup {
    let error = v.error(procedure, "contested_step");
    let (described, invalid) = view::error_attrs("contested_step", error.as_deref());
    let typed = v.typed(procedure, |f| &f.contested_step);
    let found = c.grounds.first().map(|g| g.clause.rsplit(':').next().unwrap_or_default().split('.').next().unwrap_or_default().to_string());
    let steps: Vec<(&str, &str)> = vec![("5", "zags"), ("6", "gosreestr"), ("7", "kazreestr"), ("8", "ish_as_mr"), ("9", "egkn"), ("10", "gbd_fl")];
    let l = v.l;
    let select = html! {
        select #contested_step name="contested_step" aria-describedby=[described] aria-invalid=[invalid] {
            option value="" selected[typed.is_empty()] {
                (t(l, "contested_default")) @if let Some(f) = &found { " (" (t(l, "step")) " " (f) ")" }
            }
            @for (step, registry) in &steps {
                @if found.as_deref().is_none_or(|f| f.parse::<u32>().unwrap_or(99) >= step.parse::<u32>().unwrap_or(0)) {
                    option value=(step) selected[typed == *step] { (t(l, "step")) " " (step) " — " (t(l, registry)) }
                }
            }
        }
    };
    view::field_with(l, "contested_step", "contested_step", false, error.as_deref(), select)
}

/// A textarea or input of the filing form, with its error beside it.
fn filing_field(v: &CaseView, procedure: &str, name: &'static str, label: &str, required: bool, value: fn(&FilingForm) -> &str, kind: &str) -> Markup {
    let error = v.error(procedure, name);
    let (described, invalid) = view::error_attrs(name, error.as_deref());
    let typed = v.typed(procedure, value);
    let input = match kind {
        "textarea" => html! { textarea id=(name) name=(name) rows="3" required[required] aria-describedby=[described] aria-invalid=[invalid] { (typed) } },
        // A date as people here write it (DD.MM.YYYY) in a text field, checked by the server:
        // the browser's date picker shows its own locale's order (mm/dd/yyyy).
        "date" => html! {
            input id=(name) type="text" name=(name) value=(typed) inputmode="numeric" placeholder=(t(v.l, "date_format"))
                required[required] aria-describedby=[described] aria-invalid=[invalid];
        },
        kind => html! { input id=(name) type=(kind) name=(name) value=(typed) required[required] aria-describedby=[described] aria-invalid=[invalid]; },
    };
    view::field_with(v.l, name, label, required, error.as_deref(), input)
}

fn appeal_block(v: &CaseView, procedure: &str, c: &ProcedureCase) -> Markup {
    let (l, iin, officer, csrf) = (v.l, v.iin, v.officer, v.csrf.as_str());
    html! {
        @if let Some(a) = &c.appeal {
            div.card #(format!("appeal-{procedure}")) {
                h3 { (t(l, "appeal")) " " (a.appeal) ": " span #(format!("appeal-state-{procedure}")) { (t(l, &a.state)) } }
                dl {
                    dt { (t(l, "received_on")) } dd { (view::day(l, &a.received_on)) }
                    dt { (t(l, "deadline")) } dd { (a.deadline.as_deref().map(|x| view::day(l, x)).unwrap_or_else(|| html! { "—" })) @if a.late { " " span.bad { (t(l, "late")) } } }
                    @if a.suspended { dt { "" } dd.bad { (t(l, "suspended")) } }
                    @if let Some(r) = &a.recheck { dt { (t(l, "recheck")) } dd { (t(l, r.verdict.as_str())) (view::grounds(l, &r.grounds)) } }
                    @if let Some(o) = &a.outcome { dt { (t(l, "outcome")) } dd #(format!("appeal-outcome-{procedure}")) { (t(l, o.as_str())) " — " (a.resolved_by.clone().unwrap_or_default()) } }
                }
                p {
                    a #(format!("case-file-{procedure}")) href=(format!("/ui/appeals/{}/case-file", a.appeal)) { (t(l, "case_file")) } " · "
                    a #(format!("print-{procedure}")) href=(format!("/ui/appeals/{}/print", a.appeal)) { (t(l, "print_case")) }
                }
                @if a.state != "resolved" {
                    @let was = |registry: &str| {
                        // The answer of the run the appeal contests, from that registry.
                        v.events.iter().rev().filter(|e| e.kind == "RegistryResponded" && e.run() == Some(c.run.as_str()) && e.appeal().is_none())
                            .filter_map(|e| e.decode::<events::catalogue::RegistryResponded>().ok())
                            .find(|r| r.registry == registry && r.correction != Some(true))
                            .map(|r| r.answer)
                    };
                    (corrections_block(l, &a.appeal, v.issued.get(&a.appeal), officer, csrf, &was))
                }
                @if officer && a.state != "resolved" {
                    @if !a.suspended {
                        form method="post" action=(format!("/ui/appeals/{}/suspend", a.appeal)) { (view::csrf_field(csrf)) button #suspend type="submit" { (t(l, "suspend")) } }
                    }
                    // Issue 30, item 5: the appeal as a task list, each step offered in its
                    // order: a correction (above), the re-check, then the decision, which only a
                    // re-check that cleared may overturn (decision 10) and which is confirmed.
                    @let cleared = a.recheck.as_ref().is_some_and(|r| r.verdict == events::catalogue::CheckVerdict::Clear);
                    ol.tasks #(format!("tasks-{procedure}")) {
                        li.task {
                            h4 { "1. " (t(l, "task_recheck")) }
                            form method="post" action=(format!("/ui/appeals/{}/recheck", a.appeal)) { (view::csrf_field(csrf)) button #recheck type="submit" { (t(l, "recheck")) } }
                        }
                        li.task {
                            h4 { "2. " (t(l, "task_decision")) }
                            @if a.recheck.is_none() { p.muted #(format!("decision-waits-{procedure}")) { (t(l, "decision_waits_recheck")) } }
                            @else {
                                form method="post" action=(format!("/ui/appeals/{}/resolve", a.appeal)) {
                                    (view::csrf_field(csrf))
                                    (view::field(l, "reason", "reason", true, html! { textarea #reason name="reason" rows="2" required {} }))
                                    @if cleared { button #overturn type="submit" name="outcome" value="overturned" { (t(l, "do_overturn")) } }
                                    @else { button #uphold type="submit" name="outcome" value="upheld" { (t(l, "do_uphold")) } }
                                }
                            }
                        }
                    }
                }
            }
        } @else if officer && c.decision.as_ref().is_some_and(|d| d.outcome == "confirmed") {
            form.card #(format!("file-{procedure}")) method="post" action=(format!("/ui/persons/{iin}/appeals")) {
                h3 { (t(l, "file_appeal")) }
                (v.deadline(procedure, c))
                // An error summary whose links lead to the field (GOV.UK's pattern).
                @if let Some((_, e)) = v.refiled.filter(|(f, _)| f.procedure == procedure) {
                    div.error-summary #(format!("error-summary-{procedure}")) role="alert" {
                        p.field-error { (t(l, "form_has_errors")) }
                        ul { li { a href=(format!("#{}", e.field)) { (i18n::field_error(l, e)) } } }
                    }
                }
                (view::csrf_field(csrf))
                input type="hidden" name="procedure" value=(procedure);
                (filing_field(v, procedure, "grounds", "appellant_grounds", true, |f| &f.grounds, "textarea"))
                (filing_field(v, procedure, "received_on", "received_on", false, |f| &f.received_on, "date"))
                (filing_field(v, procedure, "late_reason", "late_reason", false, |f| &f.late_reason, "text"))
                (contested_step_field(v, procedure, c))
                div.field { input #suspend_on_file type="checkbox" name="suspend" value="on"; " " label.inline for="suspend_on_file" { (t(l, "suspend")) } }
                button #file-appeal type="submit" { (t(l, "file_appeal")) }
            }
        }
    }
}

async fn case_page(
    State(s): State<AppState>,
    session: Session,
    Path(iin): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Html<String>, WebError> {
    let caller = session.require(&[Role::Auditor, Role::AppealsOfficer])?.clone();
    let iin = Iin::parse(&iin).map_err(|e| session.fail(StatusCode::BAD_REQUEST, i18n::iin_error(session.lang, &e)))?;
    case_view(&s, &session, &caller, &iin, &q, None).await
}

/// The case page: the person's cases, their appeals, and the timeline with its checks. The
/// caller has recorded the read.
async fn case_view(
    s: &AppState,
    session: &Session,
    caller: &Caller,
    iin: &Iin,
    q: &BTreeMap<String, String>,
    refiled: Option<(&FilingForm, &FieldError)>,
) -> Result<Html<String>, WebError> {
    let l = session.lang;
    let cases = crate::read_models::person(&s.ledger, iin.as_str()).await.map_err(internal(l))?;
    // What the last action came to, once; a message in the URL is never shown.
    let flash = match &session.id {
        Some(id) => session::take_flash(s.ledger.access().as_ref(), id).await.map_err(|e| internal(l)(e.into()))?,
        None => None,
    };
    let Some(cases) = cases else {
        return Err(session.fail(StatusCode::NOT_FOUND, format!("{} {iin}", t(l, "no_case"))));
    };
    let events = crate::appeal::timeline(&s.ledger, iin.as_str()).await.map_err(internal(l))?;
    let (note, checks) = crate::proof::check_events(&s.ledger, &s.registry_keys, &events).await.map_err(internal(l))?;
    let history = s.ledger.key_history().await.map_err(internal(l))?;
    let cp = history.all().iter().find_map(|k| events::Checkpoint::verify_note(&note, k).ok());
    let checks: BTreeMap<u64, crate::proof::EventCheck> = checks.into_iter().map(|c| (c.seq, c)).collect();
    let issued = issued_corrections(s, &cases).await;
    let view = CaseView {
        l,
        iin: iin.as_str(),
        officer: caller.role == Role::AppealsOfficer,
        csrf: session.csrf().unwrap_or_default(),
        issued,
        refiled,
        events: &events,
        today: s.appeals().today,
    };
    let here = format!("/ui/persons/{iin}");
    // Long timelines come in pages, a registry step never split between two.
    let number = |k: &str, default: usize, most: usize| q.get(k).and_then(|v| v.parse::<usize>().ok()).filter(|n| (1..=most).contains(n)).unwrap_or(default);
    let (page, per) = (number("page", 1, usize::MAX), number("per", TIMELINE_PAGE, 1000));
    let per_q = if per == TIMELINE_PAGE { String::new() } else { format!("&per={per}") };
    let all_groups = view::groups(&events);
    let (shown, pages) = view::page_of(&all_groups, per, page);
    let page = page.min(pages);
    // Where each event is in the timeline's pages: a ground's link lands on its answer.
    let mut page_of_seq: BTreeMap<u64, usize> = BTreeMap::new();
    for p in 1..=pages {
        for g in view::page_of(&all_groups, per, p).0 {
            page_of_seq.extend(g.events.iter().map(|e| (e.seq, p)));
        }
    }
    let evidence_link = |seq: u64| format!("{here}?page={}{per_q}#event-{seq}", page_of_seq.get(&seq).copied().unwrap_or(1));
    Ok(session.page(
        &format!("{} {iin}", t(l, "case_of")),
        &here,
        html! {
            @if let Some((k, m)) = &flash {
                @if k == "err" { div.card.err #error role="alert" { (m) } } @else { div.card.flash #flash role="status" { (m) } }
            }
            @for (procedure, c) in &cases {
                div.card {
                    h2 { (t(l, procedure)) }
                    @let entry = events.iter().rev().find(|e| e.kind == "ListEntryReceived" && e.run() == Some(c.run.as_str())).map(|e| &e.data["entry"]);
                    (status_line(l, procedure, c, &evidence_link, entry))
                    @if let Some(e) = crate::appeal::explanation_of(c) { (view::explanation(l, &format!("explanation-{procedure}"), &e)) }
                }
                (appeal_block(&view, procedure, c))
            }
            div.card #checkpoint {
                (t(l, "checkpoint")) ": "
                @match &cp {
                    Some(cp) => span.ok { "✓ " (cp.size) " — " (t(l, "checkpoint_ok")) },
                    None => span.bad { "✗" },
                }
            }
            h2 #timeline-title { (t(l, "timeline")) }
            @let passed = checks.values().filter(|c| c.signature.is_ok() && c.inclusion.is_ok() && c.source.as_ref().is_none_or(|s| s.is_ok())).count();
            p #timeline-verified {
                @if passed == checks.len() { span.ok { "✓ " (i18n::tf(l, "all_verified", &[checks.len().to_string()])) } }
                @else { span.bad { "✗ " (i18n::tf(l, "some_not_verified", &[(checks.len() - passed).to_string(), checks.len().to_string()])) } }
            }
            (timeline_table(l, shown, &checks))
            @if pages > 1 { (view::pager(l, "timeline-", page, pages, |n| format!("{here}?page={n}{per_q}"))) }
        },
    ))
}

/// The corrections issued for each open appeal, asked of the registries now; a source that
/// does not answer within [`CORRECTIONS_WAIT`] is shown as such.
async fn issued_corrections(s: &AppState, cases: &BTreeMap<String, ProcedureCase>) -> BTreeMap<String, Result<Vec<IssuedCorrection>, NotListed>> {
    let mut issued = BTreeMap::new();
    for c in cases.values() {
        if let Some(a) = c.appeal.as_ref().filter(|a| a.state != "resolved") {
            let asked = tokio::time::timeout(CORRECTIONS_WAIT, s.appeals().issued_corrections(&a.appeal)).await;
            let got = asked.map_err(|_| NotListed::Late(CORRECTIONS_WAIT.as_secs())).and_then(|r| r.map_err(NotListed::Failed));
            issued.insert(a.appeal.clone(), got);
        }
    }
    issued
}

/// The timeline, each registry step a group under its heading, each event with its checks.
fn timeline_table(l: Lang, shown: &[view::Group], checks: &BTreeMap<u64, crate::proof::EventCheck>) -> Markup {
    html! {
        table #timeline aria-labelledby="timeline-title" {
            @for g in shown {
                @match &g.step {
                    Some(step) => tbody.step data-step=(step) {
                        tr.step-head {
                            th colspan="4" scope="rowgroup" {
                                (t(l, "step")) " " (step)
                                @if let Some(r) = &g.registry { " · " (t(l, r)) }
                                @for v in g.events.iter().filter_map(|e| view::StepOf::of(e)?.verdict.0) { " — " (t(l, v)) }
                            }
                        }
                        @for e in &g.events { (timeline_row(l, e, checks)) }
                    },
                    None => tbody { @for e in &g.events { (timeline_row(l, e, checks)) } },
                }
            }
        }
    }
}

/// Why the corrections issued for an appeal are not shown.
#[derive(Debug, thiserror::Error)]
enum NotListed {
    #[error("no answer within {0} s")]
    Late(u64),
    #[error("{0}")]
    Failed(AppealError),
}

/// How long a case page waits for the registries to list the corrections issued.
const CORRECTIONS_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Events per page of a person's timeline, unless `per` asks for another number.
const TIMELINE_PAGE: usize = 60;

/// One event of the timeline: when, what, its content readably, and its checks.
fn timeline_row(l: Lang, e: &events::Event, checks: &BTreeMap<u64, crate::proof::EventCheck>) -> Markup {
    html! {
        tr.event id=(format!("event-{}", e.seq)) data-type=(e.kind) {
            td { "#" (e.seq) br; span.muted { (view::when(l, &e.time)) } }
            td { strong { (t(l, &e.kind)) } }
            td { (view::event(l, e)) }
            td { (view::checked(l, checks.get(&e.seq))) }
        }
    }
}

/// Back to the case page with what happened: the message is kept with the session on the
/// server and shown once (issue 30, item 11), never carried in the URL.
async fn back_to(s: &AppState, session: &Session, iin: &str, result: Result<String, AppealError>) -> Response {
    let (k, m) = match result {
        Ok(m) => ("msg", m),
        Err(e) => {
            if let AppealError::Ledger(e) = &e {
                tracing::error!(error = %e, "an appeal's step");
            }
            ("err", i18n::appeal_error(session.lang, &e))
        }
    };
    if let Some(id) = &session.id {
        if let Err(e) = session::flash(s.ledger.access().as_ref(), id, k, &m).await {
            tracing::error!(error = %e, "keeping a page's message");
        }
    }
    Redirect::to(&format!("/ui/persons/{iin}")).into_response()
}

#[derive(Deserialize)]
struct FilingForm {
    procedure: String,
    grounds: String,
    #[serde(default)]
    received_on: String,
    #[serde(default)]
    late_reason: String,
    #[serde(default)]
    contested_step: String,
    #[serde(default)]
    suspend: Option<String>,
    #[serde(default)]
    csrf: String,
}

fn non_empty(s: String) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

async fn file_appeal(State(s): State<AppState>, session: Session, Path(iin): Path<String>, Form(f): Form<FilingForm>) -> Result<Response, WebError> {
    let caller = session.require(&[Role::AppealsOfficer])?;
    session.check_csrf(&f.csrf)?;
    let iin = Iin::parse(&iin).map_err(|e| session.fail(StatusCode::BAD_REQUEST, e))?;
    let filing = Filing {
        procedure: f.procedure.clone(),
        grounds: f.grounds.clone(),
        contested_step: non_empty(f.contested_step.clone()),
        received_on: non_empty(f.received_on.clone()),
        late_reason: non_empty(f.late_reason.clone()),
        suspend: f.suspend.is_some(),
    };
    match s.appeals().file(iin.as_str(), &filing, caller).await {
        // The form again, as typed, with what is wrong beside its field.
        Err(AppealError::Field(e)) => {
            let page = case_view(&s, &session, caller, &iin, &BTreeMap::new(), Some((&f, &e))).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        r => Ok(back_to(&s, &session, iin.as_str(), r.map(|a| format!("{}: {}", t(session.lang, "AppealFiled"), a.id))).await),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    signed: String,
    #[serde(default)]
    registry: String,
    #[serde(default)]
    source_sig: String,
    #[serde(default)]
    csrf: String,
    /// `yes` once the officer has confirmed the final decision.
    #[serde(default)]
    confirm: String,
}

/// The confirmation of an appeal's final decision: what it decides and why, with "confirm"
/// and the way back (GOV.UK's confirmation before an irreversible action).
fn confirm_resolution(session: &Session, iin: &str, id: &str, f: &ActionForm) -> Html<String> {
    let l = session.lang;
    let (title, effect) = if f.outcome == "overturned" { ("do_overturn", "overturn_effect") } else { ("do_uphold", "uphold_effect") };
    session.page(
        &t(l, "confirm_decision"),
        &format!("/ui/persons/{iin}"),
        html! {
            div.card #confirm-resolution {
                h2 { (t(l, title)) ": " (t(l, "appeal")) " " (id) }
                p.warning { (t(l, effect)) }
                dl { dt { (t(l, "reason")) } dd #confirm-reason { (f.reason) } }
                form method="post" action=(format!("/ui/appeals/{id}/resolve")) {
                    (view::csrf_field(session.csrf().as_deref().unwrap_or_default()))
                    input type="hidden" name="outcome" value=(f.outcome);
                    input type="hidden" name="reason" value=(f.reason);
                    input type="hidden" name="confirm" value="yes";
                    button #confirm type="submit" { (t(l, "confirm")) }
                }
                p { a #back href=(format!("/ui/persons/{iin}")) { (t(l, "back_to_case")) } }
            }
        },
    )
}

async fn appeal_action(
    State(s): State<AppState>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let caller = session.require(&[Role::AppealsOfficer])?;
    session.check_csrf(&f.csrf)?;
    let appeals = s.appeals();
    let a = appeals.load(&id).await.map_err(|e| {
        let e = crate::api::AppError::from(e);
        session.fail(e.status(), e)
    })?;
    let l = session.lang;
    let done = |kind: &str| format!("{}: {id}", t(l, kind));
    let r = match action.as_str() {
        "suspend" => appeals.suspend(&id, caller).await.map(|_| done("RemovalSuspended")),
        "recheck" => appeals.recheck(&id, caller).await.map(|a| {
            let v = a.recheck.as_ref().map(|(_, r)| r.verdict.as_str()).unwrap_or_default();
            format!("{} — {}", done("AppealRechecked"), t(l, v))
        }),
        // The final decision is asked again, with what it will do, before it is taken.
        "resolve" if f.confirm != "yes" => return Ok(confirm_resolution(&session, &a.iin, &id, &f).into_response()),
        "resolve" => appeals.resolve(&id, &Resolution { outcome: f.outcome, reason: f.reason }, caller).await.map(|_| done("AppealResolved")),
        "correction" => match serde_json::from_str::<crate::api::CorrectionFiling>(&f.signed) {
            Ok(c) => appeals.correction(&id, &c.into(), caller).await.map(|e| format!("{}: #{}", t(l, "correction"), e.seq)),
            Err(e) => Err(AppealError::CorrectionRefused(format!("the correction is not a signed answer: {e}"))),
        },
        "accept-correction" => {
            // Said in words: whose correction, for which appeal (the seq is on the timeline).
            appeals
                .accept_correction(&id, &f.registry, &f.source_sig, caller)
                .await
                .map(|_| i18n::tf(l, "correction_accepted", &[t(l, &f.registry), id.clone()]))
        }
        other => return Err(session.fail(StatusCode::NOT_FOUND, format!("no action {other:?}"))),
    };
    Ok(back_to(&s, &session, &a.iin, r).await)
}

async fn case_file(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Response, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let file = crate::api::case_file_of(&s, &id).await.map_err(|e| not_found_in(&session, e, &id))?;
    let body = serde_json::to_vec_pretty(&file).expect("case files serialise");
    Ok(([(header::CONTENT_TYPE, "application/json".to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"case-file-{id}.json\""))], body)
        .into_response())
}

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
