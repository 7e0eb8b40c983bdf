//! The server loop over a real socket (issue 17, finding 5): half-sent requests are closed,
//! slow bodies get 408, connections are capped, and a stop signal ends the server; and the
//! serving state's background loops stop when told (issue 18, item 4).

use crate::common::{Backend, Place};
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::server::{serve, Limits};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any check waits: far beyond the limits under test, so only a server that never
/// closes or never answers fails.
const PATIENCE: Duration = Duration::from_secs(20);

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    _place: Place,
}

async fn start(limits: Limits) -> Server {
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let state = AppState::new(ledger, devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, app(state), limits, async {
        let _ = rx.await;
    }));
    Server { addr, stop: Some(tx), done, _place: place }
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf)).await.expect("the server closes the connection").ok();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn half_sent_and_silent_connections_are_closed() {
    let server = start(Limits { header_read: Duration::from_millis(300), ..Default::default() }).await;
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let said = until_closed(&mut half).await;
    assert!(!said.contains("200 OK"), "{said}");
    until_closed(&mut silent).await;
    // A whole request is still answered.
    let mut whole = TcpStream::connect(server.addr).await.unwrap();
    whole.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    assert!(until_closed(&mut whole).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_body_that_does_not_arrive_gets_408() {
    let server = start(Limits { request: Duration::from_millis(300), ..Default::default() }).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"POST /ui/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=").await.unwrap();
    let said = until_closed(&mut s).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_one_to_close() {
    let server = start(Limits { max_connections: 2, header_read: Duration::from_secs(60), ..Default::default() }).await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(early.is_err(), "the third connection was served while two were open");
    drop(first);
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, third.read_to_end(&mut rest)).await.expect("served once a slot is free").unwrap();
    assert!(String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_stop_signal_ends_the_server_once_requests_finish() {
    let mut server = start(Limits { shutdown_grace: Duration::from_secs(5), ..Default::default() }).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    assert!(until_closed(&mut s).await.starts_with("HTTP/1.1 200"));
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(PATIENCE, &mut server.done).await.expect("the server stops").unwrap().unwrap();
    assert!(TcpStream::connect(server.addr).await.is_err(), "nothing listens any more");
}

#[tokio::test]
async fn background_loops_stop_on_shutdown() {
    use events::NewEvent;
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    let state = AppState::new(ledger.clone(), devtools::sim::sim_trust(devtools::sim::DEFAULT_SIM_SEED));
    assert_eq!(state.background.running(), 3);
    let cursor = || async { ledger.projections().projection_cursor(housing_ledger::read_models::PERSONS).await.unwrap() };
    // Running: the projection follows the ledger by itself.
    ledger.append(vec![NewEvent::new("run:r1", "Tick", serde_json::json!({}))]).await.unwrap();
    let size = ledger.size().await.unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while cursor().await < size {
        assert!(std::time::Instant::now() < deadline, "the projection never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::timeout(PATIENCE, state.background.shutdown()).await.expect("the loops end");
    assert_eq!(state.background.running(), 0);
    // Stopped: nothing follows any more.
    ledger.append(vec![NewEvent::new("run:r1", "Tick", serde_json::json!({}))]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(cursor().await, size, "a stopped consumer applied events");
}

/// A connection from `source` (any 127.0.0.0/8 address is this machine's loopback).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Issue 35, F15: one client cannot hold every connection. Past its share it is answered 503
/// and closed, while another client is served at once; its idle sockets, which never send a
/// byte, are closed sooner than a request that is under way.
#[tokio::test]
async fn one_client_cannot_starve_the_others() {
    let limits = Limits { max_connections: 16, per_client: 4, header_read: Duration::from_secs(60), first_byte: Duration::from_secs(60), ..Default::default() };
    let server = start(limits).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect_from("127.0.0.2", server.addr).await);
    }
    // Accepted in order: the first four are held before the rest arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..12 {
        let mut s = connect_from("127.0.0.2", server.addr).await;
        let said = until_closed(&mut s).await;
        assert!(said.starts_with("HTTP/1.1 503"), "beyond its share: {said:?}");
    }
    let mut other = connect_from("127.0.0.3", server.addr).await;
    other.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let said = tokio::time::timeout(Duration::from_secs(2), until_closed(&mut other)).await.expect("another client is served at once");
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    drop(idle.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.2", server.addr).await;
    again.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    assert!(until_closed(&mut again).await.starts_with("HTTP/1.1 200"), "a freed share is the client's again");
}

#[tokio::test]
async fn a_silent_connection_closes_before_one_mid_request() {
    let limits = Limits { header_read: Duration::from_secs(30), first_byte: Duration::from_millis(300), ..Default::default() };
    let server = start(limits).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut started = TcpStream::connect(server.addr).await.unwrap();
    started.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let t = std::time::Instant::now();
    until_closed(&mut silent).await;
    let silent_after = t.elapsed();
    let mut byte = [0u8; 1];
    let still = tokio::time::timeout(Duration::from_secs(2), started.read(&mut byte)).await;
    assert!(still.is_err(), "the request under way is still open {silent_after:?} after the silent one closed");
    started.write_all(b"Connection: close\r\n\r\n").await.unwrap();
    assert!(until_closed(&mut started).await.starts_with("HTTP/1.1 200"));
}
