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

/// A key derived from `key` for one purpose: HMAC-SHA256(key, `domain`).
pub fn derive(key: &Secret, domain: &str) -> [u8; 32] {
    let mut mac = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(&key.0).expect("any key length");
    mac.update(domain.as_bytes());
    mac.finalize().into_bytes().into()
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
        use std::io::Write;
        // Written part by part (this runs for every seal): `format!` cost more than the cipher's
        // key setup.
        let parts = [self.format, self.stream, self.kind, self.subject, self.member];
        let mut out = Vec::with_capacity(SEAL_DOMAIN.len() + 26 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
        out.extend_from_slice(SEAL_DOMAIN.as_bytes());
        out.extend_from_slice(self.format.as_bytes());
        writeln!(out, "\n{}", self.seq).expect("writing to a Vec cannot fail");
        for part in &parts[1..] {
            out.extend_from_slice(part.as_bytes());
            out.push(b'\n');
        }
        out
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

    /// The seal as a JSON value, its strings moved rather than copied (`serde_json::to_value`
    /// copied each ciphertext once more for every event appended).
    pub fn into_value(self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("ct".into(), Value::String(self.ct));
        m.insert("nonce".into(), Value::String(self.nonce));
        m.insert("seal".into(), Value::String(self.seal));
        m.insert("subject".into(), Value::String(self.subject));
        Value::Object(m)
    }
}

/// Seals `value` (its RFC 8785 canonical JSON) under `key` at `place`, with a fresh random
/// 192-bit nonce (random nonces of this size never repeat in practice).
pub fn seal(key: &Secret, place: &Place, value: &Value) -> Seal {
    let mut plaintext = Vec::with_capacity(512);
    crate::canonical::write_value(&mut plaintext, value).expect("JSON values serialise");
    seal_text(key, place, &plaintext)
}

/// Seals `plaintext`, RFC 8785 text already written, as [`seal`] does.
fn seal_text(key: &Secret, place: &Place, plaintext: &[u8]) -> Seal {
    seal_with_nonce(key, place, plaintext, fresh_nonce())
}

/// 24 fresh bytes of the OS random source, for one nonce. They are taken from a buffer of this
/// thread's, filled from the OS 4080 bytes (170 nonces) at a time: a run seals every event it
/// appends, and a system call per seal was a tenth of sealing. Each byte is used once, so the
/// nonces are exactly as random as the OS's; a nonce needs only never to repeat.
fn fresh_nonce() -> [u8; 24] {
    const POOL: usize = 24 * 170;
    thread_local! {
        static NONCES: std::cell::RefCell<([u8; POOL], usize)> = const { std::cell::RefCell::new(([0; POOL], POOL)) };
    }
    NONCES.with_borrow_mut(|(pool, used)| {
        if *used == POOL {
            rand_core::OsRng.fill_bytes(&mut pool[..]);
            *used = 0;
        }
        let nonce: [u8; 24] = pool[*used..*used + 24].try_into().expect("24 bytes");
        // Never handed out twice, not even after a panic elsewhere on this thread.
        pool[*used..*used + 24].fill(0);
        *used += 24;
        nonce
    })
}

/// Seals raw bytes at `place` under `key`: `nonce (24 random bytes) ‖ ciphertext ‖ tag`, for
/// what is not a JSON member (a stored read-model row).
pub fn seal_bytes(key: &Secret, place: &Place, plaintext: &[u8]) -> Vec<u8> {
    let nonce = fresh_nonce();
    let aad = place.associated_data();
    let ct =
        XChaCha20Poly1305::new((&key.0).into()).encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: &aad }).expect("encryption of a bounded message");
    [nonce.as_slice(), &ct].concat()
}

