//! The HTTP API. `app(state)` builds the router; it reads the store through the ledger and
//! never writes to it except to sign checkpoints on an operator's demand.

mod appeals;
pub use appeals::case_file_of;
pub use appeals::{CorrectionFiling, Filing, Resolution};
mod error;
mod persons;
pub mod tiles;

pub use error::AppError;

use crate::auth::{self, Caller, Role};
pub use crate::state::AppState;
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
const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "housing-ledger", description = "A verifiable ledger of proactive removals from the service-housing waiting list and lease terminations. Personal data needs `Authorization: Bearer TOKEN`."),
    modifiers(&BearerAuth),
    tags((name = "ledger", description = "Public: checkpoints, proofs, keys"), (name = "persons", description = "Personal data: every read is recorded in the ledger"), (name = "runs", description = "Runs of the algorithm"), (name = "appeals", description = "Appeals against decisions: appeals officers write, every step is an event"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The router and its OpenAPI document, made from the same route list.
fn router_and_doc(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(checkpoint, sign_checkpoint))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(keys))
        .routes(routes!(trust))
        .routes(routes!(events_page))
        .routes(routes!(persons::person))
        .routes(routes!(persons::proof_bundle))
        .routes(routes!(persons::person_events))
        .routes(routes!(persons::person_reads))
        .routes(routes!(persons::runs))
        .routes(routes!(persons::run))
        .routes(routes!(appeals::file_appeal, appeals::person_appeals))
        .routes(routes!(appeals::appeal))
        .routes(routes!(appeals::suspend))
        .routes(routes!(appeals::correction))
        .routes(routes!(appeals::issued_corrections))
        .routes(routes!(appeals::recheck))
        .routes(routes!(appeals::resolve))
        .routes(routes!(appeals::reinstate))
        .routes(routes!(appeals::case_file))
        .with_state(state)
        .split_for_parts();
    (router, doc)
}

/// The API's routes (with the tiles, the OpenAPI document and the health check); the pages are
/// `web::routes`, and `crate::app` serves both.
pub fn router(state: AppState) -> Router {
    let tiles = Router::new()
        .route("/tlog/checkpoint", axum::routing::get(tiles::checkpoint))
        .route("/tlog/tile/{*path}", axum::routing::get(tiles::tile))
        .with_state(state.clone());
    let metrics_route = get(metrics).with_state(state.clone());
    let state_for_ready = state.clone();
    let (router, doc) = router_and_doc(state);
    let router = router.route("/metrics", metrics_route);
    // The API's errors in one JSON shape, extractor rejections included (not the pages').
    let router = router.layer(axum::middleware::map_response(error::json_errors)).layer(axum::middleware::from_fn(no_store)).merge(tiles);
    let doc = Arc::new(finish_document(serde_json::to_value(&doc).expect("the document serialises")));
    // Liveness: the process answers. Readiness: it can serve, its store answering too.
    let ready = get(readyz).with_state(state_for_ready);
    router.route("/openapi.json", get(move || async move { Json((*doc).clone()) })).route("/healthz", get(|| async { "ok" })).route("/readyz", ready)
}

/// `GET /readyz`: 200 `{"ready": true, "events"}` once the store answers (within 3 s), else 503
/// `{"ready": false, "why"}` naming what does not, for a load balancer to take the instance out
/// of service while its database is away. `/healthz` stays 200 meanwhile: the process is alive.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(std::time::Duration::from_secs(3), state.ledger.size()).await {
        Ok(Ok(events)) => Json(serde_json::json!({"ready": true, "events": events})).into_response(),
        Ok(Err(e)) => {
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"ready": false, "why": format!("the store: {e}")}))).into_response()
        }
        Err(_) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"ready": false, "why": "the store did not answer within 3 s"})))
            .into_response(),
    }
}

/// The served document, finished: every response has a description, and every path parameter
/// `iin` that must be a valid IIN is marked `format: kz-iin` (the pattern
/// gives its shape, the format says its birth date and check digit must be right too, decision
/// 8), so a fuzzer's schema-valid request carries a real IIN. The reads route takes any 12
/// digits and is left as it is.
fn finish_document(mut doc: Value) -> Value {
    for (path, item) in doc["paths"].as_object_mut().into_iter().flatten() {
        // Every response has a description, as OpenAPI requires (a bare `(status = 401)` has none).
        for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            for (code, r) in op.get_mut("responses").and_then(Value::as_object_mut).into_iter().flatten() {
                if r.get("description").is_none() {
                    let reason = code.parse::<u16>().ok().and_then(|c| axum::http::StatusCode::from_u16(c).ok()).and_then(|c| c.canonical_reason());
                    r["description"] = json!(reason.unwrap_or("see the error's message"));
                }
            }
        }
        if path.ends_with("/reads") {
            continue;
        }
        for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if p["name"] == "iin" && p["in"] == "path" {
                    p["schema"]["format"] = json!("kz-iin");
                }
            }
        }
    }
    doc
}

