//! The engine threads: one steps the simulation against the wall clock and buffers its
//! telemetry, one analyses. The console holds a [`LiveHandle`] and drains its channel.

use super::buffers::{Ring, SeriesBuffer};
use super::snapshot::{AnalysisJob, Retriever, build_snapshot};
use super::{LiveError, LiveEvent, Phase, SourceStatus};
use crate::analysis::AnalysisConfig;
use crate::model::{Dataset, LogRecord, Span, TimeRange, Timestamp};
use crate::rca::LinkStrengths;
use crate::scenario::Scenario;
use crate::sim::run::{SCRAPE_INTERVAL, config_for, scrape_series};
use crate::sim::{Emitted, Simulation};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Settings of the live simulation.
#[derive(Debug, Clone)]
pub struct SimSettings {
    /// Scenarios to play, in order (cycled).
    pub scenarios: Vec<Scenario>,
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// Shorten each scenario to these baseline/fault/recovery lengths (`None`: as written).
    pub phases: Option<(Duration, Duration, Duration)>,
    /// Seed of the first scenario (the n-th uses seed + n).
    pub seed: u64,
    /// Run an analysis every this much simulated time.
    pub analysis_every: Duration,
    /// The first part of each scenario learned as normal.
    pub analysis_baseline: Duration,
    /// At most this much data after the baseline is analysed (sliding window).
    pub max_window: Duration,
    /// The detectors' window: the analysed range is whole multiples of it.
    pub window_step: Duration,
    /// Log lines buffered.
    pub max_log_lines: usize,
    /// Spans buffered.
    pub max_spans: usize,
    /// Previous P(outage) values kept per service.
    pub history_len: usize,
}

impl SimSettings {
    /// Defaults: 20× speed, phases 3/4/2 minutes, analysis every 15 s simulated on the last
    /// 12 minutes, 100k log lines.
    #[must_use]
    pub fn new(scenarios: Vec<Scenario>) -> Self {
        Self {
            scenarios,
            speed: 20.0,
            phases: Some((
                Duration::from_secs(180),
                Duration::from_secs(240),
                Duration::from_secs(120),
            )),
            seed: 1,
            analysis_every: Duration::from_secs(15),
            analysis_baseline: Duration::from_secs(150),
            max_window: Duration::from_secs(600),
            window_step: Duration::from_secs(60),
            max_log_lines: 100_000,
            max_spans: 200_000,
            history_len: 60,
        }
    }
}

