//! The ledger: a store plus the key that signs it. Creates the key on first use (file mode
//! 0600) with event 0 as its `KeyIntroduced`, rotates keys, signs checkpoints (never two that
//! are inconsistent), serves proofs from stored nodes, and verifies the whole log.

use crate::store::{AccessStore, CheckpointStore, EventStore, LogStore, PendingBatch, ProjectionStore, StoreError, StoredCheckpoint};
use events::catalogue::{KeyIntroduced, KeyRetired};
use events::heads::{HeadProof, StreamHeads};
use events::merkle::{consistency_plan, inclusion_plan, root_plan, Hash};
use events::verify::{ChainVerifier, Fault, Finding, KeyHistory, KEYS_STREAM};
use events::{Checkpoint, Event, LedgerSigner, NewEvent, VerifierKey};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The origin (and ledger key name) the demo uses.
pub const DEFAULT_ORIGIN: &str = "housing-ledger.example/demo";
/// The file name of the ledger key in its directory.
pub const KEY_FILE: &str = "ledger.key";
/// The file of the key that authenticates the stored read-model rows, beside the ledger key.
const READ_MODEL_KEY_FILE: &str = "read-models.key";
const NEW_KEY_FILE: &str = "ledger.key.new";
/// Events read per page when verifying.
const VERIFY_PAGE: u64 = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Format(#[from] events::Error),
    #[error("key file {path}: {detail}")]
    KeyFile { path: PathBuf, detail: String },
    #[error("no event at seq {seq}: the log has {size} events")]
    NoSuchEvent { seq: u64, size: u64 },
    /// A proof or tile the log cannot give: a tree size it has not reached, an index outside
    /// the tree.
    #[error("{0}")]
    NoSuchProof(String),
    #[error("ledger does not verify: {0}")]
    Invalid(Finding),
    /// A ledger key without its log, or a log without its key: never started afresh.
    #[error("{0}")]
    Lost(String),
    /// A stored read model that fails its authentication: never served.
    #[error("{0}")]
    Tampered(String),
    /// The key store of a v2 ledger failed, or refused (a lost store, an erased person).
    #[error(transparent)]
    KeyStore(#[from] crate::keystore::KeyStoreError),
    /// A sealed event that does not open under its person's key: it was changed.
    #[error("{0}")]
    Sealed(String),
}

impl From<crate::sealing::OpenError> for LedgerError {
    fn from(e: crate::sealing::OpenError) -> Self {
        match e {
            crate::sealing::OpenError::KeyStore(k) => LedgerError::KeyStore(k),
            crate::sealing::OpenError::Seal(s) => LedgerError::Sealed(s.to_string()),
        }
    }
}

/// The format of a new ledger: v2 (personal data sealed per person), unless
/// `HOUSING_LEDGER_FORMAT=v1` asks for the format before it (to compare the two, or for tools
/// that only read v1). An existing ledger keeps its format.
fn new_ledger_format() -> &'static str {
    match std::env::var("HOUSING_LEDGER_FORMAT").as_deref() {
        Ok("v1") => events::EVENT_FORMAT,
        _ => events::envelope::EVENT_FORMAT_V2,
    }
}

pub type Result<T> = std::result::Result<T, LedgerError>;

pub struct Ledger {
    /// The one store behind the four narrow handles below, for the ledger's own use; callers
    /// get the handle of the concern they need, never the whole.
    store: Arc<dyn EventStore>,
    log: Arc<dyn LogStore>,
    checkpoints: Arc<dyn CheckpointStore>,
    projections: Arc<dyn ProjectionStore>,
    access: Arc<dyn AccessStore>,
    signer: RwLock<Arc<LedgerSigner>>,
    key_dir: PathBuf,
    origin: String,
    /// Merkle nodes of the upper levels, once read: a stored perfect subtree never changes, and
    /// every proof passes through the same few upper nodes.
    upper_nodes: std::sync::Mutex<std::collections::HashMap<events::merkle::NodeId, Hash>>,
    /// The witnesses every checkpoint goes to, if any (issue 16).
    witnesses: Option<crate::cosigners::Witnesses>,
    /// The time-stamping authority every checkpoint goes to, if any (issue 16).
    tsa: Option<crate::timestamp::Tsa>,
    /// The tokens stream folded, kept a few seconds (read again at once on a miss).
    tokens: std::sync::Mutex<TokenFold>,
    /// The stream-head map at the size it was last asked for: moved forward event by event for
    /// the next checkpoint rather than built afresh.
    heads: tokio::sync::Mutex<Option<(u64, StreamHeads)>>,
    /// Authenticates the stored read-model rows: kept in the key directory, never in the
    /// database, so that a row written with the database alone is told from the service's.
    read_model_key: [u8; 32],
    /// A v2 ledger's keys: its personal data is sealed as it is appended and opened as it is
    /// read. `None`: a v1 ledger.
    sealing: Option<Arc<crate::sealing::Sealing>>,
}

/// The API tokens as the ledger records them: each issuance, and the ids revoked.
#[derive(Default)]
struct TokenFold {
    read_at: Option<std::time::Instant>,
    issued: std::collections::HashMap<String, events::catalogue::TokenIssued>,
    revoked: std::collections::HashSet<String>,
}