/// `Cache-Control: no-store` on every answer that may hold personal data (issue 17, finding 9):
/// all but the public ledger routes, whose own caching stands.
/// Operational metrics in the Prometheus (OpenMetrics) text format (operator tokens only): the
/// counted ones and the ledger's state as of now.
async fn metrics(State(s): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.require(&[Role::Operator])?;
    let ledger = &s.ledger;
    let log_size = ledger.size().await?;
    let cursor = ledger.projections().projection_cursor(crate::read_models::PERSONS).await?;
    let checkpoint_age_seconds = ledger
        .checkpoints()
        .latest_checkpoint()
        .await?
        .and_then(|cp| chrono::DateTime::parse_from_rfc3339(&cp.signed_at).ok())
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0);
    let tail = ledger.tail().await?;
    let mut witnesses = Vec::new();
    for (key, _) in ledger.witnesses().map(|w| w.witnesses.as_slice()).unwrap_or_default() {
        witnesses.push((key.name.clone(), ledger.checkpoints().last_cosigned(&key.name).await?.unwrap_or(0)));
    }
    let snapshot = crate::metrics::Snapshot {
        log_size,
        projection_lag: log_size.saturating_sub(cursor),
        read_queue: s.reads.queued() as u64,
        checkpoint_age_seconds,
        tail_events: tail.events,
        tail_age_seconds: tail.age_seconds(chrono::Utc::now()),
        witnesses,
    };
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], crate::metrics::render(&snapshot)).into_response())
}

async fn no_store(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path().to_string();
    let public = ["/v1/checkpoint", "/v1/proofs/", "/v1/keys", "/v1/trust"].iter().any(|p| path.starts_with(p));
    let mut resp = next.run(req).await;
    if !public {
        resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    resp.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    resp
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or(AppError::Unauthorized("missing Authorization: Bearer token"))?;
        // The scheme is case-insensitive (RFC 9110, 11.1).
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t)
            .ok_or(AppError::Unauthorized("Authorization must be 'Bearer TOKEN'"))?;
        let caller = auth::authenticate(&state.ledger, token.trim()).await?.ok_or(AppError::Unauthorized("unknown token"))?;
        crate::disclosure::Viewer::note(parts, &caller);
        Ok(caller)
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

/// The latest signed checkpoint (a C2SP signed note) with every witness's cosignature; with
/// witnesses, the largest one a quorum has cosigned.
#[utoipa::path(get, path = "/v1/checkpoint", tag = "ledger", responses((status = 200, description = "the signed note", content_type = "text/plain", body = String), (status = 404, description = "no checkpoint yet, or none a quorum of witnesses cosigned")))]
async fn checkpoint(State(s): State<AppState>) -> Result<Response, AppError> {
    let (_, note) = s
        .ledger
        .latest_served()
        .await?
        .ok_or_else(|| AppError::NotFound("no checkpoint has been signed (and, with witnesses, cosigned by a quorum) yet".into()))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// Signs a checkpoint of the log now (operator).
#[utoipa::path(post, path = "/v1/checkpoint", tag = "ledger", security(("bearer" = [])), responses((status = 200, description = "the signed note", content_type = "text/plain", body = String), (status = 401), (status = 403)))]
async fn sign_checkpoint(State(s): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.require(&[Role::Operator])?;
    let cp = s.ledger.checkpoint().await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], cp.note).into_response())
}

/// A number from the query string, with an error that names the parameter.
/// A query number: a non-negative integer below 2^63, as the store counts (issue 17: a larger
/// one is a 400, never a panic).
fn number(params: &BTreeMap<String, String>, name: &str) -> Result<Option<u64>, AppError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n <= i64::MAX as u64)
                .ok_or_else(|| AppError::BadRequest(format!("{name} must be an integer from 0 to 2^63 - 1, got {v:?}")))
        })
        .transpose()
}

async fn latest_size(s: &AppState) -> Result<u64, AppError> {
    Ok(match s.ledger.checkpoints().latest_checkpoint().await? {
        Some(cp) => cp.tree_size,
        None => s.ledger.size().await?,
    })
}

