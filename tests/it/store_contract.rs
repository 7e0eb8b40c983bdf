//! One contract suite for the event store, run against SQLite and against a real PostgreSQL
//! that the suite starts itself (it fails, loudly, if PostgreSQL cannot start).

use crate::common::{lit, tamper, Backend, PgCluster, Place};
use events::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use events::verify::Fault;
use events::{Checkpoint, NewEvent};
use futures::StreamExt;
use housing_ledger::ledger::{verify_store, Ledger, LedgerError, DEFAULT_ORIGIN};
use housing_ledger::store::{self, StoreError};
use serde_json::json;
use std::sync::Arc;

fn person_event(i: u64) -> NewEvent {
    NewEvent::new(format!("person:{:012}", 850415300000 + i % 7), "RegistryQueried", json!({"run": "r1", "registry": "zags", "i": i}))
}

async fn fault_of(place: &Place) -> (u64, Fault) {
    match verify_store(place.store().await.as_ref(), None, |_| {}).await {
        Err(LedgerError::Invalid(f)) => (f.seq, f.fault),
        other => panic!("verify should fail, got {other:?}"),
    }
}

async fn appends_chain_and_number_events(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    let evs = ledger.append((0..10).map(person_event).collect()).await.unwrap();
    assert_eq!(evs.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>(), "seq 0 is the KeyIntroduced");
    let first = ledger.log().read(0, 1).await.unwrap().remove(0);
    assert_eq!(first.kind, "KeyIntroduced");
    assert_eq!(first.prev, "0".repeat(64));
    assert_eq!(evs[0].prev, first.hash);
    for w in evs.windows(2) {
        assert_eq!(w[1].prev, w[0].hash);
    }
    let stream = ledger.log().read_stream("person:850415300000", None).await.unwrap();
    assert_eq!(stream.iter().map(|e| e.stream_seq).collect::<Vec<_>>(), vec![0, 1]);
    let again = ledger.log().read_seqs(&[5, 2, 5]).await.unwrap();
    assert_eq!(again.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 5]);
    assert_eq!(again[0], evs[1], "stored event reads back whole");
    let report = ledger.verify(|_| {}).await.unwrap();
    assert_eq!(report.events, 11);
    // Reading by types over a seq range: the range is half-open, other types are left out.
    let seqs = |rows: Vec<(u64, String)>| rows.into_iter().map(|(seq, _)| seq).collect::<Vec<_>>();
    let kinds = |k: &'static [&'static str], from, to| {
        let store = ledger.log().clone();
        async move { store.read_raw_kinds(k, from, to, None).await.unwrap() }
    };
    assert_eq!(seqs(kinds(&["RegistryQueried"], 2, 5).await), vec![2, 3, 4]);
    assert_eq!(seqs(kinds(&["KeyIntroduced", "RegistryQueried"], 0, 2).await), vec![0, 1]);
    assert_eq!(seqs(kinds(&["KeyIntroduced", "NoSuchType"], 0, 100).await), vec![0]);
    assert!(kinds(&[], 0, 100).await.is_empty());
    // ...the first `limit` of them, if a limit is given; by one type, opened.
    let log = ledger.log();
    assert_eq!(seqs(log.read_raw_kinds(&["KeyIntroduced", "RegistryQueried"], 0, store::END, Some(3)).await.unwrap()), vec![0, 1, 2]);
    let page = log.read_by_type("RegistryQueried", 3, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| (e.seq, e.data["i"].as_u64())).collect::<Vec<_>>(), vec![(3, Some(2)), (4, Some(3))]);
    assert_eq!(log.read_all_by_type("RegistryQueried").await.unwrap().len(), 10);
    // A stream's events of one type: the others are left out.
    ledger.append(vec![NewEvent::new("person:850415300000", "CheckEvaluated", json!({"run": "r1", "i": 99}))]).await.unwrap();
    let typed = |k| log.read_stream("person:850415300000", Some(k));
    assert_eq!(typed("CheckEvaluated").await.unwrap().iter().map(|e| e.stream_seq).collect::<Vec<_>>(), vec![2]);
    assert_eq!(typed("RegistryQueried").await.unwrap().iter().map(|e| e.stream_seq).collect::<Vec<_>>(), vec![0, 1]);
    assert!(typed("NoSuchType").await.unwrap().is_empty());
    assert_eq!(log.read_stream("person:850415300000", None).await.unwrap().len(), 3);
    for (seq, body) in ledger.log().read_raw(0, 100).await.unwrap() {
        let ev: events::Event = serde_json::from_str(&body).unwrap();
        assert_eq!(body, events::canonical::to_string(&ev).unwrap(), "event {seq} is stored in its RFC 8785 form");
    }
}

/// A writer seals a large batch on the head it last wrote. When another writer appended
/// meanwhile, the sealed batch must not be written: it is sealed again, references included, on
/// the real head.
async fn a_stale_head_is_sealed_again(b: Backend, pg: Option<&PgCluster>) {
    const N: u64 = 300; // large enough to be sealed ahead
    let place = Place::new(b, pg);
    let (a, other) = (place.ledger().await, place.ledger().await);
    a.append((0..3).map(person_event).collect()).await.unwrap();
    // As many events as the batch below: the sizes agree, only the chain tells the heads apart.
    other.append((3..3 + N).map(person_event).collect()).await.unwrap();
    let mut batch = vec![NewEvent::new("person:rel", "RegistryQueried", json!({"i": 0}))];
    batch.extend((1..N).map(|i| NewEvent::new("person:rel", "CheckEvaluated", json!({"i": i, "evidence": [events::types::rel(0)]}))));
    let evs = a.append_relative(batch).await.unwrap();
    assert_eq!(evs[0].seq, 4 + N, "after the other writer's events");
    assert!(evs[1..].iter().all(|e| e.data["evidence"] == json!([4 + N])), "the references follow the event to its real seq");
    assert_eq!(a.append(vec![person_event(8)]).await.unwrap()[0].seq, 4 + 2 * N);
    let report = a.verify(|_| {}).await.unwrap();
    assert_eq!(report.events, 5 + 2 * N);
}

