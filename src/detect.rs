//! Anomaly detection over telemetry: each family learns normal behaviour from a baseline
//! window, without labels, then scores the current window in fixed-length windows per service.
//!
//! - [`traces`]: MAIA health score, error/slowness propagation per edge, per-trace structure and
//!   latency scores, per-service request error/latency/volume shifts.
//! - [`metrics`]: golden signals from raw Prometheus series (or ready-made), robust z, IQR, EWMA,
//!   Isolation Forest, Holt forecasts.
//! - [`logs`]: Drain templates, template novelty, error keywords, next-template misses, volume
//!   drops and MAIA sequence embeddings; plugs into [`Detectors`] as ready [`FamilyScores`].
//! - [`event`]: the shared output (anomaly events, score timelines); [`window`]: window grids
//!   and range syntax; [`combine`]: fusion of the families.
//!
//! Invariants: nothing under `detect` awaits, touches files or network, or reads the clock;
//! time arrives inside the inputs (spans, samples, change events, the ranges). The same inputs
//! give the same outputs (the Isolation Forest is seeded).

pub mod combine;
pub mod event;
pub mod logs;
pub mod metrics;
pub mod traces;
pub mod window;

use crate::model::{Series, Span, TimeRange, Timestamp};
use event::{AnomalyEvent, FamilyScores, ScoreTimeline, SignalKind};
use metrics::golden::{GoldenSignals, golden_signals_with};
use metrics::{MetricConfig, MetricReport, detect_metrics};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use traces::{TraceConfig, TraceReport, detect_traces};
use window::WindowGrid;

/// What changed in the system (deploys explain some anomalies; restarts are symptoms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A new rollout (deployment generation increased).
    Deploy,
    /// A container restarted.
    Restart,
}

/// A change event: a deploy or restart of a service at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Service (workload).
    pub service: String,
    /// When (the first sample showing it).
    #[serde(with = "crate::model::fault::rfc3339")]
    pub at: Timestamp,
    /// What.
    pub kind: ChangeKind,
}

/// Derives change events from `kube_deployment_status_observed_generation` (increase → deploy)
/// and `kube_pod_container_status_restarts_total` (increase → restart).
#[must_use]
pub fn changes_from_series(series: &[Series]) -> Vec<ChangeEvent> {
    let mut out = Vec::new();
    for one in series {
        let (kind, service) = match one.name() {
            "kube_deployment_status_observed_generation" => (
                ChangeKind::Deploy,
                one.label("deployment")
                    .map(str::to_owned)
                    .or_else(|| crate::model::telemetry::service_from_labels(&one.labels)),
            ),
            "kube_pod_container_status_restarts_total" => (
                ChangeKind::Restart,
                one.label("container")
                    .map(str::to_owned)
                    .or_else(|| crate::model::telemetry::service_from_labels(&one.labels)),
            ),
            _ => continue,
        };
        let Some(service) = service else { continue };
        let mut previous: Option<f64> = None;
        for sample in one.samples.iter().filter(|s| s.value.is_finite()) {
            if previous.is_some_and(|p| sample.value > p) {
                out.push(ChangeEvent {
                    service: service.clone(),
                    at: sample.timestamp,
                    kind,
                });
            }
            previous = Some(sample.value);
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.service.cmp(&b.service)));
    out
}

/// Settings of all families.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectConfig {
    /// Window length (default 60 s).
    pub window: Duration,
    /// Trace family settings.
    pub traces: TraceConfig,
    /// Metric family settings.
    pub metrics: MetricConfig,
    /// Combined score at which a service is anomalous in a window (default 0.5).
    pub threshold: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            traces: TraceConfig::default(),
            metrics: MetricConfig::default(),
            threshold: 0.5,
        }
    }
}

/// Everything the detectors read. Time enters only here.
#[derive(Debug, Clone, Copy)]
pub struct DetectInput<'a> {
    /// Spans of the baseline and the analysed window.
    pub spans: &'a [Span],
    /// Raw metric series (ignored for services present in `golden`).
    pub series: &'a [Series],
    /// Ready golden signals per service (e.g. from a live Prometheus client), if any.
    pub golden: Option<&'a BTreeMap<String, GoldenSignals>>,
    /// Deploys and restarts.
    pub changes: &'a [ChangeEvent],
    /// Log-family scores on [`Detectors::grid`] of `window`, when the log detectors ran.
    pub log_scores: Option<&'a FamilyScores>,
    /// What normal looks like.
    pub baseline: TimeRange,
    /// What to score.
    pub window: TimeRange,
}

