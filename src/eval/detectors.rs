//! Detector evaluation: for each built-in scenario and a set of randomised faults (fixed seeds),
//! window-level precision, recall and F1 of each detector family and of their combination, mean
//! time to detect, and per-service localisation.
//!
//! Protocol: the first `baseline` of each run is the (unlabelled) baseline; the rest is cut into
//! `window`-long windows. A window is faulty when it overlaps `[fault_start, fault_end)`; a
//! later window that overlaps the fault's after-effects (`GroundTruth::effects_end`: requests
//! the fault acted on still completing, a pod it restarted coming back up, a backlog it caused
//! draining) is neither faulty nor normal and is not scored (counted apart, and in the strict
//! precision); every other window is normal. A
//! family detects in a window when any service scores at least 0.5 (system level). Time to
//! detect = end of the first detecting window that overlaps the fault − fault start.
//! Localisation: the services ranked by their summed combined score over the faulty windows;
//! hit@1 / hit@3 when the root cause (or, for a partition, its peer) is among the first.

use crate::detect::logs::{Embed, LogConfig, detect_logs};
use crate::detect::window::WindowGrid;
use crate::detect::{DetectConfig, DetectInput, Detectors, changes_from_series};
use crate::model::{Dataset, GroundTruth, TimeRange};
use crate::scenario;
use crate::sim::SimConfig;
use crate::sim::random::random_fault;
use crate::sim::run::{config_for, run};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// What to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    /// Detector settings.
    pub detect: DetectConfig,
    /// Log-family settings.
    pub logs: LogConfig,
    /// Whether the log family takes part in the combination (its own metrics are reported
    /// either way).
    pub logs_in_combined: bool,
    /// Baseline length at the start of each run (default 8 min; faults start at 10 min).
    pub baseline: Duration,
    /// Seed of the scenario runs (default 7).
    pub scenario_seed: u64,
    /// Seeds of the random-fault runs (default 1000..1050).
    pub random_seeds: Vec<u64>,
    /// Only scenarios whose name contains this (all when empty).
    pub scenario_filter: String,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            detect: DetectConfig::default(),
            logs: LogConfig::default(),
            logs_in_combined: true,
            baseline: Duration::from_secs(480),
            scenario_seed: 7,
            random_seeds: (1000..1050).collect(),
            scenario_filter: String::new(),
        }
    }
}

/// Confusion counts and derived metrics of one family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FamilyMetrics {
    /// Faulty windows detected.
    pub tp: u64,
    /// Normal windows flagged.
    pub fp: u64,
    /// Faulty windows missed.
    pub false_negatives: u64,
    /// Normal windows left alone.
    pub tn: u64,
    /// Windows after the fault end that overlap its after-effects (not scored).
    #[serde(default)]
    pub after_effect_windows: u64,
    /// Of those, the flagged ones.
    #[serde(default)]
    pub after_effect_flagged: u64,
    /// `tp / (tp + fp)` (1 when nothing was flagged).
    pub precision: f64,
    /// Precision with the label of the fault window alone: a flag in an after-effect window
    /// counts as false, `tp / (tp + fp + after_effect_flagged)`.
    #[serde(default)]
    pub precision_strict: f64,
    /// `tp / (tp + fn)`.
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
    /// Mean time to detect over detected runs, seconds.
    pub mean_time_to_detect_secs: Option<f64>,
    /// Runs whose fault was detected at all.
    pub runs_detected: u64,
    /// Runs.
    pub runs: u64,
}

impl FamilyMetrics {
    fn finish(mut self, ttd: &[f64]) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let (tp, fp, fneg) = (self.tp as f64, self.fp as f64, self.false_negatives as f64);
        self.precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 };
        #[allow(clippy::cast_precision_loss)]
        let fp_strict = fp + self.after_effect_flagged as f64;
        self.precision_strict = if tp + fp_strict > 0.0 {
            tp / (tp + fp_strict)
        } else {
            1.0
        };
        self.recall = if tp + fneg > 0.0 {
            tp / (tp + fneg)
        } else {
            1.0
        };
        self.f1 = if self.precision + self.recall > 0.0 {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        } else {
            0.0
        };
        #[allow(clippy::cast_precision_loss)]
        let mean = (!ttd.is_empty()).then(|| ttd.iter().sum::<f64>() / ttd.len() as f64);
        self.mean_time_to_detect_secs = mean;
        self
    }

    fn add(&mut self, other: &Self) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.false_negatives += other.false_negatives;
        self.tn += other.tn;
        self.after_effect_windows += other.after_effect_windows;
        self.after_effect_flagged += other.after_effect_flagged;
        self.runs_detected += other.runs_detected;
        self.runs += other.runs;
    }
}

