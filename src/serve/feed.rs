//! Where `baynet serve`'s analyses come from. A [`TelemetrySource`] hands over telemetry (the
//! built-in simulation, an offline input directory, or — later — the live Loki/Tempo/Prometheus
//! clients); [`SourceFeed`] runs the detectors and the Bayesian network on it whenever new
//! detector windows have closed, and re-ranks on every update with the external anomaly events
//! merged in, so an event raises the evidence even between two analyses.
//!
//! Pure: the wall-clock time arrives as an argument (the updater passes it), the simulation is
//! stepped to match it, and nothing here touches files or sockets.

use super::server::AnalysisFeed;
use super::snapshot::Snapshot;
use crate::analysis::{AnalysisConfig, AnalysisInput, RecordLogs, analyze_with};
use crate::live::SimSettings;
use crate::live::buffers::{Ring, SeriesBuffer};
use crate::model::{Dataset, LogRecord, Series, ServiceGraph, Span, TimeRange, Timestamp};
use crate::rca::{EvidenceItem, LinkStrengths, ServiceEvidence, rank};
use crate::sim::run::{SCRAPE_INTERVAL, config_for, scrape_series};
use crate::sim::{Emitted, Simulation};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

/// External evidence per service: the strongest score and the items behind it (what
/// [`super::events::EventStore::evidence`] returns).
pub type ExternalEvidence = BTreeMap<String, (f64, Vec<EvidenceItem>)>;

/// Telemetry to analyse.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    /// Spans (baseline and window).
    pub spans: Vec<Span>,
    /// Metric series (baseline and window).
    pub series: Vec<Series>,
    /// Log records, any order; empty means no log family.
    pub logs: Vec<LogRecord>,
    /// A known service graph (topology, Kiali).
    pub graph: Option<ServiceGraph>,
    /// The range learned as normal; `None` lets the pipeline find it.
    pub baseline: Option<TimeRange>,
    /// The range analysed; `None`: from the baseline to the data end.
    pub window: Option<TimeRange>,
}

/// What a source has at a given moment.
#[derive(Debug, Clone)]
pub enum Collected {
    /// Nothing new since the last call: the previous analysis still stands.
    Unchanged,
    /// Not enough data yet (learning the baseline): rank on external evidence alone over
    /// `graph`.
    Learning {
        /// Why (shown in the logs).
        reason: String,
        /// The services and call edges known so far.
        graph: ServiceGraph,
    },
    /// New data to analyse.
    Fresh(Box<Telemetry>),
}

/// A source of telemetry for `baynet serve`. The live Loki/Tempo/Prometheus source implements
/// this by querying the last baseline and window whenever a detector window has closed.
pub trait TelemetrySource: Send + 'static {
    /// The name used in `baynet_source_errors_total{source=…}` and the logs.
    fn name(&self) -> &str;

    /// Advances to wall-clock `now` and says what there is to analyse.
    ///
    /// # Errors
    /// A message when the source cannot be read (counted, the previous analysis stays).
    fn collect(&mut self, now: Timestamp) -> Result<Collected, String>;
}

/// Merges external evidence into the detectors' evidence: an external score counts as a
/// "degraded" observation, the strongest of all sources wins, the items are kept.
pub fn merge_external(
    evidence: &mut BTreeMap<String, ServiceEvidence>,
    external: &ExternalEvidence,
) {
    for (service, (score, items)) in external {
        let facts = evidence.entry(service.clone()).or_default();
        let score = if score.is_finite() {
            score.clamp(0.0, 1.0)
        } else {
            0.0
        };
        facts.degraded = Some(facts.degraded.unwrap_or(0.0).max(score));
        facts.items.extend(items.iter().cloned());
        facts.items.sort_by(|a, b| b.score.total_cmp(&a.score));
        facts.items.truncate(8);
    }
}

