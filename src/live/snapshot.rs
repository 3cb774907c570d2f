//! What the console shows: one [`Snapshot`] per analysis, built by [`build_snapshot`] from the
//! data of a sliding window. Pure: data in, data out.

use super::{Phase, SourceStatus};
use crate::analysis::{Analysis, AnalysisConfig, AnalysisInput, analyze};
use crate::chat::situation::SimilarIncident;
use crate::detect::metrics::golden::{Signal, golden_signals_from_series};
use crate::detect::traces::index::{host_service, is_server_like};
use crate::model::{LogRecord, Series, ServiceGraph, Span, SpanId, TimeRange, Timestamp, Trace};
use crate::rca::{Band, EvidenceItem, LinkStrengths};
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Lines kept per service in a snapshot.
pub const LOG_LINES_PER_SERVICE: usize = 300;
/// Error and slow traces kept per service in a snapshot.
pub const TRACES_PER_SERVICE: usize = 25;

/// Words that mark a log line as an error (a keyword heuristic; the log detectors live on
/// another branch).
static ERROR_WORDS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(error|err|exception|fail(ed|ure)?|refused|timeout|timed out|panic|fatal|unavailable|5\d\d)\b").ok()
});

/// Whether a log line looks like an error.
#[must_use]
pub fn looks_like_error(line: &str) -> bool {
    ERROR_WORDS.as_ref().is_some_and(|re| re.is_match(line))
}

/// One log line as shown (raw text: the console sanitises before drawing).
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When it was written.
    pub timestamp: Timestamp,
    /// The raw line.
    pub line: String,
    /// Whether it looks like an error.
    pub flagged: bool,
}

/// One span of a trace waterfall.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRow {
    /// Service that reported it.
    pub service: String,
    /// Operation name.
    pub name: String,
    /// Start relative to the trace start, ms.
    pub offset_ms: f64,
    /// Duration, ms.
    pub duration_ms: f64,
    /// Depth in the call tree (0 = root).
    pub depth: usize,
    /// Whether the span failed.
    pub error: bool,
}

/// A recent error or slow trace that touched a service.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    /// Trace id, hex.
    pub trace_id: String,
    /// Root span name.
    pub root: String,
    /// Start time.
    pub start: Timestamp,
    /// Whole-trace duration, ms.
    pub duration_ms: f64,
    /// Whether a span of this service failed.
    pub error: bool,
    /// Whether this service's span was slower than its baseline p99.
    pub slow: bool,
    /// The waterfall, in depth-first order.
    pub spans: Vec<SpanRow>,
}

/// One golden signal of a service over the window, with its baseline band.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenView {
    /// Signal name (`traffic_rps`, `error_ratio`, `latency_p99_ms`, …).
    pub signal: String,
    /// Values, oldest first (NaN where undefined).
    pub values: Vec<f64>,
    /// Lowest normal value: baseline 5th percentile.
    pub baseline_low: Option<f64>,
    /// Highest normal value: baseline 95th percentile.
    pub baseline_high: Option<f64>,
}

/// Everything the console shows about one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    /// Service name.
    pub name: String,
    /// P(root cause).
    pub p_root_cause: f64,
    /// P(outage), what the bands colour.
    pub p_outage: f64,
    /// Band of `p_outage`.
    pub band: Band,
    /// MAIA health score (1 healthy), when the traces gave one.
    pub health: Option<f64>,
    /// Peak anomaly score per signal kind in the focus range.
    pub anomaly: BTreeMap<String, f64>,
    /// Combined anomaly score per detector window over the analysed range.
    pub sparkline: Vec<f64>,
    /// P(outage) of this service in the previous snapshots, oldest first.
    pub p_history: Vec<f64>,
    /// Evidence that raised it.
    pub evidence: Vec<EvidenceItem>,
    /// Paths along which its failure explains others' symptoms.
    pub explains: Vec<Vec<String>>,
    /// Recent log lines, oldest first.
    pub logs: Vec<LogLine>,
    /// Recent error and slow traces, newest first.
    pub traces: Vec<TraceSummary>,
    /// Golden signals.
    pub golden: Vec<GoldenView>,
}

