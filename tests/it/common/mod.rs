//! Shared test helpers: fresh ledgers on SQLite and on a throwaway PostgreSQL cluster that the
//! tests start themselves. If PostgreSQL cannot start, the tests fail loudly; they never skip.
#![allow(dead_code)]

use housing_ledger::ledger::{Ledger, DEFAULT_ORIGIN};
use housing_ledger::store::sql::SqlStore;
use housing_ledger::store::EventStore;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster in a temporary directory on a free port, stopped when dropped.
pub struct PgCluster {
    pub port: u16,
    dir: tempfile::TempDir,
    as_postgres: bool,
    next_db: AtomicU32,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgCluster {
    fn pg(&self, tool: &str) -> Command {
        let bin = Path::new(PG_BIN).join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        }
    }

    pub fn start() -> Self {
        assert!(
            Path::new(PG_BIN).join("initdb").exists(),
            "\n\n*** PostgreSQL 15 is not installed at {PG_BIN}: the PostgreSQL store tests cannot run. ***\n*** Install it (apt-get install postgresql-15) or run .ci/run, which does. ***\n"
        );
        let dir = tempfile::Builder::new().prefix("hl-pg-").tempdir().unwrap();
        let as_postgres = is_root();
        let me = Self { port: free_port(), dir, as_postgres, next_db: AtomicU32::new(0) };
        let data = me.dir.path().join("data");
        if as_postgres {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(me.dir.path()).status().unwrap().success();
            assert!(ok, "cannot chown the PostgreSQL test directory to postgres");
        }
        let out = me.pg("initdb").args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"]).arg(&data).output().expect("initdb runs");
        assert!(
            out.status.success(),
            "\n\n*** initdb failed: PostgreSQL tests cannot run ***\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        me.pg_start();
        me
    }

    fn pg_start(&self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=on -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .pg("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(self.dir.path().join("data"))
            .args(["-l"])
            .arg(self.dir.path().join("log"))
            .args(["-o", &opts, "start"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "\n\n*** PostgreSQL did not start: PostgreSQL tests cannot run ***\n{}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// Stops the server (fast shutdown: clients are disconnected), as an outage would.
    pub fn stop(&self) {
        let out = self.pg("pg_ctl").args(["-w", "-m", "fast", "-D"]).arg(self.dir.path().join("data")).arg("stop").output().expect("pg_ctl runs");
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn restart(&self) {
        self.pg_start();
    }

    /// A URL to a new, empty database.
    pub fn fresh_database(&self) -> String {
        let name = format!("t{}_{}", std::process::id(), self.next_db.fetch_add(1, Ordering::SeqCst));
        let out = self
            .pg("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-c", &format!("CREATE DATABASE {name}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "CREATE DATABASE failed: {}", String::from_utf8_lossy(&out.stderr));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.pg("pg_ctl").args(["-m", "immediate", "-D"]).arg(self.dir.path().join("data")).arg("stop").output();
    }
}

/// The backends every contract test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh store location: URL plus a key directory.
pub struct Place {
    pub url: String,
    pub key_dir: tempfile::TempDir,
}

impl Place {
    pub fn new(backend: Backend, pg: Option<&PgCluster>) -> Self {
        let key_dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", key_dir.path().join("ledger.db").display()),
            Backend::Postgres => pg.expect("a cluster for PostgreSQL").fresh_database(),
        };
        Self { url, key_dir }
    }

    pub async fn store(&self) -> Arc<dyn EventStore> {
        Arc::new(SqlStore::connect(&self.url).await.unwrap())
    }

    /// The PostgreSQL database's URL, if the place is one.
    pub fn database_url(&self) -> Option<String> {
        self.url.starts_with("postgres").then(|| self.url.clone())
    }

    pub async fn sql(&self) -> SqlStore {
        SqlStore::connect(&self.url).await.unwrap()
    }

    /// The ledger in format v1 (personal data in the clear), as ledgers were before v2.
    pub async fn ledger_v1(&self) -> Ledger {
        Ledger::open_in_format(self.store().await, self.key_dir.path(), DEFAULT_ORIGIN, events::EVENT_FORMAT).await.unwrap()
    }

    pub async fn ledger(&self) -> Ledger {
        Ledger::open(self.store().await, self.key_dir.path(), DEFAULT_ORIGIN).await.unwrap()
    }
}

/// Rewrites rows behind the ledger's back, as an attacker with database access could: the
/// append-only triggers are switched off first.
pub async fn tamper(store: &SqlStore, sql: &str) {
    use housing_ledger::store::sql::Dialect;
    let pool = store.pool();
    match store.dialect() {
        Dialect::Sqlite => {
            for t in ["events_no_update", "checkpoints_no_update", "merkle_nodes_no_update"] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TRIGGER IF EXISTS {t}"))).execute(pool).await.unwrap();
            }
        }
        Dialect::Postgres => {
            for t in ["events", "checkpoints", "merkle_nodes"] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ALTER TABLE {t} DISABLE TRIGGER USER"))).execute(pool).await.unwrap();
            }
        }
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(pool).await.unwrap();
}

/// SQL that takes a database back to before migration 14 (streams numbered): the events keyed
/// by their stream's name, as older versions left them. Run through [`tamper`].
pub fn before_stream_numbers(dialect: housing_ledger::store::sql::Dialect) -> &'static str {
    match dialect {
        housing_ledger::store::sql::Dialect::Sqlite => {
            "CREATE TABLE events_named (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, stream_seq INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (stream, stream_seq));
             INSERT INTO events_named SELECT seq, stream, stream_seq, type, body FROM events;
             DROP TABLE events; ALTER TABLE events_named RENAME TO events;
             CREATE INDEX events_by_type ON events (type, seq);
             CREATE INDEX events_by_stream_type ON events (stream, type, stream_seq);
             DROP TABLE streams; DELETE FROM schema_migrations WHERE version >= 14;"
        }
        housing_ledger::store::sql::Dialect::Postgres => {
            "ALTER TABLE events DROP CONSTRAINT events_stream_id_stream_seq_key; DROP INDEX events_by_stream_type;
             ALTER TABLE events DROP COLUMN stream_id; ALTER TABLE events ADD CONSTRAINT events_stream_stream_seq_key UNIQUE (stream, stream_seq);
             CREATE INDEX events_by_stream_type ON events (stream, type, stream_seq);
             DROP TABLE streams; DELETE FROM schema_migrations WHERE version >= 14;"
        }
    }
}

/// Single-quoted SQL literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
pub mod scenario;

/// An event's data as served: on a v2 ledger the opened data (`opened`), beside the sealed
/// `data` the hash covers; on v1, `data`.
pub fn opened(e: &serde_json::Value) -> &serde_json::Value {
    e.get("opened").unwrap_or(&e["data"])
}

/// An event's stream as served: on a v2 ledger the opened stream (`opened_stream`).
pub fn opened_stream(e: &serde_json::Value) -> &serde_json::Value {
    e.get("opened_stream").unwrap_or(&e["stream"])
}

/// SQL that changes one stored read-model row of `key` (as the store keeps it) behind the
/// ledger's back: on a v2 ledger its seal's ciphertext, which then no longer opens.
pub fn spoil_row(key: &str) -> String {
    format!("UPDATE projection_rows SET doc = replace(doc, 'v2:', 'v2:AAAA') WHERE key = '{key}'")
}
