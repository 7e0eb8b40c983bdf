//! The writer: one task owns the head of the log (its size, last hash, Merkle frontier and the
//! heads of the streams it has seen) and the order of commits. Appends come to it over a
//! channel, as in mini-redis; each is sealed on the head the writer holds and committed only
//! if the database's head is still that one (size and hash), so two writers, tasks or
//! processes, can never fork the chain.
//!
//! While one batch commits, the writer seals the next on the head the first leaves, so that
//! hashing and signing overlap the database's write. If the commit does not happen (another
//! process appended, or the database failed), nothing of either was written: the head is read
//! again and the batches are sealed anew. An append whose caller has gone is not written at all.

use super::{i, in_list, placeholders, rows_like, u, Dialect, SqlStore, INSERT_CHUNK};
use crate::store::{PendingBatch, Result, StoreError};
use events::envelope::{seal, Draft};
use events::merkle::{Hash, MerkleFrontier, NodeId};
use events::{Event, LedgerSigner};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::collections::{BTreeSet, HashMap, VecDeque};
use tokio::sync::{mpsc, oneshot};

/// Batches of at least this many events are sealed on the rayon pool (while the batch before
/// them commits); smaller ones on the writer's task, where a hop would only add waiting.
const SEAL_ON_RAYON_FROM: usize = 256;
/// The stream-head cache is dropped past this many streams, to bound memory.
const STREAM_CACHE_LIMIT: usize = 50_000;
/// Appends waiting for the writer at most; the next waits for room.
const QUEUE: usize = 64;

/// An append on its way to the writer.
pub(super) struct Append {
    pub signer: LedgerSigner,
    pub batch: PendingBatch,
    pub reply: oneshot::Sender<Result<Vec<Event>>>,
}

/// Starts the writer of the database behind `pool`; it stops when the last sender is dropped.
pub(super) fn start(pool: AnyPool, dialect: Dialect) -> mpsc::Sender<Append> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer = Writer { pool, dialect, head: Head::default(), fresh: false, waiting: VecDeque::new() };
    tokio::spawn(writer.run(rx));
    tx
}

/// What the writer knows about the head of the log.
#[derive(Default)]
struct Head {
    size: u64,
    prev: Hash,
    frontier: MerkleFrontier,
    next_stream_seq: HashMap<String, u64>,
}

/// A batch sealed on a head, ready to be written.
struct Sealed {
    base: u64,
    base_prev: Hash,
    events: Vec<Event>,
    bodies: Vec<String>,
    nodes: Vec<(NodeId, Hash)>,
    frontier: MerkleFrontier,
    assigned: HashMap<String, u64>,
}

impl Head {
    /// Moves the head past a sealed batch.
    fn advance(&mut self, sealed: &Sealed) {
        self.size = sealed.base + sealed.events.len() as u64;
        self.prev = sealed.events.last().and_then(|e| e.hash_bytes().ok()).unwrap_or(self.prev);
        self.frontier = sealed.frontier.clone();
        self.next_stream_seq.extend(sealed.assigned.iter().map(|(k, v)| (k.clone(), *v)));
    }
}

/// How a commit ended.
enum Committed {
    Yes,
    /// The head moved under the batch: nothing was written; the append is to be sealed again.
    Moved(Box<Append>),
    /// The database failed; the append was told.
    Failed,
    /// Whoever appended has gone (a run that failed and dropped its appends): nothing was
    /// written, and nothing will be. Committing it later could interleave a dead run's events
    /// with those of the run resumed after it.
    Abandoned,
}

