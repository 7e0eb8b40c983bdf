//! `verify` as one operation (issue 33, item 4): the whole ledger checked (the chain, every
//! source signature against the trust given, with `--deep` the read models, with TSA
//! certificates every time-stamp), and a report that prints itself for a person and serialises
//! itself for `--json`. The command only calls it and prints.

use crate::ledger::{LedgerError, Tail, VerifyReport};
use crate::registry::trust::basis_note;
use crate::registry::{TrustBasis, TrustedKeys};
use crate::security::{record, Kind, Record};
use crate::store::EventStore;
use crate::timestamp::LedgerStamps;
use events::verify::Finding;
use events::VerifierKey;
use serde_json::json;
use std::fmt;
use std::sync::Arc;

/// What `verify` checks the ledger against.
pub struct Against<'a> {
    /// The ledger key the verifier trusts; without it, only the ledger's self-consistency.
    pub anchor: Option<&'a VerifierKey>,
    /// The sources' trust list; without it, the keys the runs recorded (the operator's claim).
    pub trust: Option<&'a TrustedKeys>,
    /// The TSA's certificates, to check every stored time-stamp.
    pub tsa_anchors: Option<&'a [x509_cert::Certificate]>,
    /// Refold the read models from the events and compare.
    pub deep: bool,
}

/// How `verify` came out.
#[derive(Debug)]
pub enum LedgerCheck {
    /// The database holds no event.
    Empty,
    /// The chain fails at a seq (hash, link, signature, key, sequence or checkpoint root).
    Chain(Finding),
    /// A source signature fails.
    Source { seq: u64, why: String },
    /// Stored read-model rows differ from the fold of the events.
    ReadModels(Vec<String>),
    /// Everything held, with perhaps a time-stamp failing (`stamps`).
    Held(Box<Held>),
}

/// A ledger whose chain, sources and read models held.
#[derive(Debug)]
pub struct Held {
    pub report: VerifyReport,
    pub basis: TrustBasis,
    pub sources_checked: u64,
    /// The sources were checked against the trust list given (not the runs' own keys).
    pub trust_list: bool,
    pub tail: Tail,
    /// With `deep`: how many events the persons projection was folded from.
    pub deep_events: Option<u64>,
    pub stamps: Option<Result<LedgerStamps, crate::timestamp::StampsError>>,
}

impl LedgerCheck {
    pub fn ok(&self) -> bool {
        matches!(self, LedgerCheck::Held(h) if !matches!(h.stamps, Some(Err(_))))
    }

    /// The report as `verify --json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let h = match self {
            LedgerCheck::Empty => return json!({"ok": false, "fault": "empty", "detail": EMPTY}),
            LedgerCheck::Chain(f) => return json!({"ok": false, "seq": f.seq, "fault": f.fault.to_string(), "detail": f.detail}),
            LedgerCheck::Source { seq, why } => return json!({"ok": false, "seq": seq, "fault": "source", "detail": why}),
            LedgerCheck::ReadModels(rows) => return json!({"ok": false, "fault": "read model", "detail": rows}),
            LedgerCheck::Held(h) => h,
        };
        let r = &h.report;
        let keys: Vec<String> = r.keys.iter().map(|k| k.to_string()).collect();
        let mut out = json!({"ok": true, "events": r.events, "checkpoints": r.checkpoints, "root": hex::encode(r.root), "keys": keys,
            "sources": {"basis": h.basis, "checked": h.sources_checked, "note": basis_note(h.basis)},
            "unwitnessed": {"events": h.tail.events, "after_tree_size": h.tail.checkpoint_size, "oldest": h.tail.oldest.map(|t| t.to_rfc3339())},
            "checkpoints_without_stream_heads": r.checkpoints_without_heads});
        match &h.stamps {
            None => {}
            Some(Ok(s)) => {
                let late: Vec<serde_json::Value> = s.late.iter().map(|(size, next)| json!({"checkpoint": size, "after_checkpoint": next})).collect();
                out["timestamps"] = json!({"stamped": s.stamped, "checkpoints": s.checkpoints, "late": late});
            }
            Some(Err(e)) => return json!({"ok": false, "fault": "timestamp", "detail": e.to_string()}),
        }
        out
    }
}

const EMPTY: &str = "the database holds no event: there is no ledger to verify (a ledger starts with event 0, its key)";

