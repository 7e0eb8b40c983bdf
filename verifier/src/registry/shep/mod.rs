//! The registries as the state really reaches them: the e-government gateway's (ШЭП) SOAP
//! synchronous channel, its responses signed with WS-Security (`docs/sources.md`, "The
//! government gateway"). `envelope` writes and reads the messages, `wsse` checks and makes
//! their signatures, `json_xml` carries our data in them.

pub mod envelope;
pub mod json_xml;
pub mod wsse;

use super::SignedAnswer;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `source_sig_format` of an answer that came in a gateway envelope.
pub const WS_SECURITY: &str = "ws-security";

/// What a successful response's `data` carries: the answer, and the items its source signed
/// on their own (a list page's entries, decisions), as over `http:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carried {
    pub answer: Value,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub item_sigs: BTreeMap<String, String>,
    /// ИШ АС МР's own Ed25519 signature over a many-person answer (a list page, decisions),
    /// which the ledger keeps instead of the envelope: the envelope holds every listed person's
    /// data, and one person's erasure could not take his part out of it (issue 32). Each
    /// person's own evidence is his item signature, as over `http:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sig: Option<String>,
}

impl Carried {
    /// What a response's `data` carries (`None`: the response had no `responseData`).
    pub fn of(data: Option<Value>) -> Result<Self, DocumentError> {
        let data = data.ok_or(DocumentError::NoData)?;
        Carried::deserialize(data).map_err(DocumentError::Data)
    }
}

/// Why a gateway response, or the document kept with a recorded answer, does not carry that
/// answer under a valid signature.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the response carries no responseData")]
    NoData,
    #[error("the response's data: {0}")]
    Data(serde_json::Error),
    #[error("{0}")]
    Der(#[from] der::Error),
    #[error("{0}")]
    Signature(#[from] wsse::WsseError),
    #[error("the envelope is signed by another certificate than source_chain's first")]
    OtherSigner,
    #[error("{0}")]
    NotUtf8(#[from] std::str::Utf8Error),
    #[error("{0}")]
    Envelope(#[from] envelope::EnvelopeError),
    #[error("the gateway's status is {code} ({message}), not {success}", success = envelope::SUCCESS)]
    Status { code: String, message: String },
    #[error("a ws-security answer carries no source_document")]
    NoDocument,
    #[error("source_document is not base64")]
    DocumentNotBase64,
    #[error("the envelope is signed with {alg}, the answer says {said:?}")]
    Algorithm { alg: &'static str, said: Option<String> },
    #[error("the answer recorded is not the one the signed envelope carries")]
    OtherAnswer,
    #[error("the item signatures recorded are not the ones the signed envelope carries")]
    OtherItemSignatures,
}

/// Why a gateway message was not parsed.
pub(crate) enum Unparsed {
    /// It holds a DOCTYPE: no DTDs or entities in a SOAP message.
    Doctype,
    NotXml(String),
}

/// A gateway message parsed, a DOCTYPE refused before the parser sees it.
pub(crate) fn parse(text: &str) -> Result<uppsala::Document<'_>, Unparsed> {
    if text.contains("<!DOCTYPE") || text.contains("<!doctype") {
        return Err(Unparsed::Doctype);
    }
    uppsala::parse(text).map_err(|e| Unparsed::NotXml(e.to_string()))
}

/// The algorithm of a gateway signature as `source_sig_alg` names it.
pub fn sig_alg(wsse_alg: &str) -> &'static str {
    match wsse_alg {
        "rsa-sha256" => "rsa-pkcs1-sha256",
        _ => "ecdsa-p256-sha256",
    }
}

/// The answer a gateway response carries, checked: the WS-Security signature on the exact
/// bytes, its signer `chain[0]`, the status a success, and its `data`. Certificates of the
/// chain are those an X509v3 key identifier may name.
pub fn carried(document: &[u8], chain: &[x509_cert::Certificate]) -> Result<(Carried, &'static str), DocumentError> {
    use der::Encode;
    let known: Vec<Vec<u8>> = chain.iter().map(|c| c.to_der()).collect::<Result<_, _>>()?;
    let verified = wsse::verify(document, &known)?;
    if known.first() != Some(&verified.signer) {
        return Err(DocumentError::OtherSigner);
    }
    let text = std::str::from_utf8(document)?;
    let response = envelope::read_response(text)?;
    if response.info.status_code != envelope::SUCCESS {
        return Err(DocumentError::Status { code: response.info.status_code, message: response.info.status_message });
    }
    Ok((Carried::of(response.data)?, sig_alg(verified.alg)))
}

/// Checks a recorded gateway answer against the document kept with it: the envelope verifies
/// (see [`carried`]) and carries exactly the answer and item signatures recorded.
pub fn check_document(signed: &SignedAnswer, chain: &[x509_cert::Certificate]) -> Result<(), DocumentError> {
    let document = B64.decode(signed.source_document.as_deref().ok_or(DocumentError::NoDocument)?).map_err(|_| DocumentError::DocumentNotBase64)?;
    let (carried, alg) = carried(&document, chain)?;
    if signed.source_sig_alg.as_deref() != Some(alg) {
        return Err(DocumentError::Algorithm { alg, said: signed.source_sig_alg.clone() });
    }
    if carried.answer != signed.answer {
        return Err(DocumentError::OtherAnswer);
    }
    if carried.item_sigs != signed.item_sigs {
        return Err(DocumentError::OtherItemSignatures);
    }
    Ok(())
}