/// Results of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Scenario name or `random-<seed>`.
    pub name: String,
    /// Fault class.
    pub fault_class: String,
    /// Root cause.
    pub root_cause: String,
    /// `logs`, `traces`, `metrics`, `combined`.
    pub families: BTreeMap<String, FamilyMetrics>,
    /// Time to detect per family, seconds (absent when missed).
    pub time_to_detect_secs: BTreeMap<String, f64>,
    /// Services ranked by summed combined score over the faulty windows (top 5).
    pub ranking: Vec<String>,
    /// Root cause (or partition peer) ranked first.
    pub localisation_hit1: bool,
    /// … among the first three.
    pub localisation_hit3: bool,
    /// Flagged normal windows (index from the first analysed window) for the combination.
    pub false_positive_windows: Vec<usize>,
    /// Per flagged normal window, the events at or above the threshold of the services whose
    /// deciding score flagged it (`window: service (decided score) kind signal score [signal
    /// observed/baseline z …]`), for diagnosis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub false_positive_evidence: Vec<String>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Per run.
    pub runs: Vec<RunResult>,
    /// Totals over the built-in scenarios, per family.
    pub scenarios_total: BTreeMap<String, FamilyMetrics>,
    /// Totals over the random faults, per family.
    pub random_total: BTreeMap<String, FamilyMetrics>,
    /// Share of runs with the root cause ranked first / in the top three.
    pub localisation_hit1: f64,
    /// See `localisation_hit1`.
    pub localisation_hit3: f64,
    /// Scenarios where the combination reaches precision and recall ≥ 0.95.
    pub scenarios_meeting_target: Vec<String>,
    /// The same with the strict precision (after-effect flags counted as false).
    #[serde(default)]
    pub scenarios_meeting_target_strict: Vec<String>,
}

const FAMILIES: [&str; 4] = ["logs", "traces", "metrics", "combined"];

/// The ground truth of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowLabel {
    /// Overlaps the fault.
    Faulty,
    /// After the fault, overlapping its after-effects: not scored.
    AfterEffect,
    /// Neither.
    Normal,
}

fn window_label(
    window: &TimeRange,
    fault: &TimeRange,
    after_effects: Option<&TimeRange>,
) -> WindowLabel {
    if window.overlaps(fault) {
        WindowLabel::Faulty
    } else if after_effects.is_some_and(|effects| window.overlaps(effects)) {
        WindowLabel::AfterEffect
    } else {
        WindowLabel::Normal
    }
}