/// The console's end of the engine: events to drain, and pause/stop controls.
pub struct LiveHandle {
    /// Status and snapshots, newest last.
    pub events: Receiver<LiveEvent>,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl LiveHandle {
    pub(super) fn new(
        events: Receiver<LiveEvent>,
        paused: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
        threads: Vec<JoinHandle<()>>,
    ) -> Self {
        Self {
            events,
            paused,
            stop,
            threads,
        }
    }

    /// Pauses or resumes the source (simulated time stands still while paused).
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// Stops the threads and waits for them.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for LiveHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Analyses `dataset` once in a thread and publishes the snapshot.
///
/// # Errors
/// When the thread cannot start.
pub fn start_offline(
    dataset: Dataset,
    label: String,
    config: AnalysisConfig,
    mut past: Option<Retriever>,
) -> Result<LiveHandle, LiveError> {
    let (sender, events) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name("baynet-offline".to_owned())
        .spawn(move || {
            let now = crate::analysis::data_range(&dataset.spans, &dataset.series)
                .map_or(Timestamp(0), |r| r.end);
            let log_records: Vec<Arc<LogRecord>> = dataset.logs.into_iter().map(Arc::new).collect();
            let mut logs: BTreeMap<String, Vec<Arc<LogRecord>>> = BTreeMap::new();
            for record in log_records.iter().rev() {
                let list = logs.entry(record.service.clone()).or_default();
                if list.len() < super::snapshot::LOG_LINES_PER_SERVICE {
                    list.push(Arc::clone(record));
                }
            }
            for list in logs.values_mut() {
                list.sort_by_key(|r| r.timestamp);
            }
            let source = SourceStatus {
                label,
                phase: Phase::Offline,
                now,
                speed: 0.0,
                paused: false,
                buffered_logs: log_records.len(),
                health: Vec::new(),
                experiment: None,
            };
            let _ = sender.send(LiveEvent::Status(source.clone()));
            let job = AnalysisJob {
                source,
                spans: dataset.spans,
                series: dataset.series,
                logs,
                log_records,
                graph: dataset.graph,
                baseline: None,
                window: None,
                not_yet: None,
            };
            let snapshot = build_snapshot(
                job,
                &config,
                LinkStrengths::new(),
                &mut BTreeMap::new(),
                1,
                past.as_mut(),
            );
            let _ = sender.send(LiveEvent::Snapshot(Box::new(snapshot)));
        })?;
    Ok(LiveHandle {
        events,
        paused: Arc::new(AtomicBool::new(false)),
        stop,
        threads: vec![thread],
    })
}

/// The simulation of the current scenario and where it stands.
struct Current {
    simulation: Simulation,
    name: String,
    started: Timestamp,
    next_scrape: Timestamp,
    experiment: Option<super::ExperimentInfo>,
}

fn begin(settings: &SimSettings, index: usize, start: Timestamp) -> Result<Current, LiveError> {
    let scenario = settings
        .scenarios
        .get(index % settings.scenarios.len().max(1))
        .ok_or_else(|| LiveError::Scenario("the scenario list is empty".to_owned()))?;
    let mut config = config_for(scenario, settings.seed.wrapping_add(index as u64));
    if let Some((baseline, fault, recovery)) = settings.phases {
        config.baseline = baseline;
        config.fault_duration = fault;
        config.recovery = recovery;
    }
    config.start = start;
    let simulation = Simulation::new(config).map_err(LiveError::Simulation)?;
    let experiment =
        simulation
            .fault_window()
            .map(|(fault_start, fault_end)| super::ExperimentInfo {
                scenario: scenario.name.clone(),
                root_cause: scenario.fault.target.clone(),
                fault_class: scenario.fault.class.as_str().to_owned(),
                chaos_kind: scenario.kind.as_str().to_owned(),
                path: scenario.path.as_ref().map(|p| p.display().to_string()),
                fault_start,
                fault_end,
            });
    Ok(Current {
        experiment,
        started: simulation.now(),
        next_scrape: simulation.now(),
        name: scenario.name.clone(),
        simulation,
    })
}

fn phase_of(simulation: &Simulation) -> Phase {
    match simulation.fault_window() {
        Some((start, _)) if simulation.now() < start => Phase::Baseline,
        Some((_, end)) if simulation.now() < end => Phase::Fault,
        Some(_) => Phase::Recovery,
        None => Phase::Baseline,
    }
}

/// Starts the simulation and analysis threads.
///
/// # Errors
/// When the settings are out of range, the first scenario cannot start, or a thread cannot.
pub fn start_simulation(
    settings: SimSettings,
    config: AnalysisConfig,
    past: Option<Retriever>,
) -> Result<LiveHandle, LiveError> {
    if !(settings.speed.is_finite() && settings.speed > 0.0 && settings.speed <= 10_000.0) {
        return Err(LiveError::Setting(
            "--speed must be between 0 and 10000 simulated seconds per second".to_owned(),
        ));
    }
    let first = begin(&settings, 0, crate::sim::SimConfig::default().start)?;
    let (sender, events) = mpsc::channel();
    let (job_sender, job_receiver) = mpsc::sync_channel::<AnalysisJob>(1);
    let in_flight = InFlight::default();
    let paused = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let history_len = settings.history_len;
    let worker = spawn_analysis_worker(
        job_receiver,
        in_flight.clone(),
        sender.clone(),
        Arc::clone(&stop),
        config,
        history_len,
        past,
        IncidentWatch::new(),
    )?;
    let engine_paused = Arc::clone(&paused);
    let engine_stop = Arc::clone(&stop);
    let engine = std::thread::Builder::new()
        .name("baynet-sim".to_owned())
        .spawn(move || {
            if let Err(error) = simulate(
                settings,
                first,
                &sender,
                (&job_sender, &in_flight),
                &engine_paused,
                &engine_stop,
            ) {
                let _ = sender.send(LiveEvent::Failed(error.to_string()));
            }
        })?;
    Ok(LiveHandle {
        events,
        paused,
        stop,
        threads: vec![engine, worker],
    })
}

/// Log lines per service, shared with the buffer they came from.
pub(super) type SharedLogs = BTreeMap<String, Vec<Arc<LogRecord>>>;

/// The log lines of `ring` from `from` on, oldest first: at most
/// [`super::snapshot::LOG_LINES_PER_SERVICE`] per service for the Logs view, and all of them for
/// the log detectors. The lines are shared with the ring, not copied.
pub(super) fn recent_logs(
    ring: &Ring<Arc<LogRecord>>,
    from: Timestamp,
) -> (SharedLogs, Vec<Arc<LogRecord>>) {
    let mut logs = SharedLogs::new();
    let mut log_records: Vec<Arc<LogRecord>> = Vec::new();
    for record in ring.iter().rev() {
        if record.timestamp < from {
            break;
        }
        // `get_mut` first: the service name is copied once per service, not once per line.
        let list = match logs.get_mut(&record.service) {
            Some(list) => list,
            None => logs.entry(record.service.clone()).or_default(),
        };
        if list.len() < super::snapshot::LOG_LINES_PER_SERVICE {
            list.push(Arc::clone(record));
        }
        log_records.push(Arc::clone(record));
    }
    for list in logs.values_mut() {
        list.reverse();
    }
    log_records.reverse();
    (logs, log_records)
}

/// What became of a job handed to the analysis worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handed {
    /// The worker has it.
    Taken,
    /// The worker's queue was full: the job was dropped.
    Full,
    /// The worker is gone.
    Gone,
}

/// The analysis jobs handed to the worker and not finished yet. A job copies the buffered spans
/// and series, so the producers build one only when the worker is idle: jobs never pile up
/// behind a busy worker, and the one analysed next is built from the newest data.
#[derive(Debug, Clone, Default)]
pub(super) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Whether no job is queued or being analysed.
    pub(super) fn idle(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }

    /// Hands `job` to the worker (counted until the worker calls [`Self::done`]).
    pub(super) fn hand(&self, jobs: &SyncSender<AnalysisJob>, job: AnalysisJob) -> Handed {
        self.0.fetch_add(1, Ordering::AcqRel);
        let handed = match jobs.try_send(job) {
            Ok(()) => return Handed::Taken,
            Err(TrySendError::Full(_)) => Handed::Full,
            Err(TrySendError::Disconnected(_)) => Handed::Gone,
        };
        self.0.fetch_sub(1, Ordering::AcqRel);
        handed
    }

    /// The worker finished a job (its data is dropped).
    pub(super) fn done(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// When the open incident began, as the analyses see it: the start of the first analysis of an
/// uninterrupted run of analyses that report an incident (later analyses of the same incident,
/// whose windows begin inside it, do not move it); `None` once an analysis sees none. The live
/// poller holds its baseline there, so a long incident is never learned as normal.
#[derive(Debug, Clone)]
pub struct IncidentWatch(Arc<AtomicI64>);

impl Default for IncidentWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl IncidentWatch {
    const NONE: i64 = i64::MIN;

    /// No incident seen yet.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(Self::NONE)))
    }

    /// The open incident's start.
    #[must_use]
    pub fn since(&self) -> Option<Timestamp> {
        match self.0.load(Ordering::Acquire) {
            Self::NONE => None,
            nanos => Some(Timestamp(nanos)),
        }
    }

    /// Takes one analysis: an incident that started at `start` (kept if one is already open),
    /// or none.
    pub fn observe(&self, incident: bool, start: Option<Timestamp>) {
        match (incident, start) {
            (true, Some(start)) => {
                let _ = self.0.compare_exchange(
                    Self::NONE,
                    start.0,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            (true, None) => {}
            (false, _) => self.0.store(Self::NONE, Ordering::Release),
        }
    }
}

/// Starts the thread that analyses the jobs it receives and publishes their snapshots; it
/// counts each job done in `in_flight` and tells `watch` about incidents.
#[allow(clippy::too_many_arguments)]
pub(super) fn spawn_analysis_worker(
    jobs: Receiver<AnalysisJob>,
    in_flight: InFlight,
    sender: Sender<LiveEvent>,
    stop: Arc<AtomicBool>,
    config: AnalysisConfig,
    history_len: usize,
    past: Option<Retriever>,
    watch: IncidentWatch,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("baynet-analysis".to_owned())
        .spawn(move || {
            analysis_worker(
                &jobs,
                &in_flight,
                &sender,
                &config,
                history_len,
                &stop,
                past,
                &watch,
            );
        })
}

#[allow(clippy::too_many_arguments)]
fn analysis_worker(
    jobs: &Receiver<AnalysisJob>,
    in_flight: &InFlight,
    sender: &Sender<LiveEvent>,
    config: &AnalysisConfig,
    history_len: usize,
    stop: &AtomicBool,
    mut past: Option<Retriever>,
    watch: &IncidentWatch,
) {
    let mut history = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(job) = jobs.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let snapshot = build_snapshot(
            job,
            config,
            LinkStrengths::new(),
            &mut history,
            history_len,
            past.as_mut(),
        );
        in_flight.done();
        if snapshot.problem.is_none() {
            watch.observe(snapshot.incident, snapshot.incident_start);
        }
        if sender
            .send(LiveEvent::Snapshot(Box::new(snapshot)))
            .is_err()
        {
            return;
        }
    }
}

struct Buffers {
    logs: Ring<Arc<LogRecord>>,
    spans: Ring<Span>,
    series: SeriesBuffer,
}

fn simulate(
    settings: SimSettings,
    mut current: Current,
    sender: &Sender<LiveEvent>,
    (jobs, in_flight): (&SyncSender<AnalysisJob>, &InFlight),
    paused: &AtomicBool,
    stop: &AtomicBool,
) -> Result<(), LiveError> {
    let horizon = settings.analysis_baseline + settings.max_window + Duration::from_secs(60);
    let mut buffers = Buffers {
        logs: Ring::new(settings.max_log_lines),
        spans: Ring::new(settings.max_spans),
        series: SeriesBuffer::new(horizon),
    };
    let mut emitted = Emitted::default();
    let mut index = 0usize;
    let mut wall_origin = Instant::now();
    let mut sim_origin = current.simulation.now();
    let mut next_analysis = current.started.plus(settings.analysis_every);
    let mut last_status = Instant::now()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or_else(Instant::now);
    let mut was_paused = false;
    while !stop.load(Ordering::Relaxed) {
        let is_paused = paused.load(Ordering::Relaxed);
        if is_paused != was_paused || last_status.elapsed() >= Duration::from_millis(200) {
            last_status = Instant::now();
            let status = status(&settings, &current, &buffers, is_paused);
            if sender.send(LiveEvent::Status(status)).is_err() {
                return Ok(());
            }
        }
        if is_paused {
            was_paused = true;
            std::thread::sleep(Duration::from_millis(30));
            continue;
        }
        if was_paused {
            was_paused = false;
            wall_origin = Instant::now();
            sim_origin = current.simulation.now();
        }
        let target = sim_origin.plus(wall_origin.elapsed().mul_f64(settings.speed));
        let mut steps = 0;
        while current.simulation.now() < target && steps < 120 {
            let now = current.simulation.now();
            if now >= current.next_scrape {
                buffers
                    .series
                    .append(scrape_series(&current.simulation, now), now);
                current.next_scrape = current.next_scrape.plus(SCRAPE_INTERVAL);
            }
            current.simulation.step(&mut emitted);
            buffers.logs.extend(emitted.logs.drain(..).map(Arc::new));
            buffers.spans.extend(emitted.spans.drain(..));
            if steps % 30 == 0 {
                // Only the current scenario is analysed: forget what came before it (a minute
                // of grace keeps the views from emptying at the switch). Memory stays at a
                // scenario's worth of telemetry however long the console runs.
                let keep_from = current.started.minus(Duration::from_secs(60));
                buffers.logs.drop_front_while(|r| r.timestamp < keep_from);
                buffers.spans.drop_front_while(|s| s.start < keep_from);
            }
            steps += 1;
            if current.simulation.now() >= current.simulation.end() {
                index += 1;
                current = begin(&settings, index, current.simulation.now())?;
                next_analysis = current.started.plus(settings.analysis_every);
            }
            // A due analysis waits until the worker is idle, then runs on the data of that
            // moment (a busy worker makes the engine skip ahead, never queue stale copies).
            if current.simulation.now() >= next_analysis && in_flight.idle() {
                next_analysis = current.simulation.now().plus(settings.analysis_every);
                let job = job_of(&settings, &current, &buffers);
                if in_flight.hand(jobs, job) == Handed::Gone {
                    return Ok(());
                }
            }
        }
        if steps < 120 {
            std::thread::sleep(Duration::from_millis(20));
        } else if current.simulation.now() < target {
            // Falling behind: the source cannot keep up with --speed; re-anchor instead of
            // accumulating an ever-growing debt.
            wall_origin = Instant::now();
            sim_origin = current.simulation.now();
        }
    }
    Ok(())
}

fn status(
    settings: &SimSettings,
    current: &Current,
    buffers: &Buffers,
    paused: bool,
) -> SourceStatus {
    SourceStatus {
        label: format!("sim: {}", current.name),
        phase: phase_of(&current.simulation),
        now: current.simulation.now(),
        speed: settings.speed,
        paused,
        buffered_logs: buffers.logs.len(),
        health: Vec::new(),
        experiment: current.experiment.clone(),
    }
}

/// The analysed range: whole detector windows only (a partial last window reads as a traffic
/// drop), at most `max_window` long, starting on the grid that begins at `baseline_end`; `None`
/// until two whole windows exist.
pub fn aligned_window(
    baseline_end: Timestamp,
    now: Timestamp,
    max_window: Duration,
    step: Duration,
) -> Option<TimeRange> {
    let step_ns = i64::try_from(step.as_nanos()).ok().filter(|&n| n > 0)?;
    let max_steps = i64::try_from(max_window.as_nanos()).ok()? / step_ns;
    let whole = (now.0 - baseline_end.0).div_euclid(step_ns);
    if whole < 2 {
        return None;
    }
    let skipped = (whole - max_steps.max(2)).max(0);
    let start = Timestamp(baseline_end.0 + skipped * step_ns);
    let end = Timestamp(baseline_end.0 + whole * step_ns);
    TimeRange::new(start, end)
}

fn job_of(settings: &SimSettings, current: &Current, buffers: &Buffers) -> AnalysisJob {
    let now = current.simulation.now();
    let baseline_end = current.started.plus(settings.analysis_baseline);
    let baseline = TimeRange::new(current.started, baseline_end.min(now));
    let window = aligned_window(baseline_end, now, settings.max_window, settings.window_step);
    let from = current.started;
    let spans: Vec<Span> = buffers
        .spans
        .iter()
        .filter(|s| s.start >= from)
        .cloned()
        .collect();
    let (logs, log_records) = recent_logs(&buffers.logs, from);
    AnalysisJob {
        source: status(settings, current, buffers, false),
        spans,
        series: buffers.series.since(from),
        logs,
        log_records,
        graph: Some(crate::sim::topology::service_graph()),
        baseline: baseline.filter(|_| window.is_some()),
        not_yet: window.is_none().then(|| {
            format!(
                "learning normal behaviour: the first {} of each scenario are the baseline",
                crate::model::time::format_duration(settings.analysis_baseline)
            )
        }),
        window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rca::Band;

    fn payment() -> Scenario {
        crate::scenario::resolve("06").expect("scenario 06")
    }

    fn wait_for(
        handle: &LiveHandle,
        limit: Duration,
        mut done: impl FnMut(&Snapshot) -> bool,
    ) -> Option<Snapshot> {
        let started = Instant::now();
        while started.elapsed() < limit {
            match handle.events.recv_timeout(Duration::from_millis(200)) {
                Ok(LiveEvent::Snapshot(snapshot)) if done(&snapshot) => return Some(*snapshot),
                Ok(LiveEvent::Failed(message)) => panic!("source failed: {message}"),
                _ => {}
            }
        }
        None
    }

    use super::super::Snapshot;

    #[test]
    fn the_live_simulation_turns_the_failed_service_red() {
        let mut settings = SimSettings::new(vec![payment()]);
        // Slow enough that a debug-build analysis (with the log family) keeps up on 2 cores.
        settings.speed = 100.0;
        let handle = start_simulation(settings, AnalysisConfig::default(), None).expect("starts");
        let red = wait_for(&handle, Duration::from_secs(60), |s| {
            s.services.first().is_some_and(|top| top.band == Band::Red)
        })
        .expect("a red service within 60 s");
        let top = &red.services[0];
        assert_eq!(top.name, "payment", "{:?}", red.verdict);
        assert!(red.source.label.contains("payment-pod-failure-one"));
        let window = red.window.expect("window");
        let baseline = red.baseline.expect("baseline");
        assert!(baseline.end <= window.start, "{baseline:?} {window:?}");
        assert!(window.duration() <= Duration::from_secs(600));
        assert!(red.services.iter().any(|s| !s.logs.is_empty()));
        assert!(red.services.iter().any(|s| !s.golden.is_empty()));
        assert!(!top.sparkline.is_empty());
        handle.set_paused(true);
        std::thread::sleep(Duration::from_millis(300));
        let paused_at = loop {
            match handle.events.recv_timeout(Duration::from_secs(10)) {
                Ok(LiveEvent::Status(status)) if status.paused => break status.now,
                Ok(_) => {}
                Err(error) => panic!("no status: {error}"),
            }
        };
        std::thread::sleep(Duration::from_millis(300));
        let still = loop {
            if let Ok(LiveEvent::Status(status)) =
                handle.events.recv_timeout(Duration::from_secs(2))
            {
                break status.now;
            }
        };
        assert_eq!(paused_at, still, "simulated time stands still while paused");
        handle.stop();
    }

    #[test]
    fn the_window_is_whole_detector_windows_after_the_baseline() {
        let step = Duration::from_secs(60);
        let max = Duration::from_secs(600);
        let base = Timestamp::from_secs(1000);
        assert_eq!(
            aligned_window(base, Timestamp::from_secs(1119), max, step),
            None
        );
        let w = aligned_window(base, Timestamp::from_secs(1150), max, step).expect("window");
        assert_eq!((w.start, w.end), (base, Timestamp::from_secs(1120)));
        let w = aligned_window(base, Timestamp::from_secs(1000 + 1234), max, step).expect("window");
        assert_eq!(w.end, Timestamp::from_secs(1000 + 1200));
        assert_eq!(w.duration(), max);
        assert_eq!((w.start.0 - base.0) % 60_000_000_000, 0);
    }

    fn record(service: &str, secs: i64) -> Arc<LogRecord> {
        Arc::new(LogRecord {
            timestamp: Timestamp::from_secs(secs),
            service: service.to_owned(),
            labels: Arc::new([("pod".to_owned(), format!("{service}-0"))].into()),
            line: format!("{service} line at {secs}"),
        })
    }

    #[test]
    fn recent_logs_share_the_ring_lines_and_cap_the_view() {
        let per_service = super::super::snapshot::LOG_LINES_PER_SERVICE;
        let mut ring = Ring::new(10_000);
        let mut secs = 0;
        for _ in 0..per_service + 50 {
            ring.push(record("carts", secs));
            secs += 1;
            if secs % 100 == 0 {
                ring.push(record("orders", secs));
            }
        }
        let from = Timestamp::from_secs(20);
        let (logs, records) = recent_logs(&ring, from);
        let held: Vec<&Arc<LogRecord>> = ring.iter().filter(|r| r.timestamp >= from).collect();
        assert_eq!(records.len(), held.len());
        // The very lines of the ring, in its order: shared, not copied.
        assert!(records.iter().zip(&held).all(|(a, b)| Arc::ptr_eq(a, b)));
        assert_eq!(
            Arc::strong_count(held[0]),
            2,
            "ring, all lines (too old for the view)"
        );
        let carts = &logs["carts"];
        assert_eq!(carts.len(), per_service);
        assert!(carts.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        let newest_carts = ring
            .iter()
            .rev()
            .find(|r| r.service == "carts")
            .expect("carts");
        assert!(Arc::ptr_eq(carts.last().expect("a line"), newest_carts));
        assert_eq!(
            Arc::strong_count(newest_carts),
            3,
            "ring, all lines, carts view"
        );
        assert_eq!(logs["orders"].len(), 3);
    }

    fn empty_job(label: &str) -> AnalysisJob {
        AnalysisJob {
            source: SourceStatus {
                label: label.to_owned(),
                phase: Phase::Live,
                now: Timestamp(0),
                speed: 1.0,
                paused: false,
                buffered_logs: 0,
                health: Vec::new(),
                experiment: None,
            },
            spans: Vec::new(),
            series: Vec::new(),
            logs: BTreeMap::new(),
            log_records: Vec::new(),
            graph: None,
            baseline: None,
            window: None,
            not_yet: Some("test".to_owned()),
        }
    }

    #[test]
    fn jobs_are_counted_until_the_worker_is_done() {
        let (jobs, queue) = mpsc::sync_channel::<AnalysisJob>(1);
        let in_flight = InFlight::default();
        assert!(in_flight.idle());
        assert_eq!(in_flight.hand(&jobs, empty_job("a")), Handed::Taken);
        assert!(!in_flight.idle(), "queued");
        assert_eq!(in_flight.hand(&jobs, empty_job("b")), Handed::Full);
        let taken = queue.try_recv().expect("the first job");
        assert_eq!(taken.source.label, "a");
        assert!(!in_flight.idle(), "being analysed");
        in_flight.done();
        assert!(in_flight.idle());
        drop(queue);
        assert_eq!(in_flight.hand(&jobs, empty_job("c")), Handed::Gone);
        assert!(in_flight.idle(), "a job that was not taken is not counted");
    }

    /// The worker builds the next job only when idle, so at most one job (one copy of the
    /// spans and series) exists at a time, and every job the engine builds gets analysed.
    #[test]
    fn the_engine_never_queues_a_job_behind_a_busy_worker() {
        let (jobs, queue) = mpsc::sync_channel::<AnalysisJob>(1);
        let (sender, events) = mpsc::channel();
        let in_flight = InFlight::default();
        let stop = Arc::new(AtomicBool::new(false));
        let worker = spawn_analysis_worker(
            queue,
            in_flight.clone(),
            sender,
            Arc::clone(&stop),
            AnalysisConfig::default(),
            5,
            None,
            IncidentWatch::new(),
        )
        .expect("worker");
        let mut handed = 0;
        for i in 0..200 {
            if in_flight.idle() {
                let job = empty_job(&i.to_string());
                assert_eq!(in_flight.hand(&jobs, job), Handed::Taken, "never full");
                handed += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut analysed = 0;
        while analysed < handed {
            match events.recv_timeout(Duration::from_secs(10)) {
                Ok(LiveEvent::Snapshot(snapshot)) => {
                    assert_eq!(snapshot.problem.as_deref(), Some("test"));
                    analysed += 1;
                }
                Ok(_) => {}
                Err(error) => panic!("{analysed} of {handed} analysed: {error}"),
            }
        }
        assert!(handed > 1);
        stop.store(true, Ordering::Relaxed);
        worker.join().expect("worker ends");
        assert!(in_flight.idle());
    }

    #[test]
    fn offline_data_is_analysed_once() {
        let scenario = payment();
        let mut config = crate::sim::run::config_for(&scenario, 3);
        config.baseline = Duration::from_secs(300);
        config.fault_duration = Duration::from_secs(300);
        config.recovery = Duration::from_secs(60);
        let dataset = crate::sim::run::run(config).expect("simulation");
        let handle = start_offline(
            dataset,
            "input: test".to_owned(),
            AnalysisConfig::default(),
            None,
        )
        .expect("starts");
        let snapshot = wait_for(&handle, Duration::from_secs(90), |_| true).expect("a snapshot");
        assert!(snapshot.is_offline());
        assert_eq!(snapshot.problem, None);
        let top = &snapshot.services[0];
        assert_eq!(top.name, "payment");
        assert!(
            top.traces.iter().any(|t| t.error),
            "error traces of payment"
        );
        assert!(
            top.traces
                .iter()
                .all(|t| !t.spans.is_empty() && t.spans[0].depth == 0)
        );
        assert!(
            snapshot
                .services
                .iter()
                .any(|s| s.logs.iter().any(|l| l.flagged))
        );
        handle.stop();
    }
}