/// The last analysis, kept so that every update can re-rank it with fresh external events.
#[derive(Debug, Clone)]
struct Base {
    graph: ServiceGraph,
    evidence: BTreeMap<String, ServiceEvidence>,
    links: LinkStrengths,
    health: BTreeMap<String, f64>,
    anomaly: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Base {
    fn learning(graph: ServiceGraph) -> Self {
        Self {
            graph,
            evidence: BTreeMap::new(),
            links: LinkStrengths::new(),
            health: BTreeMap::new(),
            anomaly: BTreeMap::new(),
        }
    }
}

/// Detectors and network on `telemetry`, without external evidence (merged at each re-rank).
fn run_analysis(telemetry: &Telemetry, config: &AnalysisConfig) -> Result<Base, String> {
    let logs = RecordLogs::new(&telemetry.logs);
    let input = AnalysisInput {
        spans: &telemetry.spans,
        series: &telemetry.series,
        graph: telemetry.graph.as_ref(),
        logs: (!telemetry.logs.is_empty()).then_some(&logs as &dyn crate::analysis::LogScorer),
        baseline: telemetry.baseline,
        window: telemetry.window,
        data: None,
    };
    // The external events are merged on every re-rank instead (they change between analyses).
    let analysis =
        analyze_with(&input, config, LinkStrengths::new(), |_| {}).map_err(|e| e.to_string())?;
    Ok(Base {
        graph: analysis.graph,
        evidence: analysis.evidence,
        links: analysis.links,
        health: analysis.health,
        anomaly: analysis.anomaly,
    })
}

type Job = (u64, Box<Telemetry>);
type Outcome = (u64, Result<Base, String>);

/// The analysis thread: one job at a time, so that updates (re-ranks with external events) go
/// on while the detectors run.
struct Worker {
    jobs: mpsc::SyncSender<Job>,
    results: mpsc::Receiver<Outcome>,
}

fn spawn_worker(config: AnalysisConfig) -> Option<Worker> {
    let (jobs, job_receiver) = mpsc::sync_channel::<Job>(1);
    let (result_sender, results) = mpsc::channel::<Outcome>();
    std::thread::Builder::new()
        .name("baynet-serve-analysis".to_owned())
        .spawn(move || {
            // Ends when the feed (the job sender) is dropped.
            while let Ok((generation, telemetry)) = job_receiver.recv() {
                let outcome = run_analysis(&telemetry, &config);
                if result_sender.send((generation, outcome)).is_err() {
                    return;
                }
            }
        })
        .ok()?;
    Some(Worker { jobs, results })
}

/// Runs the pipeline on a [`TelemetrySource`]; the [`AnalysisFeed`] of `baynet serve`.
///
/// Each update collects from the source, hands fresh telemetry to an analysis thread (the
/// newest waits while one runs; older waiting data is dropped), takes a finished analysis when
/// there is one, and re-ranks the latest analysis with the external events — so an update
/// never waits for the detectors, and `updated_at` is when the published analysis was last
/// known to be current.
pub struct SourceFeed<S> {
    source: S,
    namespace: String,
    config: AnalysisConfig,
    base: Option<Base>,
    last_success: Timestamp,
    source_errors: BTreeMap<String, u64>,
    analyses: u64,
    worker: Option<Worker>,
    /// An analysis is running.
    pending: bool,
    /// The newest telemetry waiting for the worker.
    next: Option<Box<Telemetry>>,
    /// Bumped when the source starts over (a new scenario): older results are stale.
    generation: u64,
}

impl<S: TelemetrySource> SourceFeed<S> {
    /// A feed over `source`, naming the system `namespace` in the node subtitles.
    #[must_use]
    pub fn new(source: S, namespace: &str, config: AnalysisConfig) -> Self {
        // Every source shows in `baynet_source_errors_total` from the start, at 0.
        let source_errors =
            BTreeMap::from([(source.name().to_owned(), 0), ("analysis".to_owned(), 0)]);
        Self {
            worker: spawn_worker(config.clone()),
            source,
            namespace: namespace.to_owned(),
            config,
            base: None,
            last_success: Timestamp(0),
            source_errors,
            analyses: 0,
            pending: false,
            next: None,
            generation: 0,
        }
    }

    /// How many full analyses (detectors and network) have finished.
    #[must_use]
    pub fn analyses(&self) -> u64 {
        self.analyses
    }

    /// Whether an analysis is running or waiting.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.pending || self.next.is_some()
    }

    /// The source.
    #[must_use]
    pub fn source(&self) -> &S {
        &self.source
    }

