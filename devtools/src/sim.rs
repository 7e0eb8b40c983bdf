//! The registry simulator: answers as the six registries would, from a fixture, signed with
//! per-registry keys derived from a seed, faults included. Used in process by the fixture
//! adapter and over HTTP by `registry-sim`. Its keys are derived from a seed, so they belong
//! here, in the dev tools, and never in the service's trust path.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use events::LedgerSigner;
use housing_ledger::registry::fixture::{FaultKind, Fixture};
use housing_ledger::registry::{items, AnswerKind, Decision, DeliveryFault, Official, RegistryFault, Reinstatement, SignedAnswer, TrustBasis, TrustedKeys};
use housing_ledger::rules::records::RegistryId;
use housing_ledger::rules::Procedure;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The simulator's key for a registry: derived from the seed and the registry id.
pub fn sim_signer(seed: &str, registry: RegistryId) -> LedgerSigner {
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update(b"\n");
    h.update(registry.as_str().as_bytes());
    LedgerSigner::from_seed(&format!("registry/{}", registry.as_str()), h.finalize().into()).expect("valid key name")
}

/// Signs an answer as a source would.
pub fn sign_answer(answer: Value, signer: &LedgerSigner) -> SignedAnswer {
    let sig = events::registry_answer::sign(&answer, signer).expect("answers canonicalise");
    SignedAnswer { answer, source_key: signer.verifier_text().to_string(), source_sig: B64.encode(sig), ..SignedAnswer::default() }
}

/// Signs an answer whose items (list entries, decisions) are also signed each on its own.
pub fn sign_answer_and_items(answer: Value, signer: &LedgerSigner, kind: AnswerKind) -> SignedAnswer {
    let item_sigs = items(kind, &answer["records"])
        .into_iter()
        .map(|(k, item)| (k, B64.encode(events::registry_answer::sign_item(item, signer).expect("items canonicalise"))))
        .collect();
    SignedAnswer { item_sigs, ..sign_answer(answer, signer) }
}

/// The seed the registry simulator derives its keys from, unless told otherwise.
pub const DEFAULT_SIM_SEED: &str = "housing-ledger registry simulator v1";

/// Entries per page of the step-4 list.
pub const LIST_PAGE: usize = 500;

/// What the six registries know: a fixture file, or a synthetic population made on demand.
pub trait Source: Send + Sync {
    fn name(&self) -> String;
    /// Entries `[start, start+len)` of a segment, and whether more follow.
    fn entries(&self, procedure: Procedure, start: usize, len: usize) -> (Vec<Value>, bool);
    fn record(&self, registry: RegistryId, iin: &str) -> Option<Value>;
    fn fault(&self, registry: RegistryId, subjects: &[String]) -> Option<FaultKind>;
    fn decision(&self, iin: &str) -> Option<Decision>;
    /// Who confirms a proposal that `decision` does not name (decision 15).
    fn default_official(&self) -> Option<Official>;
    fn delivery_faults(&self, iin: &str) -> u32;
}

impl Source for Fixture {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn entries(&self, procedure: Procedure, start: usize, len: usize) -> (Vec<Value>, bool) {
        let all = Fixture::entries(self, procedure);
        let start = start.min(all.len());
        let end = (start + len).min(all.len());
        (all[start..end].to_vec(), end < all.len())
    }
    fn record(&self, registry: RegistryId, iin: &str) -> Option<Value> {
        Fixture::record(self, registry, iin).cloned()
    }
    fn fault(&self, registry: RegistryId, subjects: &[String]) -> Option<FaultKind> {
        Fixture::fault(self, registry, subjects)
    }
    fn decision(&self, iin: &str) -> Option<Decision> {
        self.decisions.get(iin).cloned()
    }
    fn default_official(&self) -> Option<Official> {
        self.default_official.clone()
    }
    fn delivery_faults(&self, iin: &str) -> u32 {
        self.delivery_faults.get(iin).copied().unwrap_or(0)
    }
}

