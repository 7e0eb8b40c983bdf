//! Embeds every rule-set file under `rules/` so that a new order is a new file, not code; and,
//! apart, the retention rules (`rules/retention-*.json`), of which the newest is in force.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("rules/ exists").map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    let retention = |f: &std::path::PathBuf| f.file_name().unwrap().to_str().unwrap().starts_with("retention-");
    let list = |files: &mut dyn Iterator<Item = &std::path::PathBuf>| {
        let mut out = String::from("[\n");
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            out.push_str(&format!("    ({:?}, include_str!({:?})),\n", f.file_name().unwrap().to_str().unwrap(), f.display().to_string()));
        }
        out.push(']');
        out
    };
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out_dir.join("rule_sets.rs"), list(&mut files.iter().filter(|f| !retention(f)))).unwrap();
    std::fs::write(out_dir.join("retention_rules.rs"), list(&mut files.iter().filter(|f| retention(f)))).unwrap();
}
