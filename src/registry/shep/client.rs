//! The gateway adapter behind the `Registries` trait (`--registries shep:URL`): each question
//! is a `SendMessage` to the service configured for it; each response is bound to its request
//! (`correlationId`, `serviceId`, a `responseDate` within the window) and kept as the exact bytes
//! received, which `check_answer` then verifies (signature, chain, revocation) like any answer.
//! The sender's password and session id go into the request and nowhere else.

use super::envelope::{self, RequestInfo, Sender};
use super::{message_id, Carried, WS_SECURITY};
use crate::registry::http::HttpSettings;
use crate::registry::{Registries, RegistryFault, Reinstatement, SignedAnswer};
use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The gateway's services for what we ask, unless configured otherwise (`--shep-service
/// NAME=SERVICE_ID`): one per registry, and ИШ АС МР's list, decisions, reinstatements,
/// corrections and notices. The real identifiers are the operator's to configure.
fn default_services() -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> =
        RegistryId::ALL.iter().map(|r| (r.as_str().to_string(), format!("HOUSING_{}_Sync", r.as_str().to_uppercase()))).collect();
    m.insert(RegistryId::GbdFl.as_str().into(), "GBDFL_UniversalServiceSync".into());
    for op in ["lists", "decisions", "reinstatements", "corrections", "notices"] {
        m.insert(op.into(), format!("ISH_AS_MR_{}_Sync", op.to_uppercase()));
    }
    m
}

/// How the adapter reaches the gateway.
#[derive(Clone, Debug)]
pub struct ShepSettings {
    pub http: HttpSettings,
    pub sender: Sender,
    /// Service ids by what they answer (see [`default_services`]).
    pub services: BTreeMap<String, String>,
    /// How far a `responseDate` may lie from the time of receipt.
    pub window: Duration,
    /// The gateway's certificates (DER), for responses that name their signer by its subject
    /// key identifier only rather than carrying it (`HOUSING_LEDGER_SHEP_CERTS`).
    pub certificates: Vec<Vec<u8>>,
}

impl ShepSettings {
    pub fn new(sender: Sender) -> Self {
        Self { http: HttpSettings::default(), sender, services: default_services(), window: Duration::from_secs(300), certificates: Vec::new() }
    }

    /// Adds `NAME=SERVICE_ID` settings.
    pub fn with_services(mut self, settings: &[String]) -> Result<Self, crate::registry::SettingError> {
        use crate::registry::SettingError;
        for s in settings {
            let (name, id) = s.split_once('=').ok_or_else(|| SettingError::Form { option: "--shep-service", form: "NAME=SERVICE_ID", given: s.clone() })?;
            if !self.services.contains_key(name.trim()) {
                let known = self.services.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(SettingError::UnknownName { option: "--shep-service", name: name.into(), known });
            }
            self.services.insert(name.trim().to_string(), id.trim().to_string());
        }
        Ok(self)
    }
}

pub struct ShepRegistries {
    url: String,
    client: reqwest::Client,
    settings: ShepSettings,
    simulator: bool,
}

impl ShepRegistries {
    pub fn new(url: &str, settings: ShepSettings) -> Self {
        let client = reqwest::Client::builder().timeout(settings.http.deadline).build().expect("HTTP client builds");
        Self { url: url.to_string(), client, settings, simulator: false }
    }

    /// Declares the other end the simulator (`registry-sim --shep`), not the live gateway.
    pub fn simulator(mut self) -> Self {
        self.simulator = true;
        self
    }

