//! The HTTP API. `app(state)` builds the router; it reads the store through the ledger and
//! never writes to it except to sign checkpoints on an operator's demand.

mod error;
mod persons;
pub mod reads;

pub use error::AppError;

use crate::auth::{self, Caller, Role};
use crate::ledger::Ledger;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest page of `/v1/events`.
pub const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;

#[derive(Clone)]
pub struct AppState {
    pub ledger: Arc<Ledger>,
    /// The source registries' keys the service trusts.
    pub registry_keys: Arc<crate::registry::TrustedKeys>,
    /// Where reads of personal data are recorded.
    pub reads: reads::ReadLog,
}

impl AppState {
    /// Builds the state and starts the read log's writer (needs a Tokio runtime).
    pub fn new(ledger: Arc<Ledger>, registry_keys: crate::registry::TrustedKeys) -> Self {
        let reads = reads::ReadLog::start(ledger.clone());
        Self { ledger, registry_keys: Arc::new(registry_keys), reads }
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/checkpoint", get(checkpoint).post(sign_checkpoint))
        .route("/v1/proofs/inclusion", get(inclusion))
        .route("/v1/proofs/consistency", get(consistency))
        .route("/v1/keys", get(keys))
        .route("/v1/events", get(events_page))
        .route("/v1/persons/{iin}", get(persons::person))
        .route("/v1/persons/{iin}/proof", get(persons::proof_bundle))
        .route("/v1/persons/{iin}/events", get(persons::person_events))
        .route("/v1/persons/{iin}/reads", get(persons::person_reads))
        .route("/v1/runs", get(persons::runs))
        .route("/v1/runs/{id}", get(persons::run))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        .with_state(state)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or(AppError::Unauthorized("missing Authorization: Bearer token"))?;
        let token = header.to_str().ok().and_then(|h| h.strip_prefix("Bearer ")).ok_or(AppError::Unauthorized("Authorization must be 'Bearer TOKEN'"))?;
        auth::authenticate(state.ledger.store().as_ref(), token.trim()).await?.ok_or(AppError::Unauthorized("unknown token"))
    }
}

impl Caller {
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "role {} may not do this; allowed: {}",
                self.role,
                roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    }
}

async fn checkpoint(State(s): State<AppState>) -> Result<Response, AppError> {
    let cp = s.ledger.store().latest_checkpoint().await?.ok_or_else(|| AppError::NotFound("no checkpoint has been signed yet".into()))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], cp.note).into_response())
}

async fn sign_checkpoint(State(s): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.require(&[Role::Operator])?;
    let cp = s.ledger.checkpoint().await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], cp.note).into_response())
}

/// A number from the query string, with an error that names the parameter.
fn number(params: &BTreeMap<String, String>, name: &str) -> Result<Option<u64>, AppError> {
    params.get(name).map(|v| v.parse::<u64>().map_err(|_| AppError::BadRequest(format!("{name} must be a non-negative integer, got {v:?}")))).transpose()
}

async fn latest_size(s: &AppState) -> Result<u64, AppError> {
    Ok(match s.ledger.store().latest_checkpoint().await? {
        Some(cp) => cp.tree_size,
        None => s.ledger.size().await?,
    })
}

async fn inclusion(State(s): State<AppState>, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>, AppError> {
    let seq = number(&q, "seq")?.ok_or_else(|| AppError::BadRequest("seq is required".into()))?;
    let tree_size = match number(&q, "tree_size")? {
        Some(n) => n,
        None => latest_size(&s).await?,
    };
    let path = s.ledger.inclusion_proof(seq, tree_size).await?;
    Ok(Json(json!({"seq": seq, "tree_size": tree_size, "path": path.iter().map(hex::encode).collect::<Vec<_>>()})))
}

async fn consistency(State(s): State<AppState>, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>, AppError> {
    let from = number(&q, "from")?.ok_or_else(|| AppError::BadRequest("from is required".into()))?;
    let to = match number(&q, "to")? {
        Some(n) => n,
        None => latest_size(&s).await?,
    };
    let path = s.ledger.consistency_proof(from, to).await?;
    Ok(Json(json!({"from": from, "to": to, "path": path.iter().map(hex::encode).collect::<Vec<_>>()})))
}

async fn keys(State(s): State<AppState>) -> Result<Json<Value>, AppError> {
    let history = s.ledger.key_history().await?;
    Ok(Json(json!({
        "ledger": history.all().iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        "registries": s.registry_keys.as_map(),
    })))
}

#[derive(Deserialize)]
struct Page {
    from: Option<String>,
    limit: Option<String>,
}

async fn events_page(State(s): State<AppState>, caller: Caller, Query(p): Query<Page>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor])?;
    let mut q = BTreeMap::new();
    p.from.map(|v| q.insert("from".to_string(), v));
    p.limit.map(|v| q.insert("limit".to_string(), v));
    let from = number(&q, "from")?.unwrap_or(0);
    let limit = number(&q, "limit")?.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::BadRequest(format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let events = crate::store::read(s.ledger.store().as_ref(), from, limit).await?;
    let size = s.ledger.size().await?;
    let next = events.last().map(|e| e.seq + 1).filter(|n| *n < size);
    Ok(Json(json!({"events": events, "next": next})))
}
