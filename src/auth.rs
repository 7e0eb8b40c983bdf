//! API tokens and roles. A token is shown once, at creation; only its SHA-256 is stored.

use crate::store::{AccessStore, StoreError, TokenRecord};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use rand_core::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Auditor,
    AppealsOfficer,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::AppealsOfficer => "appeals_officer",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auditor" => Ok(Role::Auditor),
            "appeals_officer" => Ok(Role::AppealsOfficer),
            "operator" => Ok(Role::Operator),
            other => Err(format!("unknown role {other:?}: expected auditor, appeals_officer or operator")),
        }
    }
}

/// Who is calling: the token's id (never the secret), its role and whom it was issued to: a
/// name to show, and the personal identifier that self-review is judged by (decision 15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
    pub holder: String,
    pub holder_id: String,
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a token cannot be issued as asked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "an appeals_officer token must name its holder and his IIN: --holder \"NAME\" --holder-id IIN (decision 15: self-review is judged by identifiers)"
    )]
    Unidentified,
    #[error("--holder-id: {0}")]
    HolderId(#[from] crate::rules::iin::IinError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a token for `role` issued to `holder`, whose IIN is `holder_id` (required, and
/// checked, for appeals officers): stores its hash and returns the token text.
pub async fn issue_token(store: &dyn AccessStore, role: Role, holder: &str, holder_id: &str) -> Result<(String, TokenRecord), TokenError> {
    issue_token_until(store, role, holder, holder_id, None).await
}

/// `issue_token`, the token expiring at `expires_at` (RFC 3339 UTC), if given.
pub async fn issue_token_until(
    store: &dyn AccessStore,
    role: Role,
    holder: &str,
    holder_id: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(String, TokenRecord), TokenError> {
    let holder_id = holder_id.trim();
    if role == Role::AppealsOfficer && (holder.trim().is_empty() || holder_id.is_empty()) {
        return Err(TokenError::Unidentified);
    }
    // The identifier is an IIN exactly as written: a look-alike digit or an invisible
    // character fails its shape check rather than passing as another identifier.
    let holder_id = if holder_id.is_empty() { String::new() } else { crate::rules::iin::Iin::parse(holder_id)?.to_string() };
    Ok(create_token_for(store, role, holder, &holder_id, expires_at).await?)
}

/// Parses `--expires`: a duration (`90d`, `12h`, `30m`) from now, or an RFC 3339 time.
pub fn expiry(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = text.trim();
    let unit = t.chars().last().unwrap_or(' ');
    if let (Ok(n), Some(secs)) =
        (t[..t.len().saturating_sub(1)].parse::<i64>(), [('d', 86_400), ('h', 3_600), ('m', 60)].iter().find(|(u, _)| *u == unit).map(|(_, s)| *s))
    {
        if n > 0 {
            return Ok(now + chrono::Duration::seconds(n * secs));
        }
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| format!("--expires {t:?}: a duration (90d, 12h, 30m) or an RFC 3339 time"))
        .and_then(|d| if d > now { Ok(d) } else { Err(format!("--expires {t:?} is not in the future")) })
}

/// Creates a token for `role`, stores its hash and returns the token text (`hl_<id>_<secret>`).
pub async fn create_token(store: &dyn AccessStore, role: Role, holder: &str) -> Result<(String, TokenRecord), StoreError> {
    create_token_for(store, role, holder, "", None).await
}

async fn create_token_for(
    store: &dyn AccessStore,
    role: Role,
    holder: &str,
    holder_id: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(String, TokenRecord), StoreError> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut id);
    rand_core::OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let token = format!("hl_{id}_{}", B64URL.encode(secret));
    let rec = TokenRecord {
        id,
        token_hash: token_hash(&token),
        role: role.as_str().into(),
        created_at: crate::store::utc_millis(chrono::Utc::now()),
        holder: holder.trim().to_string(),
        holder_id: holder_id.to_string(),
        expires_at: expires_at.map(crate::store::utc_millis),
        revoked_at: None,
    };
    store.add_token(&rec).await?;
    Ok((token, rec))
}

/// Looks a presented token up by its hash; a revoked or expired one is no token. Read on every
/// request, so a revocation holds at once, in a running server too.
pub async fn authenticate(store: &dyn AccessStore, token: &str) -> Result<Option<Caller>, StoreError> {
    Ok(store.token_by_hash(&token_hash(token)).await?.and_then(live))
}

/// The caller of token `id` (a page session's), on the same terms as [`authenticate`].
pub async fn authenticate_id(store: &dyn AccessStore, id: &str) -> Result<Option<Caller>, StoreError> {
    Ok(store.token_by_id(id).await?.and_then(live))
}

/// The caller a token record stands for, if it is neither revoked nor expired.
fn live(rec: TokenRecord) -> Option<Caller> {
    let now = crate::store::utc_millis(chrono::Utc::now());
    if rec.revoked_at.is_some() || rec.expires_at.as_ref().is_some_and(|e| *e <= now) {
        return None;
    }
    Some(Caller { token_id: rec.id, role: rec.role.parse().ok()?, holder: rec.holder, holder_id: rec.holder_id })
}
