//! Serving a router over TCP with limits a hostile client cannot wear down (issue 17, finding 5):
//! hyper's header-read timeout (a half-sent request is closed), tower-http's request and body
//! timeouts (408), and a cap on open connections (the next is accepted only when one closes).
//! One client (one peer address) holds at most `per_client` of them: past it he is answered
//! 503 and closed, so that he cannot starve the others (issue 35, F15); a connection that sends
//! nothing is closed after `first_byte`, sooner than one mid-request. Stops on SIGINT or
//! SIGTERM, letting requests in flight finish.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What one client may take of the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The request line and headers must arrive within this (also the idle wait between
    /// requests on a kept-alive connection).
    pub header_read: Duration,
    /// A whole request, body and answer, within this; otherwise 408.
    pub request: Duration,
    /// Connections open at once; the next waits in the listen backlog.
    pub max_connections: usize,
    /// Connections one peer address may hold at once; the next is answered 503 and closed.
    pub per_client: usize,
    /// A new connection that has sent nothing within this is closed.
    pub first_byte: Duration,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(60),
            max_connections: 512,
            per_client: 64,
            first_byte: Duration::from_secs(3),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what service managers and containers send). The
/// handlers are installed when this is called, not when the future is first polled: call it
/// before announcing the address, so that a signal sent as soon as the address is known stops
/// the server gracefully instead of killing it (CI once saw `signal: 15`).
pub fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (term, int) = (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok());
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait(term) => {}
            _ = wait(int) => {}
        }
    }
}

/// Serves `router` on `listener` under `limits` until `stop` resolves, then lets the
/// connections finish their requests (at most `shutdown_grace`).
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: impl Future<Output = ()>) -> std::io::Result<()> {
    let router = router
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, limits.request))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.request));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Clients::default();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        // A slot first: at the cap nothing more is accepted until a connection closes.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let Some(held) = clients.take(peer.ip(), limits.per_client.max(1)) else {
            crate::security::limit_hit("connections per client", &peer.ip().to_string(), limits.per_client as u64);
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let _ = stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                let _ = stream.shutdown().await;
                drop(slot);
            });
            continue;
        };
        let service = TowerToHyperService::new(router.clone().map_request(move |r: axum::http::Request<hyper::body::Incoming>| {
            let mut r = r.map(axum::body::Body::new);
            r.extensions_mut().insert(crate::security::Peer(peer));
            r
        }));
        let watcher = graceful.watcher();
        let (header_read, first_byte) = (limits.header_read, limits.first_byte);
        tokio::spawn(async move {
            // A connection that says nothing is closed sooner than one mid-request.
            let mut probe = [0u8; 1];
            if matches!(tokio::time::timeout(first_byte, stream.peek(&mut probe)).await, Ok(Ok(n)) if n > 0) {
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = watcher.watch(conn).await;
            }
            drop((slot, held));
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace; closing them");
    }
    Ok(())
}

/// How many connections each peer address holds.
#[derive(Clone, Default)]
struct Clients(Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

/// One connection held by a peer; released when dropped.
struct Held(Clients, std::net::IpAddr);

impl Clients {
    /// A connection for `ip`, unless it holds `cap` already.
    fn take(&self, ip: std::net::IpAddr, cap: usize) -> Option<Held> {
        let mut m = self.0.lock().expect("clients lock");
        let n = m.entry(ip).or_default();
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Held(self.clone(), ip))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut m = self.0 .0.lock().expect("clients lock");
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}
