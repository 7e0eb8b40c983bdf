//! RFC 8785 (JCS) canonical form. A thin wrapper so that every caller canonicalises the same way;
//! the canonicaliser itself is `serde_json_canonicalizer`, checked against the cyberphone vectors.
//!
//! Event data is canonicalised several times per event (hashing, signing, storing), and the
//! canonicaliser buffers and re-sorts every object through boxed writers. For the common
//! `Value` whose compact serde_json form is provably the same bytes (see [`serde_json_writes_jcs`])
//! serde_json writes it directly; anything else goes to the canonicaliser. A property test checks
//! the two paths agree on arbitrary values, keys and strings.

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest integer ECMAScript holds exactly; within it a number prints as plain digits.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The RFC 8785 canonical bytes of any serialisable value.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| Error::Canonical(e.to_string()))
}

/// The RFC 8785 canonical text of any serialisable value.
pub fn to_string<T: Serialize>(value: &T) -> Result<String> {
    serde_json_canonicalizer::to_string(value).map_err(|e| Error::Canonical(e.to_string()))
}

/// SHA-256 of the canonical form.
pub fn sha256<T: Serialize>(value: &T) -> Result<[u8; 32]> {
    Ok(Sha256::digest(to_vec(value)?).into())
}

/// The RFC 8785 canonical bytes of a JSON value, the same as [`to_vec`] gives, but written
/// straight by serde_json when that is the same bytes.
pub fn value_to_vec(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    write_value(&mut out, value)?;
    Ok(out)
}

/// Appends the RFC 8785 form of a JSON value to `out` (see [`value_to_vec`]), so that a caller
/// building a larger text does not copy it from a buffer of its own.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    if serde_json_writes_jcs(value) {
        serde_json::to_writer(&mut *out, value).map_err(|e| Error::Canonical(e.to_string()))
    } else {
        out.extend_from_slice(&to_vec(value)?);
        Ok(())
    }
}

/// Appends the RFC 8785 form of a string to `out`. serde_json escapes exactly as RFC 8785
/// §3.2.2.2 does (`\"`, `\\`, `\b \t \n \f \r`, other controls as lowercase `\u00xx`, nothing
/// else). Most strings of an envelope (hex, base64, names) have nothing to escape and are
/// copied between quotes as they are.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // Checked without stopping early, so that the loop vectorises.
    if s.bytes().fold(true, |plain, b| plain & (b >= 0x20) & (b != b'"') & (b != b'\\')) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, s).expect("a str always serialises");
    }
}

/// For an integer, whether it lies within ±2^53 (where an IEEE double holds it exactly);
/// `None` for a number with a fraction or exponent.
pub fn safe_integer(n: &serde_json::Number) -> Option<bool> {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => Some(u <= MAX_SAFE_INTEGER),
        (None, Some(i)) => Some(i.unsigned_abs() <= MAX_SAFE_INTEGER),
        _ => None,
    }
}

/// Whether serde_json's compact form of `v` is its RFC 8785 form. Strings are escaped alike (see
/// [`write_str`]). Objects: RFC 8785 orders keys by UTF-16 code units; a map written in strictly
/// ascending UTF-8 order with no key character at U+E000 or above is in that order too, since
/// below U+E000 every character is one UTF-16 unit equal to its code point. Numbers: an integer
/// within ±2^53 prints as its digits in ECMAScript; any other number goes to the canonicaliser.
fn serde_json_writes_jcs(v: &Value) -> bool {
    match v {
        Value::Number(n) => safe_integer(n) == Some(true),
        Value::Array(items) => items.iter().all(serde_json_writes_jcs),
        Value::Object(map) => {
            let mut prev: Option<&str> = None;
            map.iter().all(|(k, x)| {
                let ascending = prev.is_none_or(|p| p < k.as_str());
                prev = Some(k);
                ascending && below_e000(k) && serde_json_writes_jcs(x)
            })
        }
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// Whether every character of `k` is below U+E000: in UTF-8 exactly when no byte is 0xEE or
/// above (U+E000 is EE 80 80; continuation bytes are below 0xC0). Checked without stopping
/// early, so that the loop vectorises.
fn below_e000(k: &str) -> bool {
    k.bytes().fold(true, |below, b| below & (b < 0xEE))
}
