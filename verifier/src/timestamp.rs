//! RFC 3161 time-stamps of checkpoints (issue 16, §3): a time-stamping authority fixes when a
//! state of the log existed. The message imprint is SHA-256 of the checkpoint body (the note
//! text up to and including the blank line); the token (DER) is kept with the checkpoint and
//! carried in bundles as `timestamp`.
//!
//! Everything ASN.1 is RustCrypto's (`x509-tsp`, `cms`, `x509-cert`, `der`); signatures are
//! ECDSA P-256 (`p256`) or RSA PKCS#1 v1.5 (`rsa`), with SHA-256. A token signed otherwise is
//! refused, naming the algorithm.

use crate::pki::{verify_signature, ID_CE_EXT_KEY_USAGE, ID_SHA256};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion, TstInfo};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// Why a time-stamp token does not check against its checkpoint and the TSA's certificates.
#[derive(Debug, thiserror::Error)]
pub enum StampFault {
    #[error("--tsa-cert: {0}")]
    AnchorPem(der::Error),
    #[error("{what}: {error}")]
    Malformed { what: &'static str, error: der::Error },
    #[error("{0}")]
    Der(#[from] der::Error),
    #[error("the token is {0}, not SignedData")]
    NotSignedData(String),
    #[error("the TSA's signature: {0}")]
    Signature(crate::pki::PkiError),
    #[error("the checkpoint note has no blank line")]
    NoteWithoutBlankLine,
    #[error("--tsa-cert: no certificate")]
    NoAnchor,
    #[error("the signed content is not a TSTInfo")]
    NotTstInfo,
    #[error("the token holds no TSTInfo")]
    NoTstInfo,
    #[error("the token's message imprint is not SHA-256 of this checkpoint's body")]
    Imprint,
    #[error("the token's nonce is not the one sent")]
    Nonce,
    #[error("the token has no signer")]
    NoSigner,
    #[error("the token names a signer whose certificate is neither in it nor given")]
    SignerUnknown,
    #[error("a signer named by key identifier is not supported")]
    SignerByKeyId,
    #[error("the token has no signed attributes")]
    NoSignedAttributes,
    #[error("the signed attributes hold no message digest")]
    NoMessageDigest,
    #[error("the signed attributes hold no content type")]
    NoContentType,
    #[error("the signed message digest is not SHA-256 of the TSTInfo")]
    MessageDigest,
    #[error("the TSA certificate has no extended key use")]
    NoExtendedKeyUse,
    #[error("the TSA certificate is not for time-stamping (no timeStamping extended key use)")]
    NotForTimeStamping,
    #[error("the TSA certificate was not valid at the token's genTime (expired or not yet valid)")]
    NotValidAtGenTime,
    #[error("the TSA certificate does not chain to the --tsa-cert given")]
    NotAnchored,
}

/// The imprint of a checkpoint: SHA-256 of its body, the note text and the blank line after it.
pub fn imprint(note: &str) -> Result<[u8; 32], StampFault> {
    let at = note.find("\n\n").ok_or(StampFault::NoteWithoutBlankLine)?;
    Ok(Sha256::digest(&note.as_bytes()[..at + 2]).into())
}

/// Certificates from PEM text (one or more), the trust anchors of `--tsa-cert`.
pub fn certificates_from_pem(pem: &str) -> Result<Vec<Certificate>, StampFault> {
    let certs = Certificate::load_pem_chain(pem.as_bytes()).map_err(StampFault::AnchorPem)?;
    if certs.is_empty() {
        return Err(StampFault::NoAnchor);
    }
    Ok(certs)
}

/// A time-stamp request for `imprint` with `nonce`, DER.
pub fn request(imprint: &[u8; 32], nonce: u64) -> Vec<u8> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: der::asn1::AnyRef::NULL.into_alg(ID_SHA256),
            hashed_message: OctetString::new(imprint.to_vec()).expect("32 bytes"),
        },
        req_policy: None,
        nonce: Some(int(nonce)),
        cert_req: true,
        extensions: None,
    };
    req.to_der().expect("a request encodes")
}

trait IntoAlg {
    fn into_alg(self, oid: ObjectIdentifier) -> x509_cert::spki::AlgorithmIdentifier<der::Any>;
}

impl IntoAlg for der::asn1::AnyRef<'_> {
    fn into_alg(self, oid: ObjectIdentifier) -> x509_cert::spki::AlgorithmIdentifier<der::Any> {
        x509_cert::spki::AlgorithmIdentifier { oid, parameters: Some(self.into()) }
    }
}

/// A non-negative INTEGER of `n`, DER-minimal.
fn int(n: u64) -> der::asn1::Int {
    let u = der::asn1::Uint::new(&n.to_be_bytes()).expect("a u64 is an unsigned integer");
    der::asn1::Int::from_der(&u.to_der().expect("encodes")).expect("the same INTEGER")
}

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// `genTime`, POSIX seconds.
    pub gen_time: u64,
    pub tsa: String,
}

