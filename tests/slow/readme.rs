//! The README's "Going to PostgreSQL" section, followed as written on this machine (PostgreSQL
//! installed, no server running), ends with a proof that verifies (issue 33, item 7). Only what
//! a test cannot take literally is changed, and each change is named below.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_housing-ledger");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The first `sh` block after the heading `heading` in `readme`.
fn shell_block<'r>(readme: &'r str, heading: &str) -> &'r str {
    let section = &readme[readme.find(heading).unwrap_or_else(|| panic!("the README has no {heading:?}"))..];
    let start = section.find("```sh\n").expect("a shell block") + "```sh\n".len();
    &section[start..start + section[start..].find("```").expect("the block ends")]
}

/// Stops the trial cluster and the demo whatever the test's outcome.
struct Trial {
    demo: Option<Child>,
    pg_dir: std::path::PathBuf,
    runner: Vec<String>,
}

impl Drop for Trial {
    fn drop(&mut self) {
        if let Some(mut d) = self.demo.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let data = self.pg_dir.join("data");
        let _ = Command::new(&self.runner[0])
            .args(&self.runner[1..])
            .arg("/usr/lib/postgresql/15/bin/pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(data)
            .arg("stop")
            .output();
    }
}

#[test]
fn the_postgresql_section_followed_as_written_ends_with_a_verified_proof() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = shell_block(&readme, "## Going to PostgreSQL");
    let (head, demo_line) = block.trim_end().rsplit_once('\n').unwrap();
    assert!(demo_line.starts_with("cargo run --release -- demo"), "the section ends by running the demo: {demo_line}");
    let top = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let pg_dir = top.path().join("hl-pg");
    let (pg_port, api_port) = (free_port(), free_port());
    // What changes, and why: the cluster's directory and port are this test's own (another
    // cluster may hold 5433 here); as root, `sudo -u postgres` is `runuser -u postgres --` as
    // the section says; `cargo run --release --` is the binary this test run built; and the
    // demo listens on a free port, not 8080.
    let root = is_root();
    let mut script = head.replace("/var/tmp/hl-pg", pg_dir.to_str().unwrap()).replace("5433", &pg_port.to_string());
    if root {
        script = script.replace("sudo -u postgres", "runuser -u postgres --").replace("sudo install", "install");
    }
    let runner: Vec<String> =
        if root { ["runuser", "-u", "postgres", "--"].map(String::from).to_vec() } else { ["sudo", "-u", "postgres"].map(String::from).to_vec() };
    let mut trial = Trial { demo: None, pg_dir: pg_dir.clone(), runner };
    let demo_args = demo_line.split('#').next().unwrap().trim().trim_start_matches("cargo run --release -- ").to_string();
    let script = format!("set -e\n{script}\nexec \"{BIN}\" {demo_args} --listen 127.0.0.1:{api_port}\n");
    let mut demo = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(top.path())
        .env("HOUSING_LEDGER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    let stderr = demo.stderr.take().unwrap();
    trial.demo = Some(demo);
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // The demo prints the two lines that fetch and check a removed person's proof, then serves.
    let mut printed = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    let (curl, verify) = loop {
        let Some(Ok(line)) = lines.next() else {
            let status = trial.demo.as_mut().unwrap().wait().unwrap();
            panic!("the demo ended ({status}) before printing its proof lines:\n{}\n{}", printed.join("\n"), errors.join().unwrap());
        };
        printed.push(line.clone());
        if line.trim_start().starts_with("housing-ledger verify-proof") {
            let curl = printed[printed.len() - 2].trim().to_string();
            break (curl, line.trim().to_string());
        }
    };
    assert!(printed.iter().any(|l| l.contains("registry_removal: run")), "{}", printed.join("\n"));
    // Run in another terminal, as the section says: fetch the proof, then check it.
    let fetched = (0..50).any(|_| {
        let ok = Command::new("bash").arg("-c").arg(&curl).current_dir(top.path()).status().unwrap().success()
            && std::fs::metadata(top.path().join("proof.json")).is_ok_and(|m| m.len() > 0);
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        ok
    });
    assert!(fetched, "{curl} fetched no proof");
    let verify = verify.replacen("housing-ledger", BIN, 1);
    let out = Command::new("bash").arg("-c").arg(&verify).current_dir(top.path()).env("HOUSING_LEDGER_DATA_DIR", top.path().join("pg-data")).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.starts_with("ok: registry_removal"), "{verify}\n{said}\n{}", String::from_utf8_lossy(&out.stderr));
    // The ledger is in PostgreSQL: the data directory holds keys, no SQLite database.
    let data_dir = top.path().join("pg-data");
    assert!(data_dir.join("ledger.key").is_file() && !data_dir.join("ledger.db").exists());
}
