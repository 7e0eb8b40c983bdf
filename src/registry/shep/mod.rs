//! The registries as the state really reaches them: the e-government gateway's (ШЭП) SOAP
//! synchronous channel, its responses signed with WS-Security (`docs/sources.md`, "The
//! government gateway"). `envelope` writes and reads the messages, `wsse` checks and makes
//! their signatures, `json_xml` carries our data in them.

pub mod envelope;
pub mod json_xml;
pub mod wsse;
