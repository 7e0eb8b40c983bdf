//! X.509 as the national PKI and time-stamping authorities use it, checked offline with
//! RustCrypto (`x509-cert`, `x509-ocsp`, `rsa`, `p256`): signatures (SHA-256 with RSA PKCS#1
//! v1.5 or with ECDSA P-256), a certificate's path to a trust anchor at a given time, and the
//! revocation evidence (an OCSP response or a CRL) that showed it unrevoked then.
//! `timestamp` (RFC 3161 tokens) and the trust list's answers (`registry::trust`) both check
//! through here. GOST algorithms are recognised by their OIDs and refused by name: no open
//! implementation is available here (`docs/sources.md`).

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// In CMS a signer's algorithm may be named by its key (rsaEncryption), the digest apart.
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
pub const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_CE_CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const ID_PE_AUTHORITY_INFO_ACCESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
/// organizationalUnitName: Kazakh certificates name the organisation's BIN there (`BIN…`).
const ID_AT_OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");

/// How far an OCSP response's `producedAt` may lie from the signing time (`sources.md`).
pub const OCSP_WINDOW_SECS: u64 = 24 * 3600;

/// GOST algorithm arcs, refused by name: Kazakhstan's national algorithms (GOST 34.310-2004,
/// GOST R 34.10-2015 as НУЦ РК issues them) and the Russian GOST R 34.10-2001/2012 ones.
const GOST_ARCS: &[(&str, &str)] = &[
    ("1.2.398.3.10.1.1", "GOST 34.310-2004 / GOST R 34.10-2015 (Kazakhstan, 1.2.398.3.10.1.1)"),
    ("1.2.643.2.2", "GOST R 34.10-2001 (1.2.643.2.2)"),
    ("1.2.643.7.1", "GOST R 34.10-2012 (1.2.643.7.1)"),
];

