//! Registry adapters behind one trait: the six source registries as the pipeline sees them.
//! `fixture` reads a fixture file (the simulator that answers from one is `devtools::sim`);
//! `http` talks to `registry-sim` (or a real gateway) with deadlines, bounded retries and request ids. Every answer comes signed by its
//! source, and `check_answer` verifies that signature against the *trusted* keys before anything
//! is read from it.

pub mod fixture;
pub mod http;
pub mod revocation;
pub mod shep;

pub use verifier::registry::{check_answer, items, records_in, records_of, trust, AnswerKind, Decision, Official, RegistryFault, Reinstatement, SignedAnswer};
pub use verifier::registry::{AnswerHead, ListPage, TrustBasis, TrustedKeys};

use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use async_trait::async_trait;

/// Tells the security feed of a refused source signature (a simulation's, whose faults are
/// made on purpose, as a notice).
pub fn report(fault: &RegistryFault, run: &str, registry: RegistryId, step: &str, simulation: bool) {
    use crate::security::{record, Kind, Record, Severity};
    if let RegistryFault::BadSignature(why) = fault {
        let mut r = Record::new(Kind::SourceSignatureRefused, format!("{registry}, run {run}, step {step}: {why}"));
        if simulation {
            r.severity = Severity::Notice;
            r.outcome = format!("in a simulation: {}", r.outcome);
        }
        record(r);
    }
}

#[async_trait]
pub trait Registries: Send + Sync {
    /// Step 4: one page of the list of a segment from ИШ АС МР. Records:
    /// `{"segment", "page", "next_page" (or null), "entries": [...]}`.
    async fn list_page(&self, procedure: Procedure, page: u64, request_id: &str) -> Result<SignedAnswer, RegistryFault>;
    /// One registry about some IINs, for the named fields only (decision 14). Records:
    /// `{iin: record}`, each with no field but those asked.
    async fn query(&self, registry: RegistryId, subjects: &[String], fields: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault>;
    /// Step 11: the decisions ИШ АС МР took on the proposals. Records: `{iin: Decision}`.
    async fn decisions(&self, procedure: Procedure, iins: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault>;
    /// Step 12: delivers a notice to the person's cabinet through ИШ АС МР.
    async fn deliver(&self, notice: &str, iin: &str, attempt: u32) -> Result<String, DeliveryFault>;
    /// Decision 16: submits a reinstatement to ИШ АС МР, which keeps the waiting list and the
    /// lease register. Records: `{iin: {"reinstated": true, ...what was restored}}`, signed.
    async fn reinstate(&self, r: &Reinstatement, request_id: &str) -> Result<SignedAnswer, RegistryFault>;
    /// The corrections the source owners have issued about any of `subjects` (a person under
    /// `appeal` and his family; clauses 13, 16): one answer per registry, signed by it, to the
    /// request id `<appeal>/<registry>`. None issued is an empty list.
    async fn corrections(&self, appeal: &str, subjects: &[String]) -> Result<Vec<SignedAnswer>, RegistryFault>;
    /// How the source is named in `RunStarted` (`fixture:PATH`, `http:URL`).
    fn describe(&self) -> String;
    /// Whether this is a live gateway (real source systems), as opposed to a fixture, a
    /// synthetic population or the simulator: a simulation never delivers through a live one
    /// (decision 11).
    fn is_live(&self) -> bool;
}

/// A `NAME=VALUE` setting of a source (`--shep-service`, `--answer-limit`) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error("{option} must be {form}, got {given:?}")]
    Form { option: &'static str, form: &'static str, given: String },
    #[error("{option} {name:?}: not one of {known}")]
    UnknownName { option: &'static str, name: String, known: String },
    #[error("{option} {name}: BYTES must be a positive integer, got {given:?}")]
    NotPositive { option: &'static str, name: String, given: String },
}

/// Why a notice did not reach the personal cabinet (clause 12). Its text is what
/// `NoticeDeliveryFailed` records as `detail`, so it is the source's own words, unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryFault {
    /// The cabinet or the gateway answered and refused it, saying why.
    #[error("{0}")]
    Refused(String),
    /// No answer as agreed: the source could not be reached, or its answer could not be read.
    #[error("{0}")]
    Unreachable(String),
}

/// No source configured (a server started without `--registries`): every query is
/// `unavailable`, so a re-check that needs a fresh answer is `incomplete`, never guessed.
pub struct NoSource;

#[async_trait]
impl Registries for NoSource {
    async fn list_page(&self, _: Procedure, _: u64, _: &str) -> Result<SignedAnswer, RegistryFault> {
        Err(RegistryFault::Unavailable("no registry source is configured on this server".into()))
    }
    async fn query(&self, _: RegistryId, _: &[String], _: &[String], _: &str) -> Result<SignedAnswer, RegistryFault> {
        Err(RegistryFault::Unavailable("no registry source is configured on this server".into()))
    }
    async fn decisions(&self, _: Procedure, _: &[String], _: &str) -> Result<SignedAnswer, RegistryFault> {
        Err(RegistryFault::Unavailable("no registry source is configured on this server".into()))
    }
    async fn deliver(&self, _: &str, _: &str, _: u32) -> Result<String, DeliveryFault> {
        Err(DeliveryFault::Unreachable("no registry source is configured on this server".into()))
    }
    async fn reinstate(&self, _: &Reinstatement, _: &str) -> Result<SignedAnswer, RegistryFault> {
        Err(RegistryFault::Unavailable("no registry source is configured on this server".into()))
    }
    async fn corrections(&self, _: &str, _: &[String]) -> Result<Vec<SignedAnswer>, RegistryFault> {
        Err(RegistryFault::Unavailable("no registry source is configured on this server".into()))
    }
    fn describe(&self) -> String {
        "none".into()
    }
    fn is_live(&self) -> bool {
        false
    }
}
