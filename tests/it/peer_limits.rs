//! Issue 35, F11 and F12: every body read from a peer is bounded. Fake peers that answer too
//! much (a witness, a time-stamp authority, a registry, its corrections) are refused, naming
//! the limit, after reading little of what they sent; a witness's long refusal goes into the
//! ledger cut and marked.

use crate::common::{Backend, Place};
use events::NewEvent;
use housing_ledger::registry::http::{AnswerLimits, HttpRegistries, HttpSettings};
use housing_ledger::registry::{Registries, RegistryFault};
use housing_ledger::rules::records::RegistryId;
use housing_ledger::witness::{Outcome, Witnesses};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A peer that answers every request with `status` and `total` bytes of `x` (with a
/// Content-Length, or chunked without one); returns its URL and how many bytes it got out.
async fn flood(status: u16, total: usize, content_length: bool) -> (String, Arc<AtomicUsize>) {
    flood_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), status, total, content_length)
}

/// [`flood`] on a listener of the caller's (a port a certificate names).
pub(crate) fn flood_on(listener: tokio::net::TcpListener, status: u16, total: usize, content_length: bool) -> (String, Arc<AtomicUsize>) {
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let counter = counter.clone();
            tokio::spawn(async move {
                // The request's head (and whatever body came with it) is read and ignored.
                let mut buf = vec![0u8; 64 * 1024];
                let _ = tokio::time::timeout(Duration::from_millis(200), sock.read(&mut buf)).await;
                let head = if content_length {
                    format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n")
                } else {
                    format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                };
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = total;
                while left > 0 {
                    let n = left.min(chunk.len());
                    let r = if content_length {
                        sock.write_all(&chunk[..n]).await
                    } else {
                        let mut framed = format!("{n:x}\r\n").into_bytes();
                        framed.extend_from_slice(&chunk[..n]);
                        framed.extend_from_slice(b"\r\n");
                        sock.write_all(&framed).await
                    };
                    if r.is_err() {
                        return;
                    }
                    counter.fetch_add(n, Ordering::Relaxed);
                    left -= n;
                }
                if !content_length {
                    let _ = sock.write_all(b"0\r\n\r\n").await;
                }
            });
        }
    });
    (url, sent)
}

