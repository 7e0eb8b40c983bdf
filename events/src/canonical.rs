//! RFC 8785 (JCS) canonical form. A thin wrapper so that every caller canonicalises the same way;
//! the canonicaliser itself is `serde_json_canonicalizer`, checked against the cyberphone vectors.

use crate::error::{Error, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The RFC 8785 canonical bytes of any serialisable value.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| Error::Canonical(e.to_string()))
}

/// The RFC 8785 canonical text of any serialisable value.
pub fn to_string<T: Serialize>(value: &T) -> Result<String> {
    serde_json_canonicalizer::to_string(value).map_err(|e| Error::Canonical(e.to_string()))
}

/// SHA-256 of the canonical form.
pub fn sha256<T: Serialize>(value: &T) -> Result<[u8; 32]> {
    Ok(Sha256::digest(to_vec(value)?).into())
}
