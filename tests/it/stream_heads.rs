//! Issue 29, item 2: every checkpoint commits to every stream's head (`stream-heads` line), a
//! bundle proves its streams whole to their heads, and `verify` recomputes the map at every
//! checkpoint. Checked against an auditor's own script written from
//! `docs/implementation/stream-heads.md` alone (`tests/data/auditor/stream_heads.py`).

use crate::common::{Backend, Place};
use devtools::sim::DEFAULT_SIM_SEED;
use housing_ledger::proof;
use housing_ledger::rules::{Procedure, RuleBook};
use std::path::Path;

/// Runs the auditor's script; its verdict and what it printed.
fn auditor(args: &[&str]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/auditor/stream_heads.py");
    let out = std::process::Command::new("python3").arg(script).args(args).output().expect("python3 runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[tokio::test]
async fn every_checkpoint_commits_to_every_streams_head() {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = place.ledger().await;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.json");
    crate::common::scenario::run_fixture(&ledger, housing_ledger::registry::fixture::Fixture::load(&example).unwrap()).await;
    let first = ledger.checkpoint().await.unwrap();
    assert!(first.note.contains("\nstream-heads "), "{}", first.note);
    // A second checkpoint after more events: the kept map moved forward, not rebuilt.
    let keys = devtools::sim::sim_trust(DEFAULT_SIM_SEED);
    let removed = ledger.log().read_by_type("NoticeIssued", 0, 1).await.unwrap()[0].clone();
    let iin = removed.data["iin"].as_str().unwrap().to_string();
    let anchor = ledger.signer().verifier();
    ledger.rotate_key("a rotation after the run").await.unwrap();
    // The bundle's checkpoint covers the rotation: its keys stream ends in the retirement.
    let bundle = proof::build(&ledger, &keys, &iin, Procedure::RegistryRemoval).await.unwrap();
    let second = ledger.checkpoint().await.unwrap();
    assert!(bundle.checkpoint.starts_with(second.note.split("\n\n").next().unwrap()));
    assert!(second.tree_size > first.tree_size);
    let report = ledger.verify(|_| {}).await.unwrap();
    assert_eq!((report.checkpoints, report.checkpoints_without_heads), (2, 0));

    // The auditor's script recomputes both roots from the events and agrees.
    let dir = tempfile::tempdir().unwrap();
    let events = ledger.log().read_raw(0, second.tree_size).await.unwrap();
    let jsonl: String = events.iter().map(|(_, body)| format!("{body}\n")).collect();
    std::fs::write(dir.path().join("events.jsonl"), jsonl).unwrap();
    let mut notes = Vec::new();
    for cp in [&first, &second] {
        let p = dir.path().join(format!("note-{}.txt", cp.tree_size));
        std::fs::write(&p, &cp.note).unwrap();
        notes.push(p.to_string_lossy().into_owned());
    }
    let events_path = dir.path().join("events.jsonl").to_string_lossy().into_owned();
    let mut args = vec!["log", events_path.as_str()];
    args.extend(notes.iter().map(String::as_str));
    let (ok, out) = auditor(&args);
    assert!(ok && out.matches("ok checkpoint").count() == 2, "{out}");

    // Bundles: the genuine one passes both; with its tail cut, both refuse it.
    let check = |b: &proof::Bundle| proof::verify(b, &anchor, &RuleBook::built_in(), &proof::Sources::List(keys.clone())).map_err(|e| e.to_string());
    let file = dir.path().join("bundle.json");
    let file = file.to_str().unwrap();
    std::fs::write(file, serde_json::to_string(&bundle).unwrap()).unwrap();
    check(&bundle).unwrap();
    let (ok, out) = auditor(&["bundle", file]);
    // The auditor sees the streams as stored (on a v2 ledger a person's names his blind id).
    let stored = ledger.stored_stream(&format!("person:{iin}"));
    assert!(ok && out.contains(&format!("ok stream {stored}")), "{out}");
    for stream in [format!("person:{iin}"), "notice:".into(), "keys".into()] {
        let mut cut = bundle.clone();
        let last = cut.events.iter().filter(|e| e.stream.starts_with(&stream)).map(|e| e.seq).max().unwrap();
        cut.events.retain(|e| e.seq != last);
        cut.inclusion.retain(|i| i.seq != last);
        std::fs::write(file, serde_json::to_string(&cut).unwrap()).unwrap();
        let ours = check(&cut).unwrap_err();
        let (ok, theirs) = auditor(&["bundle", file]);
        assert!(!ok, "the auditor's script passed a bundle cut at the end of {stream}: {theirs}");
        // The last event of the person's stream is the decision, which the status needs: it is
        // named as missing before the tail is looked at. The others are the tail.
        assert!(ours.contains("leaves out the end of stream") || ours.contains("does not hold the DecisionTaken"), "{stream}: {ours}");
    }

    // A checkpoint whose stream-heads line is false, signed with the ledger key and put in the
    // store with the database: verify recomputes the map and refuses it, and so does the script.
    let (body, _) = events::note::split(&second.note).unwrap();
    let mut cp = events::Checkpoint::parse_body(body).unwrap();
    cp.heads = Some([7; 32]);
    let forged = cp.sign(&ledger.signer()).unwrap();
    let sql = place.sql().await;
    crate::common::tamper(&sql, &format!("UPDATE checkpoints SET note = '{forged}' WHERE tree_size = {}", second.tree_size)).await;
    match ledger.verify(|_| {}).await {
        Err(housing_ledger::ledger::LedgerError::Invalid(f)) => {
            assert_eq!(f.fault, events::verify::Fault::CheckpointRoot, "{f}");
            assert!(f.detail.contains("commits to stream heads 0707"), "{f}");
        }
        other => panic!("a false stream-heads line passed verify: {other:?}"),
    }
    std::fs::write(&notes[1], &forged).unwrap();
    let mut args = vec!["log", events_path.as_str()];
    args.extend(notes.iter().map(String::as_str));
    let (ok, out) = auditor(&args);
    assert!(!ok && out.contains("the note says 0707"), "{out}");
}