/// A past incident or playbook retrieved for the current situation, with its postmortem.
#[derive(Debug, Clone, PartialEq)]
pub struct PastIncident {
    /// What the chat and the list show.
    pub similar: SimilarIncident,
    /// The record as Markdown (untrusted: the console sanitises before drawing).
    pub markdown: String,
}

/// Finds past incidents like an analysis (the knowledge base, in the binary); an error is
/// shown instead of the list.
pub type Retriever = Box<dyn FnMut(&Analysis) -> Result<Vec<PastIncident>, String> + Send>;

/// One analysis result and the data around it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The source as of the data.
    pub source: SourceStatus,
    /// Baseline used.
    pub baseline: Option<TimeRange>,
    /// Range analysed.
    pub window: Option<TimeRange>,
    /// Start of the detected incident.
    pub incident_start: Option<Timestamp>,
    /// Verdict line, or why there is none yet.
    pub verdict: String,
    /// Whether any service is above the green band.
    pub incident: bool,
    /// Services, most likely root cause first.
    pub services: Vec<ServiceView>,
    /// Call edges `caller → callee`.
    pub edges: Vec<(String, String)>,
    /// How long the analysis took.
    pub latency: Duration,
    /// Why there is no ranking, when there is none.
    pub problem: Option<String>,
    /// Similar past incidents, most similar first (retrieved only during an incident).
    pub past: Vec<PastIncident>,
    /// Why there are no past incidents, when retrieval failed or is off.
    pub past_problem: Option<String>,
    /// The analysis itself (what a recording drafts its postmortem from).
    pub analysis: Option<std::sync::Arc<Analysis>>,
}

/// The data one analysis reads. Log lines are shared with the engine's buffer (`Arc`), not
/// copied: a job costs a pointer per line.
#[derive(Debug, Clone)]
pub struct AnalysisJob {
    /// Source status at the moment the data was taken.
    pub source: SourceStatus,
    /// Spans of the window (and baseline).
    pub spans: Vec<Span>,
    /// Series of the window (and baseline).
    pub series: Vec<Series>,
    /// Recent log lines per service, oldest first (what the Logs view shows).
    pub logs: BTreeMap<String, Vec<Arc<LogRecord>>>,
    /// Every buffered log line of the baseline and window, for the log detectors.
    pub log_records: Vec<Arc<LogRecord>>,
    /// A known service graph.
    pub graph: Option<ServiceGraph>,
    /// Explicit baseline (live) or `None` (scan, offline).
    pub baseline: Option<TimeRange>,
    /// Explicit window (live) or `None`.
    pub window: Option<TimeRange>,
    /// Why no analysis should run on this data yet (still learning the baseline).
    pub not_yet: Option<String>,
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(index.min(sorted.len() - 1)).copied()
}

fn waterfall(trace: &Trace) -> Vec<SpanRow> {
    let start = trace
        .spans
        .iter()
        .map(|s| s.start)
        .min()
        .unwrap_or_default();
    let ids: HashMap<SpanId, usize> = trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id, i))
        .collect();
    let mut children: BTreeMap<Option<usize>, Vec<usize>> = BTreeMap::new();
    for (i, span) in trace.spans.iter().enumerate() {
        let parent = span.parent_span_id.and_then(|p| ids.get(&p).copied());
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| trace.spans[i].start);
    }
    let mut rows = Vec::with_capacity(trace.spans.len());
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|&i| (i, 0)).collect())
        .unwrap_or_default();
    let mut seen = vec![false; trace.spans.len()];
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let span = &trace.spans[i];
        rows.push(SpanRow {
            service: span.service.clone(),
            name: span.name.clone(),
            offset_ms: span.start.since(start).as_secs_f64() * 1e3,
            duration_ms: span.duration().as_secs_f64() * 1e3,
            depth,
            error: span.is_error(),
        });
        if let Some(kids) = children.get(&Some(i)) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    rows
}

/// The service a client span calls, from Envoy's cluster, `peer.service` or the span name.
fn callee_name(span: &Span) -> Option<String> {
    if let Some(cluster) = span.attribute_str("upstream_cluster")
        && cluster.starts_with("outbound")
    {
        return host_service(cluster);
    }
    span.attribute_str("peer.service")
        .and_then(host_service)
        .or_else(|| host_service(&span.name).filter(|_| span.name.contains('.')))
}

