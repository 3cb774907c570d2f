//! The engine on a live cluster: one thread polls a [`TelemetrySource`] (Loki, Tempo,
//! Prometheus, Kiali) every few seconds for what arrived since the previous poll, keeps the
//! same bounded buffers as the simulation, and hands the analysis worker a sliding window: the
//! last `max_window` of whole detector windows, with the `baseline` before it learned as normal.
//!
//! Each part (logs, traces, metrics, graph) has its own cursor: a part that fails keeps its
//! cursor and is asked again next time, so an outage of one source loses nothing and never
//! stops the others; its error is shown in the status bar until it recovers.

use super::buffers::{Ring, SeriesBuffer};
use super::engine::{
    Handed, InFlight, IncidentWatch, LiveHandle, recent_logs, spawn_analysis_worker,
};
use super::snapshot::{AnalysisJob, Retriever};
use super::{LiveError, LiveEvent, PartHealth, Phase, SourceStatus};
use crate::analysis::AnalysisConfig;
use crate::model::{LogRecord, ServiceGraph, Span, SpanId, TimeRange, Timestamp, TraceId};
use crate::source::{LogFollower, LogSelection, SourceError, TelemetrySource, TraceSelection};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::time::{Duration, Instant};

/// The wall clock (or a test's clock).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Settings of the live poller.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Poll (and analyse) this often.
    pub every: Duration,
    /// Learned as normal: this much data before the analysed window.
    pub baseline: Duration,
    /// At most this much recent data is analysed.
    pub max_window: Duration,
    /// The detectors' window: the analysed range is whole multiples of it.
    pub window_step: Duration,
    /// Ingestion delay: data newer than `now - lag` is not asked for yet.
    pub lag: Duration,
    /// Which logs to follow.
    pub logs: LogSelection,
    /// Which traces to read (its `limit` is replaced by `traces_per_minute`).
    pub traces: TraceSelection,
    /// Traces sampled per minute of data.
    pub traces_per_minute: usize,
    /// Log lines buffered.
    pub max_log_lines: usize,
    /// Spans buffered.
    pub max_spans: usize,
    /// Previous P(outage) values kept per service.
    pub history_len: usize,
    /// While an incident is open the baseline stays the `baseline` before its start, for at
    /// most this long (then it slides again: the incident has become the normal).
    pub max_frozen: Duration,
}

impl Default for PollSettings {
    /// Every 15 s, a 30-minute baseline before a 10-minute window of 1-minute steps, 15 s
    /// behind now, 100k log lines, 300 traces per minute of data.
    fn default() -> Self {
        Self {
            every: Duration::from_secs(15),
            baseline: Duration::from_secs(30 * 60),
            max_window: Duration::from_secs(10 * 60),
            window_step: Duration::from_secs(60),
            lag: Duration::from_secs(15),
            logs: LogSelection::default(),
            traces: TraceSelection::default(),
            traces_per_minute: 300,
            max_log_lines: 100_000,
            max_spans: 200_000,
            history_len: 60,
            max_frozen: Duration::from_secs(2 * 3600),
        }
    }
}

impl PollSettings {
    /// The history kept: baseline plus window.
    #[must_use]
    pub fn horizon(&self) -> Duration {
        self.baseline + self.max_window
    }
}

/// The analysed window and its baseline at `now`: the window ends on the last whole step and
/// is at most `max_window` long; the baseline is the `baseline` before it, clipped to the data
/// held (`oldest`). `None` while less than one step of baseline and two steps of window exist.
///
/// During an incident that began at `incident_since` before the window, the baseline is the
/// `baseline` before the incident instead (what was normal then, not the incident itself), for
/// at most `max_frozen` and while at least one step of it is held.
#[must_use]
pub fn live_windows(
    settings: &PollSettings,
    oldest: Timestamp,
    now: Timestamp,
    incident_since: Option<Timestamp>,
) -> Option<(TimeRange, TimeRange)> {
    let step = i64::try_from(settings.window_step.as_nanos())
        .ok()
        .filter(|&n| n > 0)?;
    let end = Timestamp(now.0.div_euclid(step) * step);
    let steps = (i64::try_from(settings.max_window.as_nanos()).ok()? / step).max(2);
    // Leave at least one step of baseline in what is held.
    let held_steps = (end.0 - oldest.0).div_euclid(step) - 1;
    let steps = steps.min(held_steps);
    if steps < 2 {
        return None;
    }
    let start = Timestamp(end.0 - steps * step);
    let window = TimeRange::new(start, end)?;
    if let Some(frozen) = incident_since.and_then(|since| frozen_baseline(settings, oldest, since))
        && frozen.end < start
        && start.since(frozen.end) <= settings.max_frozen
    {
        return Some((frozen, window));
    }
    let baseline_start = start.minus(settings.baseline).max(oldest);
    Some((TimeRange::new(baseline_start, start)?, window))
}

