//! The trace detector family: per-operation baselines learnt from a baseline window, then per
//! service and window the requests that failed or were slow *where they originated*, the drop
//! in requests, the MAIA health score ([`health`]), error/slowness propagation per edge
//! ([`propagation`]) and a per-trace anomaly score for unusual structure or latency.
//!
//! A service's requests are its server-side spans plus client calls to it that never got an
//! answer from it (no server span: refused, timed out, no healthy upstream).
//!
//! Invariants: pure (no I/O, no clock; deploys arrive as [`ChangeEvent`]s); spans belong to
//! the window holding their start; counts are compared with the baseline's per-window
//! expectation by a Poisson z, so rare noise (a stray 5xx) does not fire.

pub mod health;
pub mod index;
pub mod propagation;

use crate::detect::event::{AnomalyEvent, Evidence, FamilyScores, MetricDelta, SignalKind, squash};
use crate::detect::window::WindowGrid;
use crate::detect::{ChangeEvent, ChangeKind};
use crate::model::{Span, TimeRange, Timestamp};
use health::{HealthConfig, HealthScore, health_score};
use index::{OpBaselines, SpanIndex, callee_of, is_server_like, op_key};
use propagation::{Badness, PropagationReport, origin, propagation};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Settings of the trace family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceConfig {
    /// MAIA health thresholds and penalties.
    pub health: HealthConfig,
    /// Span latency robust z (of `ln ms`) above which a span is slow (default 4).
    pub slow_z: f64,
    /// Smallest spread of `ln ms` per operation (default 0.15, about ±16 %).
    pub log_duration_floor: f64,
    /// Poisson z of a count that scores 0.5 (default 4).
    pub count_z: f64,
    /// Fewer bad requests than this in a window never fire (default 3).
    pub min_events: u64,
    /// Smallest per-request rate of errors or slow requests the *decision* assumes (default
    /// 0.01): a baseline of a few hundred sampled requests cannot tell a true 0.2 % from 1 %,
    /// so three slow requests of a quiet service's forty would otherwise decide. The scores
    /// the ranking pools keep the learned rate.
    pub decision_rate_floor: f64,
    /// Request drops are scored only when the baseline expects this many per window (default 10).
    pub min_expected_requests: f64,
    /// Child operations present in at least this share of a parent's baseline instances are
    /// expected (default 0.95).
    pub expected_child_share: f64,
    /// Operations need this many baseline instances for structural checks (default 20).
    pub min_op_instances: usize,
    /// Slowness and request drops are not scored this long after a deploy (default 3 min).
    pub deploy_grace: Duration,
    /// Health drop (baseline median − window, TTL excluded) that scores 0.5 (default 0.6,
    /// three rules: one stray 5xx plus a slow p99 is ordinary).
    pub health_drop: f64,
    /// Trace ids kept per event and anomalous traces kept overall (default 5 and 20).
    pub max_trace_ids: usize,
    /// See `max_trace_ids`.
    pub max_traces: usize,
    /// Score at which an event is raised (default 0.5).
    pub threshold: f64,
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            health: HealthConfig::default(),
            slow_z: 4.0,
            log_duration_floor: 0.15,
            count_z: 4.0,
            min_events: 3,
            decision_rate_floor: 0.01,
            min_expected_requests: 10.0,
            expected_child_share: 0.95,
            min_op_instances: 20,
            deploy_grace: Duration::from_secs(180),
            health_drop: 0.6,
            max_trace_ids: 5,
            max_traces: 20,
            threshold: 0.5,
        }
    }
}

/// One trace with an unusual structure or latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceScore {
    /// Trace id, hex.
    pub trace_id: String,
    /// Start of its earliest span.
    #[serde(with = "crate::model::fault::rfc3339")]
    pub start: Timestamp,
    /// Score in `[0, 1]`.
    pub score: f64,
    /// Why: `slow <op> (z=…)`, `unseen call <parent> → <child>`, `missing call <child>`.
    pub reasons: Vec<String>,
}

