//! The key store of format v2 (issue 32): each person's data key, wrapped under a
//! key-encryption key, kept apart from the events database, behind a narrow trait so that a KMS
//! or an HSM can serve later. Destroying a person's key is what erases him: every seal of his
//! stays in the log, unreadable by anyone.
//!
//! The default store is a SQLite file of its own (`data-keys.db`, 0600) with its
//! key-encryption key beside it (`data-keys.kek`, 0600), both in the key directory, never in
//! the events database or its backups. SQLite's `secure_delete` overwrites a destroyed key's
//! freed page with zeros, and the WAL is checkpointed and truncated at once, so no copy of the
//! wrapped key is left in either file. A key store that is lost while its key-encryption key
//! remains (or the reverse) is refused, never recreated empty over sealed events.

use async_trait::async_trait;
use events::personal::{self, Secret};
use sqlx::Row;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why the key store failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("the key store {0}")]
    Lost(String),
    #[error("key store {path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("key store: {0}")]
    Database(#[from] sqlx::Error),
    /// A person erased before: his data key is never made again, so nothing more of his is
    /// recorded.
    #[error("{0} was erased: his data key is never made again, and nothing more of his can be recorded")]
    Erased(String),
    #[error("key store: the data key of {subject} does not unwrap under this key-encryption key: {detail}")]
    Unwrap { subject: String, detail: String },
}

/// A person's data key, by his blind id.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// His key, made (and kept) on first use; `None` once he is erased (never made again).
    async fn key(&self, subject: &str) -> Result<Option<Secret>, KeyStoreError>;
    /// His key if it exists; never makes one.
    async fn existing(&self, subject: &str) -> Result<Option<Secret>, KeyStoreError>;
    /// Destroys his key for good, recording when; `false` if he had none.
    async fn destroy(&self, subject: &str, at: &str) -> Result<bool, KeyStoreError>;
    /// When he was erased, if he was.
    async fn erased_at(&self, subject: &str) -> Result<Option<String>, KeyStoreError>;
    /// How many persons were ever erased: a reader's cached keys stay good while it is
    /// unchanged (erasures are never undone, so it only grows).
    async fn erasures(&self) -> Result<u64, KeyStoreError>;
    /// The keys of many persons, made where missing (`None`: erased). A store overrides it to
    /// make them in one transaction: a run makes thousands.
    async fn keys(&self, subjects: &[String]) -> Result<HashMap<String, Option<Secret>>, KeyStoreError> {
        let mut out = HashMap::new();
        for s in subjects {
            out.insert(s.clone(), self.key(s).await?);
        }
        Ok(out)
    }
    /// The keys of many persons that exist; never makes one.
    async fn existing_keys(&self, subjects: &[String]) -> Result<HashMap<String, Option<Secret>>, KeyStoreError> {
        let mut out = HashMap::new();
        for s in subjects {
            out.insert(s.clone(), self.existing(s).await?);
        }
        Ok(out)
    }
}

pub const KEY_STORE_FILE: &str = "data-keys.db";
pub const KEK_FILE: &str = "data-keys.kek";

/// The key-encryption key in `dir`, after checking that the store (`store_exists`, named
/// `what`) and the key are both there, or both absent on a fresh ledger (then both are made:
/// the key, and the store by `make_store`). Anything else is a lost key store, refused.
fn kek(dir: &Path, store_exists: bool, what: &str, fresh: bool, make_store: impl FnOnce(&Path) -> Result<(), KeyStoreError>) -> Result<Secret, KeyStoreError> {
    let kek_path = dir.join(KEK_FILE);
    let file = |path: &Path, e: std::io::Error| KeyStoreError::File { path: path.to_path_buf(), detail: e.to_string() };
    match (store_exists, kek_path.exists(), fresh) {
        (true, true, _) => {}
        (false, false, true) => {
            crate::private_files::create_dir(dir).map_err(|e| file(dir, e))?;
            crate::private_files::write_new_durably(&kek_path, format!("{}\n", Secret::generate().to_base64()).as_bytes()).map_err(|e| file(&kek_path, e))?;
            make_store(dir)?;
        }
        (store, kek, _) => {
            let what = match (store, kek) {
                (false, false) => format!("{what} and its key-encryption key are missing, but the ledger holds sealed events"),
                (false, true) => format!("{what} is missing while its key-encryption key {} is there", kek_path.display()),
                _ => format!("{what} is there but its key-encryption key {} is missing", kek_path.display()),
            };
            crate::security::record(crate::security::Record::new(crate::security::Kind::LostDatabaseRefused, format!("the key store was not opened: {what}")));
            return Err(KeyStoreError::Lost(format!("{what}: restore it from its backup; a key store is never recreated empty over sealed events")));
        }
    }
    let text = std::fs::read_to_string(&kek_path).map_err(|e| file(&kek_path, e))?;
    Secret::from_base64(&text).map_err(|e| KeyStoreError::File { path: kek_path.clone(), detail: e.to_string() })
}

