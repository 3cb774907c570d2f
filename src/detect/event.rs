//! The output vocabulary shared by every detector family: anomaly events (the payload MAIA put
//! on its queue) with their evidence, and per-service scores per signal kind over time.
//!
//! Invariants: every score is in `[0, 1]` (0 normal, 0.5 the decision threshold, 1 certain);
//! times are UTC and serialize as RFC 3339; these types are plain data that the log, trace and
//! metric families all produce, so the Bayesian ranking and the console read one format.

use crate::model::Timestamp;
use crate::model::fault::rfc3339;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The family of telemetry an anomaly was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    /// Log lines (templates, rates, embeddings).
    Log,
    /// Spans and traces.
    Trace,
    /// Metric series.
    Metric,
}

impl SignalKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 3] = [Self::Log, Self::Trace, Self::Metric];

    /// The lowercase name used in JSON and tables.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Trace => "trace",
            Self::Metric => "metric",
        }
    }
}

/// A log template that changed, with an example line (filled by the log detectors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvidence {
    /// The template (variables masked).
    pub template: String,
    /// One raw example line (untrusted text).
    pub example: String,
    /// Occurrences in the window.
    pub count: u64,
    /// Expected occurrences per window in the baseline.
    pub baseline_count: f64,
}

/// A metric (or derived trace statistic) that moved: baseline against observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDelta {
    /// Signal name, e.g. `error_ratio`, `latency_p99_ms`, `span_errors`.
    pub signal: String,
    /// Typical baseline value (median, or expected count).
    pub baseline: f64,
    /// Observed value in the window (the most anomalous point).
    pub observed: f64,
    /// Robust z-score (or Poisson z for counts) of the observation.
    pub z: f64,
}

/// Why an event was raised. Empty lists are omitted from JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Log templates with example lines (log family).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_lines: Vec<LogEvidence>,
    /// Ids of example traces (trace family), lowercase hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_ids: Vec<String>,
    /// Metric deltas (metric family, and trace statistics).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_deltas: Vec<MetricDelta>,
    /// Free-text remarks (e.g. "span status used: traces carry no HTTP status").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One anomaly of one service in one window, as put on the incident queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyEvent {
    /// The service (workload) the anomaly is attributed to.
    pub service: String,
    /// The family that found it.
    pub kind: SignalKind,
    /// The strongest signal within the family (e.g. `error_ratio`, `health`, `span_latency`).
    pub signal: String,
    /// Anomaly score in `[0, 1]`; events are raised at `score >= threshold` (0.5 by default).
    pub score: f64,
    /// Window start (inclusive).
    #[serde(with = "rfc3339")]
    pub window_start: Timestamp,
    /// Window end (exclusive).
    #[serde(with = "rfc3339")]
    pub window_end: Timestamp,
    /// Why.
    pub evidence: Evidence,
}

/// Per-service scores of one family on a window grid: `scores[service][window_index]`.
///
/// This is also how a family that is built elsewhere (the log detectors) hands its results to
/// [`crate::detect::Detectors`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FamilyScores {
    /// The family.
    pub kind: Option<SignalKind>,
    /// Per service, one score per window of the grid (missing windows score 0).
    pub scores: BTreeMap<String, Vec<f64>>,
    /// The events raised, in window order.
    pub events: Vec<AnomalyEvent>,
    /// Per service, the score that decides whether the window is anomalous, where the family
    /// computes one apart from `scores` (never above it): evidence too thin to call on its own,
    /// such as two errors among nineteen requests, is discounted for the decision while
    /// `scores` keep the full evidence the ranking pools. Services absent here decide by
    /// `scores`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub verdict: BTreeMap<String, Vec<f64>>,
}

impl FamilyScores {
    /// An empty result for `kind`.
    #[must_use]
    pub fn new(kind: SignalKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }

    /// The score of `service` in window `index` (0 when unknown).
    #[must_use]
    pub fn score(&self, service: &str, index: usize) -> f64 {
        self.scores
            .get(service)
            .and_then(|scores| scores.get(index))
            .copied()
            .unwrap_or(0.0)
    }

    /// The deciding score of `service` in window `index`: its `verdict` when the family gave
    /// one for the service, else its score (0 when unknown).
    #[must_use]
    pub fn verdict_score(&self, service: &str, index: usize) -> f64 {
        match self.verdict.get(service) {
            Some(scores) => scores.get(index).copied().unwrap_or(0.0),
            None => self.score(service, index),
        }
    }
}

/// Per-service scores per signal kind over time, for the console's timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreTimeline {
    /// Start of each window, RFC 3339.
    #[serde(with = "rfc3339_vec")]
    pub window_starts: Vec<Timestamp>,
    /// Window length in seconds.
    pub window_secs: f64,
    /// `scores[service][kind][window_index]`, plus the kind-combined score under `combined`.
    pub scores: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
}

impl ScoreTimeline {
    /// An empty timeline over the given windows.
    #[must_use]
    pub fn new(window_starts: Vec<Timestamp>, window: Duration) -> Self {
        Self {
            window_starts,
            window_secs: window.as_secs_f64(),
            scores: BTreeMap::new(),
        }
    }
}

/// Maps a non-negative statistic to `[0, 1)` so that `threshold` lands on 0.5:
/// `x / (x + threshold)`. Non-finite or negative input scores 0 (NaN) or 1 (+inf).
#[must_use]
pub fn squash(statistic: f64, threshold: f64) -> f64 {
    if statistic.is_nan() || statistic <= 0.0 {
        return 0.0;
    }
    if statistic.is_infinite() {
        return 1.0;
    }
    let threshold = threshold.max(f64::MIN_POSITIVE);
    (statistic / (statistic + threshold)).clamp(0.0, 1.0)
}

mod rfc3339_vec {
    use crate::model::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(times: &[Timestamp], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(times.len()))?;
        for time in times {
            seq.serialize_element(&time.to_rfc3339())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Timestamp>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts
            .iter()
            .map(|text| {
                Timestamp::parse_rfc3339(text).ok_or_else(|| {
                    serde::de::Error::custom(format!("`{text}` is not an RFC 3339 timestamp"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_puts_the_threshold_at_one_half() {
        assert!((squash(5.0, 5.0) - 0.5).abs() < 1e-12);
        assert_eq!(squash(0.0, 5.0), 0.0);
        assert_eq!(squash(f64::NAN, 5.0), 0.0);
        assert_eq!(squash(f64::INFINITY, 5.0), 1.0);
        assert!(squash(50.0, 5.0) > 0.9);
    }

    #[test]
    fn events_round_trip_through_json() {
        let event = AnomalyEvent {
            service: "carts".into(),
            kind: SignalKind::Metric,
            signal: "error_ratio".into(),
            score: 0.8,
            window_start: Timestamp::from_secs(1_735_689_600),
            window_end: Timestamp::from_secs(1_735_689_660),
            evidence: Evidence {
                metric_deltas: vec![MetricDelta {
                    signal: "error_ratio".into(),
                    baseline: 0.0,
                    observed: 0.4,
                    z: 40.0,
                }],
                ..Evidence::default()
            },
        };
        let text = serde_json::to_string(&event).expect("serializes");
        assert!(text.contains("\"kind\":\"metric\""));
        assert!(text.contains("2025-01-01T00:00:00"));
        assert!(!text.contains("log_lines"));
        let back: AnomalyEvent = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, event);
        let timeline = ScoreTimeline::new(vec![event.window_start], Duration::from_secs(60));
        let text = serde_json::to_string(&timeline).expect("serializes");
        let back: ScoreTimeline = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, timeline);
    }
}
