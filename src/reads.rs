//! Accountability of reads: every read of personal data through the API or the pages is in the
//! ledger (who — token id and role —, what, about whom) before the answer goes out.
//!
//! Reads are small (issue 17, finding 6): the requests waiting at one moment are recorded
//! together as one `PersonalDataReads` event in stream `reads` (group commit: one signature,
//! one Merkle leaf, one durable write for all of them), each read a few fields naming the
//! persons it covered, never a copy of the answer. A person's reads are found through the
//! subject index, which is derived from these events alone: it follows in the background and
//! catches up before every lookup, never on the writer's path. Ledgers written before keep their
//! one-event-per-read `PersonalDataRead` in `reads:<iin>`, listed too.

use crate::auth::Caller;
use crate::ledger::{Ledger, LedgerError};
use events::{Event, NewEvent};

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use events::catalogue::{PersonalDataRead, PersonalDataReads};
pub use events::types::{PERSONAL_DATA_READ, PERSONAL_DATA_READS, READS_STREAM};
/// Reads recorded together at most.
const GROUP: usize = 512;
/// Events the subject index reads at a time when catching up.
const PAGE: u64 = 20_000;

pub fn reads_stream(iin: &str) -> String {
    format!("reads:{iin}")
}

/// One read as recorded: by whom, what, and the persons whose data it showed.
pub use events::catalogue::Read;

type Pending = (Read, oneshot::Sender<Result<u64, ReadLogError>>);

/// A read that could not be recorded: the request that made it must not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadLogError {
    #[error("the read log has stopped")]
    Stopped,
    /// The append failed; every read of the group shares its error.
    #[error("{0}")]
    NotRecorded(Arc<crate::ledger::LedgerError>),
}

/// The handle requests record their reads through.
#[derive(Clone)]
pub struct ReadLog {
    tx: mpsc::Sender<Pending>,
}

impl ReadLog {
    /// Reads waiting for the writer.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Starts the writer task (needs a Tokio runtime). It owns the appending of reads: whatever
    /// is waiting when it is free goes into one event.
    pub fn start(ledger: Arc<Ledger>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match rx.try_recv() {
                        Ok(p) => group.push(p),
                        Err(_) => break,
                    }
                }
                let (reads, waiters): (Vec<Read>, Vec<_>) = group.into_iter().unzip();
                let event = NewEvent::typed(READS_STREAM, PersonalDataReads { reads });
                match ledger.append(vec![event]).await {
                    Ok(appended) => {
                        for w in waiters {
                            let _ = w.send(Ok(appended[0].seq));
                        }
                    }
                    Err(e) => {
                        let e = Arc::new(e);
                        for w in waiters {
                            let _ = w.send(Err(ReadLogError::NotRecorded(e.clone())));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Records that `caller` read `what` about the persons `iins`; returns the seq of the
    /// event that holds the record, once it is durable.
    pub async fn record(&self, caller: &Caller, iins: Vec<String>, what: impl Into<String>) -> Result<u64, ReadLogError> {
        let read = Read { token: caller.token_id.clone(), role: caller.role.as_str().to_string(), read: what.into(), iins };
        let (tx, rx) = oneshot::channel();
        self.tx.send((read, tx)).await.map_err(|_| ReadLogError::Stopped)?;
        rx.await.map_err(|_| ReadLogError::Stopped)?
    }
}

/// The reads an event of reads holds (none for any other event).
pub fn reads_in(e: &Event) -> Vec<Read> {
    if let Some(r) = e.as_type::<PersonalDataReads>() {
        return r.reads;
    }
    // A v2 event with an erased person's part still sealed: the other reads, and his persons
    // that opened (a sealed IIN is no one's to list).
    let reads = e.data.get("reads").and_then(serde_json::Value::as_array).into_iter().flatten();
    reads
        .filter_map(|r| {
            let mut r = r.clone();
            let iins: Vec<serde_json::Value> = r.get("iins")?.as_array()?.iter().filter(|v| v.is_string()).cloned().collect();
            r["iins"] = serde_json::Value::Array(iins);
            serde_json::from_value::<Read>(r).ok()
        })
        .collect()
}

/// The subject index's rows the events `[from, to)` give: each person a read showed, with the
/// seq of the reads event.
async fn subject_rows(store: &dyn crate::store::LogStore, from: u64, to: u64) -> Result<BTreeSet<(String, u64)>, LedgerError> {
    let events = store.read_kinds(&[PERSONAL_DATA_READS], from, to).await?;
    Ok(events.iter().flat_map(|e| reads_in(e).into_iter().flat_map(|r| r.iins).map(|iin| (iin, e.seq))).collect())
}

/// The subject index's rows that the events do not give, or that they give and it lacks, up to
/// its cursor: `(subject, seq, what)`.
pub async fn index_differences(
    log: &dyn crate::store::LogStore,
    projections: &dyn crate::store::ProjectionStore,
) -> Result<Vec<(String, u64, &'static str)>, LedgerError> {
    let upto = projections.projection_cursor(crate::store::SUBJECTS).await?;
    let mut rebuilt = BTreeSet::new();
    let mut from = 0;
    while from < upto {
        let to = upto.min(from + PAGE);
        rebuilt.extend(subject_rows(log, from, to).await?);
        from = to;
    }
    // The index keeps each person under his stored key (on a v2 ledger, his blind id).
    let rebuilt: BTreeSet<(String, u64)> = rebuilt.into_iter().map(|(s, q)| (log.stored_key(&s), q)).collect();
    let stored: BTreeSet<(String, u64)> = projections.subject_index_all().await?.into_iter().collect();
    let mut out: Vec<(String, u64, &'static str)> = rebuilt.difference(&stored).map(|(s, q)| (s.clone(), *q, "missing from the index")).collect();
    out.extend(stored.difference(&rebuilt).map(|(s, q)| (s.clone(), *q, "in the index, not in the events")));
    Ok(out)
}

/// Brings the subject index up to the end of the ledger. Returns how many events it passed.
pub async fn index_catch_up(ledger: &Ledger) -> Result<u64, LedgerError> {
    let (log, projections) = (ledger.log(), ledger.projections());
    let mut passed = 0;
    loop {
        let from = projections.projection_cursor(crate::store::SUBJECTS).await?;
        let size = log.size().await?;
        if from >= size {
            return Ok(passed);
        }
        let to = size.min(from + PAGE);
        let rows = subject_rows(log.as_ref(), from, to).await?;
        if projections.subject_index_commit(from, to, rows.into_iter().collect()).await? {
            passed += to - from;
        }
    }
}

/// Every recorded read of `iin`'s data, in order: `{seq, time, token, role, read}`.
pub async fn of_person(ledger: &Ledger, iin: &str) -> Result<Vec<Value>, LedgerError> {
    let mut out: Vec<Value> = ledger
        .log()
        .read_stream(&reads_stream(iin), None)
        .await?
        .into_iter()
        .filter_map(|e| e.as_type::<PersonalDataRead>().map(|r| json!({"seq": e.seq, "time": e.time, "token": r.token, "role": r.role, "read": r.read})))
        .collect();
    index_catch_up(ledger).await?;
    let seqs = ledger.projections().subject_seqs(iin).await?;
    for e in ledger.log().read_seqs(&seqs).await? {
        for r in reads_in(&e).into_iter().filter(|r| r.iins.iter().any(|i| i == iin)) {
            out.push(json!({"seq": e.seq, "time": e.time, "token": r.token, "role": r.role, "read": r.read}));
        }
    }
    out.sort_by_key(|v| v["seq"].as_u64());
    Ok(out)
}