/// Per service, recent error and slow traces (slow = above the service's baseline p99).
fn traces_by_service(
    spans: Vec<Span>,
    baseline: Option<TimeRange>,
) -> BTreeMap<String, Vec<TraceSummary>> {
    let mut durations: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for span in &spans {
        if baseline.is_none_or(|b| b.contains(span.start)) {
            durations
                .entry(span.service.as_str())
                .or_default()
                .push(span.duration().as_secs_f64() * 1e3);
        }
    }
    let p99: BTreeMap<String, f64> = durations
        .into_iter()
        .filter_map(|(service, mut values)| {
            values.sort_by(f64::total_cmp);
            percentile(&values, 0.99).map(|p| (service.to_owned(), p))
        })
        .collect();
    let mut out: BTreeMap<String, Vec<TraceSummary>> = BTreeMap::new();
    // Grouped from the spans themselves (moved, not copied).
    let mut traces = Trace::group(spans);
    traces.sort_by_key(|t| std::cmp::Reverse(t.spans.iter().map(|s| s.start).min()));
    for trace in &traces {
        let mut rows: Option<Vec<SpanRow>> = None;
        let mut services: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        let mut callees: Vec<String> = Vec::new();
        for span in &trace.spans {
            let flags = services.entry(span.service.as_str()).or_default();
            flags.0 |= span.is_error();
            let slow_limit = p99.get(span.service.as_str()).copied();
            flags.1 |= slow_limit.is_some_and(|p| span.duration().as_secs_f64() * 1e3 > p.max(1.0));
            // A failed call is also an error trace of the service called (a dead pod writes
            // no spans of its own).
            if span.is_error()
                && !is_server_like(span.kind)
                && let Some(callee) = callee_name(span)
            {
                callees.push(callee);
            }
        }
        for callee in &callees {
            services.entry(callee.as_str()).or_default().0 = true;
        }
        for (service, (error, slow)) in services {
            if !(error || slow) {
                continue;
            }
            let list = out.entry(service.to_owned()).or_default();
            if list.len() >= TRACES_PER_SERVICE {
                continue;
            }
            let spans_rows = rows.get_or_insert_with(|| waterfall(trace)).clone();
            list.push(TraceSummary {
                trace_id: trace.trace_id.to_hex(),
                root: trace.root().map(|r| r.name.clone()).unwrap_or_default(),
                start: trace
                    .spans
                    .iter()
                    .map(|s| s.start)
                    .min()
                    .unwrap_or_default(),
                duration_ms: trace.duration().as_secs_f64() * 1e3,
                error,
                slow,
                spans: spans_rows,
            });
        }
    }
    out
}

fn golden_by_service(
    series: &[Series],
    baseline: Option<TimeRange>,
) -> BTreeMap<String, Vec<GoldenView>> {
    let golden = golden_signals_from_series(series, Duration::from_secs(15));
    let wanted = [
        Signal::Traffic,
        Signal::ErrorRatio,
        Signal::LatencyP99,
        Signal::Cpu,
        Signal::Memory,
    ];
    golden
        .into_iter()
        .map(|(service, signals)| {
            let views = wanted
                .iter()
                .filter_map(|signal| {
                    let samples = signals.signals.get(signal)?;
                    let mut normal: Vec<f64> = samples
                        .iter()
                        .filter(|s| baseline.is_some_and(|b| b.contains(s.timestamp)))
                        .map(|s| s.value)
                        .filter(|v| v.is_finite())
                        .collect();
                    normal.sort_by(f64::total_cmp);
                    Some(GoldenView {
                        signal: signal.name(),
                        values: samples.iter().map(|s| s.value).collect(),
                        baseline_low: percentile(&normal, 0.05),
                        baseline_high: percentile(&normal, 0.95),
                    })
                })
                .collect();
            (service, views)
        })
        .collect()
}

