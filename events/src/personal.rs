//! Format v2's personal-data primitives (issue 32; `docs/implementation/personal-data.md`):
//! a person's data sealed under his own data key with XChaCha20-Poly1305, the seal bound to the
//! event's place by its associated data; persons found through a keyed blind index; data keys
//! wrapped under a key-encryption key for the key store. Destroying a person's data key makes
//! every seal of his unreadable while every hash over the seals stays as it was.
//!
//! Pure: no store, no I/O but the OS random source for keys and nonces.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Mac, SimpleHmac};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a seal did not open, or a key did not unwrap.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the seal does not open under this key and place (wrong key, or the seal or its place was changed)")]
    DoesNotOpen,
    #[error("malformed seal: {0}")]
    Malformed(String),
}

/// A 256-bit secret: a data key, the index key or the key-encryption key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub [u8; 32]);

impl std::fmt::Debug for Secret {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A fresh key from the OS random source.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let raw = B64.decode(text.trim()).map_err(|e| SealError::Malformed(format!("key: {e}")))?;
        Ok(Self(raw.try_into().map_err(|_| SealError::Malformed("a key is 32 bytes".into()))?))
    }
}

/// The domain of the blind index's HMAC input.
pub const BLIND_DOMAIN: &str = "housing-ledger/blind-id/v2\n";
/// The domain of a seal's associated data.
pub const SEAL_DOMAIN: &str = "housing-ledger/seal/v2\n";
/// The domain of a wrapped data key's associated data.
pub const WRAP_DOMAIN: &str = "housing-ledger/data-key/v2\n";

/// A person's blind id: `p` and the first 16 bytes, lowercase hex, of
/// HMAC-SHA256(index key, `housing-ledger/blind-id/v2\n` ‖ the IIN as written). Without the
/// index key no dictionary of IINs finds it.
pub fn blind_id(index_key: &Secret, iin: &str) -> String {
    let mut mac = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(&index_key.0).expect("any key length");
    mac.update(BLIND_DOMAIN.as_bytes());
    mac.update(iin.as_bytes());
    format!("p{}", hex::encode(&mac.finalize().into_bytes()[..16]))
}

/// Where a seal sits: what its associated data binds it to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place<'a> {
    pub format: &'a str,
    pub seq: u64,
    pub stream: &'a str,
    pub kind: &'a str,
    /// The blind id of the person whose key seals it.
    pub subject: &'a str,
    /// Which member of the event's data it holds (`data`, or `data.entries.3`).
    pub member: &'a str,
}

impl Place<'_> {
    /// The associated data: `housing-ledger/seal/v2\n` then format, seq (decimal), stream,
    /// type, subject and member, each followed by `\n`, in UTF-8.
    pub fn associated_data(&self) -> Vec<u8> {
        format!("{SEAL_DOMAIN}{}\n{}\n{}\n{}\n{}\n{}\n", self.format, self.seq, self.stream, self.kind, self.subject, self.member).into_bytes()
    }
}

/// A sealed value as it stands in an event: `{"seal": "v2", "subject", "nonce", "ct"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// `v2`.
    pub seal: String,
    /// The blind id of the person whose data key seals it.
    pub subject: String,
    /// 24 random bytes, base64.
    pub nonce: String,
    /// The ciphertext with its 16-byte tag, base64.
    pub ct: String,
}

impl Seal {
    /// Whether a JSON value is a seal (an object whose `seal` is `v2`).
    pub fn is_seal(v: &Value) -> bool {
        v.get("seal").and_then(Value::as_str) == Some("v2")
    }
}

/// Seals `value` (its RFC 8785 canonical JSON) under `key` at `place`, with a fresh random
/// 192-bit nonce (random nonces of this size never repeat in practice).
pub fn seal(key: &Secret, place: &Place, value: &Value) -> Seal {
    let plaintext = serde_json_canonicalizer::to_vec(value).expect("JSON values serialise");
    let mut nonce = [0u8; 24];
    rand_core::OsRng.fill_bytes(&mut nonce);
    seal_with_nonce(key, place, &plaintext, nonce)
}

fn seal_with_nonce(key: &Secret, place: &Place, plaintext: &[u8], nonce: [u8; 24]) -> Seal {
    let aad = place.associated_data();
    let ct =
        XChaCha20Poly1305::new((&key.0).into()).encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: &aad }).expect("encryption of a bounded message");
    Seal { seal: "v2".into(), subject: place.subject.to_string(), nonce: B64.encode(nonce), ct: B64.encode(ct) }
}

/// Opens a seal at `place` under `key`: the value it holds.
pub fn open(key: &Secret, place: &Place, s: &Seal) -> Result<Value, SealError> {
    if s.seal != "v2" {
        return Err(SealError::Malformed(format!("seal version {:?}", s.seal)));
    }
    if s.subject != place.subject {
        return Err(SealError::Malformed(format!("the seal is {}'s, the place names {}", s.subject, place.subject)));
    }
    let nonce = B64.decode(&s.nonce).map_err(|e| SealError::Malformed(format!("nonce: {e}")))?;
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| SealError::Malformed("a nonce is 24 bytes".into()))?;
    let ct = B64.decode(&s.ct).map_err(|e| SealError::Malformed(format!("ct: {e}")))?;
    let aad = place.associated_data();
    let plain = XChaCha20Poly1305::new((&key.0).into()).decrypt(&XNonce::from(nonce), Payload { msg: &ct, aad: &aad }).map_err(|_| SealError::DoesNotOpen)?;
    serde_json::from_slice(&plain).map_err(|e| SealError::Malformed(format!("the opened value is not JSON: {e}")))
}

