//! Registry answers as their sources signed them, and their check: `check_answer` verifies an
//! answer's signature against the *trusted* keys (`trust`; a gateway envelope's in `shep`)
//! before anything is read from it, then its shape. How answers are fetched is the service's
//! (its `registry` module); this is what an auditor re-checks offline.

pub mod shep;
pub mod trust;

pub use crate::rules::entry::EntryHead;
pub use trust::{TrustBasis, TrustedKeys};

use crate::rules::checks::Records;
use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use crate::view::{object_view, or_none};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An answer as its source signed it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignedAnswer {
    pub answer: Value,
    /// The source's verifier key, as the source names it (for information: the check uses the
    /// trust list's entries).
    pub source_key: String,
    /// Base64 signature over `"housing-ledger/registry-answer/v1\n"` ‖ RFC 8785(answer):
    /// Ed25519, or as `source_sig_alg` says.
    pub source_sig: String,
    /// `rsa-pkcs1-sha256` or `ecdsa-p256-sha256` for an answer under the national PKI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sig_alg: Option<String>,
    /// The signer's certificate and intermediates, base64 DER, signer first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_chain: Option<Vec<String>>,
    /// The signer's revocation evidence, obtained on receipt where the source sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_revocation: Option<events::catalogue::SourceRevocation>,
    /// `ws-security`: the answer came in a gateway envelope, kept whole in `source_document`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sig_format: Option<String>,
    /// The exact bytes the source signed, base64 (`shep::wsse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_document: Option<String>,
    /// Items signed on their own (`"housing-ledger/registry-item/v1\n"` ‖ RFC 8785(item)), by
    /// the same key: a list page's entries by their index in the page, decisions by IIN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub item_sigs: BTreeMap<String, String>,
}

impl SignedAnswer {
    /// The signed answer a `RegistryResponded` keeps.
    pub fn from_responded(r: &events::catalogue::RegistryResponded) -> Self {
        SignedAnswer {
            answer: r.answer.clone(),
            source_key: r.source_key.clone(),
            source_sig: r.source_sig.clone(),
            source_sig_alg: r.source_sig_alg.clone(),
            source_chain: r.source_chain.clone(),
            source_revocation: r.source_revocation.clone(),
            source_sig_format: r.source_sig_format.clone(),
            source_document: r.source_document.clone(),
            item_sigs: r.item_sigs.clone().unwrap_or_default(),
        }
    }
}

/// What a registry answer says of itself beside its records (`docs/interfaces.md`), typed.
/// Its records stay the `Value` the source signed; `check_answer` checks the whole. Each member
/// is read on its own: one of another type reads as `None`, and leaves the others as they are.
#[derive(Debug, Default, Deserialize)]
pub struct AnswerHead {
    #[serde(default, deserialize_with = "or_none")]
    pub registry: Option<String>,
    #[serde(default, deserialize_with = "or_none")]
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "or_none")]
    pub issued_at: Option<String>,
    /// All strings, or none at all.
    #[serde(default, deserialize_with = "or_none")]
    subjects: Option<Vec<String>>,
}

impl AnswerHead {
    /// The head of `answer`; an empty one where it is not an answer's shape.
    pub fn of(answer: &Value) -> Self {
        object_view(answer).unwrap_or_default()
    }

    /// The persons the answer is about (none for a list page).
    pub fn subjects(self) -> Vec<String> {
        self.subjects.unwrap_or_default()
    }
}

/// A page of the step-4 list as ИШ АС МР answers it (`records` of a list answer): its entries,
/// each the `Value` the source signed on its own (the format-logical control reads it field by
/// field), and the page after it, if the answer names one.
#[derive(Debug, Deserialize)]
pub struct ListPage {
    pub entries: Vec<Value>,
    #[serde(default)]
    next_page: Option<Value>,
}

