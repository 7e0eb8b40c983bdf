//! The feed for the security operations centre (issue 35; clause 3 of the orders: an ОЦИБ
//! interacting with the National Coordination Centre). Every security event is one structured
//! record, written by this module alone: JSON lines by default, RFC 5424 syslog lines as an
//! option, to a file, to standard error, or to a syslog collector over UDP.
//!
//! A record says when, what kind, how severe, who acted (token id and role, never the token),
//! from where (peer address), on which route, and with what outcome. Nothing personal: a person
//! is named only by a keyed reference (HMAC-SHA256 of the IIN under the deployment's read-model
//! key, 16 hex digits), which the SOC can match between records but not turn back into an IIN.
//! The schema is `docs/implementation/security-feed.md`.
//!
//! HTTP events are noted by whatever refuses the request (a [`Note`] on the response) and
//! written by one layer over the router ([`watch`]), which knows the peer, the route and the
//! caller; the others (token issue, witness refusals, integrity failures, lost databases, start
//! and stop) call [`record`].

use crate::auth::Caller;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ServiceStart,
    ServiceStop,
    ConfigurationChange,
    LoginFailed,
    TokenRejected,
    RoleDenied,
    CsrfRefused,
    TokenIssued,
    TokenRevoked,
    WitnessRefused,
    Fork,
    IntegrityFailure,
    SourceSignatureRefused,
    LostDatabaseRefused,
    LimitHit,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ServiceStart => "service_start",
            Kind::ServiceStop => "service_stop",
            Kind::ConfigurationChange => "configuration_change",
            Kind::LoginFailed => "login_failed",
            Kind::TokenRejected => "token_rejected",
            Kind::RoleDenied => "role_denied",
            Kind::CsrfRefused => "csrf_refused",
            Kind::TokenIssued => "token_issued",
            Kind::TokenRevoked => "token_revoked",
            Kind::WitnessRefused => "witness_refused",
            Kind::Fork => "fork",
            Kind::IntegrityFailure => "integrity_failure",
            Kind::SourceSignatureRefused => "source_signature_refused",
            Kind::LostDatabaseRefused => "lost_database_refused",
            Kind::LimitHit => "limit_hit",
        }
    }

    /// Its severity (RFC 5424's names).
    pub fn severity(self) -> Severity {
        match self {
            Kind::ServiceStart | Kind::ServiceStop | Kind::TokenIssued | Kind::TokenRevoked => Severity::Notice,
            Kind::ConfigurationChange => Severity::Notice,
            Kind::LoginFailed | Kind::TokenRejected | Kind::RoleDenied | Kind::CsrfRefused | Kind::LimitHit => Severity::Warning,
            Kind::WitnessRefused | Kind::SourceSignatureRefused | Kind::LostDatabaseRefused => Severity::Error,
            Kind::Fork | Kind::IntegrityFailure => Severity::Critical,
        }
    }
}

/// RFC 5424 severities (those used).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Notice,
}

impl Severity {
    fn code(self) -> u8 {
        match self {
            Severity::Critical => 2,
            Severity::Error => 3,
            Severity::Warning => 4,
            Severity::Notice => 5,
        }
    }
}

/// Who acted: a token's id and role, never the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub token: String,
    pub role: String,
}

impl From<&Caller> for Actor {
    fn from(c: &Caller) -> Self {
        Self { token: c.token_id.clone(), role: c.role.as_str().to_string() }
    }
}

/// One record of the feed (`housing-ledger/security-event/v1`).
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    pub schema: &'static str,
    pub time: String,
    pub kind: Kind,
    pub severity: Severity,
    pub actor: Option<Actor>,
    pub peer: Option<String>,
    pub route: Option<String>,
    pub outcome: String,
    /// A person concerned, by keyed reference (never the IIN).
    pub subject_ref: Option<String>,
}

impl Record {
    pub fn new(kind: Kind, outcome: impl Into<String>) -> Self {
        Self {
            schema: "housing-ledger/security-event/v1",
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind,
            severity: kind.severity(),
            actor: None,
            peer: None,
            route: None,
            outcome: outcome.into(),
            subject_ref: None,
        }
    }

    pub fn actor(mut self, a: Option<Actor>) -> Self {
        self.actor = a;
        self
    }

    pub fn peer(mut self, p: Option<String>) -> Self {
        self.peer = p;
        self
    }

    pub fn route(mut self, r: Option<String>) -> Self {
        self.route = r;
        self
    }

    /// Names a person by keyed reference, if the feed has a key.
    pub fn subject(mut self, iin: &str) -> Self {
        self.subject_ref = subject_ref(iin);
        self
    }

