//! A bundle of telemetry for one time span: what an offline input directory holds, what the
//! simulator produces and what the detectors read.

use super::fault::GroundTruth;
use super::graph::ServiceGraph;
use super::telemetry::{LogRecord, Series, Span};

/// Logs, spans, metric series, an optional explicit service graph and optional ground truth.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Log records, in no guaranteed order.
    pub logs: Vec<LogRecord>,
    /// Spans of all traces.
    pub spans: Vec<Span>,
    /// Metric series.
    pub series: Vec<Series>,
    /// An explicit service graph (Kiali or a hand-written edge list), when given.
    pub graph: Option<ServiceGraph>,
    /// Ground truth, only from the simulator; only evaluation may read it.
    pub ground_truth: Option<GroundTruth>,
}

impl Dataset {
    /// Whether the dataset holds no telemetry at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty() && self.spans.is_empty() && self.series.is_empty()
    }
}
