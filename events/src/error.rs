//! The one error type of the `events` crate.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("canonical JSON: {0}")]
    Canonical(String),
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("hash mismatch: stored {stored}, computed {computed}")]
    HashMismatch { stored: String, computed: String },
    #[error("broken link: prev is {found}, the hash of the event before is {expected}")]
    BrokenLink { found: String, expected: String },
    #[error("signature does not verify under key {key}")]
    BadSignature { key: String },
    #[error("key {key} is not a ledger key in force at this point")]
    UnknownKey { key: String },
    #[error("unknown format {0:?}")]
    UnknownFormat(String),
    #[error("Merkle proof does not verify: {0}")]
    Proof(String),
    #[error("signed note: {0}")]
    Note(String),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn malformed(what: &'static str, detail: impl std::fmt::Display) -> Error {
    Error::Malformed { what, detail: detail.to_string() }
}