/// Large appends issued at once through one store are sealed one after another on each
/// other's heads and committed in that order.
async fn concurrent_appends_through_one_store_chain(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = Arc::new(place.ledger().await);
    let appends = (0..12u64).map(|k| {
        let ledger = ledger.clone();
        async move {
            let batch = (0..300).map(|i| NewEvent::new(format!("one:{}", k % 3), "Tick", json!({"k": k, "i": i}))).collect();
            ledger.append(batch).await.unwrap()
        }
    });
    let results = futures::future::join_all(appends).await;
    let mut seqs: Vec<u64> = results.iter().flatten().map(|e| e.seq).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=3600).collect::<Vec<_>>());
    for k in 0..3 {
        let s = ledger.log().read_stream(&format!("one:{k}"), None).await.unwrap();
        assert_eq!(s.iter().map(|e| e.stream_seq).collect::<Vec<_>>(), (0..1200).collect::<Vec<_>>());
    }
    ledger.checkpoint().await.unwrap();
    assert_eq!(ledger.verify(|_| {}).await.unwrap().events, 3601);
}

async fn conflicting_append_is_refused_and_writes_nothing(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    ledger.append(vec![NewEvent::new("run:1", "RunStarted", json!({})).expecting(0)]).await.unwrap();
    let before = ledger.size().await.unwrap();
    let batch = vec![person_event(1), NewEvent::new("run:1", "RunFinished", json!({})).expecting(0)];
    match ledger.append(batch).await {
        Err(LedgerError::Store(StoreError::Conflict { stream, expected: 0, actual: 1 })) => assert_eq!(stream, "run:1"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(ledger.size().await.unwrap(), before, "the whole batch is refused");
    ledger.append(vec![NewEvent::new("run:1", "RunFinished", json!({})).expecting(1)]).await.unwrap();
    // A second store on the same database does not know the first one's cache.
    let other = place.store().await;
    let err = other.append(&ledger.signer(), vec![NewEvent::new("run:1", "X", json!({})).expecting(1)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 1, actual: 2, .. }), "{err}");
    ledger.verify(|_| {}).await.unwrap();
}

/// A batch that the database refuses halfway (here a row written behind the store's back takes
/// a `(stream, stream_seq)` the batch's 201st event needs) leaves nothing of the batch behind.
/// On SQLite the rows go in `INSERT OR FAIL`, without a statement journal: the transaction
/// alone makes the batch all or nothing.
async fn a_batch_refused_halfway_writes_nothing(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    ledger.append(vec![person_event(0)]).await.unwrap();
    let before = ledger.size().await.unwrap();
    let sql = place.sql().await;
    // The stream as stored (on a v2 ledger it names the person's blind id).
    let stream = ledger.stored_stream("person:850415300000");
    sqlx::query("INSERT INTO events (seq, stream, stream_id, stream_seq, type, body) VALUES (-1, $1, (SELECT id FROM streams WHERE name = $1), 1, 'X', '{}')")
        .bind(stream)
        .execute(sql.pool())
        .await
        .unwrap();
    let mut batch: Vec<NewEvent> = (0..400).map(|i| NewEvent::new(format!("person:other{i}"), "RegistryQueried", json!({"i": i}))).collect();
    batch[200] = person_event(7);
    let err = ledger.append(batch).await.unwrap_err().to_string();
    assert!(err.to_lowercase().contains("unique") || err.contains("duplicate key"), "refused by the database: {err}");
    assert_eq!(ledger.size().await.unwrap(), before);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE seq >= 0").fetch_one(sql.pool()).await.unwrap();
    assert_eq!(rows as u64, before, "none of the 200 rows before the refused one stays");
    // Only interior nodes are stored: a tree of n leaves has n - popcount(n) perfect ones.
    let nodes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM merkle_nodes").fetch_one(sql.pool()).await.unwrap();
    assert_eq!(nodes as u64, before - u64::from(before.count_ones()));
    ledger.verify(|_| {}).await.unwrap();
    let next = ledger.append(vec![person_event(7)]).await.unwrap();
    assert_eq!((next[0].seq, next[0].stream_seq), (before, 2), "the head and the stream are read again");
    // The row at seq -1 put the stream at stream_seq 1 outside the chain: `verify` finds the
    // stream out of step at the event that follows it.
    match ledger.verify(|_| {}).await {
        Err(housing_ledger::ledger::LedgerError::Invalid(f)) => {
            assert_eq!((f.seq, f.fault), (before, events::verify::Fault::Sequence), "{f}");
        }
        other => panic!("a stream_seq out of step passed verify: {other:?}"),
    }
}

async fn bad_events_are_refused(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    let big = NewEvent::new("run:1", "X", json!({"amount": 9007199254740993u64}));
    let err = ledger.append(vec![big]).await.unwrap_err().to_string();
    assert!(err.contains("data.amount") && err.contains("2^53"), "{err}");
    let not_object = NewEvent::new("run:1", "X", json!([1]));
    assert!(ledger.append(vec![not_object]).await.is_err());
    assert_eq!(ledger.size().await.unwrap(), 1);
}

async fn proofs_and_checkpoints(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    ledger.append((0..40).map(person_event).collect()).await.unwrap();
    let cp1 = ledger.checkpoint().await.unwrap();
    assert_eq!(cp1.tree_size, 41);
    assert_eq!(ledger.checkpoint().await.unwrap(), cp1, "no new checkpoint for an unchanged log");
    ledger.append((40..100).map(person_event).collect()).await.unwrap();
    let cp2 = ledger.checkpoint().await.unwrap();
    let key = ledger.signer().verifier();
    let body = Checkpoint::verify_note(&cp2.note, &key).unwrap();
    assert_eq!((body.size, body.root), (101, cp2.root));
    let all = ledger.log().read(0, 1000).await.unwrap();
    for seq in [0u64, 1, 17, 40, 64, 100] {
        let path = ledger.inclusion_proof(seq, cp2.tree_size).await.unwrap();
        verify_inclusion(seq, cp2.tree_size, &leaf_hash(&all[seq as usize].hash_bytes().unwrap()), &path, &cp2.root).unwrap();
    }
    let cons = ledger.consistency_proof(cp1.tree_size, cp2.tree_size).await.unwrap();
    verify_consistency(cp1.tree_size, cp2.tree_size, &cp1.root, &cp2.root, &cons).unwrap();
    assert!(ledger.inclusion_proof(101, 101).await.is_err());
    assert!(ledger.inclusion_proof(0, 500).await.is_err());
    assert_eq!(ledger.checkpoints().checkpoints().await.unwrap().len(), 2, "every checkpoint is kept");
    ledger.verify(|_| {}).await.unwrap();
}

async fn ledger_is_append_only(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    ledger.append((0..3).map(person_event).collect()).await.unwrap();
    ledger.checkpoint().await.unwrap();
    let sql = place.sql().await;
    for stmt in
        ["UPDATE events SET body = 'x' WHERE seq = 1", "DELETE FROM events WHERE seq = 3", "DELETE FROM checkpoints", "UPDATE merkle_nodes SET hash = hash"]
    {
        let err = sqlx::raw_sql(stmt).execute(sql.pool()).await.expect_err(stmt).to_string();
        assert!(err.contains("append-only"), "{stmt}: {err}");
    }
    ledger.verify(|_| {}).await.unwrap();
}

/// Changes one thing in the stored JSON of event `seq`.
async fn rewrite_event(place: &Place, seq: u64, change: impl FnOnce(&mut serde_json::Value)) {
    let store = place.sql().await;
    use housing_ledger::store::LogStore;
    let (_, body) = store.read_raw(seq, 1).await.unwrap().remove(0);
    let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
    change(&mut v);
    tamper(&store, &format!("UPDATE events SET body = {} WHERE seq = {seq}", lit(&v.to_string()))).await;
}

async fn tampering_is_found_at_its_seq(b: Backend, pg: Option<&PgCluster>) {
    async fn fresh(b: Backend, pg: Option<&PgCluster>) -> Place {
        let place = Place::new(b, pg);
        let ledger = place.ledger().await;
        ledger.append((0..30).map(person_event).collect()).await.unwrap();
        ledger.checkpoint().await.unwrap();
        ledger.append((30..40).map(person_event).collect()).await.unwrap();
        place
    }
    let p = fresh(b, pg).await;
    rewrite_event(&p, 7, |v| v["data"]["registry"] = json!("gosreestr")).await;
    assert_eq!(fault_of(&p).await, (7, Fault::Hash), "changed data");

    let p = fresh(b, pg).await;
    rewrite_event(&p, 12, |v| v["prev"] = json!("ab".repeat(32))).await;
    assert_eq!(fault_of(&p).await, (12, Fault::Link), "changed prev");

    let p = fresh(b, pg).await;
    rewrite_event(&p, 20, |v| {
        let sig = v["sig"].as_str().unwrap().to_string();
        let flipped = if sig.starts_with('A') { sig.replacen('A', "B", 1) } else { format!("A{}", &sig[1..]) };
        v["sig"] = json!(flipped);
    })
    .await;
    assert_eq!(fault_of(&p).await, (20, Fault::Signature), "changed signature");

    let p = fresh(b, pg).await;
    let store = p.sql().await;
    tamper(&store, "UPDATE events SET body = substr(body, 1, 40) WHERE seq = 25").await;
    assert_eq!(fault_of(&p).await, (25, Fault::Format), "truncated body");

    let p = fresh(b, pg).await;
    let store = p.sql().await;
    use housing_ledger::store::CheckpointStore;
    let cp = store.latest_checkpoint().await.unwrap().unwrap();
    let forged = cp.note.replacen(&format!("\n{}\n", cp.tree_size), &format!("\n{}\n", cp.tree_size + 1), 1);
    tamper(&store, &format!("UPDATE checkpoints SET note = {} WHERE tree_size = {}", lit(&forged), cp.tree_size)).await;
    assert_eq!(fault_of(&p).await, (30, Fault::CheckpointSignature), "changed checkpoint note");

    let p = fresh(b, pg).await;
    let store = p.sql().await;
    let cp = store.latest_checkpoint().await.unwrap().unwrap();
    let mut root = cp.root;
    root[0] ^= 1;
    let hex_root = hex::encode(root);
    let set = match b {
        Backend::Sqlite => format!("X'{hex_root}'"),
        Backend::Postgres => format!("'\\x{hex_root}'::bytea"),
    };
    tamper(&store, &format!("UPDATE checkpoints SET root = {set} WHERE tree_size = {}", cp.tree_size)).await;
    assert_eq!(fault_of(&p).await, (30, Fault::CheckpointRoot), "changed checkpoint root");
}

async fn key_rotation_follows_history(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    let old = ledger.signer().verifier();
    ledger.append((0..5).map(person_event).collect()).await.unwrap();
    ledger.checkpoint().await.unwrap();
    let new = ledger.rotate_key("test rotation").await.unwrap();
    assert_ne!(old, new);
    let evs = ledger.append((5..10).map(person_event).collect()).await.unwrap();
    assert!(evs.iter().all(|e| e.key == new.id_hex()));
    ledger.checkpoint().await.unwrap();
    let report = ledger.verify(|_| {}).await.unwrap();
    assert_eq!(report.keys, vec![old.clone(), new.clone()]);
    // The key file now holds the new key; reopening adopts it.
    let reopened = place.ledger().await;
    assert_eq!(reopened.signer().verifier(), new);
    // The retired key can no longer sign: an event under it fails verification.
    let old_signer =
        events::LedgerSigner::parse(&std::fs::read_to_string(place.key_dir.path().join("retired-keys").join(format!("{}.key", old.id_hex()))).unwrap())
            .unwrap();
    let late = place.store().await.append(&old_signer, vec![person_event(99)]).await.unwrap().remove(0);
    assert_eq!(fault_of(&place).await, (late.seq, Fault::Key));
}

async fn tokens_are_stored_as_hashes(b: Backend, pg: Option<&PgCluster>) {
    use housing_ledger::auth::{authenticate, create_token, Role};
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    let (token, rec) = create_token(&ledger, Role::Auditor, "").await.unwrap();
    assert!(!rec.token_hash.windows(token.len().min(8)).any(|w| token.as_bytes().starts_with(w)));
    let caller = authenticate(&ledger, &token).await.unwrap().unwrap();
    assert_eq!((caller.token_id, caller.role), (rec.id, Role::Auditor));
    assert!(authenticate(&ledger, &format!("{token}x")).await.unwrap().is_none());
    let sql = place.sql().await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_one(sql.pool()).await.unwrap();
    assert_eq!(stored, housing_ledger::auth::token_hash(&token));
    // Page sessions: stored by the id's hash only, resumed while open, ended for good.
    use housing_ledger::web::session;
    let policy = session::SessionPolicy::default();
    let caller = authenticate(&ledger, &token).await.unwrap().unwrap();
    let id = session::open(ledger.access().as_ref(), &caller).await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT id_hash FROM web_sessions").fetch_one(sql.pool()).await.unwrap();
    assert!(stored.len() == 32 && !String::from_utf8_lossy(&stored).contains(&id));
    assert_eq!(session::resume(&ledger, &policy, &id).await.unwrap(), Some(caller));
    assert_eq!(session::resume(&ledger, &policy, "no-such-session").await.unwrap(), None);
    session::end(ledger.access().as_ref(), &id).await.unwrap();
    assert_eq!(session::resume(&ledger, &policy, &id).await.unwrap(), None);
}

async fn concurrent_writers_in_threads_never_fork(b: Backend, pg: Option<&PgCluster>) {
    let place = Arc::new(Place::new(b, pg));
    place.ledger().await;
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let place = place.clone();
        // Separate stores: separate pools and caches, as separate services would have.
        tasks.push(tokio::spawn(async move {
            let ledger = place.ledger().await;
            for k in 0..15u64 {
                let batch = (0..20).map(|i| NewEvent::new(format!("writer:{w}"), "Tick", json!({"k": k, "i": i}))).collect();
                ledger.append(batch).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ledger = place.ledger().await;
    let report = ledger.verify(|_| {}).await.unwrap();
    assert_eq!(report.events, 1 + 4 * 15 * 20);
    for w in 0..4 {
        let s = ledger.log().read_stream(&format!("writer:{w}"), None).await.unwrap();
        assert_eq!(s.iter().map(|e| e.stream_seq).collect::<Vec<_>>(), (0..300).collect::<Vec<_>>());
    }
    ledger.checkpoint().await.unwrap();
    ledger.verify(|_| {}).await.unwrap();
}

async fn projection_consumers_never_double_apply(b: Backend, pg: Option<&PgCluster>) {
    use housing_ledger::registry::fixture::Fixture;
    let place = Place::new(b, pg);
    let ledger = Arc::new(place.ledger().await);
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    crate::common::scenario::run_fixture(&ledger, Fixture::load(&example).unwrap()).await;
    // The run's own events were folded right behind it; these were not.
    let followed = ledger.projections().projection_cursor(housing_ledger::read_models::PERSONS).await.unwrap();
    assert_eq!(followed, ledger.size().await.unwrap());
    ledger.append((0..300).map(person_event).collect()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let l = ledger.clone();
        tasks.push(tokio::spawn(async move { housing_ledger::read_models::catch_up(&l).await.unwrap() }));
    }
    let mut applied = 0;
    for t in tasks {
        applied += t.await.unwrap();
    }
    assert_eq!(applied, ledger.size().await.unwrap() - followed, "every event applied exactly once across consumers");
    let r = housing_ledger::read_models::replay(&ledger).await.unwrap();
    assert!(r.differences.is_empty(), "{:?}", r.differences);
    assert_eq!(r.events, ledger.size().await.unwrap());
}

/// Issue 21: the persons projection keeps each case's locality. A database whose rows were
/// folded before (without it) is folded afresh by migration 11: after the upgrade every case
/// has its locality again, and the stored projection equals the one replayed from the events.
async fn an_older_persons_projection_is_folded_afresh(b: Backend, pg: Option<&PgCluster>) {
    use housing_ledger::registry::fixture::Fixture;
    let place = Place::new(b, pg);
    // Older rows are v1's (a v2 ledger is newer than migration 11): documents in the clear.
    let ledger = Arc::new(place.ledger_v1().await);
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    crate::common::scenario::run_fixture(&ledger, Fixture::load(&example).unwrap()).await;
    let localities = |ledger: Arc<housing_ledger::ledger::Ledger>| async move {
        housing_ledger::read_models::catch_up(&ledger).await.unwrap();
        let rows = ledger.projections().projection_all(housing_ledger::read_models::PERSONS).await.unwrap();
        let cases: Vec<serde_json::Value> =
            // A row is its document and, on a line of its own, its seal (older rows: none).
            rows.iter()
                .flat_map(|(_, row)| {
                    let doc = row.split_once('\n').map_or(row.as_str(), |(doc, _)| doc);
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(doc).unwrap().into_values()
                })
                .collect();
        (cases.len(), cases.iter().filter(|c| c["locality"].is_string()).count())
    };
    let (cases, with) = localities(ledger.clone()).await;
    assert!(cases > 0 && with == cases, "{with} of {cases}");
    // As an older version left it: the same rows without the locality, migration 11 not run.
    let sql = place.sql().await;
    let strip = match sql.dialect() {
        housing_ledger::store::sql::Dialect::Sqlite => {
            "json_remove(json_remove(substr(doc, 1, instr(doc, char(10)) - 1), '$.registry_removal.locality'), '$.lease_termination.locality')"
        }
        housing_ledger::store::sql::Dialect::Postgres => {
            "(split_part(doc, E'\\n', 1)::jsonb #- '{registry_removal,locality}' #- '{lease_termination,locality}')::text"
        }
    };
    // (Migrations after 11 undone too: they run in order.)
    tamper(
        &sql,
        &format!("UPDATE projection_rows SET doc = {strip} WHERE projection = 'persons'; DELETE FROM schema_migrations WHERE version >= 11; ALTER TABLE web_sessions DROP COLUMN flash"),
    )
    .await;
    drop(ledger);
    let sql = Arc::new(sql);
    let before = Arc::new(Ledger::open(sql.clone(), place.key_dir.path(), DEFAULT_ORIGIN).await.unwrap());
    assert_eq!(localities(before).await.1, 0, "the older rows, as they were");
    tamper(&sql, crate::common::before_stream_numbers(sql.dialect())).await;
    // The upgraded binary opens it: migration 11 runs.
    let after = Arc::new(place.ledger().await);
    assert_eq!(localities(after.clone()).await, (cases, cases), "folded afresh on upgrade");
    let r = housing_ledger::read_models::replay(&after).await.unwrap();
    assert!(r.differences.is_empty(), "{:?}", r.differences);
}

/// Large batches, sealed ahead with their streams' heads read before the writer is taken,
/// from separate stores (as separate services) into the same streams: every head read ahead
/// that another store has since moved must be caught, never written.
async fn large_writers_in_separate_stores_share_streams(b: Backend, pg: Option<&PgCluster>) {
    let place = Arc::new(Place::new(b, pg));
    place.ledger().await;
    let mut tasks = Vec::new();
    for w in 0..3u64 {
        let place = place.clone();
        tasks.push(tokio::spawn(async move {
            let ledger = Arc::new(place.ledger().await);
            // Two appends of one store at once, so one seals on the other's head as well.
            let appends = (0..4u64).map(|k| {
                let ledger = ledger.clone();
                async move {
                    let batch = (0..300).map(|i| NewEvent::new(format!("shared:{}", (i + k) % 2), "Tick", json!({"w": w, "k": k, "i": i}))).collect();
                    ledger.append(batch).await.unwrap();
                }
            });
            futures::stream::iter(appends).buffer_unordered(2).collect::<Vec<()>>().await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ledger = place.ledger().await;
    assert_eq!(ledger.verify(|_| {}).await.unwrap().events, 1 + 3 * 4 * 300);
    for s in 0..2 {
        let evs = ledger.log().read_stream(&format!("shared:{s}"), None).await.unwrap();
        assert_eq!(evs.iter().map(|e| e.stream_seq).collect::<Vec<_>>(), (0..1800).collect::<Vec<_>>());
    }
}

/// Issue 16, §1: a key whose database holds no event, and a database whose key is gone, are
/// refused on every backend; nothing is written.
async fn a_ledger_is_never_started_afresh(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    ledger.checkpoint().await.unwrap();
    drop(ledger);
    // The same key over an empty database.
    let empty = Place::new(b, pg);
    let store = empty.store().await;
    let err = Ledger::open(store.clone(), place.key_dir.path(), DEFAULT_ORIGIN).await.err().expect("refused");
    assert!(err.to_string().contains("holds no event"), "{err}");
    assert_eq!(store.size().await.unwrap(), 0, "nothing was appended");
    // The database without its key.
    std::fs::remove_file(place.key_dir.path().join("ledger.key")).unwrap();
    let err = Ledger::open(place.store().await, place.key_dir.path(), DEFAULT_ORIGIN).await.err().expect("refused");
    assert!(err.to_string().contains("is missing"), "{err}");
    assert!(!place.key_dir.path().join("ledger.key").exists(), "no new key is made");
}

/// Readers holding every connection of the pool do not stop the writer: it has connections of
/// its own. (Sharing one pool, a load of reads each waiting for its read-log entry queued the
/// writer behind the very readers it was to release: at 10 million events the proof route's
/// p99 reached 29 s.)
async fn readers_holding_every_connection_do_not_stop_appends(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let sql = Arc::new(place.sql().await);
    let ledger = Ledger::open(sql.clone(), place.key_dir.path(), DEFAULT_ORIGIN).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..sql.pool().options().get_max_connections() {
        held.push(sql.pool().acquire().await.unwrap());
    }
    let appended = ledger.append((0..3).map(person_event).collect()).await.expect("the writer does not wait for the readers' pool");
    assert_eq!(appended.len(), 3);
    drop(held);
    assert_eq!(ledger.size().await.unwrap(), 4);
}

/// Two processes on one database may sign a checkpoint of the same size at once (two `serve`
/// starting together): both get the one stored first; a second `serve` used to exit on the
/// duplicate key.
async fn two_processes_sign_the_same_checkpoint(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let first = place.ledger().await;
    first.append((0..5).map(person_event).collect()).await.unwrap();
    let second = Ledger::open(place.store().await, place.key_dir.path(), DEFAULT_ORIGIN).await.unwrap();
    let (a, b2) = tokio::join!(first.checkpoint(), second.checkpoint());
    let (a, b2) = (a.unwrap(), b2.unwrap());
    assert_eq!((a.tree_size, &a.note), (b2.tree_size, &b2.note), "the same checkpoint");
    // Stored again by a process that lost the race: the stored one is returned.
    let sql = place.sql().await;
    let late = store::StoredCheckpoint { signed_at: "2030-01-01T00:00:00.000Z".into(), ..a.clone() };
    assert_eq!(store::CheckpointStore::add_checkpoint(&sql, &late).await.unwrap(), a);
    // Another root at a stored size is refused.
    let forked = store::StoredCheckpoint { root: [7u8; 32], ..a.clone() };
    let err = store::CheckpointStore::add_checkpoint(&sql, &forked).await.unwrap_err();
    assert!(err.to_string().contains("another root"), "{err}");
    assert_eq!(store::CheckpointStore::checkpoints(&sql).await.unwrap().len(), 1);
}

/// Issue 32: streams are numbered in the order they begin, and the events' stream indexes are
/// keyed by that number, never by the stream's name. On a v2 ledger a name is a blind id, a
/// random string; indexes keyed by it sent every append to a random page (the run wrote three
/// times v1's bytes). A database made before the numbers is numbered on upgrade and reads,
/// appends and verifies as before.
async fn streams_are_numbered_as_they_begin(b: Backend, pg: Option<&PgCluster>) {
    let place = Place::new(b, pg);
    let ledger = place.ledger().await;
    // Begun in an order that is not the names' order.
    let begun = ["person:850415300009", "run:b", "person:850415300001", "run:a"];
    for name in begun {
        ledger.append(vec![NewEvent::new(name, "RegistryQueried", json!({"n": 1}))]).await.unwrap();
    }
    ledger.append(begun.iter().rev().map(|n| NewEvent::new(*n, "RegistryQueried", json!({"n": 2}))).collect()).await.unwrap();
    let sql = place.sql().await;
    let names = || async {
        let rows: Vec<String> = sqlx::query_scalar("SELECT name FROM streams ORDER BY id").fetch_all(sql.pool()).await.unwrap();
        rows
    };
    let stored: Vec<String> = begun.iter().map(|n| ledger.stored_stream(n)).collect();
    let listed = names().await;
    assert_eq!(listed[listed.len() - 4..], stored[..], "numbered in the order they began");
    // No index of the events is keyed by the stream's name.
    let indexes: Vec<String> = match sql.dialect() {
        housing_ledger::store::sql::Dialect::Sqlite => {
            sqlx::query_scalar("SELECT il.name || ':' || ii.name FROM pragma_index_list('events') il JOIN pragma_index_info(il.name) ii WHERE ii.seqno = 0")
                .fetch_all(sql.pool())
                .await
                .unwrap()
        }
        housing_ledger::store::sql::Dialect::Postgres => {
            sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE tablename = 'events'").fetch_all(sql.pool()).await.unwrap()
        }
    };
    assert!(indexes.iter().any(|i| i.contains("stream_id")), "{indexes:?}");
    assert!(!indexes.iter().any(|i| i.ends_with(":stream") || i.contains("(stream,") || i.contains("(stream)")), "{indexes:?}");
    for (n, name) in begun.iter().enumerate() {
        let evs = ledger.log().read_stream(name, None).await.unwrap();
        assert_eq!(evs.iter().map(|e| e.stream_seq).collect::<Vec<_>>(), vec![0, 1], "{n}");
    }
    // As an older version left it; the upgrade numbers the streams in the order they began.
    tamper(&sql, crate::common::before_stream_numbers(sql.dialect())).await;
    drop(ledger);
    let ledger = place.ledger().await;
    assert_eq!(names().await, listed, "numbered on upgrade as they were numbered on append");
    let next = ledger.append(vec![NewEvent::new(begun[2], "RegistryQueried", json!({"n": 3}))]).await.unwrap();
    assert_eq!(next[0].stream_seq, 2);
    assert_eq!(ledger.log().read_stream(begun[2], None).await.unwrap().len(), 3);
    ledger.verify(|_| {}).await.unwrap();
}

async fn suite(b: Backend, pg: Option<&PgCluster>) {
    streams_are_numbered_as_they_begin(b, pg).await;
    two_processes_sign_the_same_checkpoint(b, pg).await;
    readers_holding_every_connection_do_not_stop_appends(b, pg).await;
    a_ledger_is_never_started_afresh(b, pg).await;
    appends_chain_and_number_events(b, pg).await;
    a_stale_head_is_sealed_again(b, pg).await;
    concurrent_appends_through_one_store_chain(b, pg).await;
    conflicting_append_is_refused_and_writes_nothing(b, pg).await;
    a_batch_refused_halfway_writes_nothing(b, pg).await;
    bad_events_are_refused(b, pg).await;
    proofs_and_checkpoints(b, pg).await;
    ledger_is_append_only(b, pg).await;
    tampering_is_found_at_its_seq(b, pg).await;
    key_rotation_follows_history(b, pg).await;
    tokens_are_stored_as_hashes(b, pg).await;
    concurrent_writers_in_threads_never_fork(b, pg).await;
    large_writers_in_separate_stores_share_streams(b, pg).await;
    projection_consumers_never_double_apply(b, pg).await;
    an_older_persons_projection_is_folded_afresh(b, pg).await;
    read_models_are_listed_and_reset(b, pg).await;
}

/// Issue 29, item 5: the subject index is listed whole, and a read model is forgotten (rows and
/// cursor, in one transaction) so that it can be folded afresh; the other is left alone.
async fn read_models_are_listed_and_reset(b: Backend, pg: Option<&PgCluster>) {
    use housing_ledger::store::SUBJECTS;
    let place = Place::new(b, pg);
    let store = place.store().await;
    assert!(store.subject_index_commit(0, 5, vec![("b".into(), 3), ("a".into(), 4), ("a".into(), 1)]).await.unwrap());
    assert!(store.projection_commit("persons", 0, 5, vec![("k".into(), "{}".into())]).await.unwrap());
    assert_eq!(store.subject_index_all().await.unwrap(), vec![("a".to_string(), 1), ("a".to_string(), 4), ("b".to_string(), 3)]);
    store.projection_reset(SUBJECTS).await.unwrap();
    assert_eq!((store.subject_index_all().await.unwrap(), store.projection_cursor(SUBJECTS).await.unwrap()), (vec![], 0));
    assert_eq!(store.projection_all("persons").await.unwrap().len(), 1, "the other read model is untouched");
    store.projection_reset("persons").await.unwrap();
    assert_eq!((store.projection_all("persons").await.unwrap().len(), store.projection_cursor("persons").await.unwrap()), (0, 0));
}

/// On PostgreSQL an append does not wait for ANALYZE, nor ANALYZE for appends: the writers'
/// lock was a table lock (EXCLUSIVE), which conflicts with ANALYZE's, so autovacuum was
/// cancelled at every append, the planner's statistics stayed those of an empty table, and
/// appends slowed as the log grew (sequential scans for each batch's stream heads).
async fn appends_and_analyze_do_not_wait_for_each_other(pg: &PgCluster) {
    use sqlx::Connection;
    let place = Place::new(Backend::Postgres, Some(pg));
    let ledger = place.ledger().await;
    // ANALYZE in an open transaction holds its lock until the transaction ends.
    let mut analyzing = sqlx::PgConnection::connect(&place.url).await.unwrap();
    sqlx::raw_sql("BEGIN; ANALYZE events;").execute(&mut analyzing).await.unwrap();
    let appended = tokio::time::timeout(std::time::Duration::from_secs(30), ledger.append((0..3).map(person_event).collect())).await;
    sqlx::raw_sql("COMMIT").execute(&mut analyzing).await.unwrap();
    assert_eq!(appended.expect("the append waited for ANALYZE").unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_sqlite() {
    suite(Backend::Sqlite, None).await;
}

/// The embedded database's settings: WAL, fsync on every commit, 16 KiB pages on a new file.
/// A database made before with 4 KiB pages keeps them and is appended to and verified as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_settings_and_an_older_page_size() {
    async fn pragma(store: &housing_ledger::store::sql::SqlStore, name: &str) -> String {
        use sqlx::Row;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}"))).fetch_one(store.pool()).await.unwrap();
        row.try_get::<i64, _>(0).map(|v| v.to_string()).or_else(|_| row.try_get::<String, _>(0)).unwrap()
    }
    let fresh = Place::new(Backend::Sqlite, None);
    let store = fresh.sql().await;
    assert_eq!([pragma(&store, "journal_mode").await, pragma(&store, "synchronous").await, pragma(&store, "page_size").await], ["wal", "2", "16384"]);

    let older = Place::new(Backend::Sqlite, None);
    let path = older.url.strip_prefix("sqlite://").unwrap().to_string();
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}?mode=rwc")).await.unwrap();
        sqlx::raw_sql("PRAGMA page_size=4096; CREATE TABLE made_before (x INTEGER)").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    assert_eq!(pragma(&older.sql().await, "page_size").await, "4096");
    let ledger = older.ledger().await;
    ledger.append((0..600).map(person_event).collect()).await.unwrap();
    let report = verify_store(older.store().await.as_ref(), None, |_| {}).await.unwrap();
    assert_eq!(report.events, 601, "the key's introduction and the 600 events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_postgres() {
    let pg = PgCluster::start();
    suite(Backend::Postgres, Some(&pg)).await;
    appends_and_analyze_do_not_wait_for_each_other(&pg).await;
}

/// Appends go through the writer task of the store's runtime; once that runtime is gone, an
/// append says so and writes nothing, where it would otherwise wait for ever.
#[test]
fn an_append_after_the_writer_stopped_is_refused() {
    let place = Place::new(Backend::Sqlite, None);
    let first = tokio::runtime::Runtime::new().unwrap();
    let ledger = first.block_on(place.ledger());
    let size = first.block_on(ledger.log().size()).unwrap();
    drop(first);
    let second = tokio::runtime::Runtime::new().unwrap();
    let err = second.block_on(ledger.append(vec![person_event(1)])).unwrap_err();
    assert!(err.to_string().contains("the writer has stopped; nothing was written"), "{err}");
    let fresh = second.block_on(place.store());
    assert_eq!(second.block_on(fresh.size()).unwrap(), size);
}

/// `verify` reads the next page while it checks this one: a bad event is still found at its
/// exact seq, on either side of a page boundary (pages of 20,000), the first of several
/// winning, and `verify --json` names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_across_pages_finds_the_first_bad_seq() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    for start in (1..45_000).step_by(5_000) {
        ledger.append((start..(start + 5_000).min(45_000)).map(person_event).collect()).await.unwrap();
        if start == 20_001 {
            ledger.checkpoint().await.unwrap();
        }
    }
    ledger.checkpoint().await.unwrap();
    assert_eq!(verify_store(place.store().await.as_ref(), None, |_| {}).await.unwrap().events, 45_000);
    let store = place.sql().await;
    use housing_ledger::store::LogStore;
    let original = |seq: u64| {
        let store = &store;
        async move { store.read_raw(seq, 1).await.unwrap().remove(0).1 }
    };
    // `verify --json` run as a process: whether it passed, and what it printed.
    let verify_json = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
            .args(["--database-url", &place.url, "--data-dir"])
            .arg(place.key_dir.path())
            .args(["verify", "--json", "--trust-bundle-keys"])
            .output()
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.success(), answer)
    };
    for (n, bad) in [[19_999, 30_000], [20_000, 44_999], [5, 30_000]].into_iter().enumerate() {
        let kept: Vec<(u64, String)> = vec![(bad[0], original(bad[0]).await), (bad[1], original(bad[1]).await)];
        for seq in bad {
            rewrite_event(&place, seq, |v| v["data"]["registry"] = json!("gosreestr")).await;
        }
        assert_eq!(fault_of(&place).await, (bad[0], Fault::Hash), "{bad:?}");
        if n == 0 {
            let (passed, answer) = verify_json();
            assert!(!passed);
            assert_eq!((answer["ok"].as_bool(), answer["seq"].as_u64(), answer["fault"].as_str()), (Some(false), Some(bad[0]), Some("hash")), "{answer}");
        }
        for (seq, body) in kept.into_iter().rev() {
            tamper(&store, &format!("UPDATE events SET body = {} WHERE seq = {seq}", lit(&body))).await;
        }
    }
    let (passed, answer) = verify_json();
    assert!(passed, "{answer}");
    assert_eq!((answer["ok"].as_bool(), answer["events"].as_u64(), answer["checkpoints"].as_u64()), (Some(true), Some(45_000), Some(2)));
}

/// PostgreSQL stopped in the middle of a run: the run fails with a clear error and writes
/// nothing half; once PostgreSQL is back, the same run resumes and finishes without
/// duplicating any event, and the ledger verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_postgres_stopping_in_the_middle() {
    use devtools::sim::FixtureRegistries;
    use devtools::sim::DEFAULT_SIM_SEED;
    use housing_ledger::pipeline::{self, Settings, Silent};
    use housing_ledger::rules::{Procedure, RuleBook};
    use housing_ledger::store::LogStore;
    let pg = crate::common::PgCluster::start();
    let place = Place::new(Backend::Postgres, Some(&pg));
    let ledger = Arc::new(place.ledger().await);
    let population = Arc::new(devtools::population::Population::new(1500, 7));
    let registries = || Arc::new(FixtureRegistries::from_source(population.clone(), DEFAULT_SIM_SEED, "synthetic:1500:7".into()));
    let run = |ledger: Arc<Ledger>| {
        let regs = registries();
        async move {
            let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
            pipeline::run(&ledger, regs, keys, &RuleBook::built_in(), Procedure::RegistryRemoval, "2026-01-15", Settings::default(), &Silent).await
        }
    };
    // Stop the server once the run has written a good part of its events.
    let watcher = place.sql().await;
    let running = tokio::spawn(run(ledger.clone()));
    loop {
        if watcher.size().await.unwrap() > 4_000 || running.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(watcher);
    pg.stop();
    let failed = running.await.unwrap();
    let err = failed.expect_err("the run cannot finish without its database").to_string();
    assert!(err.contains("database") || err.contains("pool"), "{err}");
    pg.restart();
    let summary = run(ledger.clone()).await.expect("the run resumes and finishes");
    assert!(summary.resumed);
    assert_eq!(ledger.verify(|_| {}).await.unwrap().events, ledger.size().await.unwrap());
    // Not one event twice: each person's list entry and each query of this run once.
    let events = ledger.log().read(0, 1_000_000).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    for e in events.iter().filter(|e| e.run() == Some(summary.run.as_str())) {
        let key = match e.kind.as_str() {
            "ListEntryReceived" | "ConsentMissing" | "DecisionProposed" | "PersonRetained" | "DecisionTaken" => format!("{} {}", e.kind, e.stream),
            "RegistryQueried" | "RegistryResponded" | "RegistryFailed" => format!("{} {}", e.kind, e.data["request_id"]),
            _ => continue,
        };
        if !seen.insert(key.clone()) {
            let both: Vec<String> = events
                .iter()
                .filter(|x| x.kind == e.kind && x.stream == e.stream && x.run() == e.run())
                .map(|x| format!("seq {} position {} entry {}", x.seq, x.data["position"], x.data["entry"]["iin"]))
                .collect();
            panic!("{key} appears twice: {both:?}");
        }
    }
    let entries = events.iter().filter(|e| e.kind == "ListEntryReceived" && e.run() == Some(summary.run.as_str())).count();
    assert_eq!(entries as u64 + summary.counts.get("invalid_input").copied().unwrap_or(0), 1500);
}