    fn count_error(&mut self, source: &str) {
        *self.source_errors.entry(source.to_owned()).or_default() += 1;
    }

    fn finished(&mut self, now: Timestamp, generation: u64, outcome: Result<Base, String>) {
        if generation != self.generation {
            return;
        }
        match outcome {
            Ok(base) => {
                self.analyses += 1;
                self.base = Some(base);
                self.last_success = now;
            }
            Err(message) => {
                tracing::warn!(%message, "analysis failed; the previous one stays");
                self.count_error("analysis");
            }
        }
    }

    /// Takes finished results and starts the waiting job when the worker is free.
    fn pump(&mut self, now: Timestamp) {
        let mut done = Vec::new();
        let mut dead = false;
        if let Some(worker) = &self.worker {
            loop {
                match worker.results.try_recv() {
                    Ok(outcome) => done.push(outcome),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        dead = true;
                        break;
                    }
                }
            }
        }
        for (generation, outcome) in done {
            self.pending = false;
            self.finished(now, generation, outcome);
        }
        if dead {
            // The analysis panicked and took the thread with it; analyse inline from now on.
            tracing::warn!("the analysis thread stopped; analysing in the updater");
            self.worker = None;
            if std::mem::take(&mut self.pending) {
                self.count_error("analysis");
            }
        }
        if self.pending {
            return;
        }
        let Some(telemetry) = self.next.take() else {
            return;
        };
        let rejected = match &self.worker {
            Some(worker) => match worker.jobs.try_send((self.generation, telemetry)) {
                Ok(()) => None,
                Err(
                    mpsc::TrySendError::Disconnected((_, telemetry))
                    | mpsc::TrySendError::Full((_, telemetry)),
                ) => Some(telemetry),
            },
            None => Some(telemetry),
        };
        let Some(telemetry) = rejected else {
            self.pending = true;
            return;
        };
        self.worker = None;
        // No thread (it could not start, or it died): analyse here.
        let outcome = run_analysis(&telemetry, &self.config);
        self.finished(now, self.generation, outcome);
    }
}

impl<S: TelemetrySource> AnalysisFeed for SourceFeed<S> {
    fn analyze(&mut self, now: Timestamp, external: &ExternalEvidence) -> Result<Snapshot, String> {
        self.pump(now);
        match self.source.collect(now) {
            Ok(Collected::Unchanged) => {
                if !self.busy() {
                    self.last_success = now;
                }
            }
            Ok(Collected::Learning { reason, graph }) => {
                tracing::debug!(%reason, "no analysis yet");
                if self.busy() || self.base.as_ref().is_some_and(|b| !b.anomaly.is_empty()) {
                    // The source started over: whatever is running is about the old data.
                    self.generation += 1;
                    self.next = None;
                }
                self.last_success = now;
                self.base = Some(Base::learning(graph));
            }
            Ok(Collected::Fresh(telemetry)) => self.next = Some(telemetry),
            Err(message) => {
                tracing::warn!(source = self.source.name(), %message, "telemetry source failed");
                let name = self.source.name().to_owned();
                self.count_error(&name);
            }
        }
        self.pump(now);
        let Some(base) = &self.base else {
            let mut snapshot = Snapshot::empty(&self.namespace, self.last_success);
            snapshot.source_errors.clone_from(&self.source_errors);
            return Ok(snapshot);
        };
        let mut evidence = base.evidence.clone();
        merge_external(&mut evidence, external);
        let ranking = rank(&base.graph, &evidence, &base.links, &self.config.rca)
            .map_err(|e| format!("root-cause model: {e}"))?;
        let mut anomaly = base.anomaly.clone();
        for (service, (score, _)) in external {
            anomaly
                .entry(service.clone())
                .or_default()
                .insert("external".to_owned(), *score);
        }
        Ok(Snapshot {
            namespace: self.namespace.clone(),
            graph: base.graph.clone(),
            ranking,
            health: base.health.clone(),
            anomaly,
            updated_at: self.last_success,
            source_errors: self.source_errors.clone(),
        })
    }
}

/// An offline input directory's data: analysed once, then re-ranked with external events.
pub struct OfflineSource {
    name: String,
    dataset: Option<Dataset>,
}

