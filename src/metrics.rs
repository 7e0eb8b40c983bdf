//! Operational metrics in the Prometheus text format (issue 19, item 6), made with the
//! maintained `prometheus-client` crate, served at `GET /metrics` to operator tokens only.
//!
//! What is counted as it happens lives in one process-wide set (`METRICS`): appends, events
//! appended, batch sizes and request latency by route. What is a state of the ledger —
//! projection lag, the read log's queue, the latest checkpoint's age, each witness's last
//! cosigned size — is read when scraped, so it is never stale.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;

/// A request's route (the matched pattern, never the path: no IIN in a label) and method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// A witness, by name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessLabels {
    pub witness: String,
}

/// The metrics counted as things happen.
pub struct Metrics {
    pub appends: Counter,
    pub events: Counter,
    pub batch_events: Histogram,
    pub request_seconds: Family<RouteLabels, Histogram>,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    appends: Counter::default(),
    events: Counter::default(),
    // 1, 2, 4, ... 32,768 events.
    batch_events: Histogram::new(exponential_buckets(1.0, 2.0, 16)),
    // 0.25 ms to about 8 s.
    request_seconds: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.00025, 2.0, 16))),
});

impl Metrics {
    /// One append of `events` events, committed.
    pub fn appended(&self, events: usize) {
        self.appends.inc();
        self.events.inc_by(events as u64);
        self.batch_events.observe(events as f64);
    }
}

/// The state of the ledger when scraped.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub log_size: u64,
    /// Events the persons projection has not folded yet.
    pub projection_lag: u64,
    /// Reads waiting for the read log's writer.
    pub read_queue: u64,
    /// Seconds since the latest checkpoint was signed; `None` before the first.
    pub checkpoint_age_seconds: Option<f64>,
    /// Events past the newest checkpoint (unwitnessed, untime-stamped), and how long the oldest
    /// of them has waited (`None`: none waits).
    pub tail_events: u64,
    pub tail_age_seconds: Option<f64>,
    /// Each witness's last cosigned tree size (0: none yet).
    pub witnesses: Vec<(String, u64)>,
}

/// The text exposition: the counted metrics and the snapshot.
pub fn render(s: &Snapshot) -> String {
    let m = &*METRICS;
    let mut registry = Registry::with_prefix("housing_ledger");
    registry.register("appends", "Appends committed to the log", m.appends.clone());
    registry.register("events_appended", "Events committed to the log (their rate is events/s)", m.events.clone());
    registry.register("batch_events", "Events per committed append", m.batch_events.clone());
    registry.register("request_seconds", "HTTP request latency by route", m.request_seconds.clone());
    let gauge = |v: i64| {
        let g: Gauge = Gauge::default();
        g.set(v);
        g
    };
    registry.register("log_size", "Events in the log", gauge(s.log_size as i64));
    registry.register("projection_lag_events", "Events the persons projection is behind the log", gauge(s.projection_lag as i64));
    registry.register("read_log_queue", "Reads of personal data waiting to be recorded", gauge(s.read_queue as i64));
    if let Some(age) = s.checkpoint_age_seconds {
        let g: Gauge<f64, AtomicU64> = Gauge::default();
        g.set(age);
        registry.register("checkpoint_age_seconds", "Seconds since the latest checkpoint was signed", g);
    }
    registry.register("unwitnessed_events", "Events past the newest checkpoint: no witness or time-stamp covers them yet", gauge(s.tail_events as i64));
    let tail_age: Gauge<f64, AtomicU64> = Gauge::default();
    tail_age.set(s.tail_age_seconds.unwrap_or(0.0));
    registry.register("unwitnessed_age_seconds", "Seconds the oldest event past the newest checkpoint has waited (0: none)", tail_age);
    let witnesses: Family<WitnessLabels, Gauge> = Family::default();
    for (name, size) in &s.witnesses {
        witnesses.get_or_create(&WitnessLabels { witness: name.clone() }).set(*size as i64);
    }
    registry.register("witness_cosigned_size", "The largest tree size each witness has cosigned", witnesses);
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String does not fail");
    out
}
