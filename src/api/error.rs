//! The one API error type: `{"error": {"code", "message"}}` with a fitting status.

use crate::ledger::LedgerError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The person was erased (format v2): his data can no longer be read by anyone.
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooLarge(String),
    /// The database cannot be reached now; the caller may try again.
    #[error("the ledger's database is unavailable; try again shortly")]
    Unavailable(String),
    /// A source registry could not be asked.
    #[error("{0}")]
    BadGateway(String),
    /// A stored read model failed its authentication: not served until folded afresh.
    #[error("{0}")]
    Integrity(String),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Integrity(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Gone(_) => "gone",
            AppError::TooLarge(_) => "payload_too_large",
            AppError::Unavailable(_) => "unavailable",
            AppError::BadGateway(_) => "bad_gateway",
            AppError::Integrity(_) => "integrity",
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => AppError::Conflict(e.to_string()),
            e if e.unavailable() => AppError::Unavailable(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// Appeals' errors by what went wrong; their statuses are decided here only.
impl From<crate::appeal::AppealError> for AppError {
    fn from(e: crate::appeal::AppealError) -> Self {
        use crate::appeal::AppealError as E;
        match e {
            E::UnknownAppeal(_) | E::NotInLedger(_) => AppError::NotFound(e.to_string()),
            E::Malformed(_) | E::Field(_) | E::CorrectionRefused(_) => AppError::BadRequest(e.to_string()),
            E::Unidentified(_) | E::SelfReview(_) => AppError::Forbidden(e.to_string()),
            E::WrongState(_) | E::ContradictsRecheck(_) | E::Changed(_) => AppError::Conflict(e.to_string()),
            E::SourceUnavailable(_) => AppError::BadGateway(e.to_string()),
            E::Ledger(e) => e.into(),
        }
    }
}

impl From<LedgerError> for AppError {
    fn from(e: LedgerError) -> Self {
        match e {
            // Well-formed sizes and indexes the log has no proof for: it does not exist.
            LedgerError::NoSuchProof(m) => AppError::NotFound(m),
            LedgerError::NoSuchEvent { .. } => AppError::NotFound(e.to_string()),
            LedgerError::Store(s) => s.into(),
            LedgerError::Tampered(m) => AppError::Integrity(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            // The detail goes to the log, not to the caller.
            tracing::error!(%detail, "internal error");
        }
        let body = Json(json!({"error": {"code": self.code(), "message": self.to_string()}}));
        if let AppError::Unavailable(detail) = &self {
            tracing::warn!(%detail, "database unavailable");
            return (self.status(), [(axum::http::header::RETRY_AFTER, "5")], body).into_response();
        }
        // Refusals of who is asking are security events (the feed's layer writes them).
        use crate::security::{Kind, Note};
        let note = match &self {
            AppError::Unauthorized(why) => Some(Note { kind: Kind::TokenRejected, outcome: why.to_string() }),
            AppError::Forbidden(why) => Some(Note { kind: Kind::RoleDenied, outcome: why.clone() }),
            AppError::Integrity(why) => Some(Note { kind: Kind::IntegrityFailure, outcome: why.clone() }),
            _ => None,
        };
        let mut resp = (self.status(), body).into_response();
        if let Some(n) = note {
            resp.extensions_mut().insert(n);
        }
        resp
    }
}

/// Gives every error answer of the API the one JSON shape: the rejections of axum's extractors
/// (a path or query it cannot read, a body of the wrong type) come as text otherwise.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp.headers().get(axum::http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    let message = if status.is_server_error() { "internal error".to_string() } else { text };
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}