impl OfflineSource {
    /// A source over `dataset`, named `name` (the directory) in the metrics.
    #[must_use]
    pub fn new(name: &str, dataset: Dataset) -> Self {
        Self {
            name: name.to_owned(),
            dataset: Some(dataset),
        }
    }
}

impl TelemetrySource for OfflineSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn collect(&mut self, _now: Timestamp) -> Result<Collected, String> {
        Ok(match self.dataset.take() {
            Some(dataset) => Collected::Fresh(Box::new(Telemetry {
                spans: dataset.spans,
                series: dataset.series,
                logs: dataset.logs,
                graph: dataset.graph,
                baseline: None,
                window: None,
            })),
            None => Collected::Unchanged,
        })
    }
}

/// The scenario being played.
struct Current {
    simulation: Simulation,
    started: Timestamp,
    next_scrape: Timestamp,
    name: String,
}

/// The built-in sock-shop simulation, stepped so that simulated time runs `speed` times as fast
/// as the wall clock, cycling the scenarios; each scenario's first part is its baseline.
pub struct SimSource {
    settings: SimSettings,
    current: Current,
    index: usize,
    logs: Ring<LogRecord>,
    spans: Ring<Span>,
    series: SeriesBuffer,
    emitted: Emitted,
    /// Wall and simulated time at the last anchoring.
    anchor: Option<(Timestamp, Timestamp)>,
    /// The window last handed out, with the scenario index.
    last_window: Option<(usize, TimeRange)>,
    max_steps: usize,
}

/// Simulated seconds stepped per `collect` at most; beyond, the source re-anchors (it cannot
/// keep up with `--speed`) rather than accumulating debt.
pub const MAX_STEPS_PER_COLLECT: usize = 300;

fn start_scenario(
    settings: &SimSettings,
    index: usize,
    start: Timestamp,
) -> Result<Current, String> {
    let count = settings.scenarios.len();
    let scenario = settings
        .scenarios
        .get(index % count.max(1))
        .ok_or_else(|| "the scenario list is empty".to_owned())?;
    let mut config = config_for(scenario, settings.seed.wrapping_add(index as u64));
    if let Some((baseline, fault, recovery)) = settings.phases {
        config.baseline = baseline;
        config.fault_duration = fault;
        config.recovery = recovery;
    }
    config.start = start;
    let simulation = Simulation::new(config)?;
    Ok(Current {
        started: simulation.now(),
        next_scrape: simulation.now(),
        name: scenario.name.clone(),
        simulation,
    })
}

impl SimSource {
    /// Starts the first scenario at simulated time `start` (the command passes the wall clock,
    /// so at `--speed 1` the timestamps are real).
    ///
    /// # Errors
    /// When the speed is out of range, the scenario list is empty or the simulator rejects
    /// the first scenario.
    pub fn new(settings: SimSettings, start: Timestamp) -> Result<Self, String> {
        if !(settings.speed.is_finite() && settings.speed > 0.0 && settings.speed <= 10_000.0) {
            return Err(
                "--speed must be between 0 and 10000 simulated seconds per second".to_owned(),
            );
        }
        let current = start_scenario(&settings, 0, start)?;
        let horizon = settings.analysis_baseline + settings.max_window + Duration::from_secs(60);
        Ok(Self {
            logs: Ring::new(settings.max_log_lines),
            spans: Ring::new(settings.max_spans),
            series: SeriesBuffer::new(horizon),
            settings,
            current,
            index: 0,
            emitted: Emitted::default(),
            anchor: None,
            last_window: None,
            max_steps: MAX_STEPS_PER_COLLECT,
        })
    }

    /// The scenario being played.
    #[must_use]
    pub fn scenario(&self) -> &str {
        &self.current.name
    }

    /// The simulated time.
    #[must_use]
    pub fn sim_now(&self) -> Timestamp {
        self.current.simulation.now()
    }

