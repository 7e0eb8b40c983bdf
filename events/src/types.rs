//! The event catalogue of `ledger-format.md`: type names and the streams they belong to.

pub const KEY_INTRODUCED: &str = "KeyIntroduced";
pub const KEY_RETIRED: &str = "KeyRetired";
pub const RUN_STARTED: &str = "RunStarted";
pub const RUN_FINISHED: &str = "RunFinished";
pub const LIST_ENTRY_RECEIVED: &str = "ListEntryReceived";
pub const INPUT_REJECTED: &str = "InputRejected";
pub const CONSENT_MISSING: &str = "ConsentMissing";
pub const REGISTRY_QUERIED: &str = "RegistryQueried";
pub const REGISTRY_RESPONDED: &str = "RegistryResponded";
pub const REGISTRY_FAILED: &str = "RegistryFailed";
pub const CHECK_EVALUATED: &str = "CheckEvaluated";
pub const DECISION_PROPOSED: &str = "DecisionProposed";
pub const PERSON_RETAINED: &str = "PersonRetained";
pub const LIST_SUBMITTED: &str = "ListSubmitted";
pub const DECISION_TAKEN: &str = "DecisionTaken";
pub const NOTICE_ISSUED: &str = "NoticeIssued";
pub const NOTICE_DELIVERED: &str = "NoticeDelivered";
pub const NOTICE_DELIVERY_FAILED: &str = "NoticeDeliveryFailed";
/// Decision 12: the person's decision in this procedure already stands; cites it.
pub const ALREADY_DECIDED: &str = "AlreadyDecided";
/// Decision 15: a step-11 decision that names no identified official is not taken.
pub const DECISION_NOT_TAKEN: &str = "DecisionNotTaken";
/// Decision 11: a simulation's notice, not sent through a live gateway.
pub const NOTICE_WITHHELD: &str = "NoticeWithheld";
// Appeals (decision 10 of `algorithm.md`), in the stream `appeal:<id>`. The re-check's queries,
// answers, corrections and verdicts are the catalogue's own types in the person's stream,
// marked with `appeal`.
pub const APPEAL_FILED: &str = "AppealFiled";
pub const REMOVAL_SUSPENDED: &str = "RemovalSuspended";
pub const APPEAL_RECHECKED: &str = "AppealRechecked";
pub const APPEAL_RESOLVED: &str = "AppealResolved";
/// Decision 16: ИШ АС МР's signed acknowledgement of a reinstatement, or a failed attempt.
pub const REINSTATEMENT_ACKNOWLEDGED: &str = "ReinstatementAcknowledged";
pub const REINSTATEMENT_FAILED: &str = "ReinstatementFailed";
/// A witness refused a checkpoint the log signed (it has seen another tree, or refuses the
/// log), in stream `witnesses`: the checkpoint is never served as the latest.
pub const CHECKPOINT_REFUSED: &str = "CheckpointRefused";
pub const SUBJECT_ERASED: &str = "SubjectErased";
/// The stream of erasures (format v2).
pub const ERASURES_STREAM: &str = "erasures";

/// Reads of personal data through the API, grouped (stream [`READS_STREAM`]).
pub const PERSONAL_DATA_READS: &str = "PersonalDataReads";
/// One read per event, in stream `reads:<iin>` (ledgers written before reads were grouped).
pub const PERSONAL_DATA_READ: &str = "PersonalDataRead";
pub const READS_STREAM: &str = "reads";
/// API tokens issued and revoked, in stream [`TOKENS_STREAM`]: the hash of each token, never
/// the token (issue 29: a token row inserted with the database alone is no token).
pub const TOKEN_ISSUED: &str = "TokenIssued";
pub const TOKEN_REVOKED: &str = "TokenRevoked";
pub const TOKENS_STREAM: &str = "tokens";
pub const WITNESSES_STREAM: &str = "witnesses";

/// Every type this version knows; a verifier reports any other and does not guess.
pub const ALL: &[&str] = &[
    KEY_INTRODUCED,
    KEY_RETIRED,
    RUN_STARTED,
    RUN_FINISHED,
    LIST_ENTRY_RECEIVED,
    INPUT_REJECTED,
    CONSENT_MISSING,
    REGISTRY_QUERIED,
    REGISTRY_RESPONDED,
    REGISTRY_FAILED,
    CHECK_EVALUATED,
    DECISION_PROPOSED,
    PERSON_RETAINED,
    LIST_SUBMITTED,
    DECISION_TAKEN,
    NOTICE_ISSUED,
    NOTICE_DELIVERED,
    NOTICE_DELIVERY_FAILED,
    ALREADY_DECIDED,
    DECISION_NOT_TAKEN,
    NOTICE_WITHHELD,
    APPEAL_FILED,
    REMOVAL_SUSPENDED,
    APPEAL_RECHECKED,
    APPEAL_RESOLVED,
    REINSTATEMENT_ACKNOWLEDGED,
    REINSTATEMENT_FAILED,
    CHECKPOINT_REFUSED,
    SUBJECT_ERASED,
    TOKEN_ISSUED,
    TOKEN_REVOKED,
];

pub fn person_stream(iin: &str) -> String {
    format!("person:{iin}")
}

pub fn run_stream(run: &str) -> String {
    format!("run:{run}")
}

pub fn appeal_stream(appeal: &str) -> String {
    format!("appeal:{appeal}")
}

pub fn notice_stream(notice: &str) -> String {
    format!("notice:{notice}")
}

