//! Source-registry answers: `{"registry", "request_id", "subjects", "issued_at", "records"}`
//! signed with Ed25519 over `"housing-ledger/registry-answer/v1\n"` ‖ RFC 8785 form; and items
//! of an answer (a step-4 list entry, a step-11 decision) signed on their own over
//! `"housing-ledger/registry-item/v1\n"` ‖ RFC 8785 form of the item, so that a person's own
//! entry and decision can be shown, with their source's signature, without anyone else's.

use crate::canonical;
use crate::error::Result;
use crate::keys::{LedgerSigner, VerifierKey};
use serde_json::Value;

pub const ANSWER_DOMAIN: &[u8] = b"housing-ledger/registry-answer/v1\n";
pub const ITEM_DOMAIN: &[u8] = b"housing-ledger/registry-item/v1\n";

fn domain_message(domain: &[u8], v: &Value) -> Result<Vec<u8>> {
    let mut msg = Vec::with_capacity(domain.len() + 1024);
    msg.extend_from_slice(domain);
    canonical::write_value(&mut msg, v)?;
    Ok(msg)
}

/// The exact bytes a registry signs.
pub fn message(answer: &Value) -> Result<Vec<u8>> {
    domain_message(ANSWER_DOMAIN, answer)
}

/// Signs one item of an answer on its own (evidence per person).
pub fn sign_item(item: &Value, signer: &LedgerSigner) -> Result<[u8; 64]> {
    Ok(signer.sign(&domain_message(ITEM_DOMAIN, item)?))
}

pub fn verify_item(item: &Value, key: &VerifierKey, sig: &[u8]) -> Result<()> {
    key.verify(&domain_message(ITEM_DOMAIN, item)?, sig)
}

pub fn sign(answer: &Value, signer: &LedgerSigner) -> Result<[u8; 64]> {
    Ok(signer.sign(&message(answer)?))
}

pub fn verify(answer: &Value, key: &VerifierKey, sig: &[u8]) -> Result<()> {
    key.verify(&message(answer)?, sig)
}
