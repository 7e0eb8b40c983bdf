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
    pub async fn stamp(&self, note: &str) -> Result<Vec<u8>, String> {
        let imprint = imprint(note)?;
        let nonce = rand_core::RngCore::next_u64(&mut rand_core::OsRng) >> 1;
        let client = reqwest::Client::builder().timeout(self.timeout).build().expect("HTTP client builds");
        let resp = client
            .post(&self.url)
            .header("content-type", "application/timestamp-query")
            .body(request(&imprint, nonce))
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        if !resp.status().is_success() {
            return Err(format!("{} answered {}", self.url, resp.status()));
        }
        let body = crate::bounded::read(resp, crate::bounded::TSA_REPLY).await.map_err(|e| format!("{}: {e}", self.url))?;
        let parsed = TimeStampResp::from_der(&body).map_err(|e| format!("{}: not a TimeStampResp: {e}", self.url))?;
        let token = parsed.time_stamp_token.ok_or_else(|| format!("{}: no token granted (status {:?})", self.url, parsed.status.status))?;
        let token = token.to_der().map_err(|e| e.to_string())?;
        verify(&token, &imprint, Some(nonce), &self.anchors)?;
        Ok(token)
    }
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
pub async fn verify_ledger(store: &dyn crate::store::EventStore, anchors: &[Certificate]) -> Result<LedgerStamps, String> {
    let checkpoints = store.checkpoints().await.map_err(|e| e.to_string())?;
    let (mut stamped, mut late) = (0, Vec::new());
    for (k, cp) in checkpoints.iter().enumerate() {
        let Some(token) = store.timestamp(cp.tree_size).await.map_err(|e| e.to_string())? else { continue };
        let stamp = verify(&token, &imprint(&cp.note)?, None, anchors).map_err(|e| format!("checkpoint of tree size {}: {e}", cp.tree_size))?;
        if let Some(next) = checkpoints.get(k + 1) {
            let next_at =
                chrono::DateTime::parse_from_rfc3339(&next.signed_at).map_err(|e| format!("checkpoint of tree size {}: signed_at: {e}", next.tree_size))?;
            if stamp.gen_time as i64 > next_at.timestamp() {
                late.push((cp.tree_size, next.tree_size));
            }
        }
        stamped += 1;
    }
    Ok(LedgerStamps { checkpoints: checkpoints.len(), stamped, late })
}
