//! The `registry-sim` server: the six registries over HTTP as the simulator answers them,
//! faults included (a stall past the deadline, a malformed body), for the service's HTTP
//! client (`housing_ledger::registry::http`) to meet.

use crate::sim::Simulator;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use housing_ledger::registry::fixture::{FaultKind, Fixture};
use housing_ledger::registry::http::{Corrections, CorrectionsBody, DecisionsBody, ListBody, NewCorrection, NoticeBody, QueryBody, ReinstateBody};
use housing_ledger::registry::{RegistryFault, SignedAnswer};
use housing_ledger::rules::records::RegistryId;
use housing_ledger::rules::Procedure;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct SimState {
    sim: Arc<Simulator>,
    stall: Duration,
}

/// Turns the simulator's answer into what a misbehaving server really sends.
async fn respond(state: &SimState, fault: Option<FaultKind>, result: Result<SignedAnswer, RegistryFault>) -> Response {
    match (fault, result) {
        (Some(FaultKind::Timeout), _) => {
            tokio::time::sleep(state.stall).await;
            (StatusCode::GATEWAY_TIMEOUT, "too late").into_response()
        }
        (Some(FaultKind::Malformed), _) => (StatusCode::OK, [("content-type", "application/json")], "{\"registry\": \"<html>gateway error").into_response(),
        (_, Ok(a)) => Json(a).into_response(),
        (_, Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

/// The routes of `registry-sim`.
pub fn sim_router(sim: Arc<Simulator>, stall: Duration) -> Router {
    let state = SimState { sim, stall };
    Router::new()
        .route(
            "/v1/registries/{registry}/query",
            post(|State(s): State<SimState>, Path(registry): Path<String>, Json(q): Json<QueryBody>| async move {
                let Some(r) = RegistryId::parse(&registry) else { return (StatusCode::NOT_FOUND, "no such registry").into_response() };
                let fault = s.sim.source.fault(r, &q.subjects).map(FaultKind::without_gateway);
                let result = s.sim.query(r, &q.subjects, &q.fields, &q.request_id);
                respond(&s, fault, result).await
            }),
        )
        .route(
            "/v1/lists/{procedure}",
            post(|State(s): State<SimState>, Path(p): Path<String>, Json(q): Json<ListBody>| async move {
                let Ok(p) = Procedure::parse(&p) else { return (StatusCode::NOT_FOUND, "no such procedure").into_response() };
                let fault = s.sim.source.fault(RegistryId::IshAsMr, &[]).map(FaultKind::without_gateway);
                let result = s.sim.list_page(p, q.page, &q.request_id);
                respond(&s, fault, result).await
            }),
        )
        .route(
            "/v1/decisions/{procedure}",
            post(|State(s): State<SimState>, Path(p): Path<String>, Json(q): Json<DecisionsBody>| async move {
                let Ok(p) = Procedure::parse(&p) else { return (StatusCode::NOT_FOUND, "no such procedure").into_response() };
                respond(&s, None, s.sim.decisions(p, &q.subjects, &q.request_id)).await
            }),
        )
        .route(
            "/v1/reinstatements",
            post(|State(s): State<SimState>, Json(q): Json<ReinstateBody>| async move {
                let fault = s.sim.source.fault(RegistryId::IshAsMr, std::slice::from_ref(&q.reinstatement.iin)).map(FaultKind::without_gateway);
                let result = s.sim.reinstate(&q.reinstatement, &q.request_id);
                respond(&s, fault, result).await
            }),
        )
        .route(
            "/v1/corrections",
            post(|State(s): State<SimState>, Json(c): Json<NewCorrection>| async move {
                let Some(r) = RegistryId::parse(&c.registry) else { return (StatusCode::NOT_FOUND, "no such registry").into_response() };
                match s.sim.issue_correction(r, &c.iin, c.record) {
                    Ok(()) => StatusCode::CREATED.into_response(),
                    Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e.to_string()}))).into_response(),
                }
            }),
        )
        .route(
            "/v1/corrections/pending",
            post(|State(s): State<SimState>, Json(q): Json<CorrectionsBody>| async move {
                match s.sim.corrections(&q.appeal, &q.subjects) {
                    Ok(corrections) => Json(Corrections { corrections }).into_response(),
                    Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": e.to_string()}))).into_response(),
                }
            }),
        )
        .route(
            "/v1/notices",
            post(|State(s): State<SimState>, Json(n): Json<NoticeBody>| async move {
                match s.sim.deliver(&n.notice, &n.iin, n.attempt) {
                    Ok(receipt) => Json(json!({"receipt": receipt})).into_response(),
                    Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": e.to_string()}))).into_response(),
                }
            }),
        )
        .with_state(state)
}

/// Loads a fixture and builds the simulator router.
pub fn sim_from_fixture(fixture: Fixture, seed: &str, stall: Duration) -> Router {
    sim_router(Arc::new(Simulator::new(Arc::new(fixture), seed)), stall)
}
