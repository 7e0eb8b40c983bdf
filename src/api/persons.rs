//! Personal-data routes: a person's cases, his proof bundle and his events; and the runs.

use super::{AppError, AppState};
use crate::auth::{Caller, Role};
use crate::proof::{self, BuildError};
use crate::rules::iin::Iin;
use crate::rules::Procedure;
use axum::extract::{Path, Query, State};
use axum::Json;
use events::catalogue::{InputRejected, RegistryFailed, RunFinished, RunStarted};
use events::types::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn checked_iin(iin: &str) -> Result<Iin, AppError> {
    Iin::parse(iin).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Every recorded read of a person's data (auditor). Any identifier a read named can be
/// asked for, a rejected list entry's IIN that fails its check digit included.
#[utoipa::path(get, path = "/v1/persons/{iin}/reads", tag = "persons", security(("bearer" = [])), params(("iin" = String, Path, pattern = r"^[0-9]{12}$", description = "12 digits; the check digit is not required here")), responses((status = 410, description = "the person was erased (format v2); the answer names the erasure's seq"), (status = 200, description = "{iin, reads: [{seq, time, token, role, read}]}"), (status = 400), (status = 401), (status = 403)))]
pub async fn person_reads(State(s): State<AppState>, caller: Caller, Path(iin): Path<String>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor])?;
    if iin.len() != 12 || !iin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::BadRequest(format!("IIN must be 12 digits, got {iin:?}")));
    }
    let reads = crate::reads::of_person(&s.ledger, &iin).await?;
    Ok(Json(json!({"iin": iin, "reads": reads})))
}

/// A person's cases per procedure: status, grounds, decision, notice (auditor, appeals officer).
#[utoipa::path(get, path = "/v1/persons/{iin}", tag = "persons", security(("bearer" = [])), params(("iin" = String, Path, pattern = r"^[0-9]{12}$", description = "12 digits with a valid check digit")), responses((status = 410, description = "the person was erased (format v2); the answer names the erasure's seq"), (status = 200, description = "{iin, procedures: {P: {status, grounds, decision, notice, explanation: {findings, contest: {to, within, delivered_on, last_day, moved_from, provisional, suspension_on_request}, text: {kk, ru}}}}}"), (status = 400, description = "malformed IIN, naming the failed check"), (status = 401), (status = 403), (status = 404)))]
pub async fn person(State(s): State<AppState>, caller: Caller, Path(iin): Path<String>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let iin = checked_iin(&iin)?;
    let cases = crate::read_models::person(&s.ledger, iin.as_str()).await?.ok_or_else(|| AppError::NotFound(format!("no case for {iin}")))?;
    let procedures: BTreeMap<&String, Value> = cases
        .iter()
        .map(|(p, c)| {
            let mut v = json!({"status": c.status, "run": c.run, "grounds": c.grounds, "decision": c.decision, "notice": c.notice, "proposal_seq": c.proposal_seq,
                "appeal": c.appeal, "reinstated": c.reinstated, "reinstatement": c.reinstatement, "decision_not_taken": c.decision_not_taken,
                "explanation": crate::appeal::explanation_of(c)});
            if c.simulation {
                // Decision 11: said wherever its decisions are shown.
                v["simulation"] = json!(crate::proof::SIMULATION_NOTE);
            }
            (p, v)
        })
        .collect();
    Ok(Json(json!({"iin": iin, "procedures": procedures})))
}

