//! The metric detector family: golden signals per service ([`golden`]), scored point by point
//! against a baseline by three univariate detectors — robust z (median/MAD), IQR fences and an
//! EWMA with adaptive variance — whose median is the point score (so two of three must agree),
//! plus an Isolation Forest over each service's signal vector, and a Holt forecast per signal.
//!
//! Invariants: pure (no I/O, no clock); the baseline is learnt only from points inside the
//! baseline range, without labels; a point computed from `(t − range, t]` is scored in the
//! window holding that whole range (with the default 60 s range and 60 s windows, the point at
//! the window's end), so windows never borrow data from their predecessor; signals a routine deploy explains (latency, CPU, memory, traffic) are not
//! scored for `deploy_grace` after a deploy of the service, errors always are.

pub mod forecast;
pub mod golden;
pub mod iforest;
pub mod stats;

use crate::detect::event::{AnomalyEvent, Evidence, FamilyScores, MetricDelta, SignalKind, squash};
use crate::detect::window::WindowGrid;
use crate::detect::{ChangeEvent, ChangeKind};
use crate::model::{Sample, TimeRange, Timestamp};
use forecast::{HoltConfig, holt_forecast};
use golden::{Direction, GoldenConfig, GoldenSignals, Signal};
use iforest::{IsolationForest, IsolationForestConfig};
use serde::{Deserialize, Serialize};
use stats::{Ewma, IqrBaseline, RobustBaseline};
use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of the metric family (defaults documented per field).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricConfig {
    /// How raw series become golden signals (15 s step, 60 s rate range).
    pub golden: GoldenConfig,
    /// Robust and EWMA |z| that scores 0.5 (default 5).
    pub z_threshold: f64,
    /// IQRs beyond the quartiles that score 0.5 (default 3, Tukey's far-out fence).
    pub iqr_threshold: f64,
    /// EWMA smoothing (default 0.1) and residual clip in σ (default 3).
    pub ewma_alpha: f64,
    /// See `ewma_alpha`.
    pub ewma_clip: f64,
    /// Isolation Forest settings (100 trees, subsample 256, seed 42).
    pub iforest: IsolationForestConfig,
    /// Isolation Forest score above the baseline's highest that scores 0.5 (default 0.1).
    pub iforest_margin: f64,
    /// Whether the Isolation Forest score enters the family score (default false: it is
    /// reported per service; see EVALUATION.md for why it stays advisory).
    pub iforest_in_family: bool,
    /// Signals explained by a deploy are not scored for this long after it (default 3 min).
    pub deploy_grace: Duration,
    /// Holt smoothing for forecasts.
    pub holt: HoltConfig,
    /// Forecast length in steps (default 8 = 2 min at 15 s).
    pub forecast_horizon: usize,
    /// Signals with fewer finite baseline points are not scored (default 8).
    pub min_baseline_points: usize,
    /// Score at which an event is raised (default 0.5).
    pub threshold: f64,
}

impl Default for MetricConfig {
    fn default() -> Self {
        Self {
            golden: GoldenConfig::default(),
            z_threshold: 5.0,
            iqr_threshold: 3.0,
            ewma_alpha: 0.1,
            ewma_clip: 3.0,
            iforest: IsolationForestConfig::default(),
            iforest_margin: 0.1,
            iforest_in_family: false,
            deploy_grace: Duration::from_secs(180),
            holt: HoltConfig::default(),
            forecast_horizon: 8,
            min_baseline_points: 8,
            threshold: 0.5,
        }
    }
}

/// A short forecast of one signal after its last point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Service.
    pub service: String,
    /// Signal name.
    pub signal: String,
    /// Time of the last observed point.
    #[serde(with = "crate::model::fault::rfc3339")]
    pub after: Timestamp,
    /// Seconds between forecast points.
    pub step_secs: f64,
    /// Forecast values, one per step.
    pub values: Vec<f64>,
}

/// What the metric family found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// Per-service family scores per window, and the events.
    pub family: FamilyScores,
    /// `signal_scores[service][signal][window]`: the ensemble score of each signal.
    pub signal_scores: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// Per service, the Isolation Forest score per window (mapped to `[0, 1]`).
    pub iforest_scores: BTreeMap<String, Vec<f64>>,
    /// Forecasts of every scored signal.
    pub forecasts: Vec<Forecast>,
}

/// Per-window best point of one signal: (score, observed, robust z).
type WindowBest = Vec<Option<(f64, f64, f64)>>;

struct SignalResult {
    name: String,
    baseline_median: f64,
    windows: WindowBest,
    /// Per window, the highest deciding score of its points (see [`Decision`]).
    verdict: Vec<f64>,
    /// Robust z per point time (for the forest).
    z_by_time: BTreeMap<Timestamp, f64>,
}