impl ListPage {
    /// The page `records` holds; `None` where it holds no list of entries.
    pub fn of(records: &Value) -> Option<Self> {
        object_view(records)
    }

    /// The next page: a page number past this one's, or `None` (the list ends here).
    pub fn next(&self) -> Option<u64> {
        self.next_page.as_ref().and_then(Value::as_u64)
    }
}

/// The items of an answer, by the keys its `item_sigs` use: a list page's entries by index,
/// decisions by IIN.
pub fn items<'v>(kind: AnswerKind, records: &'v Value) -> Vec<(String, &'v Value)> {
    match kind {
        AnswerKind::List => records.get("entries").and_then(Value::as_array).into_iter().flatten().enumerate().map(|(i, e)| (i.to_string(), e)).collect(),
        AnswerKind::Decisions(_) => records.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v)).collect(),
        _ => Vec::new(),
    }
}

/// What went wrong with a registry; each makes the check `incomplete`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryFault {
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error("bad signature: {0}")]
    BadSignature(String),
}

impl SignedAnswer {
    /// The event that records this answer to `request_id` of `registry` in `run`; the caller
    /// adds the step, page or appeal.
    pub fn responded(self, run: &str, registry: RegistryId, request_id: &str) -> events::catalogue::RegistryResponded {
        events::catalogue::RegistryResponded {
            run: run.to_string(),
            registry: registry.to_string(),
            request_id: request_id.to_string(),
            step: None,
            list_page: None,
            source_key: self.source_key,
            source_sig: self.source_sig,
            source_sig_alg: self.source_sig_alg,
            source_chain: self.source_chain,
            source_revocation: self.source_revocation,
            source_sig_format: self.source_sig_format,
            source_document: self.source_document,
            item_sigs: None,
            answer: self.answer,
            appeal: None,
            correction: None,
            received_by: None,
        }
    }
}

impl RegistryFault {
    /// The event that records this fault of `registry` at `step` of `run`.
    pub fn failed(&self, run: &str, registry: RegistryId, request_id: &str, step: &str) -> events::catalogue::RegistryFailed {
        events::catalogue::RegistryFailed {
            run: run.to_string(),
            registry: registry.to_string(),
            request_id: request_id.to_string(),
            step: step.to_string(),
            list_page: None,
            kind: self.kind().to_string(),
            detail: self.detail(),
            appeal: None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            RegistryFault::Unavailable(_) => "unavailable",
            RegistryFault::Timeout(_) => "timeout",
            RegistryFault::Malformed(_) => "malformed",
            RegistryFault::BadSignature(_) => "bad_signature",
        }
    }

    /// Worth asking again (with backoff) before giving up.
    pub fn transient(&self) -> bool {
        matches!(self, RegistryFault::Unavailable(_) | RegistryFault::Timeout(_))
    }

    pub fn detail(&self) -> String {
        match self {
            RegistryFault::Unavailable(d) | RegistryFault::Timeout(d) | RegistryFault::Malformed(d) | RegistryFault::BadSignature(d) => d.clone(),
        }
    }
}

/// The official who took a step-11 decision (decision 15): a personal identifier (his IIN),
/// name and position, inside the source's signed answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Official {
    pub id: crate::rules::iin::Iin,
    pub name: String,
    pub position: String,
}

/// A decision that cannot be taken because no identified official took it (decision 15).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoOfficial {
    #[error("the decision names no official (decision 15: an identified official decides)")]
    Unnamed,
    #[error("official.{0} is empty")]
    Empty(&'static str),
}

impl Official {
    /// As the ledger records him.
    pub fn record(&self) -> events::catalogue::Official {
        events::catalogue::Official { id: self.id.to_string(), name: self.name.clone(), position: self.position.clone() }
    }

    /// Name and position must say something.
    pub fn check(&self) -> Result<(), NoOfficial> {
        for (field, v) in [("name", &self.name), ("position", &self.position)] {
            if v.trim().is_empty() {
                return Err(NoOfficial::Empty(field));
            }
        }
        Ok(())
    }
}