/// The proof bundle of `ledger-format.md` for a person's decision (auditor, appeals officer).
#[utoipa::path(get, path = "/v1/persons/{iin}/proof", tag = "persons", security(("bearer" = [])), params(("iin" = String, Path, pattern = r"^[0-9]{12}$", description = "12 digits with a valid check digit"), ("procedure" = String, Query, pattern = "^(registry_removal|lease_termination)$", description = "registry_removal or lease_termination")), responses((status = 410, description = "the person was erased (format v2); the answer names the erasure's seq"), (status = 200, description = "the proof bundle"), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn proof_bundle(
    State(s): State<AppState>,
    caller: Caller,
    Path(iin): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<proof::Bundle>, AppError> {
    caller.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let iin = checked_iin(&iin)?;
    let procedure = q.get("procedure").ok_or_else(|| AppError::BadRequest("procedure is required (registry_removal or lease_termination)".into()))?;
    let procedure = Procedure::parse(procedure).map_err(|e| AppError::BadRequest(e.to_string()))?;
    match proof::build_with(&s.ledger, &s.registry_keys, &s.run_headers, iin.as_str(), procedure).await {
        // Written out as it is, with no JSON tree in between.
        Ok(b) => Ok(Json(b)),
        Err(BuildError::NoCase { iin, procedure }) => Err(AppError::NotFound(format!("no {procedure} case for {iin}"))),
        Err(BuildError::Ledger(e)) => Err(e.into()),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

/// Every event of a person's stream, whole (auditor).
#[utoipa::path(get, path = "/v1/persons/{iin}/events", tag = "persons", security(("bearer" = [])), params(("iin" = String, Path, pattern = r"^[0-9]{12}$", description = "12 digits with a valid check digit")), responses((status = 410, description = "the person was erased (format v2); the answer names the erasure's seq"), (status = 200, description = "{events}"), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn person_events(State(s): State<AppState>, caller: Caller, Path(iin): Path<String>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor])?;
    let iin = checked_iin(&iin)?;
    let events = s.ledger.log().read_stream(&person_stream(iin.as_str()), None).await?;
    if events.is_empty() {
        return Err(AppError::NotFound(format!("no events for {iin}")));
    }
    Ok(Json(json!({"events": events})))
}

/// Runs with their counts (auditor, operator).
#[utoipa::path(get, path = "/v1/runs", tag = "runs", security(("bearer" = [])), responses((status = 200, description = "{runs}"), (status = 401), (status = 403)))]
pub async fn runs(State(s): State<AppState>, caller: Caller) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor, Role::Operator])?;
    let started = s.ledger.log().read_all_by_type(RUN_STARTED).await?;
    let finished = s.ledger.log().read_all_by_type(RUN_FINISHED).await?;
    let counts: BTreeMap<String, BTreeMap<String, u64>> = finished.iter().filter_map(|e| e.as_type::<RunFinished>()).map(|f| (f.run, f.counts)).collect();
    let runs: Vec<Value> = started
        .iter()
        .filter_map(|e| Some((e, e.as_type::<RunStarted>()?)))
        .map(|(e, r)| {
            json!({"run": r.run, "procedure": r.procedure, "as_of": r.as_of, "started_seq": e.seq, "finished": counts.contains_key(&r.run), "counts": counts.get(&r.run)})
        })
        .collect();
    Ok(Json(json!({"runs": runs})))
}

/// One run: counts, rejected entries, registry failures (auditor, operator). The rejected
/// entries are personal data: auditors get them, their read recorded; operators get counts by
/// the field found wrong only.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, description = "the run"), (status = 401), (status = 403), (status = 404)))]
pub async fn run(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor, Role::Operator])?;
    let events = s.ledger.log().read_stream(&run_stream(&id), None).await?;
    let (started_seq, started) =
        events.iter().find_map(|e| Some((e.seq, e.as_type::<RunStarted>()?))).ok_or_else(|| AppError::NotFound(format!("no run {id}")))?;
    let finished = events.iter().find_map(|e| e.as_type::<RunFinished>());
    let rejected_events: Vec<&events::Event> = events.iter().filter(|e| e.kind == INPUT_REJECTED).collect();
    let rejected: Vec<(u64, InputRejected)> = rejected_events.iter().filter_map(|e| Some((e.seq, e.as_type::<InputRejected>()?))).collect();
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for r in rejected.iter().flat_map(|(_, r)| &r.reasons) {
        // A reason is "field: what is wrong", and what is wrong may quote the value: only the
        // field is counted.
        let field = r.split(':').next().unwrap_or("other").trim();
        *by_reason.entry(field.to_string()).or_default() += 1;
    }
    let failures: Vec<Value> = events
        .iter()
        .filter_map(|e| Some((e.seq, e.as_type::<RegistryFailed>()?)))
        .map(|(seq, f)| json!({"seq": seq, "step": f.step, "kind": f.kind, "detail": f.detail}))
        .collect();
    let mut v = json!({
        "run": id, "procedure": started.procedure, "as_of": started.as_of, "rule_set": started.rule_set, "source": started.source,
        "started_seq": started_seq, "finished": finished.is_some(), "counts": finished.map(|f| f.counts),
        "rejected_count": rejected_events.len(), "rejected_by_reason": by_reason, "registry_failures": failures,
    });
    if caller.role == Role::Auditor {
        v["rejected"] = rejected.into_iter().map(|(seq, r)| json!({"seq": seq, "entry": r.entry, "reasons": r.reasons})).collect();
    }
    Ok(Json(v))
}