/// The notice of a run's decision on a person.
pub fn notice_id(run: &str, iin: &str) -> String {
    format!("{run}-{iin}")
}

/// The appeal against a decision: one per decision.
pub fn appeal_id(decision_seq: u64) -> String {
    format!("ap-{decision_seq}")
}

/// The notice of an appeal's outcome (decision 16).
pub fn reinstatement_notice_id(appeal: &str) -> String {
    format!("{appeal}-reinstatement")
}

/// A reference to the event at index `k` of the batch being appended, resolved to its seq when
/// the batch's first seq is known (`{"$rel": k}` in `data`).
pub fn rel(k: usize) -> serde_json::Value {
    serde_json::json!({ "$rel": k })
}

/// Where a batch-relative reference stood in an event's data: from the top, the position of
/// each object entry (in the map's order) or array item that leads to it.
pub type RelSite = Vec<usize>;

/// Members of event data that hold a document as its source gave it (a registry's `answer`, a
/// list `entry`). No reference is ever put in them, and none is looked for: a source's
/// `{"$rel": k}` must be kept as it came, or the stored answer would no longer be the one the
/// source signed. Not walking them is also most of the work saved, being the large part.
pub const SOURCE_DOCUMENTS: &[&str] = &["answer", "entry"];

/// Replaces every batch-relative reference in `v` with the seq `base + k`, and notes where
/// each stood, so that the data can later be moved to another base by [`rebase_rel`]. The
/// members named in [`SOURCE_DOCUMENTS`] at the top of the data are left as they are.
pub fn resolve_rel(v: &mut serde_json::Value, base: u64, sites: &mut Vec<RelSite>) {
    match v {
        serde_json::Value::Object(m) => {
            let members = m.iter_mut().map(|(k, x)| (!SOURCE_DOCUMENTS.contains(&k.as_str())).then_some(x));
            descend(members, base, &mut Vec::new(), sites)
        }
        _ => walk(v, base, &mut Vec::new(), sites),
    }

    fn walk(v: &mut serde_json::Value, base: u64, at: &mut Vec<usize>, sites: &mut Vec<RelSite>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.len() == 1 {
                    if let Some(k) = m.get("$rel").and_then(serde_json::Value::as_u64) {
                        *v = serde_json::json!(base + k);
                        sites.push(at.clone());
                        return;
                    }
                }
                descend(m.values_mut().map(Some), base, at, sites);
            }
            serde_json::Value::Array(a) => descend(a.iter_mut().map(Some), base, at, sites),
            _ => {}
        }
    }
    /// Walks the items given (`None`: one passed over, still counted for the sites).
    fn descend<'a>(items: impl Iterator<Item = Option<&'a mut serde_json::Value>>, base: u64, at: &mut Vec<usize>, sites: &mut Vec<RelSite>) {
        for (i, x) in items.enumerate() {
            // Scalars hold no reference: skip the bookkeeping.
            if let Some(x) = x.filter(|x| x.is_object() || x.is_array()) {
                at.push(i);
                walk(x, base, at, sites);
                at.pop();
            }
        }
    }
}

/// Moves references that [`resolve_rel`] resolved for first seq `from`, at `sites`, to first
/// seq `to`: the same result as resolving the original data for `to`.
pub fn rebase_rel(v: &mut serde_json::Value, sites: &[RelSite], from: u64, to: u64) {
    for site in sites {
        let mut x = &mut *v;
        for &i in site {
            x = match x {
                serde_json::Value::Object(m) => m.values_mut().nth(i),
                serde_json::Value::Array(a) => a.get_mut(i),
                _ => None,
            }
            .expect("a noted site is still there");
        }
        let seq = x.as_u64().expect("a resolved reference is a seq");
        *x = serde_json::json!(seq - from + to);
    }
}

/// Sets `key` in a JSON object by move. (`json!` copies every embedded value by serialising
/// it again, which costs dearly for large answers.)
pub fn with(mut object: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    object[key] = value;
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rebasing_resolved_references_equals_resolving_again() {
        let original = json!({"because": [rel(0), {"answer": rel(2), "n": 7}], "proposal": rel(1), "rel": {"$rel": "not a ref"}});
        let (mut at_10, mut at_25) = (original.clone(), original.clone());
        let mut sites = Vec::new();
        resolve_rel(&mut at_10, 10, &mut sites);
        assert_eq!(at_10, json!({"because": [10, {"answer": 12, "n": 7}], "proposal": 11, "rel": {"$rel": "not a ref"}}));
        assert_eq!(sites.len(), 3);
        resolve_rel(&mut at_25, 25, &mut Vec::new());
        rebase_rel(&mut at_10, &sites, 10, 25);
        assert_eq!(at_10, at_25);
    }

    #[test]
    fn a_source_document_is_kept_as_it_came() {
        let mut data = json!({"answer": {"records": {"$rel": 0}}, "entry": [{"$rel": 1}], "evidence": [rel(0)], "more": {"answer": rel(1)}});
        let mut sites = Vec::new();
        resolve_rel(&mut data, 40, &mut sites);
        assert_eq!(data, json!({"answer": {"records": {"$rel": 0}}, "entry": [{"$rel": 1}], "evidence": [40], "more": {"answer": 41}}));
        rebase_rel(&mut data, &sites, 40, 7);
        assert_eq!(data, json!({"answer": {"records": {"$rel": 0}}, "entry": [{"$rel": 1}], "evidence": [7], "more": {"answer": 8}}));
    }
}