/// Why a certificate, its path to an anchor, a signature under it or its revocation evidence
/// does not hold. The texts are what `verify-proof`, `verify` and the pages print.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("the certificate {subject} uses {name}, which is refused: no open implementation of GOST is available here")]
    GostCertificate { subject: String, name: &'static str },
    #[error("signature algorithm {0} is refused: no open implementation of GOST is available here")]
    GostSignature(&'static str),
    #[error("signature algorithm {0} is not supported (SHA-256 with ECDSA P-256 or RSA)")]
    Unsupported(String),
    #[error("the key is not {0} key")]
    NotKey(&'static str),
    #[error("the signature is not {0} signature")]
    NotSignature(&'static str),
    #[error("the signature does not verify")]
    DoesNotVerify,
    #[error("{0}")]
    Der(#[from] der::Error),
    #[error("{what}: {error}")]
    Malformed { what: &'static str, error: der::Error },
    #[error("the certificate {subject} was not valid at the signing time {} (valid from {} until {}: expired or not yet valid)", show(*at), show(*from), show(*until))]
    NotValidThen { subject: String, at: u64, from: u64, until: u64 },
    #[error("the certificate {subject}: extension {oid}: {error}")]
    Extension { subject: String, oid: String, error: der::Error },
    #[error("the CA certificate {0} has no basicConstraints CA: it may not issue certificates")]
    NotCa(String),
    #[error("the signer's certificate {0} allows neither digitalSignature nor nonRepudiation in keyUsage")]
    NoSigningUsage(String),
    #[error("the signer's certificate {0} has no keyUsage")]
    NoKeyUsage(String),
    #[error("the chain does not lead from {0} to a CA the trust list holds")]
    NoPath(String),
    #[error("the chain is longer than 8 certificates")]
    ChainTooLong,
    #[error("source_chain[{0}] is not base64")]
    ChainNotBase64(usize),
    #[error("source_chain[{i}] is not a DER certificate: {error}")]
    ChainNotDer { i: usize, error: der::Error },
    #[error("the signer's certificate was revoked at {}, at or before the signing time {}", show(*when), show(*at))]
    Revoked { when: u64, at: u64 },
    #[error("the OCSP CertID hashes with {0}, not SHA-1 or SHA-256")]
    CertIdHash(String),
    #[error("the OCSP responder answered {0}")]
    OcspStatus(String),
    #[error("the OCSP response holds no response")]
    OcspEmpty,
    #[error("the OCSP response is of type {0}, not basic")]
    OcspType(String),
    #[error("the OCSP response is signed by {who}, which is neither the CA {ca} that issued the signer nor a responder it delegated")]
    OcspSigner { who: String, ca: String },
    #[error("the OCSP response is stale: produced at {}, more than 24 hours from the signing time {}", show(*produced), show(*at))]
    OcspStale { produced: u64, at: u64 },
    #[error("the OCSP response does not cover the signer's certificate")]
    OcspNotCovering,
    #[error("the OCSP responder does not know the signer's certificate")]
    OcspUnknown,
    #[error("the CRL is issued by {issuer}, not by the CA {ca} that issued the signer")]
    CrlIssuer { issuer: String, ca: String },
    #[error("the CRL's signature by {ca}: {error}")]
    CrlSignature { ca: String, error: Box<PkiError> },
    #[error("the CRL does not cover the signing time {}: it is valid from {} until {}", show(*at), show(*from), until.map(show).unwrap_or_else(|| "(no next update)".into()))]
    CrlNotCovering { at: u64, from: u64, until: Option<u64> },
}

/// The GOST algorithm `oid` names, if it is one.
pub fn gost_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    let text = oid.to_string();
    GOST_ARCS.iter().find(|(arc, _)| text == *arc || text.starts_with(&format!("{arc}."))).map(|(_, name)| *name)
}

/// Refuses a certificate whose key or signature is GOST, by name.
pub fn refuse_gost(cert: &Certificate) -> Result<(), PkiError> {
    for oid in [&cert.tbs_certificate.subject_public_key_info.algorithm.oid, &cert.signature_algorithm.oid] {
        if let Some(name) = gost_name(oid) {
            return Err(PkiError::GostCertificate { subject: subject(cert), name });
        }
    }
    Ok(())
}

/// Verifies `sig` over `msg` with the key of `spki`, by algorithm `alg` (SHA-256 with ECDSA
/// P-256, or with RSA PKCS#1 v1.5).
pub fn verify_signature(spki: &SubjectPublicKeyInfoOwned, alg: &ObjectIdentifier, msg: &[u8], sig: &[u8]) -> Result<(), PkiError> {
    if let Some(name) = gost_name(alg) {
        return Err(PkiError::GostSignature(name));
    }
    if *alg == ECDSA_WITH_SHA256 {
        use p256::ecdsa::signature::Verifier;
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).map_err(|_| PkiError::NotKey("a P-256"))?;
        let sig = p256::ecdsa::Signature::from_der(sig).map_err(|_| PkiError::NotSignature("a DER ECDSA"))?;
        return key.verify(msg, &sig).map_err(|_| PkiError::DoesNotVerify);
    }
    if *alg == SHA256_WITH_RSA || *alg == RSA_ENCRYPTION {
        use rsa::pkcs8::DecodePublicKey;
        use rsa::signature::Verifier;
        let der = spki.to_der()?;
        let key = rsa::RsaPublicKey::from_public_key_der(&der).map_err(|_| PkiError::NotKey("an RSA"))?;
        let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key);
        let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| PkiError::NotSignature("an RSA"))?;
        return key.verify(msg, &sig).map_err(|_| PkiError::DoesNotVerify);
    }
    Err(PkiError::Unsupported(alg.to_string()))
}

/// POSIX seconds of an X.509 time.
pub fn unix(t: &x509_cert::time::Time) -> u64 {
    t.to_unix_duration().as_secs()
}

/// A time as people read it in messages, UTC.
pub fn show(t: u64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_else(|| t.to_string())
}

/// Whether `cert` was valid at `t` (POSIX seconds).
pub fn valid_at(cert: &Certificate, t: u64) -> bool {
    let v = &cert.tbs_certificate.validity;
    unix(&v.not_before) <= t && t <= unix(&v.not_after)
}

fn valid_then(cert: &Certificate, t: u64) -> Result<(), PkiError> {
    if valid_at(cert, t) {
        return Ok(());
    }
    let v = &cert.tbs_certificate.validity;
    Err(PkiError::NotValidThen { subject: subject(cert), at: t, from: unix(&v.not_before), until: unix(&v.not_after) })
}

/// An extension of `cert`, decoded; `None` where it has none.
fn extension<T: for<'a> Decode<'a>>(cert: &Certificate, oid: ObjectIdentifier) -> Option<Result<T, PkiError>> {
    let e = cert.tbs_certificate.extensions.as_ref()?.iter().find(|e| e.extn_id == oid)?;
    Some(T::from_der(e.extn_value.as_bytes()).map_err(|error| PkiError::Extension { subject: subject(cert), oid: oid.to_string(), error }))
}

/// The certificate's extended key uses, where it names any.
pub fn extended_key_usage(cert: &Certificate) -> Option<Vec<ObjectIdentifier>> {
    extension::<ExtendedKeyUsage>(cert, ID_CE_EXT_KEY_USAGE).and_then(Result::ok).map(|e| e.0)
}

/// A CA certificate must say so in `basicConstraints`.
fn check_ca(cert: &Certificate) -> Result<(), PkiError> {
    match extension::<BasicConstraints>(cert, ID_CE_BASIC_CONSTRAINTS) {
        Some(Ok(bc)) if bc.ca => Ok(()),
        Some(Err(e)) => Err(e),
        _ => Err(PkiError::NotCa(subject(cert))),
    }
}

/// A signer's certificate must allow signing in `keyUsage`.
fn check_signer_usage(cert: &Certificate) -> Result<(), PkiError> {
    match extension::<KeyUsage>(cert, ID_CE_KEY_USAGE) {
        Some(Ok(ku)) if ku.digital_signature() || ku.non_repudiation() => Ok(()),
        Some(Ok(_)) => Err(PkiError::NoSigningUsage(subject(cert))),
        Some(Err(e)) => Err(e),
        None => Err(PkiError::NoKeyUsage(subject(cert))),
    }
}

/// Whether `issuer` issued `cert`: names match and its key verifies the certificate's signature.
pub fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    issuer.tbs_certificate.subject == cert.tbs_certificate.issuer
        && cert.tbs_certificate.to_der().is_ok_and(|tbs| {
            verify_signature(&issuer.tbs_certificate.subject_public_key_info, &cert.signature_algorithm.oid, &tbs, cert.signature.raw_bytes()).is_ok()
        })
}

