//! C2SP `tlog-cosignature` (Ed25519, `cosignature/v1`): a witness's timestamped statement
//! that a checkpoint is the largest consistent tree it has seen of that log.
//!
//! - key id: SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4];
//! - verifier key: `<name>+<hex id>+<base64(0x04 ‖ public key)>`;
//! - signed message: `cosignature/v1\ntime <POSIX seconds>\n` followed by the checkpoint body;
//! - signature line: `— <name> base64(key id ‖ 8-byte big-endian time ‖ 64-byte signature)`.

use crate::error::{malformed, Error, Result};
use crate::keys::check_name;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Signed-note signature type of Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The key id of an Ed25519 cosigner.
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_COSIGNATURE_V1]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The message a cosigner signs over a checkpoint `body` (the note text, ending in a newline).
pub fn message(body: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{body}").into_bytes()
}

/// A witness's public key.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerKey {
    pub name: String,
    pub id: [u8; 4],
    pub key: VerifyingKey,
}

impl CosignerKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self> {
        check_name(name)?;
        Ok(Self { name: name.to_string(), id: key_id(name, key.as_bytes()), key })
    }

    /// Parses `<name>+<hex id>+<base64(0x04 ‖ pk)>`, checking the type and the id.
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("witness key", "expected <name>+<key id>+<base64 key>"));
        };
        let raw = B64.decode(b64).map_err(|e| malformed("witness key", e))?;
        if raw.len() != 33 || raw[0] != ALG_COSIGNATURE_V1 {
            return Err(malformed("witness key", "key is not 0x04 (cosignature/v1) followed by a 32-byte Ed25519 key"));
        }
        let key = VerifyingKey::from_bytes(raw[1..].try_into().expect("length checked")).map_err(|e| malformed("witness key", e))?;
        let k = Self::new(name, key)?;
        if hex::encode(k.id) != hex_id {
            return Err(malformed("witness key", "key id does not match the key"));
        }
        Ok(k)
    }

    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// Verifies a cosignature (`time ‖ signature`, as in a signature line after the key id)
    /// over `body`; returns its time.
    pub fn verify(&self, body: &str, blob: &[u8]) -> Result<u64> {
        if blob.len() != 8 + 64 {
            return Err(malformed("cosignature", format!("{} bytes, not 8 + 64", blob.len())));
        }
        let time = u64::from_be_bytes(blob[..8].try_into().expect("length checked"));
        if time > i64::MAX as u64 {
            return Err(malformed("cosignature", "time exceeds 2^63 - 1"));
        }
        let sig = Signature::from_bytes(blob[8..].try_into().expect("length checked"));
        self.key.verify_strict(&message(body, time), &sig).map_err(|_| Error::BadSignature { key: format!("witness {}", self.name) })?;
        Ok(time)
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, self.id_hex(), B64.encode(raw))
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerKey({self})")
    }
}

/// A witness's private key. `Debug` never prints the secret.
#[derive(Clone)]
pub struct Cosigner {
    key: SigningKey,
    public: CosignerKey,
}

impl Cosigner {
    pub fn generate(name: &str) -> Result<Self> {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        Ok(Self { public: CosignerKey::new(name, key.verifying_key())?, key })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(|| malformed("witness private key", "missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("witness private key", "expected PRIVATE+KEY+<name>+<key id>+<base64 key>"));
        };
        let raw = B64.decode(b64).map_err(|e| malformed("witness private key", e))?;
        if raw.len() != 33 || raw[0] != ALG_COSIGNATURE_V1 {
            return Err(malformed("witness private key", "key is not 0x04 followed by a 32-byte seed"));
        }
        let key = SigningKey::from_bytes(raw[1..].try_into().expect("length checked"));
        let c = Self { public: CosignerKey::new(name, key.verifying_key())?, key };
        if c.public.id_hex() != hex_id {
            return Err(malformed("witness private key", "key id does not match the key"));
        }
        Ok(c)
    }

    /// The private-key text; only ever written to a 0600 file.
    pub fn to_private_text(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.public.name, self.public.id_hex(), B64.encode(raw))
    }

    pub fn public(&self) -> &CosignerKey {
        &self.public
    }

    /// The signature line cosigning checkpoint `body` at `time` (POSIX seconds).
    pub fn cosign(&self, body: &str, time: u64) -> String {
        let sig = self.key.sign(&message(body, time));
        let mut blob = self.public.id.to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}\n", self.public.name, B64.encode(blob))
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cosigner({}, secret hidden)", self.public)
    }
}

/// The cosignatures in a signed note that verify under `witnesses`: `(witness name, time)`.
/// Lines of unknown keys are ignored, as C2SP says; a line that names a known key but does not
/// verify is an error.
pub fn verified(note: &str, witnesses: &[CosignerKey]) -> Result<Vec<(String, u64)>> {
    let (body, sigs) = crate::note::split(note)?;
    let mut out = Vec::new();
    for (name, id, blob) in sigs {
        if let Some(w) = witnesses.iter().find(|w| w.name == name && w.id == id) {
            let time = w.verify(body, &blob)?;
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, time));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosignature_verifies_and_a_changed_body_or_time_does_not() {
        let w = Cosigner::generate("witness.example/w1").unwrap();
        let body = "housing-ledger.example/demo\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let line = w.cosign(body, 1_700_000_000);
        let note = format!("{body}\n{line}");
        assert_eq!(verified(&note, &[w.public().clone()]).unwrap(), vec![("witness.example/w1".to_string(), 1_700_000_000)]);
        let parsed = CosignerKey::parse(&w.public().to_string()).unwrap();
        assert_eq!(&parsed, w.public());
        assert_eq!(Cosigner::parse(&w.to_private_text()).unwrap().public(), w.public());
        // Another body, or the time changed in the line: refused.
        let other = format!("{}\n{line}", body.replace('5', "6"));
        assert!(verified(&other, &[w.public().clone()]).is_err());
        let (_, sigs) = crate::note::split(&note).unwrap();
        let mut blob = sigs[0].1.to_vec();
        blob.extend_from_slice(&sigs[0].2);
        blob[11] ^= 1;
        let forged = format!("{body}\n\u{2014} witness.example/w1 {}\n", B64.encode(blob));
        assert!(verified(&forged, &[w.public().clone()]).is_err());
        // A ledger key (type 0x01) is no witness key.
        let ledger = crate::LedgerSigner::generate("witness.example/w1").unwrap();
        assert!(CosignerKey::parse(&ledger.verifier().to_string()).is_err());
        // The key id commits to the type: a 0x01 key id differs from a 0x04 one.
        assert_ne!(key_id("x", w.public().key.as_bytes()), crate::keys::key_id("x", w.public().key.as_bytes()));
    }
}
