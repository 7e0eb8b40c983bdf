//! Conventions, enforced by `cargo test`: every module opens with a `//!` doc saying what it
//! is for; `anyhow` stays in the binary; the library crates know no database or server.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources(dirs: &[&str]) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for d in dirs {
        let p = root().join(d);
        if p.is_dir() {
            rust_files(&p, &mut files);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn every_module_has_a_doc_comment() {
    let missing: Vec<_> = sources(&[
        "src",
        "devtools/src",
        "events/src",
        "events/tests",
        "projections/src",
        "verifier/src",
        "verifier/tests",
        "verifier/wasm/src",
        "verifier/wasm/tests",
        "tests",
    ])
    .into_iter()
    .filter(|(_, text)| !text.trim_start().starts_with("//!"))
    .map(|(p, _)| p.strip_prefix(root()).unwrap().display().to_string())
    .collect();
    assert!(missing.is_empty(), "these modules need a `//!` doc saying what they are for: {missing:?}");
}

#[test]
fn anyhow_only_in_the_binary() {
    let offenders: Vec<_> = sources(&["src", "devtools/src", "events/src", "projections/src", "verifier/src"])
        .into_iter()
        // The binary: main.rs and its commands under src/cmd/; and the benches, a tool that
        // reports to it.
        .filter(|(p, text)| {
            !p.ends_with("main.rs") && !p.starts_with(root().join("src/cmd")) && !p.ends_with("devtools/src/bench.rs") && text.contains("anyhow::")
        })
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "anyhow belongs to the binary; use the crate's error type: {offenders:?}");
}

#[test]
fn events_and_projections_know_no_database_or_server() {
    for (p, text) in sources(&["events/src", "projections/src"]) {
        for word in ["sqlx", "axum", "tokio"] {
            assert!(!text.contains(word), "{} mentions {word}: the events and projections crates stay pure", p.display());
        }
    }
    for manifest in ["events/Cargo.toml", "projections/Cargo.toml"] {
        let text = std::fs::read_to_string(root().join(manifest)).unwrap();
        for word in ["sqlx", "axum", "tokio"] {
            assert!(!text.contains(word), "{manifest} depends on {word}");
        }
    }
}

/// The packages `package` links in a normal build (`cargo tree -e normal`), by name.
fn linked(package: &str) -> std::collections::BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// Issue 33: the rules and the offline verifier are a crate of their own, and the compiler keeps
/// the boundary: nothing it links is storage, a server, an HTTP client or an async runtime
/// (`cargo tree`, so a path through an error type, `ProofError` → `LedgerError` →
/// `sqlx::Error`, is caught where a text search was not).
#[test]
fn the_verifier_links_no_storage_server_or_runtime() {
    let names = linked("verifier");
    let names: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
    assert!(names.contains("events") && names.contains("x509-cert"), "cargo tree did not list the verifier's dependencies: {names:?}");
    let forbidden: Vec<&&str> = names
        .iter()
        .filter(|n| {
            ["sqlx", "axum", "tokio", "hyper", "reqwest", "maud", "housing-ledger", "libsqlite3-sys", "async-trait"].contains(n) || n.starts_with("sqlx-")
        })
        .collect();
    assert!(forbidden.is_empty(), "the verifier links {forbidden:?}");
}

