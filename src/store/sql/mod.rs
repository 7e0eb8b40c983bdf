//! The SQL backend on sqlx's `Any` driver: SQLite (WAL, `synchronous=FULL`, one writer through
//! `BEGIN IMMEDIATE`) and PostgreSQL (an advisory transaction lock per append).
//!
//! Single writer: one task seals and commits every append (`writer`), and commits only if the
//! database's head is still the one it sealed on, under the database's write lock, so two
//! writers, tasks or processes, can never fork the chain. Optimistic concurrency on
//! `(stream, stream_seq)` is checked as each batch is sealed; streams are numbered as they begin
//! and indexed by number (migration 14), so that appends land at the end of the indexes.

use super::{
    parse_rows, AccessStore, CheckpointStore, LogStore, PendingBatch, ProjectionStore, Result, SessionRecord, StoreError, StoredCheckpoint, TokenRecord,
    SUBJECTS,
};
use async_trait::async_trait;
use events::merkle::{Hash, NodeId};
use events::{Event, LedgerSigner, NewEvent};
use rayon::prelude::*;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

mod writer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The query that reads token rows, with `$tail` (a condition or an order) after it: the columns
/// in the order [`token_row`] reads them, written once.
macro_rules! token_select {
    ($tail:literal) => {
        concat!("SELECT id, token_hash, role, created_at, holder, holder_id, expires_at, revoked_at FROM api_tokens", $tail)
    };
}

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "ledger", sql: include_str!("../../../migrations/sqlite/0001_ledger.sql") },
    Migration { version: 2, name: "projections", sql: include_str!("../../../migrations/sqlite/0002_projections.sql") },
    Migration { version: 3, name: "stream_type_index", sql: include_str!("../../../migrations/sqlite/0003_stream_type_index.sql") },
    Migration { version: 4, name: "token_holder", sql: include_str!("../../../migrations/sqlite/0004_token_holder.sql") },
    Migration { version: 5, name: "token_holder_id", sql: include_str!("../../../migrations/sqlite/0005_token_holder_id.sql") },
    Migration { version: 6, name: "cosignatures", sql: include_str!("../../../migrations/sqlite/0006_cosignatures.sql") },
    Migration { version: 7, name: "timestamps", sql: include_str!("../../../migrations/sqlite/0007_timestamps.sql") },
    Migration { version: 8, name: "token_life", sql: include_str!("../../../migrations/sqlite/0008_token_life.sql") },
    Migration { version: 9, name: "web_sessions", sql: include_str!("../../../migrations/sqlite/0009_web_sessions.sql") },
    Migration { version: 10, name: "subject_index", sql: include_str!("../../../migrations/sqlite/0010_subject_index.sql") },
    Migration { version: 11, name: "persons_locality", sql: include_str!("../../../migrations/sqlite/0011_persons_locality.sql") },
    Migration { version: 12, name: "session_flash", sql: include_str!("../../../migrations/sqlite/0012_session_flash.sql") },
    Migration { version: 13, name: "persons_name_and_seal", sql: include_str!("../../../migrations/sqlite/0013_persons_name_and_seal.sql") },
    Migration { version: 14, name: "stream_numbers", sql: include_str!("../../../migrations/sqlite/0014_stream_numbers.sql") },
];
const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "ledger", sql: include_str!("../../../migrations/postgres/0001_ledger.sql") },
    Migration { version: 2, name: "projections", sql: include_str!("../../../migrations/postgres/0002_projections.sql") },
    Migration { version: 3, name: "stream_type_index", sql: include_str!("../../../migrations/postgres/0003_stream_type_index.sql") },
    Migration { version: 4, name: "token_holder", sql: include_str!("../../../migrations/postgres/0004_token_holder.sql") },
    Migration { version: 5, name: "token_holder_id", sql: include_str!("../../../migrations/postgres/0005_token_holder_id.sql") },
    Migration { version: 6, name: "cosignatures", sql: include_str!("../../../migrations/postgres/0006_cosignatures.sql") },
    Migration { version: 7, name: "timestamps", sql: include_str!("../../../migrations/postgres/0007_timestamps.sql") },
    Migration { version: 8, name: "token_life", sql: include_str!("../../../migrations/postgres/0008_token_life.sql") },
    Migration { version: 9, name: "web_sessions", sql: include_str!("../../../migrations/postgres/0009_web_sessions.sql") },
    Migration { version: 10, name: "subject_index", sql: include_str!("../../../migrations/postgres/0010_subject_index.sql") },
    Migration { version: 11, name: "persons_locality", sql: include_str!("../../../migrations/postgres/0011_persons_locality.sql") },
    Migration { version: 12, name: "session_flash", sql: include_str!("../../../migrations/postgres/0012_session_flash.sql") },
    Migration { version: 13, name: "persons_name_and_seal", sql: include_str!("../../../migrations/postgres/0013_persons_name_and_seal.sql") },
    Migration { version: 14, name: "stream_numbers", sql: include_str!("../../../migrations/postgres/0014_stream_numbers.sql") },
];