/// Evaluates the detectors on one labelled dataset; the log family's sequence embeddings run
/// only when an `embedder` is given.
///
/// # Errors
/// When the dataset has no ground truth or is too short for the baseline, or the embedder fails.
pub fn evaluate_dataset(
    name: &str,
    dataset: &Dataset,
    config: &EvalConfig,
    embedder: Option<&mut (dyn Embed + '_)>,
) -> Result<RunResult, String> {
    let truth: &GroundTruth = dataset
        .ground_truth
        .as_ref()
        .ok_or_else(|| format!("{name}: no ground truth"))?;
    let baseline = TimeRange::new(truth.start, truth.start.plus(config.baseline))
        .ok_or_else(|| format!("{name}: bad baseline"))?;
    let window = TimeRange::new(baseline.end, truth.end)
        .ok_or_else(|| format!("{name}: run shorter than the baseline"))?;
    let changes = changes_from_series(&dataset.series);
    let detectors = Detectors::new(config.detect);
    let logs = detect_logs(
        &dataset.logs,
        baseline,
        &detectors.grid(window),
        &config.logs,
        embedder,
    )
    .map_err(|error| format!("{name}: {error}"))?;
    let report = detectors
        .run(&DetectInput {
            spans: &dataset.spans,
            series: &dataset.series,
            golden: None,
            changes: &changes,
            log_scores: config.logs_in_combined.then_some(&logs.family),
            baseline,
            window,
        })
        .map_err(|error| format!("{name}: {error}"))?;
    let grid: WindowGrid = detectors.grid(window);
    let fault = TimeRange::new(truth.fault_start, truth.fault_end)
        .ok_or_else(|| format!("{name}: bad fault window"))?;
    // Empty when nothing outlasted the fault.
    let after_effects = TimeRange::new(truth.fault_end, truth.impact_end());
    let threshold = config.detect.threshold;
    // The families' deciding scores (`verdict`), not the evidence scores the ranking pools.
    let flagged = |kind: &str, w: usize| {
        let family = match kind {
            "logs" => &logs.family,
            "traces" => &report.traces.family,
            "metrics" => &report.metrics.family,
            _ => {
                return report
                    .verdict
                    .values()
                    .any(|scores| scores.get(w).is_some_and(|s| *s >= threshold));
            }
        };
        family
            .scores
            .keys()
            .any(|service| family.verdict_score(service, w) >= threshold)
    };
    let mut families = BTreeMap::new();
    let mut time_to_detect = BTreeMap::new();
    let mut false_positive_windows = Vec::new();
    for family in FAMILIES {
        let mut metrics = FamilyMetrics {
            runs: 1,
            ..FamilyMetrics::default()
        };
        let mut first: Option<f64> = None;
        for (w, range) in grid.windows().enumerate() {
            let hit = flagged(family, w);
            let faulty = match window_label(&range, &fault, after_effects.as_ref()) {
                WindowLabel::Faulty => true,
                WindowLabel::Normal => false,
                WindowLabel::AfterEffect => {
                    metrics.after_effect_windows += 1;
                    metrics.after_effect_flagged += u64::from(hit);
                    continue;
                }
            };
            match (faulty, hit) {
                (true, true) => {
                    metrics.tp += 1;
                    if first.is_none() {
                        first = Some(range.end.since(fault.start).as_secs_f64());
                    }
                }
                (true, false) => metrics.false_negatives += 1,
                (false, true) => {
                    metrics.fp += 1;
                    if family == "combined" {
                        false_positive_windows.push(w);
                    }
                }
                (false, false) => metrics.tn += 1,
            }
        }
        if let Some(ttd) = first {
            metrics.runs_detected = 1;
            time_to_detect.insert(family.to_owned(), ttd);
        }
        families.insert(family.to_owned(), metrics.finish(first.as_slice()));
    }
    let mut totals: Vec<(String, f64)> = report
        .timeline
        .scores
        .iter()
        .map(|(service, per_kind)| {
            let sum = per_kind.get("combined").map_or(0.0, |scores| {
                grid.windows()
                    .enumerate()
                    .filter(|(_, range)| range.overlaps(&fault))
                    .filter_map(|(w, _)| scores.get(w))
                    .sum()
            });
            (service.clone(), sum)
        })
        .collect();
    totals.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let ranking: Vec<String> = totals.into_iter().take(5).map(|(s, _)| s).collect();
    let verdict = &report.verdict;
    let false_positive_evidence = false_positive_windows
        .iter()
        .flat_map(|&w| {
            let range = grid.window(w);
            report
                .events
                .iter()
                .filter(move |e| e.window_start == range.start && e.score >= threshold)
                .filter_map(move |e| {
                    let decided = verdict
                        .get(&e.service)
                        .and_then(|scores| scores.get(w))
                        .copied()
                        .filter(|v| *v >= threshold)?;
                    Some((e, decided))
                })
                .map(move |(e, decided)| {
                    let deltas: Vec<String> = e
                        .evidence
                        .metric_deltas
                        .iter()
                        .take(3)
                        .map(|d| {
                            format!(
                                "{} {:.3}/{:.3} z {:.1}",
                                d.signal, d.observed, d.baseline, d.z
                            )
                        })
                        .collect();
                    format!(
                        "{w}: {} (decided {decided:.2}) {} {} {:.2} [{}]",
                        e.service,
                        e.kind.as_str(),
                        e.signal,
                        e.score,
                        deltas.join("; ")
                    )
                })
        })
        .collect();
    let is_cause =
        |service: &String| *service == truth.root_cause || truth.peer.as_ref() == Some(service);
    Ok(RunResult {
        name: name.to_owned(),
        fault_class: truth.fault_class.to_string(),
        root_cause: truth.root_cause.clone(),
        families,
        time_to_detect_secs: time_to_detect,
        localisation_hit1: ranking.first().is_some_and(is_cause),
        localisation_hit3: ranking.iter().take(3).any(is_cause),
        ranking,
        false_positive_windows,
        false_positive_evidence,
    })
}

fn total(runs: &[RunResult]) -> BTreeMap<String, FamilyMetrics> {
    FAMILIES
        .iter()
        .map(|family| {
            let mut sum = FamilyMetrics::default();
            let mut ttd = Vec::new();
            for run in runs {
                if let Some(metrics) = run.families.get(*family) {
                    sum.add(metrics);
                }
                if let Some(t) = run.time_to_detect_secs.get(*family) {
                    ttd.push(*t);
                }
            }
            ((*family).to_owned(), sum.finish(&ttd))
        })
        .collect()
}

/// Simulates and evaluates every built-in scenario and every random seed of `config` (log
/// family without embeddings).
///
/// # Errors
/// When a scenario fails to load or simulate.
pub fn evaluate(config: &EvalConfig) -> Result<EvalReport, String> {
    evaluate_with(config, None)
}

/// As [`evaluate`], with the log family's sequence embeddings computed by `embedder`.
///
/// # Errors
/// When a scenario fails to load or simulate, or the embedder fails.
pub fn evaluate_with(
    config: &EvalConfig,
    mut embedder: Option<&mut (dyn Embed + '_)>,
) -> Result<EvalReport, String> {
    let scenarios = scenario::builtin().map_err(|error| error.to_string())?;
    let mut scenario_runs = Vec::new();
    for one in scenarios
        .iter()
        .filter(|s| s.name.contains(&config.scenario_filter))
    {
        let dataset = run(config_for(one, config.scenario_seed))?;
        scenario_runs.push(evaluate_dataset(
            &one.name,
            &dataset,
            config,
            embedder.as_deref_mut(),
        )?);
    }
    let mut random_runs = Vec::new();
    for &seed in &config.random_seeds {
        let sim = SimConfig {
            seed,
            fault: Some(random_fault(seed)),
            scenario: "random".to_owned(),
            ..SimConfig::default()
        };
        let dataset = run(sim)?;
        random_runs.push(evaluate_dataset(
            &format!("random-{seed}"),
            &dataset,
            config,
            embedder.as_deref_mut(),
        )?);
    }
    let meeting = |precision: fn(&FamilyMetrics) -> f64| -> Vec<String> {
        scenario_runs
            .iter()
            .filter(|r| {
                r.families
                    .get("combined")
                    .is_some_and(|m| precision(m) >= 0.95 && m.recall >= 0.95)
            })
            .map(|r| r.name.clone())
            .collect()
    };
    let scenarios_meeting_target = meeting(|m| m.precision);
    let scenarios_meeting_target_strict = meeting(|m| m.precision_strict);
    let runs: Vec<RunResult> = scenario_runs.iter().chain(&random_runs).cloned().collect();
    #[allow(clippy::cast_precision_loss)]
    let share = |hit: fn(&RunResult) -> bool| {
        runs.iter().filter(|r| hit(r)).count() as f64 / runs.len().max(1) as f64
    };
    Ok(EvalReport {
        scenarios_total: total(&scenario_runs),
        random_total: total(&random_runs),
        localisation_hit1: share(|r| r.localisation_hit1),
        localisation_hit3: share(|r| r.localisation_hit3),
        scenarios_meeting_target,
        scenarios_meeting_target_strict,
        runs,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    fn range(from: i64, to: i64) -> TimeRange {
        TimeRange::new(Timestamp::from_secs(from), Timestamp::from_secs(to)).unwrap()
    }

    #[test]
    fn windows_in_the_after_effects_are_neither_faulty_nor_normal() {
        let fault = range(600, 1200);
        let effects = range(1200, 1245);
        let label = |from, to| window_label(&range(from, to), &fault, Some(&effects));
        assert_eq!(label(540, 600), WindowLabel::Normal);
        assert_eq!(label(1140, 1200), WindowLabel::Faulty);
        assert_eq!(label(1200, 1260), WindowLabel::AfterEffect);
        assert_eq!(label(1260, 1320), WindowLabel::Normal);
        // Nothing outlasted the fault: the empty range overlaps no window.
        let none = range(1200, 1200);
        assert_eq!(
            window_label(&range(1200, 1260), &fault, Some(&none)),
            WindowLabel::Normal
        );
        assert_eq!(
            window_label(&range(1200, 1260), &fault, None),
            WindowLabel::Normal
        );
    }

    #[test]
    fn strict_precision_counts_after_effect_flags_as_false() {
        let metrics = FamilyMetrics {
            tp: 10,
            fp: 0,
            after_effect_windows: 2,
            after_effect_flagged: 1,
            ..FamilyMetrics::default()
        }
        .finish(&[60.0]);
        assert!((metrics.precision - 1.0).abs() < 1e-12);
        assert!((metrics.precision_strict - 10.0 / 11.0).abs() < 1e-12);
        assert!((metrics.recall - 1.0).abs() < 1e-12);
    }
}
