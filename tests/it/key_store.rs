//! Issue 32 (format v2), the key store: a person's data key is made once and kept wrapped; once
//! destroyed, neither the key nor its wrapped form is anywhere in the store's files, and it is
//! never made again; a lost store (or a lost key-encryption key) is refused, not recreated.

use events::personal::{self, Place, Secret};
use housing_ledger::keystore::{KeyStore, SqliteKeyStore, KEK_FILE, KEY_STORE_FILE};
use serde_json::json;

fn files_hold(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|f| {
            let p = f.unwrap().path();
            let bytes = std::fs::read(&p).ok()?;
            bytes.windows(needle.len()).any(|w| w == needle).then(|| p.display().to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_destroyed_key_is_gone_from_every_file_and_never_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteKeyStore::open(dir.path(), true).await.unwrap();
    let (a, b) = ("pa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", "pb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0");
    let ka = store.key(a).await.unwrap().unwrap();
    assert_eq!(store.key(a).await.unwrap(), Some(ka.clone()), "made once, then kept");
    let kb = store.key(b).await.unwrap().unwrap();
    let place = Place { format: "housing-ledger/event/v2", seq: 3, stream: "person:x", kind: "T", subject: a, member: "data" };
    let sealed = personal::seal(&ka, &place, &json!({"surname": "Серікова"}));
    // The wrapped key as stored, to look for in the files.
    let wrapped: Vec<u8> = {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", store.path().display())).await.unwrap();
        let w = sqlx::query_scalar("SELECT wrapped FROM data_keys WHERE subject = ?").bind(a).fetch_one(&pool).await.unwrap();
        pool.close().await;
        w
    };
    assert!(!files_hold(dir.path(), &wrapped).is_empty(), "the wrapped key is in the store before");
    assert!(files_hold(dir.path(), &ka.0).is_empty(), "never in the clear");
    assert!(store.destroy(a, "2026-12-02T00:00:00.000Z").await.unwrap());
    assert_eq!(files_hold(dir.path(), &wrapped), Vec::<String>::new(), "no copy left in the store or its WAL");
    assert_eq!(store.existing(a).await.unwrap(), None);
    assert_eq!(store.key(a).await.unwrap(), None, "an erased person's key is never made again");
    assert_eq!(store.erased_at(a).await.unwrap().as_deref(), Some("2026-12-02T00:00:00.000Z"));
    assert_eq!(store.key(b).await.unwrap(), Some(kb), "another person's key stands");
    // What was sealed under the destroyed key no longer opens under anything the store has.
    assert!(personal::open(&Secret::generate(), &place, &sealed).is_err());
}

#[tokio::test]
async fn a_lost_key_store_is_refused_and_never_recreated() {
    for lost in [KEY_STORE_FILE, KEK_FILE] {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteKeyStore::open(dir.path(), true).await.unwrap();
        store.key("pa").await.unwrap();
        drop(store);
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let p = f.unwrap().path();
            if p.file_name().unwrap().to_str().unwrap().starts_with(lost) {
                std::fs::remove_file(p).unwrap();
            }
        }
        let err = SqliteKeyStore::open(dir.path(), false).await.err().expect("refused").to_string();
        assert!(err.contains("never recreated"), "{lost}: {err}");
        assert!(!dir.path().join(lost).exists(), "{lost}: nothing was created");
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(SqliteKeyStore::open(dir.path(), false).await.is_err(), "a ledger that has sealed events needs its store");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let _s = SqliteKeyStore::open(&dir.path().join("keys"), true).await.unwrap();
        for f in [KEY_STORE_FILE, KEK_FILE] {
            assert_eq!(std::fs::metadata(dir.path().join("keys").join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
        }
    }
}

/// An auditor's own opener (`tests/data/auditor/personal_data.py`, written from
/// `docs/implementation/personal-data.md` with Python's standard library) recomputes the blind id,
/// unwraps the data key and opens a seal the service made; a seal moved or changed does not open.
#[tokio::test]
async fn an_independent_opener_written_from_the_page_agrees() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteKeyStore::open(dir.path(), true).await.unwrap();
    let index = Secret::generate();
    let iin = "850101300123";
    let subject = personal::blind_id(&index, iin);
    let key = store.key(&subject).await.unwrap().unwrap();
    let kek = std::fs::read_to_string(dir.path().join(KEK_FILE)).unwrap();
    let wrapped: Vec<u8> = {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", store.path().display())).await.unwrap();
        sqlx::query_scalar("SELECT wrapped FROM data_keys WHERE subject = ?").bind(&subject).fetch_one(&pool).await.unwrap()
    };
    let stream = format!("person:{subject}");
    let place = Place { format: "housing-ledger/event/v2", seq: 42, stream: &stream, kind: "ListEntryReceived", subject: &subject, member: "data.entry" };
    let value = json!({"iin": iin, "surname": "Серікова", "address": "Астана, ул. Абая 1", "n": [1, 2.5, true, null]});
    let seal = personal::seal(&key, &place, &value);
    let case = |seal: &personal::Seal, seq: u64| {
        json!({"index_key": b64(&index.0), "iin": iin, "kek": kek.trim(), "wrapped": b64(&wrapped),
            "place": {"format": place.format, "seq": seq, "stream": place.stream, "type": place.kind, "subject": place.subject, "member": place.member},
            "seal": seal})
    };
    let run = |case: serde_json::Value| {
        let f = dir.path().join("case.json");
        std::fs::write(&f, case.to_string()).unwrap();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/auditor/personal_data.py");
        let out = std::process::Command::new("python3").arg(script).arg(&f).output().expect("python3 runs");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let (ok, said) = run(case(&seal, 42));
    assert!(ok, "{said}");
    let v: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!((v["blind_id"].as_str(), &v["opened"]), (Some(subject.as_str()), &value));
    let (ok, said) = run(case(&seal, 43));
    assert!(!ok && said.contains("does not open"), "moved: {said}");
    let mut changed = seal.clone();
    changed.nonce = personal::seal(&key, &place, &value).nonce;
    let (ok, said) = run(case(&changed, 42));
    assert!(!ok && said.contains("does not open"), "changed: {said}");
}

/// The same on PostgreSQL, in a database of its own: after destroy (a `VACUUM FULL`) and a
/// checkpoint, the table's files hold no copy of the wrapped key; a lost KEK is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_destroyed_key_leaves_no_copy_in_the_table_files() {
    use housing_ledger::keystore::PgKeyStore;
    let pg = crate::common::PgCluster::start();
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let store = PgKeyStore::open(&url, dir.path(), true).await.unwrap();
    // The one destroyed is made last: its row sits in the page's free space once deleted, where
    // a plain VACUUM would leave its bytes.
    let (b, a) = ("pb", "pa");
    let kb = store.key(b).await.unwrap().unwrap();
    let ka = store.key(a).await.unwrap().unwrap();
    assert_eq!(store.key(a).await.unwrap(), Some(ka));
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let wrapped: Vec<u8> = sqlx::query_scalar("SELECT wrapped FROM key_store.data_keys WHERE subject = $1").bind(a).fetch_one(&pool).await.unwrap();
    let table_file = |pool: sqlx::PgPool| async move {
        sqlx::raw_sql("CHECKPOINT").execute(&pool).await.unwrap();
        let data: String = sqlx::query_scalar("SHOW data_directory").fetch_one(&pool).await.unwrap();
        let rel: String = sqlx::query_scalar("SELECT pg_relation_filepath('key_store.data_keys')").fetch_one(&pool).await.unwrap();
        std::path::Path::new(&data).join(rel)
    };
    let holds = |path: &std::path::Path, needle: &[u8]| std::fs::read(path).map(|b| b.windows(needle.len()).any(|w| w == needle)).unwrap_or(false);
    let before = table_file(pool.clone()).await;
    assert!(holds(&before, &wrapped), "the wrapped key is in {} before", before.display());
    assert!(store.destroy(a, "2026-12-02T00:00:00.000Z").await.unwrap());
    let after = table_file(pool.clone()).await;
    assert!(!holds(&after, &wrapped), "{} still holds the destroyed key", after.display());
    assert!(!holds(&before, &wrapped), "the table's old file {} still holds it", before.display());
    assert_eq!(store.key(a).await.unwrap(), None, "never made again");
    assert_eq!(store.existing(b).await.unwrap(), Some(kb));
    drop(store);
    std::fs::remove_file(dir.path().join(KEK_FILE)).unwrap();
    let err = PgKeyStore::open(&url, dir.path(), false).await.err().expect("refused").to_string();
    assert!(err.contains("key-encryption key") && err.contains("never recreated"), "{err}");
}

/// A key store that counts how often it is asked for keys.
struct Counting {
    inner: SqliteKeyStore,
    asked: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl KeyStore for Counting {
    async fn key(&self, subject: &str) -> Result<Option<Secret>, housing_ledger::keystore::KeyStoreError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.key(subject).await
    }
    async fn existing(&self, subject: &str) -> Result<Option<Secret>, housing_ledger::keystore::KeyStoreError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.existing(subject).await
    }
    async fn destroy(&self, subject: &str, at: &str) -> Result<bool, housing_ledger::keystore::KeyStoreError> {
        self.inner.destroy(subject, at).await
    }
    async fn erased_at(&self, subject: &str) -> Result<Option<String>, housing_ledger::keystore::KeyStoreError> {
        self.inner.erased_at(subject).await
    }
    async fn erasures(&self) -> Result<u64, housing_ledger::keystore::KeyStoreError> {
        self.inner.erasures().await
    }
    async fn keys(&self, subjects: &[String]) -> Result<std::collections::HashMap<String, Option<Secret>>, housing_ledger::keystore::KeyStoreError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.keys(subjects).await
    }
    async fn existing_keys(&self, subjects: &[String]) -> Result<std::collections::HashMap<String, Option<Secret>>, housing_ledger::keystore::KeyStoreError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.existing_keys(subjects).await
    }
}

