//! The registries as the state really reaches them: the e-government gateway's (ШЭП) SOAP
//! synchronous channel. The messages, their WS-Security signatures and the JSON-in-XML they
//! carry are the verifier's (`verifier::registry::shep`), which re-checks stored envelopes
//! offline; `client` asks the gateway (the gateway simulator is `devtools::shep_sim`).

pub mod client;

pub use verifier::registry::shep::*;

/// A fresh message id: 128 random bits, as a UUID's text.
pub fn message_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}
