//! The event catalogue as types: one struct per event type of `ledger-format.md`, its type name
//! a constant, with enums for the verdicts and outcomes it records. Events are built with
//! [`NewEvent::typed`] and read with [`Event::decode`], so a misspelt member fails to compile or
//! to decode instead of reading as `""`.
//!
//! The canonical bytes are those the service wrote before these types existed: a member that
//! older events lack is an `Option` left out when `None`; one that is written as `null` is an
//! `Option` written as `null`; one that may be either is a [`Field`]. The golden test
//! (`tests/it/catalogue.rs`) decodes ledgers written before and checks that encoding them again
//! gives the same bytes. Members beyond these the format allows (`data` may carry more) are
//! passed over when decoding.

use crate::envelope::{Event, NewEvent};
use crate::error::{malformed, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

pub use crate::types::*;

/// The data of one catalogue type.
pub trait EventData: Serialize + DeserializeOwned {
    /// Its `type`.
    const TYPE: &'static str;

    /// The event's `data`. Types holding a source's document override it to move the document
    /// in rather than copy it (answers are the large part of the log).
    fn into_data(self) -> Value {
        serde_json::to_value(&self).expect("catalogue data serialises")
    }
}

impl NewEvent {
    /// An event of a catalogue type in `stream`.
    pub fn typed<T: EventData>(stream: impl Into<String>, data: T) -> Self {
        NewEvent::new(stream, T::TYPE, data.into_data())
    }
}

/// `data` read as `T`, its members by name. Event data is an object of named members
/// (`ledger-format.md`); serde would read a struct from an array too, by position, where a check
/// that looks members up by name (and the format) finds none: so an array is refused.
pub fn members<'v, T: Deserialize<'v>>(data: &'v Value) -> std::result::Result<T, serde_json::Error> {
    if !data.is_object() {
        return Err(serde::de::Error::custom("data is not an object of named members"));
    }
    T::deserialize(data)
}

impl Event {
    /// This event's data as its catalogue type: an error if the event is of another type, or
    /// its data lacks a member the type requires or holds one of the wrong kind.
    pub fn decode<T: EventData>(&self) -> Result<T> {
        if self.kind != T::TYPE {
            return Err(malformed("event type", format!("seq {} is {}, not {}", self.seq, self.kind, T::TYPE)));
        }
        members(&self.data).map_err(|e| malformed("event data", format!("seq {} ({}): {e}", self.seq, self.kind)))
    }

    /// The run the event belongs to: a member most types share.
    pub fn run(&self) -> Option<&str> {
        self.data.get("run").and_then(Value::as_str)
    }

    /// The appeal the event belongs to: an appeal's own events, and the queries, answers and
    /// verdicts of its re-check in the person's stream.
    pub fn appeal(&self) -> Option<&str> {
        self.data.get("appeal").and_then(Value::as_str)
    }

    /// The person an event of a notice or appeal stream is about (a person's stream names him).
    pub fn iin(&self) -> Option<&str> {
        self.data.get("iin").and_then(Value::as_str)
    }

    /// Decision 11: the event is of a simulation, and says so.
    pub fn simulation(&self) -> bool {
        self.data.get("simulation") == Some(&Value::Bool(true))
    }

    /// Like [`Event::decode`], `None` for an event of another type or data that does not decode.
    pub fn as_type<T: EventData>(&self) -> Option<T> {
        (self.kind == T::TYPE).then(|| members(&self.data).ok()).flatten()
    }
}

/// A reference to another event: its seq, or, while a batch is being built, the index of an
/// event of the same batch (`{"$rel": k}`), resolved to a seq when the batch is appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ref {
    Seq(u64),
    Rel {
        #[serde(rename = "$rel")]
        rel: usize,
    },
}

impl Ref {
    /// The event at index `k` of the batch being built.
    pub fn at(k: usize) -> Self {
        Ref::Rel { rel: k }
    }