/// The window a point computed over `(t − range, t]` belongs to: the one holding that whole
/// range (so a window's score never uses data from before it).
fn window_of(grid: &WindowGrid, t: Timestamp, range: Duration) -> Option<usize> {
    let index = grid.index_of(t.minus(Duration::from_nanos(1)))?;
    (t.minus(range) >= grid.window(index).start).then_some(index)
}

fn in_grace(changes: &[ChangeEvent], service: &str, t: Timestamp, grace: Duration) -> bool {
    changes.iter().any(|change| {
        change.kind == ChangeKind::Deploy
            && change.service == service
            && t >= change.at
            && t <= change.at.plus(grace)
    })
}

fn oriented(statistic: f64, direction: Direction) -> f64 {
    match direction {
        Direction::Up => statistic.max(0.0),
        Direction::Both => statistic.abs(),
    }
}

fn median3(a: f64, b: f64, c: f64) -> f64 {
    a.max(b).min(a.min(b).max(c))
}

/// How many binomial standard errors the error ratio `observed` of `requests` requests lies
/// above the baseline ratio `expected`: the sampling noise of a ratio of few requests (two
/// errors among nineteen is 0.105 by chance alone). The rate is taken as at least one request
/// in `requests`, so a baseline without errors still allows for one. Infinite when there are
/// no counts to judge by (the other statistics decide alone).
fn binomial_z(observed: f64, expected: f64, requests: f64) -> f64 {
    if requests.is_nan() || requests < 1.0 || !observed.is_finite() {
        return f64::INFINITY;
    }
    let p = expected
        .clamp(0.0, 1.0)
        .max(1.0 / requests)
        .min(1.0 - 1.0 / requests.max(2.0));
    let sd = (p * (1.0 - p) / requests).sqrt();
    (observed - expected).max(0.0) / sd
}

