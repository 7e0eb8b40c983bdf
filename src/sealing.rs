//! Format v2 in the ledger (issue 32): the index key and the key store of a v2 ledger, what
//! seals a batch before the writer takes it, and what opens events as they are read. The
//! format's bytes are `events::personal`'s; this module holds the keys.

use crate::keystore::{KeyStore, KeyStoreError};
use events::personal::{self, Opening, Protector, Secret};
use events::{Event, NewEvent};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The file of the index key (the blind index's HMAC key), beside the ledger key.
pub const INDEX_KEY_FILE: &str = "index.key";
/// Data keys kept in memory at most; the cache starts afresh beyond.
const CACHED_KEYS: usize = 200_000;

/// The keys of a v2 ledger.
pub struct Sealing {
    index_key: Secret,
    /// Seals the stored read-model rows: derived from the index key, so that the rows are
    /// readable only beside it (never from the events database alone).
    row_key: Secret,
    store: Arc<dyn KeyStore>,
    /// Data keys by blind id; `None`: erased (or never made, when only read).
    cache: Mutex<KeyCache>,
}

/// Keys kept in memory while no one is erased. A key destroyed by another process (`erase`
/// beside a running `serve`) must stop opening anything soon: every few seconds the key store's
/// count of erasures is read again, and the cache is emptied if it moved. (Emptied every few
/// seconds regardless, as before, a run asked the key store again for every person in flight:
/// 40,000 keys for 20,000 persons, and a sixth of the run's time.)
struct KeyCache {
    checked: Option<std::time::Instant>,
    erasures: u64,
    keys: HashMap<String, Option<Secret>>,
}

/// What the read-model rows' key is derived under.
const ROW_KEY_DOMAIN: &str = "housing-ledger/read-rows/v2";
/// The place a stored row is sealed at.
const ROW_FORMAT: &str = "housing-ledger/read-rows/v2";

/// How long cached keys are trusted before the key store's count of erasures is read again.
const KEYS_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

impl Sealing {
    /// The index key in `key_dir`: made on a fresh ledger, required on an existing one (without
    /// it no person is found again: refused like a lost key).
    pub fn index_key(key_dir: &Path, fresh: bool) -> Result<Secret, KeyStoreError> {
        let path = key_dir.join(INDEX_KEY_FILE);
        let file = |detail: String| KeyStoreError::File { path: path.clone(), detail };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Some(loose) = crate::private_files::looser_than_owner(&[&path]).pop() {
                    return Err(file(loose));
                }
                Secret::from_base64(&text).map_err(|e| file(e.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && fresh => {
                let key = Secret::generate();
                crate::private_files::write_new_durably(&path, format!("{}\n", key.to_base64()).as_bytes()).map_err(|e| file(e.to_string()))?;
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KeyStoreError::Lost(format!(
                "index key {} is missing while the ledger holds sealed events: restore it from its backup; it is never made again",
                path.display()
            ))),
            Err(e) => Err(file(e.to_string())),
        }
    }

    pub fn new(index_key: Secret, store: Arc<dyn KeyStore>) -> Self {
        let row_key = Secret(personal::derive(&index_key, ROW_KEY_DOMAIN));
        Self { index_key, row_key, store, cache: Mutex::new(KeyCache { checked: None, erasures: 0, keys: HashMap::new() }) }
    }

    pub fn blind_id(&self, iin: &str) -> String {
        personal::blind_id(&self.index_key, iin)
    }

    /// The stream as stored.
    pub fn stored_stream(&self, stream: &str) -> String {
        personal::stored_stream(&self.index_key, stream)
    }

    /// A read-model row's stored key: the blind id of its person.
    pub fn row_key(&self, key: &str) -> String {
        self.blind_id(key)
    }

    /// A read-model row as stored: `v2:` and the base64 of the row key's seal (nonce ‖
    /// ciphertext ‖ tag, `personal::seal_bytes`) of `key`, a newline and the row, at its
    /// projection and stored key.
    pub fn seal_row(&self, projection: &str, key: &str, row: &str) -> (String, String) {
        use base64::Engine;
        let stored = self.row_key(key);
        let place = personal::Place { format: ROW_FORMAT, seq: 0, stream: projection, kind: "row", subject: &stored, member: "row" };
        let sealed = personal::seal_bytes(&self.row_key, &place, format!("{key}\n{row}").as_bytes());
        (stored, format!("v2:{}", base64::engine::general_purpose::STANDARD.encode(sealed)))
    }

    /// A stored row opened: its key and text; `None` if it does not open (written with the
    /// database alone, or under another index key), which is never served.
    pub fn open_row(&self, projection: &str, stored: &str, text: &str) -> Option<(String, String)> {
        use base64::Engine;
        let sealed = base64::engine::general_purpose::STANDARD.decode(text.strip_prefix("v2:")?).ok()?;
        let place = personal::Place { format: ROW_FORMAT, seq: 0, stream: projection, kind: "row", subject: stored, member: "row" };
        let plain = String::from_utf8(personal::open_bytes(&self.row_key, &place, &sealed).ok()?).ok()?;
        let (key, row) = plain.split_once('\n')?;
        Some((key.to_string(), row.to_string()))
    }

    pub fn key_store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Empties the cache if someone was erased since it was last checked (checked at most every
    /// few seconds), or if it is full.
    async fn revalidate(&self) -> Result<(), KeyStoreError> {
        let due = self.cache.lock().expect("key cache").checked.is_none_or(|t| t.elapsed() > KEYS_FRESH);
        if due {
            let erasures = self.store.erasures().await?;
            let mut cache = self.cache.lock().expect("key cache");
            if cache.checked.is_none() || cache.erasures != erasures {
                cache.keys.clear();
            }
            cache.erasures = erasures;
            cache.checked = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// The cache, emptied first if it is full.
    fn fresh(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        let mut cache = self.cache.lock().expect("key cache");
        if cache.keys.len() > CACHED_KEYS {
            cache.keys.clear();
        }
        cache
    }

    fn remember(&self, found: impl IntoIterator<Item = (String, Option<Secret>)>) {
        self.fresh().keys.extend(found);
    }

    /// What seals `batch`: the data keys of its persons, made where missing. A person erased
    /// before is refused: his key is never made again.
    pub async fn protector(&self, batch: &[NewEvent]) -> Result<Protector, KeyStoreError> {
        self.revalidate().await?;
        let mut keys = HashMap::new();
        let mut missing = Vec::new();
        let mut blind: HashMap<String, String> = HashMap::new();
        {
            let cache = self.fresh();
            for ev in batch {
                for person in personal::subjects(&ev.stream, &ev.data) {
                    if blind.contains_key(&person) {
                        continue;
                    }
                    let subject = self.blind_id(&person);
                    blind.insert(person, subject.clone());
                    match cache.keys.get(&subject) {
                        Some(Some(k)) => {
                            keys.insert(subject, k.clone());
                        }
                        _ => missing.push(subject),
                    }
                }
            }
        }
        if !missing.is_empty() {
            let made = self.store.keys(&missing).await?;
            for subject in missing {
                match made.get(&subject).cloned().flatten() {
                    Some(k) => {
                        keys.insert(subject.clone(), k.clone());
                        self.remember([(subject, Some(k))]);
                    }
                    None => {
                        return Err(KeyStoreError::Erased(subject));
                    }
                }
            }
        }
        Ok(Protector { index_key: self.index_key.clone(), keys, blind })
    }

    /// Opens `events` in place with the keys the key store holds; an erased person's seals stay
    /// shut. Returns per event how it came out. An error is a seal that does not open under its
    /// person's key (a changed event) or a key store that cannot be read.
    pub async fn open(&self, events: &mut [Event]) -> Result<Vec<Opening>, OpenError> {
        // The keys the events need: what the cache holds, the rest from the key store.
        self.revalidate().await?;
        let mut keys: HashMap<String, Option<Secret>> = HashMap::new();
        let mut wanted: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        {
            let cache = self.fresh();
            for ev in events.iter().filter(|e| e.format == events::envelope::EVENT_FORMAT_V2 && e.stored.is_none()) {
                for s in personal::seal_subjects(&ev.data) {
                    if !seen.insert(s.clone()) {
                        continue;
                    }
                    match cache.keys.get(&s) {
                        Some(k) => {
                            keys.insert(s, k.clone());
                        }
                        None => wanted.push(s),
                    }
                }
            }
        }
        if !wanted.is_empty() {
            let found = self.store.existing_keys(&wanted).await?;
            let found: Vec<(String, Option<Secret>)> = wanted
                .into_iter()
                .map(|s| {
                    let k = found.get(&s).cloned().flatten();
                    (s, k)
                })
                .collect();
            keys.extend(found.iter().cloned());
            self.remember(found);
        }
        use rayon::prelude::*;
        let lookup = |s: &str| keys.get(s).cloned().flatten();
        let opened: Vec<Result<Opening, events::Error>> = if events.len() > 64 {
            events.par_iter_mut().map(|ev| personal::open_event(ev, &lookup)).collect()
        } else {
            events.iter_mut().map(|ev| personal::open_event(ev, &lookup)).collect()
        };
        opened.into_iter().map(|o| o.map_err(OpenError::Seal)).collect()
    }

    /// Forgets a destroyed key.
    pub fn forget(&self, subject: &str) {
        self.cache.lock().expect("key cache").keys.insert(subject.to_string(), None);
    }
}

/// Why events could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    #[error(transparent)]
    Seal(events::Error),
}

/// A key store for a ledger, by where its events are kept: beside the key directory for
/// SQLite, a database of its own for PostgreSQL.
pub async fn open_key_store(events_url: Option<&str>, key_dir: &Path, fresh: bool) -> Result<Arc<dyn KeyStore>, KeyStoreError> {
    Ok(match events_url.filter(|u| u.starts_with("postgres")) {
        Some(url) => {
            let keys_url = keys_database_url(url)?;
            if fresh {
                create_database(url, &keys_url).await?;
            }
            Arc::new(crate::keystore::PgKeyStore::open(&keys_url, key_dir, fresh).await?)
        }
        None => Arc::new(crate::keystore::SqliteKeyStore::open(key_dir, fresh).await?),
    })
}

/// Makes the key store's database beside the events' (on a fresh ledger), unless it is there.
async fn create_database(events_url: &str, keys_url: &str) -> Result<(), KeyStoreError> {
    use sqlx::Connection;
    let name = keys_url.split('?').next().and_then(|b| b.rsplit_once('/')).map(|(_, n)| n.to_string()).unwrap_or_default();
    let mut conn = sqlx::PgConnection::connect(events_url).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)").bind(&name).fetch_one(&mut conn).await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}"))).execute(&mut conn).await {
            // Another process made it first.
            let made: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)").bind(&name).fetch_one(&mut conn).await?;
            if !made {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// The key store's database for an events database on PostgreSQL: the same server, the
/// database's name with `_keys` after it (made if missing), so that the two are backed up apart.
pub fn keys_database_url(events_url: &str) -> Result<String, KeyStoreError> {
    let (base, query) = events_url.split_once('?').map_or((events_url, None), |(b, q)| (b, Some(q)));
    let (server, name) = base.rsplit_once('/').ok_or_else(|| KeyStoreError::Lost(format!("cannot tell the database's name in {base:?}")))?;
    Ok(format!("{server}/{name}_keys{}", query.map(|q| format!("?{q}")).unwrap_or_default()))
}