/// The OCSP responder a certificate names in its authority information access.
pub fn ocsp_url(cert: &Certificate) -> Option<String> {
    let aia = extension::<AuthorityInfoAccessSyntax>(cert, ID_PE_AUTHORITY_INFO_ACCESS)?.ok()?;
    aia.0.iter().find(|a| a.access_method == ID_AD_OCSP).and_then(|a| match &a.access_location {
        x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
        _ => None,
    })
}

/// The first HTTP address of the certificate's CRL distribution points.
pub fn crl_url(cert: &Certificate) -> Option<String> {
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    let points = extension::<x509_cert::ext::pkix::CrlDistributionPoints>(cert, ID_CE_CRL_DISTRIBUTION_POINTS)?.ok()?;
    points.0.iter().filter_map(|p| p.distribution_point.as_ref()).find_map(|name| match name {
        DistributionPointName::FullName(names) => names.iter().find_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) if u.as_str().starts_with("http") => Some(u.to_string()),
            _ => None,
        }),
        DistributionPointName::NameRelativeToCRLIssuer(_) => None,
    })
}

/// Whether the subject names the organisation of BIN `bin` (`OU=BIN<bin>`, as НУЦ РК writes it).
pub fn names_bin(cert: &Certificate, bin: &str) -> bool {
    let want = format!("BIN{bin}");
    cert.tbs_certificate.subject.0.iter().flat_map(|rdn| rdn.0.iter()).any(|atv| {
        atv.oid == ID_AT_OU
            && (atv.value.decode_as::<der::asn1::Utf8StringRef>().is_ok_and(|s| s.as_str() == want)
                || atv.value.decode_as::<der::asn1::PrintableStringRef>().is_ok_and(|s| s.as_str() == want))
    })
}