/// A decision taken on the ИШ АС МР side on one proposal (step 11). A decision without its
/// `official` is read (so that the others of its answer stand) but never taken: decision 15.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<Official>,
}

impl Decision {
    /// The official who decided, or why the decision cannot be taken (decision 15).
    pub fn official(&self) -> Result<&Official, NoOfficial> {
        let o = self.official.as_ref().ok_or(NoOfficial::Unnamed)?;
        o.check()?;
        Ok(o)
    }

    /// The outcome, if it is one the service knows (`confirmed` or `declined`).
    pub fn known(&self) -> Option<events::catalogue::DecisionOutcome> {
        match self.outcome.as_str() {
            "confirmed" => Some(events::catalogue::DecisionOutcome::Confirmed),
            "declined" => Some(events::catalogue::DecisionOutcome::Declined),
            _ => None,
        }
    }
}

/// What ИШ АС МР is asked to restore after an overturned decision (decision 16).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reinstatement {
    pub iin: String,
    pub procedure: Procedure,
    /// The appeal whose resolution overturned the decision.
    pub appeal: String,
    /// The original queue number and registration date, or the lease kept in force.
    pub restore: Value,
}

/// What an answer's records hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind<'a> {
    /// The step-4 list: `{"segment", "page", "next_page", "entries"}`.
    List,
    /// Records of the registry about exactly these subjects.
    Records(&'a [String]),
    /// Records of the registry about exactly these subjects, with no field but these
    /// (decision 14).
    Fields(&'a [String], &'a [String]),
    /// Step-11 decisions about exactly these subjects.
    Decisions(&'a [String]),
    /// Decision 16: the acknowledgement of a reinstatement of this person.
    Acknowledgement(&'a [String]),
}

/// Verifies the source signature against the trust list's entries for `registry` at the
/// answer's signing time (never the key the answer brings), then the answer's shape: registry, request id, subjects and records. Returns the
/// records, borrowed: a caller takes what it needs of them without a copy of the whole.
pub fn check_answer<'s>(
    keys: &TrustedKeys,
    registry: RegistryId,
    request_id: &str,
    kind: AnswerKind,
    signed: &'s SignedAnswer,
) -> Result<&'s Value, RegistryFault> {
    keys.check_source(registry, signed)?;
    let a = AnswerMembers::of(&signed.answer)?;
    if a.registry != registry.as_str() {
        return Err(RegistryFault::Malformed(format!("answer is from {:?}, not {registry}", a.registry)));
    }
    if a.request_id != request_id {
        return Err(RegistryFault::Malformed(format!("answer is to request {:?}, not {request_id:?}", a.request_id)));
    }
    if !a.issued_at.is_string() {
        return Err(RegistryFault::Malformed("issued_at is missing".into()));
    }
    let records = a.records.as_object().ok_or_else(|| RegistryFault::Malformed("records is not an object".into()))?;
    // Evidence per person: every item of a list page or a decision batch signed on its own.
    if matches!(kind, AnswerKind::List | AnswerKind::Decisions(_)) {
        for (k, item) in items(kind, a.records) {
            keys.check_item(registry, item, signed.item_sigs.get(&k).map(String::as_str), a.issued_at.as_str())
                .map_err(|e| RegistryFault::BadSignature(format!("item {k}: {e}")))?;
        }
    }
    let subjects = match kind {
        AnswerKind::List => None,
        AnswerKind::Records(s) | AnswerKind::Fields(s, _) | AnswerKind::Decisions(s) | AnswerKind::Acknowledgement(s) => Some(s),
    };
    if let Some(subjects) = subjects {
        let got: Vec<&str> = a.subjects.as_array().map(|s| s.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        if got != subjects.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(RegistryFault::Malformed("answer's subjects are not the ones asked about".into()));
        }
        for (iin, rec) in records {
            if !subjects.contains(iin) {
                return Err(RegistryFault::Malformed(format!("records for {iin}, who was not asked about")));
            }
            match kind {
                AnswerKind::Decisions(_) => {
                    let d = Decision::deserialize(rec).map_err(|e| RegistryFault::Malformed(format!("decision on {iin}: {e}")))?;
                    // Read by name: serde would read a decision, or its official, from an array.
                    if let Some(at) = crate::view::read_by_position(rec, &serde_json::to_value(&d).expect("decisions serialise")) {
                        let at = if at.is_empty() { at } else { format!("{at}: ") };
                        return Err(RegistryFault::Malformed(format!("decision on {iin}: {at}invalid type: sequence, expected named members")));
                    }
                }
                AnswerKind::Acknowledgement(_) => {
                    if !Acknowledgement::of(rec) {
                        return Err(RegistryFault::Malformed(format!("the acknowledgement for {iin} does not say reinstated: true")));
                    }
                }
                _ if rec.is_null() => {}
                _ => {
                    if let AnswerKind::Fields(_, fields) = kind {
                        if let Some(k) = rec.as_object().into_iter().flat_map(|m| m.keys()).find(|k| !fields.contains(k)) {
                            return Err(RegistryFault::Malformed(format!("record of {iin} holds {k:?}, which was not asked for")));
                        }
                    }
                    registry.validate_record(iin, rec).map_err(|e| RegistryFault::Malformed(format!("record of {iin}: {e}")))?;
                }
            }
        }
    }
    Ok(a.records)
}

