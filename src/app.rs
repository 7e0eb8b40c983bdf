//! The service's HTTP face: the API (`api::router`) and the officers' pages (`web::routes`) on
//! one router, with one fallback, and each request's latency recorded by route. Tests call it
//! with `tower::ServiceExt::oneshot`, no socket.

use crate::api::{AppError, AppState};
use crate::metrics::{RouteLabels, METRICS};
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

pub fn app(state: AppState) -> Router {
    let policy = state.sessions.clone();
    crate::api::router(state.clone())
        .merge(crate::web::routes(policy).with_state(state.clone()))
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        // Every answer, API and pages alike, passes through the record of whom it shows.
        .layer(axum::middleware::from_fn_with_state(state, crate::disclosure::record_shown))
        // Every refusal of who asks, and every limit hit, goes to the security feed.
        .layer(axum::middleware::from_fn(crate::security::watch))
        .layer(axum::middleware::from_fn(timed))
}

/// A method as a metric label: the standard ones by name, any other as `other` (issue 35, F10:
/// a client may send any token as a method, and each would be a series of its own).
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::TRACE, "TRACE"),
        (Method::CONNECT, "CONNECT"),
    ];
    KNOWN.iter().find(|(k, _)| k == m).map_or("other", |(_, name)| name)
}

/// Records each request's latency under its route's pattern (never its path: an IIN is no
/// label; an unknown path is `unmatched`) and method (an unknown one is `other`).
async fn timed(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method()).to_string();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    METRICS.request_seconds.get_or_create(&RouteLabels { method, route }).observe(start.elapsed().as_secs_f64());
    resp
}
