//! `registry-sim --shep`: the simulator behind the gateway's envelope. Each `SendMessage` is
//! answered by the same `Simulator` as over `http:`, its answer carried in a
//! `SendMessageResponse` signed with WS-Security under the `--sign-with` certificates, and the
//! fixture's faults made as the gateway makes them (a SOAP fault, an error status, a response to
//! another request, a wrapped or spoiled signature; `docs/implementation/gateway.md`).

use crate::sim::{SignerError, Simulator};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use housing_ledger::registry::fixture::FaultKind;
use housing_ledger::registry::shep::envelope::{self, ResponseInfo};
use housing_ledger::registry::shep::wsse::{self, KeyReference};
use housing_ledger::registry::shep::{message_id, Carried};
use housing_ledger::registry::{RegistryFault, Reinstatement, SignedAnswer};
use housing_ledger::rules::records::RegistryId;
use housing_ledger::rules::Procedure;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A certificate the gateway signs with, and its key.
pub struct EnvelopeSigner {
    key_pem: String,
    cert_der: Vec<u8>,
    /// How the envelope names the certificate (a token carrying it, by default).
    pub reference: KeyReference,
}

impl EnvelopeSigner {
    /// `key_pem`: an RSA or P-256 private key; `chain_pem`: its certificate first.
    pub fn from_pem(key_pem: &str, chain_pem: &str) -> Result<Self, SignerError> {
        use der::Encode;
        let certs = x509_cert::Certificate::load_pem_chain(chain_pem.as_bytes()).map_err(SignerError::NotPem)?;
        let cert_der = certs.first().ok_or(SignerError::NoCertificate)?.to_der().map_err(SignerError::Der)?;
        let signer = Self { key_pem: key_pem.to_string(), cert_der, reference: KeyReference::Token };
        // Refused now, not at the first request: a key that is not the certificate's.
        let probe = signer.sign("<probe/>")?;
        wsse::verify(probe.as_bytes(), &[]).map_err(|e| SignerError::Probe(e.to_string()))?;
        Ok(signer)
    }

    /// Names the certificate by its subject key identifier alone (the receiver must hold it).
    pub fn by_key_identifier(self) -> Result<Self, SignerError> {
        let signer = Self { reference: KeyReference::SubjectKeyId, ..self };
        let probe = signer.sign("<probe/>")?;
        wsse::verify(probe.as_bytes(), std::slice::from_ref(&signer.cert_der)).map_err(|e| SignerError::NotByKeyIdentifier(e.to_string()))?;
        Ok(signer)
    }

    fn sign(&self, body: &str) -> Result<String, SignerError> {
        wsse::sign(body, &format!("id-{}", message_id()), &self.key_pem, &self.cert_der, self.reference).map_err(SignerError::Sign)
    }
}

/// The signers of the envelopes: by the source answering (a registry, or `lists`,
/// `decisions`, ... for ИШ АС МР's services), else the default (`--sign-with gateway=...`).
#[derive(Default)]
pub struct EnvelopeSigners {
    pub by_source: BTreeMap<String, EnvelopeSigner>,
    pub default: Option<EnvelopeSigner>,
}

impl EnvelopeSigners {
    fn of(&self, source: &str) -> Option<&EnvelopeSigner> {
        self.by_source.get(source).or(self.default.as_ref())
    }
}

#[derive(Clone)]
struct SimState {
    sim: Arc<Simulator>,
    signers: Arc<EnvelopeSigners>,
    stall: Duration,
}

/// What a request asks, as the adapter writes it.
#[derive(Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case", deny_unknown_fields)]
enum Operation {
    Query { registry: String, subjects: Vec<String>, fields: Vec<String>, request_id: String },
    List { procedure: Procedure, page: u64, request_id: String },
    Decisions { procedure: Procedure, subjects: Vec<String>, request_id: String },
    Reinstate { reinstatement: Reinstatement, request_id: String },
    Corrections { registry: String, appeal: String, subjects: Vec<String> },
    Notice { notice: String, iin: String, attempt: u32 },
}

/// The routes of `registry-sim --shep`: the synchronous channel at `/bip-sync` (and `/`).
pub fn shep_router(sim: Arc<Simulator>, signers: EnvelopeSigners, stall: Duration) -> Router {
    let state = SimState { sim, signers: Arc::new(signers), stall };
    Router::new().route("/bip-sync", post(handle)).route("/", post(handle)).with_state(state)
}

fn soap_fault(code: &str, text: &str) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, [("content-type", "text/xml; charset=utf-8")], envelope::fault(code, text)).into_response()
}

/// A request naming a registry the gateway does not serve.
#[derive(Debug, thiserror::Error)]
#[error("no registry {0:?}")]
struct NoRegistry(String);

fn registry(name: &str) -> Result<RegistryId, NoRegistry> {
    RegistryId::parse(name).ok_or_else(|| NoRegistry(name.into()))
}

/// The source answering, the registry and persons its faults are looked up by, and its answer
/// (`None`: a success without data).
type Answered = (String, RegistryId, Vec<String>, Result<Option<Value>, RegistryFault>);