    /// The seq referred to; `None` for a reference not yet resolved.
    pub fn seq(self) -> Option<u64> {
        match self {
            Ref::Seq(s) => Some(s),
            Ref::Rel { .. } => None,
        }
    }
}

impl From<u64> for Ref {
    fn from(seq: u64) -> Self {
        Ref::Seq(seq)
    }
}

/// The seqs of resolved references (those not yet resolved are left out).
pub fn seqs(refs: &[Ref]) -> Vec<u64> {
    refs.iter().filter_map(|r| r.seq()).collect()
}

/// A member that may be missing (older events), `null`, or a value: kept as it came.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Is(T),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    pub fn as_ref(&self) -> Option<&T> {
        match self {
            Field::Is(v) => Some(v),
            _ => None,
        }
    }
}

impl<T> From<Option<T>> for Field<T> {
    /// `None` is written as `null`.
    fn from(v: Option<T>) -> Self {
        v.map(Field::Is).unwrap_or(Field::Null)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Field::Is(v) => v.serialize(s),
            _ => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    /// Called only for a member that is there (`#[serde(default)]` gives `Absent`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.into())
    }
}

/// A check's verdict (decisions 1 and 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    Clear,
    Found,
    Incomplete,
}

impl CheckVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckVerdict::Clear => "clear",
            CheckVerdict::Found => "found",
            CheckVerdict::Incomplete => "incomplete",
        }
    }
}

/// What a proposal proposes: removal from the list (`000`) or the lease's termination (`004`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposedOutcome {
    Remove,
    Terminate,
}

impl ProposedOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposedOutcome::Remove => "remove",
            ProposedOutcome::Terminate => "terminate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "remove" => Some(ProposedOutcome::Remove),
            "terminate" => Some(ProposedOutcome::Terminate),
            _ => None,
        }
    }

    /// What a procedure proposes: `lease_termination` a termination (`004`), the removal from
    /// the list (`000`) otherwise. Rule sets are checked against it when loaded.
    pub fn of_procedure(procedure: &str) -> Self {
        if procedure == "lease_termination" {
            ProposedOutcome::Terminate
        } else {
            ProposedOutcome::Remove
        }
    }

    /// A person's status once the proposal is confirmed.
    pub fn confirmed_status(self) -> Status {
        match self {
            ProposedOutcome::Remove => Status::Removed,
            ProposedOutcome::Terminate => Status::Terminated,
        }
    }
}

/// The decision returned on a proposal (step 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    Confirmed,
    Declined,
}

impl DecisionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionOutcome::Confirmed => "confirmed",
            DecisionOutcome::Declined => "declined",
        }
    }
}

/// How an appeal was resolved (decision 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealOutcome {
    Upheld,
    Overturned,
}

impl AppealOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealOutcome::Upheld => "upheld",
            AppealOutcome::Overturned => "overturned",
        }
    }
}

/// A person's status in a procedure, as `interfaces.md` names them (and a run's `counts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checks not finished, or a step could not decide (decision 6).
    #[default]
    Incomplete,
    NoConsent,
    AlreadyDecided,
    Proposed,
    Retained,
    Removed,
    Terminated,
    Declined,
    InvalidInput,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Incomplete => "incomplete",
            Status::NoConsent => "no_consent",
            Status::AlreadyDecided => "already_decided",
            Status::Proposed => "proposed",
            Status::Retained => "retained",
            Status::Removed => "removed",
            Status::Terminated => "terminated",
            Status::Declined => "declined",
            Status::InvalidInput => "invalid_input",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub const ALL: [Status; 9] = [
        Status::Incomplete,
        Status::NoConsent,
        Status::AlreadyDecided,
        Status::Proposed,
        Status::Retained,
        Status::Removed,
        Status::Terminated,
        Status::Declined,
        Status::InvalidInput,
    ];
}

