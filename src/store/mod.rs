//! Event storage behind one trait. Storage knows the ledger format (it seals appends with the
//! key it is handed and keeps Merkle nodes), but no law. The SQL backend serves SQLite (the
//! embedded default) and PostgreSQL.

pub mod sql;

use async_trait::async_trait;
use events::merkle::{Hash, NodeId};
use events::types::{rebase_rel, resolve_rel, RelSite};
use events::{Event, LedgerSigner, NewEvent};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conflicting append to stream {stream}: expected stream_seq {expected}, but the stream is at {actual}; nothing was written")]
    Conflict { stream: String, expected: u64, actual: u64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database url {0:?} is neither sqlite://PATH nor postgres://...")]
    Url(String),
    /// The database could not be opened: the file (or server) and the real cause.
    #[error("cannot open the database {what}: {detail}")]
    Open { what: String, detail: String },
    #[error("stored event at seq {seq} cannot be read: {detail}")]
    Corrupt { seq: u64, detail: String },
    #[error("invalid event: {0}")]
    Format(#[from] events::Error),
    #[error("checkpoint refused: {0}")]
    Checkpoint(String),
    /// A v2 event's seals could not be opened: a seal that does not open under its person's
    /// key (the event was changed), or a key store that failed.
    #[error("{0}")]
    Sealed(String),
    /// The writer task is gone (it panicked, or its runtime ended): nothing more is appended.
    #[error("the writer has stopped; nothing was written")]
    WriterStopped,
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    /// The database cannot be reached now (a server away, restarting or refusing
    /// connections): worth trying again later, unlike a refused or corrupt write.
    pub fn unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception) and 57P01-57P03 (the server is
                // shutting down or starting).
                sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")),
                _ => false,
            },
            _ => false,
        }
    }
}