/// The health of one service in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowHealth {
    /// Window start.
    #[serde(with = "crate::model::fault::rfc3339")]
    pub window_start: Timestamp,
    /// The score and the rules that fired.
    #[serde(flatten)]
    pub health: HealthScore,
}

/// What the trace family found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// Per-service family scores per window, and the events.
    pub family: FamilyScores,
    /// Health per service per window (windows without requests are left out).
    pub health: BTreeMap<String, Vec<WindowHealth>>,
    /// True when spans carried no HTTP status and span status was used instead.
    pub status_fallback: bool,
    /// Propagation evidence over the analysed windows.
    pub propagation: PropagationReport,
    /// The most anomalous traces, highest first.
    pub traces: Vec<TraceScore>,
}

/// One request of a service: span index, error, slow, whether badness originated here.
#[derive(Debug, Clone, Copy)]
struct Request {
    span: usize,
    error_here: bool,
    slow_here: bool,
}

fn poisson_z(observed: u64, expected: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let observed = observed as f64;
    (observed - expected) / expected.max(0.5).sqrt()
}

/// Groups requests per service: server-like spans, and unanswered client calls (to the callee).
fn requests_by_service(
    spans: &[Span],
    index: &SpanIndex,
    bad: &[Badness],
) -> BTreeMap<String, Vec<Request>> {
    let mut out: BTreeMap<String, Vec<Request>> = BTreeMap::new();
    for (i, span) in spans.iter().enumerate() {
        if is_server_like(span.kind) {
            let here = origin(index, bad, i);
            out.entry(span.service.clone()).or_default().push(Request {
                span: i,
                error_here: here.error_here,
                slow_here: here.slow_here,
            });
        } else if index.server_child(spans, i).is_none()
            && let Some(callee) = callee_of(spans, index, i)
        {
            out.entry(callee).or_default().push(Request {
                span: i,
                error_here: bad[i].error,
                slow_here: bad[i].slow,
            });
        }
    }
    out
}

fn last_deploy(changes: &[ChangeEvent], service: &str, before: Timestamp) -> Option<Timestamp> {
    changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Deploy && c.service == service && c.at <= before)
        .map(|c| c.at)
        .max()
}