struct Writer {
    pool: AnyPool,
    dialect: Dialect,
    head: Head,
    /// The head was read from the database (and every commit since went through it); otherwise
    /// the next append reads it first, in its write transaction.
    fresh: bool,
    /// Appends to seal again, before any new one.
    waiting: VecDeque<Append>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Append>) {
        // A batch sealed on the head but not yet committed.
        let mut ready: Option<(Sealed, Append)> = None;
        loop {
            let (sealed, append) = match ready.take() {
                Some(r) => r,
                None => {
                    let Some(append) = Self::receive(&mut self.waiting, &mut rx).await else { return };
                    match self.seal_on_head(append, false).await {
                        Some(r) => r,
                        None => continue,
                    }
                }
            };
            // Commit it; meanwhile take the next append and seal it on the head this one leaves.
            let commit = commit(self.pool.clone(), self.dialect, sealed, append);
            tokio::pin!(commit);
            let outcome = tokio::select! {
                biased;
                outcome = &mut commit => outcome,
                next = Self::receive(&mut self.waiting, &mut rx) => match next {
                    Some(next) => {
                        let (outcome, sealed_next) = tokio::join!(&mut commit, self.seal_on_head(next, true));
                        ready = sealed_next;
                        outcome
                    }
                    None => commit.await,
                },
            };
            match outcome {
                Committed::Yes => {}
                moved_or_failed => {
                    // The head is not what the writer holds: read it again, and seal again
                    // whatever was sealed on it.
                    self.fresh = false;
                    if let Some((sealed, mut next)) = ready.take() {
                        next.batch.give_back(sealed.events);
                        self.waiting.push_front(next);
                    }
                    if let Committed::Moved(append) = moved_or_failed {
                        self.waiting.push_front(*append);
                    }
                }
            }
        }
    }

    /// The next append: one to seal again first, else a new one; `None` once every sender is
    /// gone and nothing waits.
    async fn receive(waiting: &mut VecDeque<Append>, rx: &mut mpsc::Receiver<Append>) -> Option<Append> {
        match waiting.pop_front() {
            Some(a) => Some(a),
            None => rx.recv().await,
        }
    }

    /// Seals an append on the head the writer holds, moving the head past it. An append that
    /// must first read the head (the first, or one after a head that moved) is written here
    /// whole, in one transaction; but not while another batch is `committing`: it waits its
    /// turn. `None` when the append was answered (written, refused, or empty) or waits.
    async fn seal_on_head(&mut self, mut append: Append, committing: bool) -> Option<(Sealed, Append)> {
        if append.reply.is_closed() {
            // Whoever appended has gone: it is not written (see `Committed::Abandoned`).
            return None;
        }
        if !self.fresh || self.head.next_stream_seq.len() > STREAM_CACHE_LIMIT {
            if committing {
                self.waiting.push_front(append);
                return None;
            }
            let result = self.append_serial(&mut append).await;
            let _ = append.reply.send(result);
            return None;
        }
        let mut conn = match self.pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                let _ = append.reply.send(Err(e.into()));
                return None;
            }
        };
        match self.prepare(&mut conn, &append.signer, &mut append.batch).await {
            Ok(Some(sealed)) => {
                self.head.advance(&sealed);
                Some((sealed, append))
            }
            Ok(None) => {
                let _ = append.reply.send(Ok(Vec::new()));
                None
            }
            Err(e) => {
                let _ = append.reply.send(Err(e));
                None
            }
        }
    }

    /// The serial path: head read, batch sealed and written, all in one write transaction.
    async fn append_serial(&mut self, append: &mut Append) -> Result<Vec<Event>> {
        let (signer, batch) = (&append.signer, &mut append.batch);
        let mut tx = begin_write(&self.pool, self.dialect).await?;
        if append.reply.is_closed() {
            // Whoever appended has gone while the lock was awaited: not written.
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let size = SqlStore::size_on(&mut tx).await?;
        self.head = Head { size, prev: SqlStore::prev_at(&mut tx, size).await?, ..Head::default() };
        let ids: BTreeSet<NodeId> = MerkleFrontier::node_ids(size).into_iter().collect();
        let nodes = SqlStore::fetch_nodes(self.dialect, &mut tx, &ids).await?;
        self.head.frontier = MerkleFrontier::from_nodes(size, &nodes)?;
        self.fresh = true;
        let Some(mut sealed) = self.prepare(&mut tx, signer, batch).await? else {
            tx.rollback().await?;
            return Ok(Vec::new());
        };
        let written = async {
            write_sealed(self.dialect, &mut tx, &mut sealed).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        };
        if let Err(e) = written.await {
            self.fresh = false;
            return Err(e);
        }
        self.head.advance(&sealed);
        Ok(sealed.events)
    }

    /// The next `stream_seq` of each of `streams` that has events.
    async fn stream_heads(&self, conn: &mut sqlx::AnyConnection, streams: Vec<&str>) -> Result<HashMap<String, u64>> {
        let mut heads = HashMap::new();
        for chunk in streams.chunks(INSERT_CHUNK) {
            let list = in_list(self.dialect, chunk.len());
            let sql = format!("SELECT s.name, MAX(e.stream_seq) FROM streams s JOIN events e ON e.stream_id = s.id WHERE s.name IN {list} GROUP BY s.name");
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == INSERT_CHUNK);
            for s in chunk {
                q = q.bind(s.to_string());
            }
            for row in q.fetch_all(&mut *conn).await? {
                heads.insert(row.try_get(0)?, u(row.try_get(1)?) + 1);
            }
        }
        Ok(heads)
    }

    /// Builds, checks and seals a batch on the writer's head: everything an append computes
    /// before it writes. Heads of streams the writer has not seen are read through `conn`
    /// (a batch still committing touched only streams it has seen). `None` for an empty batch.
    async fn prepare(&self, conn: &mut sqlx::AnyConnection, signer: &LedgerSigner, protect: &mut PendingBatch) -> Result<Option<Sealed>> {
        let head = &self.head;
        let base = head.size;
        let batch = protect.place(base);
        if batch.is_empty() {
            return Ok(None);
        }
        let time = crate::store::utc_millis(chrono::Utc::now());
        // Streams as stored (on a v2 ledger a person's names his blind id).
        let stored: Vec<String> = match protect.protector() {
            Some(_) => batch.iter().map(|e| protect.stored_stream(&e.stream)).collect(),
            None => Vec::new(),
        };
        let stream_of = |n: usize| stored.get(n).map_or(batch[n].stream.as_str(), String::as_str);
        let unknown: BTreeSet<&str> = (0..batch.len()).map(stream_of).filter(|s| !head.next_stream_seq.contains_key(*s)).collect();
        let mut assigned = self.stream_heads(conn, unknown.into_iter().collect()).await?;
        let mut drafts = Vec::with_capacity(batch.len());
        for (n, ev) in batch.iter().enumerate() {
            let stream = stream_of(n);
            let next = assigned.get(stream).or_else(|| head.next_stream_seq.get(stream)).copied().unwrap_or(0);
            if let Some(expected) = ev.expected_stream_seq {
                if expected != next {
                    return Err(StoreError::Conflict { stream: ev.stream.clone(), expected, actual: next });
                }
            }
            assigned.insert(stream.to_string(), next + 1);
            drafts.push(next);
        }
        let drafts: Vec<Draft> = batch
            .into_iter()
            .zip(drafts)
            .enumerate()
            .map(|(n, (ev, next))| Draft { seq: base + n as u64, stream: ev.stream, stream_seq: next, kind: ev.kind, data: ev.data, time: time.clone() })
            .collect();
        let protector = protect.protector().cloned();
        let (prev, mut frontier, signer) = (head.prev, head.frontier.clone(), signer.clone());
        let small = drafts.len() < SEAL_ON_RAYON_FROM;
        let work = move || -> Result<Sealed> {
            // Bodies are stored in their RFC 8785 form; whoever checks a hash canonicalises
            // again, so any JSON would do, but this one costs nothing more.
            let sealed = seal(drafts, prev, &signer, protector.as_deref())?;
            let (mut events, mut bodies) = (Vec::with_capacity(sealed.len()), Vec::with_capacity(sealed.len()));
            let mut nodes = Vec::with_capacity(sealed.len() * 2);
            for (ev, body, hash) in sealed {
                frontier.push(events::merkle::leaf_hash(&hash), &mut nodes);
                events.push(ev);
                bodies.push(body);
            }
            // Leaves are read from their events when needed: only interior nodes are stored.
            nodes.retain(|(id, _)| id.level > 0);
            Ok(Sealed { base, base_prev: prev, events, bodies, nodes, frontier, assigned })
        };
        Ok(Some(if small { work()? } else { on_rayon(work).await? }))
    }
}

