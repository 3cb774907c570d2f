//! The wall-clock source of a live experiment (adapter: reads the clock, sleeps). Telemetry is
//! read through a [`FetchTelemetry`]: [`SourceFetch`] reads the configured Loki, Tempo,
//! Prometheus and Kiali; [`NoTelemetry`] stands in when none is configured (the command says
//! so).

use super::runner::{SourceError, Telemetry, TelemetrySource};
use crate::model::{ServiceGraph, TimeRange, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Reads the telemetry of a time range from live backends.
pub trait FetchTelemetry {
    /// Telemetry with timestamps in `range` (start exclusive, end inclusive).
    ///
    /// # Errors
    /// The backend's message.
    fn fetch(&mut self, range: TimeRange) -> Result<Telemetry, String>;
    /// A known service graph (Kiali), if any.
    fn graph(&self) -> Option<ServiceGraph> {
        None
    }
    /// What the source is, for reports.
    fn describe(&self) -> String;
    /// Whether real telemetry arrives (false for [`NoTelemetry`]).
    fn connected(&self) -> bool {
        true
    }
}

impl FetchTelemetry for Box<dyn FetchTelemetry> {
    fn fetch(&mut self, range: TimeRange) -> Result<Telemetry, String> {
        self.as_mut().fetch(range)
    }
    fn graph(&self) -> Option<ServiceGraph> {
        self.as_ref().graph()
    }
    fn describe(&self) -> String {
        self.as_ref().describe()
    }
    fn connected(&self) -> bool {
        self.as_ref().connected()
    }
}

/// Reads each step's telemetry from a [`crate::source::TelemetrySource`] (the live clients):
/// logs, traces and metric samples newer than the step's start, and the service graph of the
/// step. A part that fails is left out of that step (with a warning on stderr) as long as one
/// part works; when every part fails the step fails.
pub struct SourceFetch {
    source: Box<dyn crate::source::TelemetrySource>,
    runtime: tokio::runtime::Runtime,
    traces: crate::source::TraceSelection,
    graph: Option<ServiceGraph>,
}

impl SourceFetch {
    /// Reads `source`, at most `traces_per_step` traces per step.
    ///
    /// # Errors
    /// When the async runtime cannot start.
    pub fn new(
        source: Box<dyn crate::source::TelemetrySource>,
        traces_per_step: usize,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        Ok(Self {
            source,
            runtime,
            traces: crate::source::TraceSelection {
                limit: traces_per_step,
                ..crate::source::TraceSelection::default()
            },
            graph: None,
        })
    }
}

impl FetchTelemetry for SourceFetch {
    fn fetch(&mut self, range: TimeRange) -> Result<Telemetry, String> {
        let source = self.source.as_ref();
        let selection = crate::source::LogSelection::default();
        let traces = &self.traces;
        let (logs, spans, series, graph) = self.runtime.block_on(async {
            futures_util::join!(
                source.logs(&selection, range),
                source.traces(traces, range),
                source.raw_series(range),
                source.service_graph(range),
            )
        });
        let mut failures = Vec::new();
        let mut telemetry = Telemetry::default();
        match logs {
            Ok(logs) => {
                telemetry.logs = logs
                    .into_iter()
                    .filter(|r| r.timestamp > range.start)
                    .collect();
            }
            Err(e) => failures.push(format!("logs: {e}")),
        }
        match spans {
            // Traces are found by their start time: the search's range is what makes each
            // trace belong to one step.
            Ok(spans) => telemetry.spans = spans,
            Err(e) => failures.push(format!("traces: {e}")),
        }
        match series {
            Ok(series) => {
                telemetry.series = series
                    .into_iter()
                    .map(|mut s| {
                        s.samples.retain(|p| p.timestamp > range.start);
                        s
                    })
                    .filter(|s| !s.samples.is_empty())
                    .collect();
            }
            Err(e) => failures.push(format!("metrics: {e}")),
        }
        if let Ok(reading) = graph
            && reading.graph.edge_count() > 0
        {
            self.graph = Some(reading.graph);
        }
        let not_configured = |f: &String| f.contains("is not configured");
        let real: Vec<&String> = failures.iter().filter(|f| !not_configured(f)).collect();
        let configured = 3 - failures.iter().filter(|f| not_configured(f)).count();
        if configured > 0 && real.len() == configured {
            return Err(failures.join("; "));
        }
        for failure in real {
            eprintln!("warning: this step has no {failure}");
        }
        Ok(telemetry)
    }

    fn graph(&self) -> Option<ServiceGraph> {
        self.graph.clone()
    }

    fn describe(&self) -> String {
        self.source.describe()
    }
}

/// No live backend connected: every fetch is empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTelemetry;

impl FetchTelemetry for NoTelemetry {
    fn fetch(&mut self, _range: TimeRange) -> Result<Telemetry, String> {
        Ok(Telemetry::default())
    }
    fn describe(&self) -> String {
        "no live telemetry source connected".to_owned()
    }
    fn connected(&self) -> bool {
        false
    }
}

/// The wall clock now.
#[must_use]
pub fn wall_now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Timestamp(nanos)
}

/// Waits for the wall clock to reach each step, then fetches the telemetry since the previous
/// step; a step already in the past is fetched at once (recording an experiment that ran
/// earlier). Checks `interrupted` every 50 ms.
pub struct WallClockSource<F: FetchTelemetry> {
    fetch: F,
    position: Timestamp,
    interrupted: Arc<AtomicBool>,
}

impl<F: FetchTelemetry> WallClockSource<F> {
    /// A source positioned at `start`.
    pub fn new(fetch: F, start: Timestamp, interrupted: Arc<AtomicBool>) -> Self {
        Self {
            fetch,
            position: start,
            interrupted,
        }
    }
}

impl<F: FetchTelemetry> TelemetrySource for WallClockSource<F> {
    fn now(&self) -> Timestamp {
        self.position
    }

    fn advance(&mut self, until: Timestamp) -> Result<Telemetry, SourceError> {
        loop {
            if self.interrupted.load(Ordering::SeqCst) {
                return Err(SourceError::Interrupted);
            }
            let now = wall_now();
            if now >= until {
                break;
            }
            let left = Duration::from_nanos(u64::try_from(until.0 - now.0).unwrap_or(0));
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        let range = TimeRange {
            start: self.position,
            end: until,
        };
        self.position = until;
        self.fetch.fetch(range).map_err(SourceError::Failed)
    }

    fn graph(&self) -> Option<ServiceGraph> {
        self.fetch.graph()
    }
}
