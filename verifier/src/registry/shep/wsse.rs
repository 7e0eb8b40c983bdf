//! WS-Security XML signatures of the government gateway (ШЭП), checked on the exact bytes of
//! a response (`docs/sources.md`, "The government gateway"): one `ds:Signature` in
//! `soap:Header/wsse:Security` over the envelope's own `soap:Body`, referenced by its `wsu:Id`,
//! exclusive canonicalisation, RSA-SHA256 or ECDSA-P256-SHA256, the signer's certificate from a
//! `BinarySecurityToken` or an X509v3 key identifier.
//!
//! The XML-DSig arithmetic (canonicalisation, digests, the signature) is `bergshamra`'s, a
//! maintained pure-Rust XML-security library on RustCrypto (no libxml2, no FFI). Its own
//! anti-wrapping rule ("the signed element is an ancestor or a sibling of the signature") does
//! not fit WS-Security, where the Body is a cousin of the signature, so the envelope's shape is
//! checked here first, strictly: a wrapped signature, a second Body or a duplicate id is refused
//! before any digest is computed, and the reference bergshamra resolved must be that same Body.
//! The certificate's chain and revocation are the trust list's (`registry::trust`), not checked
//! here.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use uppsala::{Document, NodeId};

pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const WSSE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const WSU: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub const X509V3: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
pub const X509_SKI: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier";
pub const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Why a gateway response's signature was refused. Each names what is wrong, for the
/// `RegistryFailed` event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsseError {
    #[error("the response is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the response holds a DOCTYPE: refused (no DTDs or entities in a SOAP message)")]
    Doctype,
    #[error("the envelope's shape is refused: {0}")]
    Shape(String),
    #[error("signature wrapping refused: {0}")]
    Wrapping(String),
    #[error("the signature uses {0}: GOST is refused, no open implementation is available here")]
    Gost(String),
    #[error("the signature uses {0}, not one of rsa-sha256 or ecdsa-sha256 with sha256 digests and exclusive canonicalisation")]
    Algorithm(String),
    #[error("the signer's certificate: {0}")]
    Certificate(String),
    #[error("the signature does not verify: {0}")]
    Invalid(String),
}

/// What a verified signature says: who signed, with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's certificate, DER.
    pub signer: Vec<u8>,
    /// `rsa-sha256` or `ecdsa-sha256`.
    pub alg: &'static str,
}

fn is(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> bool {
    doc.element(node).is_some_and(|e| e.name.matches(Some(ns), local))
}

fn child_elements(doc: &Document<'_>, node: NodeId) -> Vec<NodeId> {
    doc.children(node).into_iter().filter(|c| doc.element(*c).is_some()).collect()
}

/// The one child of `node` named `ns:local`; refused if there is none or more than one.
fn only_child(doc: &Document<'_>, node: NodeId, ns: &str, local: &str, what: &str) -> Result<NodeId, WsseError> {
    let found: Vec<NodeId> = child_elements(doc, node).into_iter().filter(|c| is(doc, *c, ns, local)).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(WsseError::Shape(format!("{what} is missing"))),
        _ => Err(WsseError::Wrapping(format!("{} {what} elements where one is allowed", found.len()))),
    }
}

fn everywhere(doc: &Document<'_>, ns: &str, local: &str) -> Vec<NodeId> {
    doc.descendants(doc.root()).into_iter().filter(|n| is(doc, *n, ns, local)).collect()
}

fn attr<'d>(doc: &'d Document<'_>, node: NodeId, local: &str) -> Option<&'d str> {
    doc.element(node).and_then(|e| e.get_attribute(local))
}

/// Every element carrying an id (`wsu:Id`, `Id`, `ID` or `id`, by local name as XML-DSig
/// resolvers find them) with the value `id`.
fn holders_of(doc: &Document<'_>, id: &str) -> Vec<NodeId> {
    doc.descendants(doc.root())
        .into_iter()
        .filter(|n| doc.element(*n).is_some_and(|e| e.attributes.iter().any(|a| ["Id", "ID", "id"].contains(&&*a.name.local_name) && a.value == id)))
        .collect()
}

/// The algorithm URI of `node`'s one `ds:<local>` child.
fn algorithm(doc: &Document<'_>, node: NodeId, local: &str) -> Result<String, WsseError> {
    let m = only_child(doc, node, DS, local, &format!("ds:{local}"))?;
    attr(doc, m, "Algorithm").map(str::to_string).ok_or_else(|| WsseError::Shape(format!("ds:{local} names no Algorithm")))
}