/// The members of an answer, borrowed, each named once (here): a member of any other name is
/// refused, and a missing one is null, as the checks' messages print it.
struct AnswerMembers<'a> {
    registry: &'a Value,
    request_id: &'a Value,
    subjects: &'a Value,
    issued_at: &'a Value,
    records: &'a Value,
}

impl<'a> AnswerMembers<'a> {
    fn of(answer: &'a Value) -> Result<Self, RegistryFault> {
        const NULL: &Value = &Value::Null;
        let obj = answer.as_object().ok_or_else(|| RegistryFault::Malformed("answer is not an object".into()))?;
        let mut a = AnswerMembers { registry: NULL, request_id: NULL, subjects: NULL, issued_at: NULL, records: NULL };
        for (k, v) in obj {
            let member = match k.as_str() {
                "registry" => &mut a.registry,
                "request_id" => &mut a.request_id,
                "subjects" => &mut a.subjects,
                "issued_at" => &mut a.issued_at,
                "records" => &mut a.records,
                _ => return Err(RegistryFault::Malformed(format!("unknown field {k:?}"))),
            };
            *member = v;
        }
        Ok(a)
    }
}

/// ИШ АС МР's acknowledgement of a reinstatement (decision 16): it says `reinstated: true`.
#[derive(Deserialize)]
struct Acknowledgement {
    #[serde(default, deserialize_with = "or_none")]
    reinstated: Option<bool>,
}

impl Acknowledgement {
    fn of(record: &Value) -> bool {
        object_view::<Self>(record).is_some_and(|a| a.reinstated == Some(true))
    }
}

/// The records an answer holds, as its source signed them (`records`); null where it holds
/// none or is not an answer's shape. For an answer recorded, or shown, whatever its check found.
pub fn records_in(answer: &Value) -> &Value {
    const NONE: &Value = &Value::Null;
    answer.as_object().and_then(|a| a.get("records")).unwrap_or(NONE)
}

