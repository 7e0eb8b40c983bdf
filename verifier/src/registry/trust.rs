//! Trust in the sources (`docs/sources.md`): the trust list of the source registries' keys and
//! certificate authorities, which every party that checks a source signature holds for itself.
//! The service takes it from `--trust FILE`; `verify-proof`, `verify` and `audit` from theirs.
//! Keys named inside a ledger, a bundle or an answer are trusted for that alone only when asked
//! (`--trust-bundle-keys`), and then every result says so ([`TrustBasis::Claim`]).
//!
//! An entry is an Ed25519 key or an X.509 anchor, valid from one date to another (days in
//! Asia/Almaty, both inclusive): an answer is accepted under it only if signed (its signed
//! `issued_at`) inside that window, which is how a source rotates its key.

use super::{RegistryFault, SignedAnswer};
use crate::pki;
use crate::rules::records::RegistryId;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::NaiveDate;
use events::catalogue::SourceRevocation;
use events::VerifierKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use x509_cert::Certificate;

pub const TRUST_LIST_FORMAT: &str = "housing-ledger/trust-list/v1";

/// The trust list as its file holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDoc {
    format: String,
    issued: String,
    sources: BTreeMap<String, Vec<EntryDoc>>,
}

/// One entry as the file holds it: `key` (an Ed25519 verifier key) or `ca` (PEM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<SignerConstraint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocsp: Option<String>,
    pub valid_from: String,
    pub valid_until: Option<String>,
}

/// Which certificates under an anchor speak for the source: the organisation's BIN, as its
/// subject names it (`OU=BIN…`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConstraint {
    pub organization_bin: String,
}

#[derive(Clone, Debug)]
pub enum Anchor {
    Key(Box<VerifierKey>),
    Ca(Box<Certificate>),
}

/// One entry, parsed.
#[derive(Clone, Debug)]
pub struct TrustEntry {
    pub doc: EntryDoc,
    pub anchor: Anchor,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl TrustEntry {
    fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && self.until.is_none_or(|u| day <= u)
    }

    fn window(&self) -> String {
        format!("from {} until {}", self.from, self.until.map(|u| u.to_string()).unwrap_or_else(|| "(current)".into()))
    }
}

/// Where the trust in force came from: what every result reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustBasis {
    /// A trust list the party holds itself (`--trust`).
    List,
    /// The simulator's keys, derived from `--registry-seed`: simulations only.
    Simulator,
    /// The keys a bundle or a ledger names: the operator's own claim (`--trust-bundle-keys`).
    #[default]
    Claim,
    /// A server started without a trust list: it shows the simulator's marks on its pages, but
    /// accepts no new source answer (no correction, no reinstatement acknowledgement).
    Unpinned,
}

/// A trust list that cannot be used, naming where.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read the trust list {path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("trust list: {0}")]
    Invalid(String),
}

/// The trust in force: each source's entries, the list's sha256, and where it came from.
#[derive(Clone, Debug)]
pub struct TrustedKeys {
    pub sources: BTreeMap<RegistryId, Vec<TrustEntry>>,
    /// SHA-256 of the list's bytes as given (of its JSON for a derived one).
    pub sha256: String,
    pub basis: TrustBasis,
    /// The list's text as given, served by `GET /v1/trust`.
    pub text: String,
}

fn day(s: &str, path: &str) -> Result<NaiveDate, TrustError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| TrustError::Invalid(format!("{path}: {s:?} is not a date YYYY-MM-DD")))
}

