//! Proof bundles (`ledger-format.md`, "Proof bundle"): everything a person's decision rests on,
//! with inclusion paths against a signed checkpoint, checkable offline by `verify-proof`.
//!
//! Batch answers that carry other persons' data (the step-4 list page and the step-11 decision
//! batch) are named by seq but not copied into a person's bundle.
//!
//! The formats and their offline check are the `verifier` crate's (`verifier::proof`), which
//! an auditor builds without this service; `build` makes bundles and case files from the ledger.

mod build;

pub use build::{build, build_with, case_file, check_events, load_person, RunHeaders};
pub use verifier::proof::*;

use crate::ledger::LedgerError;
use serde::Serialize;

/// Why a bundle or case file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no {procedure} case for {iin}")]
    NoCase { iin: String, procedure: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Proof(#[from] ProofError),
}

impl From<crate::store::StoreError> for BuildError {
    fn from(e: crate::store::StoreError) -> Self {
        BuildError::Ledger(e.into())
    }
}

/// What the server found checking one event for a person's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventCheck {
    pub seq: u64,
    /// Hash and Ed25519 signature by a ledger key in force at that seq.
    pub signature: Result<(), CheckFailed>,
    /// The source registry's signature, for answers.
    pub source: Option<Result<(), CheckFailed>>,
    /// The inclusion path to the checkpoint's root.
    pub inclusion: Result<(), CheckFailed>,
}

/// Why one check of an event failed, in the words the timeline shows (serialised as the text,
/// as before it had a type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("{0}")]
pub struct CheckFailed(pub String);
