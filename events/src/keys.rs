//! Ed25519 keys in the C2SP signed-note form: key ids, verifier keys
//! (`<name>+<hex id>+<base64(0x01 ‖ pk)>`) and private keys (`PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`).

use crate::error::{malformed, Error, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Signed-note algorithm byte for Ed25519.
const ALG_ED25519: u8 = 0x01;

/// The C2SP key id: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key name must be non-empty and contain no '+', whitespace or control characters (C2SP).
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('+') || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(malformed("key name", format!("{name:?} is empty or has '+', spaces or control characters")));
    }
    Ok(())
}

/// A public key with its name and id: what verifies ledger events, checkpoints and registry answers.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub id: [u8; 4],
    pub key: VerifyingKey,
    /// The key's text, made once: it is compared with every registry answer's `source_key`.
    text: String,
}

impl VerifierKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self> {
        check_name(name)?;
        let id = key_id(name, key.as_bytes());
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(key.as_bytes());
        let text = format!("{name}+{}+{}", hex::encode(id), B64.encode(raw));
        Ok(Self { name: name.to_string(), id, key, text })
    }

    /// `<name>+<hex id>+<base64(0x01 ‖ pk)>`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Parses `<name>+<hex id>+<base64(0x01 ‖ pk)>` and checks that the id matches the key.
    pub fn parse(text: &str) -> Result<Self> {
        // Names and ids hold no '+', base64 may: split from the left.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("verifier key", "expected <name>+<key id>+<base64 key>"));
        };
        check_name(name)?;
        let raw = B64.decode(b64).map_err(|e| malformed("verifier key", e))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(malformed("verifier key", "key is not 0x01 followed by a 32-byte Ed25519 key"));
        }
        let pk: [u8; 32] = raw[1..].try_into().expect("length checked");
        let key = VerifyingKey::from_bytes(&pk).map_err(|e| malformed("verifier key", e))?;
        let vk = Self::new(name, key)?;
        if vk.id_hex() != hex_id {
            return Err(malformed("verifier key", format!("key id {hex_id} does not match the key (expected {})", vk.id_hex())));
        }
        Ok(vk)
    }

    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// Strict Ed25519 verification: rejects non-canonical encodings and small-order points.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        let sig = Signature::from_slice(sig).map_err(|_| Error::BadSignature { key: self.id_hex() })?;
        self.key.verify_strict(msg, &sig).map_err(|_| Error::BadSignature { key: self.id_hex() })
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// A private key with its name. `Debug` never prints the secret.
#[derive(Clone)]
pub struct LedgerSigner {
    key: SigningKey,
    /// Derived once, with the key's name: a registry simulator names its key in every answer.
    verifier: VerifierKey,
}

impl LedgerSigner {
    pub fn generate(name: &str) -> Result<Self> {
        Self::with_key(name, SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A key derived from a 32-byte seed (the registry simulator derives its keys this way).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self> {
        Self::with_key(name, SigningKey::from_bytes(&seed))
    }

    fn with_key(name: &str, key: SigningKey) -> Result<Self> {
        let verifier = VerifierKey::new(name, key.verifying_key())?;
        Ok(Self { key, verifier })
    }

    pub fn name(&self) -> &str {
        &self.verifier.name
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(|| malformed("private key", "missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("private key", "expected PRIVATE+KEY+<name>+<key id>+<base64 key>"));
        };
        let raw = B64.decode(b64).map_err(|e| malformed("private key", e))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(malformed("private key", "key is not 0x01 followed by a 32-byte seed"));
        }
        let signer = Self::from_seed(name, raw[1..].try_into().expect("length checked"))?;
        if signer.verifier().id_hex() != hex_id {
            return Err(malformed("private key", "key id does not match the key"));
        }
        Ok(signer)
    }

    /// The C2SP private-key text. Only ever written to a 0600 key file.
    pub fn to_private_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name(), self.verifier.id_hex(), B64.encode(raw))
    }

    pub fn verifier(&self) -> VerifierKey {
        self.verifier.clone()
    }

    /// The verifier key's text, without a copy.
    pub fn verifier_text(&self) -> &str {
        self.verifier.text()
    }

    pub fn id(&self) -> [u8; 4] {
        self.verifier.id
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

impl fmt::Debug for LedgerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LedgerSigner({}+{}, secret hidden)", self.name(), self.verifier.id_hex())
    }
}