fn refuse_gost(uri: &str) -> Result<(), WsseError> {
    if uri.to_ascii_lowercase().contains("gost") {
        return Err(WsseError::Gost(uri.to_string()));
    }
    Ok(())
}

/// The parsed envelope and the nodes that matter, once its shape is accepted.
struct Shape {
    body: NodeId,
    signature: NodeId,
    alg: &'static str,
    signer: Vec<u8>,
}

/// Checks the envelope's shape: one Header with one `wsse:Security` holding the document's
/// only `ds:Signature`; one Body, the envelope's own; one reference, to that Body's id, held by
/// no other element; the algorithms; and finds the signer's certificate.
fn shape(doc: &Document<'_>, known: &[Vec<u8>]) -> Result<Shape, WsseError> {
    let envelope = doc.document_element().ok_or_else(|| WsseError::Shape("no document element".into()))?;
    if !is(doc, envelope, SOAP11, "Envelope") {
        return Err(WsseError::Shape("the document element is not a SOAP 1.1 Envelope".into()));
    }
    let bodies = everywhere(doc, SOAP11, "Body");
    if bodies.len() != 1 {
        return Err(WsseError::Wrapping(format!("{} soap:Body elements in the document where one is allowed", bodies.len())));
    }
    let parts = child_elements(doc, envelope);
    let body = bodies[0];
    let header = only_child(doc, envelope, SOAP11, "Header", "soap:Header")?;
    if parts != [header, body] {
        return Err(WsseError::Wrapping("the Envelope must hold exactly its Header then its own Body".into()));
    }
    let security = only_child(doc, header, WSSE, "Security", "wsse:Security")?;
    let signatures = everywhere(doc, DS, "Signature");
    let signature = only_child(doc, security, DS, "Signature", "ds:Signature in wsse:Security")?;
    if signatures != [signature] {
        return Err(WsseError::Wrapping(format!("{} ds:Signature elements in the document where one is allowed", signatures.len())));
    }
    let signed_info = only_child(doc, signature, DS, "SignedInfo", "ds:SignedInfo")?;
    let c14n = algorithm(doc, signed_info, "CanonicalizationMethod")?;
    let method = algorithm(doc, signed_info, "SignatureMethod")?;
    refuse_gost(&method)?;
    let reference = only_child(doc, signed_info, DS, "Reference", "ds:Reference")?;
    let digest = algorithm(doc, reference, "DigestMethod")?;
    refuse_gost(&digest)?;
    let transforms: Vec<String> = match child_elements(doc, reference).into_iter().find(|c| is(doc, *c, DS, "Transforms")) {
        Some(t) => child_elements(doc, t).into_iter().map(|x| attr(doc, x, "Algorithm").unwrap_or_default().to_string()).collect(),
        None => Vec::new(),
    };
    if c14n != EXC_C14N || digest != SHA256 || transforms.iter().any(|t| t != EXC_C14N) {
        return Err(WsseError::Algorithm(format!("canonicalisation {c14n}, digest {digest}, transforms {transforms:?}")));
    }
    let alg = match method.as_str() {
        RSA_SHA256 => "rsa-sha256",
        ECDSA_SHA256 => "ecdsa-sha256",
        other => return Err(WsseError::Algorithm(other.to_string())),
    };
    let uri = attr(doc, reference, "URI").unwrap_or_default();
    let id =
        uri.strip_prefix('#').filter(|i| !i.is_empty()).ok_or_else(|| WsseError::Wrapping(format!("the reference {uri:?} is not to an id in the envelope")))?;
    let holders = holders_of(doc, id);
    match holders.as_slice() {
        [one] if *one == body => {}
        [_] => return Err(WsseError::Wrapping(format!("the signed id {id:?} is not the envelope's own soap:Body"))),
        [] => return Err(WsseError::Wrapping(format!("no element holds the signed id {id:?}"))),
        _ => return Err(WsseError::Wrapping(format!("{} elements hold the id {id:?}", holders.len()))),
    }
    if attr(doc, body, "Id") != Some(id) {
        return Err(WsseError::Wrapping("the Body is not signed by its wsu:Id".into()));
    }
    let signer = signer(doc, security, signature, known)?;
    Ok(Shape { body, signature, alg, signer })
}