/// Every answer the simulator can give; `Fault::Timeout` is the caller's to turn into silence.
pub struct Simulator {
    pub source: Arc<dyn Source>,
    signers: BTreeMap<RegistryId, SourceSigner>,
    /// Corrections the source owners have issued (clauses 13, 16), by registry and IIN: the
    /// corrected record (`null` when the registry now holds nothing on him) and when it was
    /// issued. Fetched twice, a correction is the same answer, signature included.
    corrections: std::sync::Mutex<BTreeMap<RegistryId, BTreeMap<String, Issued>>>,
    /// Serving through the gateway's envelope (`registry-sim --shep`).
    pub gateway: bool,
}

/// A corrected record (`null`: none) and when it was issued.
type Issued = (Value, String);

/// The time an answer is issued, to the millisecond. Formatted once per millisecond and
/// thread: the simulator issues thousands of answers a second.
fn now() -> String {
    thread_local!(static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) });
    let t = chrono::Utc::now();
    LAST.with_borrow_mut(|(ms, text)| {
        if *ms != t.timestamp_millis() {
            *ms = t.timestamp_millis();
            *text = t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        }
        text.clone()
    })
}

impl Simulator {
    pub fn new(source: Arc<dyn Source>, seed: &str) -> Self {
        Self {
            source,
            signers: RegistryId::ALL.iter().map(|r| (*r, SourceSigner::Ed25519(Box::new(sim_signer(seed, *r))))).collect(),
            corrections: Default::default(),
            gateway: false,
        }
    }

    /// Signs `registry`'s answers under an X.509 certificate instead of its derived key
    /// (`registry-sim --sign-with`). Not ИШ АС МР, whose list entries and decisions are signed
    /// each on its own with an Ed25519 key.
    pub fn with_x509(mut self, registry: RegistryId, signer: X509Signer) -> Result<Self, SimError> {
        if registry == RegistryId::IshAsMr {
            return Err(SimError::PerItemSigner(registry));
        }
        self.signers.insert(registry, SourceSigner::X509(signer));
        Ok(self)
    }

    /// The owner of `registry` corrects its record of `iin` (`null`: it holds nothing on him).
    /// The record must be one the registry could give.
    pub fn issue_correction(&self, registry: RegistryId, iin: &str, record: Value) -> Result<(), SimError> {
        let iin = housing_ledger::rules::iin::Iin::parse(iin)?;
        if !record.is_null() {
            registry.validate_record(iin.as_str(), &record).map_err(|detail| SimError::Record { iin: iin.to_string(), registry, detail })?;
        }
        self.corrections.lock().expect("corrections lock").entry(registry).or_default().insert(iin.to_string(), (record, now()));
        Ok(())
    }

    /// The corrections issued about any of `subjects`: per registry that corrected one of them,
    /// its answer about all of them (the corrected records, the others as it holds them), to
    /// the request id `<appeal>/<registry>`. Subject to the registry's faults like any answer.
    pub fn corrections(&self, appeal: &str, subjects: &[String]) -> Result<Vec<SignedAnswer>, RegistryFault> {
        let issued = self.corrections.lock().expect("corrections lock").clone();
        let mut answers = Vec::new();
        for (registry, by_iin) in issued {
            // Issued when the latest of its corrections about these persons was.
            let Some(issued_at) = subjects.iter().filter_map(|s| by_iin.get(s)).map(|(_, at)| at.clone()).max() else { continue };
            let records: Map<String, Value> = subjects
                .iter()
                .filter_map(|s| {
                    let record = match by_iin.get(s) {
                        Some((corrected, _)) => corrected.clone(),
                        None => self.source.record(registry, s).unwrap_or(Value::Null),
                    };
                    (!record.is_null()).then(|| (s.clone(), record))
                })
                .collect();
            let request_id = format!("{appeal}/{registry}");
            answers.push(self.answer_issued(registry, subjects, &request_id, Value::Object(records), AnswerKind::Records(subjects), issued_at)?);
        }
        Ok(answers)
    }

    /// Signs `records` (and its items, for a list page), then spoils the answer as the fault
    /// says.
    fn answer(&self, registry: RegistryId, subjects: &[String], request_id: &str, records: Value) -> Result<SignedAnswer, RegistryFault> {
        self.answer_of(registry, subjects, request_id, records, AnswerKind::Records(subjects))
    }

    fn answer_of(&self, registry: RegistryId, subjects: &[String], request_id: &str, records: Value, kind: AnswerKind) -> Result<SignedAnswer, RegistryFault> {
        self.answer_issued(registry, subjects, request_id, records, kind, now())
    }

