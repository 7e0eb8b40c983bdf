//! Embeds every rule-set file under the workspace's `rules/` so that a new order is a new file,
//! not code. The retention rules (`rules/retention-*.json`) are the service's, not the rules'.
include!("../build-support/embed.rs");

fn main() {
    embed(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules"), "rule_sets.rs", |name| !name.starts_with("retention-"));
}
