//! Issue 35: the security feed of the real binary, as a SIEM would take it: JSON lines in a file
//! (0600, in a 0700 directory) and RFC 5424 syslog over UDP, with the start and the stop, and a
//! refused token with the peer's address and the route.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_housing-ledger");

/// `serve` on a free port with `feed` as `--security-log`; the child and its address.
fn serve(dir: &std::path::Path, feed: &str, format: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--security-log", feed, "--security-log-format", format])
        .env("HOUSING_LEDGER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("serving on http://").unwrap_or_else(|| panic!("{line:?}")).to_string();
    (child, addr)
}

fn bad_token_request(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /v1/persons/850101300123 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hl_000000000000_secret-never-logged\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn stop(mut child: Child) {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn the_feed_reaches_a_file_and_a_syslog_collector() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("soc/security.jsonl");
    let (child, addr) = serve(&dir.path().join("data"), feed.to_str().unwrap(), "json");
    assert!(bad_token_request(&addr).starts_with("HTTP/1.1 401"));
    stop(child);
    let text = std::fs::read_to_string(&feed).unwrap();
    assert!(!text.contains("secret-never-logged") && !text.contains("850101300123"), "{text}");
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = records.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"service_start"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"service_stop"), "{kinds:?}");
    let rejected = records.iter().find(|r| r["kind"] == "token_rejected").expect("the refused token");
    assert_eq!((rejected["peer"].as_str(), rejected["route"].as_str()), (Some("127.0.0.1"), Some("GET /v1/persons/{iin}")), "{rejected}");
    assert_eq!(rejected["schema"], "housing-ledger/security-event/v1");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&feed).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(feed.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }

    // RFC 5424 over UDP, to a collector on this machine.
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    collector.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let to = format!("udp:{}", collector.local_addr().unwrap());
    let (child, addr) = serve(&dir.path().join("data"), &to, "syslog");
    assert!(bad_token_request(&addr).starts_with("HTTP/1.1 401"));
    stop(child);
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = collector.recv(&mut buf) {
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        let stop = msg.contains(" service_stop ");
        seen.push(msg);
        if stop {
            break;
        }
    }
    // PRI = facility 10 (security/authorization) × 8 + severity: notice 5, warning 4.
    assert!(seen.first().is_some_and(|m| m.starts_with("<85>1 ") && m.contains(" housing-ledger ") && m.contains(" service_start ")), "{seen:?}");
    assert!(seen.iter().any(|m| m.starts_with("<84>1 ") && m.contains("[hl@32473 kind=\"token_rejected\"") && m.contains("peer=\"127.0.0.1\"")), "{seen:?}");
    assert!(seen.iter().all(|m| !m.contains("secret-never-logged")));
}

/// A SIGTERM right after `serve` prints its address stops it gracefully (exit 0, the feed's
/// `service_stop` written), never kills it: the handler is in place before the address is
/// printed. It raced before: CI saw `signal: 15` once the machine was busy.
#[test]
fn a_sigterm_at_once_after_the_address_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let feed = dir.path().join(format!("soc/{round}.jsonl"));
        let (child, _) = serve(&dir.path().join("data"), feed.to_str().unwrap(), "json");
        stop(child);
        let text = std::fs::read_to_string(&feed).unwrap();
        assert!(text.lines().last().is_some_and(|l| l.contains("\"service_stop\"")), "round {round}: {text}");
    }
}
