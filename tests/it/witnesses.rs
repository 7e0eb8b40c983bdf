//! Witnesses (issue 16, §2): the C2SP `tlog-witness` protocol on both sides, cosignatures
//! stored with checkpoints and served, a fork refused by the same witnesses, quorum checks in
//! `verify-proof`, and our cosigned checkpoints read by a third-party signed-note parser.

use crate::common::{Backend, Place};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use events::{Checkpoint, CosignerKey, NewEvent};
use housing_ledger::ledger::{Ledger, DEFAULT_ORIGIN};
use housing_ledger::witness::{Outcome, Refusal, Witness, Witnesses};
use http_body_util::BodyExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// A witness served on loopback: its key and URL.
pub(crate) async fn witness(dir: &std::path::Path, name: &str, logs: Vec<events::VerifierKey>) -> (Arc<Witness>, String) {
    let w = Arc::new(Witness::open(dir, name, logs).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = housing_ledger::witness::router(w.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (w, format!("http://{addr}"))
}

fn config(ws: &[(&Arc<Witness>, &str)], quorum: usize) -> Witnesses {
    let specs: Vec<String> = ws.iter().map(|(w, url)| format!("{}={url}", w.key())).collect();
    let mut c = Witnesses::parse(&specs, Some(quorum)).unwrap();
    (c.timeout, c.backoff) = (Duration::from_secs(2), Duration::from_millis(10));
    c
}

async fn grow(ledger: &Ledger, n: usize, tag: &str) {
    let batch = (0..n).map(|i| NewEvent::new(format!("test:{tag}"), "Tick", json!({"i": i, "tag": tag}))).collect();
    ledger.append(batch).await.unwrap();
}

/// The body of an `add-checkpoint` request.
fn request(old: u64, proof: &[[u8; 32]], note: &str) -> String {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&B64.encode(h));
        b.push('\n');
    }
    format!("{b}\n{note}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_cosigned_stored_and_served() {
    let place = Place::new(Backend::Sqlite, None);
    let plain = place.ledger().await;
    let log_key = plain.signer().verifier();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (w1, u1) = witness(d1.path(), "witness.example/w1", vec![log_key.clone()]).await;
    let (w2, u2) = witness(d2.path(), "witness.example/w2", vec![log_key.clone()]).await;
    let ledger = Arc::new(plain.with_witnesses(config(&[(&w1, &u1), (&w2, &u2)], 2)));
    grow(&ledger, 10, "a").await;
    let (cp, report) = ledger.checkpoint_cosigned().await.unwrap();
    let report = report.unwrap();
    assert!(report.reached() && report.cosigned() == 2, "{report:?}");
    // The log grows; each witness gets a consistency proof from the size it last cosigned.
    grow(&ledger, 7, "b").await;
    let (cp2, report) = ledger.checkpoint_cosigned().await.unwrap();
    assert!(cp2.tree_size > cp.tree_size && report.unwrap().reached());
    // Served with both cosignatures, each verifying under its witness's key.
    let state = housing_ledger::api::AppState::new(ledger.clone(), devtools::sim::sim_trust("x"));
    let resp = housing_ledger::app(state).oneshot(Request::get("/v1/checkpoint").body(Body::empty()).unwrap()).await.unwrap();
    let note = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let signed = events::cosignature::verified(&note, &[w1.key().clone(), w2.key().clone()]).unwrap();
    assert_eq!(signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["witness.example/w1", "witness.example/w2"], "{note}");
    assert_eq!(Checkpoint::verify_note(&note, &log_key).unwrap().size, cp2.tree_size);
    // Quorum checks as verify-proof makes them.
    let keys = [w1.key().clone(), w2.key().clone()];
    assert_eq!(housing_ledger::proof::check_quorum(&note, &keys, 2).unwrap().len(), 2);
    let stranger = events::Cosigner::generate("witness.example/w3").unwrap();
    let err = housing_ledger::proof::check_quorum(&note, &[w1.key().clone(), stranger.public().clone()], 2).unwrap_err().to_string();
    assert!(err.contains("fewer than the quorum 2") && err.contains("not by: witness.example/w3"), "{err}");
    // A third-party signed-note implementation parses the cosigned note and verifies the
    // log's signature and both cosignatures (the cosignature/v1 message built here from the spec).
    third_party_verifies(&note, &log_key, &keys);
    // Issue 33: a server started without the witness flags serves the same note, with every
    // cosignature stored (it asks no witness, but drops nothing they gave).
    drop(ledger);
    let unflagged = Arc::new(place.ledger().await);
    let state = housing_ledger::api::AppState::new(unflagged, devtools::sim::sim_trust("x"));
    for route in ["/v1/checkpoint", "/tlog/checkpoint"] {
        let resp = housing_ledger::app(state.clone()).oneshot(Request::get(route).body(Body::empty()).unwrap()).await.unwrap();
        let served = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        assert_eq!(served, note, "{route} without --witness");
    }
}

/// `signed_note` (Cloudflare azul) with its standard Ed25519 verifier for the log's key, and a
/// verifier for `cosignature/v1` written from the C2SP text for each witness.
fn third_party_verifies(note: &str, log: &events::VerifierKey, witnesses: &[CosignerKey]) {
    struct CosignatureV1 {
        name: String,
        id: u32,
        key: ed25519_dalek::VerifyingKey,
    }
    impl signed_note::Verifier for CosignatureV1 {
        fn name(&self) -> &str {
            &self.name
        }
        fn key_id(&self) -> u32 {
            self.id
        }
        fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            if sig.len() != 72 {
                return false;
            }
            let time = u64::from_be_bytes(sig[..8].try_into().unwrap());
            let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
            m.extend_from_slice(msg);
            self.key.verify_strict(&m, &ed25519_dalek::Signature::from_bytes(sig[8..].try_into().unwrap())).is_ok()
        }
    }
    let mut list: Vec<Box<dyn signed_note::Verifier>> = vec![Box::new(signed_note::StandardVerifier::new(log.text()).unwrap())];
    for w in witnesses {
        // C2SP: SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4], computed independently of `events`.
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(format!("{}\n", w.name).as_bytes());
        h.update([0x04]);
        h.update(w.key.as_bytes());
        let id = u32::from_be_bytes(h.finalize()[..4].try_into().unwrap());
        list.push(Box::new(CosignatureV1 { name: w.name.clone(), id, key: w.key }));
    }
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).expect("a well-formed signed note");
    let (verified, unverified) = parsed.verify(&signed_note::VerifierList::new(list)).expect("every signature verifies");
    assert_eq!((verified.len(), unverified.len()), (1 + witnesses.len(), 0));
}