/// The signer's certificate: `ds:KeyInfo/wsse:SecurityTokenReference` names either a
/// `wsse:BinarySecurityToken` of the same `wsse:Security` by its id (X509v3, base64), or a
/// certificate by its subject key identifier, which must be one of `known`.
fn signer(doc: &Document<'_>, security: NodeId, signature: NodeId, known: &[Vec<u8>]) -> Result<Vec<u8>, WsseError> {
    let key_info = only_child(doc, signature, DS, "KeyInfo", "ds:KeyInfo")?;
    let str_ = only_child(doc, key_info, WSSE, "SecurityTokenReference", "wsse:SecurityTokenReference")?;
    let cert = |why: String| WsseError::Certificate(why);
    if let Some(r) = child_elements(doc, str_).into_iter().find(|c| is(doc, *c, WSSE, "Reference")) {
        let uri = attr(doc, r, "URI").unwrap_or_default();
        let id = uri.strip_prefix('#').ok_or_else(|| cert(format!("the token reference {uri:?} is not to an id in the envelope")))?;
        let holders = holders_of(doc, id);
        let [token] = holders.as_slice() else {
            return Err(WsseError::Wrapping(format!("{} elements hold the token id {id:?}", holders.len())));
        };
        if !is(doc, *token, WSSE, "BinarySecurityToken") || doc.parent(*token) != Some(security) {
            return Err(WsseError::Wrapping("the token reference is not to a BinarySecurityToken of this wsse:Security".into()));
        }
        if attr(doc, *token, "ValueType") != Some(X509V3) {
            return Err(cert(format!("the token's ValueType is {:?}, not X509v3", attr(doc, *token, "ValueType").unwrap_or_default())));
        }
        let text: String = doc.text_content_deep(*token).split_whitespace().collect();
        return B64.decode(text).map_err(|e| cert(format!("the BinarySecurityToken is not base64: {e}")));
    }
    let ki = only_child(doc, str_, WSSE, "KeyIdentifier", "wsse:Reference or wsse:KeyIdentifier")?;
    if attr(doc, ki, "ValueType") != Some(X509_SKI) {
        return Err(cert(format!("the KeyIdentifier's ValueType is {:?}, not X509SubjectKeyIdentifier", attr(doc, ki, "ValueType").unwrap_or_default())));
    }
    let text: String = doc.text_content_deep(ki).split_whitespace().collect();
    let ski = B64.decode(text).map_err(|e| cert(format!("the KeyIdentifier is not base64: {e}")))?;
    known
        .iter()
        .find(|der| subject_key_id(der).as_deref() == Some(ski.as_slice()))
        .cloned()
        .ok_or_else(|| cert(format!("no configured gateway certificate has the subject key identifier {}", hex::encode(&ski))))
}

/// A certificate's subject key identifier extension, if it has one.
pub fn subject_key_id(der: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    use x509_cert::ext::pkix::SubjectKeyIdentifier;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    const ID_CE_SUBJECT_KEY_IDENTIFIER: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.14");
    let ext = cert.tbs_certificate.extensions?.into_iter().find(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)?;
    SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes()).ok().map(|s| s.0.as_bytes().to_vec())
}

/// A response's text and its parsed document.
fn document(response: &[u8]) -> Result<(&str, Document<'_>), WsseError> {
    let text = std::str::from_utf8(response).map_err(|e| WsseError::NotXml(format!("not UTF-8: {e}")))?;
    let doc = super::parse(text).map_err(|e| match e {
        super::Unparsed::Doctype => WsseError::Doctype,
        super::Unparsed::NotXml(e) => WsseError::NotXml(e),
    })?;
    Ok((text, doc))
}

/// The signer's certificate, the `SignatureValue` text and the algorithm a response names,
/// once its shape is accepted; the signature is not checked here ([`verify`] does). `known`:
/// the certificates an X509v3 key identifier may name.
pub fn signer_of(response: &[u8], known: &[Vec<u8>]) -> Result<(Vec<u8>, String, &'static str), WsseError> {
    let (_, doc) = document(response)?;
    let shape = shape(&doc, known)?;
    let value =
        child_elements(&doc, shape.signature).into_iter().find(|c| is(&doc, *c, DS, "SignatureValue")).map(|v| doc.text_content_deep(v)).unwrap_or_default();
    Ok((shape.signer, value.split_whitespace().collect(), shape.alg))
}