    fn step_to(&mut self, target: Timestamp) -> Result<usize, String> {
        let mut steps = 0;
        while self.current.simulation.now() < target && steps < self.max_steps {
            let now = self.current.simulation.now();
            if now >= self.current.next_scrape {
                self.series
                    .append(scrape_series(&self.current.simulation, now), now);
                self.current.next_scrape = self.current.next_scrape.plus(SCRAPE_INTERVAL);
            }
            self.current.simulation.step(&mut self.emitted);
            self.logs.extend(self.emitted.logs.drain(..));
            self.spans.extend(self.emitted.spans.drain(..));
            self.emitted.fault_acted.clear();
            steps += 1;
            if self.current.simulation.now() >= self.current.simulation.end() {
                self.index += 1;
                self.current =
                    start_scenario(&self.settings, self.index, self.current.simulation.now())?;
                tracing::info!(scenario = %self.current.name, "next scenario");
            }
        }
        Ok(steps)
    }

    fn telemetry(&self, baseline: TimeRange, window: TimeRange) -> Telemetry {
        let from = self.current.started;
        Telemetry {
            spans: self
                .spans
                .iter()
                .filter(|s| s.start >= from)
                .cloned()
                .collect(),
            series: self.series.since(from),
            logs: self
                .logs
                .iter()
                .filter(|r| r.timestamp >= from)
                .cloned()
                .collect(),
            graph: Some(crate::sim::topology::service_graph()),
            baseline: Some(baseline),
            window: Some(window),
        }
    }
}

impl TelemetrySource for SimSource {
    fn name(&self) -> &str {
        "simulation"
    }

