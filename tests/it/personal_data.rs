//! Issue 32 (format v2), the ledger end to end: after a run of the acceptance fixture nothing
//! personal is in the clear in the database files, the stream names or the tiles; erasing a
//! removed person leaves no byte of his anywhere in the data directory while every proof, the
//! verification, the replay and the audit still hold; retention erases exactly what is due.

use crate::common::{Backend, PgCluster, Place};
use devtools::sim::DEFAULT_SIM_SEED;
use housing_ledger::ledger::Ledger;
use housing_ledger::proof;
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::rules::{Procedure, RuleBook};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Removed in the acceptance fixture: held state-fund housing (ЕГКН), his address given.
const X: &str = "850415350495";
/// Removed too: his spouse holds a privatisation contract.
const Y: &str = "850415350356";

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json")).unwrap()).unwrap()
}

/// Every IIN, surname and address the fixture holds (its persons' and their families').
fn secrets(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if housing_ledger::rules::iin::Iin::parse(k).is_ok() {
                    out.insert(k.clone());
                }
                match (k.as_str(), x) {
                    ("surname" | "address" | "object", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    _ => secrets(x, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| secrets(x, out)),
        Value::String(s) if housing_ledger::rules::iin::Iin::parse(s).is_ok() => {
            out.insert(s.clone());
        }
        _ => {}
    }
}

/// X's own: his IIN, his surname, his addresses.
fn secrets_of_x() -> Vec<String> {
    let f = fixture();
    let entry = f["segments"]["registry_removal"].as_array().unwrap().iter().find(|e| e["iin"] == X).unwrap().clone();
    let mut out = vec![X.to_string(), entry["surname"].as_str().unwrap().to_string()];
    out.extend(f["registries"]["egkn"][X]["state_fund_housing"].as_array().unwrap().iter().map(|h| h["address"].as_str().unwrap().to_string()));
    out
}

/// The files under `dir` (recursively) that hold `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        let p = f.path();
        if p.is_dir() {
            out.extend(files_holding(&p, needle));
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            out.push(p.display().to_string());
        }
    }
    out
}

/// Where a PostgreSQL cluster keeps the databases of `urls`, after a checkpoint.
async fn database_dirs(urls: &[&str]) -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    for url in urls {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::raw_sql("CHECKPOINT").execute(&pool).await.unwrap();
        let data: String = sqlx::query_scalar("SHOW data_directory").fetch_one(&pool).await.unwrap();
        let oid: sqlx::postgres::types::Oid =
            sqlx::query_scalar("SELECT oid FROM pg_database WHERE datname = current_database()").fetch_one(&pool).await.unwrap();
        dirs.push(std::path::Path::new(&data).join("base").join(oid.0.to_string()));
    }
    dirs
}

/// The files of the ledger: its data directory, and on PostgreSQL its two databases' files.
async fn ledger_files(place: &Place, pg_url: Option<&str>) -> Vec<std::path::PathBuf> {
    let mut dirs = vec![place.key_dir.path().to_path_buf()];
    if let Some(url) = pg_url {
        let keys = housing_ledger::sealing::keys_database_url(url).unwrap();
        dirs.extend(database_dirs(&[url, &keys]).await);
    }
    dirs
}

async fn world(b: Backend, pg: Option<&PgCluster>) -> (Place, Arc<Ledger>) {
    let place = Place::new(b, pg);
    let ledger = Arc::new(place.ledger().await);
    assert_eq!(ledger.format(), events::envelope::EVENT_FORMAT_V2, "a new ledger is v2");
    crate::common::scenario::run_fixture(&ledger, Fixture::parse("acceptance", &fixture().to_string()).unwrap()).await;
    housing_ledger::read_models::catch_up(&ledger).await.unwrap();
    ledger.checkpoint().await.unwrap();
    ledger.log().maintain().await.unwrap();
    (place, ledger)
}

