//! The ledger's data format, with no database and no server: the event envelope, RFC 8785
//! canonical form, SHA-256 hashing and chaining, Ed25519 signing, C2SP signed-note keys and
//! checkpoints, and the RFC 9162 Merkle tree. Everything here follows
//! `shared/spec/ledger-format.md` to the byte, so an auditor's independent script agrees with it.

pub mod canonical;
pub mod catalogue;
pub mod cosignature;
pub mod envelope;
pub mod error;
pub mod heads;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod personal;
pub mod registry_answer;
pub mod types;
pub mod verify;

pub use cosignature::{Cosigner, CosignerKey};
pub use envelope::{Event, NewEvent, EVENT_FORMAT};
pub use error::Error;
pub use keys::{LedgerSigner, VerifierKey};
pub use merkle::{Hash, MerkleFrontier, NodeId};
pub use note::Checkpoint;