/// Checks the whole ledger in `store`; `progress` is told how many events were verified (of
/// the size it is first told). A failure is also told to the security feed.
pub async fn check_ledger(store: Arc<dyn EventStore>, against: &Against<'_>, mut progress: impl FnMut(u64, u64)) -> Result<LedgerCheck, LedgerError> {
    let size = store.size().await?;
    if size == 0 {
        return Ok(LedgerCheck::Empty);
    }
    progress(0, size);
    let report = match crate::ledger::verify_store(store.as_ref(), against.anchor, |n| progress(n, size)).await {
        Ok(r) => r,
        Err(LedgerError::Invalid(f)) => {
            record(Record::new(Kind::IntegrityFailure, format!("verify: the ledger fails at seq {}: {}", f.seq, f.fault)));
            return Ok(LedgerCheck::Chain(f));
        }
        Err(e) => return Err(e),
    };
    // With TSA certificates: every token, and each before the next checkpoint.
    let stamps = match against.tsa_anchors {
        Some(anchors) => Some(crate::timestamp::verify_ledger(store.as_ref(), anchors).await),
        None => None,
    };
    // Every source signature, against the trust list (or, asked for, the runs' own claim).
    let (sources, bad) = crate::audit::verify_sources(store.as_ref(), against.trust).await?;
    if let Some((seq, why)) = bad {
        record(Record::new(Kind::IntegrityFailure, format!("verify: a source signature fails at seq {seq}")));
        return Ok(LedgerCheck::Source { seq, why });
    }
    let tail = crate::ledger::tail(store.as_ref()).await?;
    // Deep: the stored read models against a fold of the events.
    let deep_events = match against.deep {
        false => None,
        true => {
            let d = crate::read_models::deep_check(store.clone(), store.as_ref()).await?;
            if !d.clean() {
                let rows = d
                    .persons
                    .differences
                    .iter()
                    .map(|(k, _, _)| format!("persons/{k}"))
                    .chain(d.subjects.iter().map(|(s, q, what)| format!("subject_index ({s}, {q}): {what}")))
                    .collect();
                return Ok(LedgerCheck::ReadModels(rows));
            }
            Some(d.persons.events)
        }
    };
    let held = Held { report, basis: sources.basis, sources_checked: sources.checked, trust_list: against.trust.is_some(), tail, deep_events, stamps };
    Ok(LedgerCheck::Held(Box::new(held)))
}

/// The report for a person, line by line.
impl fmt::Display for LedgerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = match self {
            LedgerCheck::Empty => return writeln!(f, "FAILED: {EMPTY}"),
            LedgerCheck::Chain(finding) => return writeln!(f, "FAILED at {finding}"),
            LedgerCheck::Source { seq, why } => return writeln!(f, "FAILED at seq {seq}: source signature: {why}"),
            LedgerCheck::ReadModels(rows) => {
                writeln!(f, "FAILED: {} stored read-model rows differ from the fold of the events:", rows.len())?;
                return rows.iter().try_for_each(|r| writeln!(f, "  {r}"));
            }
            LedgerCheck::Held(h) => h,
        };
        let r = &h.report;
        if let Some(n) = h.deep_events {
            writeln!(f, "deep: the persons projection ({n} events folded) and the subject index equal the fold of the events")?;
        }
        writeln!(f, "ok: {} events, {} checkpoints, root {}, {} ledger keys", r.events, r.checkpoints, hex::encode(r.root), r.keys.len())?;
        let against = if h.trust_list { "the trust list given (--trust)" } else { "the keys the runs recorded" };
        writeln!(f, "sources: {} source signatures checked against {against}", h.sources_checked)?;
        if let Some(n) = basis_note(h.basis) {
            writeln!(f, "{n}")?;
        }
        if r.checkpoints_without_heads > 0 {
            writeln!(
                f,
                "note: {} of the {} checkpoints were signed before checkpoints committed to every stream's head: bundles against them cannot show their tails whole; every map root the others commit to was recomputed and holds",
                r.checkpoints_without_heads, r.checkpoints
            )?;
        } else if r.checkpoints > 0 {
            writeln!(f, "stream heads: every checkpoint's map of stream heads recomputed from the events, and each holds")?;
        }
        let t = &h.tail;
        if t.events > 0 {
            let one = t.events == 1;
            writeln!(
                f,
                "warning: the newest {} (after the checkpoint of tree size {}) {} past every checkpoint: no witness or time-stamp covers {}, and {} could vanish unnoticed; sign one (checkpoint) or let serve sign them",
                if one { "event".to_string() } else { format!("{} events", t.events) },
                t.checkpoint_size,
                if one { "lies" } else { "lie" },
                if one { "it" } else { "them" },
                if one { "it" } else { "they" }
            )?;
        }
        match &h.stamps {
            None => Ok(()),
            Some(Ok(s)) => {
                writeln!(f, "time-stamps: {} of {} checkpoints time-stamped, every token valid", s.stamped, s.checkpoints)?;
                s.late.iter().try_for_each(|(size, next)| {
                    writeln!(
                        f,
                        "warning: the token of checkpoint {size} was obtained after checkpoint {next} was signed: it shows only that the state existed by then"
                    )
                })
            }
            Some(Err(e)) => writeln!(f, "FAILED at time-stamps: {e}"),
        }
    }
}
