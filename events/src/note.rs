//! C2SP signed notes and tlog checkpoints.
//!
//! A note is text ending in a newline, a blank line, then signature lines
//! `— <name> <base64(4-byte key id ‖ 64-byte signature)>`; the signature covers the text.

use crate::error::{Error, Result};
use crate::keys::{LedgerSigner, VerifierKey};
use crate::merkle::Hash;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

const SIG_PREFIX: &str = "\u{2014} ";

/// Signs `text` (which must end in a newline) as a note with one signature.
pub fn sign(text: &str, signer: &LedgerSigner) -> Result<String> {
    if !text.ends_with('\n') || text.contains("\n\n") || text.is_empty() {
        return Err(Error::Note("note text must be non-empty, end in a newline and hold no blank line".into()));
    }
    Ok(format!("{text}\n{}", signature_line(text, signer)))
}

/// One signature line for `text`.
pub fn signature_line(text: &str, signer: &LedgerSigner) -> String {
    let mut blob = signer.id().to_vec();
    blob.extend_from_slice(&signer.sign(text.as_bytes()));
    format!("{SIG_PREFIX}{} {}\n", signer.name(), B64.encode(blob))
}

/// A signature line of a note: the signer's name, its key id, the signature bytes.
pub type SignatureLine = (String, [u8; 4], Vec<u8>);

/// Splits a signed note into its text and its signature lines.
pub fn split(note: &str) -> Result<(&str, Vec<SignatureLine>)> {
    let at = note.rfind("\n\n").ok_or_else(|| Error::Note("no blank line before the signatures".into()))?;
    let (text, sigs) = (&note[..at + 1], &note[at + 2..]);
    if !sigs.ends_with('\n') {
        return Err(Error::Note("signature block does not end in a newline".into()));
    }
    let mut out = Vec::new();
    for line in sigs[..sigs.len() - 1].split('\n') {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| Error::Note(format!("bad signature line {line:?}")))?;
        let (name, b64) = rest.split_once(' ').ok_or_else(|| Error::Note(format!("bad signature line {line:?}")))?;
        let blob = B64.decode(b64).map_err(|e| Error::Note(format!("signature of {name}: {e}")))?;
        if blob.len() < 5 {
            return Err(Error::Note(format!("signature of {name} is too short")));
        }
        out.push((name.to_string(), blob[..4].try_into().expect("length checked"), blob[4..].to_vec()));
    }
    if out.is_empty() {
        return Err(Error::Note("no signatures".into()));
    }
    Ok((text, out))
}

/// Verifies `note` against `key`: a line with the key's name and id must carry a valid signature.
/// Returns the note's text.
pub fn verify<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str> {
    let (text, sigs) = split(note)?;
    let mine = sigs
        .iter()
        .find(|(name, id, _)| *name == key.name && *id == key.id)
        .ok_or_else(|| Error::Note(format!("no signature by {}+{}", key.name, key.id_hex())))?;
    key.verify(text.as_bytes(), &mine.2)?;
    Ok(text)
}

/// The body of a C2SP tlog checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The root of the stream-head map at `size` (extension line `stream-heads <base64>`,
    /// [`crate::heads`]); `None` in checkpoints signed before it existed.
    pub heads: Option<Hash>,
}

impl Checkpoint {
    pub fn body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        if let Some(h) = self.heads {
            body.push_str(&format!("{} {}\n", crate::heads::EXTENSION, B64.encode(h)));
        }
        body
    }

    pub fn sign(&self, signer: &LedgerSigner) -> Result<String> {
        sign(&self.body(), signer)
    }

    /// Parses a checkpoint body (origin, decimal size, base64 root, then extension lines: the
    /// stream-head map's root is read, at most once; other extension lines are ignored).
    pub fn parse_body(text: &str) -> Result<Self> {
        let mut lines = text.split('\n');
        let bad = |what: &str| Error::Note(format!("checkpoint: {what}"));
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or_else(|| bad("no origin line"))?;
        let size_line = lines.next().ok_or_else(|| bad("no size line"))?;
        if size_line.is_empty() || (size_line.len() > 1 && size_line.starts_with('0')) || !size_line.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("size is not a decimal number"));
        }
        let size = size_line.parse().map_err(|_| bad("size is out of range"))?;
        let root = B64.decode(lines.next().ok_or_else(|| bad("no root line"))?).map_err(|_| bad("root is not base64"))?;
        let root = root.try_into().map_err(|_| bad("root is not 32 bytes"))?;
        let mut heads = None;
        for line in lines.filter(|l| !l.is_empty()) {
            let Some(b64) = line.strip_prefix(crate::heads::EXTENSION).and_then(|r| r.strip_prefix(' ')) else { continue };
            let h = B64.decode(b64).ok().and_then(|h| h.try_into().ok()).ok_or_else(|| bad("the stream-heads root is not 32 bytes of base64"))?;
            if heads.replace(h).is_some() {
                return Err(bad("two stream-heads lines"));
            }
        }
        Ok(Self { origin: origin.to_string(), size, root, heads })
    }

    /// Verifies a signed checkpoint note and parses it.
    pub fn verify_note(note: &str, key: &VerifierKey) -> Result<Self> {
        let cp = Self::parse_body(verify(note, key)?)?;
        if cp.origin != key.name {
            return Err(Error::Note(format!("checkpoint origin {:?} is not the key's name {:?}", cp.origin, key.name)));
        }
        Ok(cp)
    }
}
