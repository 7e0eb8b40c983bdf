//! API tokens and roles. A token is shown once, at creation; only its SHA-256 is stored.

use crate::store::{EventStore, StoreError, TokenRecord};
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

/// Who is calling: the token's id (never the secret), its role and whom it was issued to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
    pub holder: String,
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a token for `role`, stores its hash and returns the token text (`hl_<id>_<secret>`).
pub async fn create_token(store: &dyn EventStore, role: Role, holder: &str) -> Result<(String, TokenRecord), StoreError> {
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
        created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        holder: holder.trim().to_string(),
    };
    store.add_token(&rec).await?;
    Ok((token, rec))
}

/// Looks a presented token up by its hash.
pub async fn authenticate(store: &dyn EventStore, token: &str) -> Result<Option<Caller>, StoreError> {
    Ok(store.token_by_hash(&token_hash(token)).await?.and_then(|rec| Some(Caller { token_id: rec.id, role: rec.role.parse().ok()?, holder: rec.holder })))
}
