//! Stored projections: the `persons` read model kept in the database by a checkpointed consumer
//! (rows and cursor move together in one transaction, so no event is skipped or applied twice),
//! and `replay`, which rebuilds it from the events alone and reports every difference.

use crate::ledger::{Ledger, LedgerError};
use crate::store::{LogStore, ProjectionStore};
use events::Event;
use projections::person::{subject_of, Persons, ProcedureCase};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

pub const PERSONS: &str = "persons";
const PAGE: u64 = 5000;
/// Seqs `replay` reads at a time (of the types the fold reads, a fraction of them).
const REPLAY_RANGE: u64 = 50_000;

type Cases = BTreeMap<String, ProcedureCase>;

/// Authenticates stored read-model rows with the read-model key, which lives beside the ledger
/// key and never in the database (issue 29: the database alone can change nothing the service
/// shows unnoticed). A row is stored as its document, a newline, and the hex HMAC-SHA256 of
/// `housing-ledger/read-model/v1\n<projection>\n<key>\n<document>`. A row that does not open
/// is never served; `serve`'s integrity check folds it afresh from the events.
#[derive(Clone)]
pub struct RowSeal([u8; 32]);

impl RowSeal {
    pub fn of(ledger: &Ledger) -> Self {
        Self(ledger.read_model_key())
    }

    fn mac(&self, projection: &str, key: &str, doc: &str) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(format!("housing-ledger/read-model/v1\n{projection}\n{key}\n").as_bytes());
        m.update(doc.as_bytes());
        m
    }

    /// The row to store for `doc` (compact JSON: it holds no newline).
    pub fn seal(&self, projection: &str, key: &str, doc: &str) -> String {
        use hmac::Mac;
        format!("{doc}\n{}", hex::encode(self.mac(projection, key, doc).finalize().into_bytes()))
    }

    /// The document of a stored row, if its authenticator holds (compared in constant time).
    pub fn open<'a>(&self, projection: &str, key: &str, row: &'a str) -> Result<&'a str, LedgerError> {
        self.open_quiet(projection, key, row).ok_or_else(|| {
            tracing::error!(projection, "a stored read-model row fails its authentication: not served");
            LedgerError::Tampered(format!(
                "a stored {projection} row fails its authentication (written with the database alone, or under another read-model key): it is not served; serve's integrity check folds it afresh from the events"
            ))
        })
    }

    /// [`RowSeal::open`], saying nothing.
    fn open_quiet<'a>(&self, projection: &str, key: &str, row: &'a str) -> Option<&'a str> {
        use hmac::Mac;
        let (doc, tag) = row.rsplit_once('\n')?;
        self.mac(projection, key, doc).verify_slice(&hex::decode(tag).ok()?).ok()?;
        Some(doc)
    }
}

/// The document of a stored row, unchecked (for a comparison with the fold of the events,
/// which checks more than the seal could).
fn row_doc(row: &str) -> &str {
    row.rsplit_once('\n').map_or(row, |(doc, _)| doc)
}

/// Applies every event not yet applied to the stored `persons` projection. Returns how many.
/// Only the types the fold reads are read ([`projections::person::folded`]); the cursor moves
/// over the whole range. The next range is read and parsed on another task while this one is
/// folded and committed, and a folded page is freed off this task: after a long run,
/// catching up is most of the work left, and done in turn it kept one core busy and the
/// other waiting.
pub async fn catch_up(ledger: &Ledger) -> Result<u64, LedgerError> {
    let (log, store) = (ledger.log(), ledger.projections());
    let seal = RowSeal::of(ledger);
    let kinds = std::sync::Arc::new(projections::person::folded());
    let read_ahead = |from: u64, to: u64| {
        let (log, kinds) = (log.clone(), kinds.clone());
        tokio::spawn(async move { log.read_kinds(&kinds, from, to).await })
    };
    let mut applied = 0;
    let (mut from, mut size) = (store.projection_cursor(PERSONS).await?, log.size().await?);
    let mut current = None;
    loop {
        if from >= size {
            // Events appended meanwhile are caught up too.
            size = log.size().await?;
            if from >= size {
                return Ok(applied);
            }
        }
        let to = size.min(from + PAGE);
        let page = current.take().unwrap_or_else(|| read_ahead(from, to)).await.expect("reading a page does not panic")?;
        let next = (to < size).then(|| read_ahead(to, size.min(to + PAGE)));
        let committed = match apply_page(store.as_ref(), &seal, &page, from, to).await {
            Ok(committed) => committed,
            Err(e) => {
                next.inspect(|n| n.abort());
                return Err(e);
            }
        };
        rayon::spawn(move || drop(page));
        if committed {
            applied += to - from;
            from = to;
            current = next;
        } else {
            // Another consumer moved the cursor: go on from where it is now.
            next.inspect(|n| n.abort());
            from = store.projection_cursor(PERSONS).await?;
        }
    }
}