/// Compares with the name the ledger and the API use (`status == "removed"`).
macro_rules! named {
    ($($t:ty),*) => {$(
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
named!(Status, CheckVerdict, DecisionOutcome, AppealOutcome, ProposedOutcome, Subject);

/// Whom a ground is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Recipient,
    FamilyMember,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Recipient => "recipient",
            Subject::FamilyMember => "family_member",
        }
    }
}

/// A ground for removal: `{code, clause, subject, subject_iin, registry, evidence}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ground {
    pub code: String,
    pub clause: String,
    pub subject: Subject,
    pub subject_iin: String,
    pub registry: String,
    /// The answers of the registry that showed it.
    pub evidence: Vec<Ref>,
}

/// The holder of an API token who acted: an officer filing, re-checking or resolving.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub token: String,
    pub role: String,
    pub holder: String,
    pub holder_id: String,
}

/// The identified official who took a decision (decision 15).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Official {
    pub id: String,
    pub name: String,
    pub position: String,
}

/// A notice's text in both languages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeText {
    pub kk: String,
    pub ru: String,
}

/// What `RunStarted` records of the rule set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSetSummary {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub basis: String,
    pub valid_from: Option<String>,
    pub valid_until: String,
}

/// The rule set a proposal names besides its sha256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSetId {
    pub id: String,
    pub version: String,
}

macro_rules! catalogue {
    ($($name:ident = $type:expr;)*) => {$(
        impl EventData for $name {
            const TYPE: &'static str = $type;
        }
    )*};
}

/// Moves a source's document into the data after the rest is serialised (see
/// [`EventData::into_data`]).
macro_rules! with_document {
    ($name:ident = $type:expr, $doc:ident) => {
        impl EventData for $name {
            const TYPE: &'static str = $type;

            fn into_data(mut self) -> Value {
                let doc = std::mem::take(&mut self.$doc);
                let mut v = serde_json::to_value(&self).expect("catalogue data serialises");
                v[stringify!($doc)] = doc;
                v
            }
        }
    };
}

catalogue! {
    KeyIntroduced = KEY_INTRODUCED;
    KeyRetired = KEY_RETIRED;
    RunStarted = RUN_STARTED;
    RunFinished = RUN_FINISHED;
    ConsentMissing = CONSENT_MISSING;
    RegistryQueried = REGISTRY_QUERIED;
    RegistryFailed = REGISTRY_FAILED;
    CheckEvaluated = CHECK_EVALUATED;
    DecisionProposed = DECISION_PROPOSED;
    PersonRetained = PERSON_RETAINED;
    ListSubmitted = LIST_SUBMITTED;
    DecisionTaken = DECISION_TAKEN;
    NoticeIssued = NOTICE_ISSUED;
    NoticeDelivered = NOTICE_DELIVERED;
    NoticeDeliveryFailed = NOTICE_DELIVERY_FAILED;
    AlreadyDecided = ALREADY_DECIDED;
    DecisionNotTaken = DECISION_NOT_TAKEN;
    NoticeWithheld = NOTICE_WITHHELD;
    AppealFiled = APPEAL_FILED;
    RemovalSuspended = REMOVAL_SUSPENDED;
    AppealRechecked = APPEAL_RECHECKED;
    AppealResolved = APPEAL_RESOLVED;
    ReinstatementFailed = REINSTATEMENT_FAILED;
    CheckpointRefused = CHECKPOINT_REFUSED;
    SubjectErased = SUBJECT_ERASED;
    PersonalDataReads = PERSONAL_DATA_READS;
    PersonalDataRead = PERSONAL_DATA_READ;
    TokenIssued = TOKEN_ISSUED;
    TokenRevoked = TOKEN_REVOKED;
}
with_document!(ListEntryReceived = LIST_ENTRY_RECEIVED, entry);
with_document!(InputRejected = INPUT_REJECTED, entry);
with_document!(RegistryResponded = REGISTRY_RESPONDED, answer);
with_document!(ReinstatementAcknowledged = REINSTATEMENT_ACKNOWLEDGED, answer);