/// Scores `spans` on `grid` against `baseline`.
#[must_use]
pub fn detect_traces(
    spans: &[Span],
    baseline: TimeRange,
    grid: &WindowGrid,
    changes: &[ChangeEvent],
    config: &TraceConfig,
) -> TraceReport {
    let index = SpanIndex::build(spans);
    let ops = OpBaselines::learn(
        spans,
        &index,
        baseline,
        config.log_duration_floor,
        config.expected_child_share,
    );
    let bad: Vec<Badness> = spans
        .iter()
        .map(|span| Badness {
            error: span.is_error(),
            slow: ops.latency_z(span) > config.slow_z,
        })
        .collect();
    let analysed = grid.range();
    let mut report = TraceReport {
        family: FamilyScores::new(SignalKind::Trace),
        status_fallback: spans.iter().any(|s| s.http_status().is_none()),
        propagation: propagation(spans, &index, &bad, |i| analysed.contains(spans[i].start)),
        traces: trace_scores(spans, &index, &ops, grid, config),
        ..TraceReport::default()
    };
    #[allow(clippy::cast_precision_loss)]
    let baseline_windows = (baseline.duration().as_secs_f64() / grid.step.as_secs_f64()).max(1.0);
    for (service, requests) in requests_by_service(spans, &index, &bad) {
        let in_baseline = requests
            .iter()
            .filter(|r| baseline.contains(spans[r.span].start));
        let (mut n_base, mut errors_base, mut slow_base) = (0_u64, 0_u64, 0_u64);
        let mut base_health: Vec<Vec<&Span>> = vec![Vec::new(); baseline_windows.ceil() as usize];
        for request in in_baseline {
            n_base += 1;
            errors_base += u64::from(request.error_here);
            slow_base += u64::from(request.slow_here);
            let offset =
                spans[request.span].start.since(baseline.start).as_nanos() / grid.step.as_nanos();
            if let Some(slot) = usize::try_from(offset)
                .ok()
                .and_then(|o| base_health.get_mut(o))
            {
                slot.push(&spans[request.span]);
            }
        }
        let health_config = config.health;
        let base_health_median = crate::detect::metrics::stats::median(
            &base_health
                .iter()
                .filter_map(|w| health_score(w, None, baseline.end, &health_config))
                .map(|h| h.score_without_ttl)
                .collect::<Vec<f64>>(),
        );
        let mut per_window: Vec<Vec<Request>> = vec![Vec::new(); grid.count];
        for request in &requests {
            if let Some(w) = grid.index_of(spans[request.span].start) {
                per_window[w].push(*request);
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let (expected_n, error_rate, slow_rate) = (
            n_base as f64 / baseline_windows,
            (errors_base as f64 + 0.5) / (n_base as f64 + 1.0),
            (slow_base as f64 + 0.5) / (n_base as f64 + 1.0),
        );
        let mut scores = vec![0.0; grid.count];
        let mut verdict = vec![0.0; grid.count];
        let mut healths = Vec::new();
        for (w, window_requests) in per_window.iter().enumerate() {
            let window = grid.window(w);
            let n = window_requests.len() as u64;
            let errors = window_requests.iter().filter(|r| r.error_here).count() as u64;
            let slow = window_requests.iter().filter(|r| r.slow_here).count() as u64;
            #[allow(clippy::cast_precision_loss)]
            let n_f = n as f64;
            let deploy_grace = changes.iter().any(|c| {
                c.kind == ChangeKind::Deploy
                    && c.service == service
                    && window.end > c.at
                    && window.start <= c.at.plus(config.deploy_grace)
            });
            let mut signals: Vec<(&str, f64, MetricDelta)> = Vec::new();
            // The deciding score: the same signals, counts against the floored rate.
            let mut decided = 0.0_f64;
            let mut count_signal = |name: &'static str, k: u64, rate: f64| {
                let z = poisson_z(k, n_f * rate);
                let (score, floored) = if k >= config.min_events {
                    let floored = poisson_z(k, n_f * rate.max(config.decision_rate_floor));
                    (squash(z, config.count_z), squash(floored, config.count_z))
                } else {
                    (0.0, 0.0)
                };
                decided = decided.max(floored.min(score));
                signals.push((
                    name,
                    score,
                    MetricDelta {
                        signal: name.into(),
                        baseline: n_f * rate,
                        observed: k as f64,
                        z,
                    },
                ));
            };
            count_signal("span_errors", errors, error_rate);
            if !deploy_grace {
                count_signal("span_latency", slow, slow_rate);
            }
            if expected_n >= config.min_expected_requests && !deploy_grace {
                let z = (expected_n - n_f) / expected_n.sqrt();
                let score = squash(z, config.count_z);
                decided = decided.max(score);
                signals.push((
                    "requests_drop",
                    score,
                    MetricDelta {
                        signal: "requests".into(),
                        baseline: expected_n,
                        observed: n_f,
                        z: -z,
                    },
                ));
            }
            let refs: Vec<&Span> = window_requests.iter().map(|r| &spans[r.span]).collect();
            let deployed = last_deploy(changes, &service, window.end);
            if let Some(health) = health_score(&refs, deployed, window.end, &health_config) {
                let drop = base_health_median - health.score_without_ttl;
                if drop.is_finite() {
                    let score = squash(drop, config.health_drop);
                    decided = decided.max(score);
                    signals.push((
                        "health",
                        score,
                        MetricDelta {
                            signal: "health".into(),
                            baseline: base_health_median,
                            observed: health.score_without_ttl,
                            z: drop / config.health.server_error_penalty.max(1e-9),
                        },
                    ));
                }
                healths.push(WindowHealth {
                    window_start: window.start,
                    health,
                });
            }
            let Some((top, score, _)) = signals.iter().max_by(|a, b| a.1.total_cmp(&b.1)).cloned()
            else {
                continue;
            };
            scores[w] = score;
            verdict[w] = decided.min(score);
            if score >= config.threshold {
                let mut trace_ids: Vec<String> = window_requests
                    .iter()
                    .filter(|r| r.error_here || r.slow_here)
                    .map(|r| spans[r.span].trace_id.to_hex())
                    .collect();
                trace_ids.dedup();
                trace_ids.truncate(config.max_trace_ids);
                let mut deltas: Vec<(f64, MetricDelta)> = signals
                    .into_iter()
                    .filter(|s| s.1 >= config.threshold)
                    .map(|s| (s.1, s.2))
                    .collect();
                deltas.sort_by(|a, b| b.0.total_cmp(&a.0));
                let notes = if report.status_fallback {
                    vec!["span status used where spans carry no HTTP status".to_owned()]
                } else {
                    Vec::new()
                };
                report.family.events.push(AnomalyEvent {
                    service: service.clone(),
                    kind: SignalKind::Trace,
                    signal: top.to_owned(),
                    score,
                    window_start: window.start,
                    window_end: window.end,
                    evidence: Evidence {
                        trace_ids,
                        metric_deltas: deltas.into_iter().map(|d| d.1).collect(),
                        notes,
                        ..Evidence::default()
                    },
                });
            }
        }
        report.family.scores.insert(service.clone(), scores);
        report.family.verdict.insert(service.clone(), verdict);
        report.health.insert(service, healths);
    }
    report.family.events.sort_by(|a, b| {
        a.window_start
            .cmp(&b.window_start)
            .then(b.score.total_cmp(&a.score))
    });
    report
}

/// Per-trace anomaly scores for traces starting in the grid: slow spans (robust z of their
/// operation), parent→child operation pairs never seen in the baseline, and missing children
/// that the baseline almost always had.
fn trace_scores(
    spans: &[Span],
    index: &SpanIndex,
    ops: &OpBaselines,
    grid: &WindowGrid,
    config: &TraceConfig,
) -> Vec<TraceScore> {
    let range = grid.range();
    let mut by_trace: HashMap<crate::model::TraceId, Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        by_trace.entry(span.trace_id).or_default().push(i);
    }
    let mut out: Vec<TraceScore> = Vec::new();
    for (trace_id, members) in by_trace {
        let Some(start) = members.iter().map(|&i| spans[i].start).min() else {
            continue;
        };
        if !range.contains(start) {
            continue;
        }
        let mut score: f64 = 0.0;
        let mut reasons = Vec::new();
        for &i in &members {
            let span = &spans[i];
            let key = op_key(span);
            let z = ops.latency_z(span);
            if z > config.slow_z {
                score = score.max(squash(z, config.slow_z));
                reasons.push(format!("slow {} {} (z={z:.1})", span.service, span.name));
            }
            let known = ops.count.get(&key).copied().unwrap_or(0) >= config.min_op_instances;
            if !known {
                continue;
            }
            let children: Vec<_> = index.children[i]
                .iter()
                .map(|&c| op_key(&spans[c]))
                .collect();
            for child in &children {
                if !ops.pairs.contains(&(key.clone(), child.clone())) {
                    score = score.max(0.9);
                    reasons.push(format!(
                        "unseen call {} {} → {} {}",
                        key.0, key.2, child.0, child.2
                    ));
                }
            }
            if let Some(expected) = ops.expected_children.get(&key) {
                for missing in expected.iter().filter(|e| !children.contains(e)) {
                    score = score.max(0.7);
                    reasons.push(format!(
                        "missing call {} {} → {} {}",
                        key.0, key.2, missing.0, missing.2
                    ));
                }
            }
        }
        if score >= config.threshold {
            reasons.truncate(5);
            out.push(TraceScore {
                trace_id: trace_id.to_hex(),
                start,
                score,
                reasons,
            });
        }
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.trace_id.cmp(&b.trace_id))
    });
    out.truncate(config.max_traces);
    out
}

#[cfg(test)]
mod tests;