/// A bad detection input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// The analysed window is empty.
    #[error("the analysed window is empty")]
    EmptyWindow,
    /// The baseline is empty.
    #[error("the baseline window is empty")]
    EmptyBaseline,
}

/// All families' results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectReport {
    /// Baseline used.
    pub baseline: TimeRange,
    /// Analysed range.
    pub window: TimeRange,
    /// Every event of every family, by window then score.
    pub events: Vec<AnomalyEvent>,
    /// Per-service scores per kind (and `combined`) over the windows.
    pub timeline: ScoreTimeline,
    /// Per service, the combined deciding score per window (the maximum over the families'
    /// [`FamilyScores::verdict_score`]; never above the `combined` score of `timeline`, which
    /// keeps the full evidence for the ranking).
    #[serde(default)]
    pub verdict: BTreeMap<String, Vec<f64>>,
    /// Per window, the highest combined deciding score over services.
    pub system_scores: Vec<f64>,
    /// Per window, the services whose combined deciding score reached the threshold.
    pub anomalous_services: Vec<Vec<String>>,
    /// Trace-family details (health, propagation, anomalous traces).
    pub traces: TraceReport,
    /// Metric-family details (per-signal scores, Isolation Forest, forecasts).
    pub metrics: MetricReport,
    /// Change events considered.
    pub changes: Vec<ChangeEvent>,
}

/// The detector facade: runs the trace and metric families, folds in log scores when given,
/// and combines them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detectors {
    /// Settings.
    pub config: DetectConfig,
}

impl Detectors {
    /// A facade with `config`.
    #[must_use]
    pub fn new(config: DetectConfig) -> Self {
        Self { config }
    }

    /// The window grid every family scores on for an analysed range.
    #[must_use]
    pub fn grid(&self, window: TimeRange) -> WindowGrid {
        WindowGrid::covering(window, self.config.window)
    }

    /// Runs every family.
    ///
    /// # Errors
    /// When the baseline or the analysed window is empty.
    pub fn run(&self, input: &DetectInput<'_>) -> Result<DetectReport, DetectError> {
        if input.window.duration().is_zero() {
            return Err(DetectError::EmptyWindow);
        }
        if input.baseline.duration().is_zero() {
            return Err(DetectError::EmptyBaseline);
        }
        let grid = self.grid(input.window);
        let traces = detect_traces(
            input.spans,
            input.baseline,
            &grid,
            input.changes,
            &self.config.traces,
        );
        let mut golden = golden_signals_with(input.series, self.config.metrics.golden);
        if let Some(ready) = input.golden {
            for (service, signals) in ready {
                golden.insert(service.clone(), signals.clone());
            }
        }
        let metrics = detect_metrics(
            &golden,
            input.baseline,
            &grid,
            input.changes,
            &self.config.metrics,
        );
        let mut families: Vec<&FamilyScores> = vec![&traces.family, &metrics.family];
        if let Some(logs) = input.log_scores {
            families.push(logs);
        }
        let combined = combine::combine(&families, grid.count);
        let verdict = combine::combine_verdicts(&families, grid.count);
        let system_scores = combine::system_scores(&verdict, grid.count);
        let anomalous_services = (0..grid.count)
            .map(|w| {
                verdict
                    .iter()
                    .filter(|(_, scores)| scores[w] >= self.config.threshold)
                    .map(|(service, _)| service.clone())
                    .collect()
            })
            .collect();
        let mut timeline = ScoreTimeline::new(grid.starts(), grid.step);
        for family in &families {
            let kind = family.kind.unwrap_or(SignalKind::Log);
            for (service, scores) in &family.scores {
                timeline
                    .scores
                    .entry(service.clone())
                    .or_default()
                    .insert(kind.as_str().to_owned(), scores.clone());
            }
        }
        for (service, scores) in &combined {
            timeline
                .scores
                .entry(service.clone())
                .or_default()
                .insert("combined".to_owned(), scores.clone());
        }
        let mut events: Vec<AnomalyEvent> = families
            .iter()
            .flat_map(|f| f.events.iter().cloned())
            .collect();
        events.sort_by(|a, b| {
            a.window_start
                .cmp(&b.window_start)
                .then(b.score.total_cmp(&a.score))
        });
        Ok(DetectReport {
            baseline: input.baseline,
            window: input.window,
            events,
            timeline,
            verdict,
            system_scores,
            anomalous_services,
            traces,
            metrics,
            changes: input.changes.to_vec(),
        })
    }
}