/// The `baseline` before an incident that began at `since`, clipped to `oldest`; `None` when
/// less than one detector step of it is held.
fn frozen_baseline(
    settings: &PollSettings,
    oldest: Timestamp,
    since: Timestamp,
) -> Option<TimeRange> {
    let baseline = TimeRange::new(since.minus(settings.baseline).max(oldest), since)?;
    (baseline.duration() >= settings.window_step).then_some(baseline)
}

/// The oldest data to keep at `now`: the horizon, or the start of a held baseline.
fn oldest_kept(
    settings: &PollSettings,
    now: Timestamp,
    incident_since: Option<Timestamp>,
) -> Timestamp {
    let horizon = now.minus(settings.horizon());
    match incident_since {
        Some(since) if now.since(since) <= settings.max_frozen + settings.max_window => {
            horizon.min(since.minus(settings.baseline))
        }
        _ => horizon,
    }
}

/// Span ids seen recently (a trace found by two overlapping searches is kept once).
struct Seen {
    order: VecDeque<(TraceId, SpanId)>,
    set: HashSet<(TraceId, SpanId)>,
    capacity: usize,
}

impl Seen {
    fn new(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity,
        }
    }

    /// Whether the span is new (and remembers it).
    fn fresh(&mut self, span: &Span) -> bool {
        let key = (span.trace_id, span.span_id);
        if !self.set.insert(key) {
            return false;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// What the poller holds.
struct State {
    logs: Ring<Arc<LogRecord>>,
    spans: Ring<Span>,
    series: SeriesBuffer,
    graph: Option<ServiceGraph>,
    follower: LogFollower,
    traces_from: Timestamp,
    series_from: Timestamp,
    seen: Seen,
    health: BTreeMap<&'static str, PartHealth>,
    /// The oldest time the analysis may use: the horizon, or the first data seen when the
    /// sources hold less (a baseline reaching before the first data would read as a quiet
    /// period and everything after it as new).
    started: Timestamp,
    first_data: Option<Timestamp>,
    /// The open incident (set by the analysis worker).
    watch: IncidentWatch,
    /// Metric samples older than this are forgotten.
    keep_from: Timestamp,
}

/// Notes how a part's poll went; a part the user did not configure is left out of the status
/// bar.
fn note<T>(
    health: &mut BTreeMap<&'static str, PartHealth>,
    part: &'static str,
    result: &Result<T, SourceError>,
    count: impl FnOnce(&T) -> usize,
) {
    let entry = match result {
        Err(SourceError::NotConfigured { .. }) => {
            health.remove(part);
            return;
        }
        Err(error) => PartHealth {
            part: part.to_owned(),
            ok: false,
            detail: error.to_string(),
        },
        Ok(value) => PartHealth {
            part: part.to_owned(),
            ok: true,
            detail: format!("{} new", count(value)),
        },
    };
    health.insert(part, entry);
}

/// Traces are read minute by minute with a limit proportional to each piece's length, so the
/// baseline (read in one go at the first poll) and the window (read 15 s at a time) are sampled
/// at the same density: a search capped at N traces over 40 minutes would otherwise leave the
/// baseline nearly empty next to a dense window. Returns the spans and how far the reading got
/// (a failing piece stops it there; the rest is asked again at the next poll).
async fn sample_traces(
    source: &dyn TelemetrySource,
    settings: &PollSettings,
    range: TimeRange,
) -> Result<(Vec<Span>, Timestamp), SourceError> {
    const PIECE: Duration = Duration::from_secs(60);
    let mut spans = Vec::new();
    let mut reached = range.start;
    let mut start = range.start;
    while start < range.end {
        let end = start.plus(PIECE).min(range.end);
        let Some(piece) = TimeRange::new(start, end) else {
            break;
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let limit = ((settings.traces_per_minute as f64) * piece.duration().as_secs_f64() / 60.0)
            .ceil()
            .max(1.0) as usize;
        let selection = TraceSelection {
            limit,
            ..settings.traces.clone()
        };
        match source.traces(&selection, piece).await {
            Ok(found) => spans.extend(found),
            Err(error) if spans.is_empty() => return Err(error),
            Err(error) => {
                tracing::warn!("traces from {}: {error}", piece.start.to_rfc3339());
                return Ok((spans, reached));
            }
        }
        reached = end;
        start = end;
    }
    Ok((spans, reached))
}

/// Polls every part once for what arrived up to `now`.
async fn poll_once(
    source: &dyn TelemetrySource,
    settings: &PollSettings,
    state: &mut State,
    now: Timestamp,
) {
    let traces_range = TimeRange::new(state.traces_from, now).filter(|r| r.start < r.end);
    let series_range = TimeRange::new(state.series_from, now).filter(|r| r.start < r.end);
    let graph_range = TimeRange::new(now.minus(settings.max_window), now);
    let follower = &mut state.follower;
    let (logs, spans, series, graph) = futures_util::join!(
        follower.poll(source, now),
        async {
            match traces_range {
                Some(range) => sample_traces(source, settings, range).await.map(Some),
                None => Ok(None),
            }
        },
        async {
            match series_range {
                Some(range) => source.raw_series(range).await.map(Some),
                None => Ok(None),
            }
        },
        async {
            match graph_range {
                Some(range) => source.service_graph(range).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let first = [
        logs.as_ref()
            .ok()
            .and_then(|l| l.iter().map(|r| r.timestamp).min()),
        spans
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref()?.0.iter().map(|s| s.start).min()),
        series.as_ref().ok().and_then(|s| {
            s.as_ref()?
                .iter()
                .filter_map(|s| s.samples.first().map(|p| p.timestamp))
                .min()
        }),
    ]
    .into_iter()
    .flatten()
    .min();
    if let Some(first) = first {
        state.first_data = Some(state.first_data.map_or(first, |known| known.min(first)));
    }
    note(&mut state.health, "logs", &logs, Vec::len);
    if let Ok(records) = logs {
        state.logs.extend(records.into_iter().map(Arc::new));
    }
    let spans = spans.map(|found| {
        found.map(|(spans, reached)| {
            let fresh = spans
                .into_iter()
                .filter(|s| state.seen.fresh(s))
                .collect::<Vec<Span>>();
            (fresh, reached)
        })
    });
    if !matches!(spans, Ok(None)) {
        note(&mut state.health, "traces", &spans, |s| {
            s.as_ref().map_or(0, |(spans, _)| spans.len())
        });
    }
    if let Ok(Some((fresh, reached))) = spans {
        state.spans.extend(fresh);
        state.traces_from = reached;
    }
    if !matches!(series, Ok(None)) {
        note(&mut state.health, "metrics", &series, |s| {
            s.as_ref().map_or(0, Vec::len)
        });
    }
    if let Ok(Some(series)) = series {
        state.series.append_keeping(series, state.keep_from);
        state.series_from = now;
    }
    note(&mut state.health, "graph", &graph, |g| {
        g.as_ref().map_or(0, |r| r.graph.edge_count())
    });
    if let Ok(Some(reading)) = graph
        && reading.graph.edge_count() > 0
    {
        state.graph = Some(reading.graph);
    }
}

fn status(label: &str, state: &State, now: Timestamp, paused: bool) -> SourceStatus {
    SourceStatus {
        label: label.to_owned(),
        phase: Phase::Live,
        now,
        speed: 1.0,
        paused,
        buffered_logs: state.logs.len(),
        health: state.health.values().cloned().collect(),
        experiment: None,
    }
}

fn job_of(settings: &PollSettings, label: &str, state: &State, now: Timestamp) -> AnalysisJob {
    let oldest = state
        .first_data
        .map_or(now, |first| first.max(state.started));
    let windows = live_windows(settings, oldest, now, state.watch.since());
    let from = windows.map_or(oldest, |(baseline, _)| baseline.start);
    let spans: Vec<Span> = state
        .spans
        .iter()
        .filter(|s| s.start >= from)
        .cloned()
        .collect();
    let (mut logs, mut log_records) = recent_logs(&state.logs, from);
    // Loki returns each stream in order, streams one after another; the detectors want time
    // order.
    log_records.sort_by_key(|r| r.timestamp);
    for list in logs.values_mut() {
        list.sort_by_key(|r| r.timestamp);
    }
    let empty = spans.is_empty() && log_records.is_empty() && state.series.is_empty();
    AnalysisJob {
        source: status(label, state, now, false),
        spans,
        series: state.series.since(from),
        logs,
        log_records,
        graph: state.graph.clone(),
        baseline: windows.map(|(baseline, _)| baseline),
        window: windows.map(|(_, window)| window),
        not_yet: if empty {
            Some("no telemetry yet: waiting for the first data from the sources".to_owned())
        } else if windows.is_none() {
            Some(format!(
                "collecting data: the first analysis needs {} of history",
                crate::model::time::format_duration(settings.window_step * 3)
            ))
        } else {
            None
        },
    }
}

/// Starts polling `source` and analysing what it returns. The first poll reads the last
/// `baseline + max_window` (so a console opened during an incident ranks it at once); later
/// polls read only what is new.
///
/// # Errors
/// When the settings are out of range or a thread cannot start.
pub fn start_live(
    source: Arc<dyn TelemetrySource>,
    clock: Clock,
    settings: PollSettings,
    config: AnalysisConfig,
    past: Option<Retriever>,
) -> Result<LiveHandle, LiveError> {
    if settings.every.is_zero() || settings.window_step.is_zero() {
        return Err(LiveError::Setting(
            "the poll interval and the detector window must be longer than zero".to_owned(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LiveError::Thread)?;
    let (sender, events) = mpsc::channel();
    let (job_sender, job_receiver) = mpsc::sync_channel::<AnalysisJob>(1);
    let in_flight = InFlight::default();
    let paused = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let watch = IncidentWatch::new();
    let worker = spawn_analysis_worker(
        job_receiver,
        in_flight.clone(),
        sender.clone(),
        Arc::clone(&stop),
        config,
        settings.history_len,
        past,
        watch.clone(),
    )?;
    let engine_paused = Arc::clone(&paused);
    let engine_stop = Arc::clone(&stop);
    let poller = std::thread::Builder::new()
        .name("baynet-poll".to_owned())
        .spawn(move || {
            poll_loop(
                &runtime,
                source.as_ref(),
                &clock,
                &settings,
                &sender,
                (&job_sender, &in_flight),
                &engine_paused,
                &engine_stop,
                watch,
            );
        })?;
    Ok(LiveHandle::new(events, paused, stop, vec![poller, worker]))
}

#[allow(clippy::too_many_arguments)]
fn poll_loop(
    runtime: &tokio::runtime::Runtime,
    source: &dyn TelemetrySource,
    clock: &Clock,
    settings: &PollSettings,
    sender: &Sender<LiveEvent>,
    (jobs, in_flight): (&SyncSender<AnalysisJob>, &InFlight),
    paused: &AtomicBool,
    stop: &AtomicBool,
    watch: IncidentWatch,
) {
    let described = source.describe();
    // Live sources describe themselves as "live: …" already; others get the prefix once.
    let label = if described.starts_with("live:") {
        described
    } else {
        format!("live: {described}")
    };
    let now = clock().minus(settings.lag);
    let started = now.minus(settings.horizon());
    let mut state = State {
        logs: Ring::new(settings.max_log_lines),
        spans: Ring::new(settings.max_spans),
        series: SeriesBuffer::new(settings.horizon() + settings.window_step),
        graph: None,
        follower: LogFollower::new(settings.logs.clone(), started),
        traces_from: started,
        series_from: started,
        seen: Seen::new(settings.max_spans),
        health: BTreeMap::new(),
        started,
        first_data: None,
        watch,
        keep_from: started,
    };
    let mut next_poll = Instant::now();
    let mut last_status = Instant::now();
    let mut shown_at = now;
    // The poll whose data awaits an analysis: the job is built once the worker is idle (from
    // the newest poll by then), so a busy worker never holds a queued copy of the buffers.
    let mut due: Option<Timestamp> = None;
    while !stop.load(Ordering::Relaxed) {
        let is_paused = paused.load(Ordering::Relaxed);
        if last_status.elapsed() >= Duration::from_millis(250) {
            last_status = Instant::now();
            let status = status(&label, &state, shown_at, is_paused);
            if sender.send(LiveEvent::Status(status)).is_err() {
                return;
            }
        }
        if let Some(at) = due
            && in_flight.idle()
        {
            due = None;
            let job = job_of(settings, &label, &state, at);
            if in_flight.hand(jobs, job) == Handed::Gone {
                return;
            }
        }
        if is_paused || Instant::now() < next_poll {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        next_poll = Instant::now() + settings.every;
        let now = clock().minus(settings.lag);
        // A poll is bounded by the clients' own timeouts and retries; the stop flag is checked
        // again right after.
        runtime.block_on(poll_once(source, settings, &mut state, now));
        if stop.load(Ordering::Relaxed) {
            return;
        }
        shown_at = now;
        // Forget what fell out of the horizon, or before a baseline held during an incident
        // (the log ring and span ring are bounded by count as well).
        let oldest = oldest_kept(settings, now, state.watch.since());
        state.started = state.started.max(oldest);
        let keep_from = oldest.minus(settings.window_step);
        state.keep_from = keep_from;
        state.logs.drop_front_while(|r| r.timestamp < keep_from);
        state.spans.drop_front_while(|s| s.start < keep_from);
        due = Some(now);
        let status = status(&label, &state, shown_at, is_paused);
        if sender.send(LiveEvent::Status(status)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Snapshot;

    fn settings() -> PollSettings {
        PollSettings {
            baseline: Duration::from_secs(600),
            max_window: Duration::from_secs(300),
            window_step: Duration::from_secs(60),
            ..PollSettings::default()
        }
    }

    #[test]
    fn the_window_is_whole_steps_after_a_baseline() {
        let s = settings();
        let oldest = Timestamp::from_secs(1_000);
        // 2 min 10 s held: one step of baseline and one of window is not enough.
        assert_eq!(
            live_windows(&s, oldest, Timestamp::from_secs(1_130), None),
            None
        );
        let (baseline, window) =
            live_windows(&s, oldest, Timestamp::from_secs(1_000 + 200), None).expect("windows");
        assert_eq!(window.end, Timestamp::from_secs(1_200));
        assert_eq!(window.duration(), Duration::from_secs(120));
        assert_eq!(baseline.start, oldest);
        assert_eq!(baseline.end, window.start);
        // Plenty held: the window is max_window and the baseline the full length before it.
        let now = Timestamp::from_secs(100_030);
        let (baseline, window) =
            live_windows(&s, Timestamp::from_secs(10), now, None).expect("windows");
        assert_eq!(window.end, Timestamp::from_secs(99_960 + 60));
        assert_eq!(window.duration(), Duration::from_secs(300));
        assert_eq!(baseline.duration(), Duration::from_secs(600));
        assert_eq!(baseline.end, window.start);
        assert_eq!(window.end.0 % 60_000_000_000, 0);
    }

    #[test]
    fn an_open_incident_holds_the_baseline_before_it() {
        let s = settings();
        let oldest = Timestamp::from_secs(0);
        let now = Timestamp::from_secs(36_000);
        let secs = Timestamp::from_secs;
        // Incident for 30 minutes: the baseline is the 10 minutes before it, not the 10
        // minutes before the window (which are the incident).
        let since = secs(36_000 - 1_800);
        let (baseline, window) = live_windows(&s, oldest, now, Some(since)).expect("windows");
        assert_eq!(
            window,
            TimeRange::new(secs(35_700), secs(36_000)).expect("range")
        );
        assert_eq!(
            baseline,
            TimeRange::new(secs(33_600), since).expect("range")
        );
        // Begun inside the window: the usual baseline already ends before it.
        let recent = live_windows(&s, oldest, now, Some(secs(35_800))).expect("windows");
        assert_eq!(
            recent,
            live_windows(&s, oldest, now, None).expect("windows")
        );
        // Clipped to the data held, and given up when less than a step of it is held.
        let (clipped, _) =
            live_windows(&s, secs(34_000), now, Some(secs(34_300))).expect("windows");
        assert_eq!(
            clipped,
            TimeRange::new(secs(34_000), secs(34_300)).expect("range")
        );
        let (sliding, _) =
            live_windows(&s, secs(34_000), now, Some(secs(34_030))).expect("windows");
        assert_eq!(sliding.end, window.start);
        // Older than max_frozen: the incident has become the normal.
        let old = secs(35_700 - 7_201);
        let (baseline, _) = live_windows(&s, oldest, now, Some(old)).expect("windows");
        assert_eq!(baseline.end, window.start);
        // What is kept: back to the held baseline's start, else the horizon.
        assert_eq!(oldest_kept(&s, now, Some(since)), secs(33_600));
        assert_eq!(oldest_kept(&s, now, None), now.minus(s.horizon()));
        assert_eq!(oldest_kept(&s, now, Some(old)), now.minus(s.horizon()));
    }

    #[test]
    fn the_incident_watch_keeps_the_first_start_until_the_incident_ends() {
        let watch = IncidentWatch::new();
        assert_eq!(watch.since(), None);
        watch.observe(false, None);
        assert_eq!(watch.since(), None);
        watch.observe(true, Some(Timestamp::from_secs(100)));
        watch.observe(true, Some(Timestamp::from_secs(400)));
        watch.observe(true, None);
        assert_eq!(watch.since(), Some(Timestamp::from_secs(100)));
        watch.observe(false, Some(Timestamp::from_secs(500)));
        assert_eq!(watch.since(), None);
        watch.observe(true, Some(Timestamp::from_secs(900)));
        assert_eq!(watch.since(), Some(Timestamp::from_secs(900)));
    }

    #[test]
    fn spans_are_kept_once_and_the_memory_is_bounded() {
        let mut seen = Seen::new(3);
        let mut span = Span {
            trace_id: TraceId([7; 16]),
            span_id: SpanId::default(),
            parent_span_id: None,
            name: "GET /".into(),
            kind: crate::model::SpanKind::Server,
            service: "carts".into(),
            start: Timestamp(0),
            end: Timestamp(10),
            attributes: vec![],
            resource: vec![],
            status: crate::model::SpanStatus::default(),
        };
        let mut with = |id: u8| {
            span.span_id = SpanId([id; 8]);
            span.clone()
        };
        assert!(seen.fresh(&with(1)));
        assert!(!seen.fresh(&with(1)));
        for id in [2, 3, 4] {
            assert!(seen.fresh(&with(id)));
        }
        assert_eq!(seen.set.len(), 3);
        assert!(seen.fresh(&with(1)), "forgotten after the capacity");
    }

    /// Polls scenario 06 (payment pod failure after a 10-minute baseline, lasting `fault`)
    /// served in-process, with a clock that starts a minute before the fault and runs `tick`
    /// of data time per snapshot the test receives (not per clock read, so a loaded machine,
    /// where polls outrun analyses, sees the same sequence of windows). Hands every snapshot
    /// to `done` until it says so or `limit` passes; returns the last part health seen.
    fn poll_payment_failure(
        fault: Duration,
        (tick, limit): (Duration, Duration),
        mut done: impl FnMut(&Snapshot, Timestamp) -> bool,
    ) -> Vec<PartHealth> {
        use std::sync::atomic::AtomicI64;
        let scenario = crate::scenario::resolve("06").expect("scenario 06");
        let mut config = crate::sim::run::config_for(&scenario, 3);
        config.baseline = Duration::from_secs(600);
        config.fault_duration = fault;
        config.recovery = Duration::from_secs(60);
        let fault_start = config.start.plus(config.baseline);
        let source = crate::source::MemorySource::simulate(config).expect("simulation");
        let clock_at = Arc::new(AtomicI64::new(fault_start.minus(Duration::from_secs(60)).0));
        let ticking = Arc::clone(&clock_at);
        let clock: Clock = Arc::new(move || Timestamp(ticking.load(Ordering::Relaxed)));
        let tick = i64::try_from(tick.as_nanos()).expect("tick");
        let step = || clock_at.fetch_add(tick, Ordering::Relaxed);
        let settings = PollSettings {
            every: Duration::from_millis(20),
            baseline: Duration::from_secs(480),
            max_window: Duration::from_secs(300),
            lag: Duration::ZERO,
            ..PollSettings::default()
        };
        let handle = start_live(
            Arc::new(source),
            clock,
            settings,
            AnalysisConfig::default(),
            None,
        )
        .expect("starts");
        let started = Instant::now();
        let mut health = Vec::new();
        let mut last_snapshot = Instant::now();
        while started.elapsed() < limit {
            match handle.events.recv_timeout(Duration::from_millis(200)) {
                Ok(LiveEvent::Snapshot(snapshot)) => {
                    step();
                    last_snapshot = Instant::now();
                    if done(&snapshot, fault_start) {
                        break;
                    }
                }
                Ok(LiveEvent::Status(status)) => {
                    assert_eq!(status.phase, Phase::Live);
                    assert!(status.label.starts_with("live: "), "{}", status.label);
                    if !status.health.is_empty() {
                        health = status.health;
                    }
                }
                Ok(LiveEvent::Failed(message)) => panic!("source failed: {message}"),
                // Nothing to analyse yet (no new whole step): move on after a quiet while.
                Err(_) if last_snapshot.elapsed() > Duration::from_secs(3) => {
                    step();
                    last_snapshot = Instant::now();
                }
                Err(_) => {}
            }
        }
        handle.stop();
        health
    }

    /// The console sees the baseline, then payment turning red once the fault starts, and
    /// every part reports healthy.
    #[test]
    fn polling_a_source_ranks_the_failing_service() {
        let mut red = None;
        let pace = (Duration::from_secs(30), Duration::from_secs(120));
        let health =
            poll_payment_failure(Duration::from_secs(360), pace, |snapshot, fault_start| {
                if snapshot.window.is_some_and(|w| w.end <= fault_start) {
                    assert!(
                        !snapshot.incident,
                        "no incident before the fault: {} {:?} {:?} {:#?}",
                        snapshot.verdict,
                        snapshot.baseline,
                        snapshot.window,
                        snapshot.services.first().map(|s| &s.evidence)
                    );
                }
                if snapshot
                    .services
                    .first()
                    .is_some_and(|s| s.band == crate::rca::Band::Red)
                {
                    red = Some(snapshot.clone());
                }
                red.is_some()
            });
        let red = red.expect("a red service within 120 s");
        assert_eq!(red.services[0].name, "payment", "{}", red.verdict);
        let parts: Vec<&str> = health.iter().map(|h| h.part.as_str()).collect();
        assert!(
            parts.contains(&"logs") && parts.contains(&"traces"),
            "{health:?}"
        );
        assert!(health.iter().all(|h| h.ok), "{health:?}");
    }

    /// A fault that outlasts the baseline plus the window (20 minutes against 8 + 5): 12
    /// minutes in, the sliding baseline would be nothing but the fault; it stays the one
    /// before the incident, and payment is still red.
    #[test]
    fn a_long_incident_is_not_learned_as_normal() {
        let mut last = None;
        let pace = (Duration::from_secs(60), Duration::from_secs(240));
        poll_payment_failure(Duration::from_secs(1_200), pace, |snapshot, fault_start| {
            let late = snapshot
                .window
                .is_some_and(|w| w.start >= fault_start.plus(Duration::from_secs(12 * 60)));
            if late {
                last = Some(snapshot.clone());
            }
            late
        });
        let last = last.expect("an analysis 12 minutes into the fault within 240 s");
        let (baseline, window) = (
            last.baseline.expect("baseline"),
            last.window.expect("window"),
        );
        assert!(
            baseline.end < window.start && baseline.end <= last.incident_start.expect("start"),
            "{baseline:?} {window:?} {:?}",
            last.incident_start
        );
        let top = &last.services[0];
        assert_eq!(
            (top.name.as_str(), top.band),
            ("payment", crate::rca::Band::Red),
            "{}",
            last.verdict
        );
    }
}