    /// The record as one JSON line.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).expect("records serialise")
    }

    /// The record as an RFC 5424 line: facility security/authorization (10), the kind as
    /// MSGID, the fields as structured data, and the JSON as the message.
    pub fn syslog_line(&self, host: &str) -> String {
        // RFC 5424 §6.3.3 escapes; control characters (a peer's newline) become spaces, so a
        // record stays one line.
        fn param(v: &str) -> String {
            v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().replace('\\', "\\\\").replace('"', "\\\"").replace(']', "\\]")
        }
        let pri = 10 * 8 + self.severity.code();
        let mut sd = format!("[hl@32473 kind=\"{}\" outcome=\"{}\"", self.kind.as_str(), param(&self.outcome));
        if let Some(a) = &self.actor {
            sd.push_str(&format!(" token=\"{}\" role=\"{}\"", param(&a.token), param(&a.role)));
        }
        if let Some(p) = &self.peer {
            sd.push_str(&format!(" peer=\"{}\"", param(p)));
        }
        if let Some(r) = &self.route {
            sd.push_str(&format!(" route=\"{}\"", param(r)));
        }
        if let Some(s) = &self.subject_ref {
            sd.push_str(&format!(" subject=\"{s}\""));
        }
        sd.push(']');
        format!("<{pri}>1 {} {host} housing-ledger {} {} {sd} {}", self.time, std::process::id(), self.kind.as_str(), self.json_line())
    }
}

/// Where records go and in which form.
pub enum Sink {
    /// JSON lines (or syslog lines) appended to a file, 0600.
    File { file: Mutex<std::fs::File>, syslog: bool },
    /// To standard error.
    Stderr { syslog: bool },
    /// RFC 5424 over UDP (RFC 5426) to a collector.
    Udp { socket: std::net::UdpSocket, to: SocketAddr },
}

/// A security feed that cannot be set up, naming the `--security-log` value.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("--security-log {spec}: {error}")]
    Io { spec: String, error: std::io::Error },
    #[error("--security-log {spec}: no address")]
    NoAddress { spec: String },
    #[error("the security feed is already set")]
    AlreadySet,
}

impl Sink {
    /// `--security-log`: `-` (standard error), `udp:HOST:PORT`, or a file path; `syslog`
    /// chooses RFC 5424 lines for a file or standard error (UDP is always RFC 5424).
    pub fn parse(spec: &str, syslog: bool) -> Result<Self, SinkError> {
        let io = |error: std::io::Error| SinkError::Io { spec: spec.into(), error };
        if spec == "-" {
            return Ok(Sink::Stderr { syslog });
        }
        if let Some(addr) = spec.strip_prefix("udp:") {
            use std::net::ToSocketAddrs;
            let to = addr.to_socket_addrs().map_err(io)?.next().ok_or_else(|| SinkError::NoAddress { spec: spec.into() })?;
            let socket = std::net::UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).map_err(io)?;
            return Ok(Sink::Udp { socket, to });
        }
        let path = std::path::Path::new(spec);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::create_dir(dir).map_err(io)?;
        }
        let file = crate::private_files::open_append(path).map_err(io)?;
        Ok(Sink::File { file: Mutex::new(file), syslog })
    }

    fn write(&self, r: &Record) {
        let host = hostname();
        match self {
            Sink::File { file, syslog } => {
                let line = if *syslog { r.syslog_line(&host) } else { r.json_line() };
                let mut f = file.lock().expect("security log lock");
                let _ = writeln!(f, "{line}");
            }
            Sink::Stderr { syslog } => {
                let line = if *syslog { r.syslog_line(&host) } else { r.json_line() };
                eprintln!("{line}");
            }
            Sink::Udp { socket, to } => {
                let _ = socket.send_to(r.syslog_line(&host).as_bytes(), to);
            }
        }
    }
}

fn hostname() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "-".into()))
        .clone()
}

static SINK: OnceLock<Sink> = OnceLock::new();
static SUBJECT_KEY: OnceLock<[u8; 32]> = OnceLock::new();
/// Records kept in memory as well, when asked for (tests, and `serve`'s own view).
static KEPT: Mutex<Option<Vec<Record>>> = Mutex::new(None);

/// Sets where the feed goes (once per process).
pub fn init(sink: Sink) -> Result<(), SinkError> {
    SINK.set(sink).map_err(|_| SinkError::AlreadySet)
}

/// Sets the key persons are referred to under (once per process; the read-model key).
pub fn init_subject_key(key: [u8; 32]) {
    let _ = SUBJECT_KEY.set(key);
}