/// Why a source's signature, certificate or item signature does not hold against the trust
/// list. The texts are what `verify-proof` and the pages print.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the answer has no issued_at: its signing time is unknown")]
    NoSigningTime,
    #[error("issued_at {0:?} is not an RFC 3339 time")]
    NotATime(String),
    #[error("the trust list holds no entry for {0}")]
    NoEntry(RegistryId),
    #[error("the answer carries no source_chain")]
    NoChain,
    #[error("source_chain is empty")]
    EmptyChain,
    #[error("{0}")]
    Chain(Box<pki::PkiError>),
    #[error("{registry}: {error}")]
    Pki { registry: RegistryId, error: Box<pki::PkiError> },
    #[error("the signer's key is not what {0} needs")]
    KeyNotFor(String),
    #[error("the signature of {registry} by {subject}: {error}")]
    SignatureBy { registry: RegistryId, subject: String, error: Box<pki::PkiError> },
    #[error("{registry}: {error}")]
    Envelope { registry: RegistryId, error: super::shep::DocumentError },
    #[error("the trust list holds no CA for {0}")]
    NoCa(RegistryId),
    #[error("no CA entry of {registry} in the trust list is valid on {day}, the day the answer was signed")]
    NoCurrentCa { registry: RegistryId, day: NaiveDate },
    #[error("the signer {subject} is not of organisation BIN {bin}, as the trust list's entry for {registry} requires")]
    NotOfOrganisation { subject: String, bin: String, registry: RegistryId },
    #[error("no revocation evidence (source_revocation) for the signer's certificate")]
    NoRevocation,
    #[error("source_revocation.{0} is not base64")]
    RevocationNotBase64(&'static str),
    #[error("not signed on its own by {0}")]
    ItemNotSigned(RegistryId),
    #[error("its signature is not base64")]
    ItemNotBase64,
    #[error("its own signature by {0} does not verify under any key the trust list holds for {0} at that time")]
    ItemDoesNotVerify(RegistryId),
}

impl From<pki::PkiError> for SourceError {
    fn from(e: pki::PkiError) -> Self {
        Self::Chain(Box::new(e))
    }
}

/// The moment an answer was signed: its signed `issued_at`, as POSIX seconds and as the day
/// in Asia/Almaty.
pub fn signing_time(answer: &Value) -> Result<(u64, NaiveDate), SourceError> {
    instant(answer.get("issued_at").and_then(Value::as_str).ok_or(SourceError::NoSigningTime)?)
}

/// An RFC 3339 time as POSIX seconds and as the day in Asia/Almaty.
fn instant(at: &str) -> Result<(u64, NaiveDate), SourceError> {
    let t = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| SourceError::NotATime(at.into()))?;
    let t = t.with_timezone(&chrono::Utc);
    Ok((t.timestamp().max(0) as u64, crate::rules::calendar::local_date(t)))
}

