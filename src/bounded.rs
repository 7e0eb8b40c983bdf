//! Every body the service reads from a peer is bounded (issue 35, F11 and F12): a witness, a
//! time-stamp authority, a registry, an OCSP responder or a CRL's server may answer anything,
//! so each answer is read chunk by chunk up to a limit that fits its purpose, and refused past
//! it without being held whole. Text from outside that goes into the append-only ledger (a
//! witness's refusal, a delivery's receipt) is cut to [`LEDGER_TEXT`] bytes and says so.

/// A witness's answer: a cosignature line is under 200 bytes, a refusal a few KB.
pub const WITNESS_ANSWER: usize = 16 * 1024;
/// A time-stamp authority's reply: a token with its certificates.
pub const TSA_REPLY: usize = 256 * 1024;
/// Text from a peer recorded in the ledger, at most.
pub const LEDGER_TEXT: usize = 1024;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("{0}")]
    Read(#[from] reqwest::Error),
}

/// The body of `resp`, at most `max` bytes: refused as soon as it says or shows more.
pub async fn read(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    let too_large = |resp: &reqwest::Response| {
        // The peer by host and port only: a URL's path or query may name a person.
        let peer = format!("{}:{}", resp.url().host_str().unwrap_or("?"), resp.url().port_or_known_default().unwrap_or(0));
        crate::security::limit_hit("an answer from a peer", &peer, max as u64);
        BodyError::TooLarge { max }
    };
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large(&resp));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > max {
            return Err(too_large(&resp));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body of `resp` as text (lossy), at most `max` bytes.
pub async fn read_text(resp: reqwest::Response, max: usize) -> Result<String, BodyError> {
    Ok(String::from_utf8_lossy(&read(resp, max).await?).into_owned())
}

/// `text` as the ledger keeps text from outside: at most [`LEDGER_TEXT`] bytes, cut on a
/// character boundary and marked with the length it had.
pub fn for_ledger(text: &str) -> String {
    if text.len() <= LEDGER_TEXT {
        return text.to_string();
    }
    let mut end = LEDGER_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated: {} bytes in all]", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_text_is_cut_on_a_character_boundary_and_marked() {
        assert_eq!(for_ledger("short"), "short");
        let long = "ж".repeat(1000);
        let cut = for_ledger(&long);
        assert!(cut.ends_with("… [truncated: 2000 bytes in all]"), "{cut}");
        assert!(cut.len() < LEDGER_TEXT + 40);
    }
}