/// The protocol's answers, as C2SP `tlog-witness` gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_answers_as_the_protocol_says() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    grow(&ledger, 12, "a").await;
    let dir = tempfile::tempdir().unwrap();
    let w = Witness::open(dir.path(), "witness.example/w1", vec![ledger.signer().verifier()]).unwrap();
    let cp1 = ledger.checkpoint().await.unwrap();
    // Unknown origin: 404; a known origin signed by another key: 403.
    let other = events::LedgerSigner::generate("another.example/log").unwrap();
    let foreign = Checkpoint { origin: "another.example/log".into(), size: cp1.tree_size, root: cp1.root, heads: None }.sign(&other).unwrap();
    assert_eq!(w.add_checkpoint(&request(0, &[], &foreign)).await, Err(Refusal::UnknownLog("another.example/log".into())));
    let impostor = events::LedgerSigner::generate(DEFAULT_ORIGIN).unwrap();
    let forged = Checkpoint { origin: DEFAULT_ORIGIN.into(), size: cp1.tree_size, root: cp1.root, heads: None }.sign(&impostor).unwrap();
    assert!(matches!(w.add_checkpoint(&request(0, &[], &forged)).await, Err(Refusal::Untrusted(_))));
    // Old size above the checkpoint's: 400; malformed bodies: 400.
    assert!(matches!(w.add_checkpoint(&request(cp1.tree_size + 1, &[], &cp1.note)).await, Err(Refusal::BadRequest(_))));
    assert!(matches!(w.add_checkpoint(&format!("old 01\n\n{}", cp1.note)).await, Err(Refusal::BadRequest(_))));
    assert!(matches!(w.add_checkpoint(&cp1.note).await, Err(Refusal::BadRequest(_))));
    // First contact: old 0, then cosigned.
    let line = w.add_checkpoint(&request(0, &[], &cp1.note)).await.unwrap();
    assert_eq!(events::cosignature::verified(&format!("{}{line}", cp1.note), &[w.key().clone()]).unwrap().len(), 1);
    // A stale old size: 409 naming the size it knows.
    grow(&ledger, 5, "b").await;
    let cp2 = ledger.checkpoint().await.unwrap();
    assert_eq!(w.add_checkpoint(&request(0, &[], &cp2.note)).await, Err(Refusal::Conflict(cp1.tree_size)));
    // A proof that does not verify: 422.
    let mut proof = ledger.consistency_proof(cp1.tree_size, cp2.tree_size).await.unwrap();
    proof[0][0] ^= 1;
    assert!(matches!(w.add_checkpoint(&request(cp1.tree_size, &proof, &cp2.note)).await, Err(Refusal::BadProof(_))));
    let proof = ledger.consistency_proof(cp1.tree_size, cp2.tree_size).await.unwrap();
    w.add_checkpoint(&request(cp1.tree_size, &proof, &cp2.note)).await.unwrap();
    // The same size with another root: 409.
    let other_root = Checkpoint { origin: DEFAULT_ORIGIN.into(), size: cp2.tree_size, root: [7; 32], heads: None }.sign(&ledger.signer()).unwrap();
    assert_eq!(w.add_checkpoint(&request(cp2.tree_size, &[], &other_root)).await, Err(Refusal::Conflict(cp2.tree_size)));
    // Over HTTP, a 409 is text/x.tlog.size with the size.
    let resp = housing_ledger::witness::router(Arc::new(Witness::open(dir.path(), "witness.example/w1", vec![ledger.signer().verifier()]).unwrap()))
        .oneshot(Request::post("/add-checkpoint").body(Body::from(request(0, &[], &cp2.note))).unwrap())
        .await
        .unwrap();
    assert_eq!((resp.status(), resp.headers()["content-type"].to_str().unwrap().to_string()), (StatusCode::CONFLICT, "text/x.tlog.size".to_string()));
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], format!("{}\n", cp2.tree_size).as_bytes(), "the state was read back from disk");
    // The state file and the key are 0600.
    use std::os::unix::fs::PermissionsExt;
    for f in ["witness.key", "witness-state.json"] {
        assert_eq!(std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
}

/// A copy of the data directory made after the first cosigned checkpoint, run differently: the
/// same witnesses refuse its checkpoints, the refusal is recorded, and the fork never serves a
/// cosigned checkpoint of its own history; the original goes on being cosigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_is_refused_by_the_same_witnesses() {
    let dir = tempfile::tempdir().unwrap();
    let url = |d: &std::path::Path| format!("sqlite://{}", d.join("ledger.db").display());
    let open = |d: std::path::PathBuf, w: Witnesses| async move {
        let store: Arc<dyn housing_ledger::store::EventStore> = Arc::new(housing_ledger::store::sql::SqlStore::connect(&url(&d)).await.unwrap());
        Arc::new(Ledger::open(store, &d, DEFAULT_ORIGIN).await.unwrap().with_witnesses(w))
    };
    let first = {
        let store: Arc<dyn housing_ledger::store::EventStore> = Arc::new(housing_ledger::store::sql::SqlStore::connect(&url(dir.path())).await.unwrap());
        Ledger::open(store, dir.path(), DEFAULT_ORIGIN).await.unwrap()
    };
    let log_key = first.signer().verifier();
    drop(first);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (w1, u1) = witness(d1.path(), "witness.example/w1", vec![log_key.clone()]).await;
    let (w2, u2) = witness(d2.path(), "witness.example/w2", vec![log_key.clone()]).await;
    let cfg = config(&[(&w1, &u1), (&w2, &u2)], 2);
    let original = open(dir.path().to_path_buf(), cfg.clone()).await;
    grow(&original, 20, "shared").await;
    let (shared, r) = original.checkpoint_cosigned().await.unwrap();
    assert!(r.unwrap().reached());
    drop(original);
    // The operator's copy, made now: the database as one consistent file (the pool just
    // dropped may still be closing, and with it removing its WAL), and the key files.
    let copy = tempfile::tempdir().unwrap();
    let snapshot = housing_ledger::store::sql::SqlStore::connect(&url(dir.path())).await.unwrap();
    let into = copy.path().join("ledger.db").display().to_string().replace('\'', "''");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM INTO '{into}'"))).execute(snapshot.pool()).await.unwrap();
    drop(snapshot);
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() && !f.file_name().unwrap().to_string_lossy().starts_with("ledger.db") {
            std::fs::copy(&f, copy.path().join(f.file_name().unwrap())).unwrap();
        }
    }
    let original = open(dir.path().to_path_buf(), cfg.clone()).await;
    let fork = open(copy.path().to_path_buf(), cfg.clone()).await;
    grow(&original, 5, "true history").await;
    grow(&fork, 5, "another history").await;
    let (cp, r) = original.checkpoint_cosigned().await.unwrap();
    assert!(r.unwrap().reached(), "the original is cosigned");
    let (fcp, r) = fork.checkpoint_cosigned().await.unwrap();
    let r = r.unwrap();
    assert_eq!(fcp.tree_size, cp.tree_size, "same size, another root");
    assert!(!r.reached() && r.outcomes.iter().all(|(_, o)| matches!(o, Outcome::Refused(_))), "{r:?}");
    // Recorded, and never served as the latest: the fork's latest cosigned checkpoint is the
    // one from before it forked.
    let refusals = fork.log().read_by_type("CheckpointRefused", 0, 10).await.unwrap();
    assert_eq!(refusals.len(), 2);
    let (served, note) = fork.latest_served().await.unwrap().unwrap();
    assert_eq!(served.tree_size, shared.tree_size, "the fork serves no cosigned checkpoint of its own history");
    assert_eq!(events::cosignature::verified(&note, &[w1.key().clone(), w2.key().clone()]).unwrap().len(), 2);
    assert_eq!(original.latest_served().await.unwrap().unwrap().0.tree_size, cp.tree_size);
}

