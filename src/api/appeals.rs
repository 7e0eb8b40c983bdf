//! Appeal routes: appeals officers file, suspend, correct, re-check and resolve; auditors and
//! officers read an appeal and download its case file. Every write is an event; every read of
//! an appeal is recorded like any read of personal data.

use super::persons::checked_iin;
use super::{AppError, AppState};
use crate::appeal::{self, Appeal};
use crate::auth::{Caller, Role};
use crate::proof::BuildError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// An appeal as the API shows it: its state and its events, whole.
pub fn view(a: &Appeal) -> Value {
    let f = &a.filed.data;
    let state = if a.resolved.is_some() { "resolved" } else { "filed" };
    json!({
        "appeal": a.id, "iin": a.iin, "procedure": a.procedure, "run": a.run, "state": state,
        "decision": f["decision"], "decided_by": f["decided_by"], "filed_by": f["filed_by"], "grounds": f["grounds"],
        "contested_step": f["contested_step"], "received_on": f["received_on"], "delivered_on": f["delivered_on"],
        "deadline": f["deadline"], "late": f["late"], "late_reason": f["late_reason"], "suspended": a.suspended && a.resolved.is_none(),
        "recheck": a.recheck.as_ref().map(|(e, r)| json!({"seq": e.seq, "verdict": r.verdict, "grounds": r.grounds, "from_step": r.from_step})),
        "resolution": a.resolved.as_ref().map(|(e, r)| json!({"seq": e.seq, "outcome": r.outcome, "reason": r.reason, "resolved_by": r.resolved_by, "reinstated": r.reinstated})),
        "events": a.events,
    })
}

/// A JSON body, or a 400 in the API's error shape naming what is wrong with it.
fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    b.map(|Json(t)| t).map_err(|e| {
        let text = format!("request body: {}", e.body_text());
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(text)
        } else {
            AppError::BadRequest(text)
        }
    })
}

// The request bodies, with their OpenAPI schemas; the appeal services take their own types.

/// What an officer files.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filing {
    /// `registry_removal` or `lease_termination`.
    #[schema(pattern = "^(registry_removal|lease_termination)$")]
    pub procedure: String,
    /// The appellant's grounds, as stated (not blank).
    #[schema(pattern = "\\S")]
    pub grounds: String,
    /// The step contested (`"6"`, `"10"`, ...); default: the step that found the ground.
    #[serde(default)]
    pub contested_step: Option<String>,
    /// The day the appeal was received (`YYYY-MM-DD`); default: today.
    #[serde(default)]
    pub received_on: Option<String>,
    /// Why it comes after the deadline, if it does.
    #[serde(default)]
    pub late_reason: Option<String>,
    /// Suspend the removal while the appeal is pending.
    #[serde(default)]
    pub suspend: bool,
}

/// A source owner's correction.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionFiling {
    pub registry: String,
    /// The answer as the source signed it; its `request_id` must be `<appeal>/<registry>`.
    #[schema(value_type = Object)]
    pub answer: Value,
    pub source_key: String,
    pub source_sig: String,
    /// `rsa-pkcs1-sha256` or `ecdsa-p256-sha256` under the national PKI (absent: Ed25519).
    #[serde(default)]
    pub source_sig_alg: Option<String>,
    /// The signer's certificate and intermediates, base64 DER, signer first.
    #[serde(default)]
    pub source_chain: Option<Vec<String>>,
    /// `{"ocsp": base64 DER}` or `{"crl": base64 DER}`: the signer's revocation evidence.
    #[serde(default)]
    #[schema(value_type = Option<RevocationEvidence>)]
    pub source_revocation: Option<events::catalogue::SourceRevocation>,
}

/// The schema of `events::catalogue::SourceRevocation` (which knows no OpenAPI): an object of
/// exactly one member, `ocsp` (base64 DER OCSPResponse) or `crl` (base64 DER CertificateList),
/// and nothing else (it is read with `deny_unknown_fields`).
struct RevocationEvidence;

impl utoipa::PartialSchema for RevocationEvidence {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let one = |member: &str| {
            ObjectBuilder::new()
                .property(member, ObjectBuilder::new().schema_type(Type::String))
                .required(member)
                .additional_properties(Some(AdditionalProperties::<utoipa::openapi::schema::Schema>::FreeForm(false)))
        };
        OneOfBuilder::new()
            .description(Some("`{\"ocsp\": base64 DER}` or `{\"crl\": base64 DER}`: the signer's revocation evidence"))
            .item(one("ocsp"))
            .item(one("crl"))
            .into()
    }
}

