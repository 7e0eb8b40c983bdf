//! `verify-proof` as one operation: a bundle or case file in, a report out that prints itself
//! (for a person) and serialises itself (`--json`, and the `/verify` page). The service's
//! `verify-proof`, the `housing-ledger-verify` binary and the WebAssembly page all call
//! [`check_document`], so they cannot disagree.

use crate::proof::{self, Bundle, CaseFile, ProofError, Sources, Verified, CASE_FILE_FORMAT};
use crate::registry::trust::basis_note;
use crate::registry::TrustBasis;
use crate::rules::RuleBook;
use crate::timestamp::Stamp;
use events::{CosignerKey, VerifierKey};
use serde::Serialize;
use std::fmt;

/// What a bundle is checked against, besides the bundle itself.
pub struct Against<'a> {
    /// The ledger's verifier key, which the auditor obtained on his own (`keys list`).
    pub ledger_key: &'a VerifierKey,
    /// The rule sets the decision may have been taken under.
    pub book: &'a RuleBook,
    /// The auditor's trust list, or the operator's own claim.
    pub sources: &'a Sources,
    /// Witnesses whose cosignatures are required, and how many of them.
    pub witnesses: &'a [CosignerKey],
    pub quorum: usize,
    /// The time-stamping authorities' certificates, where the time-stamp is to be checked.
    pub tsa_anchors: Option<&'a [x509_cert::Certificate]>,
}

/// Why the inputs cannot be checked at all (as against a bundle that does not verify).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the document is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the document is not a case file: {0}")]
    NotCaseFile(serde_json::Error),
    #[error("the document is not a proof bundle: {0}")]
    NotBundle(serde_json::Error),
    #[error("a quorum of {quorum} is more than the {witnesses} witnesses given")]
    Quorum { quorum: usize, witnesses: usize },
}

/// What checking a bundle (or a case file's) came to.
#[derive(Debug)]
pub struct Report {
    pub iin: String,
    pub procedure: String,
    /// Whether the bundle carries a time-stamp (checked only with TSA certificates).
    pub stamped: bool,
    pub witnesses: usize,
    pub quorum: usize,
    pub outcome: Result<Checked, ProofError>,
}

/// A bundle that verified: what it showed.
#[derive(Debug)]
pub struct Checked {
    pub verified: Verified,
    /// The witnesses whose cosignatures verified.
    pub cosigned: Vec<String>,
    pub stamp: Option<Stamp>,
}

/// Reads `text` (a proof bundle or an appeal's case file) and checks it.
pub fn check_document(text: &str, against: &Against) -> Result<Report, InputError> {
    if against.quorum > against.witnesses.len() {
        return Err(InputError::Quorum { quorum: against.quorum, witnesses: against.witnesses.len() });
    }
    let doc: serde_json::Value = serde_json::from_str(text).map_err(InputError::NotJson)?;
    // An appeal's case file holds a bundle and the appeal's events.
    let (bundle, verified) = if doc.get("format").and_then(|f| f.as_str()) == Some(CASE_FILE_FORMAT) {
        let cf: CaseFile = serde_json::from_value(doc).map_err(InputError::NotCaseFile)?;
        let r = proof::verify_case_file(&cf, against.ledger_key, against.book, against.sources);
        (cf.proof, r)
    } else {
        let bundle: Bundle = serde_json::from_value(doc).map_err(InputError::NotBundle)?;
        let r = proof::verify(&bundle, against.ledger_key, against.book, against.sources);
        (bundle, r)
    };
    Ok(check_bundle(bundle, verified, against))
}

fn check_bundle(bundle: Bundle, verified: Result<Verified, ProofError>, against: &Against) -> Report {
    let outcome = verified.and_then(|verified| {
        let cosigned = proof::check_quorum(&bundle.checkpoint, against.witnesses, against.quorum)?;
        let stamp = against.tsa_anchors.map(|a| proof::check_timestamp(&bundle, a)).transpose()?;
        Ok(Checked { verified, cosigned, stamp })
    });
    Report {
        iin: bundle.iin,
        procedure: bundle.procedure,
        stamped: bundle.timestamp.is_some(),
        witnesses: against.witnesses.len(),
        quorum: against.quorum,
        outcome,
    }
}

/// The report as `--json` prints it.
#[derive(Serialize)]
#[serde(untagged)]
enum Json<'a> {
    Ok {
        ok: bool,
        iin: &'a str,
        procedure: &'a str,
        status: &'a events::catalogue::Status,
        grounds: usize,
        events: usize,
        tree_size: u64,
        simulation: bool,
        sources: TrustBasis,
        sources_note: Option<&'static str>,
        witnesses: &'a [String],
        timestamp: Option<u64>,
        appeal: &'a Option<String>,
    },
    Failed {
        ok: bool,
        error: String,
    },
}

impl Report {
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The report as one JSON object: `ok`, and what the bundle showed or why it failed.
    pub fn to_json(&self) -> serde_json::Value {
        let json = match &self.outcome {
            Ok(c) => {
                let v = &c.verified;
                Json::Ok {
                    ok: true,
                    iin: &self.iin,
                    procedure: &self.procedure,
                    status: &v.status,
                    grounds: v.grounds,
                    events: v.events,
                    tree_size: v.tree_size,
                    simulation: v.simulation,
                    sources: v.sources,
                    sources_note: basis_note(v.sources),
                    witnesses: &c.cosigned,
                    timestamp: c.stamp.as_ref().map(|s| s.gen_time),
                    appeal: &v.appeal,
                }
            }
            Err(e) => Json::Failed { ok: false, error: e.to_string() },
        };
        serde_json::to_value(json).expect("a report serialises")
    }
}

/// The report for a person: one line per finding.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match &self.outcome {
            Ok(c) => c,
            Err(e) => return writeln!(f, "FAILED: {e}"),
        };
        let v = &c.verified;
        if let Some(note) = basis_note(v.sources) {
            writeln!(f, "{note}")?;
        }
        writeln!(
            f,
            "ok: {} {} is {} on {} ground(s); {} events included in the checkpoint of tree size {}",
            self.procedure, self.iin, v.status, v.grounds, v.events, v.tree_size
        )?;
        // A case file: what the appeal came to, re-judged; an overturned decision no longer stands.
        if let Some(a) = &v.appeal {
            writeln!(f, "appeal: {a}")?;
            if a.starts_with("overturned") {
                writeln!(f, "the decision above was OVERTURNED on appeal: it no longer stands")?;
            }
        }
        if v.sources == TrustBasis::List {
            writeln!(f, "sources: every source signature checked against the trust list given (--trust)")?;
        }
        if v.simulation {
            writeln!(f, "SIMULATION, not a legal act: the run was a simulation (decision 11); its decision has no legal effect")?;
        }
        if self.witnesses > 0 {
            writeln!(f, "cosigned by {} of {} witnesses (quorum {}): {}", c.cosigned.len(), self.witnesses, self.quorum, c.cosigned.join(", "))?;
        }
        match &c.stamp {
            Some(s) => writeln!(
                f,
                "time-stamped at {} by {}",
                chrono::DateTime::from_timestamp(s.gen_time as i64, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                s.tsa
            ),
            None if self.stamped => writeln!(f, "the checkpoint carries a time-stamp, not checked: give --tsa-cert"),
            None => Ok(()),
        }
    }
}