/// Builds the signer's path at time `at`: `signer` (allowed to sign: `keyUsage`), through
/// certificates of `chain` (CAs by `basicConstraints`), to one of `anchors`; every certificate
/// valid at `at`, none GOST. Returns the anchor reached and the signer's issuer.
pub fn build_path<'a>(
    signer: &'a Certificate,
    chain: &'a [Certificate],
    anchors: &[&'a Certificate],
    at: u64,
) -> Result<(&'a Certificate, &'a Certificate), PkiError> {
    refuse_gost(signer)?;
    valid_then(signer, at)?;
    check_signer_usage(signer)?;
    let mut cert = signer;
    let mut issuer_of_signer: Option<&Certificate> = None;
    for _ in 0..8 {
        if let Some(anchor) = anchors.iter().find(|a| issued_by(cert, a)) {
            refuse_gost(anchor)?;
            check_ca(anchor)?;
            valid_then(anchor, at)?;
            return Ok((anchor, issuer_of_signer.unwrap_or(anchor)));
        }
        let next =
            chain.iter().find(|c| !std::ptr::eq(*c, cert) && issued_by(cert, c)).ok_or_else(|| PkiError::NoPath(cert.tbs_certificate.issuer.to_string()))?;
        refuse_gost(next)?;
        check_ca(next)?;
        valid_then(next, at)?;
        issuer_of_signer.get_or_insert(next);
        cert = next;
    }
    Err(PkiError::ChainTooLong)
}

/// What showed a signer's certificate unrevoked: an OCSP response (RFC 6960) or a CRL, DER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    Ocsp(Vec<u8>),
    Crl(Vec<u8>),
}

/// Checks that `evidence` shows `signer` (issued by `issuer`) unrevoked at `at`: signed by the
/// issuer or a responder it delegated, current then (`sources.md`), covering this certificate,
/// and not listing it revoked at or before `at`. A revocation after `at` does not count.
pub fn check_revocation(evidence: &Revocation, signer: &Certificate, issuer: &Certificate, at: u64) -> Result<(), PkiError> {
    match evidence {
        Revocation::Ocsp(der) => check_ocsp(der, signer, issuer, at),
        Revocation::Crl(der) => check_crl(der, signer, issuer, at),
    }
}

fn revoked_then(when: u64, at: u64) -> Result<(), PkiError> {
    if when <= at {
        return Err(PkiError::Revoked { when, at });
    }
    Ok(())
}

/// The CertID of `signer` under `issuer` with hash `alg` (SHA-1 or SHA-256).
fn cert_id(signer: &Certificate, issuer: &Certificate, alg: &ObjectIdentifier) -> Result<x509_ocsp::CertId, PkiError> {
    let name = signer.tbs_certificate.issuer.to_der()?;
    let key = issuer.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    let (n, k) = if *alg == ID_SHA256 {
        (Sha256::digest(&name).to_vec(), Sha256::digest(key).to_vec())
    } else if *alg == ID_SHA1 {
        use sha1::Digest as _;
        (sha1::Sha1::digest(&name).to_vec(), sha1::Sha1::digest(key).to_vec())
    } else {
        return Err(PkiError::CertIdHash(alg.to_string()));
    };
    Ok(x509_ocsp::CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned { oid: *alg, parameters: Some(der::asn1::Null.into()) },
        issuer_name_hash: OctetString::new(n)?,
        issuer_key_hash: OctetString::new(k)?,
        serial_number: signer.tbs_certificate.serial_number.clone(),
    })
}

/// An OCSP request (DER) for `signer`, issued by `issuer`: one CertID, SHA-1 as RFC 5019 asks.
pub fn ocsp_request(signer: &Certificate, issuer: &Certificate) -> Result<Vec<u8>, PkiError> {
    let req = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request { req_cert: cert_id(signer, issuer, &ID_SHA1)?, single_request_extensions: None }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    Ok(req.to_der()?)
}