/// A ledger key introduced, in stream `keys`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyIntroduced {
    pub verifier_key: String,
    pub reason: String,
}

/// A ledger key retired, in stream `keys`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRetired {
    pub verifier_key: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run: String,
    pub procedure: String,
    pub as_of: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<bool>,
    pub rule_set: RuleSetSummary,
    pub source: String,
    /// The source registries' verifier keys, by registry (runs before trust lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_keys: Option<BTreeMap<String, String>>,
    /// The trust list in force (`sources.md`): `{"sha256", "basis", "sources": {registry:
    /// [entry...]}}`, the entries the run may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<Value>,
    /// The run judges each record as it stood on `as_of` (decisions 18 and 21 of
    /// `algorithm.md`); runs recorded before have none, and are re-judged as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dated: Option<bool>,
}

impl RunStarted {
    /// The decision date records are judged on, if the run does (decision 18).
    pub fn dated_as_of(&self) -> Option<&str> {
        (self.dated == Some(true)).then_some(self.as_of.as_str())
    }

    /// A run on live sources, not a simulation (decision 11).
    pub fn live(&self) -> bool {
        self.simulation != Some(true)
    }
}

/// Revocation evidence of an answer's signer (`sources.md`): `{"ocsp": base64 DER
/// OCSPResponse}` or `{"crl": base64 DER CertificateList}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceRevocation {
    Ocsp(String),
    Crl(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFinished {
    pub run: String,
    pub procedure: String,
    /// Persons by status.
    pub counts: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListEntryReceived {
    pub run: String,
    pub procedure: String,
    /// The entry as the source sent it.
    pub entry: Value,
    /// The signed list answer it came in.
    pub evidence: Vec<Ref>,
    /// `page:index` in the list.
    pub position: String,
    /// The source's signature over this entry alone.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub entry_sig: Field<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRejected {
    pub run: String,
    pub procedure: String,
    pub entry: Value,
    pub reasons: Vec<String>,
    pub position: String,
    pub evidence: Vec<Ref>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentMissing {
    pub run: String,
    pub procedure: String,
    pub evidence: Vec<Ref>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryQueried {
    pub run: String,
    pub registry: String,
    /// The IINs asked about.
    pub subjects: Vec<String>,
    /// The fields asked for (decision 14); older events asked for every field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    pub step: String,
    pub request_id: String,
    /// The appeal whose re-check asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryResponded {
    pub run: String,
    pub registry: String,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The page of the step-4 list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_page: Option<u64>,
    pub source_key: String,
    pub source_sig: String,
    /// `ed25519` (where absent), `rsa-pkcs1-sha256` or `ecdsa-p256-sha256` (`sources.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sig_alg: Option<String>,
    /// The signer's certificate and its intermediates, base64 DER, signer first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_chain: Option<Vec<String>>,
    /// What showed the signer's certificate unrevoked when the answer arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_revocation: Option<SourceRevocation>,
    /// `ws-security` where the answer came signed in a document of the source's own format (the
    /// government gateway's SOAP envelope); absent for the signature over the answer itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sig_format: Option<String>,
    /// That document, the exact bytes received, base64: what its signature covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_document: Option<String>,
    /// The source's signature over each item alone, by item (the list, the decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_sigs: Option<BTreeMap<String, String>>,
    /// The answer as the source signed it.
    pub answer: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<String>,
    /// A source owner's correction received for an appeal (clauses 13, 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_by: Option<Actor>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryFailed {
    pub run: String,
    pub registry: String,
    pub request_id: String,
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_page: Option<u64>,
    /// `unavailable`, `timeout`, `malformed` or `bad_signature`.
    pub kind: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckEvaluated {
    pub run: String,
    pub step: String,
    pub clause: String,
    pub verdict: CheckVerdict,
    pub grounds: Vec<Ground>,
    pub evidence: Vec<Ref>,
    /// Why the step could not decide (or, for a finding, what it rests on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The family the family step fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<String>,
    /// Records the step left out as not holding on the decision date (decisions 18 and 21):
    /// `{registry, subject_iin, record, why}`, `why` being `after_decision_date` or
    /// `ended_before_decision_date`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionProposed {
    pub run: String,
    pub procedure: String,
    pub outcome: ProposedOutcome,
    pub grounds: Vec<Ground>,
    pub rule_set_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<RuleSetId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    pub evidence: Vec<Ref>,
    /// Decision 11: signed into the proposal, so that no copy can hide it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonRetained {
    pub run: String,
    pub procedure: String,
    pub rule_set_sha256: String,
    pub evidence: Vec<Ref>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListSubmitted {
    pub run: String,
    pub procedure: String,
    pub proposals: Vec<Ref>,
    pub rule_set_sha256: String,
    /// A long list is submitted in parts (all in one append): this is part `part` (from 1) of
    /// `parts`, so that a person's bundle carries the part naming his proposal, not every
    /// proposal of the run. Absent in ledgers written before: one event held the whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u64>,
    /// Decision 24: the entries rejected because the list names one person twice with differing
    /// entries, reported back to ИШ АС МР with the list (in the first part).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Ref>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionTaken {
    pub run: String,
    pub procedure: String,
    pub proposal: Ref,
    pub outcome: DecisionOutcome,
    pub decided_by: String,
    /// The identified official (decision 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<Official>,
    /// The body that decided (a commission), as the source named it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub body: Field<String>,
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<Ref>>,
    /// The decision as the source sent it, and the source's signature over it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub decision_sig: Field<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticeIssued {
    /// The run whose decision it notifies (none for an appeal's notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub notice: String,
    /// `reinstatement` for an appeal's notice; a run's notice has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<String>,
    pub iin: String,
    pub procedure: String,
    /// The decision notified: a `DecisionTaken`, or an `AppealResolved`.
    pub decision: Ref,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<Ref>,
    pub text: NoticeText,
    pub grounds: Vec<Ground>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<bool>,
    /// Decision 22: what the text explains, as data: `{"findings": [...], "body": "..."}` (each
    /// finding: code, clause, registry, whose, birth_year, kind, records). Notices issued
    /// before have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Value>,
}

/// A delivery attempt that reached the person (`detail`: the gateway's receipt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticeDelivered {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<String>,
    pub notice: String,
    pub iin: String,
    pub attempt: u32,
    pub detail: String,
    pub r#final: bool,
}

/// A delivery attempt that failed; `final` when it was the last allowed, leaving the notice
/// `failed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticeDeliveryFailed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<String>,
    pub notice: String,
    pub iin: String,
    pub attempt: u32,
    pub detail: String,
    pub r#final: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticeWithheld {
    pub run: String,
    pub notice: String,
    pub iin: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlreadyDecided {
    pub run: String,
    pub procedure: String,
    /// The decision that stands, and its proposal.
    pub decision: u64,
    pub proposal: u64,
    pub decided_in_run: String,
    pub evidence: Vec<Ref>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionNotTaken {
    pub run: String,
    pub procedure: String,
    pub proposal: u64,
    pub outcome: DecisionOutcome,
    pub reason: String,
    pub evidence: Vec<Ref>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppealFiled {
    pub appeal: String,
    pub iin: String,
    pub procedure: String,
    pub run: String,
    /// The notice of the decision, if one was issued.
    pub notice: Option<String>,
    /// The `DecisionTaken` appealed.
    pub decision: u64,
    pub decided_by: String,
    /// The identifier of the official who decided (decision 15).
    pub decided_by_id: Option<String>,
    pub delivered_on: Option<String>,
    pub received_on: String,
    /// The last day to appeal (decision 17); none if the notice was never delivered.
    pub deadline: Option<String>,
    /// The day the deadline fell on before it was moved off a day off.
    pub deadline_moved_from: Option<String>,
    /// Why the deadline could not be checked against the calendar, where it could not.
    pub deadline_unchecked: Option<String>,
    /// Why the deadline may still move (decision 23: a year whose yearly days off are not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_provisional: Option<String>,
    pub late: bool,
    pub late_reason: Option<String>,
    pub contested_step: String,
    /// The appellant's grounds, in his words.
    pub grounds: String,
    pub filed_by: Actor,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemovalSuspended {
    pub appeal: String,
    pub iin: String,
    pub procedure: String,
    pub by: Actor,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppealRechecked {
    pub appeal: String,
    pub iin: String,
    pub procedure: String,
    pub run: String,
    pub from_step: String,
    pub rule_set_sha256: String,
    pub verdict: CheckVerdict,
    pub grounds: Vec<Ground>,
    pub evidence: Vec<Ref>,
    pub by: Actor,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppealResolved {
    pub appeal: String,
    pub iin: String,
    pub procedure: String,
    pub outcome: AppealOutcome,
    pub reason: String,
    pub resolved_by: Actor,
    /// The `AppealRechecked` it rests on.
    pub recheck: Option<u64>,
    pub grounds: Vec<Ground>,
    /// What an overturned removal restored: the queue number and registration date, or the
    /// lease.
    pub reinstated: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReinstatementAcknowledged {
    pub appeal: String,
    pub iin: String,
    pub procedure: String,
    pub registry: String,
    pub request_id: String,
    pub attempt: u32,
    pub source_key: String,
    pub source_sig: String,
    pub answer: Value,
}

/// An API token issued (stream `tokens`): its id, role and holder, and SHA-256 of the token,
/// never the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssued {
    pub id: String,
    pub role: String,
    pub holder: String,
    pub holder_id: String,
    /// Hex SHA-256 of the token text.
    pub token_sha256: String,
    pub expires_at: Option<String>,
}

/// An API token revoked (stream `tokens`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub id: String,
    pub revoked_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReinstatementFailed {
    pub appeal: String,
    pub iin: String,
    pub procedure: String,
    pub registry: String,
    pub request_id: String,
    pub attempt: u32,
    pub kind: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRefused {
    pub tree_size: u64,
    pub witness: String,
    pub detail: String,
    /// The checkpoint refused, as signed.
    pub checkpoint: String,
}

/// A person erased (format v2, stream `erasures`): his data key destroyed, so that every seal
/// of his stays shut. Nothing personal: his blind id, why, on which legal basis, and who.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectErased {
    pub subject: String,
    pub reason: String,
    pub basis: String,
    pub erased_by: String,
    /// The retention rule that made it due, for an erasure by `retention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What the figures count of his cases, by procedure, with nothing that names or describes
    /// him (run, locality, status, ground codes, the decision's outcome, the appeal's state),
    /// so that the dashboard's figures stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<Value>,
}

/// Reads of personal data through the API waiting together, in stream `reads`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalDataReads {
    pub reads: Vec<Read>,
}

/// One read: who (the token's id and role), what, and the persons it showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    pub token: String,
    pub role: String,
    pub read: String,
    pub iins: Vec<String>,
}

/// A read in older ledgers, one per event in stream `reads:<iin>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalDataRead {
    /// The person read (the stream names him too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iin: Option<String>,
    pub token: String,
    pub role: String,
    pub read: String,
}

/// A member read as text, or as nothing: absent, null or of another type reads as `None`, for
/// the caller to name as missing (as it would an absent one), never as an error of the whole.
/// Borrowed from the event's data, for the typed views that read a member or two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lenient<'a>(pub Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for Lenient<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Option<&'de str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> std::result::Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(None)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(None)
            }
        }
        d.deserialize_any(Text).map(Lenient)
    }
}
