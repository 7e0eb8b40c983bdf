//! Erasing a person from a v2 ledger (issue 32): his data key destroyed, every plaintext copy
//! the service keeps of him deleted, and `SubjectErased` appended with nothing personal in it.
//! The log is not touched: every hash, signature, proof, checkpoint and tile holds as before,
//! and his seals stay shut for everyone, the operator included.

use crate::ledger::{Ledger, LedgerError};
use events::catalogue::SubjectErased;
use events::types::{ERASURES_STREAM, SUBJECT_ERASED};
use events::NewEvent;

/// Why an erasure was refused.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("this ledger is format v1: its events hold personal data in the clear, which cannot be erased without breaking its chain; only a v2 ledger (every new one) can erase")]
    NotSealed,
    #[error("{0}")]
    BadInput(String),
    #[error("the ledger holds nothing of this person: there is nothing to erase")]
    Unknown,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// An erasure done, or found done before.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    /// The seq of its `SubjectErased`.
    pub seq: u64,
    pub subject: String,
    /// Whether this call erased him (`false`: he was erased before).
    pub now: bool,
}

/// Erases the person `iin`: appends `SubjectErased`, destroys his data key, and deletes his
/// read-model rows (overwriting the freed pages). Done again, it finishes what a crash left
/// (the event written, the key not yet destroyed) and appends nothing more.
pub async fn erase(ledger: &Ledger, iin: &str, reason: &str, basis: &str, erased_by: &str) -> Result<Erased, ErasureError> {
    crate::rules::iin::Iin::parse(iin).map_err(|e| ErasureError::BadInput(e.to_string()))?;
    erase_subject(ledger, iin, reason, basis, erased_by, None).await
}

/// [`erase`] of a person as his events name him, which for an entry refused by the control
/// may be an IIN that fails it; `rule`: the retention rule that made it due.
pub async fn erase_subject(ledger: &Ledger, iin: &str, reason: &str, basis: &str, erased_by: &str, rule: Option<&str>) -> Result<Erased, ErasureError> {
    let sealing = ledger.sealing().ok_or(ErasureError::NotSealed)?;
    if reason.trim().is_empty() || basis.trim().is_empty() {
        return Err(ErasureError::BadInput("an erasure needs its reason and its legal basis".into()));
    }
    let subject = sealing.blind_id(iin);
    let keys = sealing.key_store();
    let before = erasure_seq(ledger, &subject).await?;
    let seq = match before {
        Some(seq) => seq,
        None => {
            if keys.existing(&subject).await.map_err(LedgerError::from)?.is_none() {
                return Err(ErasureError::Unknown);
            }
            // What the figures count of his cases stays, under his blind id.
            let figures = crate::read_models::person(ledger, iin).await?.map(|cases| {
                cases.iter().map(|(p, c)| (p.clone(), serde_json::to_value(c.aggregate()).expect("cases serialise"))).collect::<serde_json::Map<_, _>>().into()
            });
            let ev = SubjectErased {
                subject: subject.clone(),
                reason: reason.into(),
                basis: basis.into(),
                erased_by: erased_by.into(),
                rule: rule.map(String::from),
                figures,
            };
            ledger.append(vec![NewEvent::typed(ERASURES_STREAM, ev)]).await?.remove(0).seq
        }
    };
    let at = crate::store::utc_millis(chrono::Utc::now());
    keys.destroy(&subject, &at).await.map_err(LedgerError::from)?;
    sealing.forget(&subject);
    ledger.projections().forget_subject(crate::read_models::PERSONS, iin).await.map_err(LedgerError::from)?;
    Ok(Erased { seq, subject, now: before.is_none() })
}

/// The seq of the `SubjectErased` of the person with blind id `subject`, if he was erased.
async fn erasure_seq(ledger: &Ledger, subject: &str) -> Result<Option<u64>, LedgerError> {
    let erased = ledger.log().read_stream(ERASURES_STREAM, Some(SUBJECT_ERASED)).await?;
    Ok(erased.iter().find(|e| e.as_type::<SubjectErased>().is_some_and(|s| s.subject == subject)).map(|e| e.seq))
}

/// The erasure of the person `iin`, if he was erased: what a route about him answers (410).
pub async fn erased(ledger: &Ledger, iin: &str) -> Result<Option<u64>, LedgerError> {
    match ledger.sealing() {
        Some(s) => erasure_seq(ledger, &s.blind_id(iin)).await,
        None => Ok(None),
    }
}

/// The figures of every erased person's cases, under his blind id: what the dashboard counts
/// besides the persons it can still read.
pub async fn erased_figures(ledger: &Ledger) -> Result<Vec<(String, std::collections::BTreeMap<String, projections::person::ProcedureCase>)>, LedgerError> {
    let erased = ledger.log().read_stream(ERASURES_STREAM, Some(SUBJECT_ERASED)).await?;
    Ok(erased.iter().filter_map(|e| e.as_type::<SubjectErased>()).filter_map(|s| Some((s.subject, serde_json::from_value(s.figures?).ok()?))).collect())
}
