//! Embeds every rule-set file under `rules/` so that a new order is a new file, not code.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("rules/ exists").map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    let mut out = String::from("[\n");
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        out.push_str(&format!("    ({:?}, include_str!({:?})),\n", f.file_name().unwrap().to_str().unwrap(), f.display().to_string()));
    }
    out.push(']');
    std::fs::write(std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("rule_sets.rs"), out).unwrap();
}