/// Writes a sealed batch if the log's head is still the one it was sealed on, and answers
/// the append.
async fn commit(pool: AnyPool, dialect: Dialect, mut sealed: Sealed, mut append: Append) -> Committed {
    if append.reply.is_closed() {
        return Committed::Abandoned;
    }
    let result = async {
        let mut tx = begin_write(&pool, dialect).await?;
        // Checked again under the lock: waiting for it may have taken long.
        if append.reply.is_closed() {
            tx.rollback().await?;
            return Ok(None);
        }
        let size = SqlStore::size_on(&mut tx).await?;
        if size != sealed.base || SqlStore::prev_at(&mut tx, size).await? != sealed.base_prev {
            tx.rollback().await?;
            return Ok(Some(false));
        }
        write_sealed(dialect, &mut tx, &mut sealed).await?;
        tx.commit().await?;
        Ok::<_, StoreError>(Some(true))
    };
    match result.await {
        Ok(None) => Committed::Abandoned,
        Ok(Some(true)) => {
            let _ = append.reply.send(Ok(sealed.events));
            Committed::Yes
        }
        Ok(Some(false)) => {
            append.batch.give_back(sealed.events);
            Committed::Moved(Box::new(append))
        }
        Err(e) => {
            let _ = append.reply.send(Err(e));
            Committed::Failed
        }
    }
}

