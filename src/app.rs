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
        .layer(axum::middleware::from_fn(timed))
}

/// Records each request's latency under its route's pattern (never its path: an IIN is no
/// label) and method.
async fn timed(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    METRICS.request_seconds.get_or_create(&RouteLabels { method, route }).observe(start.elapsed().as_secs_f64());
    resp
}