const BIN: &str = env!("CARGO_BIN_EXE_housing-ledger");

fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(BIN).arg("--data-dir").arg(dir).args(args).env("HOUSING_LEDGER_LOG", "warn").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `witness serve` as a process, on a fixed port so that it can be restarted there.
struct WitnessProcess {
    child: std::process::Child,
}

impl WitnessProcess {
    fn start(dir: &std::path::Path, name: &str, log: &str, port: u16) -> Self {
        let mut child = std::process::Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(["witness", "serve", "--name", name, "--log", log, "--listen", &format!("127.0.0.1:{port}")])
            .env("HOUSING_LEDGER_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the witness did not start");
    }

    /// SIGKILL, and reaped.
    fn kill(self) {
        drop(self);
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's auditor: starts two witnesses, the log's checkpoints go to them, and a proof
/// bundle verifies with `--witness` and `--quorum`; with a quorum the checkpoint lacks, or a
/// witness down, `checkpoint` exits non-zero naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_requires_a_quorum_of_witnesses() {
    let (log, w1dir, w2dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    let (ok, _, err) = cli(log.path(), &["ledger", "init"]);
    assert!(ok, "{err}");
    let (_, key, _) = cli(log.path(), &["keys", "list"]);
    let key = key.lines().next().unwrap().to_string();
    let vkey = |d: &std::path::Path, name: &str| cli(d, &["witness", "vkey", "--name", name]).1.trim().to_string();
    let (k1, k2) = (vkey(w1dir.path(), "witness.example/w1"), vkey(w2dir.path(), "witness.example/w2"));
    let (p1, p2) = (free_port(), free_port());
    let w1 = WitnessProcess::start(w1dir.path(), "witness.example/w1", &key, p1);
    let w2 = WitnessProcess::start(w2dir.path(), "witness.example/w2", &key, p2);
    let flags = [format!("--witness={k1}=http://127.0.0.1:{p1}"), format!("--witness={k2}=http://127.0.0.1:{p2}")];
    let mut run = vec!["run", "--procedure", "registry_removal", "--as-of", "2026-01-15", "--json"];
    let source = format!("fixture:{}", fixture.display());
    run.extend(["--registries", &source]);
    run.extend(flags.iter().map(String::as_str));
    let (ok, _, err) = cli(log.path(), &run);
    assert!(ok, "{err}");
    // A bundle built now carries both cosignatures.
    let store: Arc<dyn housing_ledger::store::EventStore> =
        Arc::new(housing_ledger::store::sql::SqlStore::connect(&format!("sqlite://{}", log.path().join("ledger.db").display())).await.unwrap());
    let ledger = Ledger::open(store.clone(), log.path(), DEFAULT_ORIGIN).await.unwrap();
    let removed = store.read_by_type("DecisionTaken", 0, 10).await.unwrap()[0].stream.trim_start_matches("person:").to_string();
    let bundle = housing_ledger::proof::build(
        &ledger,
        &devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED),
        &removed,
        housing_ledger::rules::Procedure::RegistryRemoval,
    )
    .await
    .unwrap();
    let file = log.path().join("proof.json");
    std::fs::write(&file, serde_json::to_string(&bundle).unwrap()).unwrap();
    let verify = |extra: &[&str]| {
        let trust = log.path().join("trust.json");
        let mut args = vec!["verify-proof", file.to_str().unwrap(), "--ledger-key", &key, "--trust", trust.to_str().unwrap()];
        args.extend_from_slice(extra);
        cli(log.path(), &args)
    };
    assert!(log.path().join("trust.json").is_file(), "a simulation writes the simulator's trust list");
    let (ok, out, err) = verify(&["--witness", &k1, "--witness", &k2, "--quorum", "2"]);
    assert!(ok && out.contains("cosigned by 2 of 2 witnesses (quorum 2): witness.example/w1, witness.example/w2"), "{out}{err}");
    let stranger = vkey(tempfile::tempdir().unwrap().path(), "witness.example/w3");
    let (ok, out, _) = verify(&["--witness", &k1, "--witness", &stranger, "--quorum", "2"]);
    assert!(!ok && out.contains("not by: witness.example/w3"), "{out}");
    // One witness down: the log still appends and signs, but `checkpoint` says the quorum was
    // not reached and names the witness.
    w2.kill();
    let mut args = vec!["checkpoint"];
    args.extend(flags.iter().map(String::as_str));
    cli(log.path(), &["token", "create", "--role", "auditor"]); // grows nothing; a token is no event
    ledger.append(vec![NewEvent::new("test:more", "Tick", json!({}))]).await.unwrap();
    let (ok, _, err) = cli(log.path(), &args);
    assert!(!ok && err.contains("fewer than the quorum 2") && err.contains("witness.example/w2"), "{err}");
    let mut quorum_one = args.clone();
    quorum_one.push("--witness-quorum=1");
    let (ok, _, err) = cli(log.path(), &quorum_one);
    assert!(ok, "one of two is a quorum of one: {err}");
    w1.kill();
}

/// A witness killed with SIGKILL at random points while two histories of one log (the log and
/// a copy of it run differently) submit checkpoints, and restarted each time, never cosigns two
/// inconsistent trees: once either history is cosigned past the fork, the other never is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_witness_never_cosigns_two_inconsistent_trees() {
    let dir = tempfile::tempdir().unwrap();
    let open = |d: std::path::PathBuf, w: Option<Witnesses>| async move {
        let store: Arc<dyn housing_ledger::store::EventStore> =
            Arc::new(housing_ledger::store::sql::SqlStore::connect(&format!("sqlite://{}", d.join("ledger.db").display())).await.unwrap());
        let l = Ledger::open(store, &d, DEFAULT_ORIGIN).await.unwrap();
        Arc::new(match w {
            Some(w) => l.with_witnesses(w),
            None => l,
        })
    };
    let first = open(dir.path().to_path_buf(), None).await;
    grow(&first, 10, "shared").await;
    let key = first.signer().verifier().to_string();
    drop(first);
    let wdir = tempfile::tempdir().unwrap();
    let wkey = cli(wdir.path(), &["witness", "vkey", "--name", "witness.example/w1"]).1.trim().to_string();
    let port = free_port();
    let mut cfg = Witnesses::parse(&[format!("{wkey}=http://127.0.0.1:{port}")], Some(1)).unwrap();
    (cfg.timeout, cfg.attempts, cfg.backoff) = (Duration::from_millis(500), 1, Duration::from_millis(1));
    let copy = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.path().join(f.file_name().unwrap())).unwrap();
    }
    let fork_at = 11; // event 0 and the ten shared
    let (a, b) = (open(dir.path().to_path_buf(), Some(cfg.clone())).await, open(copy.path().to_path_buf(), Some(cfg)).await);
    let mut w = WitnessProcess::start(wdir.path(), "witness.example/w1", &key, port);
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut cosigned_past_fork = [false, false];
    for round in 0..24 {
        for (i, l) in [&a, &b].into_iter().enumerate() {
            grow(l, 1 + round % 3, if i == 0 { "a" } else { "b" }).await;
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let kill_after = Duration::from_micros(seed % 3000);
            let l2 = l.clone();
            let task = tokio::spawn(async move { l2.checkpoint_cosigned().await });
            if round % 2 == 1 {
                tokio::time::sleep(kill_after).await;
                w.kill();
                w = WitnessProcess::start(wdir.path(), "witness.example/w1", &key, port);
            }
            let (cp, report) = task.await.unwrap().unwrap();
            if report.unwrap().reached() && cp.tree_size > fork_at {
                cosigned_past_fork[i] = true;
            }
        }
    }
    w.kill();
    assert!(cosigned_past_fork.iter().any(|c| *c), "one history was cosigned past the fork");
    assert!(!cosigned_past_fork.iter().all(|c| *c), "never both");
    // Every cosignature each history holds verifies, and all are of one history.
    for l in [&a, &b] {
        for cp in l.checkpoints().checkpoints().await.unwrap() {
            let note = housing_ledger::witness::cosigned_note(l, &cp.note, cp.tree_size).await.unwrap();
            events::cosignature::verified(&note, &[CosignerKey::parse(&wkey).unwrap()]).unwrap();
        }
    }
}

