//! Event storage behind one trait. Storage knows the ledger format (it seals appends with the
//! key it is handed and keeps Merkle nodes), but no law. The SQL backend serves SQLite (the
//! embedded default) and PostgreSQL.

pub mod sql;

use async_trait::async_trait;
use events::merkle::{Hash, NodeId};
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
    #[error("stored event at seq {seq} cannot be read: {detail}")]
    Corrupt { seq: u64, detail: String },
    #[error("invalid event: {0}")]
    Format(#[from] events::Error),
    #[error("checkpoint refused: {0}")]
    Checkpoint(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

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
}

/// Builds a batch from the seq its first event will get. It may be called again, with another
/// seq, when the head moved before the batch was written.
pub type BuildBatch = Box<dyn Fn(u64) -> Vec<NewEvent> + Send + Sync>;

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Seals `batch` (assigns seq, stream_seq, prev, time; hashes; signs with `signer`) and
    /// commits it with its Merkle nodes in one durable transaction, or writes nothing.
    async fn append(&self, signer: &LedgerSigner, batch: Vec<NewEvent>) -> Result<Vec<Event>> {
        let len = batch.len();
        self.append_with(signer, len, Box::new(move |_| batch.clone())).await
    }
    /// Like `append`, but the batch (of `len` events) is built under the write lock from the seq
    /// it will start at, so that events can refer to each other by seq.
    async fn append_with(&self, signer: &LedgerSigner, len: usize, build: BuildBatch) -> Result<Vec<Event>>;
    /// Number of events in the log.
    async fn size(&self) -> Result<u64>;
    /// Housekeeping a long-running server does off the request path (SQLite: fold the WAL into
    /// the database, so that no commit has to). Never changes what is stored.
    async fn maintain(&self) -> Result<()> {
        Ok(())
    }
    /// Stored bodies `(seq, text)` from `from`, at most `limit`, in order.
    async fn read_raw(&self, from: u64, limit: u64) -> Result<Vec<(u64, String)>>;
    /// The events of one stream, in order.
    async fn read_stream(&self, stream: &str) -> Result<Vec<Event>>;
    /// The events of one stream that have one type, in order.
    async fn read_stream_kind(&self, stream: &str, kind: &str) -> Result<Vec<Event>>;
    /// The events with the given seqs, in seq order.
    async fn read_seqs(&self, seqs: &[u64]) -> Result<Vec<Event>>;
    /// Events of one type from seq `from` on, at most `limit`, in order.
    async fn read_by_type(&self, kind: &str, from: u64, limit: u64) -> Result<Vec<Event>>;
    /// Stored Merkle nodes.
    async fn nodes(&self, ids: &BTreeSet<NodeId>) -> Result<HashMap<NodeId, Hash>>;
    async fn add_checkpoint(&self, cp: &StoredCheckpoint) -> Result<()>;
    /// Every checkpoint, smallest tree first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;
    /// The next seq a stored projection will apply (0 when it has applied nothing).
    async fn projection_cursor(&self, projection: &str) -> Result<u64>;
    async fn projection_rows(&self, projection: &str, keys: &[String]) -> Result<HashMap<String, String>>;
    /// Every row of a projection, by key.
    async fn projection_all(&self, projection: &str) -> Result<Vec<(String, String)>>;
    /// Writes rows and moves the cursor from `from` to `to` in one transaction; refuses (false)
    /// if the cursor is no longer at `from`, so no event is applied twice or skipped.
    async fn projection_commit(&self, projection: &str, from: u64, to: u64, rows: Vec<(String, String)>) -> Result<bool>;
    async fn add_token(&self, token: &TokenRecord) -> Result<()>;
    async fn token_by_hash(&self, token_hash: &[u8]) -> Result<Option<TokenRecord>>;
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

/// Reads events `[from, from+limit)`.
pub async fn read(store: &dyn EventStore, from: u64, limit: u64) -> Result<Vec<Event>> {
    parse_rows(store.read_raw(from, limit).await?)
}
