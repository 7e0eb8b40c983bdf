//! A throwaway PKI for `demo --shep`: a CA, the simulated gateway's signing certificate under
//! it (ECDSA P-256, naming the CA's CRL), and that CRL, listing no one. Made fresh for each demo
//! with RustCrypto's builders; the CA's key is dropped once the CRL is signed, so nothing else
//! can ever be issued under it.

use der::asn1::{BitString, GeneralizedTime, Ia5String};
use der::{Encode, EncodePem};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use std::str::FromStr;
use std::time::Duration;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{crl::dp::DistributionPoint, CrlDistributionPoints};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{DynSignatureAlgorithmIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

/// What the demo's gateway signs with, and what its auditors anchor and fetch.
pub struct GatewayPki {
    /// The CA's certificate, PEM: the trust list's `ca` entry.
    pub ca_pem: String,
    /// The gateway's private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The gateway's certificate, PEM.
    pub cert_pem: String,
    /// The CA's CRL, DER, served at the URL the certificate names.
    pub crl_der: Vec<u8>,
}

/// The organisation the demo's gateway certificate names (`OU=BIN…`), which the trust list's
/// `signer` constraint requires.
pub const GATEWAY_BIN: &str = "000000000000";

/// Why the demo's gateway PKI could not be made (none of these happens with sound inputs).
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error("DER: {0}")]
    Der(#[from] der::Error),
    #[error("certificate builder: {0}")]
    Builder(#[from] x509_cert::builder::Error),
    #[error("public key: {0}")]
    Spki(#[from] p256::pkcs8::spki::Error),
    #[error("private key: {0}")]
    Pkcs8(#[from] p256::pkcs8::Error),
}

/// Makes the CA, the gateway's certificate naming `crl_url`, and the CRL, valid for a year from
/// a day ago.
pub fn make(crl_url: &str) -> Result<GatewayPki, MakeError> {
    let rng = &mut rand_core::OsRng;
    let (ca_key, gw_key) = (SigningKey::random(rng), SigningKey::random(rng));
    let now = std::time::SystemTime::now();
    let validity = Validity {
        not_before: Time::GeneralTime(GeneralizedTime::from_system_time(now - Duration::from_secs(86_400))?),
        not_after: Time::GeneralTime(GeneralizedTime::from_system_time(now + Duration::from_secs(365 * 86_400))?),
    };
    let ca_name = Name::from_str("CN=housing-ledger demo gateway CA")?;
    let spki = |k: &SigningKey| SubjectPublicKeyInfoOwned::from_key(*k.verifying_key());
    let ca = CertificateBuilder::new(Profile::Root, SerialNumber::from(1u32), validity, ca_name.clone(), spki(&ca_key)?, &ca_key)?.build::<DerSignature>()?;
    let subject = Name::from_str(&format!("CN=housing-ledger demo gateway,OU=BIN{GATEWAY_BIN}"))?;
    let profile = Profile::Leaf { issuer: ca_name.clone(), enable_key_agreement: false, enable_key_encipherment: false };
    let mut leaf = CertificateBuilder::new(profile, SerialNumber::from(2u32), validity, subject, spki(&gw_key)?, &ca_key)?;
    let uri = GeneralName::UniformResourceIdentifier(Ia5String::new(crl_url)?);
    let dp = DistributionPoint { distribution_point: Some(DistributionPointName::FullName(vec![uri])), reasons: None, crl_issuer: None };
    leaf.add_extension(&CrlDistributionPoints(vec![dp]))?;
    let cert = leaf.build::<DerSignature>()?;
    let crl_der = crl(&ca_key, ca_name, &validity)?;
    Ok(GatewayPki {
        ca_pem: ca.to_pem(LineEnding::LF)?,
        key_pem: gw_key.to_pkcs8_pem(LineEnding::LF)?.to_string(),
        cert_pem: cert.to_pem(LineEnding::LF)?,
        crl_der,
    })
}

/// The CA's CRL, listing no certificate, current for the validity period.
fn crl(ca_key: &SigningKey, issuer: Name, validity: &Validity) -> Result<Vec<u8>, MakeError> {
    use p256::ecdsa::signature::Signer;
    let tbs = x509_cert::crl::TbsCertList {
        version: x509_cert::Version::V2,
        signature: ca_key.signature_algorithm_identifier()?,
        issuer,
        this_update: validity.not_before,
        next_update: Some(validity.not_after),
        revoked_certificates: None,
        crl_extensions: None,
    };
    let sig: DerSignature = ca_key.sign(&tbs.to_der()?);
    let list =
        x509_cert::crl::CertificateList { signature_algorithm: tbs.signature.clone(), tbs_cert_list: tbs, signature: BitString::from_bytes(sig.as_bytes())? };
    Ok(list.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces fit: the certificate is the CA's, names the CRL, and the CRL is current and
    /// lists it not (checked by the same code that checks the registries' certificates).
    #[test]
    fn the_demo_gateway_certificate_chains_to_its_ca_and_its_crl_clears_it() {
        let pki = make("http://127.0.0.1:9/gateway.crl").unwrap();
        let ca = x509_cert::Certificate::load_pem_chain(pki.ca_pem.as_bytes()).unwrap().remove(0);
        let cert = x509_cert::Certificate::load_pem_chain(pki.cert_pem.as_bytes()).unwrap().remove(0);
        assert_eq!(housing_ledger::pki::crl_url(&cert).as_deref(), Some("http://127.0.0.1:9/gateway.crl"));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let (anchor, _) = housing_ledger::pki::build_path(&cert, &[], &[&ca], now).unwrap();
        assert_eq!(anchor, &ca);
        housing_ledger::pki::check_revocation(&housing_ledger::pki::Revocation::Crl(pki.crl_der.clone()), &cert, &ca, now)
            .expect("the CRL clears the certificate");
        assert!(housing_ledger::pki::names_bin(&cert, GATEWAY_BIN));
    }
}
