//! Root-cause evaluation: the whole pipeline ([`crate::analysis::analyze`], with no windows
//! given, so it must find the incident itself) on the 12 built-in scenarios, on randomised
//! faults (any service × compatible fault class, fixed seeds) and on fault-free runs.
//!
//! A run is a hit@k when the root cause (or, for a partition, its peer) is among the first `k`
//! services. Fault-free runs count as clean when no service's P(outage) exceeds 15 %.

use crate::analysis::{AnalysisConfig, AnalysisInput, RecordLogs, analyze};
use crate::model::Dataset;
use crate::rca::LinkStrengths;
use crate::scenario;
use crate::sim::SimConfig;
use crate::sim::random::random_fault;
use crate::sim::run::{config_for, run};
use serde::Serialize;
use std::time::Duration;

/// What to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct RcaEvalConfig {
    /// Pipeline settings.
    pub analysis: AnalysisConfig,
    /// Seed of the scenario runs.
    pub scenario_seed: u64,
    /// Only scenarios whose name contains this.
    pub scenario_filter: String,
    /// Seeds of the random-fault runs.
    pub random_seeds: Vec<u64>,
    /// Seeds of the fault-free runs.
    pub quiet_seeds: Vec<u64>,
    /// Worker threads.
    pub threads: usize,
    /// Whether the log family contributes evidence.
    pub logs: bool,
}

impl Default for RcaEvalConfig {
    fn default() -> Self {
        Self {
            analysis: AnalysisConfig::default(),
            scenario_seed: 7,
            scenario_filter: String::new(),
            random_seeds: (2000..2100).collect(),
            quiet_seeds: (3000..3010).collect(),
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            logs: true,
        }
    }
}

/// One evaluated run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RcaRun {
    /// Scenario name, `random-SEED` or `quiet-SEED`.
    pub name: String,
    /// Fault class, or `none`.
    pub fault_class: String,
    /// The true root cause, or empty for fault-free runs.
    pub root_cause: String,
    /// 1-based position of the root cause (or its partition peer) in the ranking; 0 when absent.
    pub position: usize,
    /// P(outage) of the root cause.
    pub p_outage: f64,
    /// P(root cause) of the root cause.
    pub p_root_cause: f64,
    /// The first three services of the ranking with their P(outage).
    pub top: Vec<(String, f64)>,
    /// Highest P(outage) of any service (the figure that matters on fault-free runs).
    pub max_p_outage: f64,
    /// Seconds from the fault start to the detected incident start (negative: early).
    pub detection_offset_secs: Option<f64>,
    /// The pipeline's verdict.
    pub verdict: String,
}

/// Summary over a set of runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RcaSummary {
    /// Runs.
    pub runs: usize,
    /// Share ranked first.
    pub top1: f64,
    /// Share in the first three.
    pub top3: f64,
    /// Runs where the pipeline found an incident.
    pub detected: usize,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RcaReport {
    /// Built-in scenarios.
    pub scenarios: RcaSummary,
    /// Randomised faults.
    pub random: RcaSummary,
    /// Fault-free runs with a service above 15 %.
    pub quiet_false_alarms: usize,
    /// Fault-free runs.
    pub quiet_runs: usize,
    /// Every run.
    pub runs: Vec<RcaRun>,
}

fn summarize(runs: &[&RcaRun]) -> RcaSummary {
    #[allow(clippy::cast_precision_loss)]
    let share = |k: usize| {
        runs.iter()
            .filter(|r| r.position >= 1 && r.position <= k)
            .count() as f64
            / runs.len().max(1) as f64
    };
    RcaSummary {
        runs: runs.len(),
        top1: share(1),
        top3: share(3),
        detected: runs
            .iter()
            .filter(|r| r.detection_offset_secs.is_some())
            .count(),
    }
}

