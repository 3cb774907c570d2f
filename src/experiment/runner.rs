//! Drives one experiment: reads telemetry from a [`TelemetrySource`] step by step, runs the
//! detectors and the Bayesian network ([`crate::analysis::analyze`]) on a sliding window after
//! each step, turns each analysis into an [`Observation`] for the [`Recorder`], and calls a
//! [`ChaosControl`] at the fault start and end (kubectl on a live cluster; nothing on the
//! simulator, whose fault is part of the simulation).
//!
//! The runner itself never reads the clock or touches files: time is whatever the source says
//! (simulated seconds for [`SimSource`], the wall clock for `experiment::live`).
//!
//! Windows: the first half of the baseline phase is learned as normal (the detectors'
//! baseline); from there every `step` the detectors score the whole detector windows since the
//! baseline end (at most `max_window` of them, sliding), and the newest window gives the step's
//! flags. The rest of the baseline is thus analysed too, and its steps are the negatives of the
//! confusion matrix.

use super::recorder::{ExperimentReport, GoldenSnapshot, Observation, Recorder, Schedule};
use super::slo::SloConfig;
use crate::analysis::{Analysis, AnalysisConfig, AnalysisInput, LogScorer, RecordLogs, analyze};
use crate::detect::metrics::golden::{Signal, golden_signals_from_series};
use crate::model::{LogRecord, Series, ServiceGraph, Span, TimeRange, Timestamp};
use crate::rca::LinkStrengths;
use crate::scenario::Scenario;
use crate::sim::run::{SCRAPE_INTERVAL, scrape_series};
use crate::sim::{Emitted, SimConfig, Simulation};
use std::collections::BTreeMap;
use std::time::Duration;

/// Telemetry that arrived since the previous read.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    /// New spans.
    pub spans: Vec<Span>,
    /// New metric samples (one entry per series, any number of samples).
    pub series: Vec<Series>,
    /// New log records.
    pub logs: Vec<LogRecord>,
}

/// Where the runner reads telemetry from. The simulator steps itself; a live source waits for
/// the wall clock and queries its backends (the lead connects Loki/Tempo/Prometheus here).
pub trait TelemetrySource {
    /// The source's current time.
    fn now(&self) -> Timestamp;
    /// Moves the source to `until` and returns the telemetry of `(previous, until]`.
    ///
    /// # Errors
    /// A message when the source failed or was interrupted (Ctrl-C).
    fn advance(&mut self, until: Timestamp) -> Result<Telemetry, SourceError>;
    /// A known service graph (Kiali, the simulator's topology).
    fn graph(&self) -> Option<ServiceGraph> {
        None
    }
}

/// Why a source stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The user interrupted the run.
    #[error("interrupted")]
    Interrupted,
    /// The source failed.
    #[error("telemetry source: {0}")]
    Failed(String),
}

/// Injects and removes the fault (kubectl on a cluster).
pub trait ChaosControl {
    /// Called once when the schedule reaches the fault start.
    ///
    /// # Errors
    /// A message to report verbatim; the run stops.
    fn fault_start(&mut self) -> Result<(), String>;
    /// Called once when the schedule reaches the fault end.
    ///
    /// # Errors
    /// A message to report verbatim; the run stops.
    fn fault_end(&mut self) -> Result<(), String>;
}

/// No control: the fault is part of the simulation, or someone else runs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoControl;

impl ChaosControl for NoControl {
    fn fault_start(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn fault_end(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Pipeline settings.
    pub analysis: AnalysisConfig,
    /// Analysis step (default: one detector window, 60 s).
    pub step: Duration,
    /// Longest analysed range after the learned baseline (default 10 min).
    pub max_window: Duration,
    /// Whether the model-free log family contributes (off by default, as in the console: it
    /// re-mines the templates of the whole window every step, ten times the cost of traces and
    /// metrics together in a debug build).
    pub logs: bool,
    /// Objectives for the SLO impact.
    pub slo: SloConfig,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            analysis: AnalysisConfig::default(),
            step: Duration::from_secs(60),
            max_window: Duration::from_secs(600),
            logs: false,
            slo: SloConfig::default(),
        }
    }
}