/// Keeps the stored persons projection right behind a writer (the pipeline): each committed
/// batch is handed over as it is absorbed, and a task of its own folds it into the stored rows
/// and moves the cursor, as `catch_up` would, while the run goes on. So the projection is
/// queryable when the run ends instead of after re-reading the run's events. A batch that
/// does not start at the cursor has the gap read from the store first (only the types the
/// fold reads); a batch already applied is passed over; a batch that finds the channel full
/// is left to the gap reading of the next, or to the final `catch_up`.
pub struct Follower {
    tx: Option<tokio::sync::mpsc::Sender<Handed>>,
    task: tokio::task::JoinHandle<Result<(), LedgerError>>,
}

/// Events a follower folds at most in one commit, taking batches waiting in its channel.
const COALESCE: usize = 20_000;

/// The range `[from, to)` of a committed batch and its events of the types the fold reads.
type Handed = (u64, u64, Vec<Event>);

impl Follower {
    pub fn start(log: std::sync::Arc<dyn LogStore>, store: std::sync::Arc<dyn ProjectionStore>, seal: RowSeal) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Handed>(64);
        let task = tokio::spawn(async move {
            let kinds = projections::person::folded();
            let mut cursor = store.projection_cursor(PERSONS).await?;
            let mut waiting = None;
            loop {
                let next = match waiting.take() {
                    Some(w) => Some(w),
                    None => rx.recv().await,
                };
                let Some((from, mut to, mut events)) = next else { break };
                // Batches already waiting, each following on from the last, are folded and
                // committed as one: a person's row is then read, rewritten and sealed once for
                // all of them, not once per batch.
                while events.len() < COALESCE {
                    match rx.try_recv() {
                        Ok((f, t, more)) if f == to => {
                            to = t;
                            events.extend(more);
                        }
                        Ok(other) => {
                            waiting = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if to <= cursor {
                    continue;
                }
                if from > cursor {
                    let gap = log.read_kinds(&kinds, cursor, from).await?;
                    if !apply_page(store.as_ref(), &seal, &gap, cursor, from).await? {
                        cursor = store.projection_cursor(PERSONS).await?;
                        continue;
                    }
                    cursor = from;
                }
                events.retain(|e| e.seq >= cursor);
                cursor = if apply_page(store.as_ref(), &seal, &events, cursor, to).await? { to } else { store.projection_cursor(PERSONS).await? };
            }
            Ok(())
        });
        Self { tx: Some(tx), task }
    }

    /// Hands over a committed batch (in commit order).
    pub fn committed(&self, batch: &[Event]) {
        let (Some(first), Some(last), Some(tx)) = (batch.first(), batch.last(), &self.tx) else { return };
        let passed_over = projections::person::PASSED_OVER;
        let events = batch.iter().filter(|e| !passed_over.contains(&e.kind.as_str())).map(Event::opened_copy).collect();
        // Full: the next batch, or the final catch-up, reads the gap.
        let _ = tx.try_send((first.seq, last.seq + 1, events));
    }

    /// Waits until every batch handed over is folded.
    pub async fn finish(mut self) -> Result<(), LedgerError> {
        self.tx.take();
        self.task.await.expect("the projection follower does not panic")
    }
}

/// Folds `page`, the events of `[from, to)` the fold reads, into the stored rows and moves the
/// cursor with them; `false` if the cursor was no longer at `from` (nothing was written).
async fn apply_page(store: &dyn ProjectionStore, seal: &RowSeal, page: &[Event], from: u64, to: u64) -> Result<bool, LedgerError> {
    let touched: BTreeSet<String> = page.iter().filter_map(subject_of).collect();
    let keys: Vec<String> = touched.into_iter().collect();
    let mut persons = Persons::default();
    // A row that does not open is not built on: the fold stops until the rows are restored.
    for (k, row) in store.projection_rows(PERSONS, &keys).await? {
        let cases: Cases = serde_json::from_str(seal.open(PERSONS, &k, &row)?).map_err(|e| StoreCorrupt(format!("projection row {k}: {e}")))?;
        persons.cases.insert(k, cases);
    }
    page.iter().for_each(|e| persons.apply(e));
    let rows = keys
        .iter()
        .filter_map(|k| persons.cases.get(k).map(|c| (k.clone(), seal.seal(PERSONS, k, &serde_json::to_string(c).expect("cases serialise")))))
        .collect();
    Ok(store.projection_commit(PERSONS, from, to, rows).await?)
}

#[allow(non_snake_case)]
fn StoreCorrupt(detail: String) -> LedgerError {
    LedgerError::Store(crate::store::StoreError::Corrupt { seq: 0, detail })
}

/// One person's cases as the stored projection has them. A person it does not know yet makes
/// it catch up once (a run may have just written him).
pub async fn person(ledger: &Ledger, iin: &str) -> Result<Option<Cases>, LedgerError> {
    let seal = RowSeal::of(ledger);
    let read = || async {
        let rows = ledger.projections().projection_rows(PERSONS, &[iin.to_string()]).await?;
        rows.get(iin)
            .map(|row| serde_json::from_str::<Cases>(seal.open(PERSONS, iin, row)?).map_err(|e| StoreCorrupt(format!("projection row {iin}: {e}"))))
            .transpose()
    };
    match read().await? {
        Some(c) => Ok(Some(c)),
        None => {
            catch_up(ledger).await?;
            read().await
        }
    }
}

/// Every stored persons row, each opened with the read-model key (a row that does not open
/// fails the whole: a figure counted over a forged row is never shown).
pub async fn all_persons(ledger: &Ledger) -> Result<Vec<(String, String)>, LedgerError> {
    let seal = RowSeal::of(ledger);
    let rows = ledger.projections().projection_all(PERSONS).await?;
    rows.into_iter().map(|(k, row)| Ok((k.clone(), seal.open(PERSONS, &k, &row)?.to_string()))).collect()
}

/// What `replay` found.
pub struct Replay {
    pub events: u64,
    pub seconds: f64,
    /// (key, stored, rebuilt) for every row that differs; `None` where a side has no row.
    pub differences: Vec<(String, Option<String>, Option<String>)>,
}

/// Folds the events the stored projection has applied, from the first, and compares. Only the
/// types the fold reads are read (those it passes over provably change nothing: a unit test of
/// the projections crate holds it); the fold runs in shards on every core
/// (`projections::person::Sharded`), and the next range is read while this one is folded.
pub async fn replay(ledger: &Ledger) -> Result<Replay, LedgerError> {
    replay_store(ledger.log().clone(), ledger.projections().as_ref()).await
}

/// [`replay`] on a store alone (`verify --deep` needs no ledger key).
async fn replay_store(log: std::sync::Arc<dyn LogStore>, projections: &dyn ProjectionStore) -> Result<Replay, LedgerError> {
    let upto = projections.projection_cursor(PERSONS).await?;
    let t = Instant::now();
    let shards = rayon::current_num_threads().max(1) * 4;
    let kinds = std::sync::Arc::new(projections::person::folded());
    let read = |from: u64| {
        let (log, kinds) = (log.clone(), kinds.clone());
        let to = upto.min(from + REPLAY_RANGE);
        async move { log.read_kinds(&kinds, from, to).await.map_err(LedgerError::from) }
    };
    let mut sharded = projections::person::Sharded::new(shards);
    let mut from = 0;
    let mut page = read(0).await?;
    while from < upto {
        let fold = tokio::task::spawn_blocking(move || {
            sharded.apply_all(&page);
            sharded
        });
        from = upto.min(from + REPLAY_RANGE);
        let next = async {
            if from < upto {
                read(from).await
            } else {
                Ok(Vec::new())
            }
        };
        let (next, folded) = tokio::join!(next, fold);
        sharded = folded.expect("the fold does not panic");
        page = next?;
    }
    let persons = sharded.into_persons();
    let seconds = t.elapsed().as_secs_f64();
    let stored: BTreeMap<String, String> = projections.projection_all(PERSONS).await?.into_iter().map(|(k, row)| (k, row_doc(&row).to_string())).collect();
    let rebuilt: BTreeMap<String, String> = persons.cases.iter().map(|(k, c)| (k.clone(), serde_json::to_string(c).expect("cases serialise"))).collect();
    let keys: BTreeSet<&String> = stored.keys().chain(rebuilt.keys()).collect();
    let differences = keys
        .into_iter()
        .filter_map(|k| {
            let (a, b) = (stored.get(k), rebuilt.get(k));
            // Compare as JSON values: the text may differ in key order only.
            let same = match (a, b) {
                (Some(a), Some(b)) => serde_json::from_str::<serde_json::Value>(a).ok() == serde_json::from_str::<serde_json::Value>(b).ok(),
                _ => false,
            };
            (!same).then(|| (k.clone(), a.cloned(), b.cloned()))
        })
        .collect();
    Ok(Replay { events: upto, seconds, differences })
}

/// What the read models' check found (issue 29: the database alone can change nothing the
/// service shows unnoticed): the persons projection and the subject index against a fold of
/// the events.
pub struct Deep {
    pub persons: Replay,
    /// `(subject, seq, what)`.
    pub subjects: Vec<(String, u64, &'static str)>,
}

impl Deep {
    pub fn clean(&self) -> bool {
        self.persons.differences.is_empty() && self.subjects.is_empty()
    }
}

/// Refolds the stored read models from the events and compares (`verify --deep`); writes nothing.
pub async fn deep_check(log: std::sync::Arc<dyn LogStore>, projections: &dyn ProjectionStore) -> Result<Deep, LedgerError> {
    let persons = replay_store(log.clone(), projections).await?;
    let subjects = crate::reads::index_differences(log.as_ref(), projections).await?;
    Ok(Deep { persons, subjects })
}

/// `serve`'s integrity check, at start and on a schedule: where a stored read model differs
/// from the fold of the events, it is folded afresh from the events and the difference logged
/// as an error. Rebuilt, not refused: the events are the record and the rows only a cache of
/// them, and a server that refused to start would hand whoever can write the database a way to
/// stop it. Returns the number of rows that differed.
pub async fn restore_from_events(ledger: &Ledger) -> Result<usize, LedgerError> {
    let deep = deep_check(ledger.log().clone(), ledger.projections().as_ref()).await?;
    let store = ledger.projections();
    // Rows whose content is right but whose seal is not (written before rows were sealed, or
    // under another read-model key) are folded afresh too: otherwise they would never be served.
    let seal = RowSeal::of(ledger);
    let unsealed = store.projection_all(PERSONS).await?.iter().filter(|(k, row)| seal.open_quiet(PERSONS, k, row).is_none()).count();
    if unsealed > 0 && deep.persons.differences.is_empty() {
        tracing::warn!(rows = unsealed, "persons projection rows without a valid seal: folded afresh from the events");
    }
    if !deep.persons.differences.is_empty() || !deep.subjects.is_empty() {
        use crate::security::{record, Kind, Record};
        let what =
            format!("{} persons row(s) and {} subject index row(s) differ from the events: folded afresh", deep.persons.differences.len(), deep.subjects.len());
        record(Record::new(Kind::IntegrityFailure, what));
    } else if unsealed > 0 {
        use crate::security::{record, Kind, Record};
        record(Record::new(Kind::IntegrityFailure, format!("{unsealed} persons row(s) without a valid seal: folded afresh")));
    }
    if !deep.persons.differences.is_empty() || unsealed > 0 {
        tracing::error!(rows = deep.persons.differences.len(), "persons projection rows differ from the events: folded afresh from the events");
        store.projection_reset(PERSONS).await?;
        catch_up(ledger).await?;
    }
    if !deep.subjects.is_empty() {
        tracing::error!(rows = deep.subjects.len(), "subject index rows differ from the events: rebuilt from the events");
        store.projection_reset(crate::store::SUBJECTS).await?;
        crate::reads::index_catch_up(ledger).await?;
    }
    Ok(deep.persons.differences.len().max(unsealed) + deep.subjects.len())
}
