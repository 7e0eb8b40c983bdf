//! `/verify` (issue 33): anyone checks a proof bundle in his own browser, with no token and no
//! call to the server. The page loads the verifier built for WebAssembly (`verifier/wasm`,
//! embedded by `build.rs`) and its script; the bundle and the trust list are read from the
//! files dropped there and never leave the page. Its headers allow exactly that: scripts from
//! here, WebAssembly, fetches to here only.

use super::i18n::t;
use super::{view, Session};
use crate::api::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::html;

/// The verifier for the browser, as this binary was built with it (empty when built without
/// the wasm32 target).
static VERIFIER_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/verifier.wasm"));
const SCRIPT: &str = include_str!("static/verify.js");

pub fn routes() -> Router<AppState> {
    Router::new().route("/verify", get(page)).route("/verify/verify.js", get(script)).route("/verify/verifier.wasm", get(wasm))
}

/// The page's policy: its one script and the verifier from here, the page's style by its hash,
/// nothing sent anywhere.
fn content_security_policy() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let style = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(view::CSS.as_bytes()));
        format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'sha256-{style}'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

fn with_headers(mut resp: Response, content_type: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(content_security_policy()));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // A new binary may check differently: never an old verifier from a cache.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn page(session: Session) -> Response {
    let l = session.lang;
    let body = html! {
        p { (t(l, "verify_intro")) }
        form #verify data-ok=(t(l, "verify_ok")) data-failed=(t(l, "verify_failed")) data-input=(t(l, "verify_input"))
            data-unavailable=(t(l, "verify_unavailable")) {
            (view::field(l, "bundle", &t(l, "verify_bundle"), true, html! { input #bundle name="bundle" type="file" accept=".json,application/json" required; }))
            (view::field(l, "trust", &t(l, "verify_trust"), false, html! { input #trust name="trust" type="file" accept=".json,application/json"; }))
            (view::field(l, "ledger_key", &t(l, "verify_key"), true, html! { input #ledger_key name="ledger_key" type="text" autocomplete="off" spellcheck="false" required; }))
            p { label { input #trust_bundle_keys name="trust_bundle_keys" type="checkbox"; " " (t(l, "verify_bundle_keys")) } }
            button #check type="submit" { (t(l, "verify_check")) }
        }
        p #result role="status" aria-live="polite" {}
        pre #result-text {}
        p { (t(l, "verify_offline")) }
        script src="/verify/verify.js" {}
    };
    let title = t(l, "verify_title");
    let html = Html(view::layout(l, &title, "/verify", None, body).into_string());
    with_headers(html.into_response(), "text/html; charset=utf-8")
}

async fn script() -> Response {
    with_headers(SCRIPT.into_response(), "text/javascript; charset=utf-8")
}

async fn wasm() -> Response {
    if VERIFIER_WASM.is_empty() {
        let why = "this server was built without the WebAssembly verifier (rustup target add wasm32-unknown-unknown, then build again); housing-ledger-verify checks the same offline";
        return with_headers((StatusCode::SERVICE_UNAVAILABLE, why).into_response(), "text/plain; charset=utf-8");
    }
    with_headers(VERIFIER_WASM.into_response(), "application/wasm")
}
