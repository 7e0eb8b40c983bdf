//! Demo and measurement tooling, kept out of the production modules' way: the synthetic
//! population (`population`) the demo and the benchmarks run on, the benchmarks themselves
//! (`bench`), and the throwaway PKI of `demo --shep` (`gateway_pki`). Nothing in the service
//! depends on them; the registry simulator they drive is `registry::sim` (and `registry::shep::sim`),
//! behind the same `Registries` trait as the real registries.

pub mod bench;
pub mod gateway_pki;
pub mod population;