    fn answer_issued(
        &self,
        registry: RegistryId,
        subjects: &[String],
        request_id: &str,
        records: Value,
        kind: AnswerKind,
        issued_at: String,
    ) -> Result<SignedAnswer, RegistryFault> {
        // Over the gateway, its faults and a spoiled signature are the envelope's to make.
        let fault = match self.source.fault(registry, subjects) {
            Some(FaultKind::BadSignature | FaultKind::SoapFault | FaultKind::ErrorStatus | FaultKind::OtherCorrelation | FaultKind::WrappedSignature)
                if self.gateway =>
            {
                None
            }
            other => other.map(FaultKind::without_gateway),
        };
        match fault {
            Some(FaultKind::Unavailable) => return Err(RegistryFault::Unavailable(format!("{registry} answered with an error"))),
            Some(FaultKind::Timeout) => return Err(RegistryFault::Timeout(format!("{registry} did not answer within the deadline"))),
            _ => {}
        }
        let records = if fault == Some(FaultKind::Malformed) {
            // Records that fail validation: a record of the wrong shape for each subject.
            Value::Object(subjects.iter().map(|s| (s.clone(), json!({"unexpected": "garbled record"}))).collect())
        } else {
            records
        };
        let answer = events::types::with(
            json!({"registry": registry.as_str(), "request_id": request_id, "subjects": subjects, "issued_at": issued_at}),
            "records",
            records,
        );
        let mut signed = self.signers[&registry].sign(answer, kind);
        if fault == Some(FaultKind::BadSignature) {
            // Signed over different content: the signature no longer matches the answer.
            let mut other = signed.answer.clone();
            other["issued_at"] = json!("1970-01-01T00:00:00.000Z");
            signed.source_sig = self.signers[&registry].sign(other, AnswerKind::Records(&[])).source_sig;
        }
        Ok(signed)
    }

    pub fn list_page(&self, procedure: Procedure, page: u64, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let (entries, more) = self.source.entries(procedure, (page as usize).saturating_mul(LIST_PAGE), LIST_PAGE);
        let next = more.then_some(page + 1);
        let records = events::types::with(json!({"segment": procedure.as_str(), "page": page, "next_page": next}), "entries", Value::Array(entries));
        self.answer_of(RegistryId::IshAsMr, &[], request_id, records, AnswerKind::List)
    }

    /// A registry's answer about `subjects`, holding only the `fields` asked for (decision
    /// 14); a person with none of them has no record.
    pub fn query(&self, registry: RegistryId, subjects: &[String], fields: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let records: Map<String, Value> = subjects
            .iter()
            .filter_map(|s| {
                let Value::Object(mut rec) = self.source.record(registry, s)? else { return None };
                rec.retain(|k, _| fields.contains(k));
                (!rec.is_empty()).then(|| (s.clone(), Value::Object(rec)))
            })
            .collect();
        self.answer(registry, subjects, request_id, Value::Object(records))
    }

    /// Decision 16: ИШ АС МР restores the person and acknowledges it, signed. Subject to the
    /// faults the fixture sets for `ish_as_mr` and this person.
    pub fn reinstate(&self, r: &Reinstatement, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let mut ack = json!({"reinstated": true, "procedure": r.procedure, "appeal": r.appeal});
        for (k, v) in r.restore.as_object().into_iter().flatten() {
            ack[k] = v.clone();
        }
        let subjects = [r.iin.clone()];
        let mut records = Map::new();
        records.insert(r.iin.clone(), ack);
        self.answer(RegistryId::IshAsMr, &subjects, request_id, Value::Object(records))
    }

    pub fn decisions(&self, _procedure: Procedure, iins: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let records: Map<String, Value> = iins
            .iter()
            .map(|iin| {
                let d = self.source.decision(iin).unwrap_or_else(|| Decision {
                    outcome: "confirmed".into(),
                    by: None,
                    reference: None,
                    official: self.source.default_official(),
                });
                (iin.clone(), serde_json::to_value(d).expect("decisions serialise"))
            })
            .collect();
        // Decisions are not subject to registry faults: they come back on the list's channel.
        let answer = events::types::with(
            json!({"registry": "ish_as_mr", "request_id": request_id, "subjects": iins, "issued_at": now()}),
            "records",
            Value::Object(records),
        );
        Ok(self.signers[&RegistryId::IshAsMr].sign(answer, AnswerKind::Decisions(iins)))
    }