/// Persons looked up per query (SQLite allows 32766 parameters).
const IN_CHUNK: usize = 500;

/// `n` SQLite parameter marks: `?, ?, …`.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Every one of `subjects` with no key yet (`None`), then the keys of stored
/// `(subject, wrapped)` rows unwrapped over them.
fn keys_of(kek: &Secret, subjects: &[String], rows: impl IntoIterator<Item = (String, Vec<u8>)>) -> Result<HashMap<String, Option<Secret>>, KeyStoreError> {
    let mut out: HashMap<String, Option<Secret>> = subjects.iter().map(|s| (s.clone(), None)).collect();
    for (subject, wrapped) in rows {
        let key = unwrapped(kek, &subject, &wrapped)?;
        out.insert(subject, Some(key));
    }
    Ok(out)
}

/// The persons of `found` without a key.
fn missing(found: &HashMap<String, Option<Secret>>) -> Vec<String> {
    found.iter().filter(|(_, k)| k.is_none()).map(|(s, _)| s.clone()).collect()
}

/// The data key `wrapped` holds for `subject`, under `kek`.
fn unwrapped(kek: &Secret, subject: &str, wrapped: &[u8]) -> Result<Secret, KeyStoreError> {
    personal::unwrap(kek, subject, wrapped).map_err(|e| KeyStoreError::Unwrap { subject: subject.to_string(), detail: e.to_string() })
}

/// The default key store: a SQLite file apart from the events.
pub struct SqliteKeyStore {
    pool: sqlx::SqlitePool,
    kek: Secret,
    path: PathBuf,
}

impl SqliteKeyStore {
    /// Opens the key store in `dir`. `fresh`: the ledger is new, so a missing store is made;
    /// otherwise a missing store or key-encryption key is refused (the ledger's sealed events
    /// would be lost, not recreated).
    pub async fn open(dir: &Path, fresh: bool) -> Result<Self, KeyStoreError> {
        let path = dir.join(KEY_STORE_FILE);
        let kek = kek(dir, path.exists(), &path.display().to_string(), fresh, |d| {
            crate::private_files::touch(&path).map_err(|e| KeyStoreError::File { path: d.join(KEY_STORE_FILE), detail: e.to_string() })
        })?;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .pragma("secure_delete", "ON")
            .busy_timeout(std::time::Duration::from_secs(60));
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS data_keys (subject TEXT PRIMARY KEY, wrapped BLOB NOT NULL, created_at TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS erasures (subject TEXT PRIMARY KEY, erased_at TEXT NOT NULL);",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool, kek, path })
    }

    /// The store's file (for backups and tests).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn key(&self, subject: &str) -> Result<Option<Secret>, KeyStoreError> {
        if let Some(k) = self.existing(subject).await? {
            return Ok(Some(k));
        }
        let mut tx = self.pool.begin().await?;
        if sqlx::query("SELECT 1 FROM erasures WHERE subject = ?").bind(subject).fetch_optional(&mut *tx).await?.is_some() {
            return Ok(None);
        }
        let key = Secret::generate();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query("INSERT OR IGNORE INTO data_keys (subject, wrapped, created_at) VALUES (?, ?, ?)")
            .bind(subject)
            .bind(personal::wrap(&self.kek, subject, &key))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Another writer may have made his key first: the stored one is his.
        self.existing(subject).await
    }

    async fn existing(&self, subject: &str) -> Result<Option<Secret>, KeyStoreError> {
        let row = sqlx::query("SELECT wrapped FROM data_keys WHERE subject = ?").bind(subject).fetch_optional(&self.pool).await?;
        row.map(|r| unwrapped(&self.kek, subject, &r.get::<Vec<u8>, _>(0))).transpose()
    }