impl utoipa::ToSchema for RevocationEvidence {}

/// `upheld` or `overturned`, with the officer's reasons.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub outcome: String,
    pub reason: String,
}

impl From<Filing> for appeal::Filing {
    fn from(f: Filing) -> Self {
        Self {
            procedure: f.procedure,
            grounds: f.grounds,
            contested_step: f.contested_step,
            received_on: f.received_on,
            late_reason: f.late_reason,
            suspend: f.suspend,
        }
    }
}

impl From<CorrectionFiling> for appeal::CorrectionFiling {
    fn from(c: CorrectionFiling) -> Self {
        Self {
            registry: c.registry,
            signed: crate::registry::SignedAnswer {
                answer: c.answer,
                source_key: c.source_key,
                source_sig: c.source_sig,
                source_sig_alg: c.source_sig_alg,
                source_chain: c.source_chain,
                source_revocation: c.source_revocation,
                // A correction filed here is signed over the answer itself, not in a gateway
                // envelope.
                source_sig_format: None,
                source_document: None,
                item_sigs: Default::default(),
            },
        }
    }
}

impl From<Resolution> for appeal::Resolution {
    fn from(r: Resolution) -> Self {
        Self { outcome: r.outcome, reason: r.reason }
    }
}

fn officer(caller: &Caller) -> Result<(), AppError> {
    caller.require(&[Role::AppealsOfficer])
}

/// Files an appeal against a person's confirmed decision (appeals officer).
#[utoipa::path(post, path = "/v1/persons/{iin}/appeals", tag = "appeals", security(("bearer" = [])), params(("iin" = String, Path, pattern = r"^[0-9]{12}$", description = "12 digits with a valid check digit")), request_body = Filing,
    responses((status = 410, description = "the person was erased (format v2); the answer names the erasure's seq"), (status = 201, description = "the appeal"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409, description = "no confirmed decision, or an appeal is already filed")))]
pub async fn file_appeal(
    State(s): State<AppState>,
    caller: Caller,
    Path(iin): Path<String>,
    filing: Result<Json<Filing>, JsonRejection>,
) -> Result<Response, AppError> {
    officer(&caller)?;
    let filing = body(filing)?;
    let iin = checked_iin(&iin)?;
    let a = s.appeals().file(iin.as_str(), &filing.into(), &caller).await?;
    Ok((StatusCode::CREATED, Json(view(&a))).into_response())
}

/// The appeals filed about a person (auditor, appeals officer).
#[utoipa::path(get, path = "/v1/persons/{iin}/appeals", tag = "appeals", security(("bearer" = [])), params(("iin" = String, Path, pattern = r"^[0-9]{12}$", description = "12 digits with a valid check digit")), responses((status = 410, description = "the person was erased (format v2); the answer names the erasure's seq"), (status = 200, description = "{iin, appeals}"), (status = 400), (status = 401), (status = 403)))]
pub async fn person_appeals(State(s): State<AppState>, caller: Caller, Path(iin): Path<String>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let iin = checked_iin(&iin)?;
    let appeals = s.appeals().of_person(iin.as_str()).await?;
    Ok(Json(json!({"iin": iin, "appeals": appeals.iter().map(view).collect::<Vec<_>>()})))
}

/// One appeal with its events (auditor, appeals officer).
#[utoipa::path(get, path = "/v1/appeals/{id}", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, description = "the appeal"), (status = 401), (status = 403), (status = 404)))]
pub async fn appeal(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor, Role::AppealsOfficer])?;
    Ok(Json(view(&s.appeals().load(&id).await?)))
}

/// Suspends the removal while the appeal is pending (appeals officer).
#[utoipa::path(post, path = "/v1/appeals/{id}/suspension", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, description = "the appeal"), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn suspend(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    officer(&caller)?;
    Ok(Json(view(&s.appeals().suspend(&id, &caller).await?)))
}

