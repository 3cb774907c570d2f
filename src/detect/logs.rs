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

pub mod drain;
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
use maia::{MaiaConfig, score_sequences};
use ngram::NextTemplateModel;
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
    /// Template-count statistic `(c − λ) / √max(λ, 1)` that scores 0.5 (6).
    pub novelty_threshold: f64,
    /// Robust z of error-keyword lines per window that scores 0.5 (5).
    pub keyword_threshold: f64,
    /// Robust z of the next-template miss share that scores 0.5 (5).
    pub sequence_threshold: f64,
    /// Robust z of a drop in line volume that scores 0.5 (6).
    pub volume_threshold: f64,
    /// Lines a window needs before its sequence-miss share counts (10).
    pub min_lines_for_sequence: usize,
    /// Family score at which an event is raised (0.5).
    pub event_threshold: f64,
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
            volume_threshold: 6.0,
            min_lines_for_sequence: 10,
            event_threshold: 0.5,
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

/// Runs the log family on `records` (any order) with `baseline` as normal and `grid` as the
/// windows to score.
///
/// # Errors
/// Only when the embedder fails.
pub fn detect_logs(
    records: &[LogRecord],
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
    for (service, lines) in &services {
        let components = score_service(
            &lines.lines,
            &templates,
            n_baseline_windows,
            grid.count,
            config,
            embedder.as_deref_mut(),
        )?;
        let mut family = vec![0.0; grid.count];
        for (w, slot) in family.iter_mut().enumerate() {
            let parts = component_list(&components, w);
            let (signal, score) = parts.iter().copied().fold(("", 0.0_f64), |best, part| {
                if part.1 > best.1 { part } else { best }
            });
            *slot = score;
            if score >= config.event_threshold {
                report.family.events.push(event_for(
                    service,
                    signal,
                    score,
                    w,
                    grid,
                    &lines.lines,
                    &templates,
                    n_baseline_windows,
                    &parts,
                    report.embeddings_used,
                ));
            }
        }
        report.family.scores.insert((*service).to_owned(), family);
        report.components.insert((*service).to_owned(), components);
    }
    report.family.events.sort_by(|a, b| {
        a.window_start
            .cmp(&b.window_start)
            .then(b.score.total_cmp(&a.score))
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
    n_windows: usize,
    config: &LogConfig,
    embedder: Option<&mut (dyn Embed + '_)>,
) -> Result<ComponentScores, LogError> {
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
                    (c - lambda) / lambda.max(1.0).sqrt()
                })
                .fold(0.0_f64, f64::max);
            squash(statistic, config.novelty_threshold)
        })
        .collect();
    let keywords = robust_scores(
        &baseline_errors,
        &window_errors,
        ScaleFloor {
            absolute: 1.0,
            relative: 0.25,
        },
        config.keyword_threshold,
        false,
    );
    let volume = robust_scores(
        &baseline_total,
        &window_total,
        ScaleFloor {
            absolute: 2.0,
            relative: 0.1,
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
            let windows = score_sequences(&normal, &scored, &config.maia, embedder)
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

#[allow(clippy::too_many_arguments, clippy::cast_precision_loss)]
fn event_for(
    service: &str,
    signal: &str,
    score: f64,
    w: usize,
    grid: &WindowGrid,
    lines: &[Line<'_>],
    templates: &[String],
    n_baseline_windows: usize,
    parts: &[(&'static str, f64)],
    embeddings_used: bool,
) -> AnomalyEvent {
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
            let excess = (count as f64 - expected) / expected.max(1.0).sqrt()
                + if error { 1000.0 } else { 0.0 };
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
    let mut notes: Vec<String> = parts
        .iter()
        .filter(|(_, s)| *s > 0.0)
        .map(|(name, s)| format!("{name} {s:.2}"))
        .collect();
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