/// Public tiles (issue 16, §4): a third-party C2SP client (`tlog_tiles`, Cloudflare azul) reads
/// our hash tiles with no token, recomputes the checkpoint's root, and builds inclusion proofs
/// that equal ours, full and partial tiles alike; full tiles are immutable; no event body is
/// served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_client_checks_inclusion_from_our_tiles() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    // 700 events: level-0 tiles 0 and 1 full, tile 2 partial, and a partial level-1 tile.
    for chunk in 0..7 {
        grow(&ledger, 100 - usize::from(chunk == 0), &format!("c{chunk}")).await;
    }
    let cp = ledger.checkpoint().await.unwrap();
    assert_eq!(cp.tree_size, 700);
    let app = housing_ledger::app(housing_ledger::api::AppState::new(ledger.clone(), devtools::sim::sim_trust("x")));
    let get = move |path: String| {
        let app = app.clone();
        async move {
            let resp = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
            let (status, cache) = (resp.status(), resp.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string()));
            (status, cache, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
        }
    };
    /// Status, Cache-Control and body of a GET.
    type Fetched = (StatusCode, Option<String>, Vec<u8>);
    struct Reader {
        fetched: std::sync::Mutex<Vec<(String, Option<String>)>>,
        get: Box<dyn Fn(String) -> Fetched + Send + Sync>,
    }
    impl tlog_tiles::TileReader for Reader {
        fn height(&self) -> u8 {
            8
        }
        fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::tlog::Error> {
            tiles
                .iter()
                .map(|t| {
                    // The crate names tiles as Go's sumdb does (tile/8/L/N); C2SP drops the height.
                    let path = format!("/tlog/tile/{}", t.path().strip_prefix("tile/8/").unwrap());
                    let (status, cache, body) = (self.get)(path.clone());
                    assert_eq!(status, StatusCode::OK, "{path}");
                    self.fetched.lock().unwrap().push((path, cache));
                    Ok(body)
                })
                .collect()
        }
        fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
    }
    let handle = tokio::runtime::Handle::current();
    let get_blocking = {
        let get = get.clone();
        move |path: String| tokio::task::block_in_place(|| handle.block_on(get(path)))
    };
    let reader = Reader { fetched: Default::default(), get: Box::new(get_blocking) };
    let (status, _, note) = get("/tlog/checkpoint".into()).await;
    assert_eq!(status, StatusCode::OK);
    let checkpoint = Checkpoint::verify_note(std::str::from_utf8(&note).unwrap(), &ledger.signer().verifier()).unwrap();
    let root = tlog_tiles::tlog::Hash(checkpoint.root);
    let hashes = tlog_tiles::TileHashReader::new(checkpoint.size, root, &reader);
    assert_eq!(tlog_tiles::tlog::tree_hash(checkpoint.size, &hashes).unwrap(), root, "the root recomputed from our tiles");
    for seq in [0u64, 255, 256, 511, 600, 699] {
        let theirs = tlog_tiles::tlog::prove_record(checkpoint.size, seq, &hashes).unwrap();
        let ours = ledger.inclusion_proof(seq, checkpoint.size).await.unwrap();
        assert_eq!(theirs.iter().map(|h| h.0).collect::<Vec<_>>(), ours, "inclusion of {seq}");
    }
    let fetched = reader.fetched.lock().unwrap().clone();
    assert!(fetched.iter().any(|(p, c)| p.ends_with(".p/188") && c.as_deref() == Some("public, max-age=60")), "{fetched:?}");
    assert!(fetched.iter().any(|(p, c)| p == "/tlog/tile/0/000" && c.as_deref() == Some("public, max-age=31536000, immutable")), "{fetched:?}");
    assert!(fetched.iter().any(|(p, _)| p.starts_with("/tlog/tile/1/")), "a level-1 tile: {fetched:?}");
    // No event bodies, and nothing beyond the tree.
    assert_eq!(get("/tlog/tile/entries/000".into()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get("/tlog/tile/0/002".into()).await.0, StatusCode::NOT_FOUND, "tile 2 is partial at this size");
    assert_eq!(get("/tlog/tile/0/003.p/1".into()).await.0, StatusCode::NOT_FOUND);
}