    async fn destroy(&self, subject: &str, at: &str) -> Result<bool, KeyStoreError> {
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query("DELETE FROM data_keys WHERE subject = ?").bind(subject).execute(&mut *tx).await?.rows_affected() > 0;
        sqlx::query("INSERT OR IGNORE INTO erasures (subject, erased_at) VALUES (?, ?)").bind(subject).bind(at).execute(&mut *tx).await?;
        tx.commit().await?;
        // The freed page (zeroed by secure_delete) goes back into the file, and the WAL that
        // held the page before is emptied.
        sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        Ok(gone)
    }

    /// Found in one query per 500, made in one write transaction: a run asks for thousands
    /// at a time, and a query per person was most of an append's waiting.
    async fn keys(&self, subjects: &[String]) -> Result<HashMap<String, Option<Secret>>, KeyStoreError> {
        let mut out = self.existing_keys(subjects).await?;
        let missing = missing(&out);
        if missing.is_empty() {
            return Ok(out);
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in missing.chunks(IN_CHUNK) {
            let sql = format!("SELECT subject FROM erasures WHERE subject IN ({})", marks(chunk.len()));
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q.bind(s);
            }
            let erased: std::collections::HashSet<String> = q.fetch_all(&mut *tx).await?.into_iter().collect();
            let make: Vec<&String> = chunk.iter().filter(|s| !erased.contains(*s)).collect();
            if make.is_empty() {
                continue;
            }
            // Another writer's key, if first, is the one kept (read back below).
            let rows = vec!["(?, ?, ?)"; make.len()].join(",");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("INSERT OR IGNORE INTO data_keys (subject, wrapped, created_at) VALUES {rows}")));
            for s in make {
                q = q.bind(s).bind(personal::wrap(&self.kek, s, &Secret::generate())).bind(&now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        out.extend(self.existing_keys(&missing).await?);
        Ok(out)
    }

    async fn existing_keys(&self, subjects: &[String]) -> Result<HashMap<String, Option<Secret>>, KeyStoreError> {
        let mut rows = Vec::new();
        for chunk in subjects.chunks(IN_CHUNK) {
            let sql = format!("SELECT subject, wrapped FROM data_keys WHERE subject IN ({})", marks(chunk.len()));
            let mut q = sqlx::query_as::<_, (String, Vec<u8>)>(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q.bind(s);
            }
            rows.extend(q.fetch_all(&self.pool).await?);
        }
        keys_of(&self.kek, subjects, rows)
    }

    async fn erasures(&self) -> Result<u64, KeyStoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM erasures").fetch_one(&self.pool).await? as u64)
    }

    async fn erased_at(&self, subject: &str) -> Result<Option<String>, KeyStoreError> {
        Ok(sqlx::query("SELECT erased_at FROM erasures WHERE subject = ?").bind(subject).fetch_optional(&self.pool).await?.map(|r| r.get(0)))
    }
}

/// The key store on PostgreSQL: schema `key_store` of a database of its own (never the events'
/// database, so that its backups are apart), its key-encryption key in a file in the key
/// directory. Destroying a key deletes its row and rewrites the table (`VACUUM FULL`), so the
/// table's files hold no copy of it.
pub struct PgKeyStore {
    pool: sqlx::PgPool,
    kek: Secret,
}

