//! Log anomaly detection: template mining, template novelty and rate shifts, error-keyword
//! rates, a next-template model and MAIA sequence embeddings, each learned from a baseline
//! window without labels and scored per service on the detectors' window grid.
//!
//! - [`mask`]: hand-written tokenizer and variable masker; [`drain`]: the Drain template miner
//!   with stable template ids; [`keywords`]: error/warning keywords; [`ngram`]: DeepLog-style
//!   top-g next-template model; [`maia`]: the [`Embed`] seam and sequence-window scoring.
//! - [`detect_logs`] combines them into a [`FamilyScores`] of kind `log` (max over components
//!   per service and window) plus [`AnomalyEvent`]s whose evidence lists templates with an
//!   example line. Without an embedder the sequence-embedding component is skipped and a note
//!   says so; the model-free components still run.
//!
//! Invariants: pure (the embedder is passed in); never panics on any line; the same input and
//! embedder give the same output.

pub mod attribution;
pub mod drain;
pub mod failure;
pub mod keywords;
pub mod maia;
pub mod mask;
pub mod ngram;

#[cfg(test)]
mod tests;

use crate::detect::event::{AnomalyEvent, Evidence, FamilyScores, LogEvidence, SignalKind, squash};
use crate::detect::metrics::stats::{RobustBaseline, ScaleFloor};
use crate::detect::window::WindowGrid;
use crate::model::{LogRecord, TimeRange};
use drain::{ClusterIndex, Drain, DrainConfig};
pub use maia::{Embed, EmbedFailure, HashEmbed};
use maia::{MaiaConfig, score_sequences_grouped};
use ngram::NextTemplateModel;
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

/// Settings of the log family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogConfig {
    /// Template miner.
    pub drain: DrainConfig,
    /// Sequence embeddings.
    pub maia: MaiaConfig,
    /// DeepLog's g: a next template outside the top g after its context is a miss (9).
    pub top_g: usize,
    /// Template-count statistic `(c − λ) / √(max(λ, 1) + (0.2 λ)²)` that scores 0.5 (6).
    pub novelty_threshold: f64,
    /// Robust z of error-keyword lines per window that scores 0.5 (5).
    pub keyword_threshold: f64,
    /// Robust z of the next-template miss share that scores 0.5 (5).
    pub sequence_threshold: f64,
    /// Robust z of a drop in line volume that scores 0.5 (4.5; with the 20 % floor, a 90 %
    /// drop).
    pub volume_threshold: f64,
    /// Lines a window needs before its sequence-miss share counts (10).
    pub min_lines_for_sequence: usize,
    /// Family score at which an event is raised (0.5).
    pub event_threshold: f64,
    /// Share of a window's error lines that must name one other service for the errors to be
    /// counted at that service (0.5).
    pub blame_share: f64,
    /// Weight the logging service keeps when its errors are counted elsewhere (0.5).
    pub propagated_weight: f64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            drain: DrainConfig::default(),
            maia: MaiaConfig::default(),
            top_g: 9,
            novelty_threshold: 6.0,
            keyword_threshold: 5.0,
            sequence_threshold: 5.0,
            volume_threshold: 4.5,
            min_lines_for_sequence: 10,
            event_threshold: 0.5,
            blame_share: 0.5,
            propagated_weight: 0.5,
        }
    }
}

/// Per-component scores of one service over the window grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentScores {
    /// New or unusually frequent templates.
    pub novelty: Vec<f64>,
    /// Error/warning keyword lines.
    pub keywords: Vec<f64>,
    /// Next-template misses.
    pub sequence: Vec<f64>,
    /// Drop in line volume.
    pub volume: Vec<f64>,
    /// Sequence-window embeddings (empty without an embedder).
    pub embedding: Vec<f64>,
}

/// The log family's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogReport {
    /// Scores and events, ready for [`crate::detect::DetectInput::log_scores`].
    pub family: FamilyScores,
    /// Per service, the component scores.
    pub components: BTreeMap<String, ComponentScores>,
    /// Templates mined (all services).
    pub n_templates: usize,
    /// Whether the embedding component ran.
    pub embeddings_used: bool,
}

