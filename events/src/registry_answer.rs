//! Source-registry answers: `{"registry", "request_id", "subjects", "issued_at", "records"}`
//! signed with Ed25519 over `"housing-ledger/registry-answer/v1\n"` ‖ RFC 8785 form.

use crate::canonical;
use crate::error::Result;
use crate::keys::{LedgerSigner, VerifierKey};
use serde_json::Value;

pub const ANSWER_DOMAIN: &[u8] = b"housing-ledger/registry-answer/v1\n";

/// The exact bytes a registry signs.
pub fn message(answer: &Value) -> Result<Vec<u8>> {
    let mut msg = Vec::with_capacity(ANSWER_DOMAIN.len() + 1024);
    msg.extend_from_slice(ANSWER_DOMAIN);
    canonical::write_value(&mut msg, answer)?;
    Ok(msg)
}

pub fn sign(answer: &Value, signer: &LedgerSigner) -> Result<[u8; 64]> {
    Ok(signer.sign(&message(answer)?))
}

pub fn verify(answer: &Value, key: &VerifierKey, sig: &[u8]) -> Result<()> {
    key.verify(&message(answer)?, sig)
}