/// Opens what [`seal_bytes`] made at `place` under `key`.
pub fn open_bytes(key: &Secret, place: &Place, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < 24 + 16 {
        return Err(SealError::Malformed(format!("{} bytes are too few for a nonce and a tag", sealed.len())));
    }
    let nonce: [u8; 24] = sealed[..24].try_into().expect("length checked");
    let aad = place.associated_data();
    XChaCha20Poly1305::new((&key.0).into()).decrypt(&XNonce::from(nonce), Payload { msg: &sealed[24..], aad: &aad }).map_err(|_| SealError::DoesNotOpen)
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

/// Whether `text` is an IIN: 12 digits, a real birth date under a century-and-sex digit of 1
/// to 6, and the check digit (`algorithm.md` decision 8). What a seal must never leave in the
/// clear.
pub fn is_iin(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 12 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = b.iter().map(|c| (c - b'0') as u32).collect();
    let century = match d[6] {
        1 | 2 => 1800,
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return false,
    };
    let (y, m, day) = (century + d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || day == 0 || day > days[m as usize - 1] {
        return false;
    }
    let weighted = |w: &dyn Fn(u32) -> u32| d[..11].iter().enumerate().map(|(i, x)| w(i as u32) * x).sum::<u32>() % 11;
    let mut check = weighted(&|i| i + 1);
    if check == 10 {
        check = weighted(&|i| (i + 2) % 11 + 1);
    }
    check != 10 && check == d[11]
}

/// Where `text` has a run of exactly 12 ASCII digits (no digit either side): what an IIN
/// looks like, whether its check digit holds or not.
pub fn twelve_digit_runs(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if !b[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 12 {
                return Some(start..i);
            }
        }
        None
    })
}

/// The IINs in `text`: runs of exactly 12 digits (no digit either side) that are IINs.
pub fn iins_in(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    twelve_digit_runs(text).filter(|r| is_iin(&text[r.clone()]))
}

/// Members of a person's event data that are not personal: kept in the clear beside its seal
/// (as `clear`), so that counts and the shape of a run survive his erasure.
pub const CLEAR_MEMBERS: &[&str] = &[
    "run",
    "procedure",
    "step",
    "clause",
    "verdict",
    "outcome",
    "registry",
    "kind",
    "attempt",
    "list_page",
    "appeal",
    "simulation",
    "evidence",
    "proposal",
    "decision",
    "from_step",
    "rule_set_sha256",
    "part",
    "parts",
    "position",
];

/// Whether a member's value is plain enough to stand in the clear: a scalar, or a list of
/// numbers (seqs). A member of the same name holding a structure (a decision with its
/// official) is sealed with the rest.
fn plain(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().all(Value::is_number),
        Value::Object(_) => false,
        _ => true,
    }
}

/// The person (as written) whose key seals a whole event, if one: the person a `person:`
/// stream names, an IIN in the stream's name (a notice's), or the event's `iin` (an appeal's),
/// or `holder_id` (a token's holder). An event of nobody in particular (a run's, the reads
/// log) has its persons' parts sealed one by one.
pub fn subject_of(stream: &str, data: &Value) -> Option<String> {
    if let Some(iin) = stream.strip_prefix("person:") {
        return Some(iin.to_string());
    }
    if let Some(r) = iins_in(stream).next() {
        return Some(stream[r].to_string());
    }
    let entry = data.get("entry").and_then(|e| e.get("iin"));
    ["iin", "holder_id"].iter().filter_map(|k| data.get(k)).chain(entry).find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
}

/// The stream as stored: a person's stream names his blind id, and every IIN in another
/// stream's name (a notice's) is replaced by its blind id.
pub fn stored_stream(index_key: &Secret, stream: &str) -> String {
    stream_with(stream, &|iin| blind_id(index_key, iin))
}

/// `stream` with its person's IIN (a `person:` stream's), or every IIN in it, replaced by what
/// `blind` gives.
fn stream_with(stream: &str, blind: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(stream.len() + 24);
    if let Some(iin) = stream.strip_prefix("person:") {
        out.push_str("person:");
        out.push_str(&blind(iin));
        return out;
    }
    let mut at = 0;
    for r in iins_in(stream) {
        out.push_str(&stream[at..r.start]);
        out.push_str(&blind(&stream[r.clone()]));
        at = r.end;
    }
    out.push_str(&stream[at..]);
    out
}