/// Issue 21, item 5: the printable case file shows the checkpoint with its cosignatures, each
/// checked by its witness's key, and the `verify-proof` command that requires them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_case_file_shows_the_cosignatures() {
    use crate::common::scenario::{complete, iin_for, run_fixture};
    use housing_ledger::auth::{authenticate, issue_token, Role};
    use housing_ledger::registry::fixture::Fixture;
    use housing_ledger::rules::Procedure;
    let place = Place::new(Backend::Sqlite, None);
    let plain = place.ledger().await;
    let dir = tempfile::tempdir().unwrap();
    let (w1, u1) = witness(dir.path(), "witness.example/w1", vec![plain.signer().verifier()]).await;
    let ledger = Arc::new(plain.with_witnesses(config(&[(&w1, &u1)], 1)));
    let case = json!({"entries": [{"iin": "@P"}], "registries": {"gosreestr": {"@P": {"privatization_contracts": [{"number": "П-9"}]}}}});
    run_fixture(&ledger, Fixture::parse("w", &complete(Procedure::RegistryRemoval, case).0.to_string()).unwrap()).await;
    let state = housing_ledger::api::AppState::new(ledger.clone(), devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED));
    let token = issue_token(&ledger, Role::AppealsOfficer, "Капитан Ахметова", &iin_for("Officer1")).await.unwrap().0;
    let officer = authenticate(&ledger, &token).await.unwrap().unwrap();
    let filing = housing_ledger::appeal::Filing {
        procedure: "registry_removal".into(),
        grounds: "not mine".into(),
        contested_step: None,
        received_on: None,
        late_reason: None,
        suspend: false,
    };
    let a = state.appeals().file(&iin_for("P"), &filing, &officer).await.unwrap();
    let (_, report) = ledger.checkpoint_cosigned().await.unwrap();
    assert!(report.unwrap().reached());
    let session = housing_ledger::web::session::open(ledger.access().as_ref(), &officer).await.unwrap();
    let req = Request::get(format!("/ui/appeals/{}/print", a.id)).header("Cookie", format!("hl_session={session}; hl_lang=ru")).body(Body::empty()).unwrap();
    let resp = housing_ledger::app(state).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let html = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let signatures = html.split("id=\"print-signatures\"").nth(1).expect("the signatures").split("</ul>").next().unwrap();
    assert!(signatures.contains("подпись журнала"), "the log's own: {signatures}");
    let witness_line = signatures.split("witness.example/w1").nth(1).expect("the witness's cosignature").split("</li>").next().unwrap();
    assert!(witness_line.contains("✓ подпись свидетеля проверена") && witness_line.contains("<time datetime="), "checked, with when: {witness_line}");
    let command = html.split("id=\"print-command\">").nth(1).unwrap().split("</pre>").next().unwrap();
    assert!(command.contains(&format!("--witness {}", w1.key())) && command.ends_with("--quorum 1"), "{command}");
    assert!(html.contains("id=\"print-verified\"><span class=\"ok\">✓"), "and the case file verifies");
}