/// Rows per multi-row INSERT (SQLite allows 32766 parameters). Statements of other lengths
/// (a batch's tail) are not kept prepared: every connection would keep one of each length.
pub(super) const INSERT_CHUNK: usize = 500;

/// Connections of the writer's own pool: one commits while another seals the next batch.
const WRITER_CONNECTIONS: u32 = 3;

pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The writer task's queue: every append goes through it.
    appends: mpsc::Sender<writer::Append>,
    /// A v2 ledger's keys, once its ledger is opened: events read are opened with them.
    sealing: std::sync::OnceLock<std::sync::Arc<crate::sealing::Sealing>>,
    /// The PostgreSQL server's URL (a v2 ledger's key store is a database beside it).
    postgres_url: Option<String>,
}

fn i(v: u64) -> i64 {
    i64::try_from(v).expect("sequence numbers stay below 2^63")
}

fn u(v: i64) -> u64 {
    u64::try_from(v).expect("stored sequence numbers are non-negative")
}

/// `($1,$2,...),(...)` for `rows` tuples of `cols` placeholders. SQLite gets anonymous `?`:
/// its lookup of numbered parameter names is linear per parameter, quadratic per statement.
fn placeholders(dialect: Dialect, rows: usize, cols: usize) -> String {
    rows_like(dialect, rows, &format!("({})", vec!["?"; cols].join(",")))
}

