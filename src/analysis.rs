//! The analysis pipeline (pure): telemetry → detectors → per-service evidence → the root-cause
//! network → a ranking. Used by `baynet analyze`, the console, `baynet serve`, the experiment
//! recorder and the chat; nothing here does I/O or reads the clock.
//!
//! Windows: when the caller gives no analysed window, the pipeline scans the data with the first
//! quarter as baseline, takes the first sustained anomalous window as the incident start, and
//! ranks on the evidence of the `focus_windows` windows from there (the picture at detection
//! time). With no anomaly it ranks on the most recent windows and says nothing is wrong.

pub mod graph;

use crate::detect::event::{AnomalyEvent, FamilyScores, SignalKind};
use crate::detect::window::WindowGrid;
use crate::detect::{
    ChangeEvent, ChangeKind, DetectConfig, DetectError, DetectInput, DetectReport, Detectors,
    changes_from_series,
};
use crate::model::{Series, ServiceGraph, Span, TimeRange, Timestamp};
use crate::rca::{
    EvidenceItem, LinkStrengths, Ranking, RcaConfig, RcaError, ServiceEvidence, rank,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub use graph::learn_service_graph;

/// Scores the log family on the detectors' window grid (implemented by the log detectors, so
/// this pipeline stays free of the embedding engine).
pub trait LogScorer {
    /// Per-service log anomaly scores on `grid`, having learned normal from `baseline`.
    fn score(&self, baseline: TimeRange, grid: &WindowGrid) -> FamilyScores;
}

/// The log family over a slice of records, without sentence embeddings (template novelty,
/// error keywords, next-template misses, volume, peer attribution): fast enough to run on every
/// analysis. Failures of the log family leave the other families to speak (no scores). The
/// records are owned lines or shared ones (`Arc<LogRecord>`, what the console's buffers hold).
#[derive(Debug)]
pub struct RecordLogs<'a, R = crate::model::LogRecord> {
    /// The records (any order).
    pub records: &'a [R],
    /// Log-family settings.
    pub config: crate::detect::logs::LogConfig,
}

impl<R> Clone for RecordLogs<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for RecordLogs<'_, R> {}

impl<'a, R: std::borrow::Borrow<crate::model::LogRecord>> RecordLogs<'a, R> {
    /// The log family with default settings over `records`.
    #[must_use]
    pub fn new(records: &'a [R]) -> Self {
        Self {
            records,
            config: crate::detect::logs::LogConfig::default(),
        }
    }
}

impl<R: std::borrow::Borrow<crate::model::LogRecord>> LogScorer for RecordLogs<'_, R> {
    fn score(&self, baseline: TimeRange, grid: &WindowGrid) -> FamilyScores {
        match crate::detect::logs::detect_logs(self.records, baseline, grid, &self.config, None) {
            Ok(report) => report.family,
            Err(error) => {
                tracing::debug!(%error, "log family skipped");
                FamilyScores::new(SignalKind::Log)
            }
        }
    }
}

/// Settings of the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// Detector settings (window length, thresholds).
    pub detect: DetectConfig,
    /// Root-cause model settings.
    pub rca: RcaConfig,
    /// Windows from the incident start whose evidence is ranked (default 5).
    pub focus_windows: usize,
    /// Share of the data used as baseline when scanning for the incident (default 0.25).
    pub scan_baseline_share: f64,
    /// A deploy or restart this recent raises the service's prior (MAIA: 60 min).
    pub deploy_ttl: Duration,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            detect: DetectConfig::default(),
            rca: RcaConfig::default(),
            focus_windows: 5,
            scan_baseline_share: 0.25,
            deploy_ttl: Duration::from_secs(3600),
        }
    }
}

/// What the pipeline reads.
#[derive(Clone, Copy)]
pub struct AnalysisInput<'a> {
    /// Spans (any order).
    pub spans: &'a [Span],
    /// Metric series.
    pub series: &'a [Series],
    /// An explicit service graph, when known (Kiali, a hand-written edge list).
    pub graph: Option<&'a ServiceGraph>,
    /// The log family, when logs are available.
    pub logs: Option<&'a dyn LogScorer>,
    /// Baseline to learn normal from; default: before the incident (see the module docs).
    pub baseline: Option<TimeRange>,
    /// Range to analyse; default: from the baseline end to the data end.
    pub window: Option<TimeRange>,
    /// The whole data range (for defaults); computed from spans and series when `None`.
    pub data: Option<TimeRange>,
}