/// A UTC instant as the ledger writes times: RFC 3339 with milliseconds and `Z` (event `time`,
/// checkpoint `signed_at`, token times). The text sorts as the instants do.
pub fn utc_millis(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A signed checkpoint as kept (every checkpoint ever signed is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root: Hash,
    pub note: String,
    pub signed_at: String,
}

/// An API token as kept: only the SHA-256 of the secret is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub token_hash: Vec<u8>,
    pub role: String,
    pub created_at: String,
    /// Whom the token was issued to; empty if no one was named.
    pub holder: String,
    /// The holder's personal identifier (IIN, checked), for officers; empty if none.
    pub holder_id: String,
    /// When the token stops working (RFC 3339 UTC); `None`: never.
    pub expires_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A batch on its way into the log. The events of a relative batch refer to others of their
/// part by index (`{"$rel": k}`, see `events::types::rel`): a batch may be made of parts built
/// apart (one per person), each counting from its own first event. The store resolves the
/// references to seqs once it knows the seq of the batch's first event. Where they stood is
/// noted: a batch sealed on a head that then moved is given back and moved to the new head in
/// place, without a copy.
pub struct PendingBatch {
    events: Vec<NewEvent>,
    /// For a relative batch, per event the index in the batch its part starts at.
    part_start: Option<Vec<u64>>,
    /// Per event, its `expected_stream_seq` (kept while the events are out being sealed).
    expected: Vec<Option<u64>>,
    /// The first seq references were resolved for, and per event where they stood.
    resolved: Option<(u64, Vec<Vec<RelSite>>)>,
    /// On a v2 ledger, what seals the batch's personal data (the index key and its persons'
    /// data keys): the writer seals each event at its seq.
    protector: Option<std::sync::Arc<events::personal::Protector>>,
}

impl PendingBatch {
    /// A batch appended as it is.
    pub fn new(events: Vec<NewEvent>) -> Self {
        Self { events, part_start: None, expected: Vec::new(), resolved: None, protector: None }
    }

    /// A batch whose events refer to each other by index.
    pub fn relative(events: Vec<NewEvent>) -> Self {
        Self::relative_parts(vec![events])
    }

    /// A batch of parts whose events refer to others of the same part by index.
    pub fn relative_parts(parts: Vec<Vec<NewEvent>>) -> Self {
        let mut part_start = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        for p in &parts {
            let start = part_start.len() as u64;
            part_start.extend(std::iter::repeat_n(start, p.len()));
        }
        Self { part_start: Some(part_start), ..Self::new(parts.into_iter().flatten().collect()) }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Seals the batch's personal data with `protector` (format v2).
    pub fn protected(mut self, protector: std::sync::Arc<events::personal::Protector>) -> Self {
        self.protector = Some(protector);
        self
    }

    pub fn protector(&self) -> Option<&std::sync::Arc<events::personal::Protector>> {
        self.protector.as_ref()
    }

    /// The stream an event of this batch is stored under.
    pub fn stored_stream(&self, stream: &str) -> String {
        match &self.protector {
            Some(p) => p.stored_stream(stream),
            None => stream.to_string(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events as they stand (references resolved only if the batch was placed).
    pub fn events(&self) -> &[NewEvent] {
        &self.events
    }

    /// Takes the events out, their references resolved for first seq `base`.
    pub fn place(&mut self, base: u64) -> Vec<NewEvent> {
        use rayon::prelude::*;
        let mut events = std::mem::take(&mut self.events);
        self.expected = events.iter().map(|e| e.expected_stream_seq).collect();
        let Some(part_start) = &self.part_start else {
            return events;
        };
        match self.resolved.take() {
            None => {
                let sites = events
                    .par_iter_mut()
                    .zip(part_start)
                    .map(|(ev, start)| {
                        let mut sites = Vec::new();
                        resolve_rel(&mut ev.data, base + start, &mut sites);
                        sites
                    })
                    .collect();
                self.resolved = Some((base, sites));
            }
            Some((was, sites)) => {
                events.par_iter_mut().zip(&sites).for_each(|(ev, s)| rebase_rel(&mut ev.data, s, was, base));
                self.resolved = Some((base, sites));
            }
        }
        events
    }

    /// Takes back the events of a sealed batch that was not written, to be placed again.
    pub fn give_back(&mut self, events: Vec<Event>) {
        self.events = events
            .into_iter()
            .zip(&self.expected)
            .map(|(ev, &expected_stream_seq)| NewEvent { stream: ev.stream, expected_stream_seq, kind: ev.kind, data: ev.data })
            .collect();
    }
}

/// A seq past every event's: `to` for a read to the end of the log (2^63 - 1, the largest a
/// database's signed 64-bit integer holds).
pub const END: u64 = i64::MAX as u64;

/// The log: appending sealed, signed batches with their Merkle nodes, and reading events back.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Seals `batch` (assigns seq, stream_seq, prev, time; hashes; signs with `signer`) and
    /// commits it with its Merkle nodes in one durable transaction, or writes nothing.
    async fn append(&self, signer: &LedgerSigner, batch: Vec<NewEvent>) -> Result<Vec<Event>> {
        self.append_pending(signer, PendingBatch::new(batch)).await
    }
    /// Like `append`, for a batch that may refer to its own events by index.
    async fn append_pending(&self, signer: &LedgerSigner, batch: PendingBatch) -> Result<Vec<Event>>;
    /// Number of events in the log.
    async fn size(&self) -> Result<u64>;
    /// Housekeeping a long-running server does off the request path (SQLite: fold the WAL into
    /// the database, so that no commit has to). Never changes what is stored.
    async fn maintain(&self) -> Result<()> {
        Ok(())
    }
    /// Stored bodies `(seq, text)` from `from`, at most `limit`, in order.
    async fn read_raw(&self, from: u64, limit: u64) -> Result<Vec<(u64, String)>>;
    /// The last event of every stream among the first `size` events, as stored, in seq order.
    async fn stream_heads(&self, size: u64) -> Result<Vec<(u64, String)>>;
    /// Stored bodies `(seq, text)` of the events of the given types with seq in `[from, to)`,
    /// in order; the first `limit` of them, if one is given.
    async fn read_raw_kinds(&self, kinds: &[&str], from: u64, to: u64, limit: Option<u64>) -> Result<Vec<(u64, String)>>;
    /// The events of one stream (those of type `kind`, if one is given), opened, in order.
    async fn read_stream(&self, stream: &str, kind: Option<&str>) -> Result<Vec<Event>>;
    /// The events with the given seqs, in seq order.
    async fn read_seqs(&self, seqs: &[u64]) -> Result<Vec<Event>>;
    /// Events of one type from seq `from` on, at most `limit`, opened, in order.
    async fn read_by_type(&self, kind: &str, from: u64, limit: u64) -> Result<Vec<Event>> {
        self.open_events(parse_rows(self.read_raw_kinds(&[kind], from, END, Some(limit)).await?)?).await
    }
    /// Events `[from, from+limit)`, opened.
    async fn read(&self, from: u64, limit: u64) -> Result<Vec<Event>> {
        self.open_events(parse_rows(self.read_raw(from, limit).await?)?).await
    }
    /// The events of types `kinds` among seqs `[from, to)`, parsed and opened, in order.
    async fn read_kinds(&self, kinds: &[&str], from: u64, to: u64) -> Result<Vec<Event>> {
        self.open_events(parse_rows(self.read_raw_kinds(kinds, from, to, None).await?)?).await
    }
    /// Every event of type `kind`, in order, read a page at a time (never cut off at a page).
    async fn read_all_by_type(&self, kind: &str) -> Result<Vec<Event>> {
        let mut all = Vec::new();
        let mut from = 0;
        loop {
            let page = self.read_by_type(kind, from, 5000).await?;
            let Some(last) = page.last() else { return Ok(all) };
            from = last.seq + 1;
            all.extend(page);
        }
    }
    /// Stored Merkle nodes.
    async fn nodes(&self, ids: &BTreeSet<NodeId>) -> Result<HashMap<NodeId, Hash>>;
    /// Gives the store a v2 ledger's keys: the events it reads are then opened (an erased
    /// person's stay sealed) and streams are asked for by their stored names.
    fn attach_sealing(&self, _sealing: std::sync::Arc<crate::sealing::Sealing>) {}
    fn sealing(&self) -> Option<std::sync::Arc<crate::sealing::Sealing>> {
        None
    }
    /// The key a read-model row or the subject index keeps `key` under (on a v2 ledger, the
    /// person's blind id: no IIN in the clear in the database).
    fn stored_key(&self, key: &str) -> String {
        key.to_string()
    }
    /// The URL of the PostgreSQL database the store keeps its events in, if it is one.
    fn postgres_url(&self) -> Option<String> {
        None
    }
    /// `stream` as stored.
    fn stored_stream(&self, stream: &str) -> String {
        self.sealing().map_or_else(|| stream.to_string(), |s| s.stored_stream(stream))
    }
    /// Opens events read (no-op without keys, or for v1 events).
    async fn open_events(&self, mut events: Vec<Event>) -> Result<Vec<Event>> {
        if let Some(s) = self.sealing() {
            s.open(&mut events).await.map_err(|e| StoreError::Sealed(e.to_string()))?;
        }
        Ok(events)
    }
}

/// Checkpoints, with their witnesses' cosignatures and their time-stamps.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Stores `cp`, unless a checkpoint of its size is stored already (another process signed
    /// that size first); returns the stored one. One of another root is an error.
    async fn add_checkpoint(&self, cp: &StoredCheckpoint) -> Result<StoredCheckpoint>;
    /// Every checkpoint, smallest tree first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;
    /// Stores a witness's cosignature line for the checkpoint of `tree_size`.
    async fn add_cosignature(&self, tree_size: u64, witness: &str, line: &str) -> Result<()>;
    /// The cosignature lines of the checkpoint of `tree_size`: `(witness, line)`.
    async fn cosignatures(&self, tree_size: u64) -> Result<Vec<(String, String)>>;
    /// Stores the RFC 3161 token of the checkpoint of `tree_size`.
    async fn add_timestamp(&self, tree_size: u64, token: &[u8]) -> Result<()>;
    async fn timestamp(&self, tree_size: u64) -> Result<Option<Vec<u8>>>;
    /// Checkpoints without a token, oldest first (so that tokens are asked for in the order of
    /// the tree), at most `limit`.
    async fn untimestamped(&self, limit: u64) -> Result<Vec<StoredCheckpoint>>;
    /// The largest tree size `witness` has cosigned.
    async fn last_cosigned(&self, witness: &str) -> Result<Option<u64>>;
}

/// Stored read models and the subject index: rows updated in place, each with a cursor moved in the same transaction.
#[async_trait]
pub trait ProjectionStore: Send + Sync {
    /// The next seq a stored projection will apply (0 when it has applied nothing).
    async fn projection_cursor(&self, projection: &str) -> Result<u64>;
    async fn projection_rows(&self, projection: &str, keys: &[String]) -> Result<HashMap<String, String>>;
    /// Every row of a projection, by key.
    async fn projection_all(&self, projection: &str) -> Result<Vec<(String, String)>>;
    /// Writes rows and moves the cursor from `from` to `to` in one transaction; refuses (false)
    /// if the cursor is no longer at `from`, so no event is applied twice or skipped.
    async fn projection_commit(&self, projection: &str, from: u64, to: u64, rows: Vec<(String, String)>) -> Result<bool>;
    /// Adds `(subject, seq)` rows to the subject index (which events name a subject, such as
    /// a person read about, that their stream does not) and moves its cursor from `from` to
    /// `to`, in one transaction; `false` if the cursor was no longer at `from`.
    async fn subject_index_commit(&self, from: u64, to: u64, rows: Vec<(String, u64)>) -> Result<bool>;
    /// The seqs of the events indexed under `subject`, in order.
    async fn subject_seqs(&self, subject: &str) -> Result<Vec<u64>>;
    /// Every `(subject, seq)` row of the subject index, in order.
    async fn subject_index_all(&self) -> Result<Vec<(String, u64)>>;
    /// Deletes an erased person's rows: his row of `projection` and his rows of the subject
    /// index (format v2). Freed pages are overwritten (SQLite `secure_delete`, then a WAL
    /// checkpoint; PostgreSQL rewrites the tables), so that no copy stays in the files.
    async fn forget_subject(&self, projection: &str, key: &str) -> Result<()>;
    /// Forgets a derived read model (its rows and cursor: `SUBJECTS` is the subject index), in
    /// one transaction, so that it is folded afresh from the events.
    async fn projection_reset(&self, projection: &str) -> Result<()>;
}

/// API tokens (hashes only) and page sessions.
#[async_trait]
pub trait AccessStore: Send + Sync {
    async fn add_token(&self, token: &TokenRecord) -> Result<()>;
    async fn token_by_hash(&self, token_hash: &[u8]) -> Result<Option<TokenRecord>>;
    /// Every token, without secrets (only hashes are stored).
    async fn tokens(&self) -> Result<Vec<TokenRecord>>;
    /// Revokes token `id` at `at`; `false` if there is no such token or it was revoked before.
    async fn revoke_token(&self, id: &str, at: &str) -> Result<bool>;
    async fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// Opens a page session, known by the SHA-256 of its id, for token `token_id`.
    async fn add_session(&self, id_hash: &[u8], token_id: &str, at: &str) -> Result<()>;
    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRecord>>;
    /// Marks the session seen at `at` (its idle time starts again).
    async fn touch_session(&self, id_hash: &[u8], at: &str) -> Result<()>;
    async fn end_session(&self, id_hash: &[u8], at: &str) -> Result<()>;
    /// Keeps a one-shot message with a session (replacing any).
    async fn set_flash(&self, id_hash: &[u8], text: &str) -> Result<()>;
    /// Takes the session's one-shot message, if any: it is gone once taken.
    async fn take_flash(&self, id_hash: &[u8]) -> Result<Option<String>>;
}

/// A store: the log, its checkpoints, the stored projections and access, each a trait of its
/// own so that a caller can say which it needs. One backend (`sql.rs`) implements them all.
pub trait EventStore: LogStore + CheckpointStore + ProjectionStore + AccessStore {}

impl<T: LogStore + CheckpointStore + ProjectionStore + AccessStore> EventStore for T {}

/// The subject index's cursor, among the projections'.
pub const SUBJECTS: &str = "subjects";

/// A page session as stored (times RFC 3339 UTC with milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_id: String,
    pub created_at: String,
    pub last_seen: String,
    pub ended_at: Option<String>,
}

/// Parses stored bodies into events, naming the seq of the first that does not parse.
pub fn parse_rows(rows: Vec<(u64, String)>) -> Result<Vec<Event>> {
    use rayon::prelude::*;
    // Parsing dominates reading: large pages are parsed on every core.
    rows.into_par_iter()
        .map(|(seq, body)| {
            let ev: Event = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt { seq, detail: e.to_string() })?;
            if ev.seq != seq {
                return Err(StoreError::Corrupt { seq, detail: format!("body says seq {}", ev.seq) });
            }
            Ok(ev)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::types::rel;
    use serde_json::{json, Value};

    fn part(stream: &str) -> Vec<NewEvent> {
        vec![
            NewEvent::new(stream, "RegistryQueried", json!({"i": 0})),
            NewEvent::new(stream, "CheckEvaluated", json!({"evidence": [rel(0)], "also": {"x": rel(1)}})),
        ]
    }

    fn data(events: &[NewEvent]) -> Vec<Value> {
        events.iter().map(|e| e.data.clone()).collect()
    }

    fn sealed(events: Vec<NewEvent>) -> Vec<Event> {
        let drafts = events
            .into_iter()
            .enumerate()
            .map(|(n, e)| events::envelope::Draft {
                seq: n as u64,
                stream: e.stream,
                stream_seq: 0,
                kind: e.kind,
                data: e.data,
                time: "2026-01-15T00:00:00.000Z".into(),
            })
            .collect();
        let signer = LedgerSigner::from_seed("test", [1; 32]).unwrap();
        events::envelope::seal(drafts, [0; 32], &signer, None).unwrap().into_iter().map(|(e, _, _)| e).collect()
    }

    #[test]
    fn each_part_counts_from_its_own_first_event_and_a_given_back_batch_moves_to_the_new_base() {
        let mut b = PendingBatch::relative_parts(vec![part("person:a"), part("person:b")]);
        let at_100 = b.place(100);
        assert_eq!(
            data(&at_100),
            vec![json!({"i": 0}), json!({"evidence": [100], "also": {"x": 101}}), json!({"i": 0}), json!({"evidence": [102], "also": {"x": 103}})]
        );
        b.give_back(sealed(at_100));
        let at_250 = b.place(250);
        let fresh = PendingBatch::relative_parts(vec![part("person:a"), part("person:b")]).place(250);
        assert_eq!(data(&at_250), data(&fresh));
        assert_eq!(at_250[3].data, json!({"evidence": [252], "also": {"x": 253}}));
    }

    #[test]
    fn a_plain_batch_is_left_as_it_is() {
        let mut b = PendingBatch::new(part("person:a"));
        assert_eq!(b.place(7)[1].data, json!({"evidence": [{"$rel": 0}], "also": {"x": {"$rel": 1}}}));
    }
}
