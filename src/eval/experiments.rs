//! Every scenario as a recorded experiment: the built-in scenarios and randomised faults run
//! through [`crate::experiment::runner`] on the simulator (detectors and the network live on
//! sliding windows), scored against the simulator's ground truth: detection precision, recall
//! and F1 of the combined detectors over the fault window, MTTD, MTTR, and whether the root
//! cause (or a partition's peer) was first / in the first three of the final ranking of the
//! fault. Retrieval is scored by the caller (it needs a store on disk).

use crate::experiment::runner::{
    NoControl, Recorded, RunSettings, SimSource, Timing, run_experiment, sim_config,
};
use crate::model::FaultClass;
use crate::scenario::{ChaosKind, FaultSpec, Scenario};
use serde::Serialize;
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub struct ExperimentEvalConfig {
    /// Seed of the scenario runs.
    pub scenario_seed: u64,
    /// Seeds of the randomised faults.
    pub random_seeds: Vec<u64>,
    /// Phases of every run (`None`: as each scenario says; random faults then use 10/10/10 min).
    pub phases: Option<(Duration, Duration, Duration)>,
    /// Runner settings.
    pub settings: RunSettings,
    /// Worker threads.
    pub threads: usize,
}

impl Default for ExperimentEvalConfig {
    fn default() -> Self {
        Self {
            scenario_seed: 7,
            random_seeds: Vec::new(),
            phases: None,
            settings: RunSettings::default(),
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// One scored run.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentScore {
    /// Scenario name or `random-SEED`.
    pub name: String,
    /// Fault class.
    pub fault_class: String,
    /// True root cause.
    pub root_cause: String,
    /// Combined detectors' precision over baseline and fault steps.
    pub precision: f64,
    /// Recall over the fault steps.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Fault start → root cause ranked first.
    pub mttd_secs: Option<f64>,
    /// Fault end → golden signals back in band.
    pub mttr_secs: Option<f64>,
    /// 1-based position of the root cause (or its peer) in the final ranking of the fault; 0
    /// when absent.
    pub position: usize,
}

/// A scenario for a random fault (simulator only: the manifest is a comment).
#[must_use]
pub fn random_scenario(seed: u64, fault: FaultSpec) -> Scenario {
    let kind = match fault.class {
        FaultClass::NetworkPartition | FaultClass::NetworkDelay | FaultClass::Bandwidth => {
            ChaosKind::NetworkChaos
        }
        FaultClass::IoFault => ChaosKind::IoChaos,
        FaultClass::CpuStress | FaultClass::MemoryStress => ChaosKind::StressChaos,
        FaultClass::HttpAbort => ChaosKind::HttpChaos,
        _ => ChaosKind::PodChaos,
    };
    let default = crate::scenario::DEFAULT_PHASE;
    Scenario {
        name: format!("random-{seed}"),
        namespace: "sock-shop".to_owned(),
        target_namespace: "sock-shop".to_owned(),
        kind,
        description: format!(
            "randomised {} on {} (seed {seed})",
            fault.class, fault.target
        ),
        manifest: format!(
            "# randomised simulator fault, no Chaos Mesh manifest: {} on {} (seed {seed})\n",
            fault.class, fault.target
        ),
        fault,
        baseline: default,
        fault_duration: default,
        recovery: default,
        path: None,
    }
}

/// Records one scenario on the simulator.
///
/// # Errors
/// When the simulator rejects the scenario or the run fails.
pub fn record_on_simulator(
    scenario: &Scenario,
    seed: u64,
    phases: Option<(Duration, Duration, Duration)>,
    settings: &RunSettings,
) -> Result<Recorded, String> {
    let mut source = SimSource::new(sim_config(scenario, seed, phases))?;
    let schedule = source.schedule();
    let end = source.end();
    run_experiment(
        &mut source,
        &mut NoControl,
        Timing::Known { schedule, end },
        Some(&scenario.fault.target),
        settings,
        |_, _| {},
    )
    .map_err(|error| format!("{}: {error}", scenario.name))
}

/// Scores a recording against the scenario's ground truth.
#[must_use]
pub fn score(scenario: &Scenario, recorded: &Recorded) -> ExperimentScore {
    let combined = recorded
        .report
        .detection
        .get("combined")
        .copied()
        .unwrap_or_default();
    let is_culprit = |service: &str| {
        service == scenario.fault.target || scenario.fault.peer.as_deref() == Some(service)
    };
    let position = recorded
        .at_fault_end
        .as_ref()
        .and_then(|a| {
            a.ranking
                .ranking
                .iter()
                .position(|r| is_culprit(&r.service))
        })
        .map_or(0, |p| p + 1);
    ExperimentScore {
        name: scenario.name.clone(),
        fault_class: scenario.fault.class.to_string(),
        root_cause: scenario.fault.target.clone(),
        precision: combined.precision(),
        recall: combined.recall(),
        f1: combined.f1(),
        mttd_secs: recorded.report.mttd_secs,
        mttr_secs: recorded.report.mttr_secs,
        position,
    }
}

/// The scenarios and random faults of `config`, in order.
///
/// # Errors
/// When the built-in scenarios cannot be parsed.
pub fn scenarios(config: &ExperimentEvalConfig) -> Result<Vec<(Scenario, u64)>, String> {
    let mut all: Vec<(Scenario, u64)> = crate::scenario::builtin()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| (s, config.scenario_seed))
        .collect();
    for &seed in &config.random_seeds {
        all.push((
            random_scenario(seed, crate::sim::random::random_fault(seed)),
            seed,
        ));
    }
    Ok(all)
}

/// Records every `(scenario, seed)` on `threads` workers, results in input order.
///
/// # Errors
/// The first failed run.
pub fn record_all(
    runs: &[(Scenario, u64)],
    phases: Option<(Duration, Duration, Duration)>,
    settings: &RunSettings,
    threads: usize,
) -> Result<Vec<Recorded>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, Result<Recorded, String>)>> =
        std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((scenario, seed)) = runs.get(index) else {
                        break;
                    };
                    let result = record_on_simulator(scenario, *seed, phases, settings);
                    if let Ok(mut all) = results.lock() {
                        all.push((index, result));
                    }
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .map_err(|_| "an experiment worker panicked".to_owned())?;
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}
