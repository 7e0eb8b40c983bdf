//! Page sessions and what keeps other sites from acting through them (issue 17, findings 7
//! and 8). The cookie holds a random session id, never the API token; the store keeps only the
//! id's SHA-256. A session ends on logout, after an idle time, after an absolute time, or as
//! soon as its token is revoked or expires. Every form carries a CSRF token derived from the
//! session id (the login form: one from a cookie of its own), and a POST whose `Origin` or
//! `Sec-Fetch-Site` says it came from another site — another port of this host included — is
//! refused with 403 before any handler runs.

use crate::auth::{self, Caller};
use crate::store::{AccessStore, StoreError};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use rand_core::RngCore;
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const SESSION_COOKIE: &str = "hl_session";
/// The login form's own CSRF cookie (double submit: there is no session yet).
pub const LOGIN_COOKIE: &str = "hl_login";

pub use crate::state::SessionPolicy;

impl SessionPolicy {
    fn secure(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }

    fn attributes(&self) -> String {
        format!("HttpOnly; SameSite=Strict; Path=/{}", if self.secure() { "; Secure" } else { "" })
    }

    /// The `Set-Cookie` value that carries session `id`.
    pub fn cookie(&self, id: &str) -> String {
        format!("{SESSION_COOKIE}={id}; {}; Max-Age={}", self.attributes(), self.absolute.as_secs())
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn cleared(&self) -> String {
        format!("{SESSION_COOKIE}=; {}; Max-Age=0", self.attributes())
    }

    /// The login form's CSRF cookie.
    pub fn login_cookie(&self, value: &str) -> String {
        format!("{LOGIN_COOKIE}={value}; {}; Max-Age=3600", self.attributes())
    }

    /// The origin POSTs must come from: the public URL's, or `None` (then the `Host`'s).
    fn origin(&self) -> Option<&str> {
        let u = self.public_url.as_deref()?;
        let rest = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
        let end = rest.find('/').map(|i| u.len() - rest.len() + i).unwrap_or(u.len());
        Some(&u[..end])
    }
}

fn id_hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// A fresh random value for a cookie or a form (256 bits).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut b);
    B64URL.encode(b)
}

/// The CSRF token of the forms of session `id`: unguessable without the id, which only the
/// `HttpOnly` cookie holds.
pub fn csrf_token(id: &str) -> String {
    B64URL.encode(Sha256::digest(format!("housing-ledger/csrf\n{id}").as_bytes()))
}

/// Whether a submitted CSRF token is the expected one, compared in constant time.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Opens a session for `caller`; returns its id (for the cookie only).
pub async fn open(store: &dyn AccessStore, caller: &Caller) -> Result<String, StoreError> {
    let id = random_token();
    store.add_session(&id_hash(&id), &caller.token_id, &crate::store::utc_millis(chrono::Utc::now())).await?;
    Ok(id)
}

fn parse_time(t: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| d.with_timezone(&chrono::Utc))
}

/// The caller of session `id`, if it is open, within both timeouts, and its token is still
/// good; marks it seen.
pub async fn resume(ledger: &crate::ledger::Ledger, policy: &SessionPolicy, id: &str) -> Result<Option<Caller>, crate::ledger::LedgerError> {
    let store = ledger.access();
    let hash = id_hash(id);
    let Some(rec) = store.session(&hash).await? else { return Ok(None) };
    let now = chrono::Utc::now();
    let (Some(created), Some(seen)) = (parse_time(&rec.created_at), parse_time(&rec.last_seen)) else { return Ok(None) };
    let within = |since: chrono::DateTime<chrono::Utc>, limit: Duration| (now - since).to_std().map(|d| d < limit).unwrap_or(true);
    if rec.ended_at.is_some() || !within(created, policy.absolute) || !within(seen, policy.idle) {
        return Ok(None);
    }
    let Some(caller) = auth::authenticate_id(ledger, &rec.token_id).await? else { return Ok(None) };
    // Seen again: written at most every tenth of the idle time (and at least every minute),
    // not on every request.
    if !within(seen, (policy.idle / 10).min(Duration::from_secs(60))) {
        store.touch_session(&hash, &crate::store::utc_millis(now)).await?;
    }
    Ok(Some(caller))
}

/// Keeps a one-shot message (`msg` or `err`, then the text) for the session's next page.
pub async fn flash(store: &dyn AccessStore, id: &str, kind: &str, text: &str) -> Result<(), StoreError> {
    store.set_flash(&id_hash(id), &format!("{kind}\n{text}")).await
}

/// The session's one-shot message, taken: `(kind, text)`.
pub async fn take_flash(store: &dyn AccessStore, id: &str) -> Result<Option<(String, String)>, StoreError> {
    Ok(store.take_flash(&id_hash(id)).await?.and_then(|f| f.split_once('\n').map(|(k, t)| (k.to_string(), t.to_string()))))
}

pub async fn end(store: &dyn AccessStore, id: &str) -> Result<(), StoreError> {
    store.end_session(&id_hash(id), &crate::store::utc_millis(chrono::Utc::now())).await
}

/// Why a POST is refused as cross-site, if it is. A browser's `Sec-Fetch-Site` decides where
/// it is sent: under `Referrer-Policy: no-referrer` the same browser sends `Origin: null` even
/// for our own forms. Without it, the `Origin` must be ours.
fn cross_site(policy: &SessionPolicy, headers: &HeaderMap) -> Option<String> {
    let get = |h: header::HeaderName| headers.get(h).map(|v| v.to_str().unwrap_or("?").to_string());
    if let Some(site) = get(header::HeaderName::from_static("sec-fetch-site")) {
        // `same-site` is refused too: another port of this host is the same site.
        return (site != "same-origin" && site != "none").then(|| format!("Sec-Fetch-Site: {site}"));
    }
    let origin = get(header::ORIGIN)?;
    let ok = match policy.origin() {
        Some(expected) => origin.eq_ignore_ascii_case(expected),
        None => {
            let authority = origin.split_once("://").map(|(_, a)| a);
            authority.is_some_and(|a| get(header::HOST).is_some_and(|h| h.eq_ignore_ascii_case(a)))
        }
    };
    (!ok).then(|| format!("Origin: {origin}"))
}

/// Refuses a cross-site POST with 403, before the form is read or anything is done.
pub async fn same_origin_posts(policy: SessionPolicy, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.method() == Method::POST {
        if let Some(why) = cross_site(&policy, req.headers()) {
            tracing::warn!(path = %req.uri().path(), %why, "cross-site form refused");
            let lang = super::cookies(req.headers()).get(super::LANG_COOKIE).and_then(|l| super::Lang::parse(l)).unwrap_or(super::Lang::Kk);
            let body = maud::html! { div.card.err #error { (super::t(lang, "cross_site")) " (" (why) ")" } };
            let resp = (StatusCode::FORBIDDEN, axum::response::Html(super::view::layout(lang, &super::t(lang, "error"), "/ui", None, body).into_string()))
                .into_response();
            return super::noted(crate::security::Kind::CsrfRefused, &format!("cross-site form: {why}"), resp);
        }
    }
    next.run(req).await
}