/// Dependencies run one way (ARCHITECTURE.md): each place and what it must not name.
#[test]
fn dependencies_run_one_way() {
    let rules: &[(&str, &[&str])] = &[
        // The rules judge answers: they know no registry (the verifier's crate keeps the rest).
        ("verifier/src/rules", &["crate::registry", "crate::proof", "crate::report"]),
        // Storage knows no law.
        ("src/store", &["crate::rules", "crate::pipeline", "crate::appeal", "crate::api", "crate::web", "projections::"]),
        // The API does not know the pages (the pages may use the API's errors).
        ("src/api", &["crate::web"]),
        ("src/state.rs", &["crate::web", "crate::api"]),
        ("src/reads.rs", &["crate::web", "crate::api"]),
        // The dev tools are a crate the service library cannot name (`the_service_links_no_dev_tools`).
    ];
    let mut offenders = Vec::new();
    for (place, words) in rules {
        let path = root().join(place);
        let files = if path.is_dir() { sources(&[place]) } else { vec![(path.clone(), std::fs::read_to_string(&path).unwrap())] };
        assert!(!files.is_empty(), "{place}: no sources");
        for (p, text) in files {
            for w in *words {
                if text.contains(w) {
                    offenders.push(format!("{} names {w}", p.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out)
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf())
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The repository stands alone: its own `docs/` (the specification pages) and
/// `tests/data/vectors/` (the published vectors, with sources and licences). Where the brief's
/// `../shared` sits beside it, the copies must be the same file for file, byte for byte.
#[test]
fn the_repository_carries_its_spec_and_vectors_in_step_with_shared() {
    let root = root();
    // Every picture the README shows is committed, and is a PNG.
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for pic in readme.split("](docs/screenshots/").skip(1).map(|x| x.split(')').next().unwrap()) {
        let png = std::fs::read(root.join("docs/screenshots").join(pic)).unwrap_or_else(|e| panic!("docs/screenshots/{pic}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "docs/screenshots/{pic} is not a PNG");
    }
    for page in ["algorithm.md", "interfaces.md", "ledger-format.md", "registry-fixture.md", "fixtures/example.json"] {
        assert!(root.join("docs").join(page).is_file(), "docs/{page} is missing");
    }
    let vectors = root.join("tests/data/vectors");
    assert!(vectors.join("README.md").is_file() && files_under(&vectors).len() > 100, "tests/data/vectors is incomplete");
    let shared = root.join("../shared");
    if !shared.is_dir() {
        return; // a clone on its own: nothing to keep in step with
    }
    // docs/screenshots/ (the README's pictures, issue 21) and docs/implementation/ (our own
    // pages, such as how a bundle is verified: issue 29) are ours; the rest of docs/ is the
    // shared spec, byte for byte.
    let spec = |dir: &Path| files_under(dir).into_iter().filter(|f| !f.starts_with("screenshots") && !f.starts_with("implementation")).collect::<Vec<_>>();
    for (ours, theirs) in [(root.join("docs"), shared.join("spec")), (vectors, shared.join("vectors"))] {
        assert_eq!(spec(&ours), spec(&theirs), "{} and {} list different files", ours.display(), theirs.display());
        for f in spec(&ours) {
            assert!(
                std::fs::read(ours.join(&f)).unwrap() == std::fs::read(theirs.join(&f)).unwrap(),
                "{} differs from {}",
                ours.join(&f).display(),
                theirs.join(&f).display()
            );
        }
    }
}

/// Issue 30, item 7: every event type the catalogue knows has its name in both languages on
/// the officers' pages (a missing one would show its English type name).
#[test]
fn every_event_type_has_a_label() {
    let labels: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(root().join("src/web/labels.json")).unwrap()).unwrap();
    let types = std::fs::read_to_string(root().join("events/src/types.rs")).unwrap();
    let missing: Vec<&str> = types
        .lines()
        .filter(|l| l.starts_with("pub const ") && l.contains(": &str = \""))
        .filter_map(|l| l.split('"').nth(1))
        .filter(|name| name.chars().next().is_some_and(char::is_uppercase))
        .filter(|name| !labels.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), "event types without a label in src/web/labels.json: {missing:?}");
}

/// Issue 35, F6 and F7: reads of personal data are recorded by one mechanism, the layer over the
/// whole router (`disclosure`); no handler records its own, and the router passes through it.
#[test]
fn reads_are_recorded_by_one_mechanism() {
    let mut by_hand = Vec::new();
    for (path, text) in sources(&["src"]) {
        if path.ends_with("disclosure.rs") || path.ends_with("reads.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if line.contains("reads.record(") || line.contains("ReadLog::record") || line.contains("PersonalDataReads {") {
                by_hand.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(by_hand.is_empty(), "reads recorded outside the one mechanism:\n{}", by_hand.join("\n"));
    let app = std::fs::read_to_string(root().join("src/app.rs")).unwrap();
    assert!(app.contains("crate::disclosure::record_shown"), "app() no longer passes every answer through disclosure::record_shown");
}

/// Issue 35, F16: directories and files are created by one helper (`private_files`), owner-only.
#[test]
fn files_and_directories_are_created_by_one_helper() {
    let mut by_hand = Vec::new();
    for (path, text) in sources(&["src", "events/src", "projections/src", "verifier/src"]) {
        if path.ends_with("private_files.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if ["create_dir_all(", "fs::write(", "File::create(", "OpenOptions::new(", "fs::create_dir("].iter().any(|c| line.contains(c)) {
                by_hand.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(by_hand.is_empty(), "create files and directories through private_files (0700 and 0600):\n{}", by_hand.join("\n"));
}

/// The functions over `most` lines in `text`, outside `#[cfg(test)]` (which ends the scan: the
/// tree keeps unit tests last), as `name (lines)`. A function runs from its `fn` line to the
/// `}` at its own indentation; a declaration without a body is none.
fn long_functions(text: &str, most: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().take_while(|l| l.trim() != "#[cfg(test)]").collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let after = ["pub(crate) ", "pub(super) ", "pub ", "async ", "const ", "unsafe "].iter().fold(body, |b, p| b.strip_prefix(p).unwrap_or(b));
        let Some(name) = after.strip_prefix("fn ").map(|r| r.split(['(', '<']).next().unwrap_or_default()) else { continue };
        // The signature ends at the first line ending with `{` (a body) or `;` (a declaration).
        let Some(open) = lines[i..].iter().position(|l| l.trim_end().ends_with('{') || l.trim_end().ends_with(';')) else { continue };
        if lines[i + open].trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(n) = lines[i..].iter().position(|l| *l == close) {
            if n + 1 > most {
                long.push(format!("{name} ({})", n + 1));
            }
        }
    }
    long
}

#[test]
fn long_functions_are_found() {
    let body = |n: usize| (0..n).map(|i| format!("    let x{i} = {i};\n")).collect::<String>();
    let text = format!(
        "trait T {{\n    fn declared(&self) -> u8;\n}}\npub async fn long() {{\n{}}}\nfn short() {{\n{}}}\n#[cfg(test)]\nfn in_tests() {{\n{}}}\n",
        body(99),
        body(98),
        body(200)
    );
    assert_eq!(long_functions(&text, 100), vec!["long (101)".to_string()]);
}

/// Issue 33: no function outside tests runs past 100 lines; a long one is split into named
/// parts (the sections of a page, the stages of a run).
#[test]
fn no_function_runs_past_100_lines() {
    let long: Vec<String> = sources(&["src", "devtools/src", "events/src", "projections/src", "verifier/src", "verifier/wasm/src"])
        .into_iter()
        .filter(|(p, _)| !p.ends_with("tests.rs"))
        .flat_map(|(p, text)| long_functions(&text, 100).into_iter().map(move |f| format!("{}: {f}", p.strip_prefix(root()).unwrap().display())))
        .collect();
    assert!(long.is_empty(), "functions over 100 lines: {long:?}");
}

/// The error type of every `Result<T, E>` in `text` that is a bare `String` (a message where a
/// type should say what went wrong), as `line: text`.
fn string_errors(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate().take_while(|(_, l)| l.trim() != "#[cfg(test)]") {
        let mut rest = line;
        while let Some(i) = rest.find("Result<") {
            let args = &rest[i + "Result<".len()..];
            // The type arguments up to the matching `>`; the error is the last top-level one.
            let (mut depth, mut last_comma, mut end) = (0i32, None, None);
            for (k, c) in args.char_indices() {
                match c {
                    '<' | '(' | '[' => depth += 1,
                    ')' | ']' => depth -= 1,
                    '>' if depth == 0 => {
                        end = Some(k);
                        break;
                    }
                    '>' => depth -= 1,
                    ',' if depth == 0 => last_comma = Some(k),
                    _ => {}
                }
            }
            if let (Some(c), Some(e)) = (last_comma, end) {
                if args[c + 1..e].trim() == "String" {
                    found.push(format!("{}: {}", n + 1, line.trim()));
                }
            }
            rest = args;
        }
    }
    found
}

#[test]
fn string_errors_are_found() {
    let text = "fn a() -> Result<(), String> {}\nfn b() -> Result<HashMap<String, String>, E> {}\nfn c() -> Result<(u8, String), E> {}\ntype T = Option<Result<Vec<u8>, String>>;\n#[cfg(test)]\nfn d() -> Result<(), String> {}\n";
    assert_eq!(string_errors(text), vec!["1: fn a() -> Result<(), String> {}".to_string(), "4: type T = Option<Result<Vec<u8>, String>>;".to_string()]);
}

/// Issue 33: the libraries say what went wrong with a type, never a bare `String` (the
/// binaries, each `main.rs` and `src/cmd/`, turn errors into messages).
#[test]
fn no_library_has_string_errors() {
    let found: Vec<String> = sources(&["src", "devtools/src", "events/src", "projections/src", "verifier/src", "verifier/wasm/src"])
        .into_iter()
        .filter(|(p, _)| !p.ends_with("main.rs") && !p.starts_with(root().join("src/cmd")) && !p.ends_with("tests.rs"))
        .flat_map(|(p, text)| string_errors(&text).into_iter().map(move |f| format!("{}:{f}", p.strip_prefix(root()).unwrap().display())))
        .collect();
    assert!(found.is_empty(), "Result<_, String> in library code: {found:#?}");
}

/// Issue 33: `ledger` and `witness` no longer import each other: the ledger holds the
/// witnesses' list (`cosigners`) and signs; `witness` gathers the cosignatures. A module-level
/// cycle inside one crate is not something the compiler refuses, so the text is read.
#[test]
fn the_ledger_imports_nothing_of_the_witness_exchange() {
    let ledger = std::fs::read_to_string(root().join("src/ledger.rs")).unwrap();
    assert!(!ledger.contains("crate::witness") && !ledger.contains("use super::witness"), "src/ledger.rs names crate::witness");
    let cosigners = std::fs::read_to_string(root().join("src/cosigners.rs")).unwrap();
    assert!(!cosigners.contains("crate::"), "src/cosigners.rs is a leaf: it names no module of the service");
}

/// Issue 33, item 5: callers take the store trait of the concern they use (`LogStore`,
/// `CheckpointStore`, `ProjectionStore`, `AccessStore`). The whole `EventStore` is named only
/// where a store is opened or checked whole, and the ledger hands out no whole store.
#[test]
fn callers_take_the_narrow_store_traits() {
    let whole_store_allowed = ["src/store/", "src/ledger.rs", "src/cli.rs", "src/verification.rs", "src/tools/", "src/cmd/", "src/main.rs"];
    let mut offenders = Vec::new();
    for (p, text) in sources(&["src"]) {
        let rel = p.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
        if whole_store_allowed.iter().any(|a| rel.starts_with(a)) {
            continue;
        }
        if text.contains("EventStore") {
            offenders.push(format!("{rel} names EventStore"));
        }
    }
    let ledger = std::fs::read_to_string(root().join("src/ledger.rs")).unwrap();
    if ledger.contains("pub fn store(") {
        offenders.push("src/ledger.rs hands out the whole store (Ledger::store)".into());
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Issue 33, item 6: the registry simulator, the synthetic population and the benches are the
/// `devtools` crate, which the service library does not link (`cargo tree`); and nothing left in
/// the service derives a key from a seed, so no trust list can be built from one there.
#[test]
fn the_service_links_no_dev_tools() {
    let names = linked("housing-ledger-service");
    assert!(names.contains("housing-ledger-service") && names.contains("sqlx"), "cargo tree did not list the service's dependencies: {names:?}");
    assert!(!names.contains("housing-ledger-devtools"), "the service links the dev tools");
    let seeded: Vec<String> = sources(&["src"])
        .into_iter()
        .filter(|(p, _)| !p.ends_with("main.rs") && !p.starts_with(root().join("src/cmd")) && !p.ends_with("args.rs"))
        .flat_map(|(p, text)| {
            let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
            ["from_seed(", "sim_signer", "sim_trust"].into_iter().filter(move |w| code.contains(w)).map(move |w| format!("{} names {w}", p.display()))
        })
        .collect();
    assert!(seeded.is_empty(), "{seeded:#?}");
}