/// Runs the analysis on `job` and assembles the snapshot. `history` holds each service's
/// previous P(outage) values and is updated (at most `history_len` per service). During an
/// incident `past` is asked for similar past incidents (`None`: retrieval is off).
///
/// The job is consumed: its spans, series and lines are dropped as soon as the views are built,
/// before the knowledge-base search loads its embedding model.
#[must_use]
pub fn build_snapshot(
    job: AnalysisJob,
    config: &AnalysisConfig,
    links: LinkStrengths,
    history: &mut BTreeMap<String, Vec<f64>>,
    history_len: usize,
    past: Option<&mut Retriever>,
) -> Snapshot {
    let started = std::time::Instant::now();
    let log_family = crate::analysis::RecordLogs::new(&job.log_records);
    let result = match &job.not_yet {
        Some(reason) => Err(reason.clone()),
        None => analyze(
            &AnalysisInput {
                spans: &job.spans,
                series: &job.series,
                graph: job.graph.as_ref(),
                logs: (!job.log_records.is_empty())
                    .then_some(&log_family as &dyn crate::analysis::LogScorer),
                baseline: job.baseline,
                window: job.window,
                data: None,
            },
            config,
            links,
        )
        .map_err(|error| error.to_string()),
    };
    let latency = started.elapsed();
    let (analysis, problem): (Option<Analysis>, Option<String>) = match result {
        Ok(analysis) => (Some(analysis), None),
        Err(reason) => (None, Some(reason)),
    };
    let AnalysisJob {
        source,
        spans,
        series,
        logs,
        log_records,
        baseline: job_baseline,
        window: job_window,
        ..
    } = job;
    drop(log_records);
    let baseline = analysis.as_ref().map(|a| a.baseline).or(job_baseline);
    let mut traces = traces_by_service(spans, baseline);
    let mut golden = golden_by_service(&series, baseline);
    drop(series);
    // The Logs view's lines; the shared records go with `logs`.
    let log_views: BTreeMap<String, Vec<LogLine>> = logs
        .into_iter()
        .map(|(name, records)| {
            let lines = records
                .iter()
                .map(|r| LogLine {
                    timestamp: r.timestamp,
                    line: r.line.clone(),
                    flagged: looks_like_error(&r.line),
                })
                .collect();
            (name, lines)
        })
        .collect();
    let logs_of = |name: &str| -> Vec<LogLine> { log_views.get(name).cloned().unwrap_or_default() };
    let (past, past_problem) = match (&analysis, past) {
        (_, None) => (Vec::new(), Some("no knowledge base".to_owned())),
        (Some(analysis), Some(retrieve)) if analysis.ranking.incident => match retrieve(analysis) {
            Ok(found) => (found, None),
            Err(error) => (Vec::new(), Some(error)),
        },
        (_, Some(_)) => (
            Vec::new(),
            Some("no incident: nothing to compare".to_owned()),
        ),
    };
    let mut services = Vec::new();
    let mut edges = Vec::new();
    let (mut verdict, mut incident, mut incident_start, mut window) =
        (String::new(), false, None, job_window);
    if let Some(analysis) = &analysis {
        verdict.clone_from(&analysis.ranking.verdict);
        incident = analysis.ranking.incident;
        incident_start = analysis.incident_start;
        window = Some(analysis.window);
        edges.clone_from(&analysis.edges);
        for ranked in &analysis.ranking.ranking {
            let past = history.entry(ranked.service.clone()).or_default();
            past.push(ranked.p_outage);
            if past.len() > history_len {
                let excess = past.len() - history_len;
                past.drain(..excess);
            }
            services.push(ServiceView {
                name: ranked.service.clone(),
                p_root_cause: ranked.p_root_cause,
                p_outage: ranked.p_outage,
                band: ranked.band,
                health: analysis.health.get(&ranked.service).copied(),
                anomaly: analysis
                    .anomaly
                    .get(&ranked.service)
                    .cloned()
                    .unwrap_or_default(),
                sparkline: analysis
                    .report
                    .timeline
                    .scores
                    .get(&ranked.service)
                    .and_then(|kinds| kinds.get("combined"))
                    .cloned()
                    .unwrap_or_default(),
                p_history: past.clone(),
                evidence: ranked.evidence.clone(),
                explains: ranked.explains.clone(),
                logs: logs_of(&ranked.service),
                traces: traces.remove(&ranked.service).unwrap_or_default(),
                golden: golden.remove(&ranked.service).unwrap_or_default(),
            });
        }
    } else {
        verdict = "no ranking yet".to_owned();
        let mut names: Vec<&String> = log_views.keys().collect();
        names.extend(traces.keys());
        names.extend(golden.keys());
        names.sort();
        names.dedup();
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in names {
            services.push(ServiceView {
                p_root_cause: 0.0,
                p_outage: 0.0,
                band: Band::Green,
                health: None,
                anomaly: BTreeMap::new(),
                sparkline: Vec::new(),
                p_history: history.get(&name).cloned().unwrap_or_default(),
                evidence: Vec::new(),
                explains: Vec::new(),
                logs: logs_of(&name),
                traces: traces.remove(&name).unwrap_or_default(),
                golden: golden.remove(&name).unwrap_or_default(),
                name,
            });
        }
    }
    Snapshot {
        source,
        baseline,
        window,
        incident_start,
        verdict,
        incident,
        services,
        edges,
        latency,
        problem,
        past,
        past_problem,
        analysis: analysis.map(std::sync::Arc::new),
    }
}

