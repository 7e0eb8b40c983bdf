//! The auditor's verifier of housing-ledger: the rules (the step machine, the checks, the rule
//! sets, the calendar), the registry answers and their trust (trust lists, the national PKI,
//! gateway envelopes), time-stamps, and the offline check of proof bundles and case files.
//!
//! It depends on no storage, server, HTTP client or async runtime, so the compiler keeps that
//! boundary: an auditor builds this crate (or its `housing-ledger-verify` binary, or its
//! WebAssembly page) without the service. The service re-exports these modules and calls the
//! same code.

pub mod pki;
pub mod proof;
pub mod registry;
pub mod report;
pub mod rules;
pub mod timestamp;
pub(crate) mod view;
