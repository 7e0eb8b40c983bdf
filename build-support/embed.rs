// Shared by the build scripts of the service and of the verifier (`include!`d): writes
// `OUT_DIR/<out>`, an array of `(file name, include_str!(file))` of the JSON files in `dir`
// that `keep` keeps, in name order, and asks to be run again when any changes.
fn embed(dir: &std::path::Path, out: &str, keep: impl Fn(&str) -> bool) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("rules/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && keep(p.file_name().unwrap().to_str().unwrap()))
        .collect();
    files.sort();
    let mut text = String::from("[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        text.push_str(&format!("    ({:?}, include_str!({:?})),\n", f.file_name().unwrap().to_str().unwrap(), f.display().to_string()));
    }
    text.push(']');
    std::fs::write(std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join(out), text).unwrap();
}