impl PgKeyStore {
    /// Opens the key store in the database at `url`, its key-encryption key in `dir`; `fresh`
    /// as for [`SqliteKeyStore::open`].
    pub async fn open(url: &str, dir: &Path, fresh: bool) -> Result<Self, KeyStoreError> {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(url).await?;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('key_store.data_keys') IS NOT NULL").fetch_one(&pool).await?;
        let what = format!("the key store (schema key_store at {})", url.split('@').next_back().unwrap_or_default());
        let kek = kek(dir, exists, &what, fresh, |_| Ok(()))?;
        // Made only where missing: `IF NOT EXISTS` on what exists makes PostgreSQL send a notice,
        // which sqlx logs on every command.
        let complete: bool = sqlx::query_scalar("SELECT to_regclass('key_store.data_keys') IS NOT NULL AND to_regclass('key_store.erasures') IS NOT NULL")
            .fetch_one(&pool)
            .await?;
        if !complete {
            sqlx::raw_sql(
                "CREATE SCHEMA IF NOT EXISTS key_store;
                 CREATE TABLE IF NOT EXISTS key_store.data_keys (subject TEXT PRIMARY KEY, wrapped BYTEA NOT NULL, created_at TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS key_store.erasures (subject TEXT PRIMARY KEY, erased_at TEXT NOT NULL);",
            )
            .execute(&pool)
            .await?;
        }
        Ok(Self { pool, kek })
    }
}

#[async_trait]
impl KeyStore for PgKeyStore {
    async fn key(&self, subject: &str) -> Result<Option<Secret>, KeyStoreError> {
        if let Some(k) = self.existing(subject).await? {
            return Ok(Some(k));
        }
        if self.erased_at(subject).await?.is_some() {
            return Ok(None);
        }
        let key = Secret::generate();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // Not made for one erased meanwhile; another writer's key, if first, is the one kept.
        sqlx::query(
            "INSERT INTO key_store.data_keys (subject, wrapped, created_at) SELECT $1, $2, $3
             WHERE NOT EXISTS (SELECT 1 FROM key_store.erasures WHERE subject = $1) ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject)
        .bind(personal::wrap(&self.kek, subject, &key))
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.existing(subject).await
    }

    async fn existing(&self, subject: &str) -> Result<Option<Secret>, KeyStoreError> {
        let row = sqlx::query("SELECT wrapped FROM key_store.data_keys WHERE subject = $1").bind(subject).fetch_optional(&self.pool).await?;
        row.map(|r| unwrapped(&self.kek, subject, &r.get::<Vec<u8>, _>(0))).transpose()
    }

    async fn destroy(&self, subject: &str, at: &str) -> Result<bool, KeyStoreError> {
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query("DELETE FROM key_store.data_keys WHERE subject = $1").bind(subject).execute(&mut *tx).await?.rows_affected() > 0;
        sqlx::query("INSERT INTO key_store.erasures (subject, erased_at) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING")
            .bind(subject)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // The table is rewritten without the deleted row's bytes (a plain VACUUM only marks
        // the space free).
        sqlx::raw_sql("VACUUM FULL key_store.data_keys").execute(&self.pool).await?;
        Ok(gone)
    }

    async fn erased_at(&self, subject: &str) -> Result<Option<String>, KeyStoreError> {
        Ok(sqlx::query("SELECT erased_at FROM key_store.erasures WHERE subject = $1").bind(subject).fetch_optional(&self.pool).await?.map(|r| r.get(0)))
    }

    /// Found in one query, made in one statement: a run asks for thousands at a time.
    async fn keys(&self, subjects: &[String]) -> Result<HashMap<String, Option<Secret>>, KeyStoreError> {
        let mut out = self.existing_keys(subjects).await?;
        let missing = missing(&out);
        if missing.is_empty() {
            return Ok(out);
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let wrapped: Vec<Vec<u8>> = missing.iter().map(|s| personal::wrap(&self.kek, s, &Secret::generate())).collect();
        // Not made for one erased; another writer's key, if first, is the one kept.
        sqlx::query(
            "INSERT INTO key_store.data_keys (subject, wrapped, created_at)
             SELECT m.subject, m.wrapped, $3 FROM UNNEST($1::text[], $2::bytea[]) AS m(subject, wrapped)
             WHERE NOT EXISTS (SELECT 1 FROM key_store.erasures e WHERE e.subject = m.subject) ON CONFLICT (subject) DO NOTHING",
        )
        .bind(&missing)
        .bind(&wrapped)
        .bind(now)
        .execute(&self.pool)
        .await?;
        out.extend(self.existing_keys(&missing).await?);
        Ok(out)
    }

    async fn existing_keys(&self, subjects: &[String]) -> Result<HashMap<String, Option<Secret>>, KeyStoreError> {
        let rows = sqlx::query_as::<_, (String, Vec<u8>)>("SELECT subject, wrapped FROM key_store.data_keys WHERE subject = ANY($1)")
            .bind(subjects)
            .fetch_all(&self.pool)
            .await?;
        keys_of(&self.kek, subjects, rows)
    }

    async fn erasures(&self) -> Result<u64, KeyStoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM key_store.erasures").fetch_one(&self.pool).await? as u64)
    }
}