/// What the decision reads next to a signal's own points.
#[derive(Debug, Clone, Copy)]
enum Decision<'a> {
    /// The signal's score decides.
    Same,
    /// Requests behind each error-ratio point: the score is capped by the binomial z.
    Requests(&'a [Sample]),
    /// A stand-in series (same timestamps) scored like the signal against its own baseline;
    /// the lower of the two scores decides, unless the signal itself lies beyond the highest
    /// baseline value by the usual z threshold (then its own score decides): the stand-in for
    /// the p99 leaves out the slowest request, and one request slower than anything the
    /// baseline saw, by that margin, is still called.
    StandIn(&'a [Sample]),
}

/// One scored point: time, value, ensemble score, robust z; baseline points carry no score.
struct Scored {
    timestamp: Timestamp,
    value: f64,
    score: Option<f64>,
    z: f64,
}

/// Robust z, IQR and EWMA of every finite point from the baseline start on, their median the
/// score (0 inside a deploy's grace for signals a deploy explains); `None` with too short a
/// baseline.
fn score_points(
    service: &str,
    signal: &Signal,
    points: &[Sample],
    baseline: TimeRange,
    changes: &[ChangeEvent],
    config: &MetricConfig,
) -> Option<(RobustBaseline, Vec<Scored>)> {
    let floor = signal.floor();
    let base: Vec<f64> = points
        .iter()
        .filter(|p| baseline.contains(p.timestamp) && p.value.is_finite())
        .map(|p| p.value)
        .collect();
    if base.len() < config.min_baseline_points {
        return None;
    }
    let robust = RobustBaseline::fit(&base, floor)?;
    let iqr = IqrBaseline::fit(&base, floor)?;
    let mut ewma = Ewma::new(config.ewma_alpha, config.ewma_clip, floor.at(robust.median));
    let direction = signal.direction();
    let mut out = Vec::new();
    for point in points {
        if point.timestamp < baseline.start || !point.value.is_finite() {
            continue;
        }
        let ewma_z = ewma.update(point.value);
        let z = robust.z(point.value);
        if baseline.contains(point.timestamp) {
            out.push(Scored {
                timestamp: point.timestamp,
                value: point.value,
                score: None,
                z,
            });
            continue;
        }
        let mut score = median3(
            squash(oriented(z, direction), config.z_threshold),
            squash(
                oriented(iqr.excess(point.value), direction),
                config.iqr_threshold,
            ),
            squash(oriented(ewma_z, direction), config.z_threshold),
        );
        if signal.explained_by_deploy()
            && in_grace(changes, service, point.timestamp, config.deploy_grace)
        {
            score = 0.0;
        }
        out.push(Scored {
            timestamp: point.timestamp,
            value: point.value,
            score: Some(score),
            z,
        });
    }
    Some((robust, out))
}

#[allow(clippy::too_many_arguments)]
fn score_signal(
    service: &str,
    signal: &Signal,
    points: &[Sample],
    baseline: TimeRange,
    grid: &WindowGrid,
    changes: &[ChangeEvent],
    config: &MetricConfig,
    decision: Decision<'_>,
) -> Option<SignalResult> {
    let (robust, scored) = score_points(service, signal, points, baseline, changes, config)?;
    let baseline_highest = points
        .iter()
        .filter(|p| baseline.contains(p.timestamp) && p.value.is_finite())
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    // `None`: nothing to decide by but the score itself.
    let cap: Option<BTreeMap<Timestamp, f64>> = match decision {
        Decision::Same => None,
        Decision::Requests(requests) => {
            let observed: BTreeMap<Timestamp, f64> =
                points.iter().map(|p| (p.timestamp, p.value)).collect();
            Some(
                requests
                    .iter()
                    .filter_map(|r| {
                        let value = observed.get(&r.timestamp)?;
                        let z = binomial_z(*value, robust.median, r.value);
                        Some((r.timestamp, squash(z, config.z_threshold)))
                    })
                    .collect(),
            )
        }
        Decision::StandIn(stand_in) => {
            score_points(service, signal, stand_in, baseline, changes, config).map(|(_, points)| {
                points
                    .into_iter()
                    .filter_map(|p| Some((p.timestamp, p.score?)))
                    .collect()
            })
        }
    };
    let mut windows: WindowBest = vec![None; grid.count];
    let mut verdict = vec![0.0_f64; grid.count];
    let mut z_by_time = BTreeMap::new();
    for point in scored {
        let Some(score) = point.score else {
            z_by_time.insert(point.timestamp, point.z);
            continue;
        };
        let Some(index) = window_of(grid, point.timestamp, config.golden.rate_window) else {
            continue;
        };
        z_by_time.insert(point.timestamp, point.z);
        if windows[index].is_none_or(|(best, _, _)| score > best) {
            windows[index] = Some((score, point.value, point.z));
        }
        let decided = match (&cap, decision) {
            (None, _) | (_, Decision::Same) => score,
            // A stand-in point that is missing (NaN: no requests) leaves nothing to call.
            (Some(cap), Decision::StandIn(_)) => {
                let beyond = squash(
                    oriented(
                        (point.value - baseline_highest) / robust.scale,
                        signal.direction(),
                    ),
                    config.z_threshold,
                );
                let stand_in = cap.get(&point.timestamp).copied().unwrap_or(0.0);
                score.min(stand_in.max(beyond))
            }
            (Some(cap), Decision::Requests(_)) => {
                cap.get(&point.timestamp).map_or(score, |c| score.min(*c))
            }
        };
        verdict[index] = verdict[index].max(decided);
    }
    Some(SignalResult {
        name: signal.name(),
        baseline_median: robust.median,
        windows,
        verdict,
        z_by_time,
    })
}

/// Isolation Forest over the service's robust-z vectors: fitted on all times, scored per
/// window (max over its points), mapped so that `iforest_margin` above the highest baseline
/// score gives 0.5.
fn forest_scores(
    results: &[SignalResult],
    baseline: TimeRange,
    grid: &WindowGrid,
    config: &MetricConfig,
) -> Vec<f64> {
    let mut times: Vec<Timestamp> = results
        .iter()
        .flat_map(|r| r.z_by_time.keys().copied())
        .collect();
    times.sort();
    times.dedup();
    let row = |t: &Timestamp| -> Vec<f64> {
        results
            .iter()
            .map(|r| r.z_by_time.get(t).map_or(0.0, |z| z.clamp(-10.0, 10.0)))
            .collect()
    };
    let base_rows: Vec<Vec<f64>> = times
        .iter()
        .filter(|t| baseline.contains(**t))
        .map(row)
        .collect();
    let mut out = vec![0.0; grid.count];
    if base_rows.len() < config.min_baseline_points {
        return out;
    }
    // Fitted on baseline and scored points together (transductive, as Isolation Forests are
    // used): a forest fitted on the baseline alone sends every point beyond the baseline's
    // range down the same extreme branch and cannot tell a far outlier from the edge.
    let all_rows: Vec<Vec<f64>> = times.iter().map(row).collect();
    let Some(forest) = IsolationForest::fit(&all_rows, config.iforest) else {
        return out;
    };
    let base_max = base_rows
        .iter()
        .map(|r| forest.score(r))
        .fold(0.0_f64, f64::max);
    for t in times.iter().filter(|t| !baseline.contains(**t)) {
        if let Some(index) = window_of(grid, *t, config.golden.rate_window) {
            let excess = forest.score(&row(t)) - base_max;
            out[index] = f64::max(out[index], squash(excess, config.iforest_margin));
        }
    }
    out
}

/// Scores every service's signals on `grid` against `baseline`; `changes` carries deploys.
#[must_use]
pub fn detect_metrics(
    golden: &BTreeMap<String, GoldenSignals>,
    baseline: TimeRange,
    grid: &WindowGrid,
    changes: &[ChangeEvent],
    config: &MetricConfig,
) -> MetricReport {
    let mut report = MetricReport {
        family: FamilyScores::new(SignalKind::Metric),
        ..MetricReport::default()
    };
    for (service, signals) in golden {
        let mut results = Vec::new();
        for (signal, points) in &signals.signals {
            let values: Vec<f64> = points
                .iter()
                .filter(|p| p.timestamp < grid.range().end)
                .map(|p| p.value)
                .collect();
            if let Some(last) = points.iter().rev().find(|p| p.value.is_finite()) {
                let tail = &values[values.len().saturating_sub(40)..];
                report.forecasts.push(Forecast {
                    service: service.clone(),
                    signal: signal.name(),
                    after: last.timestamp,
                    step_secs: config.golden.step.as_secs_f64(),
                    values: holt_forecast(tail, config.holt, config.forecast_horizon),
                });
            }
            let decision = match signal {
                Signal::ErrorRatio if !signals.error_ratio_requests.is_empty() => {
                    Decision::Requests(&signals.error_ratio_requests)
                }
                Signal::LatencyP99 if !signals.latency_p99_decision.is_empty() => {
                    Decision::StandIn(&signals.latency_p99_decision)
                }
                _ => Decision::Same,
            };
            if let Some(result) = score_signal(
                service, signal, points, baseline, grid, changes, config, decision,
            ) {
                results.push(result);
            }
        }
        if results.is_empty() {
            continue;
        }
        let forest = forest_scores(&results, baseline, grid, config);
        let mut family = vec![0.0; grid.count];
        let mut verdict = vec![0.0; grid.count];
        for (index, slot) in family.iter_mut().enumerate() {
            let univariate = results
                .iter()
                .filter_map(|r| r.windows[index].map(|(score, _, _)| score))
                .fold(0.0_f64, f64::max);
            *slot = if config.iforest_in_family {
                univariate.max(forest[index])
            } else {
                univariate
            };
            let decided = results
                .iter()
                .map(|r| r.verdict[index])
                .fold(0.0_f64, f64::max);
            verdict[index] = if config.iforest_in_family {
                decided.max(forest[index])
            } else {
                decided
            };
            if *slot >= config.threshold {
                report
                    .family
                    .events
                    .push(event(service, index, *slot, &results, grid, config));
            }
        }
        let per_signal = results
            .iter()
            .map(|r| {
                let scores = r.windows.iter().map(|w| w.map_or(0.0, |(s, _, _)| s));
                (r.name.clone(), scores.collect())
            })
            .collect();
        report.signal_scores.insert(service.clone(), per_signal);
        report.iforest_scores.insert(service.clone(), forest);
        report.family.scores.insert(service.clone(), family);
        report.family.verdict.insert(service.clone(), verdict);
    }
    report.family.events.sort_by(|a, b| {
        a.window_start
            .cmp(&b.window_start)
            .then(b.score.total_cmp(&a.score))
    });
    report
}

fn event(
    service: &str,
    index: usize,
    score: f64,
    results: &[SignalResult],
    grid: &WindowGrid,
    config: &MetricConfig,
) -> AnomalyEvent {
    let mut deltas: Vec<(f64, MetricDelta)> = results
        .iter()
        .filter_map(|r| {
            let (score, observed, z) = r.windows[index]?;
            (score >= config.threshold).then(|| {
                let delta = MetricDelta {
                    signal: r.name.clone(),
                    baseline: r.baseline_median,
                    observed,
                    z,
                };
                (score, delta)
            })
        })
        .collect();
    deltas.sort_by(|a, b| b.0.total_cmp(&a.0));
    deltas.truncate(5);
    let window = grid.window(index);
    AnomalyEvent {
        service: service.to_owned(),
        kind: SignalKind::Metric,
        signal: deltas
            .first()
            .map_or_else(|| "isolation_forest".to_owned(), |(_, d)| d.signal.clone()),
        score,
        window_start: window.start,
        window_end: window.end,
        evidence: Evidence {
            metric_deltas: deltas.into_iter().map(|(_, delta)| delta).collect(),
            ..Evidence::default()
        },
    }
}

#[cfg(test)]
mod tests;