/// The records of a checked per-IIN answer.
pub fn records_of(records: &Value) -> Records {
    records.as_object().map(|m| m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `check_answer` on `answer`, signed by the trusted key of ГБД ФЛ (its items too), asked as
    /// request `r-1` about `850101300124` in the way `kind` names.
    fn check(answer: Value, kind: &str, expect: expect_test::Expect) {
        use base64::Engine;
        let signer = events::LedgerSigner::from_seed("registry/gbd_fl", [7; 32]).unwrap();
        let keys = TrustedKeys::of_keys(BTreeMap::from([(RegistryId::GbdFl, signer.verifier())]), TrustBasis::List);
        let subjects = ["850101300124".to_string()];
        let fields = ["surname".to_string()];
        let kind = match kind {
            "list" => AnswerKind::List,
            "records" => AnswerKind::Records(&subjects),
            "fields" => AnswerKind::Fields(&subjects, &fields),
            "decisions" => AnswerKind::Decisions(&subjects),
            _ => AnswerKind::Acknowledgement(&subjects),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let item_sigs = items(kind, answer.get("records").unwrap_or(&Value::Null))
            .into_iter()
            .map(|(k, item)| (k, b64.encode(events::registry_answer::sign_item(item, &signer).unwrap())))
            .collect();
        let source_sig = b64.encode(events::registry_answer::sign(&answer, &signer).unwrap());
        let signed = SignedAnswer { answer, source_key: signer.verifier_text().to_string(), source_sig, item_sigs, ..SignedAnswer::default() };
        let got = match check_answer(&keys, RegistryId::GbdFl, "r-1", kind, &signed) {
            Ok(records) => format!("ok {records}"),
            Err(e) => format!("{}: {e}", e.kind()),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn an_answer_is_checked_member_by_member() {
        use expect_test::expect;
        let answer = |extra: Value| {
            let mut a = json!({"registry": "gbd_fl", "request_id": "r-1", "issued_at": "2026-01-15T09:00:00Z", "subjects": ["850101300124"], "records": {"850101300124": null}});
            for (k, v) in extra.as_object().unwrap() {
                match v {
                    Value::String(s) if s == "-" => a.as_object_mut().unwrap().remove(k),
                    _ => a.as_object_mut().unwrap().insert(k.clone(), v.clone()),
                };
            }
            a
        };
        check(answer(json!({})), "records", expect![[r#"ok {"850101300124":null}"#]]);
        check(answer(json!({"note": 1})), "records", expect![[r#"malformed: malformed answer: unknown field "note""#]]);
        check(answer(json!({"registry": "zags"})), "records", expect![[r#"malformed: malformed answer: answer is from String("zags"), not gbd_fl"#]]);
        check(answer(json!({"registry": "-"})), "records", expect![[r#"malformed: malformed answer: answer is from Null, not gbd_fl"#]]);
        check(answer(json!({"request_id": "r-2"})), "records", expect![[r#"malformed: malformed answer: answer is to request String("r-2"), not "r-1""#]]);
        check(answer(json!({"request_id": 1})), "records", expect![[r#"malformed: malformed answer: answer is to request Number(1), not "r-1""#]]);
        check(answer(json!({"records": []})), "records", expect![[r#"malformed: malformed answer: records is not an object"#]]);
        check(
            answer(json!({"subjects": ["850101300125"]})),
            "records",
            expect![[r#"malformed: malformed answer: answer's subjects are not the ones asked about"#]],
        );
        check(answer(json!({"subjects": "-"})), "records", expect![[r#"malformed: malformed answer: answer's subjects are not the ones asked about"#]]);
        check(
            answer(json!({"records": {"850101300125": null}})),
            "records",
            expect![[r#"malformed: malformed answer: records for 850101300125, who was not asked about"#]],
        );
        check(
            answer(json!({"records": {"850101300124": {"surname": "А", "address": "x"}}})),
            "fields",
            expect![[r#"malformed: malformed answer: record of 850101300124 holds "address", which was not asked for"#]],
        );
        check(answer(json!({"records": {"850101300124": {"reinstated": true}}})), "ack", expect![[r#"ok {"850101300124":{"reinstated":true}}"#]]);
        check(
            answer(json!({"records": {"850101300124": {"reinstated": "true"}}})),
            "ack",
            expect![[r#"malformed: malformed answer: the acknowledgement for 850101300124 does not say reinstated: true"#]],
        );
        check(
            answer(json!({"records": {"850101300124": [true]}})),
            "ack",
            expect![[r#"malformed: malformed answer: the acknowledgement for 850101300124 does not say reinstated: true"#]],
        );
        check(
            answer(json!({"records": {"850101300124": {"outcome": "confirmed", "note": 1}}})),
            "decisions",
            expect![[
                r#"malformed: malformed answer: decision on 850101300124: unknown field `note`, expected one of `outcome`, `by`, `reference`, `official`"#
            ]],
        );
        check(
            answer(json!({"records": {"850101300124": ["confirmed", null, "R-1"]}})),
            "decisions",
            expect![[r#"malformed: malformed answer: decision on 850101300124: invalid type: sequence, expected named members"#]],
        );
        check(
            answer(json!({"records": {"850101300124": {"outcome": "confirmed", "official": ["850101300124", "Омаров", "chairman"]}}})),
            "decisions",
            expect![[r#"malformed: malformed answer: decision on 850101300124: official: invalid type: sequence, expected named members"#]],
        );
        check(
            answer(json!({"subjects": "-", "records": {"segment": "a", "page": 1, "entries": [{"iin": "850101300124"}]}})),
            "list",
            expect![[r#"ok {"entries":[{"iin":"850101300124"}],"page":1,"segment":"a"}"#]],
        );
    }

    #[test]
    fn a_list_page_is_its_entries_and_maybe_the_next() {
        let page = ListPage::of(&json!({"entries": [{"iin": "1"}, {"iin": "2"}], "next_page": 3})).unwrap();
        assert_eq!((page.entries.len(), page.next()), (2, Some(3)));
        // The last page names none; a next page that is not a number ends the list too.
        assert_eq!(ListPage::of(&json!({"entries": []})).unwrap().next(), None);
        assert_eq!(ListPage::of(&json!({"entries": [], "next_page": "3"})).unwrap().next(), None);
        // Without a list of entries there is no page.
        assert!(ListPage::of(&json!({"entries": {"iin": "1"}})).is_none());
        assert!(ListPage::of(&json!({"next_page": 1})).is_none());
    }

    #[test]
    fn an_answer_head_reads_its_subjects_typed() {
        let a = json!({"registry": "zags", "request_id": "r", "issued_at": "2026-01-01T00:00:00Z", "subjects": ["1", "2"], "records": {}});
        assert_eq!(AnswerHead::of(&a).subjects(), ["1", "2"]);
        // A list page has none; a malformed head reads as empty, and `check_answer` refuses it.
        assert!(AnswerHead::of(&json!({"registry": "ish_as_mr", "records": {"entries": []}})).subjects().is_empty());
        assert!(AnswerHead::of(&json!({"subjects": "1"})).subjects().is_empty());
        // Arrays are not read by position: an answer, a list page or a consent given as one is
        // none at all, as a member looked up by name finds nothing in it.
        let positional = AnswerHead::of(&json!(["gbd_fl", "r-1", "2026-01-15T00:00:00Z", ["1"]]));
        assert_eq!((positional.registry, positional.request_id, positional.issued_at), (None, None, None));
        assert!(AnswerHead::of(&json!(["gbd_fl", "r-1", "t", ["1"]])).subjects().is_empty());
        assert!(ListPage::of(&json!([[{"iin": "1"}], 2])).is_none());
        // Each member stands alone: a malformed one leaves the others read.
        let odd = AnswerHead::of(&json!({"registry": 7, "issued_at": "2026-01-01T00:00:00Z", "subjects": ["1", 2]}));
        assert_eq!((odd.registry.as_deref(), odd.issued_at.as_deref()), (None, Some("2026-01-01T00:00:00Z")));
        assert!(odd.subjects().is_empty(), "subjects are all strings or none");
    }
}