fn tst_info(token: &[u8]) -> Result<(SignedData, Vec<u8>, TstInfo), StampFault> {
    let ci = ContentInfo::from_der(token).map_err(|e| StampFault::Malformed { what: "the token is not a CMS ContentInfo", error: e })?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(StampFault::NotSignedData(ci.content_type.to_string()));
    }
    let sd: SignedData = ci.content.decode_as().map_err(|e| StampFault::Malformed { what: "SignedData", error: e })?;
    if sd.encap_content_info.econtent_type != ID_CT_TSTINFO {
        return Err(StampFault::NotTstInfo);
    }
    let econtent = sd.encap_content_info.econtent.as_ref().ok_or(StampFault::NoTstInfo)?;
    let bytes = econtent.decode_as::<OctetString>().map_err(|e| StampFault::Malformed { what: "TSTInfo", error: e })?.as_bytes().to_vec();
    let info = TstInfo::from_der(&bytes).map_err(|e| StampFault::Malformed { what: "TSTInfo", error: e })?;
    Ok((sd, bytes, info))
}

/// Verifies a token offline: the imprint is the checkpoint's; the TSA's signature over the
/// signed attributes, whose message digest is the TSTInfo's; the TSA certificate carries the
/// `timeStamping` extended key use, was valid at `genTime`, and is one of `anchors` or signed
/// by one (valid then too); and, where one was sent, the nonce.
pub fn verify(token: &[u8], imprint: &[u8; 32], nonce: Option<u64>, anchors: &[Certificate]) -> Result<Stamp, StampFault> {
    let (sd, tst_bytes, info) = tst_info(token)?;
    if info.message_imprint.hash_algorithm.oid != ID_SHA256 || info.message_imprint.hashed_message.as_bytes() != imprint {
        return Err(StampFault::Imprint);
    }
    if let Some(n) = nonce {
        if info.nonce.as_ref() != Some(&int(n)) {
            return Err(StampFault::Nonce);
        }
    }
    let gen_time = info.gen_time.to_unix_duration().as_secs();
    let signer = sd.signer_infos.0.as_slice().first().ok_or(StampFault::NoSigner)?;
    let certs: Vec<&Certificate> = sd
        .certificates
        .as_ref()
        .map(|s| s.0.as_slice().iter().filter_map(|c| if let CertificateChoices::Certificate(c) = c { Some(c) } else { None }).collect())
        .unwrap_or_default();
    let tsa = match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => certs
            .iter()
            .chain(anchors.iter().collect::<Vec<_>>().iter())
            .find(|c| c.tbs_certificate.issuer == is.issuer && c.tbs_certificate.serial_number == is.serial_number)
            .copied()
            .ok_or(StampFault::SignerUnknown)?,
        SignerIdentifier::SubjectKeyIdentifier(_) => return Err(StampFault::SignerByKeyId),
    };
    // The signed attributes: the content type and the message digest of the TSTInfo.
    let attrs = signer.signed_attrs.as_ref().ok_or(StampFault::NoSignedAttributes)?;
    let digest = attrs
        .iter()
        .find(|a| a.oid == ID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or(StampFault::NoMessageDigest)?;
    if !attrs.iter().any(|a| a.oid == ID_CONTENT_TYPE) {
        return Err(StampFault::NoContentType);
    }
    if signer.digest_alg.oid != ID_SHA256 || digest.as_bytes() != &Sha256::digest(&tst_bytes)[..] {
        return Err(StampFault::MessageDigest);
    }
    let signed = attrs.to_der()?;
    verify_signature(&tsa.tbs_certificate.subject_public_key_info, &signer.signature_algorithm.oid, &signed, signer.signature.as_bytes())
        .map_err(StampFault::Signature)?;
    // The TSA certificate: for time-stamping, valid at genTime, anchored.
    let eku = tsa
        .tbs_certificate
        .extensions
        .as_ref()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE))
        .and_then(|e| x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .ok_or(StampFault::NoExtendedKeyUse)?;
    if !eku.0.contains(&ID_KP_TIME_STAMPING) {
        return Err(StampFault::NotForTimeStamping);
    }
    let valid_at = |c: &Certificate| crate::pki::valid_at(c, gen_time);
    if !valid_at(tsa) {
        return Err(StampFault::NotValidAtGenTime);
    }
    let anchored = anchors.iter().any(|a| a == tsa) || anchors.iter().any(|a| valid_at(a) && crate::pki::issued_by(tsa, a));
    if !anchored {
        return Err(StampFault::NotAnchored);
    }
    Ok(Stamp { gen_time, tsa: tsa.tbs_certificate.subject.to_string() })
}

/// A token as bundles carry it.
pub fn to_base64(token: &[u8]) -> String {
    B64.encode(token)
}