/// What is known in advance about the experiment's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// The schedule is known (the runner applies the fault, or the times were given).
    Known {
        /// Baseline start, fault start and end.
        schedule: Schedule,
        /// Recording end (after the recovery phase).
        end: Timestamp,
    },
    /// Only the recording range and baseline length are known; the fault window is detected
    /// from the observations afterwards ([`detect_schedule`]).
    Detect {
        /// Recording start.
        start: Timestamp,
        /// Recording end.
        end: Timestamp,
        /// Normal traffic at the start.
        baseline: Duration,
    },
}

/// One step the detectors could not analyse, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepProblem {
    /// End of the step.
    pub at: Timestamp,
    /// The pipeline's message.
    pub message: String,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The schedule (given or detected).
    pub schedule: Schedule,
    /// Whether the fault window was detected rather than known.
    pub schedule_detected: bool,
    /// End of the recording.
    pub end: Timestamp,
    /// The range the detectors learned normal from.
    pub learned_baseline: TimeRange,
    /// The report (MTTD, MTTR, changes, SLO, confusion).
    pub report: ExperimentReport,
    /// Every observation.
    pub observations: Vec<Observation>,
    /// The analysis of the first step with the expected service ranked first (else the first
    /// step of the fault that saw an incident).
    pub detection: Option<Analysis>,
    /// The last analysis before the fault was removed (the final ranking of the fault).
    pub at_fault_end: Option<Analysis>,
    /// Steps the pipeline could not analyse.
    pub problems: Vec<StepProblem>,
    /// Steps analysed.
    pub analysed_steps: usize,
}

#[derive(Default)]
struct Buffers {
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
    series: BTreeMap<Vec<(String, String)>, Series>,
}

impl Buffers {
    fn extend(&mut self, telemetry: Telemetry) {
        self.spans.extend(telemetry.spans);
        self.logs.extend(telemetry.logs);
        for one in telemetry.series {
            let key: Vec<(String, String)> = one
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            match self.series.get_mut(&key) {
                Some(existing) => existing.samples.extend(one.samples),
                None => {
                    self.series.insert(key, one);
                }
            }
        }
    }

    fn series_in(&self, range: TimeRange) -> Vec<Series> {
        self.series
            .values()
            .filter_map(|one| {
                let samples: Vec<_> = one
                    .samples
                    .iter()
                    .filter(|s| s.timestamp >= range.start && s.timestamp <= range.end)
                    .copied()
                    .collect();
                (!samples.is_empty()).then(|| Series {
                    labels: one.labels.clone(),
                    samples,
                })
            })
            .collect()
    }
}

/// The golden signals of every service at `at` (rates over the last minute).
fn golden_at(buffers: &Buffers, at: Timestamp) -> BTreeMap<String, GoldenSnapshot> {
    let recent = TimeRange {
        start: at.minus(Duration::from_secs(150)),
        end: at,
    };
    let series = buffers.series_in(recent);
    let golden = golden_signals_from_series(&series, SCRAPE_INTERVAL);
    let last = |samples: Option<&Vec<crate::model::Sample>>| {
        samples
            .and_then(|s| s.iter().rev().find(|p| p.timestamp <= at))
            .map_or(f64::NAN, |p| p.value)
    };
    golden
        .into_iter()
        .filter_map(|(service, signals)| {
            let rps = last(signals.signals.get(&Signal::Traffic));
            if !rps.is_finite() {
                return None;
            }
            Some((
                service,
                GoldenSnapshot {
                    rps,
                    error_ratio: last(signals.signals.get(&Signal::ErrorRatio)),
                    p99_ms: last(signals.signals.get(&Signal::LatencyP99)),
                },
            ))
        })
        .collect()
}

/// The analysed range at `now`: whole detector windows from `baseline_end`, at most
/// `max_window` long; `None` before the first whole window.
#[must_use]
pub fn sliding_window(
    baseline_end: Timestamp,
    now: Timestamp,
    max_window: Duration,
    window: Duration,
) -> Option<TimeRange> {
    let step_ns = i64::try_from(window.as_nanos()).ok().filter(|&n| n > 0)?;
    let max_steps = (i64::try_from(max_window.as_nanos()).ok()? / step_ns).max(1);
    let whole = (now.0 - baseline_end.0).div_euclid(step_ns);
    if whole < 1 {
        return None;
    }
    let skipped = (whole - max_steps).max(0);
    TimeRange::new(
        Timestamp(baseline_end.0 + skipped * step_ns),
        Timestamp(baseline_end.0 + whole * step_ns),
    )
}

