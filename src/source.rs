//! Where telemetry comes from, behind one interface: [`TelemetrySource`] gives logs of chosen
//! services in a window (and a polling [`LogFollower`]), traces in a window (search then
//! fetch), golden signals per workload, the service graph, the raw metric series the detectors
//! read, and change events (deploys, restarts, new pods).
//!
//! Implementations: [`LiveSource`] (HTTP clients for Loki, Tempo, Prometheus and Kiali, each
//! optional), and [`MemorySource`] (the simulator run in-process, or an offline input
//! directory). [`doctor`] checks live sources; [`fetch`] saves a window as an input directory.
//!
//! Invariant: a source never panics on what a server sends, never holds a response over the
//! configured cap, and reports each failure as a [`SourceError`] naming the source, classed
//! transient or permanent. Parts are independent: one source down never stops another
//! (`fetch` and the doctor report each part on its own).

pub mod doctor;
pub mod error;
pub mod fetch;
pub mod http;
pub mod kiali;
pub mod live;
pub mod loki;
pub mod memory;
pub mod prometheus;
pub mod query;
pub mod tempo;

pub use error::SourceError;
pub use live::LiveSource;
pub use memory::MemorySource;
pub use query::{ChangeEvent, ChangeKind, LogSelection, TraceSelection};

use crate::detect::metrics::golden::GoldenSignals;
use crate::model::{LogRecord, Series, ServiceGraph, Span, TimeRange, Timestamp};
use futures_util::future::BoxFuture;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// How a service graph was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphMethod {
    /// Kiali's graph API.
    Kiali,
    /// Istio request and TCP metrics in Prometheus.
    IstioMetrics,
    /// Tempo's metrics-generator service-graph series in Prometheus.
    TempoServiceGraph,
    /// Parent → child span pairs of fetched traces.
    TraceSpans,
    /// A graph saved with the data (`graph.json`), completed from metrics and traces.
    Saved,
    /// Learned from the data's metrics and traces.
    Learned,
}

/// A service graph and where it came from.
#[derive(Debug, Clone)]
pub struct GraphReading {
    /// The graph.
    pub graph: ServiceGraph,
    /// The method that produced it.
    pub method: GraphMethod,
    /// Why earlier methods were skipped (`Kiali: unreachable …`).
    pub notes: Vec<String>,
}

/// Everything downstream reads telemetry through this interface.
pub trait TelemetrySource: Send + Sync {
    /// A short description (`live: loki http://…, tempo …` or `input: DIR`).
    fn describe(&self) -> String;

    /// Log lines of `selection` in `range`, oldest first.
    fn logs<'a>(
        &'a self,
        selection: &'a LogSelection,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<Vec<LogRecord>, SourceError>>;

    /// The spans of the traces of `selection` that start in `range`.
    fn traces<'a>(
        &'a self,
        selection: &'a TraceSelection,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<Vec<Span>, SourceError>>;

    /// Golden signals per workload over `range`, one point every `step`.
    fn golden_signals(
        &self,
        range: TimeRange,
        step: Duration,
    ) -> BoxFuture<'_, Result<BTreeMap<String, GoldenSignals>, SourceError>>;

    /// The service graph of `range`.
    fn service_graph(&self, range: TimeRange) -> BoxFuture<'_, Result<GraphReading, SourceError>>;

    /// The raw metric series the detectors read (Istio counters and histograms, cAdvisor,
    /// kube-state-metrics) over `range`.
    fn raw_series(&self, range: TimeRange) -> BoxFuture<'_, Result<Vec<Series>, SourceError>>;

    /// Deploys, restarts and new pods in `range`, oldest first.
    fn changes(&self, range: TimeRange) -> BoxFuture<'_, Result<Vec<ChangeEvent>, SourceError>>;
}

/// How far behind `now` a quiet follower moves its cursor (ingestion delay).
pub const FOLLOW_DELAY: Duration = Duration::from_secs(5);

/// Follows logs by polling: each [`LogFollower::poll`] returns the lines that arrived since the
/// previous one, without repeating lines at the boundary timestamp.
#[derive(Debug, Clone)]
pub struct LogFollower {
    selection: LogSelection,
    cursor: Timestamp,
    seen_at_cursor: HashSet<(String, String)>,
}

impl LogFollower {
    /// Starts following at `from`.
    #[must_use]
    pub fn new(selection: LogSelection, from: Timestamp) -> Self {
        Self {
            selection,
            cursor: from,
            seen_at_cursor: HashSet::new(),
        }
    }

    /// Where the next poll starts.
    #[must_use]
    pub fn cursor(&self) -> Timestamp {
        self.cursor
    }

    /// New lines up to `now` (exclusive), oldest first.
    ///
    /// # Errors
    /// The source's error; the cursor does not move then, so nothing is lost.
    pub async fn poll(
        &mut self,
        source: &dyn TelemetrySource,
        now: Timestamp,
    ) -> Result<Vec<LogRecord>, SourceError> {
        let Some(range) = TimeRange::new(self.cursor, now) else {
            return Ok(Vec::new());
        };
        if range.start >= range.end {
            return Ok(Vec::new());
        }
        let records = source.logs(&self.selection, range).await?;
        let mut fresh = Vec::with_capacity(records.len());
        let newest = records.iter().map(|r| r.timestamp).max();
        let mut next_seen = HashSet::new();
        for record in records {
            let key = (record.service.clone(), record.line.clone());
            if record.timestamp == self.cursor && self.seen_at_cursor.contains(&key) {
                continue;
            }
            if Some(record.timestamp) == newest {
                next_seen.insert(key);
            }
            fresh.push(record);
        }
        if newest.is_none() {
            // Nothing new: move up to a few seconds before `now` (late lines still arrive).
            let settled = now.minus(FOLLOW_DELAY);
            if settled > self.cursor {
                self.cursor = settled;
                self.seen_at_cursor.clear();
            }
        }
        if let Some(newest) = newest {
            if newest == self.cursor {
                self.seen_at_cursor.extend(next_seen);
            } else {
                self.seen_at_cursor = next_seen;
                self.cursor = newest;
            }
        }
        Ok(fresh)
    }
}
