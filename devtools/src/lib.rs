//! Demo and measurement tooling, out of the service: the registry simulator (`sim`, over HTTP
//! `sim_http`, and as the government gateway `shep_sim`), the synthetic population the demo
//! and the benches run on (`population`), the benches (`bench`) and the throwaway PKI of
//! `demo --shep` (`gateway_pki`).
//!
//! The service library (`housing_ledger`) does not depend on this crate; the compiler keeps
//! it so (the dependency runs from here to the service, and Cargo refuses a cycle). The
//! `housing-ledger` binary does, for `demo`, `registry-sim`, `bench` and the `fixture:` and
//! `synthetic:` sources of a simulation; and the tests do.

pub mod bench;
pub mod gateway_pki;
pub mod population;
pub mod shep_sim;
pub mod sim;
pub mod sim_http;