    /// Fails the first `delivery_faults[iin]` attempts.
    pub fn deliver(&self, notice: &str, iin: &str, attempt: u32) -> Result<String, DeliveryFault> {
        let fails = self.source.delivery_faults(iin);
        if attempt <= fails {
            Err(DeliveryFault::Refused(format!("personal cabinet of {iin} did not accept notice {notice} (attempt {attempt})")))
        } else {
            Ok(format!("delivered to the personal cabinet on attempt {attempt}"))
        }
    }
}

/// How the simulator signs a registry's answers: its derived Ed25519 key, or an X.509
/// certificate's key (RSA or P-256) with the chain it sends along.
pub enum SourceSigner {
    Ed25519(Box<LedgerSigner>),
    X509(X509Signer),
}

impl SourceSigner {
    /// The answer, signed (and, with an Ed25519 key, its items each on its own).
    pub fn sign(&self, answer: Value, kind: AnswerKind) -> SignedAnswer {
        match self {
            SourceSigner::Ed25519(k) => sign_answer_and_items(answer, k, kind),
            SourceSigner::X509(x) => x.sign(answer),
        }
    }
}

enum X509Key {
    Rsa(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
    P256(p256::ecdsa::SigningKey),
}

/// A key and certificate chain a simulated source (or gateway) cannot sign with.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("the chain is not PEM certificates: {0}")]
    NotPem(der::Error),
    #[error("the chain holds no certificate")]
    NoCertificate,
    #[error("DER: {0}")]
    Der(der::Error),
    #[error("the key is neither an RSA nor a P-256 private key in PEM")]
    NotAKey,
    #[error("public key: {0}")]
    PublicKey(String),
    #[error("the {0} key is not the certificate's")]
    NotTheCertificates(&'static str),
    /// A test signature by the key does not verify under the certificate.
    #[error("the key is not the certificate's: {0}")]
    Probe(String),
    #[error("the certificate cannot be named by its key identifier: {0}")]
    NotByKeyIdentifier(String),
    #[error("{0}")]
    Sign(housing_ledger::registry::shep::wsse::SignError),
}

/// What a simulated source refuses to do.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0} signs each list entry and decision on its own with an Ed25519 key (evidence per person); under a certificate that is not supported")]
    PerItemSigner(RegistryId),
    #[error("{0}")]
    Iin(#[from] housing_ledger::rules::iin::IinError),
    #[error("the corrected record of {iin} in {registry}: {detail}")]
    Record { iin: String, registry: RegistryId, detail: housing_ledger::rules::records::RecordError },
}

/// A signing key and its certificate chain (signer first), from PEM files.
pub struct X509Signer {
    key: X509Key,
    chain: Vec<String>,
    subject: String,
}

impl X509Signer {
    /// `key_pem`: an RSA (PKCS#8 or PKCS#1) or P-256 (PKCS#8 or SEC1) private key; `chain_pem`:
    /// its certificate, then the intermediates. The key must be the certificate's.
    pub fn from_pem(key_pem: &str, chain_pem: &str) -> Result<Self, SignerError> {
        use der::Encode;
        let certs = x509_cert::Certificate::load_pem_chain(chain_pem.as_bytes()).map_err(SignerError::NotPem)?;
        let cert = certs.first().ok_or(SignerError::NoCertificate)?;
        let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(SignerError::Der)?;
        let key = if let Ok(k) = <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(key_pem)
            .or_else(|_| <rsa::RsaPrivateKey as rsa::pkcs1::DecodeRsaPrivateKey>::from_pkcs1_pem(key_pem))
        {
            let public = rsa::pkcs8::EncodePublicKey::to_public_key_der(&k.to_public_key()).map_err(|e| SignerError::PublicKey(e.to_string()))?;
            if public.as_bytes() != spki {
                return Err(SignerError::NotTheCertificates("RSA"));
            }
            X509Key::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(k)))
        } else {
            let k = <p256::SecretKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(key_pem)
                .or_else(|_| p256::SecretKey::from_sec1_pem(key_pem))
                .map_err(|_| SignerError::NotAKey)?;
            let public = p256::pkcs8::EncodePublicKey::to_public_key_der(&k.public_key()).map_err(|e| SignerError::PublicKey(e.to_string()))?;
            if public.as_bytes() != spki {
                return Err(SignerError::NotTheCertificates("P-256"));
            }
            X509Key::P256(p256::ecdsa::SigningKey::from(k))
        };
        let chain = certs
            .iter()
            .map(|c| c.to_der().map(|d| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, d)).map_err(SignerError::Der))
            .collect::<Result<_, _>>()?;
        Ok(Self { key, chain, subject: cert.tbs_certificate.subject.to_string() })
    }

    fn sign(&self, answer: Value) -> SignedAnswer {
        use rsa::signature::{SignatureEncoding, Signer};
        let msg = events::registry_answer::message(&answer).expect("answers canonicalise");
        let (alg, sig) = match &self.key {
            X509Key::Rsa(k) => ("rsa-pkcs1-sha256", k.sign(&msg).to_vec()),
            X509Key::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(&msg);
                ("ecdsa-p256-sha256", sig.to_der().as_bytes().to_vec())
            }
        };
        SignedAnswer {
            answer,
            source_key: format!("x509:{}", self.subject),
            source_sig: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig),
            source_sig_alg: Some(alg.into()),
            source_chain: Some(self.chain.clone()),
            ..SignedAnswer::default()
        }
    }
}

