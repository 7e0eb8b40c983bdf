//! The slow and external integration tests, in a second binary: the officer's pages in a real
//! browser (Chromium through ChromeDriver), crashes mid-run and resumption, the real binary in
//! separate processes, and the README's PostgreSQL section followed as written.

#[path = "../it/common/mod.rs"]
mod common;

mod browser;
mod crash;
mod processes;
mod readme;
mod security_feed;