/// The observation of one analysis: the newest window's flags per family, the top service
/// when the network sees an incident.
fn observation_of(
    analysis: Option<&Analysis>,
    at: Timestamp,
    step: Duration,
    threshold: f64,
    signals: BTreeMap<String, GoldenSnapshot>,
) -> Observation {
    let mut flags = BTreeMap::new();
    let mut top_service = None;
    if let Some(analysis) = analysis {
        let timeline = &analysis.report.timeline;
        if let Some(last) = timeline.window_starts.len().checked_sub(1) {
            for family in ["logs", "traces", "metrics", "combined"] {
                let kind = match family {
                    "logs" => "log",
                    "traces" => "trace",
                    "metrics" => "metric",
                    other => other,
                };
                let mut seen = false;
                let mut flagged = false;
                for (service, kinds) in &timeline.scores {
                    if let Some(score) = kinds.get(kind).and_then(|s| s.get(last)) {
                        seen = true;
                        // Decided as `eval detectors` and the incident start do: by the
                        // deciding score where the family gives one (never above the score).
                        let deciding = match kind {
                            "combined" => analysis.report.verdict.get(service),
                            "metric" => analysis.report.metrics.family.verdict.get(service),
                            _ => None,
                        }
                        .and_then(|v| v.get(last))
                        .unwrap_or(score);
                        flagged |= deciding.is_finite() && *deciding >= threshold;
                    }
                }
                if seen {
                    flags.insert(family.to_owned(), flagged);
                }
            }
        }
        if analysis.ranking.incident {
            top_service = analysis.ranking.ranking.first().map(|r| r.service.clone());
        }
    }
    Observation {
        at,
        step,
        flags,
        top_service,
        signals,
    }
}

/// Finds the fault window from the observations of a recording whose schedule was not given:
/// the fault starts one step before the first step the combined detectors flag after the
/// baseline (the window that fired began then) and ends at the start of the first run of
/// three unflagged steps after that. `None` when nothing was flagged.
#[must_use]
pub fn detect_schedule(
    observations: &[Observation],
    start: Timestamp,
    baseline_end: Timestamp,
    end: Timestamp,
) -> Option<Schedule> {
    let flagged = |o: &Observation| o.flags.get("combined").copied().unwrap_or(false);
    let after: Vec<&Observation> = observations
        .iter()
        .filter(|o| o.at > baseline_end)
        .collect();
    let first = after.iter().position(|o| flagged(o))?;
    let fault_start = after[first].at.minus(after[first].step).max(baseline_end);
    let rest = &after[first..];
    let fault_end = (0..rest.len())
        .find(|&i| rest.len() >= i + 3 && rest[i..i + 3].iter().all(|o| !flagged(o)))
        .map_or(end, |i| rest[i].at.minus(rest[i].step));
    Some(Schedule {
        start,
        fault_start,
        fault_end: fault_end.max(fault_start),
    })
}