/// What the dashboard counts: per procedure and status, the persons' cases it can read and
/// the erased persons' figures.
async fn figures(ledger: &Ledger) -> std::collections::BTreeMap<(String, String), usize> {
    let mut out = std::collections::BTreeMap::new();
    let read = housing_ledger::read_models::all_persons(ledger).await.unwrap().into_iter().map(|(k, doc)| (k, serde_json::from_str(&doc).unwrap()));
    let erased = housing_ledger::erasure::erased_figures(ledger).await.unwrap();
    for (_, cases) in read.chain(erased) {
        let cases: std::collections::BTreeMap<String, projections::person::ProcedureCase> = cases;
        for (p, c) in cases {
            *out.entry((p, c.status.as_str().to_string())).or_default() += 1;
        }
    }
    out
}

async fn call(ledger: &Arc<Ledger>, token: &str, uri: &str) -> (u16, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let state = housing_ledger::api::AppState::new(ledger.clone(), devtools::sim::sim_trust(DEFAULT_SIM_SEED));
    let req = axum::http::Request::builder().uri(uri).header("Authorization", format!("Bearer {token}")).body(axum::body::Body::empty()).unwrap();
    let resp = housing_ledger::app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    state.background.shutdown().await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn nothing_personal_in_the_clear(b: Backend, pg: Option<&PgCluster>) {
    let (place, ledger) = world(b, pg).await;
    let mut all = BTreeSet::new();
    secrets(&fixture(), &mut all);
    assert!(all.len() > 25 && all.contains(X) && all.contains("Астана, ул. Кенесары 1-1"), "{all:?}");
    let url = place.database_url();
    let files = ledger_files(&place, url.as_deref()).await;
    for s in &all {
        for dir in &files {
            let found = files_holding(dir, s.as_bytes());
            assert!(found.is_empty(), "{s:?} is in the clear in {found:?}");
        }
    }
    // The stream names and the tiles.
    let streams: Vec<String> = ledger
        .log()
        .read_raw(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|(_, b)| serde_json::from_str::<Value>(b).unwrap()["stream"].as_str().unwrap().to_string())
        .collect();
    assert!(streams.iter().any(|s| s.starts_with("person:p")), "persons' streams name blind ids");
    for s in &all {
        assert!(!streams.iter().any(|st| st.contains(s.as_str())), "{s} in a stream name");
    }
    let size = ledger.size().await.unwrap();
    let mut tiles = Vec::new();
    for level in 0..3u8 {
        let width = (size >> (8 * level as u64)).min(256);
        if width > 0 {
            tiles.extend(ledger.tile(level, 0, width, size).await.unwrap());
        }
    }
    for s in &all {
        assert!(!tiles.windows(s.len()).any(|w| w == s.as_bytes()), "{s} in a tile");
    }
    // Yet whoever may read sees the data: the person's events open.
    let events = ledger.log().read_stream(&format!("person:{X}"), None).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "ListEntryReceived" && e.data["entry"]["iin"] == X));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_nothing_personal_is_in_the_clear() {
    nothing_personal_in_the_clear(Backend::Sqlite, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_nothing_personal_is_in_the_clear() {
    let pg = PgCluster::start();
    nothing_personal_in_the_clear(Backend::Postgres, Some(&pg)).await;
}

async fn erasure_leaves_every_proof_whole(b: Backend, pg: Option<&PgCluster>) {
    let (place, ledger) = world(b, pg).await;
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let anchor = ledger.signer().verifier();
    let check = |bundle: &proof::Bundle| proof::verify(bundle, &anchor, &RuleBook::built_in(), &proof::Sources::List(keys.clone())).map(|_| ());
    // An auditor's copy of X's bundle, taken before: through JSON, as it is handed over.
    let x_bundle = proof::build(&ledger, &keys, X, Procedure::RegistryRemoval).await.unwrap();
    let x_copy: proof::Bundle = serde_json::from_str(&serde_json::to_string(&x_bundle).unwrap()).unwrap();
    check(&x_copy).unwrap();
    assert_eq!(x_copy.opening.as_ref().unwrap().subject, ledger.sealing().unwrap().blind_id(X));
    let (operator, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Operator, "DPO").await.unwrap();
    let (auditor, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Auditor, "").await.unwrap();
    let (s, before) = call(&ledger, &auditor, &format!("/v1/persons/{X}")).await;
    assert_eq!(s, 200, "{before}");
    let (_, runs_before) = call(&ledger, &auditor, "/v1/runs").await;
    let figures_before = figures(&ledger).await;
    let verified_before = ledger.verify(|_| {}).await.unwrap();

    let erased = housing_ledger::erasure::erase(&ledger, X, "the purpose ended", "Закон РК № 94-V, ст. 18", "DPO (test)").await.unwrap();
    assert!(erased.now);
    let again = housing_ledger::erasure::erase(&ledger, X, "the purpose ended", "Закон РК № 94-V, ст. 18", "DPO (test)").await.unwrap();
    assert_eq!((again.seq, again.now), (erased.seq, false), "erased once, recorded once");
    let event = ledger.log().read_seqs(&[erased.seq]).await.unwrap().remove(0);
    assert_eq!(event.kind, "SubjectErased");
    assert!(!event.to_canonical().unwrap().contains(X), "nothing personal in SubjectErased");

    // No byte string of his anywhere: the events database and its WAL, the key store, the
    // read models (on PostgreSQL, the databases' files after the rewrite).
    let url = place.database_url();
    for s in secrets_of_x() {
        for dir in ledger_files(&place, url.as_deref()).await {
            let found = files_holding(&dir, s.as_bytes());
            assert!(found.is_empty(), "{s:?} of the erased person is still in {found:?}");
        }
    }
    // His seals stay shut for everyone; everyone else's open.
    let his = ledger.log().read_stream(&format!("person:{X}"), None).await.unwrap();
    assert!(!his.is_empty() && his.iter().all(events::personal::is_shut));
    assert!(ledger.log().read_stream(&format!("person:{Y}"), None).await.unwrap().iter().all(|e| !events::personal::is_shut(e)));

    // Every hash, signature, checkpoint and proof as before.
    let report = ledger.verify(|_| {}).await.unwrap();
    assert_eq!((report.root, report.erased_persons), (ledger.root(report.events).await.unwrap(), 1));
    assert_eq!(verified_before.erased_persons, 0);
    let replay = housing_ledger::read_models::replay(&ledger).await.unwrap();
    assert!(replay.differences.is_empty(), "{:?}", replay.differences);
    let audit = housing_ledger::audit::audit(&ledger, &RuleBook::built_in(), Some(&keys), |_, _| {}).await.unwrap();
    assert!(audit.findings.is_empty(), "{:?}", audit.findings);
    check(&proof::build(&ledger, &keys, Y, Procedure::RegistryRemoval).await.unwrap()).unwrap();
    check(&x_copy).unwrap();
    assert!(proof::build(&ledger, &keys, X, Procedure::RegistryRemoval).await.is_err(), "no bundle of his is made any more");

    // His routes answer 410, naming the erasure; the figures stay.
    for route in [format!("/v1/persons/{X}"), format!("/v1/persons/{X}/proof?procedure=registry_removal"), format!("/v1/persons/{X}/events")] {
        let (s, v) = call(&ledger, &auditor, &route).await;
        assert_eq!(s, 410, "{route}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(&format!("seq {}", erased.seq)), "{v}");
    }
    let (s, _) = call(&ledger, "not-a-token", &format!("/v1/persons/{X}")).await;
    assert_eq!(s, 401, "an erasure is told to no one who may not ask");
    let (_, runs_after) = call(&ledger, &auditor, "/v1/runs").await;
    assert_eq!(runs_after["runs"][0]["counts"], runs_before["runs"][0]["counts"]);
    // The dashboard's figures stay: his cases count by what the erasure kept, which names no one.
    let kept = housing_ledger::erasure::erased_figures(&ledger).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(figures(&ledger).await, figures_before);
    assert_eq!(kept[0].1["registry_removal"].status, events::catalogue::Status::Removed);
    let text = serde_json::to_string(&kept).unwrap();
    for s in secrets_of_x() {
        assert!(!text.contains(&s), "{s} kept in the figures");
    }
    let _ = operator;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_an_erasure_leaves_no_byte_of_him_and_every_proof_whole() {
    erasure_leaves_every_proof_whole(Backend::Sqlite, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_erasure_leaves_no_byte_of_him_and_every_proof_whole() {
    let pg = PgCluster::start();
    erasure_leaves_every_proof_whole(Backend::Postgres, Some(&pg)).await;
}

fn cli(dir: &std::path::Path, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_housing-ledger"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("HOUSING_LEDGER_TOKEN", token)
        .env("HOUSING_LEDGER_LOG", "warn")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `retention --dry-run` lists exactly the cases due under a retention file (here: removals at
/// once, everything else in a hundred years), and `retention` erases exactly those; `erase`
/// is the operator's, and refuses what is not an IIN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_erases_exactly_what_is_due() {
    let (place, ledger) = world(Backend::Sqlite, None).await;
    let dir = place.key_dir.path();
    let (operator, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Operator, "DPO").await.unwrap();
    let (auditor, _) = housing_ledger::auth::create_token(&ledger, housing_ledger::auth::Role::Auditor, "").await.unwrap();
    let mut rules: Value = serde_json::from_str(housing_ledger::retention::VERSIONS[0].1).unwrap();
    for (kind, p) in rules["kinds"].as_object_mut().unwrap() {
        p["period"] = Value::from(if kind == "removed" { "P0D" } else { "P100Y" });
    }
    let file = dir.join("retention-test.json");
    std::fs::write(&file, rules.to_string()).unwrap();
    let removed: BTreeSet<String> = housing_ledger::read_models::all_persons(&ledger)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, doc)| serde_json::from_str::<Value>(doc).unwrap()["registry_removal"]["status"] == "removed")
        .map(|(k, _)| k)
        .collect();
    assert!(removed.len() >= 3 && removed.contains(X), "{removed:?}");
    let today = chrono::Utc::now().date_naive().to_string();
    let file = file.to_str().unwrap();
    let (ok, out, err) = cli(dir, &operator, &["retention", "--dry-run", "--json", "--rules", file, "--today", &today]);
    assert!(ok, "{out}{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let due: BTreeSet<String> = listed["due"].as_array().unwrap().iter().map(|d| d["person"].as_str().unwrap().to_string()).collect();
    assert_eq!(due, removed, "exactly the removals are due");
    assert!(listed["due"].as_array().unwrap().iter().all(|d| d["kind"] == "removed" && d["confirmed"] == false));
    let (s, _) = call(&ledger, &auditor, &format!("/v1/persons/{X}")).await;
    assert_eq!(s, 200, "a dry run erases nothing");
    // Not the operator's token: refused, nothing erased.
    let (ok, _, err) = cli(dir, &auditor, &["retention", "--rules", file, "--today", &today]);
    assert!(!ok && err.contains("operator"), "{err}");
    let (ok, out, err) = cli(dir, &operator, &["retention", "--json", "--rules", file, "--today", &today]);
    assert!(ok, "{out}{err}");
    let done: Value = serde_json::from_str(&out).unwrap();
    let erased: BTreeSet<String> = done["erased"].as_array().unwrap().iter().map(|d| d["due"]["person"].as_str().unwrap().to_string()).collect();
    assert_eq!(erased, removed);
    for iin in &removed {
        assert_eq!(call(&ledger, &auditor, &format!("/v1/persons/{iin}")).await.0, 410, "{iin}");
    }
    let others: Vec<String> = housing_ledger::read_models::all_persons(&ledger).await.unwrap().into_iter().map(|(k, _)| k).collect();
    assert!(!others.is_empty() && others.iter().all(|k| !removed.contains(k)));
    for iin in &others {
        assert_eq!(call(&ledger, &auditor, &format!("/v1/persons/{iin}")).await.0, 200, "{iin} is not due");
    }
    let (ok, out, _) = cli(dir, &operator, &["retention", "--dry-run", "--json", "--rules", file, "--today", &today]);
    assert!(ok && serde_json::from_str::<Value>(&out).unwrap()["due"] == serde_json::json!([]), "nothing is due twice: {out}");
    let erasures = ledger.log().read_all_by_type("SubjectErased").await.unwrap();
    assert_eq!(erasures.len(), removed.len());
    assert!(erasures.iter().all(|e| e.data["rule"] == "retention:v1#removed" && e.data["erased_by"].as_str().unwrap().contains("DPO")));

    // `erase` by hand: a malformed IIN and another role are refused.
    let one = others[0].clone();
    let (ok, _, err) = cli(dir, &operator, &["erase", "--iin", "12345", "--reason", "r", "--basis", "b"]);
    assert!(!ok && err.contains("12 digits"), "{err}");
    let (ok, _, err) = cli(dir, &auditor, &["erase", "--iin", &one, "--reason", "r", "--basis", "b"]);
    assert!(!ok && err.contains("operator"), "{err}");
    let (ok, out, err) = cli(dir, &operator, &["erase", "--iin", &one, "--reason", "asked by the person", "--basis", "Закон РК № 94-V, ст. 18"]);
    assert!(ok && out.contains("erased p"), "{out}{err}");
    assert_eq!(call(&ledger, &auditor, &format!("/v1/persons/{one}")).await.0, 410);
    let (ok, out, err) = cli(dir, &operator, &["verify", "--trust-bundle-keys"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(dir, &operator, &["audit", "--trust-bundle-keys"]);
    assert!(ok && out.contains("nothing found"), "{out}{err}");
}

/// A v1 ledger (personal data in the clear) keeps working, and refuses an erasure it cannot do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_ledger_refuses_an_erasure() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger_v1().await);
    crate::common::scenario::run_fixture(&ledger, Fixture::parse("acceptance", &fixture().to_string()).unwrap()).await;
    let err = housing_ledger::erasure::erase(&ledger, X, "r", "b", "t").await.unwrap_err().to_string();
    assert!(err.contains("format v1"), "{err}");
    let events = ledger.log().read_stream(&format!("person:{X}"), None).await.unwrap();
    assert!(events.iter().all(|e| e.format == events::EVENT_FORMAT && e.stored.is_none() && e.stream == format!("person:{X}")));
}

/// An auditor's own opener, written from `docs/implementation/personal-data.md` with Python's
/// standard library, opens a served bundle's events to what the service opens, and refuses one
/// whose seal was changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_opener_opens_a_bundle_as_the_service_does() {
    let (place, ledger) = world(Backend::Sqlite, None).await;
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let bundle = proof::build(&ledger, &keys, Y, Procedure::RegistryRemoval).await.unwrap();
    let ours: Vec<Value> = proof::opened_events(&bundle)
        .unwrap()
        .into_iter()
        .filter(|e| e.stored_data().get("sealed").is_some())
        .map(|e| serde_json::json!({"seq": e.seq, "stream": e.stream, "data": e.data}))
        .collect();
    assert!(ours.len() > 5);
    let run = |b: &Value| {
        let f = place.key_dir.path().join("bundle.json");
        std::fs::write(&f, b.to_string()).unwrap();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/auditor/personal_data.py");
        let out = std::process::Command::new("python3").arg(script).arg("bundle").arg(&f).output().expect("python3 runs");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let mut served = serde_json::to_value(&bundle).unwrap();
    // What the service says it opened is no part of the check.
    for e in served["events"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("opened");
    }
    let (ok, said) = run(&served);
    assert!(ok, "{said}");
    assert_eq!(serde_json::from_str::<Vec<Value>>(&said).unwrap(), ours);
    let at = served["events"].as_array().unwrap().iter().position(|e| e["data"].get("sealed").is_some()).unwrap();
    served["events"][at]["data"]["clear"]["run"] = Value::from("another run");
    let (ok, said) = run(&served);
    assert!(!ok && said.contains("differs"), "{said}");
}
