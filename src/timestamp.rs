//! Time-stamps of checkpoints asked of a time-stamping authority (issue 16, §3), and the check
//! of every stored token. The token's format and its check are the verifier's
//! (`verifier::timestamp`), which an auditor runs offline.

pub use verifier::timestamp::*;

use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_tsp::TimeStampResp;

/// The time-stamping authority the log asks.
#[derive(Clone, Debug)]
pub struct Tsa {
    pub url: String,
    pub anchors: Vec<Certificate>,
    pub timeout: std::time::Duration,
}

impl Tsa {
    /// Asks for a token over `note`'s body; checks it (imprint, nonce, signature, chain) before
    /// returning it.
    pub async fn stamp(&self, note: &str) -> Result<Vec<u8>, StampError> {
        let url = || self.url.clone();
        let imprint = imprint(note).map_err(StampError::Token)?;
        let nonce = rand_core::RngCore::next_u64(&mut rand_core::OsRng) >> 1;
        let client = reqwest::Client::builder().timeout(self.timeout).build().expect("HTTP client builds");
        let resp = client
            .post(&self.url)
            .header("content-type", "application/timestamp-query")
            .body(request(&imprint, nonce))
            .send()
            .await
            .map_err(|e| StampError::Unreachable { url: url(), detail: e.to_string() })?;
        if !resp.status().is_success() {
            return Err(StampError::Status { url: url(), status: resp.status().as_u16() });
        }
        let body = crate::bounded::read(resp, crate::bounded::TSA_REPLY).await.map_err(|e| StampError::Unreachable { url: url(), detail: e.to_string() })?;
        let parsed = TimeStampResp::from_der(&body).map_err(|e| StampError::NotAResponse { url: url(), detail: e.to_string() })?;
        let token = parsed.time_stamp_token.ok_or_else(|| StampError::NotGranted { url: url(), status: format!("{:?}", parsed.status.status) })?;
        let token = token.to_der().map_err(|e| StampError::Token(StampFault::Der(e)))?;
        verify(&token, &imprint, Some(nonce), &self.anchors).map_err(StampError::Token)?;
        Ok(token)
    }
}

/// A time-stamp the authority did not give, or gave in a form that does not check.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    #[error("{url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: not a TimeStampResp: {detail}")]
    NotAResponse { url: String, detail: String },
    #[error("{url}: no token granted (status {status})")]
    NotGranted { url: String, status: String },
    /// The token does not check (imprint, nonce, signature, chain).
    #[error("{0}")]
    Token(StampFault),
}

/// A stored time-stamp that does not check, or a store that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StampsError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("checkpoint of tree size {tree_size}: {fault}")]
    Checkpoint { tree_size: u64, fault: StampFault },
    #[error("checkpoint of tree size {tree_size}: signed_at: {error}")]
    SignedAt { tree_size: u64, error: chrono::ParseError },
}

/// What the time-stamps of a whole ledger showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerStamps {
    pub checkpoints: usize,
    pub stamped: usize,
    /// Tokens whose genTime is after the next checkpoint was signed: `(tree size, next tree
    /// size)`. They show only that the state existed by then (a TSA was down, and the token was
    /// asked for again later).
    pub late: Vec<(u64, u64)>,
}

/// Checks every stored token against its checkpoint and `anchors` (`Err` names the first
/// checkpoint whose token fails), and finds the tokens whose genTime does not fall before the
/// next checkpoint.
pub async fn verify_ledger(store: &dyn crate::store::CheckpointStore, anchors: &[Certificate]) -> Result<LedgerStamps, StampsError> {
    let checkpoints = store.checkpoints().await?;
    let (mut stamped, mut late) = (0, Vec::new());
    for (k, cp) in checkpoints.iter().enumerate() {
        let Some(token) = store.timestamp(cp.tree_size).await? else { continue };
        let failed = |fault: StampFault| StampsError::Checkpoint { tree_size: cp.tree_size, fault };
        let stamp = verify(&token, &imprint(&cp.note).map_err(failed)?, None, anchors).map_err(failed)?;
        if let Some(next) = checkpoints.get(k + 1) {
            let next_at = chrono::DateTime::parse_from_rfc3339(&next.signed_at).map_err(|error| StampsError::SignedAt { tree_size: next.tree_size, error })?;
            if stamp.gen_time as i64 > next_at.timestamp() {
                late.push((cp.tree_size, next.tree_size));
            }
        }
        stamped += 1;
    }
    Ok(LedgerStamps { checkpoints: checkpoints.len(), stamped, late })
}
