//! The typed event catalogue keeps the ledger's bytes: ledgers written before the catalogue had
//! types (`tests/data/golden/`, from the test scenarios, and `tests/data/example-both-procedures.jsonl`,
//! from `housing-ledger run`) still verify, and every event in them decodes into its type and
//! encodes back to the very same canonical bytes. The service writes events only through these
//! types, so what it writes now is what it wrote then.

use events::catalogue::*;
use events::verify::ChainVerifier;
use events::Event;
use std::collections::BTreeSet;
use std::path::Path;

fn ledger(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).collect()
}

fn golden_ledgers() -> Vec<(String, Vec<Event>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<_> = std::fs::read_dir(dir.join("golden")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.push(dir.join("example-both-procedures.jsonl"));
    files.iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), ledger(p))).collect()
}

/// Decodes `e` as `T` and encodes it again: the canonical bytes of the data must not change.
fn round_trip<T: EventData>(e: &Event) -> Result<(), String> {
    let typed: T = e.decode().map_err(|x| x.to_string())?;
    let before = events::canonical::value_to_vec(&e.data).unwrap();
    let after = events::canonical::value_to_vec(&typed.into_data()).unwrap();
    if before != after {
        return Err(format!(
            "seq {} ({}): bytes differ\n before {}\n after  {}",
            e.seq,
            e.kind,
            String::from_utf8_lossy(&before),
            String::from_utf8_lossy(&after)
        ));
    }
    Ok(())
}

/// Every type of the catalogue, by name.
fn typed_round_trip(e: &Event) -> Result<(), String> {
    macro_rules! by_type {
        ($($t:ident),*) => {
            match e.kind.as_str() {
                $(<$t as EventData>::TYPE => round_trip::<$t>(e),)*
                other => Err(format!("seq {}: {other} is not in the catalogue", e.seq)),
            }
        };
    }
    by_type!(
        KeyIntroduced,
        KeyRetired,
        RunStarted,
        RunFinished,
        ListEntryReceived,
        InputRejected,
        ConsentMissing,
        RegistryQueried,
        RegistryResponded,
        RegistryFailed,
        CheckEvaluated,
        DecisionProposed,
        PersonRetained,
        ListSubmitted,
        DecisionTaken,
        NoticeIssued,
        NoticeDelivered,
        NoticeDeliveryFailed,
        AlreadyDecided,
        DecisionNotTaken,
        NoticeWithheld,
        AppealFiled,
        RemovalSuspended,
        AppealRechecked,
        AppealResolved,
        ReinstatementAcknowledged,
        ReinstatementFailed,
        CheckpointRefused,
        PersonalDataReads,
        PersonalDataRead
    )
}

#[test]
fn ledgers_written_before_the_typed_catalogue_verify_and_keep_their_bytes() {
    let mut seen = BTreeSet::new();
    for (name, events) in golden_ledgers() {
        let mut v = ChainVerifier::new();
        v.feed(&events).unwrap_or_else(|f| panic!("{name}: {f}"));
        assert_eq!(v.size(), events.len() as u64, "{name}");
        for e in &events {
            typed_round_trip(e).unwrap_or_else(|why| panic!("{name}: {why}"));
            seen.insert(e.kind.clone());
        }
    }
    // The golden ledgers hold every type the service writes but the witnesses' refusal and
    // the reads of older ledgers, which have a test of their own below, and the tokens' events,
    // newer than every golden ledger.
    let unseen: Vec<&str> = ALL.iter().chain([&PERSONAL_DATA_READS]).copied().filter(|k| !seen.contains(*k)).collect();
    // Erasures are of format v2, newer than every golden ledger too.
    assert_eq!(unseen, [CHECKPOINT_REFUSED, SUBJECT_ERASED, TOKEN_ISSUED, TOKEN_REVOKED]);
}

#[test]
fn a_misspelt_or_missing_member_does_not_decode() {
    let (_, events) = golden_ledgers().into_iter().find(|(n, _)| n == "example-both-procedures.jsonl").unwrap();
    let mut taken = events.iter().find(|e| e.kind == DECISION_TAKEN).unwrap().clone();
    assert!(taken.decode::<DecisionTaken>().is_ok());
    // `decide_by` for `decided_by`: read as "" before the catalogue had types.
    let by = taken.data.as_object_mut().unwrap().remove("decided_by").unwrap();
    taken.data["decide_by"] = by;
    let err = taken.decode::<DecisionTaken>().unwrap_err().to_string();
    assert!(err.contains("missing field `decided_by`"), "{err}");
    // A verdict that is not one.
    let mut check = events.iter().find(|e| e.kind == CHECK_EVALUATED).unwrap().clone();
    check.data["verdict"] = "maybe".into();
    assert!(check.decode::<CheckEvaluated>().unwrap_err().to_string().contains("unknown variant `maybe`"));
    // Another type.
    assert!(check.decode::<DecisionTaken>().is_err());
}

#[test]
fn refusals_and_older_reads_keep_their_bytes() {
    let refused = serde_json::json!({"tree_size": 9, "witness": "w.example/1+0a0b0c0d+BA==", "detail": "saw another tree", "checkpoint": "log\n9\nAA==\n"});
    let read = serde_json::json!({"iin": "650101310010", "token": "t1", "role": "auditor", "read": "person"});
    for (kind, data) in [(CHECKPOINT_REFUSED, refused), (PERSONAL_DATA_READ, read)] {
        let e = Event { kind: kind.into(), data, ..ledger_event() };
        typed_round_trip(&e).unwrap();
    }
}

fn ledger_event() -> Event {
    golden_ledgers().remove(0).1.remove(0)
}
