//! Proof bundles (`ledger-format.md`, "Proof bundle"): everything a person's decision rests on,
//! with inclusion paths against a signed checkpoint, checkable offline by `verify-proof`.
//!
//! Batch answers that carry other persons' data (the step-4 list page and the step-11 decision
//! batch) are named by seq but not copied into a person's bundle.
//!
//! This module holds the formats, and `verify` checks them offline: this crate reads no store
//! and serves nothing, so an auditor's copy of it needs only the bundle, the ledger's key and
//! the rule sets. The service makes bundles from its ledger (its `proof::build`).

mod verify;

pub use verify::{
    check_event_sources, check_evidence, check_quorum, check_timestamp, family_fixed, judge_answers, opened_events, rederive, verify, verify_case_file,
    JudgeError, Rederived, Sources, Verified,
};

use events::catalogue::{Ground, Status};
use events::heads::HeadProof;
use events::Event;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const PROOF_FORMAT: &str = "housing-ledger/proof/v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inclusion {
    pub seq: u64,
    pub tree_size: u64,
    pub path: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    pub ledger: Vec<String>,
    pub registries: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub iin: String,
    pub procedure: String,
    pub status: Status,
    pub grounds: Vec<Ground>,
    pub events: Vec<Event>,
    pub checkpoint: String,
    pub inclusion: Vec<Inclusion>,
    /// The head, at the checkpoint, of every stream the bundle holds whole (the person's from
    /// his list entry, his notices', the keys'), each proven against the checkpoint's
    /// `stream-heads` line: nothing later in them was left out.
    #[serde(default)]
    pub heads: Vec<HeadProof>,
    pub keys: Keys,
    /// The RFC 3161 token (base64 DER) over the checkpoint's body, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Decision 11: `"simulation, not a legal act"` where the run was a simulation. Its signed
    /// events say so too, and `verify` checks that this agrees with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<String>,
    /// Format v2: what opens the person's own seals (his data key), and nobody else's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening: Option<Opening>,
}

/// A person's data key, given with his bundle so that an auditor opens his seals
/// (`docs/implementation/personal-data.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// His blind id, which his seals name.
    pub subject: String,
    /// His data key, base64.
    pub data_key: String,
}

/// What a simulation's bundle, page and verification say of it (decision 11).
pub const SIMULATION_NOTE: &str = "simulation, not a legal act";

/// Whether the events show a simulation: a run recorded as one, or a person's entry,
/// proposal, decision or notice marked so, all signed.
pub fn is_simulation(events: &[Event]) -> bool {
    events.iter().any(Event::simulation)
}

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("proof does not verify: {0}")]
    Invalid(String),
}

pub fn invalid(m: impl Into<String>) -> ProofError {
    ProofError::Invalid(m.into())
}

/// Why a verifier given neither a trust list nor leave to use the bundle's own keys refuses to
/// go on: the sources would go unchecked.
pub const NO_TRUST: &str = "the sources were not checked: give --trust FILE, the sources' trust list (docs/sources.md), or --trust-bundle-keys to check them against the operator's own claim only";

pub const CASE_FILE_FORMAT: &str = "housing-ledger/case-file/v1";

/// An appeal's case file: the notice as sent, the proof bundle of the decision appealed, and
/// the appeal's events (its stream, the re-check in the person's stream, and any notice of
/// reinstatement), each with its inclusion path against the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub format: String,
    pub appeal: String,
    /// The `NoticeIssued` of the decision appealed, whole; it is also among the bundle's events.
    pub notice: Option<Event>,
    pub proof: Bundle,
    pub appeal_events: Vec<Event>,
    pub inclusion: Vec<Inclusion>,
    /// The heads of the appeal's own streams (its stream, its notice of reinstatement) at the
    /// bundle's checkpoint.
    #[serde(default)]
    pub heads: Vec<HeadProof>,
}
