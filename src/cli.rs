//! Opening storage and the ledger from the command line's global options.

use crate::ledger::Ledger;
use crate::store::sql::SqlStore;
use crate::store::EventStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the ledger lives: `database_url` if given, else SQLite under `data_dir`.
#[derive(Clone, Debug)]
pub struct Location {
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub origin: String,
    /// Where every checkpoint goes for cosignatures (`--witness`, `--witness-quorum`).
    pub witnesses: Option<crate::witness::Witnesses>,
    /// Where every checkpoint is time-stamped (`--tsa`, `--tsa-cert`).
    pub tsa: Option<crate::timestamp::Tsa>,
}

impl Location {
    pub fn url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("ledger.db").display()))
    }

    /// The embedded database's file, where no URL is given.
    fn sqlite_file(&self) -> Option<PathBuf> {
        self.database_url.is_none().then(|| self.data_dir.join("ledger.db"))
    }

    pub async fn store(&self) -> Result<Arc<dyn EventStore>, crate::store::StoreError> {
        Ok(Arc::new(SqlStore::connect(&self.url()).await?))
    }

    /// The store of an existing ledger, for reading it: a missing embedded database is an
    /// error, never created (`verify` creates nothing).
    pub async fn existing_store(&self) -> Result<Arc<dyn EventStore>, crate::ledger::LedgerError> {
        if let Some(file) = self.sqlite_file().filter(|f| !f.exists()) {
            return Err(crate::ledger::LedgerError::Lost(format!("there is no ledger database at {}; nothing was created", file.display())));
        }
        let store = self.store().await?;
        crate::ledger::attach_existing_keys(store.as_ref(), &self.data_dir).await?;
        Ok(store)
    }

    /// Opens the ledger, or starts one on an empty directory. Where the key exists but the
    /// embedded database does not, refuses before anything is created.
    pub async fn ledger(&self) -> Result<Arc<Ledger>, crate::ledger::LedgerError> {
        let key = self.data_dir.join(crate::ledger::KEY_FILE);
        if let Some(file) = self.sqlite_file().filter(|f| !f.exists() && key.exists()) {
            return Err(crate::ledger::lost_database(&key, &format!("{} is missing", file.display())));
        }
        let store = self.store().await?;
        let mut ledger = Ledger::open(store, &self.data_dir, &self.origin).await?;
        if let Some(w) = &self.witnesses {
            ledger = ledger.with_witnesses(w.clone());
        }
        if let Some(t) = &self.tsa {
            ledger = ledger.with_tsa(t.clone());
        }
        Ok(Arc::new(ledger))
    }

    pub fn key_dir(&self) -> &Path {
        &self.data_dir
    }
}