/// Well short of the 200 MB a flood offers: what the peer got out before the client hung up
/// (the limit plus what the sockets' buffers hold).
pub(crate) const READ_LITTLE: usize = 32 << 20;
pub(crate) const FLOOD: usize = 200 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_refused_whether_or_not_it_says_its_length() {
    for content_length in [true, false] {
        let (url, sent) = flood(200, FLOOD, content_length).await;
        let resp = reqwest::get(&url).await.unwrap();
        let err = housing_ledger::bounded::read(resp, 100_000).await.unwrap_err();
        assert!(err.to_string().contains("larger than 100000 bytes"), "{err}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sent.load(Ordering::Relaxed) < READ_LITTLE, "with Content-Length {content_length}: {} bytes were taken", sent.load(Ordering::Relaxed));
    }
}

async fn witnessed(url: &str) -> (Place, Arc<housing_ledger::ledger::Ledger>) {
    let place = Place::new(Backend::Sqlite, None);
    let plain = place.ledger().await;
    let key = events::cosignature::Cosigner::generate("witness.example/flood").unwrap().public().clone();
    let mut w = Witnesses::parse(&[format!("{}={url}", key)], Some(1)).unwrap();
    (w.timeout, w.backoff, w.attempts) = (Duration::from_secs(5), Duration::from_millis(10), 1);
    let ledger = Arc::new(plain.with_witnesses(w));
    ledger.append(vec![NewEvent::new("test:a", "Tick", json!({"i": 1}))]).await.unwrap();
    (place, ledger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_that_answers_too_much_is_read_no_further() {
    housing_ledger::security::keep();
    // A "cosignature" of 200 MB: failed, naming the limit, little of it read.
    let (url, sent) = flood(200, FLOOD, false).await;
    let (_place, ledger) = witnessed(&url).await;
    let report = ledger.checkpoint_cosigned().await.unwrap().1.unwrap();
    assert!(matches!(&report.outcomes[0].1, Outcome::Failed(why) if why.contains("larger than 16384 bytes")), "{:?}", report.outcomes);
    assert!(sent.load(Ordering::Relaxed) < READ_LITTLE, "{} bytes taken", sent.load(Ordering::Relaxed));
    assert!(ledger.log().read_all_by_type(events::types::CHECKPOINT_REFUSED).await.unwrap().is_empty(), "a failure is no refusal");

    // A refusal of 5 MB: recorded as a refusal, without its body.
    let (url, _) = flood(403, 5 << 20, true).await;
    let (_place, ledger) = witnessed(&url).await;
    ledger.checkpoint_cosigned().await.unwrap();
    let refused = ledger.log().read_all_by_type(events::types::CHECKPOINT_REFUSED).await.unwrap();
    let detail = refused[0].data["detail"].as_str().unwrap();
    assert!(detail.contains("403") && detail.contains("not read"), "{detail}");
    assert!(serde_json::to_vec(&refused[0]).unwrap().len() < 8 * 1024, "the event stays small");

    // A refusal of 10 KB: recorded, cut to 1 KiB and marked.
    let (url, _) = flood(403, 10_000, true).await;
    let (_place, ledger) = witnessed(&url).await;
    ledger.checkpoint_cosigned().await.unwrap();
    let refused = ledger.log().read_all_by_type(events::types::CHECKPOINT_REFUSED).await.unwrap();
    let detail = refused[0].data["detail"].as_str().unwrap();
    let soc = housing_ledger::security::kept();
    assert!(soc.iter().any(|r| r.kind == housing_ledger::security::Kind::WitnessRefused && r.outcome.contains("flood")), "the SOC hears of the refusal");
    assert!(detail.len() < housing_ledger::bounded::LEDGER_TEXT + 64 && detail.ends_with("bytes in all]") && detail.contains("truncated"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsa_that_answers_too_much_is_read_no_further() {
    let (url, sent) = flood(200, FLOOD, false).await;
    let tsa = housing_ledger::timestamp::Tsa { url, anchors: Vec::new(), timeout: Duration::from_secs(10) };
    let err = tsa.stamp("origin\n1\nroot\n\n— sig\n").await.unwrap_err();
    assert!(matches!(&err, housing_ledger::timestamp::StampError::Unreachable { .. }) && err.to_string().contains("larger than"), "{err}");
    assert!(sent.load(Ordering::Relaxed) < READ_LITTLE, "{} bytes taken", sent.load(Ordering::Relaxed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_answer_over_its_limit_is_malformed() {
    let (url, sent) = flood(200, FLOOD, false).await;
    let limits = AnswerLimits::default().with(&["gbd_fl=4096".into(), "corrections=2048".into()]).unwrap();
    let settings = HttpSettings { deadline: Duration::from_secs(10), retries: 0, limits, ..HttpSettings::default() };
    let http = HttpRegistries::new(&url, settings);
    let err = http.query(RegistryId::GbdFl, &["850101300123".into()], &[], "r/1").await.unwrap_err();
    assert!(matches!(&err, RegistryFault::Malformed(m) if m.contains("larger than 4096 bytes, the limit for gbd_fl")), "{err}");
    let err = http.corrections("ap-1", &["850101300123".into()]).await.unwrap_err();
    assert!(matches!(&err, RegistryFault::Malformed(m) if m.contains("larger than 2048 bytes, the limit for corrections")), "{err}");
    // Without a setting of its own, a source has the default (16 MiB), and is refused past it.
    let err = http.query(RegistryId::Zags, &["850101300123".into()], &[], "r/2").await.unwrap_err();
    assert!(matches!(&err, RegistryFault::Malformed(m) if m.contains(&format!("larger than {} bytes", 16 << 20))), "{err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sent.load(Ordering::Relaxed) < 3 * READ_LITTLE, "{} bytes taken over three answers", sent.load(Ordering::Relaxed));
    for bad in ["gbd_fl", "gbd_fl=0", "gbd_fl=lots"] {
        assert!(AnswerLimits::default().with(&[bad.to_string()]).unwrap_err().to_string().contains("--answer-limit"), "{bad}");
    }
}

/// A witness that has seen another tree (422: the proof does not reach it) is a fork to the SOC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_that_saw_another_tree_is_a_fork_to_the_soc() {
    housing_ledger::security::keep();
    let (url, _) = flood(422, 40, true).await;
    let (_place, ledger) = witnessed(&url).await;
    let report = ledger.checkpoint_cosigned().await.unwrap().1.unwrap();
    assert!(matches!(&report.outcomes[0].1, Outcome::Refused(_)), "{:?}", report.outcomes);
    let soc = housing_ledger::security::kept();
    let fork: Vec<_> = soc.iter().filter(|r| r.kind == housing_ledger::security::Kind::Fork && r.outcome.contains(&url)).collect();
    assert_eq!(fork.len(), 1, "{soc:?}");
    assert_eq!(fork[0].severity, housing_ledger::security::Severity::Critical);
}
