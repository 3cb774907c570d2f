//! The wall-clock source of a live experiment (adapter: reads the clock, sleeps). Telemetry is
//! read through a [`FetchTelemetry`] the caller supplies, so the live Loki/Tempo/Prometheus
//! clients can be connected without touching the runner; until then the command line passes
//! [`NoTelemetry`] and says so.

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