impl<'a> AnalysisInput<'a> {
    /// Spans and series alone: no explicit graph, no logs, windows and range found from the
    /// data.
    #[must_use]
    pub fn new(spans: &'a [Span], series: &'a [Series]) -> Self {
        Self {
            spans,
            series,
            graph: None,
            logs: None,
            baseline: None,
            window: None,
            data: None,
        }
    }
}

/// The result of one analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Baseline used.
    pub baseline: TimeRange,
    /// Range scored by the detectors.
    pub window: TimeRange,
    /// The ranked range: the first windows of the incident, or the latest windows when there
    /// is none.
    pub focus: TimeRange,
    /// Start of the first sustained anomalous window, when there is one.
    pub incident_start: Option<Timestamp>,
    /// Root-cause ranking (services, probabilities, bands, evidence, explanations, verdict).
    #[serde(flatten)]
    pub ranking: Ranking,
    /// Per-service health score (MAIA) in the focus range.
    pub health: BTreeMap<String, f64>,
    /// Per-service, per-signal-kind maximum anomaly score in the focus range.
    pub anomaly: BTreeMap<String, BTreeMap<String, f64>>,
    /// The service graph used, as `caller -> callee` pairs.
    pub edges: Vec<(String, String)>,
    /// Detector details.
    #[serde(skip)]
    pub report: DetectReport,
    /// The service graph with statistics.
    #[serde(skip)]
    pub graph: ServiceGraph,
    /// The evidence the network was given.
    #[serde(skip)]
    pub evidence: BTreeMap<String, ServiceEvidence>,
    /// Link strengths learned from error propagation in the traces.
    #[serde(skip)]
    pub links: LinkStrengths,
}

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// Nothing to analyse.
    #[error("the input holds no spans and no metric series; give traces.json or metrics.json")]
    NoData,
    /// The data is too short for a baseline and a window.
    #[error(
        "the data spans only {0:?}; at least two detector windows are needed (a baseline and a window)"
    )]
    TooShort(Duration),
    /// Bad ranges.
    #[error("{0}")]
    Detect(#[from] DetectError),
    /// The network could not be built.
    #[error("root-cause model: {0}")]
    Rca(#[from] RcaError),
}

/// The range covered by spans, series and log records.
#[must_use]
pub fn data_range_with_logs(
    spans: &[Span],
    series: &[Series],
    logs: &[crate::model::LogRecord],
) -> Option<TimeRange> {
    let (mut first, mut last) = logs.iter().fold((i64::MAX, i64::MIN), |(a, b), r| {
        (a.min(r.timestamp.0), b.max(r.timestamp.0))
    });
    if let Some(range) = data_range(spans, series) {
        first = first.min(range.start.0);
        last = last.max(range.end.0);
    }
    TimeRange::new(Timestamp(first), Timestamp(last))
}

/// The range covered by spans and series.
#[must_use]
pub fn data_range(spans: &[Span], series: &[Series]) -> Option<TimeRange> {
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for span in spans {
        first = first.min(span.start.0);
        last = last.max(span.end.0.max(span.start.0));
    }
    for one in series {
        for sample in &one.samples {
            first = first.min(sample.timestamp.0);
            last = last.max(sample.timestamp.0);
        }
    }
    TimeRange::new(Timestamp(first), Timestamp(last))
}

/// Whether a signal means "lost traffic" rather than "doing badly".
fn starvation_signal(event: &AnomalyEvent) -> bool {
    match event.signal.as_str() {
        "requests_drop" | "requests" => true,
        "traffic_rps" | "tcp_bytes_per_s" | "tcp_connections_per_s" => event
            .evidence
            .metric_deltas
            .iter()
            .find(|d| d.signal == event.signal)
            .is_none_or(|d| d.z < 0.0),
        _ => false,
    }
}

fn describe(event: &AnomalyEvent) -> String {
    let mut text = format!("{} {}", event.kind.as_str(), event.signal);
    if let Some(delta) = event.evidence.metric_deltas.first() {
        text.push_str(&format!(
            ": {} {:.3} vs baseline {:.3}",
            delta.signal, delta.observed, delta.baseline
        ));
    }
    if let Some(line) = event.evidence.log_lines.first() {
        text.push_str(&format!(": template \"{}\" ×{}", line.template, line.count));
    }
    if !event.evidence.trace_ids.is_empty() {
        text.push_str(&format!(
            " (traces {})",
            event
                .evidence
                .trace_ids
                .iter()
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    text
}

/// How detector scores become evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvidenceSettings {
    /// Score at which a detector calls a window anomalous.
    pub threshold: f64,
    /// The network's detector base rate: evidence at this value is neutral.
    pub base_rate: f64,
    /// A deploy or restart this recent raises the prior.
    pub deploy_ttl: Duration,
    /// Scores are clamped to `[floor, 1 - floor]` before pooling (the network's evidence floor).
    pub floor: f64,
}

/// A score below the detector threshold is the detector saying "normal": it maps linearly from
/// `[0, threshold)` onto `[0, base_rate)`, so that it is at most neutral evidence and a quiet
/// detector counts against a fault. (Taken raw, the noise scores of a healthy system, 0.1–0.4,
/// would each multiply the odds of a fault by 2–13.)
#[must_use]
pub fn calibrate_quiet(score: f64, threshold: f64, base_rate: f64) -> f64 {
    let score = score.clamp(0.0, 1.0);
    if score >= threshold || threshold <= 0.0 {
        score
    } else {
        score / threshold * base_rate
    }
}

/// Pools one service's per-window scores over the focus windows into one score for the
/// network: the mean of the windows' likelihood ratios (odds of the score over the base-rate
/// odds), turned back into a score. A window without an observation (`None`) is neutral.
///
/// Why the mean and not the maximum: the maximum of `k` windows is far more often high in
/// normal operation than one window is (about `k` times the base rate), so taken as one
/// window's evidence it overstates a brief blip `k`-fold. The mean corrects for looking at `k`
/// windows (a single-window spike among quiet windows counts about `1/k` of its ratio) and
/// leaves an anomaly that lasts through the focus as strong as before.
#[must_use]
pub fn pool_windows(windows: &[Option<f64>], base_rate: f64, floor: f64) -> Option<f64> {
    if windows.iter().all(Option::is_none) {
        return None;
    }
    let floor = floor.clamp(1e-9, 0.49);
    let base = base_rate.clamp(floor, 1.0 - floor);
    let base_odds = base / (1.0 - base);
    let ratio = |s: f64| {
        let s = if s.is_finite() {
            s.clamp(floor, 1.0 - floor)
        } else {
            base
        };
        s / (1.0 - s) / base_odds
    };
    #[allow(clippy::cast_precision_loss)]
    let mean = windows.iter().map(|w| w.map_or(1.0, ratio)).sum::<f64>() / windows.len() as f64;
    let odds = mean * base_odds;
    Some(odds / (1.0 + odds))
}

/// Turns a detector report into the network's evidence over windows `focus` of the grid.
/// `blind` services (reached only over raw TCP, see [`tcp_only_services`]) have no latency or
/// error signal of their own: their quiet windows are unobserved rather than normal.
#[must_use]
pub fn evidence_from_report(
    report: &DetectReport,
    grid: &WindowGrid,
    focus: std::ops::Range<usize>,
    settings: &EvidenceSettings,
    blind: &std::collections::BTreeSet<String>,
) -> BTreeMap<String, ServiceEvidence> {
    let (threshold, base_rate, deploy_ttl) =
        (settings.threshold, settings.base_rate, settings.deploy_ttl);
    // Per service, the "degraded" score of each focus window (max over kinds).
    let mut per_window: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    let focus_len = focus.len();
    let mut note = |service: &str, w: usize, score: f64| {
        let Some(offset) = w.checked_sub(focus.start) else {
            return;
        };
        let slots = per_window
            .entry(service.to_owned())
            .or_insert_with(|| vec![None; focus_len]);
        if let Some(slot) = slots.get_mut(offset) {
            *slot = Some(slot.unwrap_or(0.0).max(score));
        }
    };
    let mut evidence: BTreeMap<String, ServiceEvidence> = BTreeMap::new();
    let focus_range = TimeRange {
        start: grid.window(focus.start).start,
        end: grid
            .window(focus.end.saturating_sub(1).max(focus.start))
            .end,
    };
    let in_focus = |t: Timestamp| t >= focus_range.start && t < focus_range.end;
    // Events first: they carry the signal and its direction.
    let mut explained: BTreeMap<(String, &'static str, usize), ()> = BTreeMap::new();
    for event in &report.events {
        if !in_focus(event.window_start) {
            continue;
        }
        let Some(w) = grid.index_of(event.window_start) else {
            continue;
        };
        let facts = evidence.entry(event.service.clone()).or_default();
        let score = event.score.clamp(0.0, 1.0);
        if starvation_signal(event) {
            facts.starved = Some(facts.starved.unwrap_or(0.0).max(score));
        } else {
            note(&event.service, w, score);
        }
        explained.insert((event.service.clone(), event.kind.as_str(), w), ());
        let description = describe(event);
        let signal_of = |text: &str| text.split(':').next().unwrap_or_default().to_owned();
        let signal = signal_of(&description);
        if let Some(item) = facts
            .items
            .iter_mut()
            .find(|i| i.kind == event.kind.as_str() && signal_of(&i.description) == signal)
        {
            if score > item.score {
                item.score = score;
                item.description = description;
            }
        } else {
            facts.items.push(EvidenceItem {
                kind: event.kind.as_str().to_owned(),
                description,
                score,
            });
        }
    }
    // Scores below the event threshold are weaker evidence, still worth their likelihood ratio.
    for (service, kinds) in &report.timeline.scores {
        for (kind, scores) in kinds {
            if kind == "combined" {
                continue;
            }
            for w in focus.clone() {
                let Some(&score) = scores.get(w) else {
                    continue;
                };
                let kind_key = [SignalKind::Log, SignalKind::Trace, SignalKind::Metric]
                    .into_iter()
                    .find(|k| k.as_str() == kind)
                    .map_or("other", SignalKind::as_str);
                if explained.contains_key(&(service.clone(), kind_key, w)) || !score.is_finite() {
                    continue;
                }
                evidence.entry(service.clone()).or_default();
                let calibrated = calibrate_quiet(score, threshold, base_rate);
                if blind.contains(service) && calibrated < base_rate {
                    continue; // a quiet detector on a blind service proves nothing
                }
                note(service, w, calibrated);
            }
        }
    }
    for (service, windows) in &per_window {
        evidence.entry(service.clone()).or_default().degraded =
            pool_windows(windows, base_rate, settings.floor);
    }
    for (service, windows) in &report.traces.health {
        // The median window, not the lowest: one stray 5xx or slow request drops a window's
        // health by a rule's penalty, and over five windows that happens to healthy services;
        // health that stays low through most of the focus is what raises the prior.
        let healths: Vec<f64> = windows
            .iter()
            .filter(|h| in_focus(h.window_start))
            .map(|h| h.health.score_without_ttl)
            .filter(|h| h.is_finite())
            .collect();
        if !healths.is_empty() {
            evidence.entry(service.clone()).or_default().health =
                Some(crate::detect::metrics::stats::median(&healths));
        }
    }
    for change in &report.changes {
        if change.at <= focus_range.end && change.at.plus(deploy_ttl) >= focus_range.start {
            let facts = evidence.entry(change.service.clone()).or_default();
            facts.deployed_recently = true;
            facts.items.push(EvidenceItem {
                kind: "deploy".to_owned(),
                description: format!(
                    "{} at {}",
                    match change.kind {
                        ChangeKind::Deploy => "deployed",
                        ChangeKind::Restart => "restarted",
                    },
                    change.at.to_rfc3339()
                ),
                score: 1.0,
            });
        }
    }
    for facts in evidence.values_mut() {
        facts.items.sort_by(|a, b| b.score.total_cmp(&a.score));
        facts.items.truncate(8);
    }
    evidence
}

/// Services reached only over raw TCP (databases, caches, brokers) have no latency or error
/// signal of their own: Istio's TCP metrics show bytes and connections, not how slow or wrong
/// the answers were. A quiet detector there proves nothing, so their quiet windows are left
/// unobserved by [`evidence_from_report`] and only a detector that fired (restarts, connection
/// failures, CPU, memory) counts. Their callers' symptoms can then be explained by them.
#[must_use]
pub fn tcp_only_services(graph: &ServiceGraph) -> std::collections::BTreeSet<String> {
    graph
        .services()
        .map(|s| s.name.clone())
        .filter(|service| {
            let callers = graph.callers(service);
            !callers.is_empty()
                && callers.iter().all(|caller| {
                    graph
                        .edge(caller, service)
                        .is_some_and(|e| e.protocol == crate::model::Protocol::Tcp)
                })
        })
        .collect()
}

/// Link strengths from the error and slowness propagation the trace family counted.
#[must_use]
pub fn learn_links(report: &DetectReport, mut links: LinkStrengths) -> LinkStrengths {
    for edge in &report.traces.propagation.edges {
        #[allow(clippy::cast_precision_loss)]
        let (propagated, absorbed) = (
            (edge.errors_propagated + edge.slow_propagated) as f64,
            (edge.errors_absorbed + edge.slow_absorbed) as f64,
        );
        if propagated + absorbed > 0.0 {
            links.observe(&edge.caller, &edge.callee, propagated, absorbed);
        }
    }
    links
}

/// The first window of a sustained anomaly: at or above the threshold, with one of the next
/// two windows too (or at the very end of the data).
#[must_use]
pub fn incident_start(system_scores: &[f64], threshold: f64) -> Option<usize> {
    let hot = |w: usize| system_scores.get(w).is_some_and(|&s| s >= threshold);
    (0..system_scores.len())
        .find(|&w| hot(w) && (hot(w + 1) || hot(w + 2) || w + 1 >= system_scores.len()))
}

/// Runs the whole pipeline.
///
/// # Errors
/// When there is no data, it is too short, or the ranges are empty.
pub fn analyze(
    input: &AnalysisInput<'_>,
    config: &AnalysisConfig,
    links: LinkStrengths,
) -> Result<Analysis, AnalysisError> {
    analyze_with(input, config, links, |_| {})
}

/// [`analyze`], letting the caller add evidence before ranking (external anomaly events from
/// `baynet serve`'s intake, say).
///
/// # Errors
/// As [`analyze`].
pub fn analyze_with(
    input: &AnalysisInput<'_>,
    config: &AnalysisConfig,
    links: LinkStrengths,
    extra: impl FnOnce(&mut BTreeMap<String, ServiceEvidence>),
) -> Result<Analysis, AnalysisError> {
    analyze_with_focus(input, config, links, |evidence, _| extra(evidence))
}

/// [`analyze_with`], telling the caller the focus range the evidence is about (the learned
/// trace model scores the traces that start in it).
///
/// # Errors
/// As [`analyze`].
pub fn analyze_with_focus(
    input: &AnalysisInput<'_>,
    config: &AnalysisConfig,
    links: LinkStrengths,
    extra: impl FnOnce(&mut BTreeMap<String, ServiceEvidence>, TimeRange),
) -> Result<Analysis, AnalysisError> {
    let data = input
        .data
        .or_else(|| data_range(input.spans, input.series))
        .ok_or(AnalysisError::NoData)?;
    let step = config.detect.window.max(Duration::from_secs(1));
    if data.duration() < step * 2 {
        return Err(AnalysisError::TooShort(data.duration()));
    }
    let baseline = input.baseline.unwrap_or_else(|| {
        let share = config.scan_baseline_share.clamp(0.05, 0.9);
        let length = data.duration().mul_f64(share).max(step);
        TimeRange {
            start: data.start,
            end: data.start.plus(length),
        }
    });
    let window = match input.window {
        Some(window) => window,
        None => TimeRange::new(baseline.end, data.end)
            .ok_or(AnalysisError::TooShort(data.duration()))?,
    };
    let detectors = Detectors::new(config.detect);
    let grid = detectors.grid(window);
    let log_scores = input.logs.map(|scorer| scorer.score(baseline, &grid));
    let changes: Vec<ChangeEvent> = changes_from_series(input.series);
    let report = detectors.run(&DetectInput {
        spans: input.spans,
        series: input.series,
        golden: None,
        changes: &changes,
        log_scores: log_scores.as_ref(),
        baseline,
        window,
    })?;
    let start = incident_start(&report.system_scores, config.detect.threshold);
    let focus_len = config.focus_windows.max(1);
    let focus = match start {
        Some(first) => first..(first + focus_len).min(grid.count),
        None => grid.count.saturating_sub(focus_len)..grid.count,
    };
    let settings = EvidenceSettings {
        threshold: config.detect.threshold,
        base_rate: config.rca.detector_base_rate,
        deploy_ttl: config.deploy_ttl,
        floor: config.rca.evidence_floor,
    };
    let graph = learn_service_graph(input.spans, input.series, input.graph);
    let mut evidence = evidence_from_report(
        &report,
        &grid,
        focus.clone(),
        &settings,
        &tcp_only_services(&graph),
    );
    let focus_range = TimeRange {
        start: grid.window(focus.start).start,
        end: grid
            .window(focus.end.saturating_sub(1).max(focus.start))
            .end,
    };
    extra(&mut evidence, focus_range);
    let links = learn_links(&report, links);
    let ranking = rank(&graph, &evidence, &links, &config.rca)?;
    let health = evidence
        .iter()
        .filter_map(|(service, facts)| facts.health.map(|h| (service.clone(), h)))
        .collect();
    let mut anomaly: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (service, kinds) in &report.timeline.scores {
        for (kind, scores) in kinds {
            let peak = scores
                .get(focus.clone())
                .unwrap_or_default()
                .iter()
                .copied()
                .filter(|s| s.is_finite())
                .fold(0.0, f64::max);
            anomaly
                .entry(service.clone())
                .or_default()
                .insert(kind.clone(), peak);
        }
    }
    let edges = graph
        .edges()
        .into_iter()
        .map(|(caller, callee, _)| (caller.to_owned(), callee.to_owned()))
        .collect();
    Ok(Analysis {
        baseline,
        window,
        focus: focus_range,
        incident_start: start.map(|w| grid.window(w).start),
        ranking,
        health,
        anomaly,
        edges,
        report,
        graph,
        evidence,
        links,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quiet_scores_are_at_most_neutral() {
        assert!((calibrate_quiet(0.0, 0.5, 0.05)).abs() < 1e-12);
        assert!((calibrate_quiet(0.25, 0.5, 0.05) - 0.025).abs() < 1e-12);
        assert!((calibrate_quiet(0.7, 0.5, 0.05) - 0.7).abs() < 1e-12);
        assert!((calibrate_quiet(2.0, 0.5, 0.05) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn pooling_discounts_a_lone_window_and_keeps_a_sustained_one() {
        let (base, floor) = (0.05, 0.002);
        assert_eq!(pool_windows(&[None, None], base, floor), None);
        // All neutral windows pool to the base rate.
        let neutral = pool_windows(&[Some(0.05), None, Some(0.05)], base, floor).unwrap();
        assert!((neutral - 0.05).abs() < 1e-12, "{neutral}");
        // Sustained: as strong as one window.
        let sustained = pool_windows(&[Some(0.9); 5], base, floor).unwrap();
        assert!((sustained - 0.9).abs() < 1e-9, "{sustained}");
        // One spike among four quiet windows: about a fifth of its likelihood ratio.
        let odds = |s: f64| s / (1.0 - s) / (base / (1.0 - base));
        let lone = pool_windows(
            &[Some(0.9), Some(0.01), Some(0.01), Some(0.01), Some(0.01)],
            base,
            floor,
        )
        .unwrap();
        let expected = (odds(0.9) + 4.0 * odds(0.01)) / 5.0;
        assert!((odds(lone) - expected).abs() < 1e-6, "{lone}");
        assert!(lone < 0.65 && lone > 0.5, "{lone}");
        // Unobserved windows count as neutral, not as normal.
        let half = pool_windows(&[Some(0.9), None], base, floor).unwrap();
        assert!((odds(half) - (odds(0.9) + 1.0) / 2.0).abs() < 1e-6);
    }

    /// A detector report over five one-minute windows where `user` scores `burst` in the
    /// windows `hot` and 0.1 elsewhere, with its health at 0.6 in those windows and 1.0
    /// elsewhere; every other sock-shop service scores 0.1 with health 1.0.
    fn burst_report(
        hot: std::ops::Range<usize>,
        burst: f64,
        deploy: bool,
    ) -> (DetectReport, WindowGrid) {
        use crate::detect::traces::WindowHealth;
        use crate::detect::traces::health::HealthScore;
        let start = Timestamp::from_secs(3600);
        let grid = WindowGrid::covering(
            TimeRange::new(start, start.plus(Duration::from_secs(300))).unwrap(),
            Duration::from_secs(60),
        );
        let mut timeline = crate::detect::event::ScoreTimeline::new(grid.starts(), grid.step);
        let mut traces = crate::detect::traces::TraceReport::default();
        for service in crate::sim::topology::service_graph().services() {
            let name = service.name.clone();
            let is_user = name == "user";
            let scores: Vec<f64> = (0..grid.count)
                .map(|w| {
                    if is_user && hot.contains(&w) {
                        burst
                    } else {
                        0.1
                    }
                })
                .collect();
            timeline
                .scores
                .entry(name.clone())
                .or_default()
                .insert("trace".to_owned(), scores);
            let healths = (0..grid.count)
                .map(|w| {
                    let h = if is_user && hot.contains(&w) {
                        0.6
                    } else {
                        1.0
                    };
                    WindowHealth {
                        window_start: grid.window(w).start,
                        health: HealthScore {
                            score: h,
                            score_without_ttl: h,
                            penalties: Vec::new(),
                            requests: 100,
                            status_fallback: false,
                        },
                    }
                })
                .collect();
            traces.health.insert(name, healths);
        }
        let changes = if deploy {
            vec![ChangeEvent {
                service: "user".to_owned(),
                at: start.minus(Duration::from_secs(600)),
                kind: ChangeKind::Deploy,
            }]
        } else {
            Vec::new()
        };
        let report = DetectReport {
            baseline: TimeRange::new(Timestamp::from_secs(0), start).unwrap(),
            window: grid.range(),
            events: Vec::new(),
            timeline,
            verdict: BTreeMap::new(),
            system_scores: vec![0.0; grid.count],
            anomalous_services: vec![Vec::new(); grid.count],
            traces,
            metrics: crate::detect::metrics::MetricReport::default(),
            changes,
        };
        (report, grid)
    }

    fn user_outage(hot: std::ops::Range<usize>, burst: f64, deploy: bool) -> f64 {
        let (report, grid) = burst_report(hot, burst, deploy);
        let config = AnalysisConfig::default();
        let graph = crate::sim::topology::service_graph();
        let settings = EvidenceSettings {
            threshold: config.detect.threshold,
            base_rate: config.rca.detector_base_rate,
            deploy_ttl: config.deploy_ttl,
            floor: config.rca.evidence_floor,
        };
        let evidence = evidence_from_report(
            &report,
            &grid,
            0..grid.count,
            &settings,
            &tcp_only_services(&graph),
        );
        let ranking = rank(&graph, &evidence, &LinkStrengths::new(), &config.rca).unwrap();
        ranking
            .ranking
            .iter()
            .find(|r| r.service == "user")
            .map_or(0.0, |r| r.p_outage)
    }

    #[test]
    fn a_brief_5xx_burst_that_subsides_stays_green_and_a_lasting_one_is_red() {
        // One window of errors (score 0.9, health 0.6) among four normal ones: the pattern of
        // a stray burst in a healthy system (quiet-3009), green.
        let brief = user_outage(1..2, 0.9, false);
        assert!(brief <= 0.15, "brief burst: {brief}");
        // The same burst lasting through the focus is an outage.
        let lasting = user_outage(0..5, 0.9, false);
        assert!(lasting > 0.45, "lasting burst: {lasting}");
        // Two of five windows: stronger than one, the prior and evidence add up.
        let twice = user_outage(1..3, 0.9, false);
        assert!(
            twice > brief && twice < lasting,
            "{brief} {twice} {lasting}"
        );
    }

    #[test]
    fn a_deploy_alone_stays_green_and_adds_to_a_blip() {
        let deploy_only = user_outage(0..0, 0.7, true);
        assert!(deploy_only <= 0.15, "deploy alone: {deploy_only}");
        let blip = user_outage(2..3, 0.55, true);
        assert!(blip > deploy_only, "{blip} vs {deploy_only}");
    }

    #[test]
    fn quiet_windows_of_a_tcp_only_store_are_unobserved() {
        let (report, grid) = burst_report(0..0, 0.0, false);
        let mut report = report;
        report
            .timeline
            .scores
            .entry("user-db".to_owned())
            .or_default()
            .insert("metric".to_owned(), vec![0.1, 0.1, 0.9, 0.1, 0.1]);
        let config = AnalysisConfig::default();
        let graph = crate::sim::topology::service_graph();
        let settings = EvidenceSettings {
            threshold: config.detect.threshold,
            base_rate: config.rca.detector_base_rate,
            deploy_ttl: config.deploy_ttl,
            floor: config.rca.evidence_floor,
        };
        let blind = tcp_only_services(&graph);
        assert!(
            blind.contains("user-db") && !blind.contains("user"),
            "{blind:?}"
        );
        let evidence = evidence_from_report(&report, &grid, 0..grid.count, &settings, &blind);
        // The fired window counts, the four quiet ones are neutral (not evidence of health).
        let store = evidence["user-db"].degraded.unwrap();
        let expected = pool_windows(&[None, None, Some(0.9), None, None], 0.05, 0.002).unwrap();
        assert!((store - expected).abs() < 1e-12, "{store} vs {expected}");
        // A TCP-only store with only quiet windows is unobserved altogether.
        assert_eq!(evidence["orders-db"].degraded, None);
        // An HTTP service's quiet windows are evidence of normal behaviour.
        assert!(evidence["payment"].degraded.unwrap() < 0.05);
    }

    #[test]
    fn incident_start_needs_a_sustained_anomaly() {
        assert_eq!(incident_start(&[0.1, 0.9, 0.1, 0.1, 0.2], 0.5), None);
        assert_eq!(incident_start(&[0.1, 0.9, 0.1, 0.7, 0.8], 0.5), Some(1));
        assert_eq!(incident_start(&[0.1, 0.2, 0.6], 0.5), Some(2));
        assert_eq!(incident_start(&[], 0.5), None);
    }

    fn simulate(fault: bool, seed: u64) -> crate::model::Dataset {
        let scenario = crate::scenario::builtin()
            .expect("scenarios")
            .into_iter()
            .find(|s| s.name.contains("payment"))
            .expect("payment scenario");
        let mut config = crate::sim::run::config_for(&scenario, seed);
        config.baseline = Duration::from_secs(480);
        config.fault_duration = Duration::from_secs(300);
        config.recovery = Duration::from_secs(60);
        if !fault {
            config.fault = None;
        }
        crate::sim::run::run(config).expect("simulation")
    }

    #[test]
    fn ranks_the_failed_service_first_and_finds_the_window() {
        let dataset = simulate(true, 11);
        let truth = dataset.ground_truth.clone().expect("truth");
        let analysis = analyze(
            &AnalysisInput::new(&dataset.spans, &dataset.series),
            &AnalysisConfig::default(),
            LinkStrengths::new(),
        )
        .expect("analysis");
        let start = analysis.incident_start.expect("an incident");
        assert!(
            start >= truth.fault_start.minus(Duration::from_secs(60))
                && start <= truth.fault_start.plus(Duration::from_secs(180)),
            "incident found at {start:?}, fault at {:?}",
            truth.fault_start
        );
        let top = &analysis.ranking.ranking[0];
        assert_eq!(
            top.service,
            truth.root_cause,
            "{:#?}",
            &analysis.ranking.ranking[..3]
        );
        assert!(top.p_outage > 0.45, "red band: {}", top.p_outage);
        assert!(!top.evidence.is_empty());
        assert!(analysis.ranking.incident);
    }

    #[test]
    fn a_quiet_system_blames_nobody() {
        let dataset = simulate(false, 12);
        let analysis = analyze(
            &AnalysisInput::new(&dataset.spans, &dataset.series),
            &AnalysisConfig::default(),
            LinkStrengths::new(),
        )
        .expect("analysis");
        let worst = analysis
            .ranking
            .ranking
            .iter()
            .map(|r| r.p_outage)
            .fold(0.0, f64::max);
        assert!(worst <= 0.15, "{:#?}", &analysis.ranking.ranking[..2]);
        assert!(!analysis.ranking.incident, "{}", analysis.ranking.verdict);
    }
}
