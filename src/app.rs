//! The service's HTTP face: the API (`api::router`) and the officers' pages (`web::routes`) on
//! one router, with one fallback. Tests call it with `tower::ServiceExt::oneshot`, no socket.

use crate::api::{AppError, AppState};
use axum::Router;

pub fn app(state: AppState) -> Router {
    let policy = state.sessions.clone();
    crate::api::router(state.clone()).merge(crate::web::routes(policy).with_state(state)).fallback(|| async { AppError::NotFound("no such route".into()) })
}
