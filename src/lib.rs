//! housing-ledger: the service library (store, ledger, API). The binary in `main.rs` is a thin
//! command line over it.

pub mod algorithm_register;
pub mod api;
pub mod app;
pub mod appeal;
pub mod audit;
pub mod auth;
pub mod bounded;
pub mod cli;
pub mod config;
pub mod cosigners;
pub mod disclosure;
pub mod erasure;
pub mod keystore;
pub mod ledger;
pub mod metrics;
pub mod pipeline;
pub mod private_files;
pub mod proof;
pub mod read_models;
pub mod reads;
pub mod registry;
pub mod retention;
pub mod sealing;
pub mod security;
pub mod server;
pub mod state;
pub mod store;
pub mod timestamp;
pub mod verification;
pub mod web;
pub mod witness;

pub use app::app;
/// The rules and the PKI are the verifier's, which an auditor builds without the service.
pub use verifier::{pki, rules};