/// Runs the experiment: advances `source` to each step, calls `control` at the fault start and
/// end (known schedules only), analyses, and reports progress after each step.
///
/// # Errors
/// The source's error (interrupted, failed) or the control's message. `control` belongs to the
/// caller, so a guard it holds (the applied chaos resource) is dropped by the caller, also on
/// unwinding.
pub fn run_experiment(
    source: &mut dyn TelemetrySource,
    control: &mut dyn ChaosControl,
    timing: Timing,
    expected_root_cause: Option<&str>,
    settings: &RunSettings,
    mut progress: impl FnMut(&Observation, Option<&Analysis>),
) -> Result<Recorded, RunError> {
    let (start, end, baseline_len, known) = match timing {
        Timing::Known { schedule, end } => (
            schedule.start,
            end.max(schedule.fault_end),
            schedule.fault_start.since(schedule.start),
            Some(schedule),
        ),
        Timing::Detect {
            start,
            end,
            baseline,
        } => (start, end, baseline, None),
    };
    let step = settings.step.max(Duration::from_secs(1));
    let detector_window = settings.analysis.detect.window.max(Duration::from_secs(1));
    // Half the baseline, in whole detector windows, so that windows end on the step grid.
    let windows = (baseline_len / 2).as_nanos() / detector_window.as_nanos().max(1);
    let learned = TimeRange {
        start,
        end: start.plus(detector_window * u32::try_from(windows.max(1)).unwrap_or(1)),
    };
    // Moments to stop at: every step, and the fault start and end for the control.
    let mut stops: Vec<(Timestamp, u8)> = Vec::new();
    let mut t = start.plus(step);
    while t <= end {
        stops.push((t, 2));
        t = t.plus(step);
    }
    if stops.last().is_none_or(|(last, _)| *last < end) {
        // The recording covers the whole recovery, even when it is not a whole step.
        stops.push((end, 2));
    }
    if let Some(schedule) = known {
        stops.push((schedule.fault_start, 0));
        stops.push((schedule.fault_end, 1));
    }
    stops.sort();
    let graph = source.graph();
    let mut buffers = Buffers::default();
    let mut observations = Vec::new();
    let mut analyses: Vec<(Timestamp, Analysis)> = Vec::new();
    let mut problems = Vec::new();
    let mut analysed_steps = 0;
    for (at, kind) in stops {
        if at > source.now() {
            buffers.extend(source.advance(at)?);
        }
        match kind {
            0 => control.fault_start().map_err(RunError::Control)?,
            1 => control.fault_end().map_err(RunError::Control)?,
            _ => {
                let analysis =
                    match sliding_window(learned.end, at, settings.max_window, detector_window) {
                        Some(window) => {
                            match analyse(&buffers, graph.as_ref(), learned, window, settings) {
                                Ok(analysis) => {
                                    analysed_steps += 1;
                                    Some(analysis)
                                }
                                Err(message) => {
                                    problems.push(StepProblem { at, message });
                                    None
                                }
                            }
                        }
                        None => None,
                    };
                let observation = observation_of(
                    analysis.as_ref(),
                    at,
                    step,
                    settings.analysis.detect.threshold,
                    golden_at(&buffers, at),
                );
                progress(&observation, analysis.as_ref());
                observations.push(observation);
                if let Some(analysis) = analysis {
                    analyses.push((at, analysis));
                }
            }
        }
    }
    let (schedule, schedule_detected) = match known {
        Some(schedule) => (schedule, false),
        None => match detect_schedule(&observations, start, learned.end, end) {
            Some(schedule) => (schedule, true),
            // Nothing flagged: the whole recording after the baseline is the fault window.
            None => (
                Schedule {
                    start,
                    fault_start: start.plus(baseline_len),
                    fault_end: end,
                },
                true,
            ),
        },
    };
    let mut recorder = Recorder::new(schedule, expected_root_cause.map(str::to_owned));
    for observation in &observations {
        recorder.observe(observation.clone());
    }
    let report = recorder.finish(&settings.slo);
    let in_fault = |at: Timestamp| at > schedule.fault_start && at <= schedule.fault_end;
    let detection = analyses
        .iter()
        .filter(|(at, _)| in_fault(*at))
        .find(|(_, a)| {
            a.ranking.incident
                && expected_root_cause.is_some_and(|expected| {
                    a.ranking
                        .ranking
                        .first()
                        .is_some_and(|r| r.service == expected)
                })
        })
        .or_else(|| {
            analyses
                .iter()
                .filter(|(at, _)| in_fault(*at))
                .find(|(_, a)| a.ranking.incident)
        })
        .map(|(_, a)| a.clone());
    let at_fault_end = analyses
        .iter()
        .rev()
        .find(|(at, _)| *at <= schedule.fault_end && *at > schedule.fault_start)
        .map(|(_, a)| a.clone());
    Ok(Recorded {
        schedule,
        schedule_detected,
        end,
        learned_baseline: learned,
        report,
        observations,
        detection,
        at_fault_end,
        problems,
        analysed_steps,
    })
}