/// Checks the WS-Security signature of a gateway response, given as the exact bytes received.
/// `known`: certificates (DER) an X509v3 key identifier may name. The signer's certificate is
/// returned for the trust list to judge; nothing else in the document is trusted for the key.
pub fn verify(response: &[u8], known: &[Vec<u8>]) -> Result<Verified, WsseError> {
    let (text, doc) = document(response)?;
    let shape = shape(&doc, known)?;
    let key = bergshamra_keys::loader::load_x509_cert_der(&shape.signer).map_err(|e| WsseError::Certificate(e.to_string()))?;
    let mut keys = bergshamra_keys::KeysManager::new();
    keys.add_key(key);
    // Only the key found above; certificate checks are the trust list's. Positions were checked
    // in `shape`, more strictly than bergshamra's generic rule, which would refuse a Body.
    let ctx = bergshamra_dsig::DsigContext::new(keys).with_strict_verification(false).with_insecure(true);
    match bergshamra_dsig::verify::verify_document_with_source(&ctx, &doc, Some(text)) {
        Ok(bergshamra_dsig::verify::VerifyResult::Valid { signature_node, references, .. }) => {
            let covered: Vec<Option<NodeId>> = references.iter().map(|r| r.resolved_node).collect();
            if signature_node != shape.signature || covered != [Some(shape.body)] || !references.iter().all(|r| r.digest_verified) {
                return Err(WsseError::Wrapping("the verified signature does not cover exactly the envelope's own Body".into()));
            }
            Ok(Verified { signer: shape.signer, alg: shape.alg })
        }
        Ok(bergshamra_dsig::verify::VerifyResult::Invalid { reason }) => Err(WsseError::Invalid(reason)),
        Err(e) => Err(WsseError::Invalid(e.to_string())),
    }
}

/// How a signed envelope names its signer's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyReference {
    /// A `wsse:BinarySecurityToken` carrying the certificate, referenced by its id.
    Token,
    /// The certificate's subject key identifier alone (the receiver must have it).
    SubjectKeyId,
}

/// Why an envelope could not be signed as the gateway signs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the certificate has no subject key identifier")]
    NoSubjectKeyId,
    #[error("the signing key: {0}")]
    Key(String),
    #[error("the signing key is {0}, not RSA or P-256")]
    KeyKind(String),
    #[error("signing the envelope: {0}")]
    Signing(String),
}

/// A response envelope ready to sign: `body` (the children of `soap:Body`, XML text) in a Body
/// with `wsu:Id` `body_id`, and in `wsse:Security` a signature template (`method`, an
/// algorithm URI) whose digest and value are empty, naming the certificate `cert_der` as
/// `reference` says. Any XML-DSig signer fills it in (`xmlsec1 --sign` does).
pub fn template(body: &str, body_id: &str, method: &str, cert_der: &[u8], reference: KeyReference) -> Result<String, SignError> {
    let (token, key_ref) = match reference {
        KeyReference::Token => (
            format!(
                r#"<wsse:BinarySecurityToken wsu:Id="X509-{body_id}" EncodingType="{BASE64_BINARY}" ValueType="{X509V3}">{}</wsse:BinarySecurityToken>"#,
                B64.encode(cert_der)
            ),
            format!(r##"<wsse:Reference URI="#X509-{body_id}" ValueType="{X509V3}"/>"##),
        ),
        KeyReference::SubjectKeyId => {
            let ski = subject_key_id(cert_der).ok_or(SignError::NoSubjectKeyId)?;
            (String::new(), format!(r#"<wsse:KeyIdentifier EncodingType="{BASE64_BINARY}" ValueType="{X509_SKI}">{}</wsse:KeyIdentifier>"#, B64.encode(ski)))
        }
    };
    Ok(format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="{SOAP11}" xmlns:wsu="{WSU}"><soap:Header><wsse:Security xmlns:wsse="{WSSE}" soap:mustUnderstand="1">{token}<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{body_id}"><ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><wsse:SecurityTokenReference>{key_ref}</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security></soap:Header><soap:Body wsu:Id="{body_id}">{body}</soap:Body></soap:Envelope>
"##
    ))
}

/// Signs a response as the gateway does (see [`template`]) with `key_pem`, an RSA or P-256
/// private key in PEM whose certificate is `cert_der`. What the simulator answers with.
pub fn sign(body: &str, body_id: &str, key_pem: &str, cert_der: &[u8], reference: KeyReference) -> Result<String, SignError> {
    let key = bergshamra_keys::loader::load_pem_auto(key_pem.as_bytes(), None).map_err(|e| SignError::Key(e.to_string()))?;
    let method = match key.algorithm_name() {
        "RSA" => RSA_SHA256,
        "EC-P256" => ECDSA_SHA256,
        other => return Err(SignError::KeyKind(other.into())),
    };
    let template = template(body, body_id, method, cert_der, reference)?;
    let mut keys = bergshamra_keys::KeysManager::new();
    keys.add_key(key);
    bergshamra_dsig::sign::sign(&bergshamra_dsig::DsigContext::new(keys), &template).map_err(|e| SignError::Signing(e.to_string()))
}
