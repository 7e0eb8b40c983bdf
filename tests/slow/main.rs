//! The slow and external integration tests, in a second binary: the officer's pages in a real
//! browser (Chromium through ChromeDriver), crashes mid-run and resumption, and the real binary
//! in separate processes.

#[path = "../it/common/mod.rs"]
mod common;

mod browser;
mod crash;
mod processes;
mod security_feed;
