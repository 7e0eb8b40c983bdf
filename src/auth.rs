//! API tokens and roles. A token is shown once, at creation; only its SHA-256 is stored.

use crate::ledger::{Ledger, LedgerError};
use crate::store::{StoreError, TokenRecord};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use events::catalogue::{TokenIssued, TokenRevoked};
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

/// A role the service does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}: expected auditor, appeals_officer or operator")]
pub struct UnknownRole(pub String);

/// An `--expires` value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ExpiryError {
    #[error("--expires {0:?}: a duration (90d, 12h, 30m) or an RFC 3339 time")]
    NotUnderstood(String),
    #[error("--expires {0:?} is not in the future")]
    Past(String),
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        match s {
            "auditor" => Ok(Role::Auditor),
            "appeals_officer" => Ok(Role::AppealsOfficer),
            "operator" => Ok(Role::Operator),
            other => Err(UnknownRole(other.into())),
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
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Creates a token for `role` issued to `holder`, whose IIN is `holder_id` (required, and
/// checked, for appeals officers): stores its hash and returns the token text.
pub async fn issue_token(ledger: &Ledger, role: Role, holder: &str, holder_id: &str) -> Result<(String, TokenRecord), TokenError> {
    issue_token_until(ledger, role, holder, holder_id, None).await
}

/// `issue_token`, the token expiring at `expires_at` (RFC 3339 UTC), if given.
pub async fn issue_token_until(
    ledger: &Ledger,
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
    Ok(create_token_for(ledger, role, holder, &holder_id, expires_at).await?)
}

/// Parses `--expires`: a duration (`90d`, `12h`, `30m`) from now, or an RFC 3339 time.
pub fn expiry(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, ExpiryError> {
    let t = text.trim();
    let unit = t.chars().last().unwrap_or(' ');
    if let (Ok(n), Some(secs)) =
        (t[..t.len().saturating_sub(1)].parse::<i64>(), [('d', 86_400), ('h', 3_600), ('m', 60)].iter().find(|(u, _)| *u == unit).map(|(_, s)| *s))
    {
        if n > 0 {
            return Ok(now + chrono::Duration::seconds(n * secs));
        }
    }
    chrono::DateTime::parse_from_rfc3339(t).map(|d| d.with_timezone(&chrono::Utc)).map_err(|_| ExpiryError::NotUnderstood(t.into())).and_then(|d| {
        if d > now {
            Ok(d)
        } else {
            Err(ExpiryError::Past(t.into()))
        }
    })
}

/// Creates a token for `role`, stores its hash and returns the token text (`hl_<id>_<secret>`).
pub async fn create_token(ledger: &Ledger, role: Role, holder: &str) -> Result<(String, TokenRecord), LedgerError> {
    create_token_for(ledger, role, holder, "", None).await
}

async fn create_token_for(
    ledger: &Ledger,
    role: Role,
    holder: &str,
    holder_id: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(String, TokenRecord), LedgerError> {
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
    // The issuance is in the ledger first: a row without it is no token.
    ledger
        .record_token(TokenIssued {
            id: rec.id.clone(),
            role: rec.role.clone(),
            holder: rec.holder.clone(),
            holder_id: rec.holder_id.clone(),
            token_sha256: hex::encode(&rec.token_hash),
            expires_at: rec.expires_at.clone(),
        })
        .await?;
    ledger.access().add_token(&rec).await?;
    use crate::security::{record, Actor, Kind, Record};
    let expiry = rec.expires_at.as_deref().map_or("never expires".to_string(), |e| format!("expires {e}"));
    record(Record::new(Kind::TokenIssued, format!("issued, {expiry}")).actor(Some(Actor { token: rec.id.clone(), role: rec.role.clone() })));
    Ok((token, rec))
}

/// Revokes token `id` at `at`: the revocation in the ledger, then its row. `false` where there
/// is no live token of that id.
pub async fn revoke_token(ledger: &Ledger, id: &str, at: &str) -> Result<bool, LedgerError> {
    if ledger.access().token_by_id(id).await?.is_none_or(|t| t.revoked_at.is_some()) {
        return Ok(false);
    }
    ledger.record_revocation(TokenRevoked { id: id.to_string(), revoked_at: at.to_string() }).await?;
    let revoked = ledger.access().revoke_token(id, at).await?;
    use crate::security::{record, Actor, Kind, Record};
    let role = ledger.access().token_by_id(id).await?.map(|t| t.role).unwrap_or_default();
    record(Record::new(Kind::TokenRevoked, format!("revoked at {at}")).actor(Some(Actor { token: id.to_string(), role })));
    Ok(revoked)
}

/// Looks a presented token up by its hash; a revoked or expired one is no token, and neither is
/// one whose row the ledger does not back (issue 29): its issuance must be recorded with the
/// same hash, role, holder id and expiry, and no revocation. Read on every request, so a
/// revocation holds at once, in a running server too.
pub async fn authenticate(ledger: &Ledger, token: &str) -> Result<Option<Caller>, LedgerError> {
    recorded(ledger, ledger.access().token_by_hash(&token_hash(token)).await?).await
}

/// The caller of token `id` (a page session's), on the same terms as [`authenticate`].
pub async fn authenticate_id(ledger: &Ledger, id: &str) -> Result<Option<Caller>, LedgerError> {
    recorded(ledger, ledger.access().token_by_id(id).await?).await
}

/// The caller of a token row the ledger backs.
async fn recorded(ledger: &Ledger, rec: Option<TokenRecord>) -> Result<Option<Caller>, LedgerError> {
    let Some(rec) = rec else { return Ok(None) };
    let backed = match ledger.token_recorded(&rec.id).await? {
        Some((t, revoked)) => {
            !revoked && t.token_sha256 == hex::encode(&rec.token_hash) && t.role == rec.role && t.holder_id == rec.holder_id && t.expires_at == rec.expires_at
        }
        None => false,
    };
    if !backed {
        tracing::warn!(token = %rec.id, "a token row the ledger does not back (inserted or changed behind its back, or issued before tokens were recorded): refused");
        return Ok(None);
    }
    Ok(live(rec))
}

/// The caller a token record stands for, if it is neither revoked nor expired.
fn live(rec: TokenRecord) -> Option<Caller> {
    let now = crate::store::utc_millis(chrono::Utc::now());
    if rec.revoked_at.is_some() || rec.expires_at.as_ref().is_some_and(|e| *e <= now) {
        return None;
    }
    Some(Caller { token_id: rec.id, role: rec.role.parse().ok()?, holder: rec.holder, holder_id: rec.holder_id })
}