impl TrustedKeys {
    /// Parses a trust list strictly: unknown members, unknown sources, malformed keys or
    /// certificates and bad dates are refused, naming the path.
    pub fn parse(text: &str) -> Result<Self, TrustError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let doc: ListDoc = serde_path_to_error::deserialize(de).map_err(|e| TrustError::Invalid(format!("{}: {}", e.path(), e.inner())))?;
        if doc.format != TRUST_LIST_FORMAT {
            return Err(TrustError::Invalid(format!("format: {:?} is not {TRUST_LIST_FORMAT:?}", doc.format)));
        }
        day(&doc.issued, "issued")?;
        let mut sources = BTreeMap::new();
        for (name, entries) in &doc.sources {
            let registry = RegistryId::parse(name).ok_or_else(|| TrustError::Invalid(format!("sources.{name}: no such registry")))?;
            if entries.is_empty() {
                return Err(TrustError::Invalid(format!("sources.{name}: no entry")));
            }
            let parsed = entries.iter().enumerate().map(|(i, e)| Self::entry(e, &format!("sources.{name}[{i}]"))).collect::<Result<Vec<_>, _>>()?;
            sources.insert(registry, parsed);
        }
        Ok(Self { sources, sha256: hex::encode(Sha256::digest(text.as_bytes())), basis: TrustBasis::List, text: text.to_string() })
    }

    fn entry(e: &EntryDoc, path: &str) -> Result<TrustEntry, TrustError> {
        let bad = |what: String| TrustError::Invalid(format!("{path}.{what}"));
        let anchor = match (&e.key, &e.ca) {
            (Some(k), None) => {
                if e.signer.is_some() || e.ocsp.is_some() {
                    return Err(bad("signer/ocsp: only a ca entry has them".into()));
                }
                Anchor::Key(Box::new(VerifierKey::parse(k).map_err(|err| bad(format!("key: {err}")))?))
            }
            (None, Some(pem)) => {
                let certs = Certificate::load_pem_chain(pem.as_bytes()).map_err(|err| bad(format!("ca: not a PEM certificate: {err}")))?;
                let [cert] = <[Certificate; 1]>::try_from(certs).map_err(|c| bad(format!("ca: {} certificates, not one", c.len())))?;
                pki::refuse_gost(&cert).map_err(|err| bad(format!("ca: {err}")))?;
                Anchor::Ca(Box::new(cert))
            }
            _ => return Err(bad("key/ca: an entry has exactly one of key and ca".into())),
        };
        if let Some(s) = &e.signer {
            if s.organization_bin.len() != 12 || !s.organization_bin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("signer.organization_bin: {:?} is not a 12-digit BIN", s.organization_bin)));
            }
        }
        let from = day(&e.valid_from, &format!("{path}.valid_from"))?;
        let until = e.valid_until.as_deref().map(|u| day(u, &format!("{path}.valid_until"))).transpose()?;
        if until.is_some_and(|u| u < from) {
            return Err(bad("valid_until: before valid_from".into()));
        }
        Ok(TrustEntry { doc: e.clone(), anchor, from, until })
    }

    /// Reads and parses a trust list file.
    pub fn load(path: &std::path::Path) -> Result<Self, TrustError> {
        let text = std::fs::read_to_string(path).map_err(|err| TrustError::Read { path: path.display().to_string(), err })?;
        Self::parse(&text).map_err(|e| match e {
            TrustError::Invalid(m) => TrustError::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// A list of one current Ed25519 key per source (`valid_from` 2000-01-01), written as a
    /// trust list, with the `basis` given.
    pub fn of_keys(keys: BTreeMap<RegistryId, VerifierKey>, basis: TrustBasis) -> Self {
        let doc = ListDoc {
            format: TRUST_LIST_FORMAT.into(),
            issued: "2000-01-01".into(),
            sources: keys
                .iter()
                .map(|(r, k)| {
                    let e =
                        EntryDoc { key: Some(k.text().to_string()), ca: None, signer: None, ocsp: None, valid_from: "2000-01-01".into(), valid_until: None };
                    (r.as_str().to_string(), vec![e])
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&doc).expect("a trust list serialises") + "\n";
        Self { basis, ..Self::parse(&text).expect("a list of parsed keys parses") }
    }

    /// The same entries, trusted on another basis.
    pub fn with_basis(mut self, basis: TrustBasis) -> Self {
        self.basis = basis;
        self
    }

    /// Whether new source answers (corrections, acknowledgements) may be accepted on this trust.
    pub fn pinned(&self) -> bool {
        matches!(self.basis, TrustBasis::List | TrustBasis::Simulator)
    }

    /// The entries a run starting on `today` may use (those not ended before it), and how
    /// `RunStarted` records them: `{"sha256", "sources": {registry: [entry...]}}`.
    pub fn for_run(&self, today: NaiveDate) -> (Self, Value) {
        let sources: BTreeMap<RegistryId, Vec<TrustEntry>> = self
            .sources
            .iter()
            .map(|(r, es)| (*r, es.iter().filter(|e| e.until.is_none_or(|u| u >= today)).cloned().collect::<Vec<_>>()))
            .filter(|(_, es)| !es.is_empty())
            .collect();
        let recorded = serde_json::json!({
            "sha256": self.sha256,
            "basis": self.basis,
            "sources": sources.iter().map(|(r, es)| (r.as_str().to_string(), es.iter().map(|e| e.doc.clone()).collect::<Vec<_>>())).collect::<BTreeMap<_, _>>(),
        });
        (Self { sources, ..self.clone() }, recorded)
    }

    /// What a `RunStarted` recorded (`trust`, or the older `source_keys`), as the operator's
    /// claim: for `--trust-bundle-keys`.
    pub fn claimed_by_run(trust: Option<&Value>, source_keys: Option<&BTreeMap<String, String>>) -> Self {
        let mut claim = Self::of_keys(BTreeMap::new(), TrustBasis::Claim);
        if let Some(sources) = trust.and_then(|t| t.get("sources")).and_then(Value::as_object) {
            for (r, entries) in sources {
                let Some(registry) = RegistryId::parse(r) else { continue };
                for (i, e) in entries.as_array().into_iter().flatten().enumerate() {
                    if let Ok(e) = serde_json::from_value::<EntryDoc>(e.clone())
                        .map_err(|e| e.to_string())
                        .and_then(|d| Self::entry(&d, &format!("{r}[{i}]")).map_err(|e| e.to_string()))
                    {
                        claim.sources.entry(registry).or_default().push(e);
                    }
                }
            }
        }
        for (r, k) in source_keys.into_iter().flatten() {
            if let (Some(registry), Ok(key)) = (RegistryId::parse(r), VerifierKey::parse(k)) {
                claim.add_key(registry, key);
            }
        }
        claim
    }

    /// Adds a current key of `registry` (the claim of a bundle or a run).
    pub fn add_key(&mut self, registry: RegistryId, key: VerifierKey) {
        let entries = self.sources.entry(registry).or_default();
        if !entries.iter().any(|e| matches!(&e.anchor, Anchor::Key(k) if k.text() == key.text())) {
            let doc = EntryDoc { key: Some(key.text().to_string()), ca: None, signer: None, ocsp: None, valid_from: "2000-01-01".into(), valid_until: None };
            entries.push(TrustEntry { doc, anchor: Anchor::Key(Box::new(key)), from: NaiveDate::MIN, until: None });
        }
    }

    /// Adds every entry of `other` (claims gathered run by run).
    pub fn extend(&mut self, other: &TrustedKeys) {
        for (r, es) in &other.sources {
            for e in es {
                match &e.anchor {
                    Anchor::Key(k) => self.add_key(*r, k.as_ref().clone()),
                    Anchor::Ca(_) => self.sources.entry(*r).or_default().push(e.clone()),
                }
            }
        }
    }

    /// `{"zags": "registry/zags+...", ...}` for `/v1/keys` and proof bundles, for information:
    /// each source's newest entry (an X.509 anchor as `x509:<subject>`).
    pub fn as_map(&self) -> BTreeMap<String, String> {
        self.sources
            .iter()
            .filter_map(|(r, es)| {
                let e = es.iter().max_by_key(|e| e.from)?;
                Some((
                    r.as_str().to_string(),
                    match &e.anchor {
                        Anchor::Key(k) => k.to_string(),
                        Anchor::Ca(c) => format!("x509:{}", pki::subject(c)),
                    },
                ))
            })
            .collect()
    }

    /// The list as a document, for `GET /v1/trust` and the register.
    pub fn document(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    fn entries(&self, registry: RegistryId) -> Result<&[TrustEntry], SourceError> {
        self.sources.get(&registry).map(Vec::as_slice).filter(|e| !e.is_empty()).ok_or(SourceError::NoEntry(registry))
    }

    /// Checks the source signature of an answer of `registry`: by the trust list's entry that
    /// holds its key (or anchors its certificate) at the answer's signing time, never by the
    /// key the answer names.
    pub fn check_source(&self, registry: RegistryId, signed: &SignedAnswer) -> Result<(), RegistryFault> {
        let bad = RegistryFault::BadSignature;
        let (t, day) = signing_time(&signed.answer).map_err(|e| RegistryFault::Malformed(e.to_string()))?;
        let alg = signed.source_sig_alg.as_deref().unwrap_or("ed25519");
        match signed.source_sig_format.as_deref() {
            None => {}
            Some(super::shep::WS_SECURITY) => return self.check_gateway(registry, signed, t, day).map_err(|e| bad(e.to_string())),
            Some(other) => return Err(bad(format!("{registry}'s answer is signed in format {other:?}, not ws-security"))),
        }
        let sig = B64.decode(&signed.source_sig).map_err(|_| bad("the signature is not base64".into()))?;
        let message = events::registry_answer::message(&signed.answer).map_err(|e| RegistryFault::Malformed(e.to_string()))?;
        match alg {
            "ed25519" => {
                if signed.source_chain.is_some() {
                    return Err(bad("an Ed25519 answer carries a certificate chain".into()));
                }
                let entries = self.entries(registry).map_err(|e| bad(e.to_string()))?;
                let holding: Vec<&TrustEntry> = entries.iter().filter(|e| matches!(&e.anchor, Anchor::Key(k) if k.text() == signed.source_key)).collect();
                let first = holding.first().ok_or_else(|| {
                    bad(format!("{registry}'s answer is signed by key {}, which the trust list does not hold for {registry}", signed.source_key))
                })?;
                let Some(Anchor::Key(key)) = holding.iter().find(|e| e.covers(day)).map(|e| &e.anchor) else {
                    return Err(bad(format!(
                        "key {} of {registry} is trusted {}, but the answer was signed on {day} ({})",
                        signed.source_key,
                        first.window(),
                        pki::show(t)
                    )));
                };
                key.verify(&message, &sig).map_err(|_| bad(format!("the signature of {registry} does not verify")))
            }
            "rsa-pkcs1-sha256" | "ecdsa-p256-sha256" => self.check_x509(registry, signed, alg, &message, &sig, t, day).map_err(|e| bad(e.to_string())),
            other if other.to_ascii_lowercase().contains("gost") => {
                Err(bad(format!("{registry}'s answer is signed with {other}: GOST is refused, no open implementation is available here")))
            }
            other => Err(bad(format!("{registry}'s answer is signed with {other:?}, not ed25519, rsa-pkcs1-sha256 or ecdsa-p256-sha256"))),
        }
    }

    /// An answer under the national PKI (`sources.md`): the chain to a `ca` entry valid at the
    /// signing time, the signer constraint, the signature, and the revocation evidence.
    #[allow(clippy::too_many_arguments)]
    fn check_x509(
        &self,
        registry: RegistryId,
        signed: &SignedAnswer,
        alg: &str,
        message: &[u8],
        sig: &[u8],
        t: u64,
        day: NaiveDate,
    ) -> Result<(), SourceError> {
        let chain = pki::chain_from_base64(signed.source_chain.as_deref().ok_or(SourceError::NoChain)?)?;
        let signer = chain.first().ok_or(SourceError::EmptyChain)?;
        // The chain first: a GOST or unanchored certificate is named as such, not as a key
        // that does not fit the algorithm.
        self.check_chain(registry, &chain, signed.source_revocation.as_ref(), t, day)?;
        let (key_alg, sig_alg) = match alg {
            "rsa-pkcs1-sha256" => (pki::RSA_ENCRYPTION, pki::SHA256_WITH_RSA),
            _ => (pki::ID_EC_PUBLIC_KEY, pki::ECDSA_WITH_SHA256),
        };
        if signer.tbs_certificate.subject_public_key_info.algorithm.oid != key_alg {
            return Err(SourceError::KeyNotFor(alg.into()));
        }
        pki::verify_signature(&signer.tbs_certificate.subject_public_key_info, &sig_alg, message, sig).map_err(|error| SourceError::SignatureBy {
            registry,
            subject: pki::subject(signer),
            error: Box::new(error),
        })
    }

    /// An answer that came in a gateway envelope: its WS-Security signature on the bytes kept,
    /// the answer and item signatures it carries the ones recorded (`shep::check_document`),
    /// then the signer's certificate as for any answer under the national PKI.
    fn check_gateway(&self, registry: RegistryId, signed: &SignedAnswer, t: u64, day: NaiveDate) -> Result<(), SourceError> {
        let chain = pki::chain_from_base64(signed.source_chain.as_deref().ok_or(SourceError::NoChain)?)?;
        super::shep::check_document(signed, &chain).map_err(|error| SourceError::Envelope { registry, error })?;
        self.check_chain(registry, &chain, signed.source_revocation.as_ref(), t, day)
    }

    /// The signer's certificate (`chain[0]`, its intermediates after it) against the trust list
    /// at the signing time: the path to a `ca` entry valid that day, the entry's signer
    /// constraint, and the revocation evidence.
    fn check_chain(
        &self,
        registry: RegistryId,
        chain: &[Certificate],
        revocation: Option<&SourceRevocation>,
        t: u64,
        day: NaiveDate,
    ) -> Result<(), SourceError> {
        let signer = chain.first().ok_or(SourceError::EmptyChain)?;
        let cas: Vec<(&TrustEntry, &Certificate)> = self
            .entries(registry)?
            .iter()
            .filter_map(|e| match &e.anchor {
                Anchor::Ca(c) => Some((e, c.as_ref())),
                Anchor::Key(_) => None,
            })
            .collect();
        if cas.is_empty() {
            return Err(SourceError::NoCa(registry));
        }
        let current: Vec<&Certificate> = cas.iter().filter(|(e, _)| e.covers(day)).map(|(_, c)| *c).collect();
        if current.is_empty() {
            return Err(SourceError::NoCurrentCa { registry, day });
        }
        let (anchor, issuer) = pki::build_path(signer, &chain[1..], &current, t).map_err(|error| SourceError::Pki { registry, error: Box::new(error) })?;
        let (entry, _) = cas.iter().find(|(_, c)| std::ptr::eq(*c, anchor)).expect("the anchor is one of the entries");
        if let Some(s) = &entry.doc.signer {
            if !pki::names_bin(signer, &s.organization_bin) {
                return Err(SourceError::NotOfOrganisation { subject: pki::subject(signer), bin: s.organization_bin.clone(), registry });
            }
        }
        let evidence = match revocation.ok_or(SourceError::NoRevocation)? {
            SourceRevocation::Ocsp(b) => pki::Revocation::Ocsp(B64.decode(b).map_err(|_| SourceError::RevocationNotBase64("ocsp"))?),
            SourceRevocation::Crl(b) => pki::Revocation::Crl(B64.decode(b).map_err(|_| SourceError::RevocationNotBase64("crl"))?),
        };
        pki::check_revocation(&evidence, signer, issuer, t).map_err(|error| SourceError::Pki { registry, error: Box::new(error) })
    }

    /// Checks one item's own signature (base64 `sig`) by an Ed25519 key the list holds for
    /// `registry` on the day of `at` (the answer's signing time, or the event's time for an item
    /// shown alone).
    pub fn check_item(&self, registry: RegistryId, item: &Value, sig: Option<&str>, at: Option<&str>) -> Result<(), SourceError> {
        let sig = sig.ok_or(SourceError::ItemNotSigned(registry))?;
        let sig = B64.decode(sig).map_err(|_| SourceError::ItemNotBase64)?;
        let day = match at {
            Some(at) => Some(instant(at)?.1),
            None => None,
        };
        let keys: Vec<&VerifierKey> = self
            .entries(registry)?
            .iter()
            .filter(|e| day.is_none_or(|d| e.covers(d)))
            .filter_map(|e| match &e.anchor {
                Anchor::Key(k) => Some(k.as_ref()),
                Anchor::Ca(_) => None,
            })
            .collect();
        if keys.iter().any(|k| events::registry_answer::verify_item(item, k, &sig).is_ok()) {
            return Ok(());
        }
        Err(SourceError::ItemDoesNotVerify(registry))
    }
}

impl Default for TrustedKeys {
    fn default() -> Self {
        Self::of_keys(BTreeMap::new(), TrustBasis::Claim)
    }
}

/// What `RunStarted.trust` and every verifier's output say of the basis.
pub fn basis_note(basis: TrustBasis) -> Option<&'static str> {
    match basis {
        TrustBasis::Claim => Some(
            "WARNING: the sources were checked against the operator's own claim only (the keys the bundle or ledger names, --trust-bundle-keys), not against a trust list of your own",
        ),
        _ => None,
    }
}