/// Analyses one simulated dataset and scores the ranking against its ground truth.
///
/// # Errors
/// When the pipeline fails on the dataset.
pub fn evaluate_dataset(
    name: &str,
    dataset: &Dataset,
    config: &AnalysisConfig,
    logs: bool,
) -> Result<RcaRun, String> {
    let log_family = RecordLogs::new(&dataset.logs);
    let analysis = analyze(
        &AnalysisInput {
            spans: &dataset.spans,
            series: &dataset.series,
            graph: None,
            logs: logs.then_some(&log_family as &dyn crate::analysis::LogScorer),
            baseline: None,
            window: None,
            data: None,
        },
        config,
        LinkStrengths::new(),
    )
    .map_err(|error| format!("{name}: {error}"))?;
    let ranking = &analysis.ranking.ranking;
    let top = ranking
        .iter()
        .take(3)
        .map(|r| (r.service.clone(), r.p_outage))
        .collect();
    let max_p_outage = ranking.iter().map(|r| r.p_outage).fold(0.0, f64::max);
    let Some(truth) = &dataset.ground_truth else {
        return Ok(RcaRun {
            name: name.to_owned(),
            fault_class: "none".to_owned(),
            root_cause: String::new(),
            position: 0,
            p_outage: 0.0,
            p_root_cause: 0.0,
            top,
            max_p_outage,
            detection_offset_secs: analysis.incident_start.map(|_| 0.0),
            verdict: analysis.ranking.verdict.clone(),
        });
    };
    let is_culprit =
        |service: &str| service == truth.root_cause || truth.peer.as_deref() == Some(service);
    let position = ranking
        .iter()
        .position(|r| is_culprit(&r.service))
        .map_or(0, |p| p + 1);
    let culprit = ranking.iter().find(|r| r.service == truth.root_cause);
    #[allow(clippy::cast_precision_loss)]
    let detection_offset_secs = analysis
        .incident_start
        .map(|t| (t.0 - truth.fault_start.0) as f64 / 1e9);
    Ok(RcaRun {
        name: name.to_owned(),
        fault_class: truth.fault_class.to_string(),
        root_cause: truth.root_cause.clone(),
        position,
        p_outage: culprit.map_or(0.0, |r| r.p_outage),
        p_root_cause: culprit.map_or(0.0, |r| r.p_root_cause),
        top,
        max_p_outage,
        detection_offset_secs,
        verdict: analysis.ranking.verdict.clone(),
    })
}

enum Job {
    Scenario(Box<scenario::Scenario>),
    Random(u64),
    Quiet(u64),
}

fn run_job(job: &Job, config: &RcaEvalConfig) -> Result<RcaRun, String> {
    let (name, sim) = match job {
        Job::Scenario(one) => (one.name.clone(), config_for(one, config.scenario_seed)),
        Job::Random(seed) => (
            format!("random-{seed}"),
            SimConfig {
                seed: *seed,
                fault: Some(random_fault(*seed)),
                scenario: "random".to_owned(),
                ..SimConfig::default()
            },
        ),
        Job::Quiet(seed) => (
            format!("quiet-{seed}"),
            SimConfig {
                seed: *seed,
                baseline: Duration::from_secs(1800),
                fault_duration: Duration::ZERO,
                recovery: Duration::ZERO,
                ..SimConfig::default()
            },
        ),
    };
    let dataset = run(sim)?;
    evaluate_dataset(&name, &dataset, &config.analysis, config.logs)
}

/// Runs every configured evaluation.
///
/// # Errors
/// When a scenario fails to load, simulate or analyse.
pub fn evaluate(config: &RcaEvalConfig) -> Result<RcaReport, String> {
    let mut jobs: Vec<Job> = scenario::builtin()
        .map_err(|error| error.to_string())?
        .into_iter()
        .filter(|s| s.name.contains(&config.scenario_filter))
        .map(|s| Job::Scenario(Box::new(s)))
        .collect();
    jobs.extend(config.random_seeds.iter().map(|&s| Job::Random(s)));
    jobs.extend(config.quiet_seeds.iter().map(|&s| Job::Quiet(s)));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, Result<RcaRun, String>)>> =
        std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..config.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else {
                        break;
                    };
                    let result = run_job(job, config);
                    if let Ok(mut all) = results.lock() {
                        all.push((index, result));
                    }
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .map_err(|_| "an evaluation worker panicked".to_owned())?;
    results.sort_by_key(|(index, _)| *index);
    let runs: Vec<RcaRun> = results
        .into_iter()
        .map(|(_, result)| result)
        .collect::<Result<_, _>>()?;
    let scenarios: Vec<&RcaRun> = runs
        .iter()
        .filter(|r| !r.name.starts_with("random-") && !r.name.starts_with("quiet-"))
        .collect();
    let random: Vec<&RcaRun> = runs
        .iter()
        .filter(|r| r.name.starts_with("random-"))
        .collect();
    let quiet: Vec<&RcaRun> = runs
        .iter()
        .filter(|r| r.name.starts_with("quiet-"))
        .collect();
    Ok(RcaReport {
        scenarios: summarize(&scenarios),
        random: summarize(&random),
        quiet_false_alarms: quiet.iter().filter(|r| r.max_p_outage > 0.15).count(),
        quiet_runs: quiet.len(),
        runs,
    })
}
