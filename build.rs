//! Embeds the retention rules (`rules/retention-*.json`), of which the newest is in force. The
//! rule sets beside them are the verifier's (`verifier/build.rs`).
include!("build-support/embed.rs");

fn main() {
    embed(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"), "retention_rules.rs", |name| name.starts_with("retention-"));
}
