//! Demo and measurement tooling, kept out of the production modules' way: the synthetic
//! population (`population`) the demo and the benchmarks run on, and the benchmarks themselves
//! (`bench`). Nothing in the service depends on them; the registry simulator they drive is
//! `registry::sim`, behind the same `Registries` trait as the real registries.

pub mod bench;
pub mod gateway_pki;
pub mod population;