/// The log detectors failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The embedding engine failed.
    #[error("embedding failed: {0}")]
    Embedding(EmbedFailure),
}

/// Whom a window's error lines blame: (service, lines naming it, error lines).
type Blame<'s> = (&'s str, usize, usize);

struct Line<'a> {
    record: &'a LogRecord,
    cluster: ClusterIndex,
    /// Baseline window index (full windows only) or scored window index.
    baseline_window: Option<usize>,
    window: Option<usize>,
}

#[derive(Default)]
struct ServiceLines<'a> {
    lines: Vec<Line<'a>>,
}

/// Runs the log family on `records` (any order; owned lines or shared ones such as
/// `Arc<LogRecord>`) with `baseline` as normal and `grid` as the windows to score.
///
/// # Errors
/// Only when the embedder fails.
pub fn detect_logs<R: Borrow<LogRecord>>(
    records: &[R],
    baseline: TimeRange,
    grid: &WindowGrid,
    config: &LogConfig,
    embedder: Option<&mut (dyn Embed + '_)>,
) -> Result<LogReport, LogError> {
    let step_nanos = grid.step.as_nanos().max(1);
    let n_baseline_windows = usize::try_from(baseline.duration().as_nanos() / step_nanos)
        .unwrap_or(usize::MAX)
        .max(1);
    let baseline_grid = WindowGrid {
        start: baseline.start,
        step: grid.step,
        count: n_baseline_windows,
    };
    let mut order: Vec<&LogRecord> = records
        .iter()
        .map(Borrow::borrow)
        .filter(|r| baseline.contains(r.timestamp) || grid.index_of(r.timestamp).is_some())
        .collect();
    order.sort_by_key(|r| r.timestamp);
    let mut miner = Drain::new(config.drain);
    let mut services: BTreeMap<&str, ServiceLines<'_>> = BTreeMap::new();
    for record in order {
        let cluster = miner.add(&record.service, &record.line);
        let baseline_window = if baseline.contains(record.timestamp) {
            baseline_grid.index_of(record.timestamp)
        } else {
            None
        };
        let window = grid.index_of(record.timestamp);
        services
            .entry(record.service.as_str())
            .or_default()
            .lines
            .push(Line {
                record,
                cluster,
                baseline_window,
                window,
            });
    }
    let mut report = LogReport {
        family: FamilyScores::new(SignalKind::Log),
        n_templates: miner.clusters().len(),
        embeddings_used: embedder.is_some(),
        ..LogReport::default()
    };
    let mut embedder = embedder;
    let templates: Vec<String> = (0..miner.clusters().len())
        .map(|i| miner.template_text(i))
        .collect();
    let names: Vec<&str> = services.keys().copied().collect();
    // Share of each window that lies before the last line (a data end inside the last window
    // must not look like a volume drop).
    let data_end = records.iter().map(|r| r.borrow().timestamp).max();
    #[allow(clippy::cast_precision_loss)]
    let coverage: Vec<f64> = grid
        .windows()
        .map(|range| match data_end {
            Some(end) if end < range.end => {
                (end.as_nanos() - range.start.as_nanos()) as f64 / step_nanos as f64
            }
            _ => 1.0,
        })
        .collect();
    // Pass 1: per-service components, raw family scores, and whom the error lines blame.
    let mut raw: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut blame: BTreeMap<&str, Vec<Option<Blame<'_>>>> = BTreeMap::new();
    for (service, lines) in &services {
        let components = score_service(
            &lines.lines,
            &templates,
            n_baseline_windows,
            &coverage,
            config,
            embedder.as_deref_mut(),
        )?;
        let family: Vec<f64> = (0..grid.count)
            .map(|w| {
                component_list(&components, w)
                    .iter()
                    .map(|part| part.1)
                    .fold(0.0_f64, f64::max)
            })
            .collect();
        let mut errors: Vec<Vec<&str>> = vec![Vec::new(); grid.count];
        for line in &lines.lines {
            if let Some(w) = line.window
                && keywords::severity(&line.record.line).error
            {
                errors[w].push(&line.record.line);
            }
        }
        let targets = errors
            .iter()
            .map(|lines_of_window| {
                attribution::blamed(lines_of_window, service, &names, config.blame_share)
                    .map(|(target, n)| (target, n, lines_of_window.len()))
            })
            .collect();
        raw.insert(service, family);
        blame.insert(service, targets);
        report.components.insert((*service).to_owned(), components);
    }
    // Pass 2: errors that blame another service count there; the logging service keeps
    // `propagated_weight` of its score.
    let mut scores: BTreeMap<&str, Vec<f64>> = raw.clone();
    let mut credited: BTreeMap<(&str, usize), (&str, usize, usize)> = BTreeMap::new();
    for (service, targets) in &blame {
        for (w, target) in targets.iter().enumerate() {
            let Some((target, n, of)) = *target else {
                continue;
            };
            let own = raw
                .get(service)
                .and_then(|v| v.get(w))
                .copied()
                .unwrap_or(0.0);
            if let Some(slot) = scores.get_mut(service).and_then(|v| v.get_mut(w)) {
                *slot = (*slot).min(own * config.propagated_weight);
            }
            if let Some(slot) = scores.get_mut(target).and_then(|v| v.get_mut(w))
                && own > *slot
            {
                *slot = own;
                credited.insert((target, w), (service, n, of));
            }
        }
    }
    // Pass 3: events from the final scores.
    for (service, lines) in &services {
        let Some(final_scores) = scores.get(service) else {
            continue;
        };
        let Some(components) = report.components.get(*service) else {
            continue;
        };
        for (w, &score) in final_scores.iter().enumerate() {
            if score < config.event_threshold {
                continue;
            }
            let parts = component_list(components, w);
            let (signal, source_lines, mut notes) = match credited.get(&(*service, w)) {
                Some(&(caller, n, of)) => (
                    "log_caller_errors",
                    services
                        .get(caller)
                        .map_or(&lines.lines[..], |l| &l.lines[..]),
                    vec![format!(
                        "{n} of {of} error lines of {caller} name {service} as the failing peer"
                    )],
                ),
                None => {
                    let signal = parts
                        .iter()
                        .copied()
                        .fold(
                            ("", 0.0_f64),
                            |best, part| if part.1 > best.1 { part } else { best },
                        )
                        .0;
                    (signal, &lines.lines[..], Vec::new())
                }
            };
            if let Some(Some((target, n, of))) = blame.get(service).and_then(|b| b.get(w)) {
                notes.push(format!(
                    "{n} of {of} error lines name {target} as the failing peer: counted there"
                ));
            }
            report.family.events.push(event_for(
                &EventContext {
                    service,
                    signal,
                    score,
                    window: w,
                    grid,
                    n_baseline_windows,
                    embeddings_used: report.embeddings_used,
                },
                source_lines,
                &templates,
                &parts,
                notes,
            ));
        }
    }
    for (service, final_scores) in scores {
        report
            .family
            .scores
            .insert(service.to_owned(), final_scores);
    }
    report.family.events.sort_by(|a, b| {
        a.window_start
            .cmp(&b.window_start)
            .then(b.score.total_cmp(&a.score))
            .then(a.service.cmp(&b.service))
    });
    Ok(report)
}

fn component_list(components: &ComponentScores, w: usize) -> Vec<(&'static str, f64)> {
    let at = |scores: &[f64]| scores.get(w).copied().unwrap_or(0.0);
    vec![
        ("log_template", at(&components.novelty)),
        ("log_errors", at(&components.keywords)),
        ("log_sequence", at(&components.sequence)),
        ("log_volume", at(&components.volume)),
        ("log_embedding", at(&components.embedding)),
    ]
}

#[allow(clippy::cast_precision_loss)]
fn score_service(
    lines: &[Line<'_>],
    templates: &[String],
    n_baseline_windows: usize,
    coverage: &[f64],
    config: &LogConfig,
    embedder: Option<&mut (dyn Embed + '_)>,
) -> Result<ComponentScores, LogError> {
    let n_windows = coverage.len();
    let mut baseline_total = vec![0.0; n_baseline_windows];
    let mut baseline_errors = vec![0.0; n_baseline_windows];
    let mut window_total = vec![0.0; n_windows];
    let mut window_errors = vec![0.0; n_windows];
    let mut baseline_template: HashMap<ClusterIndex, f64> = HashMap::new();
    let mut window_template: Vec<HashMap<ClusterIndex, f64>> = vec![HashMap::new(); n_windows];
    let mut baseline_sequence = Vec::new();
    let mut scored_sequence = Vec::new();
    for line in lines {
        let error = keywords::severity(&line.record.line).error;
        if let Some(b) = line.baseline_window {
            baseline_total[b] += 1.0;
            baseline_errors[b] += f64::from(u8::from(error));
            *baseline_template.entry(line.cluster).or_default() += 1.0;
            baseline_sequence.push(line);
        } else if let Some(w) = line.window {
            window_total[w] += 1.0;
            window_errors[w] += f64::from(u8::from(error));
            *window_template[w].entry(line.cluster).or_default() += 1.0;
            scored_sequence.push(line);
        }
    }
    let nb = n_baseline_windows as f64;
    // Novelty: the template whose count departs most from its baseline rate.
    let novelty = window_template
        .iter()
        .map(|counts| {
            let statistic = counts
                .iter()
                .map(|(cluster, &c)| {
                    let lambda = baseline_template.get(cluster).copied().unwrap_or(0.0) / nb;
                    novelty_statistic(c, lambda)
                })
                .fold(0.0_f64, f64::max);
            squash(statistic, config.novelty_threshold)
        })
        .collect();
    let keywords = robust_scores(
        &baseline_errors,
        &window_errors,
        ScaleFloor {
            absolute: 2.0,
            relative: 0.25,
        },
        config.keyword_threshold,
        false,
    );
    let scaled_total: Vec<f64> = window_total
        .iter()
        .zip(coverage)
        .map(|(&x, &c)| if c >= 0.5 { x / c } else { f64::NAN })
        .collect();
    let volume = robust_scores(
        &baseline_total,
        &scaled_total,
        ScaleFloor {
            absolute: 2.0,
            relative: 0.2,
        },
        config.volume_threshold,
        true,
    );
    // Next-template misses: in-sample miss shares of the baseline windows calibrate the scale.
    let baseline_clusters: Vec<usize> = baseline_sequence.iter().map(|l| l.cluster).collect();
    let model = NextTemplateModel::fit(&baseline_clusters, config.top_g);
    let miss_shares =
        |sequence: &[&Line<'_>], windows: usize, pick: fn(&Line<'_>) -> Option<usize>| {
            let clusters: Vec<usize> = sequence.iter().map(|l| l.cluster).collect();
            let misses = model.misses(&clusters);
            let mut count = vec![0.0; windows];
            let mut missed = vec![0.0; windows];
            for (line, miss) in sequence.iter().zip(misses) {
                if let Some(w) = pick(line) {
                    count[w] += 1.0;
                    missed[w] += f64::from(u8::from(miss));
                }
            }
            count
                .iter()
                .zip(&missed)
                .map(|(&n, &m)| {
                    if n >= config.min_lines_for_sequence as f64 {
                        m / n
                    } else {
                        f64::NAN
                    }
                })
                .collect::<Vec<f64>>()
        };
    let baseline_shares = miss_shares(&baseline_sequence, n_baseline_windows, |l| {
        l.baseline_window
    });
    // The scored sequence continues the baseline's, so its first context is real.
    let mut joined: Vec<&Line<'_>> = baseline_sequence
        .iter()
        .rev()
        .take(2)
        .rev()
        .copied()
        .collect();
    joined.extend(scored_sequence.iter().copied());
    let window_shares = miss_shares(&joined, n_windows, |l| l.window);
    let sequence = robust_scores(
        &baseline_shares,
        &window_shares,
        ScaleFloor {
            absolute: 0.05,
            relative: 0.25,
        },
        config.sequence_threshold,
        false,
    );
    let embedding = match embedder {
        None => Vec::new(),
        Some(embedder) => {
            let normal: Vec<&str> = baseline_sequence
                .iter()
                .map(|l| templates.get(l.cluster).map_or("", String::as_str))
                .collect();
            let scored: Vec<&str> = scored_sequence
                .iter()
                .map(|l| templates.get(l.cluster).map_or("", String::as_str))
                .collect();
            let groups: Vec<usize> = scored_sequence
                .iter()
                .map(|l| l.window.unwrap_or(usize::MAX))
                .collect();
            let windows =
                score_sequences_grouped(&normal, &scored, Some(&groups), &config.maia, embedder)
                    .map_err(LogError::Embedding)?;
            let mut out = vec![0.0_f64; n_windows];
            for window in windows {
                if let Some(w) = scored_sequence.get(window.last).and_then(|l| l.window) {
                    out[w] = out[w].max(window.score);
                }
            }
            out
        }
    };
    Ok(ComponentScores {
        novelty,
        keywords,
        sequence,
        volume,
        embedding,
    })
}

/// `(c − λ) / √(max(λ, 1) + (0.2 λ)²)`: Poisson noise plus 20 % over-dispersion, so that busy
/// templates whose traffic varies are not flagged for ordinary load changes while a brand-new
/// template scores its count.
fn novelty_statistic(count: f64, lambda: f64) -> f64 {
    (count - lambda) / (lambda.max(1.0) + (0.2 * lambda).powi(2)).sqrt()
}

/// Scores each window value by its robust z against the baseline values (upward shifts, or
/// downward when `drop`); NaN values score 0.
fn robust_scores(
    baseline: &[f64],
    window: &[f64],
    floor: ScaleFloor,
    threshold: f64,
    drop: bool,
) -> Vec<f64> {
    let Some(fit) = RobustBaseline::fit(baseline, floor) else {
        return vec![0.0; window.len()];
    };
    window
        .iter()
        .map(|&x| {
            if x.is_nan() {
                return 0.0;
            }
            let z = fit.z(x);
            squash(if drop { -z } else { z }, threshold)
        })
        .collect()
}

struct EventContext<'c> {
    service: &'c str,
    signal: &'c str,
    score: f64,
    window: usize,
    grid: &'c WindowGrid,
    n_baseline_windows: usize,
    embeddings_used: bool,
}

#[allow(clippy::cast_precision_loss)]
fn event_for(
    context: &EventContext<'_>,
    lines: &[Line<'_>],
    templates: &[String],
    parts: &[(&'static str, f64)],
    mut notes: Vec<String>,
) -> AnomalyEvent {
    let EventContext {
        service,
        signal,
        score,
        window: w,
        grid,
        n_baseline_windows,
        embeddings_used,
    } = *context;
    let range = grid.window(w);
    let mut baseline_counts: HashMap<ClusterIndex, f64> = HashMap::new();
    let mut window_counts: BTreeMap<ClusterIndex, (u64, &str, bool)> = BTreeMap::new();
    for line in lines {
        if line.baseline_window.is_some() {
            *baseline_counts.entry(line.cluster).or_default() += 1.0;
        } else if line.window == Some(w) {
            let error = keywords::severity(&line.record.line).error;
            let entry =
                window_counts
                    .entry(line.cluster)
                    .or_insert((0, line.record.line.as_str(), error));
            entry.0 += 1;
        }
    }
    let nb = n_baseline_windows as f64;
    let mut ranked: Vec<(f64, LogEvidence)> = window_counts
        .iter()
        .map(|(cluster, &(count, example, error))| {
            let expected = baseline_counts.get(cluster).copied().unwrap_or(0.0) / nb;
            let excess =
                novelty_statistic(count as f64, expected) + if error { 1000.0 } else { 0.0 };
            (
                excess,
                LogEvidence {
                    template: templates.get(*cluster).cloned().unwrap_or_default(),
                    example: example.chars().take(500).collect(),
                    count,
                    baseline_count: expected,
                },
            )
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.template.cmp(&b.1.template)));
    notes.extend(
        parts
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(name, s)| format!("{name} {s:.2}")),
    );
    if !embeddings_used {
        notes.push(
            "no embedding model: sequence embeddings skipped (model-free log detectors only)"
                .to_owned(),
        );
    }
    AnomalyEvent {
        service: service.to_owned(),
        kind: SignalKind::Log,
        signal: signal.to_owned(),
        score,
        window_start: range.start,
        window_end: range.end,
        evidence: Evidence {
            log_lines: ranked.into_iter().take(3).map(|(_, e)| e).collect(),
            notes,
            ..Evidence::default()
        },
    }
}
