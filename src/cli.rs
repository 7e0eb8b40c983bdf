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
}

impl Location {
    pub fn url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("ledger.db").display()))
    }

    pub async fn store(&self) -> Result<Arc<dyn EventStore>, crate::store::StoreError> {
        Ok(Arc::new(SqlStore::connect(&self.url()).await?))
    }

    pub async fn ledger(&self) -> Result<Arc<Ledger>, crate::ledger::LedgerError> {
        let store = self.store().await?;
        Ok(Arc::new(Ledger::open(store, &self.data_dir, &self.origin).await?))
    }

    pub fn key_dir(&self) -> &Path {
        &self.data_dir
    }
}