/// A part of a many-person event that belongs to one person: an object with an `iin` member
/// (a list entry, even one whose IIN fails its check), an object member named by an IIN (a
/// decision keyed by its person), or an IIN in a list (the persons asked about, or read).
/// `f` gets the person as written, the part's member path and the part, and gives what stands
/// in its place. Everything else is walked into.
fn walk_parts(v: &mut Value, path: &str, f: &mut dyn FnMut(&str, Member, Value) -> Result<Value, SealError>) -> Result<(), SealError> {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let at = format!("{path}.{i}");
                let person = match &*item {
                    Value::String(s) if is_iin(s) => Some(s.clone()),
                    Value::Object(m) => m.get("iin").and_then(Value::as_str).map(str::to_string),
                    _ => None,
                };
                match person {
                    Some(p) => *item = f(&p, Member::At(&at), item.take())?,
                    None => walk_parts(item, &at, f)?,
                }
            }
        }
        Value::Object(map) => {
            let keyed: Vec<String> = map.keys().filter(|k| is_iin(k)).cloned().collect();
            for (k, item) in map.iter_mut() {
                if Seal::is_seal(item) || keyed.contains(k) {
                    continue;
                }
                let at = format!("{path}.{k}");
                match item.get("iin").and_then(Value::as_str).map(str::to_string) {
                    Some(p) if item.is_object() => *item = f(&p, Member::At(&at), item.take())?,
                    _ => walk_parts(item, &at, f)?,
                }
            }
            for k in keyed {
                let value = map.remove(&k).expect("listed above");
                let stood = f(&k, Member::Keyed(path), serde_json::json!({"key": k, "value": value}))?;
                // A sealed member is stored under the member's blind id, which its seal names.
                let name = stood.get("subject").and_then(Value::as_str).map_or_else(|| k.clone(), str::to_string);
                map.insert(name, stood);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Where a person's part of a many-person event stands: at a path, or as a member of the object
/// at a path named by the person (stored under his blind id, so its path ends in that).
#[derive(Clone, Copy)]
enum Member<'a> {
    At(&'a str),
    Keyed(&'a str),
}

/// Whether `text` shows an IIN. Hashes (32 or more hexadecimal digits) and blind ids (`p` and
/// 32 of them) are passed over: one may hold twelve digits by chance.
fn shows(text: &str) -> bool {
    if text.len() < 12 || text.bytes().filter(u8::is_ascii_digit).count() < 12 {
        return false;
    }
    let hex = |t: &str| t.len() >= 32 && t.bytes().all(|c| c.is_ascii_hexdigit());
    let blind = |t: &str| t.len() == 33 && t.starts_with('p') && hex(&t[1..]);
    text.split([':', '-', '/']).any(|t| !(hex(t) || blind(t)) && iins_in(t).next().is_some())
}

/// Where a stored value still shows an IIN outside a seal, if anywhere: a v2 event never does.
/// Long hexadecimal strings (hashes) are passed over: one may hold twelve digits by chance.
pub fn iin_in_clear(v: &Value, path: &str) -> Option<String> {
    // Found first without building paths (this runs on every event appended), then named.
    fn any(v: &Value) -> bool {
        match v {
            Value::String(s) => shows(s),
            Value::Array(items) => items.iter().any(any),
            Value::Object(_) if Seal::is_seal(v) => false,
            Value::Object(m) => m.iter().any(|(k, x)| shows(k) || any(x)),
            _ => false,
        }
    }
    if !any(v) {
        return None;
    }
    match v {
        Value::String(s) => shows(s).then(|| path.to_string()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| iin_in_clear(x, &format!("{path}.{i}"))),
        Value::Object(_) if Seal::is_seal(v) => None,
        Value::Object(m) => m.iter().find_map(|(k, x)| if shows(k) { Some(format!("{path}.{k}")) } else { iin_in_clear(x, &format!("{path}.{k}")) }),
        _ => None,
    }
}

/// The persons (as written) whose data keys sealing this event needs.
pub fn subjects(stream: &str, data: &Value) -> Vec<String> {
    if let Some(s) = subject_of(stream, data) {
        return vec![s];
    }
    let mut found = Vec::new();
    let mut copy = data.clone();
    let _ = walk_parts(&mut copy, "data", &mut |p, _, v| {
        found.push(p.to_string());
        Ok(v)
    });
    found
}

/// What seals a batch's personal data: the index key and the data keys of the batch's persons,
/// by blind id (fetched from the key store before the batch goes to the writer).
pub struct Protector {
    pub index_key: Secret,
    pub keys: std::collections::HashMap<String, Secret>,
    /// Blind ids already computed for the batch, by IIN: each event needs its person's for its
    /// stream and its seals, and an HMAC per use was a tenth of sealing.
    pub blind: std::collections::HashMap<String, String>,
}

impl Protector {
    /// The blind id of `iin`.
    fn blind(&self, iin: &str) -> String {
        self.blind.get(iin).cloned().unwrap_or_else(|| blind_id(&self.index_key, iin))
    }

    /// `stream` as stored (see [`stored_stream`]).
    pub fn stored_stream(&self, stream: &str) -> String {
        stream_with(stream, &|iin| self.blind(iin))
    }

    fn key(&self, blind: &str) -> Result<&Secret, crate::Error> {
        self.keys.get(blind).ok_or_else(|| crate::error::malformed("personal data", format!("no data key for {blind} in the batch")))
    }

    /// The stored stream and data of an event at `seq`: a person's event is sealed whole under
    /// his key, its non-personal members copied beside the seal; a many-person event has each
    /// person's part sealed under his key. Refused if an IIN would still show.
    pub fn protect(&self, format: &str, seq: u64, stream: &str, kind: &str, data: &Value) -> Result<crate::envelope::Stored, crate::Error> {
        let stored_stream = self.stored_stream(stream);
        let stored = match subject_of(stream, data) {
            Some(person) => {
                let subject = self.blind(&person);
                let place = Place { format, seq, stream: &stored_stream, kind, subject: &subject, member: "data" };
                // The data's own members, each looked up in the short list (not the list's
                // twenty-odd names each looked up in the data).
                let mut clear = serde_json::Map::new();
                for (k, v) in data.as_object().into_iter().flatten() {
                    if CLEAR_MEMBERS.contains(&k.as_str()) && plain(v) {
                        clear.insert(k.clone(), v.clone());
                    }
                }
                // The RFC 8785 text of `{"data": data, "stream": stream}`, written without a copy
                // of the data ("data" sorts before "stream").
                let mut plaintext = Vec::with_capacity(1024);
                plaintext.extend_from_slice(b"{\"data\":");
                crate::canonical::write_value(&mut plaintext, data)?;
                plaintext.extend_from_slice(b",\"stream\":");
                crate::canonical::write_str(&mut plaintext, stream);
                plaintext.push(b'}');
                let sealed = seal_text(self.key(&subject)?, &place, &plaintext);
                let mut stored = serde_json::Map::new();
                stored.insert("clear".into(), Value::Object(clear));
                stored.insert("sealed".into(), sealed.into_value());
                Value::Object(stored)
            }
            None => {
                let mut stored = data.clone();
                walk_parts(&mut stored, "data", &mut |person, member, part| {
                    let subject = self.blind(person);
                    let key = self.key(&subject).map_err(|e| SealError::Malformed(e.to_string()))?;
                    let member = match member {
                        Member::At(at) => at.to_string(),
                        Member::Keyed(parent) => format!("{parent}.{subject}"),
                    };
                    let place = Place { format, seq, stream: &stored_stream, kind, subject: &subject, member: &member };
                    Ok(seal(key, &place, &part).into_value())
                })
                .map_err(|e| crate::error::malformed("personal data", e))?;
                stored
            }
        };
        if let Some(at) = iin_in_clear(&stored, "data").or_else(|| shows(&stored_stream).then(|| "stream".to_string())) {
            return Err(crate::error::malformed("personal data", format!("{kind} at seq {seq} would show an IIN in the clear at {at}; nothing was written")));
        }
        Ok(crate::envelope::Stored { stream: stored_stream, data: stored })
    }
}

/// How an event came out of [`open_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opening {
    /// Nothing in it was sealed (a v1 event, or a v2 event with nothing personal).
    Clear,
    /// Every seal opened.
    Opened,
    /// These persons' seals stayed shut: their keys are destroyed (or not given).
    Shut(Vec<String>),
    /// A seal did not open under its person's key: the event was changed (its hash says so
    /// too, unless it was signed again). It is left as stored.
    Broken(String),
}

/// Whether an event of a v2 ledger is still sealed whole: its person's key was destroyed (or
/// not given). What is not his in it (its clear members) is all that can be read.
pub fn is_shut(ev: &crate::Event) -> bool {
    ev.format == crate::envelope::EVENT_FORMAT_V2 && ev.stored.is_none() && ev.data.get("sealed").is_some_and(Seal::is_seal)
}

/// The blind ids of the persons whose seals a stored event holds.
pub fn seal_subjects(data: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn find(v: &Value, out: &mut Vec<String>) {
        if Seal::is_seal(v) {
            if let Some(s) = v.get("subject").and_then(Value::as_str) {
                out.push(s.to_string());
            }
            return;
        }
        match v {
            Value::Array(items) => items.iter().for_each(|x| find(x, out)),
            Value::Object(m) => m.values().for_each(|x| find(x, out)),
            _ => {}
        }
    }
    find(data, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Opens a stored v2 event with the data keys `key` gives (by blind id; `None`: destroyed or
/// not given). A person's event opens whole, and its clear members must equal the opened ones;
/// a many-person event opens part by part, leaving shut the parts of persons without a key.
/// An error is a seal that does not open under its person's key: a changed event.
pub fn open_event(ev: &mut crate::Event, key: &dyn Fn(&str) -> Option<Secret>) -> Result<Opening, crate::Error> {
    if ev.format != crate::envelope::EVENT_FORMAT_V2 || ev.stored.is_some() {
        return Ok(if ev.stored.is_some() { Opening::Opened } else { Opening::Clear });
    }
    let bad = |detail: String| crate::error::malformed("sealed event", format!("seq {}: {detail}", ev.seq));
    let stream = ev.stream.clone();
    let format = ev.format.clone();
    if let (Some(clear), Some(sealed)) = (ev.data.get("clear").and_then(Value::as_object), ev.data.get("sealed").filter(|v| Seal::is_seal(v))) {
        let s = Seal::deserialize(sealed).map_err(|e| bad(e.to_string()))?;
        let Some(k) = key(&s.subject) else { return Ok(Opening::Shut(vec![s.subject])) };
        let p = Place { format: &format, seq: ev.seq, stream: &stream, kind: &ev.kind, subject: &s.subject, member: "data" };
        let opened = match open(&k, &p, &s) {
            Ok(o) => o,
            Err(e) => return Ok(Opening::Broken(format!("seq {}: {e}", ev.seq))),
        };
        // Taken apart, not copied: every read of a v2 ledger opens what it reads.
        let mut opened = match opened {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        let (Some(Value::String(o_stream)), Some(o_data)) = (opened.remove("stream"), opened.remove("data")) else {
            return Ok(Opening::Broken(format!("seq {}: the opened seal has no stream and data", ev.seq)));
        };
        if clear.iter().any(|(m, v)| o_data.get(m) != Some(v) || !plain(v)) || clear.keys().any(|m| !CLEAR_MEMBERS.contains(&m.as_str())) {
            return Ok(Opening::Broken(format!("seq {}: a clear member differs from the sealed one", ev.seq)));
        }
        let stored = crate::envelope::Stored { stream: std::mem::replace(&mut ev.stream, o_stream), data: std::mem::replace(&mut ev.data, o_data) };
        ev.stored = Some(Box::new(stored));
        return Ok(Opening::Opened);
    }
    let subjects = seal_subjects(&ev.data);
    if subjects.is_empty() {
        return Ok(Opening::Clear);
    }
    let mut shut = Vec::new();
    let mut opened = ev.data.clone();
    let walked = open_parts(&mut opened, "data", &mut |member, s: Seal| {
        let Some(k) = key(&s.subject) else {
            shut.push(s.subject.clone());
            return Ok(None);
        };
        let p = Place { format: &format, seq: ev.seq, stream: &stream, kind: &ev.kind, subject: &s.subject, member };
        open(&k, &p, &s).map(Some).map_err(|e| bad(format!("{member}: {e}")))
    });
    if let Err(e) = walked {
        return Ok(Opening::Broken(e.to_string()));
    }
    let stored = crate::envelope::Stored { stream: ev.stream.clone(), data: std::mem::replace(&mut ev.data, opened) };
    ev.stored = Some(Box::new(stored));
    shut.sort();
    shut.dedup();
    Ok(if shut.is_empty() { Opening::Opened } else { Opening::Shut(shut) })
}

/// Opens one part's seal at its member path: `None` leaves it shut.
type OpenPart<'a> = dyn FnMut(&str, Seal) -> Result<Option<Value>, crate::Error> + 'a;

/// Opens the seals of a many-person event's parts in place (`f` gives `None` to leave one
/// shut). A member named by its person's blind id holds `{"key", "value"}`: it is put back
/// under its key.
fn open_parts(v: &mut Value, path: &str, f: &mut OpenPart<'_>) -> Result<(), crate::Error> {
    let as_seal = |v: &Value| -> Option<Seal> { Seal::is_seal(v).then(|| Seal::deserialize(v).ok()).flatten() };
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let at = format!("{path}.{i}");
                match as_seal(item) {
                    Some(s) => {
                        if let Some(o) = f(&at, s)? {
                            *item = o;
                        }
                    }
                    None => open_parts(item, &at, f)?,
                }
            }
        }
        Value::Object(map) => {
            let names: Vec<String> = map.keys().cloned().collect();
            for name in names {
                let at = format!("{path}.{name}");
                let item = map.get_mut(&name).expect("listed");
                let Some(s) = as_seal(item) else {
                    open_parts(item, &at, f)?;
                    continue;
                };
                let keyed = name == s.subject;
                let Some(o) = f(&at, s)? else { continue };
                match (keyed, o.get("key").and_then(Value::as_str)) {
                    (true, Some(k)) => {
                        let k = k.to_string();
                        let value = o.get("value").cloned().unwrap_or(Value::Null);
                        map.remove(&name);
                        map.insert(k, value);
                    }
                    _ => *item = o,
                }
            }
        }
        _ => {}
    }
    Ok(())
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

    /// The portable Poly1305 is the one built (`.cargo/config.toml`), so the vector above ran on
    /// it: the backend the crate's audit covered, and the faster one here.
    #[test]
    fn poly1305_is_the_portable_backend() {
        let backend = if cfg!(poly1305_force_soft) { "portable" } else { "autodetected (AVX2 where the CPU has it)" };
        assert_eq!(backend, "portable", "built without .cargo/config.toml's --cfg poly1305_force_soft (is RUSTFLAGS set?)");
    }

    /// Nonces come from a per-thread buffer of OS random bytes: across many refills none is
    /// handed out twice, and none is the buffer's zeroed filler.
    #[test]
    fn nonces_never_repeat_across_refills() {
        let nonces: Vec<[u8; 24]> = (0..2000).map(|_| fresh_nonce()).collect();
        let distinct: std::collections::HashSet<_> = nonces.iter().collect();
        assert_eq!(distinct.len(), nonces.len());
        assert!(!nonces.contains(&[0; 24]));
        let other = std::thread::spawn(|| (0..500).map(|_| fresh_nonce()).collect::<Vec<_>>()).join().unwrap();
        assert!(other.iter().all(|n| !distinct.contains(n)), "another thread draws its own bytes");
    }

    /// The associated data, byte for byte as `docs/implementation/personal-data.md` gives it.
    #[test]
    fn associated_data_is_the_documented_bytes() {
        let p = Place { format: "housing-ledger/event/v2", seq: 4096, stream: "person:pab", kind: "CheckEvaluated", subject: "pab", member: "data.entries.3" };
        assert_eq!(
            String::from_utf8(p.associated_data()).unwrap(),
            "housing-ledger/seal/v2\nhousing-ledger/event/v2\n4096\nperson:pab\nCheckEvaluated\npab\ndata.entries.3\n"
        );
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

    fn protector(persons: &[&str]) -> Protector {
        let index_key = Secret([9; 32]);
        let keys = persons.iter().map(|p| (blind_id(&index_key, p), Secret::generate())).collect();
        Protector { index_key, keys, blind: Default::default() }
    }

    fn stored_event(p: &Protector, seq: u64, stream: &str, kind: &str, data: Value) -> crate::Event {
        let st = p.protect(crate::envelope::EVENT_FORMAT_V2, seq, stream, kind, &data).unwrap();
        crate::Event {
            format: crate::envelope::EVENT_FORMAT_V2.into(),
            seq,
            prev: String::new(),
            time: String::new(),
            stream: st.stream,
            stream_seq: 0,
            kind: kind.into(),
            data: st.data,
            key: String::new(),
            hash: String::new(),
            sig: String::new(),
            stored: None,
        }
    }

    /// A person's event: sealed whole under his key, its stream naming his blind id, its
    /// plain members beside the seal; it opens back to what was appended, and only under his key.
    #[test]
    fn a_persons_event_is_sealed_whole_and_opens_under_his_key() {
        let p = protector(&["850101300124"]);
        let data = json!({"run": "r1", "step": "6", "evidence": [3, 4], "decision": {"official": {"id": "870624487133"}}, "name": "Серікова"});
        let mut ev = stored_event(&p, 7, "person:850101300124", "CheckEvaluated", data.clone());
        let text = serde_json::to_string(&ev).unwrap();
        assert!(!text.contains("850101300124") && !text.contains("870624487133") && !text.contains("Серікова"), "{text}");
        assert_eq!(ev.data["clear"], json!({"run": "r1", "step": "6", "evidence": [3, 4]}), "a structure named like a plain member is sealed");
        assert_eq!(ev.stream, format!("person:{}", blind_id(&p.index_key, "850101300124")));
        let stored = ev.clone();
        assert_eq!(open_event(&mut ev.clone(), &|_| None).unwrap(), Opening::Shut(vec![blind_id(&p.index_key, "850101300124")]));
        assert_eq!(open_event(&mut ev, &|s| p.keys.get(s).cloned()).unwrap(), Opening::Opened);
        assert_eq!((ev.stream.as_str(), &ev.data), ("person:850101300124", &data));
        assert_eq!((ev.stored_stream(), ev.stored_data()), (stored.stream.as_str(), &stored.data));
        // What a fold is handed: the opened event without its stored form.
        let copy = ev.opened_copy();
        assert_eq!((copy.stream.as_str(), &copy.data, copy.seq, copy.stored.is_none()), ("person:850101300124", &data, 7, true));
        // Blind ids handed in with the keys name the same streams as those computed.
        let mut with_ids = protector(&[]);
        with_ids.keys = p.keys.clone();
        with_ids.blind.insert("850101300124".into(), blind_id(&p.index_key, "850101300124"));
        assert_eq!(with_ids.stored_stream("person:850101300124"), stored.stream);
        assert_eq!(
            with_ids.protect(crate::envelope::EVENT_FORMAT_V2, 7, "person:850101300124", "CheckEvaluated", &data).unwrap().data["sealed"]["subject"],
            stored.data["sealed"]["subject"]
        );
        let mut moved = stored.clone();
        moved.seq = 8;
        assert!(matches!(open_event(&mut moved, &|s| p.keys.get(s).cloned()).unwrap(), Opening::Broken(_)), "a seal moved to another seq");
        let mut lied = stored;
        lied.data["clear"]["step"] = json!("7");
        assert!(matches!(open_event(&mut lied, &|s| p.keys.get(s).cloned()).unwrap(), Opening::Broken(_)), "a clear member that differs from the sealed one");
    }

    /// A many-person event (a list page, a decision batch keyed by person, the persons asked
    /// about): each person's part is sealed under his own key, so one erased leaves the others
    /// readable.
    #[test]
    fn a_many_person_event_is_sealed_part_by_part() {
        let (a, b) = ("850101300124", "870624487133");
        let p = protector(&[a, b, "12345"]);
        let data = json!({"run": "r1", "answer": {"subjects": [a, b], "records": {
            "entries": [{"iin": a, "surname": "Серікова"}, {"iin": b, "surname": "Ахметов"}, {"iin": "12345", "surname": "Бекова"}],
            a: {"outcome": "confirmed"}, "next_page": 2}}});
        let ev = stored_event(&p, 3, "run:r1", "RegistryResponded", data.clone());
        let text = serde_json::to_string(&ev).unwrap();
        for secret in [a, b, "Серікова", "Ахметов", "Бекова"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(ev.data["answer"]["records"]["next_page"], 2, "what is nobody's stays in the clear");
        let mut all = ev.clone();
        assert_eq!(open_event(&mut all, &|s| p.keys.get(s).cloned()).unwrap(), Opening::Opened);
        assert_eq!(all.data, data);
        let (ba, bb) = (blind_id(&p.index_key, a), blind_id(&p.index_key, b));
        let mut without_b = ev.clone();
        let opening = open_event(&mut without_b, &|s| (s != bb).then(|| p.keys.get(s).cloned()).flatten()).unwrap();
        assert_eq!(opening, Opening::Shut(vec![bb.clone()]));
        assert_eq!(without_b.data["answer"]["records"]["entries"][0]["surname"], "Серікова");
        assert_eq!(without_b.data["answer"]["records"][a], json!({"outcome": "confirmed"}));
        assert!(Seal::is_seal(&without_b.data["answer"]["records"]["entries"][1]), "his entry stays sealed");
        assert_eq!(seal_subjects(&ev.data).len(), 3);
        assert!(seal_subjects(&ev.data).contains(&ba));
    }

    /// Nothing leaves an IIN in the clear: an event that would is refused, naming where.
    #[test]
    fn an_iin_left_in_the_clear_is_refused() {
        let p = protector(&[]);
        let err = p.protect(crate::envelope::EVENT_FORMAT_V2, 1, "run:r1", "RunFinished", &json!({"note": "see 850101300124"})).unwrap_err();
        assert!(err.to_string().contains("data.note"), "{err}");
        assert!(p.protect(crate::envelope::EVENT_FORMAT_V2, 1, "run:r1", "RunFinished", &json!({"counts": {"removed": 850101}})).is_ok());
    }

    #[test]
    fn iins_are_told_from_other_digits() {
        assert!(is_iin("850101300124") && is_iin("870624487133"));
        assert!(!is_iin("850101300125"), "check digit");
        assert!(!is_iin("851301300123"), "month 13");
        assert!(!is_iin("850101700123"), "century digit 7");
        // A blind id or a hash holding twelve digits by chance is not an IIN in the clear.
        assert!(!shows("person:p850101300124aaaaaaaaaaaaaaaaaaaa") && !shows(&format!("{}850101300124", "a".repeat(40))));
        assert!(shows("notice:2026-01-15-rr-1a2b3c4d-850101300124"));
    }
}