impl Snapshot {
    /// An empty snapshot (before the first analysis).
    #[must_use]
    pub fn empty(source: SourceStatus) -> Self {
        Self {
            source,
            baseline: None,
            window: None,
            incident_start: None,
            verdict: String::new(),
            incident: false,
            services: Vec::new(),
            edges: Vec::new(),
            latency: Duration::ZERO,
            problem: Some("waiting for the first analysis".to_owned()),
            past: Vec::new(),
            past_problem: None,
            analysis: None,
        }
    }

    /// The view of `name`.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&ServiceView> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Whether it comes from offline data.
    #[must_use]
    pub fn is_offline(&self) -> bool {
        self.source.phase == Phase::Offline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_words_flag_lines() {
        assert!(looks_like_error("ERROR connection refused"));
        assert!(looks_like_error("GET /cards 503 12ms"));
        assert!(!looks_like_error("GET /cards 200 12ms"));
        assert!(!looks_like_error("terrorist is not a word we match"));
    }

    /// The job's spans, series and lines are released before the knowledge base is searched
    /// (the search loads the embedding model: the two must not be held at once), and the views
    /// built from them are still there.
    #[test]
    fn the_job_is_released_before_the_knowledge_base_search() {
        let scenario = crate::scenario::resolve("06").expect("scenario 06");
        let mut config = crate::sim::run::config_for(&scenario, 3);
        config.baseline = Duration::from_secs(300);
        config.fault_duration = Duration::from_secs(300);
        config.recovery = Duration::from_secs(60);
        let dataset = crate::sim::run::run(config).expect("simulation");
        let log_records: Vec<Arc<LogRecord>> = dataset.logs.into_iter().map(Arc::new).collect();
        let newest = Arc::clone(log_records.last().expect("lines"));
        let probe = Arc::downgrade(&newest);
        let logs: BTreeMap<String, Vec<Arc<LogRecord>>> =
            [(newest.service.clone(), vec![newest])].into();
        let job = AnalysisJob {
            source: SourceStatus {
                label: "input: test".to_owned(),
                phase: Phase::Offline,
                now: Timestamp(0),
                speed: 0.0,
                paused: false,
                buffered_logs: log_records.len(),
                health: Vec::new(),
                experiment: None,
            },
            spans: dataset.spans,
            series: dataset.series,
            logs,
            log_records,
            graph: dataset.graph,
            baseline: None,
            window: None,
            not_yet: None,
        };
        let released = Arc::new(std::sync::Mutex::new(None));
        let seen = Arc::clone(&released);
        let mut past: Retriever = Box::new(move |_| {
            if let Ok(mut slot) = seen.lock() {
                *slot = Some(probe.upgrade().is_none());
            }
            Ok(Vec::new())
        });
        let snapshot = build_snapshot(
            job,
            &AnalysisConfig::default(),
            LinkStrengths::new(),
            &mut BTreeMap::new(),
            1,
            Some(&mut past),
        );
        assert!(snapshot.incident, "{}", snapshot.verdict);
        assert_eq!(snapshot.services[0].name, "payment");
        assert_eq!(
            *released.lock().expect("lock"),
            Some(true),
            "searched with the lines released"
        );
        assert!(snapshot.services.iter().any(|s| s.logs.len() == 1));
        assert!(snapshot.services.iter().any(|s| !s.traces.is_empty()));
        assert!(snapshot.services.iter().any(|s| !s.golden.is_empty()));
    }

    #[test]
    fn percentiles_of_sorted_values() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&values, 1.0), Some(5.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