/// `rows` copies of `template`, a row of `?` marks, comma-separated; on PostgreSQL the marks
/// are numbered `$1, $2, …` across the rows.
fn rows_like(dialect: Dialect, rows: usize, template: &str) -> String {
    let joined = vec![template; rows].join(",");
    match dialect {
        Dialect::Sqlite => joined,
        Dialect::Postgres => {
            let mut out = String::with_capacity(joined.len() * 2);
            let mut n = 0;
            for c in joined.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// `(?,?,…)` / `($1,$2,…)`: the list for `IN` with `n` values.
fn in_list(dialect: Dialect, n: usize) -> String {
    placeholders(dialect, n, 1).replace(")(", ",").replace("),(", ",")
}

fn hash_of(bytes: Vec<u8>) -> Result<Hash> {
    bytes.try_into().map_err(|_| StoreError::Corrupt { seq: 0, detail: "stored hash is not 32 bytes".into() })
}

impl SqlStore {
    /// A transaction holding the lock of consumer `name`, if its cursor is at `from`; `None`
    /// if another consumer moved it (nothing is applied twice). Consumers of one name are
    /// serialised (not appends): SQLite's write lock, or a PostgreSQL advisory lock.
    async fn at_cursor(&self, name: &str, from: u64) -> Result<Option<sqlx::Transaction<'static, sqlx::Any>>> {
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(name.to_string()).execute(&mut *tx).await?;
                tx
            }
        };
        let n: Option<i64> =
            sqlx::query_scalar("SELECT next_seq FROM projection_cursors WHERE projection = $1").bind(name.to_string()).fetch_optional(&mut *tx).await?;
        if n.map_or(0, u) != from {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(tx))
    }

    /// Moves consumer `name`'s cursor to `to` and commits what was written with it.
    async fn move_cursor(mut tx: sqlx::Transaction<'static, sqlx::Any>, name: &str, to: u64) -> Result<bool> {
        sqlx::query(
            "INSERT INTO projection_cursors (projection, next_seq) VALUES ($1, $2) ON CONFLICT (projection) DO UPDATE SET next_seq = excluded.next_seq",
        )
        .bind(name.to_string())
        .bind(i(to))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Opens (creating where needed) and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or(rest);
            if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::private_files::create_dir(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
            // Made owner-only before SQLite opens it; its WAL and shared memory take its mode.
            if !url.contains("mode=ro") && path != ":memory:" {
                crate::private_files::touch(std::path::Path::new(path)).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
            let file = std::path::Path::new(path);
            let wal = file.with_extension("db-wal");
            let shm = file.with_extension("db-shm");
            for warning in crate::private_files::looser_than_owner(&[file, &wal, &shm, file.parent().unwrap_or(file)]) {
                tracing::warn!("{warning}");
            }
            (Dialect::Sqlite, if url.contains("mode=") { url.to_string() } else { format!("sqlite://{path}?mode=rwc") })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, url.to_string())
        } else {
            return Err(StoreError::Url(url.to_string()));
        };
        // Opened eagerly, once, with a short deadline: a corrupted file or an unreachable
        // server is named at once with its real cause, not after a pool's minute of retries.
        let what = match dialect {
            Dialect::Sqlite => url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default().to_string(),
            Dialect::Postgres => url.split('@').next_back().unwrap_or_default().to_string(),
        };
        let open = |detail: String| StoreError::Open { what: what.clone(), detail };
        let probe = async {
            use sqlx::Connection;
            let mut conn = sqlx::AnyConnection::connect(&url).await?;
            if dialect == Dialect::Sqlite {
                sqlx::raw_sql("PRAGMA schema_version; SELECT count(*) FROM sqlite_master").execute(&mut conn).await?;
            }
            conn.close().await
        };
        match tokio::time::timeout(Duration::from_secs(10), probe).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(open(e.to_string())),
            Err(_) => return Err(open("no answer within 10 s".into())),
        }
        // A connection is waited for at most this long. sqlx keeps trying to connect until then
        // when the server is away: a PostgreSQL outage must answer 503 soon, not hold every
        // request for a minute. (SQLite's connections never go away; its lock waits are
        // `busy_timeout`'s.)
        let acquire = match dialect {
            Dialect::Sqlite => Duration::from_secs(60),
            Dialect::Postgres => Duration::from_secs(5),
        };
        let mut options = AnyPoolOptions::new().max_connections(16).acquire_timeout(acquire);
        if dialect == Dialect::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL for concurrent readers; FULL: fsync on every commit, so a commit is durable.
                    // An 8 MiB page cache (2 MiB by default) holds a whole batch's changed pages,
                    // so a large append does not spill pages to the WAL before it commits.
                    // 16 KiB pages (set before the database is first written; an existing
                    // database keeps its own): the log is appended in large batches, and each
                    // page costs the WAL and its checkpoint a write of its own. Measured at
                    // 8,000 persons: the writer thread's share of the run's CPU fell from about
                    // 10% with 4 KiB pages to about 7.5%.
                    sqlx::raw_sql(
                        "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=60000; PRAGMA cache_size=-8192;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            });
        }
        // The writer has connections of its own: under a load of reads (each waits for its read
        // log entry, which the writer commits) a shared pool queued the writer behind the
        // readers it was to release.
        let writes = options.clone().max_connections(WRITER_CONNECTIONS).connect(&url).await?;
        let pool = options.connect(&url).await?;
        let store = Self {
            pool,
            dialect,
            appends: writer::start(writes, dialect),
            sealing: Default::default(),
            postgres_url: (dialect == Dialect::Postgres).then(|| url.clone()),
        };
        store.migrate().await?;
        if dialect == Dialect::Sqlite {
            // Fold a WAL left by an earlier process into the database now, so that the first
            // commit does not pay for it. Only an optimisation: a busy database is left alone.
            let _ = sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(&store.pool).await;
        }
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn migrate(&self) -> Result<()> {
        let (migrations, lock) = match self.dialect {
            Dialect::Sqlite => (SQLITE_MIGRATIONS, None),
            Dialect::Postgres => (POSTGRES_MIGRATIONS, Some("SELECT pg_advisory_xact_lock(7201900412)")),
        };
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        if let Some(lock) = lock {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        // Created only where missing: `IF NOT EXISTS` on an existing table makes PostgreSQL send a
        // notice, which sqlx logs on every command ("relation schema_migrations already exists").
        let exists = match self.dialect {
            Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            Dialect::Postgres => "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'",
        };
        let found: i64 = sqlx::query_scalar(exists).fetch_one(&mut *tx).await?;
        if found == 0 {
            sqlx::query("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)").execute(&mut *tx).await?;
        }
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut *tx).await?;
        for m in migrations.iter().filter(|m| m.version > applied.unwrap_or(0)) {
            sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)").bind(m.version).bind(m.name).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The events at `seqs` that exist, in seq order, read through `conn`.
    async fn events_at(dialect: Dialect, conn: &mut sqlx::AnyConnection, seqs: &[u64]) -> Result<Vec<Event>> {
        parse_rows(Self::bodies_at(dialect, conn, seqs).await?)
    }

    /// The stored bodies of the events at `seqs` that exist, in seq order.
    async fn bodies_at(dialect: Dialect, conn: &mut sqlx::AnyConnection, seqs: &[u64]) -> Result<Vec<(u64, String)>> {
        let mut sorted: Vec<u64> = seqs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = Vec::with_capacity(sorted.len());
        for chunk in sorted.chunks(INSERT_CHUNK) {
            let sql = format!("SELECT seq, body FROM events WHERE seq IN {} ORDER BY seq", in_list(dialect, chunk.len()));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for s in chunk {
                q = q.bind(i(*s));
            }
            out.extend(raw_rows(&q.fetch_all(&mut *conn).await?)?);
        }
        Ok(out)
    }

    /// The stored `hash` of the events at `seqs`: only that member is decoded, not the event
    /// (a proof's leaves are mostly other persons' events, wanted for their hash alone).
    async fn hashes_at(dialect: Dialect, conn: &mut sqlx::AnyConnection, seqs: &[u64]) -> Result<Vec<(u64, Hash)>> {
        #[derive(serde::Deserialize)]
        struct Stored<'a> {
            #[serde(borrow)]
            hash: std::borrow::Cow<'a, str>,
        }
        Self::bodies_at(dialect, conn, seqs)
            .await?
            .into_iter()
            .map(|(seq, body)| {
                let corrupt = |detail: String| StoreError::Corrupt { seq, detail };
                let stored: Stored = serde_json::from_str(&body).map_err(|e| corrupt(format!("stored event does not parse: {e}")))?;
                Ok((seq, events::envelope::decode_hash("hash", &stored.hash).map_err(|e| corrupt(e.to_string()))?))
            })
            .collect()
    }

    /// The stored nodes among `ids`. Leaves are not stored apart: a leaf is the leaf hash of
    /// its event's `hash`, read from the event (older databases also hold leaf rows, unread).
    async fn fetch_nodes(dialect: Dialect, conn: &mut sqlx::AnyConnection, ids: &BTreeSet<NodeId>) -> Result<HashMap<NodeId, Hash>> {
        let mut out = HashMap::with_capacity(ids.len());
        let (leaves, ids): (Vec<NodeId>, Vec<NodeId>) = ids.iter().copied().partition(|id| id.level == 0);
        let seqs: Vec<u64> = leaves.iter().map(|id| id.index).collect();
        for (seq, hash) in Self::hashes_at(dialect, conn, &seqs).await? {
            out.insert(NodeId { level: 0, index: seq }, events::merkle::leaf_hash(&hash));
        }
        // One primary-key lookup per node, joined with UNION ALL: a row-value `IN` list makes
        // SQLite scan the whole table. (SQLite allows 500 compound terms.)
        for chunk in ids.chunks(200) {
            let sql = (0..chunk.len())
                .map(|k| match dialect {
                    Dialect::Sqlite => "SELECT level, idx, hash FROM merkle_nodes WHERE level = ? AND idx = ?".to_string(),
                    Dialect::Postgres => format!("SELECT level, idx, hash FROM merkle_nodes WHERE level = ${} AND idx = ${}", 2 * k + 1, 2 * k + 2),
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            // Only the full-length statement is worth keeping prepared: the tails vary.
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == 200);
            for id in chunk {
                q = q.bind(id.level as i64).bind(i(id.index));
            }
            for row in q.fetch_all(&mut *conn).await? {
                let id = NodeId { level: row.try_get::<i64, _>(0)? as u8, index: u(row.try_get(1)?) };
                out.insert(id, hash_of(row.try_get(2)?)?);
            }
        }
        Ok(out)
    }

    /// The number of events in the log, read through `conn`.
    async fn size_on(conn: &mut sqlx::AnyConnection) -> Result<u64> {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events").fetch_one(conn).await?;
        Ok(max.map_or(0, |s| u(s) + 1))
    }

    /// The hash the chain continues from at `size`: that of event `size - 1`, zeros for none.
    async fn prev_at(conn: &mut sqlx::AnyConnection, size: u64) -> Result<Hash> {
        if size == 0 {
            return Ok([0u8; 32]);
        }
        let body: String = sqlx::query_scalar("SELECT body FROM events WHERE seq = $1").bind(i(size - 1)).fetch_one(conn).await?;
        Ok(parse_rows(vec![(size - 1, body)])?.remove(0).hash_bytes()?)
    }
}

#[async_trait]
impl LogStore for SqlStore {
    async fn maintain(&self) -> Result<()> {
        if self.dialect == Dialect::Sqlite {
            // PASSIVE waits for no reader or writer; frequent small checkpoints keep the WAL
            // below the size at which a commit would checkpoint it itself.
            sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn append_pending(&self, signer: &LedgerSigner, batch: PendingBatch) -> Result<Vec<Event>> {
        // Checked here, on the caller's side: the writer has enough to do.
        batch.events().par_iter().try_for_each(NewEvent::validate)?;
        let (reply, answer) = oneshot::channel();
        self.appends.send(writer::Append { signer: signer.clone(), batch, reply }).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn size(&self) -> Result<u64> {
        Self::size_on(&mut *self.pool.acquire().await?).await
    }

    async fn read_raw(&self, from: u64, limit: u64) -> Result<Vec<(u64, String)>> {
        let rows = sqlx::query("SELECT seq, body FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2").bind(i(from)).bind(i(limit)).fetch_all(&self.pool).await?;
        raw_rows(&rows)
    }

    async fn stream_heads(&self, size: u64) -> Result<Vec<(u64, String)>> {
        let rows = sqlx::query("SELECT seq, body FROM events WHERE seq IN (SELECT MAX(seq) FROM events WHERE seq < $1 GROUP BY stream_id) ORDER BY seq")
            .bind(i(size))
            .fetch_all(&self.pool)
            .await?;
        raw_rows(&rows)
    }

    async fn read_raw_kinds(&self, kinds: &[&str], from: u64, to: u64, limit: Option<u64>) -> Result<Vec<(u64, String)>> {
        if kinds.is_empty() {
            return Ok(Vec::new()); // `IN ()` is not SQL
        }
        // The types' placeholders come first, so that PostgreSQL's are numbered from $1.
        let n = kinds.len();
        let (range, limit_at) = match self.dialect {
            Dialect::Sqlite => ("seq >= ? AND seq < ?".to_string(), "?".to_string()),
            Dialect::Postgres => (format!("seq >= ${} AND seq < ${}", n + 1, n + 2), format!("${}", n + 3)),
        };
        let limited = if limit.is_some() { format!(" LIMIT {limit_at}") } else { String::new() };
        let sql = format!("SELECT seq, body FROM events WHERE type IN {} AND {range} ORDER BY seq{limited}", in_list(self.dialect, n));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for k in kinds {
            q = q.bind(k.to_string());
        }
        q = q.bind(i(from)).bind(i(to));
        if let Some(limit) = limit {
            q = q.bind(i(limit));
        }
        raw_rows(&q.fetch_all(&self.pool).await?)
    }

    async fn read_stream(&self, stream: &str, kind: Option<&str>) -> Result<Vec<Event>> {
        let stream = self.stored_stream(stream);
        // A type asked for is looked up by the index on (stream, type, stream_seq): a run's
        // RunStarted is read without reading the run's other, large, events.
        let rows = match kind {
            None => sqlx::query("SELECT seq, body FROM events WHERE stream_id = (SELECT id FROM streams WHERE name = $1) ORDER BY stream_seq").bind(stream),
            Some(kind) => {
                sqlx::query("SELECT seq, body FROM events WHERE stream_id = (SELECT id FROM streams WHERE name = $1) AND type = $2 ORDER BY stream_seq")
                    .bind(stream)
                    .bind(kind.to_string())
            }
        }
        .fetch_all(&self.pool)
        .await?;
        self.open_events(events_of(&rows)?).await
    }

    fn attach_sealing(&self, sealing: std::sync::Arc<crate::sealing::Sealing>) {
        let _ = self.sealing.set(sealing);
    }

    fn sealing(&self) -> Option<std::sync::Arc<crate::sealing::Sealing>> {
        self.sealing.get().cloned()
    }

    fn postgres_url(&self) -> Option<String> {
        self.postgres_url.clone()
    }

    fn stored_key(&self, key: &str) -> String {
        self.sealing().map_or_else(|| key.to_string(), |s| s.row_key(key))
    }

    async fn read_seqs(&self, seqs: &[u64]) -> Result<Vec<Event>> {
        let events = Self::events_at(self.dialect, &mut *self.pool.acquire().await?, seqs).await?;
        self.open_events(events).await
    }

    async fn nodes(&self, ids: &BTreeSet<NodeId>) -> Result<HashMap<NodeId, Hash>> {
        let mut conn = self.pool.acquire().await?;
        Self::fetch_nodes(self.dialect, &mut conn, ids).await
    }
}

#[async_trait]
impl CheckpointStore for SqlStore {
    async fn add_checkpoint(&self, cp: &StoredCheckpoint) -> Result<StoredCheckpoint> {
        // Another process may have signed this size first (two `serve` on one database): its
        // checkpoint stands, and is the one returned.
        let (insert, conflict) = match self.dialect {
            Dialect::Sqlite => ("INSERT OR IGNORE", ""),
            Dialect::Postgres => ("INSERT", " ON CONFLICT (tree_size) DO NOTHING"),
        };
        sqlx::query(AssertSqlSafe(format!("{insert} INTO checkpoints (tree_size, root, note, signed_at) VALUES ($1, $2, $3, $4){conflict}")))
            .bind(i(cp.tree_size))
            .bind(cp.root.to_vec())
            .bind(cp.note.clone())
            .bind(cp.signed_at.clone())
            .execute(&self.pool)
            .await?;
        let row =
            sqlx::query("SELECT tree_size, root, note, signed_at FROM checkpoints WHERE tree_size = $1").bind(i(cp.tree_size)).fetch_one(&self.pool).await?;
        let stored = checkpoint_row(&row)?;
        if stored.root != cp.root {
            return Err(StoreError::Checkpoint(format!(
                "a checkpoint of size {} with another root ({}) is stored already",
                cp.tree_size,
                hex::encode(stored.root)
            )));
        }
        Ok(stored)
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        let rows = sqlx::query("SELECT tree_size, root, note, signed_at FROM checkpoints ORDER BY tree_size").fetch_all(&self.pool).await?;
        rows.iter().map(checkpoint_row).collect()
    }

    async fn add_cosignature(&self, tree_size: u64, witness: &str, line: &str) -> Result<()> {
        // A witness cosigns a size once: a second line for it (a retry) is the same statement.
        let insert = if self.dialect == Dialect::Sqlite { "INSERT OR IGNORE" } else { "INSERT" };
        let conflict = if self.dialect == Dialect::Sqlite { "" } else { " ON CONFLICT DO NOTHING" };
        sqlx::query(sqlx::AssertSqlSafe(format!("{insert} INTO cosignatures (tree_size, witness, line) VALUES ($1, $2, $3){conflict}")))
            .bind(i(tree_size))
            .bind(witness.to_string())
            .bind(line.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn cosignatures(&self, tree_size: u64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT witness, line FROM cosignatures WHERE tree_size = $1 ORDER BY witness").bind(i(tree_size)).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn add_timestamp(&self, tree_size: u64, token: &[u8]) -> Result<()> {
        sqlx::query("INSERT INTO timestamps (tree_size, token) VALUES ($1, $2)").bind(i(tree_size)).bind(token.to_vec()).execute(&self.pool).await?;
        Ok(())
    }

    async fn timestamp(&self, tree_size: u64) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT token FROM timestamps WHERE tree_size = $1").bind(i(tree_size)).fetch_optional(&self.pool).await?)
    }

    async fn untimestamped(&self, limit: u64) -> Result<Vec<StoredCheckpoint>> {
        let rows = sqlx::query(
            "SELECT tree_size, root, note, signed_at FROM checkpoints WHERE tree_size NOT IN (SELECT tree_size FROM timestamps) ORDER BY tree_size LIMIT $1",
        )
        .bind(i(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(checkpoint_row).collect()
    }

    async fn last_cosigned(&self, witness: &str) -> Result<Option<u64>> {
        let n: Option<i64> =
            sqlx::query_scalar("SELECT MAX(tree_size) FROM cosignatures WHERE witness = $1").bind(witness.to_string()).fetch_one(&self.pool).await?;
        Ok(n.map(u))
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        let row = sqlx::query("SELECT tree_size, root, note, signed_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1").fetch_optional(&self.pool).await?;
        row.as_ref().map(checkpoint_row).transpose()
    }
}

impl SqlStore {
    /// A stored read-model row with its key, opened on a v2 ledger. One that does not open
    /// (changed with the database alone) is given as stored, under the key asked for, so that
    /// its authentication fails where it is read and it is never served.
    fn opened_row(&self, projection: &str, stored: String, text: String, asked: Option<&str>) -> (String, String) {
        let Some(s) = self.sealing() else { return (stored, text) };
        match s.open_row(projection, &stored, &text) {
            Some((key, doc)) if asked.is_none_or(|a| a == key) => (key, doc),
            _ => {
                tracing::error!(projection, "a stored read-model row does not open under the ledger's row key: not served");
                (asked.map_or(stored, str::to_string), text)
            }
        }
    }
}

#[async_trait]
impl ProjectionStore for SqlStore {
    async fn projection_cursor(&self, projection: &str) -> Result<u64> {
        let n: Option<i64> =
            sqlx::query_scalar("SELECT next_seq FROM projection_cursors WHERE projection = $1").bind(projection).fetch_optional(&self.pool).await?;
        Ok(n.map_or(0, u))
    }

    async fn projection_rows(&self, projection: &str, keys: &[String]) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(INSERT_CHUNK) {
            let ph: Vec<String> = (1..=chunk.len() + 1).map(|k| if self.dialect == Dialect::Sqlite { "?".to_string() } else { format!("${k}") }).collect();
            let sql = format!("SELECT key, doc FROM projection_rows WHERE projection = {} AND key IN ({})", ph[0], ph[1..].join(","));
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(projection.to_string());
            let asked: HashMap<String, &String> = chunk.iter().map(|k| (self.stored_key(k), k)).collect();
            for k in chunk {
                q = q.bind(self.stored_key(k));
            }
            for row in q.fetch_all(&self.pool).await? {
                let (stored, text): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                let wanted = asked.get(&stored).map(|k| k.as_str());
                let (key, doc) = self.opened_row(projection, stored, text, wanted);
                out.insert(key, doc);
            }
        }
        Ok(out)
    }

    async fn projection_all(&self, projection: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key, doc FROM projection_rows WHERE projection = $1 ORDER BY key").bind(projection).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.opened_row(projection, r.try_get(0)?, r.try_get(1)?, None));
        }
        out.sort();
        Ok(out)
    }

    async fn projection_commit(&self, projection: &str, from: u64, to: u64, rows: Vec<(String, String)>) -> Result<bool> {
        let Some(mut tx) = self.at_cursor(projection, from).await? else { return Ok(false) };
        for (key, doc) in rows {
            let (key, doc) = match self.sealing() {
                Some(s) => s.seal_row(projection, &key, &doc),
                None => (key, doc),
            };
            sqlx::query(
                "INSERT INTO projection_rows (projection, key, doc) VALUES ($1, $2, $3) ON CONFLICT (projection, key) DO UPDATE SET doc = excluded.doc",
            )
            .bind(projection)
            .bind(key)
            .bind(doc)
            .execute(&mut *tx)
            .await?;
        }
        Self::move_cursor(tx, projection, to).await
    }

    async fn subject_index_commit(&self, from: u64, to: u64, rows: Vec<(String, u64)>) -> Result<bool> {
        let Some(mut tx) = self.at_cursor(SUBJECTS, from).await? else { return Ok(false) };
        for chunk in rows.chunks(INSERT_CHUNK) {
            let ph: Vec<String> = (0..chunk.len()).map(|k| format!("(${}, ${})", 2 * k + 1, 2 * k + 2)).collect();
            let sql = format!("INSERT INTO subject_index (subject, seq) VALUES {} ON CONFLICT (subject, seq) DO NOTHING", ph.join(","));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (subject, seq) in chunk {
                q = q.bind(self.stored_key(subject)).bind(i(*seq));
            }
            q.execute(&mut *tx).await?;
        }
        Self::move_cursor(tx, SUBJECTS, to).await
    }

    async fn subject_seqs(&self, subject: &str) -> Result<Vec<u64>> {
        let seqs: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM subject_index WHERE subject = $1 ORDER BY seq").bind(self.stored_key(subject)).fetch_all(&self.pool).await?;
        Ok(seqs.into_iter().map(u).collect())
    }

    async fn subject_index_all(&self) -> Result<Vec<(String, u64)>> {
        let rows = sqlx::query("SELECT subject, seq FROM subject_index ORDER BY subject, seq").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, u(r.try_get::<i64, _>(1)?)))).collect()
    }

    async fn forget_subject(&self, projection: &str, key: &str) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.dialect == Dialect::Sqlite {
            // Deleted rows' bytes are overwritten with zeros in the page, not just unlinked.
            sqlx::raw_sql("PRAGMA secure_delete = ON").execute(&mut *conn).await?;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let key = self.stored_key(key);
        sqlx::query("DELETE FROM projection_rows WHERE projection = $1 AND key = $2").bind(projection.to_string()).bind(&key).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM subject_index WHERE subject = $1").bind(&key).execute(&mut *tx).await?;
        tx.commit().await?;
        match self.dialect {
            // The WAL's copies of the pages go into the database and the WAL is emptied.
            Dialect::Sqlite => {
                sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
            }
            // A plain VACUUM only marks the space free; FULL rewrites the tables without it.
            Dialect::Postgres => {
                drop(conn);
                sqlx::raw_sql("VACUUM FULL projection_rows").execute(&self.pool).await?;
                sqlx::raw_sql("VACUUM FULL subject_index").execute(&self.pool).await?;
            }
        }
        Ok(())
    }

    async fn projection_reset(&self, projection: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if projection == SUBJECTS {
            sqlx::query("DELETE FROM subject_index").execute(&mut *tx).await?;
        } else {
            sqlx::query("DELETE FROM projection_rows WHERE projection = $1").bind(projection.to_string()).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM projection_cursors WHERE projection = $1").bind(projection.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl AccessStore for SqlStore {
    async fn add_token(&self, t: &TokenRecord) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (id, token_hash, role, created_at, holder, holder_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(t.id.clone())
            .bind(t.token_hash.clone())
            .bind(t.role.clone())
            .bind(t.created_at.clone())
            .bind(t.holder.clone())
            .bind(t.holder_id.clone())
            .bind(t.expires_at.clone().unwrap_or_default())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token_by_hash(&self, token_hash: &[u8]) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(token_select!(" WHERE token_hash = $1")).bind(token_hash.to_vec()).fetch_optional(&self.pool).await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(token_select!(" ORDER BY created_at, id")).fetch_all(&self.pool).await?;
        rows.iter().map(token_row).collect()
    }

    async fn revoke_token(&self, id: &str, at: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at = ''")
            .bind(at.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(token_select!(" WHERE id = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn add_session(&self, id_hash: &[u8], token_id: &str, at: &str) -> Result<()> {
        sqlx::query("INSERT INTO web_sessions (id_hash, token_id, created_at, last_seen) VALUES ($1, $2, $3, $3)")
            .bind(id_hash.to_vec())
            .bind(token_id.to_string())
            .bind(at.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRecord>> {
        let row = sqlx::query("SELECT token_id, created_at, last_seen, ended_at FROM web_sessions WHERE id_hash = $1")
            .bind(id_hash.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<SessionRecord> {
            let ended: String = r.try_get(3)?;
            Ok(SessionRecord { token_id: r.try_get(0)?, created_at: r.try_get(1)?, last_seen: r.try_get(2)?, ended_at: (!ended.is_empty()).then_some(ended) })
        })
        .transpose()
    }

    async fn touch_session(&self, id_hash: &[u8], at: &str) -> Result<()> {
        sqlx::query("UPDATE web_sessions SET last_seen = $1 WHERE id_hash = $2 AND ended_at = ''")
            .bind(at.to_string())
            .bind(id_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_flash(&self, id_hash: &[u8], text: &str) -> Result<()> {
        sqlx::query("UPDATE web_sessions SET flash = $1 WHERE id_hash = $2 AND ended_at = ''")
            .bind(text.to_string())
            .bind(id_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn take_flash(&self, id_hash: &[u8]) -> Result<Option<String>> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT flash FROM web_sessions WHERE id_hash = $1 AND flash <> ''").bind(id_hash.to_vec()).fetch_optional(&self.pool).await?;
        let Some(text) = found else { return Ok(None) };
        // Cleared only if it is still this message: shown once, whichever server answers.
        let cleared = sqlx::query("UPDATE web_sessions SET flash = '' WHERE id_hash = $1 AND flash = $2")
            .bind(id_hash.to_vec())
            .bind(text.clone())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok((cleared == 1).then_some(text))
    }

    async fn end_session(&self, id_hash: &[u8], at: &str) -> Result<()> {
        sqlx::query("UPDATE web_sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at = ''")
            .bind(at.to_string())
            .bind(id_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Rows of `(seq, body)` as they are stored.
fn raw_rows(rows: &[AnyRow]) -> Result<Vec<(u64, String)>> {
    rows.iter().map(|r| Ok((u(r.try_get(0)?), r.try_get(1)?))).collect()
}

/// Events from rows of `(seq, body)`.
fn events_of(rows: &[AnyRow]) -> Result<Vec<Event>> {
    parse_rows(raw_rows(rows)?)
}

/// A row of `token_select!`.
fn token_row(r: &AnyRow) -> Result<TokenRecord> {
    let opt = |s: String| (!s.is_empty()).then_some(s);
    Ok(TokenRecord {
        id: r.try_get(0)?,
        token_hash: r.try_get(1)?,
        role: r.try_get(2)?,
        created_at: r.try_get(3)?,
        holder: r.try_get(4)?,
        holder_id: r.try_get(5)?,
        expires_at: opt(r.try_get(6)?),
        revoked_at: opt(r.try_get(7)?),
    })
}

fn checkpoint_row(r: &AnyRow) -> Result<StoredCheckpoint> {
    Ok(StoredCheckpoint { tree_size: u(r.try_get(0)?), root: hash_of(r.try_get(1)?)?, note: r.try_get(2)?, signed_at: r.try_get(3)? })
}