/// Keys are asked for in batches, and kept while no one is erased: emptied every few seconds
/// regardless, a run asked the key store again for every person in flight (40,000 keys for
/// 20,000 persons, a sixth of the run). A key destroyed by another process (`erase` beside a
/// running `serve`) still stops serving within a few seconds: the erasure is seen, and the
/// person is refused.
#[tokio::test]
async fn keys_are_kept_until_someone_is_erased() {
    use events::NewEvent;
    use housing_ledger::sealing::Sealing;
    let dir = tempfile::tempdir().unwrap();
    let counting = std::sync::Arc::new(Counting { inner: SqliteKeyStore::open(dir.path(), true).await.unwrap(), asked: 0.into() });
    let sealing = Sealing::new(Secret::generate(), counting.clone());
    let asked = || counting.asked.load(std::sync::atomic::Ordering::SeqCst);
    // More persons than one query holds (500).
    let iins: Vec<String> = (0..1200).map(|n| format!("8504153{n:05}")).collect();
    let batch: Vec<NewEvent> = iins.iter().map(|i| NewEvent::new(format!("person:{i}"), "RegistryQueried", json!({"n": 1}))).collect();
    let first = sealing.protector(&batch).await.unwrap();
    assert_eq!((asked(), first.keys.len()), (1, 1200), "made in one call");
    // Made once: another store on the same files finds the same keys.
    let other = SqliteKeyStore::open(dir.path(), false).await.unwrap();
    let subjects: Vec<String> = iins.iter().map(|i| sealing.blind_id(i)).collect();
    let found = other.existing_keys(&subjects).await.unwrap();
    assert!(subjects.iter().all(|s| found[s].as_ref() == first.keys.get(s)), "the keys made are the keys kept");
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    let again = sealing.protector(&batch).await.unwrap();
    assert_eq!((asked(), again.keys.len()), (1, 1200), "no one was erased: the cached keys stand");
    // Erased by another process: seen at the next check, and refused.
    assert!(other.destroy(&subjects[7], "2026-12-03T00:00:00.000Z").await.unwrap());
    assert_eq!(other.erasures().await.unwrap(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    let err = sealing.protector(&batch[7..8]).await.err().expect("an erased person is refused").to_string();
    assert!(err.contains(&subjects[7]) && err.contains("erased"), "{err}");
    let rest = sealing.protector(&batch[8..]).await.unwrap();
    assert_eq!(rest.keys.len(), 1192);
    assert_eq!(other.keys(&subjects[7..8]).await.unwrap()[&subjects[7]], None, "never made again, in a batch either");
}