fn check_ocsp(der: &[u8], signer: &Certificate, issuer: &Certificate, at: u64) -> Result<(), PkiError> {
    let resp = x509_ocsp::OcspResponse::from_der(der).map_err(|e| PkiError::Malformed { what: "the OCSP response is not DER OCSPResponse", error: e })?;
    if resp.response_status != x509_ocsp::OcspResponseStatus::Successful {
        return Err(PkiError::OcspStatus(format!("{:?}", resp.response_status)));
    }
    let bytes = resp.response_bytes.ok_or(PkiError::OcspEmpty)?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(PkiError::OcspType(bytes.response_type.to_string()));
    }
    let basic = x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(|e| PkiError::Malformed { what: "BasicOCSPResponse", error: e })?;
    let tbs = basic.tbs_response_data.to_der()?;
    let produced = basic.tbs_response_data.produced_at.0.to_unix_duration().as_secs();
    // Signed by the CA that issued the signer, or by a responder it delegated (RFC 6960 §4.2.2.2).
    let signed_by = |key: &Certificate| {
        verify_signature(&key.tbs_certificate.subject_public_key_info, &basic.signature_algorithm.oid, &tbs, basic.signature.raw_bytes()).is_ok()
    };
    let delegated =
        |c: &&&Certificate| issued_by(c, issuer) && valid_at(c, produced) && extended_key_usage(c).is_some_and(|eku| eku.contains(&ID_KP_OCSP_SIGNING));
    let certs: Vec<&Certificate> = basic.certs.iter().flatten().collect();
    if !signed_by(issuer) && !certs.iter().filter(delegated).any(|c| signed_by(c)) {
        let who = certs.first().map(|c| c.tbs_certificate.subject.to_string()).unwrap_or_else(|| format!("{:?}", basic.tbs_response_data.responder_id));
        return Err(PkiError::OcspSigner { who, ca: subject(issuer) });
    }
    if produced.abs_diff(at) > OCSP_WINDOW_SECS {
        return Err(PkiError::OcspStale { produced, at });
    }
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| {
            cert_id(signer, issuer, &r.cert_id.hash_algorithm.oid).is_ok_and(|id| {
                id.issuer_name_hash == r.cert_id.issuer_name_hash
                    && id.issuer_key_hash == r.cert_id.issuer_key_hash
                    && id.serial_number == r.cert_id.serial_number
            })
        })
        .ok_or(PkiError::OcspNotCovering)?;
    match &single.cert_status {
        x509_ocsp::CertStatus::Good(_) => Ok(()),
        // Revoked after the signing time: the answer stands.
        x509_ocsp::CertStatus::Revoked(info) => revoked_then(info.revocation_time.0.to_unix_duration().as_secs(), at),
        x509_ocsp::CertStatus::Unknown(_) => Err(PkiError::OcspUnknown),
    }
}

fn check_crl(der: &[u8], signer: &Certificate, issuer: &Certificate, at: u64) -> Result<(), PkiError> {
    let crl = x509_cert::crl::CertificateList::from_der(der).map_err(|e| PkiError::Malformed { what: "the CRL is not DER CertificateList", error: e })?;
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != signer.tbs_certificate.issuer || tbs.issuer != issuer.tbs_certificate.subject {
        return Err(PkiError::CrlIssuer { issuer: tbs.issuer.to_string(), ca: subject(issuer) });
    }
    let body = tbs.to_der()?;
    verify_signature(&issuer.tbs_certificate.subject_public_key_info, &crl.signature_algorithm.oid, &body, crl.signature.raw_bytes())
        .map_err(|e| PkiError::CrlSignature { ca: subject(issuer), error: Box::new(e) })?;
    let (from, until) = (unix(&tbs.this_update), tbs.next_update.as_ref().map(unix));
    if at < from || until.is_some_and(|u| at > u) {
        return Err(PkiError::CrlNotCovering { at, from, until });
    }
    match tbs.revoked_certificates.iter().flatten().find(|r| r.serial_number == signer.tbs_certificate.serial_number) {
        Some(r) => revoked_then(unix(&r.revocation_date), at),
        None => Ok(()),
    }
}

/// The subject's name, as messages show it.
pub fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// Certificates from base64 DER strings (a chain as events carry it, signer first).
pub fn chain_from_base64(chain: &[String]) -> Result<Vec<Certificate>, PkiError> {
    use base64::Engine;
    chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let der = base64::engine::general_purpose::STANDARD.decode(c).map_err(|_| PkiError::ChainNotBase64(i))?;
            Certificate::from_der(&der).map_err(|error| PkiError::ChainNotDer { i, error })
        })
        .collect()
}