/// A data key wrapped under the key-encryption key for the key store: 24-byte nonce ‖
/// ciphertext ‖ tag, the associated data `housing-ledger/data-key/v2\n` ‖ the blind id.
pub fn wrap(kek: &Secret, subject: &str, key: &Secret) -> Vec<u8> {
    let mut nonce = [0u8; 24];
    rand_core::OsRng.fill_bytes(&mut nonce);
    let aad = format!("{WRAP_DOMAIN}{subject}");
    let ct =
        XChaCha20Poly1305::new((&kek.0).into()).encrypt(&XNonce::from(nonce), Payload { msg: &key.0, aad: aad.as_bytes() }).expect("encryption of 32 bytes");
    [nonce.as_slice(), &ct].concat()
}

/// The data key `wrapped` holds for `subject`.
pub fn unwrap(kek: &Secret, subject: &str, wrapped: &[u8]) -> Result<Secret, SealError> {
    if wrapped.len() != 24 + 32 + 16 {
        return Err(SealError::Malformed(format!("a wrapped key is 72 bytes, got {}", wrapped.len())));
    }
    let aad = format!("{WRAP_DOMAIN}{subject}");
    let nonce: [u8; 24] = wrapped[..24].try_into().expect("length checked");
    let key = XChaCha20Poly1305::new((&kek.0).into())
        .decrypt(&XNonce::from(nonce), Payload { msg: &wrapped[24..], aad: aad.as_bytes() })
        .map_err(|_| SealError::DoesNotOpen)?;
    Ok(Secret(key.try_into().map_err(|_| SealError::Malformed("a key is 32 bytes".into()))?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn place<'a>(subject: &'a str, seq: u64) -> Place<'a> {
        Place { format: "housing-ledger/event/v2", seq, stream: "person:p00", kind: "ListEntryReceived", subject, member: "data" }
    }

    /// The AEAD as draft-irtf-cfrg-xchacha-03 §A.3.1 gives it: our use of the crate (key, 24-byte
    /// nonce, associated data, ciphertext ‖ tag) is the standard construction.
    #[test]
    fn xchacha20_poly1305_matches_the_published_vector() {
        let key: Vec<u8> = (0x80..=0x9f).collect();
        let nonce: Vec<u8> = (0x40..=0x57).collect();
        let aad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
        let msg = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let nonce: [u8; 24] = nonce.try_into().unwrap();
        let key: [u8; 32] = key.try_into().unwrap();
        let ct = XChaCha20Poly1305::new(&key.into()).encrypt(&XNonce::from(nonce), Payload { msg, aad: &aad }).unwrap();
        let expected = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e\
                        c0875924c1c7987947deafd8780acf49";
        assert_eq!(hex::encode(ct), expected);
    }

    #[test]
    fn a_seal_opens_only_under_its_key_and_at_its_place() {
        let (k, other) = (Secret::generate(), Secret::generate());
        let v = json!({"iin": "850101300123", "name": "Әлия Серікова"});
        let s = seal(&k, &place("pa", 7), &v);
        assert_eq!(open(&k, &place("pa", 7), &s), Ok(v.clone()));
        assert_eq!(open(&other, &place("pa", 7), &s), Err(SealError::DoesNotOpen));
        assert_eq!(open(&k, &place("pa", 8), &s), Err(SealError::DoesNotOpen), "moved to another seq");
        let mut moved = place("pa", 7);
        moved.member = "data.entries.1";
        assert_eq!(open(&k, &moved, &s), Err(SealError::DoesNotOpen), "moved to another member");
        assert!(matches!(open(&k, &place("pb", 7), &s), Err(SealError::Malformed(_))), "claimed for another person");
        let mut flipped = s.clone();
        let mut ct = B64.decode(&flipped.ct).unwrap();
        ct[0] ^= 1;
        flipped.ct = B64.encode(ct);
        assert_eq!(open(&k, &place("pa", 7), &flipped), Err(SealError::DoesNotOpen));
        assert_ne!(seal(&k, &place("pa", 7), &v).nonce, s.nonce, "a fresh nonce each time");
        assert!(!serde_json::to_string(&s).unwrap().contains("850101300123"));
    }

    #[test]
    fn blind_ids_are_keyed() {
        let (k1, k2) = (Secret([1; 32]), Secret([2; 32]));
        let a = blind_id(&k1, "850101300123");
        assert_eq!(a.len(), 33);
        assert_eq!(a, blind_id(&k1, "850101300123"), "the same person, the same id");
        assert_ne!(a, blind_id(&k2, "850101300123"), "another index key, another id");
        assert_ne!(a, blind_id(&k1, "850101300124"));
    }

    #[test]
    fn a_wrapped_key_unwraps_only_for_its_subject() {
        let (kek, key) = (Secret::generate(), Secret::generate());
        let w = wrap(&kek, "pa", &key);
        assert_eq!(unwrap(&kek, "pa", &w), Ok(key));
        assert_eq!(unwrap(&kek, "pb", &w), Err(SealError::DoesNotOpen));
        assert_eq!(unwrap(&Secret::generate(), "pa", &w), Err(SealError::DoesNotOpen));
    }
}
