//! The integration tests, in one binary (one link instead of fourteen): the store contract on
//! SQLite and PostgreSQL, the API and pages with `oneshot`, scenarios, appeals, proofs, replay,
//! registries over HTTP, witnesses, time-stamps, server limits and the tidy conventions. The
//! slow and external ones (browser, crash, processes) are in `tests/slow`.

mod common;

mod algorithm_register;
mod api_ledger;
mod appeals;
mod audit;
mod bench_guard;
mod catalogue;
mod config_file;
mod http_registries;
mod key_store;
mod legal_edges;
mod notices;
mod peer_limits;
mod personal_data;
mod pki;
mod proof_bundles;
mod replay;
mod rules_and_fixtures;
mod scenarios;
mod security_feed;
mod server_limits;
mod shep;
mod sources;
mod standalone_verifier;
mod store_contract;
mod stream_heads;
mod tidy;
mod timestamps;
mod web_pages;
mod witnesses;