    /// One exchange: the response's bytes, once bound to the request; faults as decision 6 has
    /// them. Nothing here quotes the request (it holds the password).
    async fn exchange(&self, source: &str, data: &Value) -> Result<(Vec<u8>, envelope::Response), RegistryFault> {
        let service = self.settings.services.get(source).cloned().unwrap_or_else(|| source.to_string());
        let info = RequestInfo { message_id: message_id(), service_id: service.clone(), message_date: chrono::Utc::now().to_rfc3339() };
        let body = envelope::request(&info, &self.settings.sender, data);
        let url = &self.url;
        let resp =
            self.client.post(url).header("content-type", "text/xml; charset=utf-8").header("SOAPAction", "\"\"").body(body).send().await.map_err(|e| {
                if e.is_timeout() {
                    RegistryFault::Timeout(format!("no answer from the gateway at {url} within {:?}", self.settings.http.deadline))
                } else {
                    RegistryFault::Unavailable(format!("the gateway at {url}: {}", e.without_url()))
                }
            })?;
        let status = resp.status();
        let max = self.settings.http.limits.of(source);
        let bytes = crate::bounded::read(resp, max).await.map_err(|e| match e {
            crate::bounded::BodyError::TooLarge { max } => {
                RegistryFault::Malformed(format!("the gateway's response is larger than {max} bytes, the limit for {source}"))
            }
            crate::bounded::BodyError::Read(e) if e.is_timeout() => {
                RegistryFault::Timeout("the gateway's response was not received within the deadline".into())
            }
            crate::bounded::BodyError::Read(e) => RegistryFault::Unavailable(e.without_url().to_string()),
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| RegistryFault::Malformed(format!("the gateway's response (HTTP {status}) is not UTF-8")))?;
        let response = envelope::read_response(text).map_err(|e| match e {
            envelope::EnvelopeError::Fault { .. } => RegistryFault::Unavailable(format!("service {service}: {e}")),
            envelope::EnvelopeError::Shape(_) => RegistryFault::Malformed(format!("service {service} (HTTP {status}): {e}")),
        })?;
        let got = &response.info;
        if got.status_code != envelope::SUCCESS {
            return Err(RegistryFault::Unavailable(format!("service {service} answered status {}: {}", got.status_code, got.status_message)));
        }
        if got.correlation_id != info.message_id {
            return Err(RegistryFault::Malformed(format!(
                "a response to another request: correlationId {:?}, the request was {:?}",
                got.correlation_id, info.message_id
            )));
        }
        if got.service_id != service {
            return Err(RegistryFault::Malformed(format!("a response from service {:?}, the request was to {service:?}", got.service_id)));
        }
        let at = chrono::DateTime::parse_from_rfc3339(&got.response_date)
            .map_err(|e| RegistryFault::Malformed(format!("responseDate {:?}: {e}", got.response_date)))?;
        let off = (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).abs();
        if off.to_std().unwrap_or(Duration::MAX) > self.settings.window {
            return Err(RegistryFault::Malformed(format!(
                "responseDate {} lies {}s from now, outside the {:?} window",
                got.response_date,
                off.num_seconds(),
                self.settings.window
            )));
        }
        Ok((bytes, response))
    }

    /// An answer: the exchange, its data read as an answer, the document kept whole.
    async fn answer(&self, source: &str, data: Value) -> Result<SignedAnswer, RegistryFault> {
        let (bytes, response) = self.exchange(source, &data).await?;
        signed(&bytes, Carried::of(response.data).map_err(|e| RegistryFault::Malformed(e.to_string()))?, &self.settings.certificates)
    }
}

/// A signed answer of the gateway's: the certificate its signature names, the document whole.
/// The signature itself is checked with the rest, by `check_answer`.
fn signed(bytes: &[u8], carried: Carried, known: &[Vec<u8>]) -> Result<SignedAnswer, RegistryFault> {
    let (signer, value, alg) = super::wsse::signer_of(bytes, known).map_err(|e| RegistryFault::BadSignature(e.to_string()))?;
    let subject = <x509_cert::Certificate as der::Decode>::from_der(&signer).map(|c| crate::pki::subject(&c)).unwrap_or_default();
    Ok(SignedAnswer {
        answer: carried.answer,
        source_key: format!("x509:{subject}"),
        source_sig: value,
        source_sig_alg: Some(super::sig_alg(alg).into()),
        source_chain: Some(vec![B64.encode(&signer)]),
        source_revocation: None,
        source_sig_format: Some(WS_SECURITY.into()),
        source_document: Some(B64.encode(bytes)),
        item_sigs: carried.item_sigs,
    })
}

/// A many-person answer (a list page, decisions): the envelope's signature checked on receipt,
/// then the answer as its source signed it inside, which is what the ledger keeps (see
/// [`Carried::source_sig`]).
async fn many_person(this: &ShepRegistries, source: &str, data: Value) -> Result<SignedAnswer, RegistryFault> {
    let (bytes, response) = this.exchange(source, &data).await?;
    super::wsse::verify(&bytes, &this.settings.certificates).map_err(|e| RegistryFault::BadSignature(format!("{source}: {e}")))?;
    let c = Carried::of(response.data).map_err(|e| RegistryFault::Malformed(e.to_string()))?;
    let (Some(source_key), Some(source_sig)) = (c.source_key, c.source_sig) else {
        return Err(RegistryFault::Malformed(format!("{source}: a many-person answer must carry its source's own signature")));
    };
    Ok(SignedAnswer { answer: c.answer, source_key, source_sig, item_sigs: c.item_sigs, ..SignedAnswer::default() })
}

#[async_trait]
impl Registries for ShepRegistries {
    async fn list_page(&self, procedure: Procedure, page: u64, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        many_person(self, "lists", json!({"operation": "list", "procedure": procedure, "page": page, "request_id": request_id})).await
    }

    async fn query(&self, registry: RegistryId, subjects: &[String], fields: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let data = json!({"operation": "query", "registry": registry.as_str(), "subjects": subjects, "fields": fields, "request_id": request_id});
        self.answer(registry.as_str(), data).await
    }

    async fn decisions(&self, procedure: Procedure, iins: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        many_person(self, "decisions", json!({"operation": "decisions", "procedure": procedure, "subjects": iins, "request_id": request_id})).await
    }

    async fn reinstate(&self, r: &Reinstatement, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        self.answer("reinstatements", json!({"operation": "reinstate", "reinstatement": r, "request_id": request_id})).await
    }

    /// One request per registry (each answer is one signed document), to `<appeal>/<registry>`.
    async fn corrections(&self, appeal: &str, subjects: &[String]) -> Result<Vec<SignedAnswer>, RegistryFault> {
        let mut out = Vec::new();
        for registry in RegistryId::ALL {
            let data = json!({"operation": "corrections", "registry": registry.as_str(), "appeal": appeal, "subjects": subjects});
            let (bytes, response) = self.exchange("corrections", &data).await?;
            // No correction from this registry: a success without data.
            if response.data.is_some() {
                let carried = Carried::of(response.data).map_err(|e| RegistryFault::Malformed(e.to_string()))?;
                out.push(signed(&bytes, carried, &self.settings.certificates)?);
            }
        }
        Ok(out)
    }

    async fn deliver(&self, notice: &str, iin: &str, attempt: u32) -> Result<String, crate::registry::DeliveryFault> {
        let data = json!({"operation": "notice", "notice": notice, "iin": iin, "attempt": attempt});
        let (_, response) = self.exchange("notices", &data).await.map_err(|e| crate::registry::DeliveryFault::Unreachable(e.to_string()))?;
        let receipt = response.data.as_ref().and_then(|d| d["receipt"].as_str()).unwrap_or("delivered");
        Ok(crate::bounded::for_ledger(receipt))
    }

    fn describe(&self) -> String {
        format!("shep:{}", self.url)
    }

    fn is_live(&self) -> bool {
        !self.simulator
    }
}