fn analyse(
    buffers: &Buffers,
    graph: Option<&ServiceGraph>,
    baseline: TimeRange,
    window: TimeRange,
    settings: &RunSettings,
) -> Result<Analysis, String> {
    let keep = |t: Timestamp| {
        (t >= baseline.start && t < baseline.end) || (t >= window.start && t < window.end)
    };
    let spans: Vec<Span> = buffers
        .spans
        .iter()
        .filter(|s| keep(s.start))
        .cloned()
        .collect();
    let logs: Vec<LogRecord> = if settings.logs {
        buffers
            .logs
            .iter()
            .filter(|r| keep(r.timestamp))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let series = buffers.series_in(TimeRange {
        start: baseline.start,
        end: window.end,
    });
    let log_family = RecordLogs::new(&logs);
    analyze(
        &AnalysisInput {
            spans: &spans,
            series: &series,
            graph,
            logs: settings.logs.then_some(&log_family as &dyn LogScorer),
            baseline: Some(baseline),
            window: Some(window),
            data: TimeRange::new(baseline.start, window.end),
        },
        &settings.analysis,
        LinkStrengths::new(),
    )
    .map_err(|error| error.to_string())
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The source stopped.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Applying or removing the fault failed.
    #[error("{0}")]
    Control(String),
}

/// Called after each simulated second.
type TickHook = Box<dyn FnMut(Timestamp) -> Result<(), SourceError>>;

/// The simulator as a source: steps one simulated second at a time, scrapes metrics every
/// 15 s. `after_tick` is called with the simulated time after each tick (the command line
/// paces `--speed` with it).
pub struct SimSource {
    simulation: Simulation,
    emitted: Emitted,
    next_scrape: Timestamp,
    after_tick: Option<TickHook>,
}

impl SimSource {
    /// A source simulating `config`.
    ///
    /// # Errors
    /// When the simulator rejects the configuration.
    pub fn new(config: SimConfig) -> Result<Self, String> {
        let simulation = Simulation::new(config)?;
        Ok(Self {
            next_scrape: simulation.now(),
            simulation,
            emitted: Emitted::default(),
            after_tick: None,
        })
    }

    /// Calls `hook` after each simulated second (pacing, interruption).
    pub fn set_after_tick(
        &mut self,
        hook: impl FnMut(Timestamp) -> Result<(), SourceError> + 'static,
    ) {
        self.after_tick = Some(Box::new(hook));
    }

    /// The simulation's schedule.
    #[must_use]
    pub fn schedule(&self) -> Schedule {
        let start = self.simulation.now();
        let (fault_start, fault_end) = self
            .simulation
            .fault_window()
            .unwrap_or((self.simulation.end(), self.simulation.end()));
        Schedule {
            start,
            fault_start,
            fault_end,
        }
    }

    /// End of the simulation.
    #[must_use]
    pub fn end(&self) -> Timestamp {
        self.simulation.end()
    }
}

impl TelemetrySource for SimSource {
    fn now(&self) -> Timestamp {
        self.simulation.now()
    }

    fn advance(&mut self, until: Timestamp) -> Result<Telemetry, SourceError> {
        let mut series = Vec::new();
        while self.simulation.now() < until {
            let now = self.simulation.now();
            if now >= self.next_scrape {
                series.extend(scrape_series(&self.simulation, now));
                self.next_scrape = self.next_scrape.plus(SCRAPE_INTERVAL);
            }
            self.simulation.step(&mut self.emitted);
            if let Some(hook) = self.after_tick.as_mut() {
                hook(self.simulation.now())?;
            }
        }
        if self.simulation.now() >= self.next_scrape && self.simulation.now() >= until {
            // The scrape at `until` belongs to this step (the next tick would take it).
            let now = self.simulation.now();
            series.extend(scrape_series(&self.simulation, now));
            self.next_scrape = self.next_scrape.plus(SCRAPE_INTERVAL);
        }
        // The ground-truth marks are for offline evaluation only; a recording never keeps them.
        self.emitted.fault_acted.clear();
        Ok(Telemetry {
            spans: std::mem::take(&mut self.emitted.spans),
            series,
            logs: std::mem::take(&mut self.emitted.logs),
        })
    }

    fn graph(&self) -> Option<ServiceGraph> {
        Some(crate::sim::topology::service_graph())
    }
}

/// A simulator configuration for `scenario` with `seed`, phases overridden when given.
#[must_use]
pub fn sim_config(
    scenario: &Scenario,
    seed: u64,
    phases: Option<(Duration, Duration, Duration)>,
) -> SimConfig {
    let mut config = crate::sim::run::config_for(scenario, seed);
    if let Some((baseline, fault, recovery)) = phases {
        config.baseline = baseline;
        config.fault_duration = fault;
        config.recovery = recovery;
    }
    config
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn flagged(secs: i64, flag: bool) -> Observation {
        Observation {
            at: at(secs),
            step: Duration::from_secs(60),
            flags: BTreeMap::from([("combined".to_owned(), flag)]),
            ..Observation::default()
        }
    }

    #[test]
    fn the_fault_window_is_detected_from_the_flags() {
        // Baseline until 300; flagged 420..=600; quiet from 660, with a blip at 840.
        let observations: Vec<Observation> = (1..=15)
            .map(|m| flagged(m * 60, (7..=10).contains(&m) || m == 14))
            .collect();
        let schedule = detect_schedule(&observations, at(0), at(300), at(900)).unwrap();
        assert_eq!(
            schedule.fault_start,
            at(360),
            "the window that fired began a step earlier"
        );
        assert_eq!(
            schedule.fault_end,
            at(600),
            "the first of three quiet steps began at 600 (the blip at 840 comes after them)"
        );
        let quiet: Vec<Observation> = (1..=10).map(|m| flagged(m * 60, false)).collect();
        assert_eq!(detect_schedule(&quiet, at(0), at(300), at(600)), None);
        let baseline_only: Vec<Observation> = (1..=10).map(|m| flagged(m * 60, m < 5)).collect();
        assert_eq!(
            detect_schedule(&baseline_only, at(0), at(300), at(600)),
            None,
            "flags during the baseline are not the fault"
        );
    }

    #[test]
    fn sliding_windows_are_whole_and_bounded() {
        let w = Duration::from_secs(60);
        let max = Duration::from_secs(300);
        assert_eq!(sliding_window(at(120), at(170), max, w), None);
        assert_eq!(
            sliding_window(at(120), at(185), max, w),
            TimeRange::new(at(120), at(180))
        );
        assert_eq!(
            sliding_window(at(120), at(1000), max, w),
            TimeRange::new(at(660), at(960))
        );
    }

    /// A source that only moves its clock (and can panic on the way).
    struct Clock {
        now: Timestamp,
        panic_at: Option<Timestamp>,
    }

    impl TelemetrySource for Clock {
        fn now(&self) -> Timestamp {
            self.now
        }
        fn advance(&mut self, until: Timestamp) -> Result<Telemetry, SourceError> {
            assert!(self.panic_at.is_none_or(|p| until < p), "source crashed");
            self.now = until;
            Ok(Telemetry::default())
        }
    }

    #[test]
    fn the_control_is_called_at_the_fault_start_and_end_and_steps_cover_the_recovery() {
        let schedule = Schedule {
            start: at(0),
            fault_start: at(90),
            fault_end: at(200),
        };
        let mut source = Clock {
            now: at(0),
            panic_at: None,
        };
        struct Control<'a>(&'a std::cell::RefCell<Vec<&'static str>>);
        impl ChaosControl for Control<'_> {
            fn fault_start(&mut self) -> Result<(), String> {
                self.0.borrow_mut().push("start");
                Ok(())
            }
            fn fault_end(&mut self) -> Result<(), String> {
                self.0.borrow_mut().push("end");
                Ok(())
            }
        }
        let calls = std::cell::RefCell::new(Vec::new());
        let mut steps = Vec::new();
        let recorded = run_experiment(
            &mut source,
            &mut Control(&calls),
            Timing::Known {
                schedule,
                end: at(290),
            },
            Some("payment"),
            &RunSettings::default(),
            |o, _| steps.push(o.at.as_secs()),
        )
        .unwrap();
        assert_eq!(*calls.borrow(), ["start", "end"]);
        assert_eq!(steps, [60, 120, 180, 240, 290]);
        assert_eq!(recorded.analysed_steps, 0, "no telemetry, no analysis");
        assert_eq!(recorded.report.mttd_secs, None);
    }

    #[cfg(unix)]
    #[test]
    fn a_crash_during_the_fault_still_deletes_the_chaos_resource() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        let script = dir.path().join("kubectl");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$@\" >> {}\ncat > /dev/null\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let kubectl = crate::experiment::kubectl::Kubectl {
            program: script,
            context: None,
        };
        let manifest = "kind: PodChaos\n".to_owned();
        let schedule = Schedule {
            start: at(0),
            fault_start: at(30),
            fault_end: at(200),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut control = crate::experiment::kubectl::KubectlControl::new(&kubectl, &manifest);
            let mut source = Clock {
                now: at(0),
                panic_at: Some(at(100)),
            };
            let _ = run_experiment(
                &mut source,
                &mut control,
                Timing::Known {
                    schedule,
                    end: at(300),
                },
                None,
                &RunSettings::default(),
                |_, _| {},
            );
        }));
        assert!(outcome.is_err(), "the source panicked");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls, "apply -f -\ndelete --ignore-not-found -f -\n");
    }
}