/// The key of PostgreSQL's advisory lock that appends take (any fixed number: "hledger" in
/// ASCII).
const WRITE_LOCK: i64 = 0x68_6c_65_64_67_65_72;

/// Begins the write transaction and takes the database's write lock.
pub(super) async fn begin_write(pool: &AnyPool, dialect: Dialect) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    Ok(match dialect {
        Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Dialect::Postgres => {
            // A transaction-scoped advisory lock, which every writer of every process takes: a
            // table lock (EXCLUSIVE, as before) also conflicts with autovacuum's ANALYZE, which
            // was cancelled at every append, so the planner never learnt the table had grown
            // and chose sequential scans (3 s for a batch's stream heads at 3 million events).
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
            tx
        }
    })
}

/// Inserts a sealed batch's events and Merkle nodes in the open write transaction.
async fn write_sealed(dialect: Dialect, tx: &mut sqlx::Transaction<'static, sqlx::Any>, sealed: &mut Sealed) -> Result<()> {
    // A multi-row INSERT that may abort half-way makes SQLite keep a statement journal: a copy
    // of every page before the statement changes it, written to a temporary file. The batch is
    // all or nothing anyway (an error rolls the whole transaction back), so on SQLite a
    // conflict fails the statement where it stands (`OR FAIL`) and no journal is kept.
    let insert = match dialect {
        Dialect::Sqlite => "INSERT OR FAIL",
        Dialect::Postgres => "INSERT",
    };
    // Streams that begin here are numbered first, in the order they begin, so that a run's
    // appends land at the end of the events' stream indexes (migration 0014). A number left by
    // events rolled back outside the store is taken again.
    let begun: Vec<&str> = sealed.events.iter().filter(|e| e.stream_seq == 0).map(|e| e.stored_stream()).collect();
    for chunk in begun.chunks(INSERT_CHUNK) {
        let sql = format!("INSERT INTO streams (name) VALUES {} ON CONFLICT (name) DO NOTHING", placeholders(dialect, chunk.len(), 1));
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == INSERT_CHUNK);
        for name in chunk {
            q = q.bind(name.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    // The bodies are handed to the driver, not copied: they are not needed after the write.
    let mut bodies = std::mem::take(&mut sealed.bodies).into_iter();
    for chunk in sealed.events.chunks(INSERT_CHUNK) {
        let rows = rows_like(dialect, chunk.len(), "(?,?,(SELECT id FROM streams WHERE name = ?),?,?,?)");
        let sql = format!("{insert} INTO events (seq, stream, stream_id, stream_seq, type, body) VALUES {rows}");
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == INSERT_CHUNK);
        for (ev, body) in chunk.iter().zip(bodies.by_ref()) {
            let stream = ev.stored_stream();
            q = q.bind(i(ev.seq)).bind(stream).bind(stream).bind(i(ev.stream_seq)).bind(ev.kind.as_str()).bind(body);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in sealed.nodes.chunks(INSERT_CHUNK) {
        let sql = format!("{insert} INTO merkle_nodes (level, idx, hash) VALUES {}", placeholders(dialect, chunk.len(), 3));
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == INSERT_CHUNK);
        for (id, h) in chunk {
            q = q.bind(id.level as i64).bind(i(id.index)).bind(h.to_vec());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Runs `f` on the rayon pool and waits for it without blocking the async task's thread.
async fn on_rayon<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.await.expect("the rayon task sends its result") {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