/// The in-process adapter: the simulator answers directly, faults included (a `timeout` is
/// reported as the deadline passing, without the wait).
pub struct FixtureRegistries {
    sim: Simulator,
    describe: String,
}

impl FixtureRegistries {
    pub fn new(fixture: Fixture, seed: &str) -> Self {
        let describe = format!("fixture:{}", fixture.name);
        Self { sim: Simulator::new(std::sync::Arc::new(fixture), seed), describe }
    }

    /// Any source in process, described as `describe` (`synthetic:N:SEED`, say).
    pub fn from_source(source: std::sync::Arc<dyn Source>, seed: &str, describe: String) -> Self {
        Self { sim: Simulator::new(source, seed), describe }
    }

    /// The simulated source owners, to issue a correction.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

#[async_trait::async_trait]
impl housing_ledger::registry::Registries for FixtureRegistries {
    async fn list_page(
        &self,
        procedure: Procedure,
        page: u64,
        request_id: &str,
    ) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        self.sim.list_page(procedure, page, request_id)
    }
    async fn query(
        &self,
        registry: RegistryId,
        subjects: &[String],
        fields: &[String],
        request_id: &str,
    ) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        self.sim.query(registry, subjects, fields, request_id)
    }
    async fn decisions(
        &self,
        procedure: Procedure,
        iins: &[String],
        request_id: &str,
    ) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        self.sim.decisions(procedure, iins, request_id)
    }
    async fn deliver(&self, notice: &str, iin: &str, attempt: u32) -> Result<String, DeliveryFault> {
        self.sim.deliver(notice, iin, attempt)
    }
    async fn reinstate(
        &self,
        r: &housing_ledger::registry::Reinstatement,
        request_id: &str,
    ) -> Result<housing_ledger::registry::SignedAnswer, housing_ledger::registry::RegistryFault> {
        self.sim.reinstate(r, request_id)
    }
    async fn corrections(
        &self,
        appeal: &str,
        subjects: &[String],
    ) -> Result<Vec<housing_ledger::registry::SignedAnswer>, housing_ledger::registry::RegistryFault> {
        self.sim.corrections(appeal, subjects)
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
    /// A fixture or a synthetic population is a simulation by nature (decision 11).
    fn is_live(&self) -> bool {
        false
    }
}

/// The simulator's keys, derived from `seed`, as a trust list: for simulations only (the trust
/// path itself never derives a key from a seed).
pub fn sim_trust(seed: &str) -> TrustedKeys {
    TrustedKeys::of_keys(RegistryId::ALL.iter().map(|r| (*r, sim_signer(seed, *r).verifier())).collect(), TrustBasis::Simulator)
}