/// RFC 9162 inclusion proof of event `seq` in the tree of `tree_size` (default: the latest checkpoint).
#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "ledger", params(("seq" = u64, Query, minimum = 0, maximum = 9223372036854775807_u64), ("tree_size" = Option<u64>, Query, minimum = 1, maximum = 9223372036854775807_u64)), responses((status = 200, description = "{seq, tree_size, path: [hex]}"), (status = 400), (status = 404, description = "no such tree, or the event is not in it")))]
async fn inclusion(State(s): State<AppState>, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>, AppError> {
    let seq = number(&q, "seq")?.ok_or_else(|| AppError::BadRequest("seq is required".into()))?;
    let tree_size = match number(&q, "tree_size")? {
        Some(0) => return Err(AppError::BadRequest("tree_size must be at least 1".into())),
        Some(n) => n,
        None => latest_size(&s).await?,
    };
    let path = s.ledger.inclusion_proof(seq, tree_size).await?;
    Ok(Json(json!({"seq": seq, "tree_size": tree_size, "path": path.iter().map(hex::encode).collect::<Vec<_>>()})))
}

/// RFC 9162 consistency proof between two tree sizes (defined from size 1 on).
#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "ledger", params(("from" = u64, Query, minimum = 1, maximum = 9223372036854775807_u64), ("to" = Option<u64>, Query, minimum = 1, maximum = 9223372036854775807_u64)), responses((status = 200, description = "{from, to, path: [hex]}"), (status = 400), (status = 404, description = "no such tree, or none from a larger size to a smaller")))]
async fn consistency(State(s): State<AppState>, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>, AppError> {
    let from = number(&q, "from")?.ok_or_else(|| AppError::BadRequest("from is required".into()))?;
    if from == 0 {
        return Err(AppError::BadRequest("from must be at least 1: RFC 9162 defines consistency proofs between non-empty trees".into()));
    }
    let to = match number(&q, "to")? {
        Some(0) => return Err(AppError::BadRequest("to must be at least 1".into())),
        Some(n) => n,
        None => latest_size(&s).await?,
    };
    let path = s.ledger.consistency_proof(from, to).await?;
    Ok(Json(json!({"from": from, "to": to, "path": path.iter().map(hex::encode).collect::<Vec<_>>()})))
}

/// Ledger verifier keys (current and retired) and the source registries' keys.
#[utoipa::path(get, path = "/v1/keys", tag = "ledger", responses((status = 200, description = "{ledger: [vkey], registries: {id: vkey}}")))]
async fn keys(State(s): State<AppState>) -> Result<Json<Value>, AppError> {
    let history = s.ledger.key_history().await?;
    Ok(Json(json!({
        "ledger": history.all().iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        "registries": s.registry_keys.as_map(),
    })))
}

/// The trust list of the sources' keys this service accepts answers under (`sources.md`), for
/// information: an auditor pins the list he got from the sources, not this one.
#[utoipa::path(get, path = "/v1/trust", tag = "ledger", responses((status = 200, description = "{basis, sha256, list}: the trust list (housing-ledger/trust-list/v1) and where it came from")))]
async fn trust(State(s): State<AppState>) -> Json<Value> {
    Json(json!({
        "basis": s.registry_keys.basis,
        "sha256": s.registry_keys.sha256,
        "list": s.registry_keys.document(),
    }))
}

#[derive(Deserialize)]
struct Page {
    from: Option<String>,
    limit: Option<String>,
}

/// The log in order, whole events (auditor).
#[utoipa::path(get, path = "/v1/events", tag = "ledger", security(("bearer" = [])), params(("from" = Option<u64>, Query, minimum = 0, maximum = 9223372036854775807_u64), ("limit" = Option<u64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100")), responses((status = 200, description = "{events, next}"), (status = 400), (status = 401), (status = 403)))]
async fn events_page(
    State(s): State<AppState>,
    caller: Caller,
    Query(p): Query<Page>,
) -> Result<(axum::Extension<crate::disclosure::ReadAs>, Json<Value>), AppError> {
    caller.require(&[Role::Auditor])?;
    let mut q = BTreeMap::new();
    p.from.map(|v| q.insert("from".to_string(), v));
    p.limit.map(|v| q.insert("limit".to_string(), v));
    let from = number(&q, "from")?.unwrap_or(0);
    let limit = number(&q, "limit")?.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::BadRequest(format!("limit must be between 1 and {MAX_PAGE}")));
    }
    // Whole events show personal data: the read of every person in them is recorded on the
    // way out (a page that shows none is no read of personal data).
    let events = s.ledger.log().read(from, limit).await?;
    let size = s.ledger.size().await?;
    let next = events.last().map(|e| e.seq + 1).filter(|n| *n < size);
    let range = crate::disclosure::ReadAs(format!("events:{from}-{}", events.last().map_or(from, |e| e.seq)));
    Ok((axum::Extension(range), Json(json!({"events": events, "next": next}))))
}