/// Keeps every record from now on in memory too; [`kept`] returns them.
pub fn keep() {
    let mut k = KEPT.lock().expect("kept lock");
    if k.is_none() {
        *k = Some(Vec::new());
    }
}

/// The records kept since [`keep`].
pub fn kept() -> Vec<Record> {
    KEPT.lock().expect("kept lock").clone().unwrap_or_default()
}

/// A person's keyed reference: HMAC-SHA256(key, IIN), 16 hex digits; none without a key.
pub fn subject_ref(iin: &str) -> Option<String> {
    use hmac::{Mac, SimpleHmac};
    let key = SUBJECT_KEY.get()?;
    let mut mac = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(b"housing-ledger/subject-ref/v1\n");
    mac.update(iin.as_bytes());
    Some(hex::encode(&mac.finalize().into_bytes()[..8]))
}

/// `text` with every run of exactly 12 digits (an IIN, valid or not) replaced by the person's
/// keyed reference: an outcome may quote a request id or a source's words.
fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for r in crate::disclosure::twelve_digit_runs(text) {
        out.push_str(&text[from..r.start]);
        out.push_str(&format!("person:{}", subject_ref(&text[r.clone()]).unwrap_or_else(|| "redacted".into())));
        from = r.end;
    }
    out.push_str(&text[from..]);
    out
}

/// Writes a record: to the feed, if one is set, and always to the service's log as a line.
/// Its outcome is scrubbed of IINs first.
pub fn record(mut r: Record) {
    r.outcome = scrub(&r.outcome);
    match r.severity {
        Severity::Critical | Severity::Error => tracing::error!(kind = r.kind.as_str(), outcome = %r.outcome, "security event"),
        Severity::Warning => tracing::warn!(kind = r.kind.as_str(), outcome = %r.outcome, "security event"),
        // Notices (start, stop, tokens, a simulation's made faults) are the feed's; the
        // console hears of them only when asked (HOUSING_LEDGER_LOG=debug).
        Severity::Notice => tracing::debug!(kind = r.kind.as_str(), outcome = %r.outcome, "security event"),
    }
    if let Some(s) = SINK.get() {
        s.write(&r);
    }
    if let Some(k) = KEPT.lock().expect("kept lock").as_mut() {
        k.push(r);
    }
}

/// A limit was hit: what, by whom (peer address), at which limit.
pub fn limit_hit(what: &str, peer: &str, limit: u64) {
    record(Record::new(Kind::LimitHit, format!("{what}: the limit is {limit}")).peer(Some(peer.to_string())));
}

/// What a refusal notes on its response for [`watch`] to write.
#[derive(Clone, Debug)]
pub struct Note {
    pub kind: Kind,
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syslog_record_is_one_line_whatever_its_outcome_holds() {
        let r = Record::new(Kind::WitnessRefused, "line one\nline two \"quoted\" [x] back\\slash");
        let line = r.syslog_line("h");
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(r#"outcome="line one line two \"quoted\" [x\] back\\slash""#), "{line}");
    }

    #[test]
    fn outcomes_name_no_iin() {
        assert_eq!(scrub("item 850101300123: bad; seq 12345"), "item person:redacted: bad; seq 12345");
        assert_eq!(scrub("ж1234567890123ж"), "ж1234567890123ж", "13 digits are no IIN");
    }
}

/// The peer's address, as the server put it on the request.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// The layer: once a request is answered, writes the record its refusal noted (or that its
/// status implies: a 413 or 408 is a limit hit), with the peer, the route and the caller.
pub async fn watch(mut req: Request, next: Next) -> Response {
    let viewer = crate::disclosure::Viewer::default();
    req.extensions_mut().insert(viewer.clone());
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip().to_string());
    let route = Some(req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into()));
    let method = crate::app::method_label(req.method());
    let resp = next.run(req).await;
    let note = resp.extensions().get::<Note>().cloned().or_else(|| match resp.status().as_u16() {
        413 => Some(Note { kind: Kind::LimitHit, outcome: "request body too large (413)".into() }),
        408 => Some(Note { kind: Kind::LimitHit, outcome: "request not completed in time (408)".into() }),
        _ => None,
    });
    if let Some(n) = note {
        let actor = viewer.caller().map(Actor::from);
        let route = route.map(|r| format!("{method} {r}"));
        record(Record::new(n.kind, format!("{} ({})", n.outcome, resp.status().as_u16())).actor(actor).peer(peer).route(route));
    }
    resp
}