/// Receives a source owner's signed correction; its request id must be `<appeal>/<registry>` (appeals officer).
#[utoipa::path(post, path = "/v1/appeals/{id}/corrections", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)), request_body = CorrectionFiling,
    responses((status = 201, description = "{seq}: the correction as recorded"), (status = 400, description = "the signature or the answer is refused"), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn correction(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    c: Result<Json<CorrectionFiling>, JsonRejection>,
) -> Result<Response, AppError> {
    officer(&caller)?;
    let c = body(c)?;
    let ev = s.appeals().correction(&id, &c.into(), &caller).await?;
    Ok((StatusCode::CREATED, Json(json!({"seq": ev.seq, "appeal": id, "registry": ev.as_type::<events::catalogue::RegistryResponded>().map(|r| r.registry)})))
        .into_response())
}

/// The corrections the sources issued about the appellant and his family, each checked as an answer is checked; one not refused is received by posting it, as given, to `/v1/appeals/{id}/corrections` (auditor, appeals officer).
#[utoipa::path(get, path = "/v1/appeals/{id}/corrections/issued", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "{appeal, corrections: [{registry, answer, source_key, source_sig, refused (why, or null), received (seq, or null)}]}"), (status = 401), (status = 403), (status = 404), (status = 502, description = "the registries could not be asked")))]
pub async fn issued_corrections(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let issued = s.appeals().issued_corrections(&id).await?;
    let corrections: Vec<Value> = issued
        .into_iter()
        .map(|c| {
            let mut v = json!({"registry": c.registry, "refused": c.refused, "received": c.received});
            if let Ok(serde_json::Value::Object(signed)) = serde_json::to_value(&c.signed) {
                v.as_object_mut().expect("an object").extend(signed.into_iter().filter(|(k, _)| k != "item_sigs"));
            }
            v
        })
        .collect();
    Ok(Json(json!({"appeal": id, "corrections": corrections})))
}

/// Runs the checks again from the contested step on, with the corrections received and fresh answers (appeals officer).
#[utoipa::path(post, path = "/v1/appeals/{id}/recheck", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, description = "the appeal, with the re-check"), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn recheck(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    officer(&caller)?;
    Ok(Json(view(&s.appeals().recheck(&id, &caller).await?)))
}

/// Resolves the appeal, upheld or overturned, by an officer who did not take the decision (appeals officer).
#[utoipa::path(post, path = "/v1/appeals/{id}/resolution", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)), request_body = Resolution,
    responses((status = 200, description = "the resolved appeal"), (status = 400), (status = 401), (status = 403, description = "the officer took the decision under appeal"), (status = 404), (status = 409, description = "the outcome contradicts the re-check, or the appeal is resolved")))]
pub async fn resolve(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    r: Result<Json<Resolution>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    officer(&caller)?;
    let r = body(r)?;
    Ok(Json(view(&s.appeals().resolve(&id, &r.into(), &caller).await?)))
}

/// Submits an overturned decision's reinstatement to ИШ АС МР again, where it is not yet acknowledged (decision 16); once it is, the notice of reinstatement goes out (appeals officer).
#[utoipa::path(post, path = "/v1/appeals/{id}/reinstatement", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "the appeal; the person's case shows the reinstatement pending or acknowledged"), (status = 401), (status = 403), (status = 404), (status = 409, description = "nothing overturned, or already acknowledged")))]
pub async fn reinstate(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    officer(&caller)?;
    Ok(Json(view(&s.appeals().reinstate(&id, &caller).await?)))
}

/// The appeal's case file: the notice as sent, the proof bundle and the appeal's events, to download (auditor, appeals officer).
#[utoipa::path(get, path = "/v1/appeals/{id}/case-file", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, description = "the case file (housing-ledger/case-file/v1)"), (status = 401), (status = 403), (status = 404)))]
pub async fn case_file(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, AppError> {
    caller.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let file = case_file_of(&s, &id).await?;
    let body = serde_json::to_vec_pretty(&file).expect("case files serialise");
    Ok(([(header::CONTENT_TYPE, "application/json".to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"case-file-{id}.json\""))], body)
        .into_response())
}

/// Builds an appeal's case file.
pub async fn case_file_of(s: &AppState, id: &str) -> Result<crate::proof::CaseFile, AppError> {
    let a = s.appeals().load(id).await?;
    crate::proof::case_file(&s.ledger, &s.registry_keys, id, &a.iin, a.procedure).await.map_err(|e| match e {
        BuildError::NoCase { .. } => AppError::NotFound(format!("no appeal {id}")),
        BuildError::Ledger(e) => e.into(),
        e => AppError::Internal(e.to_string()),
    })
}