/// How long the tokens stream folded is trusted before it is read again (a miss reads it at
/// once; a revocation also marks the row, which is read on every request).
const TOKEN_FOLD_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Nodes of subtrees of at least 2^UPPER_LEVEL leaves are kept (about n / 2^UPPER_LEVEL of them).
const UPPER_LEVEL: u8 = 5;
/// Kept nodes at most; the cache starts afresh beyond.
const UPPER_NODES_KEPT: usize = 1 << 20;

/// Writes a key file: new, 0600, refusing to overwrite, and atomically (a crash never leaves
/// a half-written key file).
fn write_key_file(path: &Path, text: &str) -> std::io::Result<()> {
    crate::private_files::write_new_durably(path, format!("{text}\n").as_bytes())
}

/// The read-model key in `path` (64 hex digits, 0600), made on first use. A ledger whose rows
/// were written under another key (or none) has them folded afresh from the events by `serve`'s
/// integrity check: rows are a cache, never the record.
fn read_model_key(path: &Path) -> Result<[u8; 32]> {
    let bad = |detail: String| LedgerError::KeyFile { path: path.into(), detail };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(bad(format!("mode is {:o}; a key file must be 0600", mode & 0o777)));
                }
            }
            hex::decode(text.trim()).ok().and_then(|k| k.try_into().ok()).ok_or_else(|| bad("not 64 hex digits".into()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
            match write_key_file(path, &hex::encode(key)) {
                Ok(()) => Ok(key),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_model_key(path),
                Err(e) => Err(bad(e.to_string())),
            }
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

fn read_key_file(path: &Path) -> Result<Option<LedgerSigner>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_err(|e| LedgerError::KeyFile { path: path.into(), detail: e.to_string() })?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(LedgerError::KeyFile { path: path.into(), detail: format!("mode is {:o}; a key file must be 0600", mode & 0o777) });
                }
            }
            LedgerSigner::parse(&text).map(Some).map_err(|e| LedgerError::KeyFile { path: path.into(), detail: e.to_string() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LedgerError::KeyFile { path: path.into(), detail: e.to_string() }),
    }
}

/// The refusal for a ledger key whose database `what` (is missing, holds no event).
pub fn lost_database(key_path: &Path, what: &str) -> LedgerError {
    LedgerError::Lost(format!(
        "the ledger key {} exists but the ledger's database {what}: it was lost or replaced. Restore the database; a new ledger is never started under an existing key (if this key never signed anything, remove it to start afresh)",
        key_path.display()
    ))
}

/// Gives `store` a v2 ledger's keys from `key_dir`, where they are there, so that what it reads
/// comes opened (`verify`, `audit` and the other readers that need no ledger key). Returns
/// whether it did: a v1 ledger, or a copy of the database without its keys, is read as stored
/// (sealed events stay sealed, and their sources go unchecked).
pub async fn attach_existing_keys(store: &dyn LogStore, key_dir: &Path) -> Result<bool> {
    let events_url = store.postgres_url();
    let events_url = events_url.as_deref();
    let v2 = store.read_seqs(&[0]).await?.first().is_some_and(|e| e.format == events::envelope::EVENT_FORMAT_V2);
    if !v2 || store.sealing().is_some() || !key_dir.join(crate::sealing::INDEX_KEY_FILE).exists() {
        return Ok(store.sealing().is_some());
    }
    let index_key = crate::sealing::Sealing::index_key(key_dir, false)?;
    let keys = crate::sealing::open_key_store(events_url, key_dir, false).await?;
    store.attach_sealing(Arc::new(crate::sealing::Sealing::new(index_key, keys)));
    Ok(true)
}

/// Replays the `keys` stream into the key history (trusting nothing but event order; `verify`
/// checks the signatures).
pub fn key_history(key_events: &[Event]) -> KeyHistory {
    let mut keys = KeyHistory::default();
    for ev in key_events {
        // Malformed key events are `verify`'s to report; here they are skipped.
        let _ = keys.apply(ev);
    }
    keys
}

impl Ledger {
    /// Opens the ledger in `store`, with its key in `key_dir`. On an empty log, creates the key
    /// (unless one is there) and appends event 0, its `KeyIntroduced`.
    ///
    /// A ledger is only ever started on nothing: where the key exists but the log is empty (the
    /// database was lost or replaced), or the log has events but the key is missing, it refuses
    /// and creates nothing, so that no one can start a second history under the same key.
    ///
    /// A v2 ledger's key store is beside its key (SQLite) or a database of its own beside the
    /// events' (PostgreSQL).
    pub async fn open(store: Arc<dyn EventStore>, key_dir: &Path, origin: &str) -> Result<Self> {
        Self::open_in_format(store, key_dir, origin, new_ledger_format()).await
    }