fn answer(sim: &Simulator, op: Operation) -> Result<Answered, NoRegistry> {
    let carried = |r: Result<SignedAnswer, RegistryFault>| {
        r.map(|s| {
            Some(serde_json::to_value(Carried { answer: s.answer, item_sigs: s.item_sigs, source_key: None, source_sig: None }).expect("answers serialise"))
        })
    };
    // A many-person answer carries its source's own signature beside the envelope's.
    let inner = |r: Result<SignedAnswer, RegistryFault>| {
        r.map(|s| {
            let c = Carried { answer: s.answer, item_sigs: s.item_sigs, source_key: Some(s.source_key), source_sig: Some(s.source_sig) };
            Some(serde_json::to_value(c).expect("answers serialise"))
        })
    };
    Ok(match op {
        Operation::Query { registry: r, subjects, fields, request_id } => {
            let r = registry(&r)?;
            let result = carried(sim.query(r, &subjects, &fields, &request_id));
            (r.as_str().to_string(), r, subjects, result)
        }
        Operation::List { procedure, page, request_id } => ("lists".into(), RegistryId::IshAsMr, vec![], inner(sim.list_page(procedure, page, &request_id))),
        Operation::Decisions { procedure, subjects, request_id } => {
            let result = inner(sim.decisions(procedure, &subjects, &request_id));
            ("decisions".into(), RegistryId::IshAsMr, vec![], result)
        }
        Operation::Reinstate { reinstatement, request_id } => {
            let subjects = vec![reinstatement.iin.clone()];
            ("reinstatements".into(), RegistryId::IshAsMr, subjects, carried(sim.reinstate(&reinstatement, &request_id)))
        }
        Operation::Corrections { registry: r, appeal, subjects } => {
            let r = registry(&r)?;
            let mine = |all: Vec<SignedAnswer>| all.into_iter().find(|s| s.answer["registry"] == r.as_str());
            let result = sim.corrections(&appeal, &subjects).map(mine).map(|s| s.and_then(|s| carried(Ok(s)).ok().flatten()));
            ("corrections".into(), r, vec![], result)
        }
        Operation::Notice { notice, iin, attempt } => {
            let result =
                sim.deliver(&notice, &iin, attempt).map(|receipt| Some(json!({"receipt": receipt}))).map_err(|e| RegistryFault::Unavailable(e.to_string()));
            ("notices".into(), RegistryId::IshAsMr, vec![], result)
        }
    })
}

async fn handle(State(s): State<SimState>, body: String) -> Response {
    let request = match envelope::read_request(&body) {
        Ok(r) => r,
        Err(e) => return soap_fault("Client", &e.to_string()),
    };
    let op = match Operation::deserialize(&request.data) {
        Ok(op) => op,
        Err(e) => return soap_fault("Client", &format!("requestData: {e}")),
    };
    let (source, registry, subjects, result) = match answer(&s.sim, op) {
        Ok(a) => a,
        Err(e) => return soap_fault("Client", &e.to_string()),
    };
    let fault = s.sim.source.fault(registry, &subjects);
    let mut info = ResponseInfo {
        message_id: message_id(),
        correlation_id: request.info.message_id.clone(),
        service_id: request.info.service_id.clone(),
        response_date: chrono::Utc::now().to_rfc3339(),
        status_code: envelope::SUCCESS.into(),
        status_message: "ok".into(),
    };
    let data = match (fault, result) {
        (Some(FaultKind::SoapFault), _) => return soap_fault("Server", &format!("service {} is not reachable", request.info.service_id)),
        (_, Err(RegistryFault::Timeout(_))) => {
            tokio::time::sleep(s.stall).await;
            return (StatusCode::GATEWAY_TIMEOUT, "too late").into_response();
        }
        (Some(FaultKind::ErrorStatus), _) => {
            (info.status_code, info.status_message) = ("ESBS0001".into(), format!("the source system of {source} answered with an error"));
            None
        }
        (_, Err(e)) => {
            (info.status_code, info.status_message) = ("ESBS0002".into(), e.to_string());
            None
        }
        (_, Ok(data)) => data,
    };
    if fault == Some(FaultKind::OtherCorrelation) {
        info.correlation_id = message_id();
    }
    let Some(signer) = s.signers.of(&source) else { return soap_fault("Server", &format!("no certificate to sign {source}'s answers with")) };
    let signed = match signer.sign(&envelope::response_body(&info, data.as_ref())) {
        Ok(x) => x,
        Err(e) => return soap_fault("Server", &e.to_string()),
    };
    let signed = match fault {
        // A byte of the signed Body changed after signing.
        Some(FaultKind::BadSignature) => signed.replacen("<status><code>", "<status> <code>", 1),
        Some(FaultKind::WrappedSignature) => wrap(&signed),
        _ => signed,
    };
    (StatusCode::OK, [("content-type", "text/xml; charset=utf-8")], signed).into_response()
}

/// The classic wrapping attack: the signed Body moved into a wrapper in the Header, a forged
/// Body (another status message) in its place.
fn wrap(signed: &str) -> String {
    let (Some(start), Some(end)) = (signed.find("<soap:Body"), signed.find("</soap:Body>")) else { return signed.to_string() };
    let body = &signed[start..end + "</soap:Body>".len()];
    let forged = body.replacen("<message>", "<message>forged ", 1);
    signed.replacen(body, &forged, 1).replacen("<soap:Header>", &format!("<soap:Header><Wrapper>{body}</Wrapper>"), 1)
}