    fn collect(&mut self, now: Timestamp) -> Result<Collected, String> {
        let (wall, sim) = *self
            .anchor
            .get_or_insert((now, self.current.simulation.now()));
        let target = sim.plus(now.since(wall).mul_f64(self.settings.speed));
        let steps = self.step_to(target)?;
        if steps >= self.max_steps {
            self.anchor = Some((now, self.current.simulation.now()));
        }
        let sim_now = self.current.simulation.now();
        let baseline_end = self.current.started.plus(self.settings.analysis_baseline);
        let window = crate::live::engine::aligned_window(
            baseline_end,
            sim_now,
            self.settings.max_window,
            self.settings.window_step,
        );
        let Some(window) = window else {
            return Ok(Collected::Learning {
                reason: format!(
                    "{}: learning normal behaviour for the first {}",
                    self.current.name,
                    crate::model::time::format_duration(self.settings.analysis_baseline)
                ),
                graph: crate::sim::topology::service_graph(),
            });
        };
        if self.last_window == Some((self.index, window)) {
            return Ok(Collected::Unchanged);
        }
        self.last_window = Some((self.index, window));
        let baseline = TimeRange {
            start: self.current.started,
            end: baseline_end,
        };
        Ok(Collected::Fresh(Box::new(self.telemetry(baseline, window))))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rca::Band;

    fn settings(scenario: &str) -> SimSettings {
        let mut settings = SimSettings::new(vec![crate::scenario::resolve(scenario).unwrap()]);
        settings.speed = 60.0;
        settings
    }

    fn external(service: &str, score: f64) -> ExternalEvidence {
        BTreeMap::from([(
            service.to_owned(),
            (
                score,
                vec![EvidenceItem {
                    kind: "external:error_rate".into(),
                    description: "declines 40%".into(),
                    score,
                }],
            ),
        )])
    }

    /// Updates at `at` until the running analysis has finished (bounded).
    fn settle<S: TelemetrySource>(
        feed: &mut SourceFeed<S>,
        at: Timestamp,
        external: &ExternalEvidence,
    ) -> Snapshot {
        let started = std::time::Instant::now();
        loop {
            let snapshot = feed.analyze(at, external).unwrap();
            if !feed.busy() {
                return snapshot;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "analysis takes over 2 min"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn outage(snapshot: &Snapshot, service: &str) -> f64 {
        snapshot
            .ranking
            .ranking
            .iter()
            .find(|r| r.service == service)
            .unwrap()
            .p_outage
    }

    #[test]
    fn merging_keeps_the_strongest_score_and_the_items() {
        let mut evidence = BTreeMap::from([(
            "carts".to_owned(),
            ServiceEvidence {
                degraded: Some(0.9),
                ..Default::default()
            },
        )]);
        merge_external(&mut evidence, &external("carts", 0.4));
        merge_external(&mut evidence, &external("user", f64::NAN));
        merge_external(&mut evidence, &external("payment", 0.97));
        assert_eq!(evidence["carts"].degraded, Some(0.9));
        assert_eq!(evidence["carts"].items.len(), 1);
        assert_eq!(evidence["user"].degraded, Some(0.0));
        assert_eq!(evidence["payment"].degraded, Some(0.97));
    }

    /// The simulation runs in accelerated time: learning first, then analyses of whole
    /// windows that find the failed service, re-ranked with external events in between.
    #[test]
    fn the_simulated_feed_learns_then_ranks_and_takes_external_events() {
        let start = Timestamp::from_secs(1_800_000_000);
        let source = SimSource::new(settings("06"), start).unwrap();
        let mut feed = SourceFeed::new(source, "sock-shop", AnalysisConfig::default());
        let none = ExternalEvidence::new();
        // Wall second 0: nothing simulated yet, learning on the topology.
        let first = feed.analyze(start, &none).unwrap();
        assert_eq!(first.ranking.ranking.len(), 14);
        assert_eq!(feed.analyses(), 0);
        assert!(!first.ranking.incident);
        // An event during learning still raises the evidence.
        let learning = feed.analyze(start, &external("user", 0.99)).unwrap();
        assert!(outage(&learning, "user") > outage(&first, "user") + 0.3);
        assert_eq!(learning.anomaly["user"]["external"], 0.99);
        // 60× speed: 4.5 wall seconds = 270 simulated seconds = baseline + two windows.
        let at = |secs: f64| start.plus(Duration::from_secs_f64(secs));
        let analysed = settle(&mut feed, at(4.5), &none);
        assert_eq!(feed.analyses(), 1);
        assert_eq!(feed.source().sim_now(), at(270.0));
        assert!(
            analysed
                .anomaly
                .values()
                .any(|kinds| kinds.contains_key("trace"))
        );
        let again = feed.analyze(at(4.6), &none).unwrap();
        assert_eq!(feed.analyses(), 1, "same windows: no new analysis");
        assert_eq!(again.updated_at, at(4.6));
        // The fault (payment pod failure) starts at 180 s simulated; by 420 s it is red.
        // The new windows go to the analysis thread; the update does not wait for it, and an
        // event posted meanwhile is ranked at once.
        let during = feed.analyze(at(7.0), &external("user", 0.99)).unwrap();
        assert!(feed.busy(), "the detectors run in the analysis thread");
        assert!(outage(&during, "user") > 0.3, "{}", outage(&during, "user"));
        let red = settle(&mut feed, at(7.0), &none);
        assert!(feed.analyses() >= 2);
        let top = &red.ranking.ranking[0];
        assert_eq!(
            (top.service.as_str(), top.band),
            ("payment", Band::Red),
            "{}",
            red.ranking.verdict
        );
        let quiet = outage(&red, "user");
        let raised = feed.analyze(at(7.1), &external("user", 0.99)).unwrap();
        assert!(
            outage(&raised, "user") > quiet + 0.3,
            "{quiet} → {}",
            outage(&raised, "user")
        );
        assert!(
            raised
                .ranking
                .ranking
                .iter()
                .find(|r| r.service == "user")
                .unwrap()
                .evidence
                .iter()
                .any(|e| e.kind == "external:error_rate")
        );
    }

    struct Failing;

    impl TelemetrySource for Failing {
        fn name(&self) -> &str {
            "loki"
        }
        fn collect(&mut self, _now: Timestamp) -> Result<Collected, String> {
            Err("connection refused".to_owned())
        }
    }

    #[test]
    fn source_errors_are_counted_and_the_update_time_stays() {
        let mut feed = SourceFeed::new(Failing, "prod", AnalysisConfig::default());
        let none = ExternalEvidence::new();
        feed.analyze(Timestamp::from_secs(10), &none).unwrap();
        let snapshot = feed.analyze(Timestamp::from_secs(20), &none).unwrap();
        assert_eq!(snapshot.source_errors.get("loki"), Some(&2));
        assert_eq!(snapshot.updated_at, Timestamp(0));
        assert!(snapshot.ranking.ranking.is_empty());
    }
}