    /// Like [`Ledger::open`], a new ledger being started in `format` (v1 or v2; an existing
    /// one keeps its own).
    pub async fn open_in_format(store: Arc<dyn EventStore>, key_dir: &Path, origin: &str, new_format: &str) -> Result<Self> {
        let events_url = store.postgres_url();
        let events_url = events_url.as_deref();
        let key_path = key_dir.join(KEY_FILE);
        let existing = read_key_file(&key_path)?;
        let size = store.size().await?;
        let lost = match (&existing, size) {
            (Some(_), 0) => Some(lost_database(&key_path, "holds no event")),
            (None, n) if n > 0 => Some(LedgerError::Lost(format!(
                "the ledger's database holds {n} events but its key {} is missing: restore the key file; a ledger is never given a new key this way",
                key_path.display()
            ))),
            _ => None,
        };
        if let Some(e) = lost {
            let what = if existing.is_some() { "the key exists but the database holds no event" } else { "the database holds events but the key is missing" };
            crate::security::record(crate::security::Record::new(crate::security::Kind::LostDatabaseRefused, format!("the ledger was not opened: {what}")));
            return Err(e);
        }
        crate::private_files::create_dir(key_dir).map_err(|e| LedgerError::KeyFile { path: key_dir.into(), detail: e.to_string() })?;
        let signer = match existing {
            Some(s) => s,
            None => {
                let s = LedgerSigner::generate(origin)?;
                match write_key_file(&key_path, &s.to_private_text()) {
                    Ok(()) => s,
                    // Another process created it first: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(&key_path)?.expect("just created"),
                    Err(e) => return Err(LedgerError::KeyFile { path: key_path, detail: e.to_string() }),
                }
            }
        };
        if signer.name() != origin {
            return Err(LedgerError::KeyFile { path: key_path, detail: format!("key is named {:?} but the ledger origin is {origin:?}", signer.name()) });
        }
        let read_model_key = read_model_key(&key_dir.join(READ_MODEL_KEY_FILE))?;
        let fresh = size == 0;
        let format = if fresh { new_format.to_string() } else { store.read_seqs(&[0]).await?.first().map(|e| e.format.clone()).unwrap_or_default() };
        let sealing = if format == events::envelope::EVENT_FORMAT_V2 {
            let index_key = crate::sealing::Sealing::index_key(key_dir, fresh)?;
            match store.sealing() {
                Some(s) => Some(s),
                None => {
                    let keys = crate::sealing::open_key_store(events_url, key_dir, fresh).await?;
                    let sealing = Arc::new(crate::sealing::Sealing::new(index_key, keys));
                    store.attach_sealing(sealing.clone());
                    Some(sealing)
                }
            }
        } else {
            None
        };
        let ledger = Self {
            sealing,
            read_model_key,
            log: store.clone(),
            checkpoints: store.clone(),
            projections: store.clone(),
            access: store.clone(),
            store,
            signer: RwLock::new(Arc::new(signer)),
            key_dir: key_dir.into(),
            origin: origin.into(),
            upper_nodes: Default::default(),
            witnesses: None,
            tsa: None,
            tokens: Default::default(),
            heads: Default::default(),
        };
        if ledger.store.size().await? == 0 {
            let s = ledger.signer();
            let first = NewEvent::typed(KEYS_STREAM, KeyIntroduced { verifier_key: s.verifier().to_string(), reason: "first ledger key".into() }).expecting(0);
            match ledger.append_pending(PendingBatch::new(vec![first])).await {
                Ok(_) => {}
                Err(LedgerError::Store(StoreError::Conflict { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        ledger.adopt_key_in_force().await?;
        Ok(ledger)
    }

    /// Makes sure the signer is a key in force; finishes a rotation a crash interrupted.
    async fn adopt_key_in_force(&self) -> Result<()> {
        let history = self.key_history().await?;
        let current = history.current();
        let signer = self.signer();
        if current.contains(&signer.verifier()) {
            return Ok(());
        }
        let new_path = self.key_dir.join(NEW_KEY_FILE);
        if let Some(new) = read_key_file(&new_path)? {
            if current.contains(&new.verifier()) {
                self.finish_rotation(&signer, &new)?;
                *self.signer.write().expect("signer lock") = Arc::new(new);
                return Ok(());
            }
        }
        Err(LedgerError::KeyFile {
            path: self.key_dir.join(KEY_FILE),
            detail: format!(
                "key {} is not a ledger key in force (in force: {})",
                signer.verifier(),
                current.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// The key that authenticates the stored read-model rows (`projection::RowSeal`).
    /// The key persons are referred to under in the security feed: derived from the
    /// read-model key (never the key itself), so the references stay the same across restarts.
    pub fn subject_ref_key(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::new().chain_update(b"housing-ledger/subject-ref-key/v1\n").chain_update(self.read_model_key).finalize().into()
    }

    pub(crate) fn read_model_key(&self) -> [u8; 32] {
        self.read_model_key
    }

    /// The log: appended through the ledger, read through this (events from a v2 ledger come
    /// opened; an erased person's stay sealed).
    pub fn log(&self) -> &Arc<dyn LogStore> {
        &self.log
    }

    /// Signed checkpoints, their cosignatures and time-stamps.
    pub fn checkpoints(&self) -> &Arc<dyn CheckpointStore> {
        &self.checkpoints
    }

    /// Read models and the subject index, with their cursors.
    pub fn projections(&self) -> &Arc<dyn ProjectionStore> {
        &self.projections
    }

    /// API tokens and page sessions.
    pub fn access(&self) -> &Arc<dyn AccessStore> {
        &self.access
    }

    /// A v2 ledger's keys (`None` for v1).
    pub fn sealing(&self) -> Option<&Arc<crate::sealing::Sealing>> {
        self.sealing.as_ref()
    }

    /// The format of the ledger's events.
    pub fn format(&self) -> &'static str {
        if self.sealing.is_some() {
            events::envelope::EVENT_FORMAT_V2
        } else {
            events::EVENT_FORMAT
        }
    }

    /// The stream as stored (a v2 ledger names a person's stream by his blind id).
    pub fn stored_stream(&self, stream: &str) -> String {
        self.store.stored_stream(stream)
    }

    /// The log's tail past the newest checkpoint.
    pub async fn tail(&self) -> Result<Tail> {
        tail(self.store.as_ref()).await
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn signer(&self) -> Arc<LedgerSigner> {
        self.signer.read().expect("signer lock").clone()
    }

    pub async fn append(&self, batch: Vec<NewEvent>) -> Result<Vec<Event>> {
        self.append_pending(PendingBatch::new(batch)).await
    }

    /// Appends a batch whose `data` may refer to events of the same batch as `{"$rel": k}`.
    pub async fn append_relative(&self, batch: Vec<NewEvent>) -> Result<Vec<Event>> {
        self.append_pending(PendingBatch::relative(batch)).await
    }

    /// Appends parts built apart as one batch; each part's `{"$rel": k}` counts from its own
    /// first event.
    pub async fn append_relative_parts(&self, parts: Vec<Vec<NewEvent>>) -> Result<Vec<Event>> {
        self.append_pending(PendingBatch::relative_parts(parts)).await
    }

    async fn append_pending(&self, batch: PendingBatch) -> Result<Vec<Event>> {
        self.append_signed(&self.signer(), batch).await
    }

    /// Appends under `signer`, sealing a v2 ledger's personal data first.
    async fn append_signed(&self, signer: &LedgerSigner, mut batch: PendingBatch) -> Result<Vec<Event>> {
        if let Some(s) = &self.sealing {
            let protector = s.protector(batch.events()).await?;
            batch = batch.protected(Arc::new(protector));
        }
        let appended = self.store.append_pending(signer, batch).await?;
        if !appended.is_empty() {
            crate::metrics::METRICS.appended(appended.len());
        }
        Ok(appended)
    }

    pub async fn size(&self) -> Result<u64> {
        Ok(self.store.size().await?)
    }

    pub async fn key_history(&self) -> Result<KeyHistory> {
        Ok(key_history(&self.store.read_stream(KEYS_STREAM, None).await?))
    }

    /// Introduces a new key, signed by the old one, and retires the old one.
    pub async fn rotate_key(&self, reason: &str) -> Result<VerifierKey> {
        let old = self.signer();
        let new = LedgerSigner::generate(&self.origin)?;
        let new_path = self.key_dir.join(NEW_KEY_FILE);
        let _ = std::fs::remove_file(&new_path);
        write_key_file(&new_path, &new.to_private_text()).map_err(|e| LedgerError::KeyFile { path: new_path.clone(), detail: e.to_string() })?;
        let batch = vec![
            NewEvent::typed(KEYS_STREAM, KeyIntroduced { verifier_key: new.verifier().to_string(), reason: reason.to_string() }),
            NewEvent::typed(KEYS_STREAM, KeyRetired { verifier_key: old.verifier().to_string(), reason: reason.to_string() }),
        ];
        self.append_signed(&old, PendingBatch::new(batch)).await?;
        self.finish_rotation(&old, &new)?;
        *self.signer.write().expect("signer lock") = Arc::new(new.clone());
        let what = format!("the ledger key was rotated: {} retired, {} introduced", old.verifier().id_hex(), new.verifier().id_hex());
        crate::security::record(crate::security::Record::new(crate::security::Kind::ConfigurationChange, what));
        Ok(new.verifier())
    }

    /// Moves the retired key aside (kept, 0600) and the new key into place.
    fn finish_rotation(&self, old: &LedgerSigner, _new: &LedgerSigner) -> Result<()> {
        let retired_dir = self.key_dir.join("retired-keys");
        crate::private_files::create_dir(&retired_dir).map_err(|e| LedgerError::KeyFile { path: retired_dir.clone(), detail: e.to_string() })?;
        let key_path = self.key_dir.join(KEY_FILE);
        let retired = retired_dir.join(format!("{}.key", old.verifier().id_hex()));
        if key_path.exists() && !retired.exists() {
            std::fs::rename(&key_path, &retired).map_err(|e| LedgerError::KeyFile { path: key_path.clone(), detail: e.to_string() })?;
        }
        let new_path = self.key_dir.join(NEW_KEY_FILE);
        std::fs::rename(&new_path, &key_path).map_err(|e| LedgerError::KeyFile { path: new_path, detail: e.to_string() })?;
        Ok(())
    }

    /// Stored Merkle nodes, the upper ones from memory once read.
    async fn nodes(&self, ids: &std::collections::BTreeSet<events::merkle::NodeId>) -> Result<std::collections::HashMap<events::merkle::NodeId, Hash>> {
        let mut found = std::collections::HashMap::new();
        let mut missing = std::collections::BTreeSet::new();
        {
            let kept = self.upper_nodes.lock().expect("node cache lock");
            for id in ids {
                match kept.get(id) {
                    Some(h) => {
                        found.insert(*id, *h);
                    }
                    None => {
                        missing.insert(*id);
                    }
                }
            }
        }
        if !missing.is_empty() {
            let read = self.store.nodes(&missing).await?;
            let mut kept = self.upper_nodes.lock().expect("node cache lock");
            if kept.len() >= UPPER_NODES_KEPT {
                kept.clear();
            }
            kept.extend(read.iter().filter(|(id, _)| id.level >= UPPER_LEVEL).map(|(id, h)| (*id, *h)));
            found.extend(read);
        }
        Ok(found)
    }

    /// Root of the tree of `size` leaves, from stored nodes (popcount(size) reads).
    /// The hashes of a C2SP `tlog-tiles` hash tile of the tree of `tree_size`: at tile level
    /// `level` (tree height 8 × level), tile `n`, the first `width` of its 256 hashes, each the
    /// root of a perfect subtree (at level 0, a leaf hash). Refused where the tree of
    /// `tree_size` does not hold them all.
    pub async fn tile(&self, level: u8, n: u64, width: u64, tree_size: u64) -> Result<Vec<u8>> {
        let height = 8 * u32::from(level);
        let first = n.checked_mul(256).ok_or_else(|| LedgerError::NoSuchProof("tile number out of range".into()))?;
        if level > 7 || width == 0 || width > 256 || first.saturating_add(width) > tree_size >> height {
            return Err(LedgerError::NoSuchProof(format!("tile {level}/{n} of width {width} is not in the tree of size {tree_size}")));
        }
        let ids: std::collections::BTreeSet<events::merkle::NodeId> =
            (first..first + width).map(|index| events::merkle::NodeId { level: height as u8, index }).collect();
        let nodes = self.nodes(&ids).await?;
        let mut out = Vec::with_capacity(width as usize * 32);
        for id in &ids {
            let h = nodes.get(id).ok_or_else(|| LedgerError::NoSuchProof(format!("node {}/{} is not stored", id.level, id.index)))?;
            out.extend_from_slice(h);
        }
        Ok(out)
    }

    pub async fn root(&self, size: u64) -> Result<Hash> {
        let plan = root_plan(size);
        let nodes = self.nodes(&plan.nodes()).await?;
        Ok(plan.resolve(&nodes)?[0])
    }

    /// Records an API token's issuance (its hash, never the token) in stream `tokens`.
    pub async fn record_token(&self, issued: events::catalogue::TokenIssued) -> Result<()> {
        self.append(vec![NewEvent::typed(events::types::TOKENS_STREAM, issued)]).await?;
        self.tokens.lock().expect("not poisoned").read_at = None;
        Ok(())
    }

    /// Records a token's revocation in stream `tokens`.
    pub async fn record_revocation(&self, revoked: events::catalogue::TokenRevoked) -> Result<()> {
        self.append(vec![NewEvent::typed(events::types::TOKENS_STREAM, revoked)]).await?;
        self.tokens.lock().expect("not poisoned").read_at = None;
        Ok(())
    }

    /// Token `id` as the ledger recorded its issuance, and whether a revocation is recorded.
    pub async fn token_recorded(&self, id: &str) -> Result<Option<(events::catalogue::TokenIssued, bool)>> {
        let look = |f: &TokenFold| f.issued.get(id).map(|t| (t.clone(), f.revoked.contains(id)));
        {
            let f = self.tokens.lock().expect("not poisoned");
            if f.read_at.is_some_and(|t| t.elapsed() < TOKEN_FOLD_FRESH) {
                if let Some(found) = look(&f) {
                    return Ok(Some(found));
                }
            }
        }
        let mut fold = TokenFold { read_at: Some(std::time::Instant::now()), ..Default::default() };
        for e in self.store.read_stream(events::types::TOKENS_STREAM, None).await? {
            if let Some(t) = e.as_type::<events::catalogue::TokenIssued>() {
                fold.issued.insert(t.id.clone(), t);
            } else if let Some(r) = e.as_type::<events::catalogue::TokenRevoked>() {
                fold.revoked.insert(r.id);
            }
        }
        let found = look(&fold);
        *self.tokens.lock().expect("not poisoned") = fold;
        Ok(found)
    }

    /// Sends every checkpoint this ledger signs to `witnesses` for their cosignatures.
    pub fn with_witnesses(mut self, witnesses: crate::cosigners::Witnesses) -> Self {
        self.witnesses = Some(witnesses);
        self
    }

    /// Time-stamps every checkpoint this ledger signs with `tsa` (RFC 3161).
    pub fn with_tsa(mut self, tsa: crate::timestamp::Tsa) -> Self {
        self.tsa = Some(tsa);
        self
    }

    /// Asks the time-stamping authority for a token over each checkpoint that has none yet
    /// (oldest first, a few at a time), storing each checked token. A TSA that is down leaves
    /// them untimestamped, said so here and in the log, and asked again at the next checkpoint.
    /// Returns `(tree size, outcome)` per checkpoint tried; empty without a TSA.
    pub async fn timestamp_pending(&self) -> Result<Vec<(u64, std::result::Result<(), crate::timestamp::StampError>)>> {
        let Some(tsa) = &self.tsa else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for cp in self.store.untimestamped(5).await? {
            match tsa.stamp(&cp.note).await {
                Ok(token) => {
                    self.store.add_timestamp(cp.tree_size, &token).await?;
                    out.push((cp.tree_size, Ok(())));
                }
                Err(e) => {
                    tracing::error!(tree_size = cp.tree_size, error = %e, "checkpoint left untimestamped; asked again at the next checkpoint");
                    out.push((cp.tree_size, Err(e)));
                    break;
                }
            }
        }
        Ok(out)
    }

    pub fn witnesses(&self) -> Option<&crate::cosigners::Witnesses> {
        self.witnesses.as_ref()
    }

    /// Signs a checkpoint of the whole log now, unless the latest already covers it. Refuses to
    /// sign one that is not consistent with the latest signed checkpoint.
    pub(crate) async fn sign_checkpoint(&self) -> Result<StoredCheckpoint> {
        let size = self.store.size().await?;
        let latest = self.store.latest_checkpoint().await?;
        if let Some(cp) = &latest {
            if cp.tree_size == size {
                return Ok(cp.clone());
            }
        }
        let root = self.root(size).await?;
        if let Some(prev) = &latest {
            let proof = self.consistency_proof(prev.tree_size, size).await?;
            events::merkle::verify_consistency(prev.tree_size, size, &prev.root, &root, &proof)
                .map_err(|e| StoreError::Checkpoint(format!("the tree at {size} is not consistent with checkpoint {}: {e}", prev.tree_size)))?;
        }
        let heads = Some(self.with_heads(size, StreamHeads::root).await?);
        let signer = self.signer();
        let note = Checkpoint { origin: self.origin.clone(), size, root, heads }.sign(&signer)?;
        let cp = StoredCheckpoint { tree_size: size, root, note, signed_at: crate::store::utc_millis(chrono::Utc::now()) };
        Ok(self.store.add_checkpoint(&cp).await?)
    }

    /// `f` applied to the stream-head map at `size` (every stream's last event among the first
    /// `size`): the kept map moved forward to `size`, or, for an older size, one built afresh.
    async fn with_heads<R>(&self, size: u64, f: impl FnOnce(&mut StreamHeads) -> R) -> Result<R> {
        let mut kept = self.heads.lock().await;
        if let Some((at, map)) = kept.as_mut().filter(|(at, _)| *at <= size) {
            let mut from = *at;
            while from < size {
                let rows = self.store.read_raw(from, (size - from).min(VERIFY_PAGE)).await?;
                if rows.is_empty() {
                    return Err(LedgerError::NoSuchProof(format!("the log ends at {from}, before {size}")));
                }
                from += rows.len() as u64;
                fold_heads(map, rows)?;
            }
            *at = size;
            return Ok(f(map));
        }
        let mut map = StreamHeads::default();
        fold_heads(&mut map, self.store.stream_heads(size).await?)?;
        let out = f(&mut map);
        if kept.is_none() {
            *kept = Some((size, map));
        }
        Ok(out)
    }

    /// The proof of `stream`'s head at tree size `size` (`None`: the stream had no event yet).
    pub async fn head_proof(&self, stream: &str, size: u64) -> Result<Option<HeadProof>> {
        let stored = self.stored_stream(stream);
        self.with_heads(size, |m| m.proof(&stored)).await
    }

    /// Resolves a proof plan over a tree of `tree_size`, which the log must have reached.
    async fn resolve(&self, plan: std::result::Result<events::merkle::Plan, events::Error>, tree_size: u64) -> Result<Vec<Hash>> {
        let size = self.store.size().await?;
        if tree_size > size {
            return Err(LedgerError::NoSuchProof(format!("tree size {tree_size} is larger than the log ({size} events)")));
        }
        let plan = plan.map_err(|e| LedgerError::NoSuchProof(e.to_string()))?;
        let nodes = self.nodes(&plan.nodes()).await?;
        Ok(plan.resolve(&nodes)?)
    }

    pub async fn inclusion_proof(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>> {
        self.resolve(inclusion_plan(seq, tree_size), tree_size).await
    }

    /// Inclusion proofs of several events in one tree, reading all their nodes at once.
    pub async fn inclusion_proofs(&self, seqs: &[u64], tree_size: u64) -> Result<Vec<Vec<Hash>>> {
        let plans = seqs.iter().map(|s| inclusion_plan(*s, tree_size).map_err(|e| LedgerError::NoSuchProof(e.to_string()))).collect::<Result<Vec<_>>>()?;
        let ids = plans.iter().flat_map(|p| p.nodes()).collect();
        let nodes = self.nodes(&ids).await?;
        plans.iter().map(|p| Ok(p.resolve(&nodes)?)).collect()
    }

    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        self.resolve(consistency_plan(from, to), to).await
    }

    /// Verifies the whole log; see [`verify_store`].
    pub async fn verify(&self, progress: impl FnMut(u64)) -> Result<VerifyReport> {
        verify_opening(self.store.as_ref(), Some(&self.signer().verifier()), self.sealing.as_deref(), progress).await
    }
}

/// Folds stored rows `(seq, body)`, in seq order, into the stream-head map.
fn fold_heads(map: &mut StreamHeads, rows: Vec<(u64, String)>) -> Result<()> {
    for e in crate::store::parse_rows(rows)? {
        map.update(e.stored_stream(), e.stream_seq, e.seq, &e.hash_bytes()?);
    }
    Ok(())
}

/// What a successful `verify` covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub checkpoints: usize,
    /// Checkpoints with no `stream-heads` line (signed before it existed): they show no
    /// stream's tail whole.
    pub checkpoints_without_heads: usize,
    pub root: Hash,
    pub keys: Vec<VerifierKey>,
    /// Persons whose seals stayed shut: erased (v2), so their data is not checked.
    pub erased_persons: u64,
}

/// The log's tail that no checkpoint covers yet: no witness has seen it and no time-stamp
/// fixes it, so it could vanish unnoticed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// Events after the newest checkpoint.
    pub events: u64,
    /// The newest checkpoint's tree size (0: none).
    pub checkpoint_size: u64,
    /// When the oldest of them was appended.
    pub oldest: Option<chrono::DateTime<chrono::Utc>>,
}

impl Tail {
    /// Seconds the oldest uncovered event has waited, at `now`.
    pub fn age_seconds(&self, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
        self.oldest.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
    }
}

/// The tail of `store`'s log past its newest checkpoint.
pub async fn tail<S: LogStore + CheckpointStore + ?Sized>(store: &S) -> Result<Tail> {
    let size = store.size().await?;
    let checkpoint_size = store.latest_checkpoint().await?.map_or(0, |cp| cp.tree_size);
    if size <= checkpoint_size {
        return Ok(Tail { events: 0, checkpoint_size, oldest: None });
    }
    let first = store.read(checkpoint_size, 1).await?;
    let oldest = first.first().and_then(|e| chrono::DateTime::parse_from_rfc3339(&e.time).ok()).map(|t| t.with_timezone(&chrono::Utc));
    Ok(Tail { events: size - checkpoint_size, checkpoint_size, oldest })
}

/// Verifies every hash, `prev` link and signature under the key history, and the Merkle root
/// and signature of every stored checkpoint. `anchor`, when given, must be a key of the history.
/// `progress` is told how many events were verified so far.
///
/// The log is read page by page, and the next page is read while this one is checked: parsing,
/// hashing and signature checks on every core, the chain and the tree in order. A finding names
/// the first bad seq exactly, as a serial check would.
pub async fn verify_store<S: LogStore + CheckpointStore + ?Sized>(store: &S, anchor: Option<&VerifierKey>, progress: impl FnMut(u64)) -> Result<VerifyReport> {
    verify_opening(store, anchor, None, progress).await
}

/// Like [`verify_store`], opening a v2 ledger's seals with `sealing` first, so that source
/// signatures are checked on the opened answers. A seal that does not open under its person's
/// key is a finding; an erased person's seals stay shut and are counted apart.
async fn verify_opening<S: LogStore + CheckpointStore + ?Sized>(
    store: &S,
    anchor: Option<&VerifierKey>,
    sealing: Option<&crate::sealing::Sealing>,
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport> {
    let checkpoints = Arc::new(store.checkpoints().await?);
    let mut state = PageVerifier { v: ChainVerifier::new(), next_cp: 0, without_heads: 0 };
    let mut erased = std::collections::BTreeSet::new();
    let mut from = 0;
    let mut rows = store.read_raw(0, VERIFY_PAGE).await?;
    while !rows.is_empty() {
        let n = rows.len() as u64;
        let mut broken: Option<Finding> = None;
        let mut parsed = tokio::task::spawn_blocking(move || parse_page(rows)).await.expect("parsing does not panic");
        if let Some(s) = sealing {
            let good = parsed.iter().take_while(|p| p.is_ok()).count();
            let mut events: Vec<Event> = parsed.drain(..good).map(|p| p.expect("counted ok")).collect();
            let openings = s.open(&mut events).await.map_err(|e| match e {
                crate::sealing::OpenError::Seal(e) => LedgerError::Invalid(Finding { seq: 0, fault: Fault::Format, detail: e.to_string() }),
                other => other.into(),
            })?;
            for (o, e) in openings.into_iter().zip(&events) {
                match o {
                    events::personal::Opening::Shut(who) => erased.extend(who),
                    // A seal that does not open under its person's key, in an event whose hash
                    // and signature may hold (signed again after the change).
                    events::personal::Opening::Broken(why) if broken.is_none() => {
                        broken =
                            Some(Finding { seq: e.seq, fault: Fault::Format, detail: format!("a sealed member does not open under its person's key: {why}") });
                    }
                    _ => {}
                }
            }
            parsed.splice(0..0, events.into_iter().map(Ok));
        }
        let cps = checkpoints.clone();
        let check = tokio::task::spawn_blocking(move || {
            let found = state.page(parsed, &cps);
            (state, found)
        });
        let (next, checked) = tokio::join!(store.read_raw(from + n, VERIFY_PAGE), check);
        let (checked_state, found) = checked.expect("the page check does not panic");
        state = checked_state;
        // The first finding by seq: a changed hash before a seal that does not open.
        match (found, broken) {
            (Err(f), Some(b)) if b.seq < f.seq => return Err(LedgerError::Invalid(b)),
            (Err(f), _) | (Ok(()), Some(f)) => return Err(LedgerError::Invalid(f)),
            (Ok(()), None) => {}
        }
        from += n;
        progress(from);
        rows = next?;
    }
    let PageVerifier { v, next_cp, without_heads } = state;
    if let Some(cp) = checkpoints.get(next_cp) {
        return Err(LedgerError::Invalid(Finding {
            seq: cp.tree_size.saturating_sub(1),
            fault: Fault::CheckpointRoot,
            detail: format!("checkpoint of size {} is larger than the log ({} events)", cp.tree_size, v.size()),
        }));
    }
    if let Some(anchor) = anchor {
        if !v.keys.contains(anchor) {
            return Err(LedgerError::Invalid(Finding { seq: 0, fault: Fault::Key, detail: format!("key {anchor} is not in the ledger's key history") }));
        }
    }
    Ok(VerifyReport {
        events: v.size(),
        checkpoints: checkpoints.len(),
        checkpoints_without_heads: without_heads,
        root: v.root(),
        keys: v.keys.all(),
        erased_persons: erased.len() as u64,
    })
}

/// Parses a page of stored rows; a row that does not parse, or says another seq, is a finding.
fn parse_page(rows: Vec<(u64, String)>) -> Vec<std::result::Result<Event, Finding>> {
    rows.into_par_iter()
        .map(|(seq, body)| {
            let ev: Event =
                serde_json::from_str(&body).map_err(|e| Finding { seq, fault: Fault::Format, detail: format!("stored event does not parse: {e}") })?;
            if ev.seq != seq {
                return Err(Finding { seq, fault: Fault::Sequence, detail: format!("stored at seq {seq} but says seq {}", ev.seq) });
            }
            Ok(ev)
        })
        .collect()
}

/// The chain verifier and the next checkpoint to check, carried from page to page.
struct PageVerifier {
    v: ChainVerifier,
    next_cp: usize,
    without_heads: usize,
}

impl PageVerifier {
    /// Checks one page of parsed events, in order, and each checkpoint at its size.
    fn page(&mut self, parsed: Vec<std::result::Result<Event, Finding>>, checkpoints: &[StoredCheckpoint]) -> std::result::Result<(), Finding> {
        let mut first_bad = None;
        let mut good = Vec::with_capacity(parsed.len());
        for p in parsed {
            match p {
                Ok(ev) => good.push(ev),
                Err(finding) => {
                    first_bad = Some(finding);
                    break;
                }
            }
        }
        // Feed in slices that end at checkpoint sizes, so each root is checked at its size.
        let mut rest = &good[..];
        while !rest.is_empty() {
            let until = checkpoints
                .get(self.next_cp)
                .map(|cp| cp.tree_size.saturating_sub(self.v.size()) as usize)
                .filter(|k| *k > 0)
                .unwrap_or(rest.len())
                .min(rest.len());
            self.v.feed(&rest[..until])?;
            self.checkpoints_reached(checkpoints)?;
            rest = &rest[until..];
        }
        match first_bad {
            Some(finding) => Err(finding),
            None => self.checkpoints_reached(checkpoints),
        }
    }

    /// Checks every checkpoint the chain has reached.
    fn checkpoints_reached(&mut self, checkpoints: &[StoredCheckpoint]) -> std::result::Result<(), Finding> {
        while let Some(cp) = checkpoints.get(self.next_cp).filter(|cp| cp.tree_size <= self.v.size()) {
            if !check_checkpoint(&mut self.v, cp)? {
                self.without_heads += 1;
            }
            self.next_cp += 1;
        }
        Ok(())
    }
}

/// Checks a checkpoint at its size: its signature by a ledger key, its size and root, and its
/// `stream-heads` line against every stream's head as the events leave it. Returns whether it
/// has that line (checkpoints signed before it existed do not).
fn check_checkpoint(v: &mut ChainVerifier, cp: &StoredCheckpoint) -> std::result::Result<bool, Finding> {
    let seq = cp.tree_size.saturating_sub(1);
    let find = |fault, detail: String| Finding { seq, fault, detail: format!("checkpoint of size {}: {detail}", cp.tree_size) };
    let (_, sigs) = events::note::split(&cp.note).map_err(|e| find(Fault::CheckpointSignature, e.to_string()))?;
    let key = sigs
        .iter()
        .find_map(|(_, id, _)| v.keys.all().into_iter().find(|k| k.id == *id))
        .ok_or_else(|| find(Fault::CheckpointSignature, "signed by no ledger key".into()))?;
    let body = Checkpoint::verify_note(&cp.note, &key).map_err(|e| find(Fault::CheckpointSignature, e.to_string()))?;
    if body.size != cp.tree_size || body.root != cp.root {
        return Err(find(Fault::CheckpointRoot, "the note and the stored size/root differ".into()));
    }
    if body.root != v.root() {
        return Err(find(Fault::CheckpointRoot, format!("signed root {} but the events hash to {}", hex::encode(body.root), hex::encode(v.root()))));
    }
    let Some(heads) = body.heads else { return Ok(false) };
    let computed = v.heads_root();
    if heads != computed {
        return Err(find(
            Fault::CheckpointRoot,
            format!(
                "it commits to stream heads {} but the events leave them at {}: a stream's head is not what was signed",
                hex::encode(heads),
                hex::encode(computed)
            ),
        ));
    }
    Ok(true)
}