/// Issue 29, item 4: a serving ledger signs checkpoints by itself, so the reads it records do
/// not stay past the last checkpoint. Then deleting them with the database alone (triggers
/// dropped, Merkle nodes too) is caught by `verify`: the checkpoint is larger than the log. The
/// metrics show the tail's length and age meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serving_ledger_checkpoints_its_tail() {
    use devtools::sim::DEFAULT_SIM_SEED;
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    crate::common::scenario::run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::load(&example).unwrap()).await;
    ledger.checkpoint().await.unwrap();
    let signed = ledger.size().await.unwrap();
    let policy = housing_ledger::state::CheckpointPolicy { every_events: 1000, every: Duration::from_millis(300) };
    let state = housing_ledger::api::AppState::new(ledger.clone(), devtools::sim::sim_trust(DEFAULT_SIM_SEED)).with_checkpoints(policy);
    let (auditor, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Auditor, "").await.unwrap();
    let (operator, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Operator, "").await.unwrap();
    let get = |uri: String, token: String| {
        let state = state.clone();
        async move {
            let req = Request::builder().uri(uri).header("Authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
            let resp = housing_ledger::app(state).oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
        }
    };
    // Reads of personal data: each recorded in the ledger.
    let person = ledger.log().read_by_type("DecisionTaken", 0, 1).await.unwrap()[0].stream.clone();
    let iin = person.trim_start_matches("person:");
    for _ in 0..5 {
        get(format!("/v1/persons/{iin}"), auditor.clone()).await;
    }
    let read = ledger.size().await.unwrap();
    assert!(read > signed, "the reads are events");
    let metrics = get("/metrics".into(), operator.clone()).await;
    assert!(metrics.contains("housing_ledger_unwitnessed_events") && metrics.contains("housing_ledger_unwitnessed_age_seconds"), "{metrics}");
    // Within the policy's time, a checkpoint covers them, unasked.
    let mut covered = false;
    for _ in 0..100 {
        if ledger.tail().await.unwrap().checkpoint_size >= read {
            covered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(covered, "serve signed a checkpoint over the reads by itself");
    state.background.shutdown().await;
    // The reads deleted with the database alone: verify names the checkpoint larger than the log.
    let sql = place.sql().await;
    crate::common::tamper(
        &sql,
        &format!(
            "DROP TRIGGER IF EXISTS events_no_delete; DROP TRIGGER IF EXISTS merkle_nodes_no_delete;
             DELETE FROM events WHERE seq >= {signed}; DELETE FROM merkle_nodes WHERE ((idx + 1) << level) > {signed}"
        ),
    )
    .await;
    let e = housing_ledger::ledger::verify_store(sql_store(&place).await.as_ref(), None, |_| {}).await.unwrap_err();
    assert!(e.to_string().contains("is larger than the log"), "{e}");
}

async fn sql_store(place: &Place) -> Arc<dyn housing_ledger::store::EventStore> {
    place.store().await
}

/// Issue 35, F16: the witness's data directory (and any parent it makes) is 0700, its key and
/// state 0600, as the ledger's are.
#[cfg(unix)]
#[tokio::test]
async fn the_witness_keeps_its_files_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("new/witness");
    let log = events::LedgerSigner::generate(DEFAULT_ORIGIN).unwrap().verifier();
    let (w, url) = witness(&dir, "witness.example/modes", vec![log]).await;
    drop((w, url));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&root.path().join("new")), 0o700);
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}
