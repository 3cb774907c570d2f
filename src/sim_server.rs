//! Serves a running simulation over the real HTTP APIs: Loki (`/loki/api/v1/…`), Tempo
//! (`/api/search`, `/api/traces/{id}`, `/api/echo`) and a Prometheus exposition endpoint
//! (`/metrics`) with the Istio metrics, for a real Prometheus server to scrape.
//!
//! This is an adapter: it owns the wall clock and the socket. Timestamps are wall-clock time;
//! `speed` compresses the scenario's schedule (a 10-minute baseline lasts 1 minute at speed 10)
//! while traffic keeps its real per-second rate. Buffers are bounded.

// Handlers return ready-made HTTP error responses as their `Err` values.
#![allow(clippy::result_large_err)]

pub mod query;

use crate::model::{LogRecord, Span, Timestamp, TraceId};
use crate::sim::metrics::{FAMILIES, describe};
use crate::sim::{Emitted, SimConfig, Simulation};
use crate::wire;
use crate::wire::loki::Direction;
use crate::wire::prometheus::exposition::{
    ExpositionSample, MetricFamily, MetricKind, encode_exposition,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use query::{LogQuery, TraceQuery};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind (127.0.0.1 by default on the command line).
    pub listen: SocketAddr,
    /// Simulation settings; `start` is replaced by the wall clock and phases divided by `speed`.
    pub config: SimConfig,
    /// Schedule compression factor (≥ 1 plays the scenario faster).
    pub speed: f64,
    /// Log lines kept in memory.
    pub max_log_lines: usize,
    /// Traces kept in memory.
    pub max_traces: usize,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is invalid.
    #[error("invalid simulation: {0}")]
    Config(String),
    /// The address cannot be bound.
    #[error("cannot listen on {address}: {source} (is another process using the port?)")]
    Bind {
        /// Address.
        address: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// The simulation and the telemetry it has produced so far.
pub struct SimHost {
    simulation: Simulation,
    logs: VecDeque<LogRecord>,
    traces: BTreeMap<TraceId, Vec<Span>>,
    trace_order: VecDeque<TraceId>,
    max_log_lines: usize,
    max_traces: usize,
}

impl SimHost {
    /// A host for a simulation with bounded buffers.
    #[must_use]
    pub fn new(simulation: Simulation, max_log_lines: usize, max_traces: usize) -> Self {
        Self {
            simulation,
            logs: VecDeque::new(),
            traces: BTreeMap::new(),
            trace_order: VecDeque::new(),
            max_log_lines,
            max_traces,
        }
    }

    /// Advances the simulation until its clock passes `now`, keeping what it emits.
    pub fn advance_to(&mut self, now: Timestamp) {
        let mut emitted = Emitted::default();
        // Bounded: never more than an hour of catch-up per call.
        let mut budget = 3600;
        while self.simulation.now() <= now && budget > 0 {
            self.simulation.step(&mut emitted);
            budget -= 1;
        }
        emitted.logs.sort_by_key(|record| record.timestamp);
        // Kept in timestamp order across calls, as Loki answers: a request that started in one
        // tick logs when it completes, so a line can be older than the last one kept (a paging
        // client that reads the oldest `limit` lines would otherwise skip it). Such lines are
        // only ever a few seconds old, so the insertion point is near the back.
        for record in emitted.logs {
            if self
                .logs
                .back()
                .is_none_or(|last| last.timestamp <= record.timestamp)
            {
                self.logs.push_back(record);
            } else {
                let at = self
                    .logs
                    .partition_point(|kept| kept.timestamp <= record.timestamp);
                self.logs.insert(at, record);
            }
        }
        while self.logs.len() > self.max_log_lines {
            self.logs.pop_front();
        }
        for span in emitted.spans {
            let entry = self.traces.entry(span.trace_id).or_insert_with(|| {
                self.trace_order.push_back(span.trace_id);
                Vec::new()
            });
            entry.push(span);
        }
        while self.trace_order.len() > self.max_traces {
            if let Some(oldest) = self.trace_order.pop_front() {
                self.traces.remove(&oldest);
            }
        }
    }

    /// The simulation.
    #[must_use]
    pub fn simulation(&self) -> &Simulation {
        &self.simulation
    }

    /// Exposition text of the current metrics.
    #[must_use]
    pub fn exposition(&self) -> String {
        let pod_name = |service, generation| self.simulation.pod_name(service, generation);
        let mut families: Vec<MetricFamily> = FAMILIES
            .iter()
            .map(|(name, kind, help)| MetricFamily {
                name: (*name).to_owned(),
                help: (*help).to_owned(),
                kind: match *kind {
                    "counter" => MetricKind::Counter,
                    "histogram" => MetricKind::Histogram,
                    _ => MetricKind::Gauge,
                },
                samples: Vec::new(),
            })
            .collect();
        for (key, value) in self.simulation.metrics().snapshot() {
            let (name, labels) = describe(key, &pod_name);
            let family = families.iter_mut().find(|family| {
                name == family.name
                    || name
                        .strip_prefix(family.name.as_str())
                        .is_some_and(|rest| ["_bucket", "_sum", "_count"].contains(&rest))
            });
            if let Some(family) = family {
                family.samples.push(ExpositionSample {
                    name,
                    labels,
                    value,
                    timestamp_ms: None,
                });
            }
        }
        encode_exposition(&families)
    }
}

type Shared = Arc<Mutex<SimHost>>;

fn wall_clock() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// Builds the host for `options`: the schedule compressed by `speed`, starting now.
///
/// # Errors
/// When the fault names an unknown service or the speed is not positive.
pub fn start_host(options: &ServeOptions) -> Result<SimHost, ServeError> {
    if !(options.speed.is_finite() && options.speed > 0.0) {
        return Err(ServeError::Config(format!(
            "speed must be a positive number, got {}",
            options.speed
        )));
    }
    let mut config = options.config.clone();
    config.start = Timestamp::from_secs(wall_clock().as_secs());
    config.baseline = config.baseline.div_f64(options.speed);
    config.fault_duration = config
        .fault_duration
        .div_f64(options.speed)
        .max(Duration::from_secs(1));
    config.recovery = config.recovery.div_f64(options.speed);
    let simulation = Simulation::new(config).map_err(ServeError::Config)?;
    Ok(SimHost::new(
        simulation,
        options.max_log_lines,
        options.max_traces,
    ))
}

/// The HTTP routes over a shared host (used by [`serve`] and by tests).
pub fn router(host: Shared) -> Router {
    Router::new()
        .route("/ready", get(|| async { "ready" }))
        .route("/metrics", get(metrics))
        .route("/loki/api/v1/query_range", get(loki_query_range).post(loki_query_range))
        .route("/loki/api/v1/query", get(loki_query).post(loki_query))
        .route("/loki/api/v1/labels", get(loki_labels))
        .route("/loki/api/v1/label/{name}/values", get(loki_label_values))
        .route("/loki/api/v1/status/buildinfo", get(|| async { axum::Json(serde_json::json!({"version": "3.2.0", "revision": "baynet-sim", "branch": "sim"})) }))
        .route("/api/echo", get(|| async { "echo" }))
        .route("/api/status/buildinfo", get(|| async { axum::Json(serde_json::json!({"version": "2.6.0", "revision": "baynet-sim", "branch": "sim"})) }))
        .route("/api/search", get(tempo_search))
        .route("/api/traces/{id}", get(tempo_trace_v1))
        .route("/api/v2/traces/{id}", get(tempo_trace_v2))
        .with_state(host)
}

/// Serves until `shutdown` resolves.
///
/// # Errors
/// When the simulation is invalid or the address cannot be bound.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let host = Arc::new(Mutex::new(start_host(&options)?));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: options.listen,
            source,
        })?;
    let ticker_host = Arc::clone(&host);
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(250));
        loop {
            interval.tick().await;
            if let Ok(mut host) = ticker_host.lock() {
                host.advance_to(wall_clock());
            }
        }
    });
    let result = axum::serve(listener, router(host))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Serve);
    ticker.abort();
    result
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

fn lock(host: &Shared) -> Result<std::sync::MutexGuard<'_, SimHost>, Response> {
    host.lock().map_err(|_| {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulation state poisoned",
        )
    })
}

async fn metrics(State(host): State<Shared>) -> Response {
    match lock(&host) {
        Ok(host) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            host.exposition(),
        )
            .into_response(),
        Err(response) => response,
    }
}

/// Loki's timestamp rules: float seconds, ≤ 10-digit integers as seconds, longer as ns, RFC 3339.
fn loki_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if text.contains('.')
        && let Ok(secs) = text.parse::<f64>()
    {
        return Timestamp::from_secs_f64(secs);
    }
    if let Ok(integer) = text.parse::<i64>() {
        return Some(if text.trim_start_matches('-').len() <= 10 {
            Timestamp::from_secs(integer)
        } else {
            Timestamp(integer)
        });
    }
    Timestamp::parse_rfc3339(text)
}

fn loki_range(params: &HashMap<String, String>) -> Result<(Timestamp, Timestamp), Response> {
    let end = match params.get("end") {
        Some(text) => loki_time(text).ok_or_else(|| {
            plain(
                StatusCode::BAD_REQUEST,
                format!("invalid end time: cannot parse \"{text}\""),
            )
        })?,
        None => wall_clock(),
    };
    let start = match (params.get("start"), params.get("since")) {
        (Some(text), _) => loki_time(text).ok_or_else(|| {
            plain(
                StatusCode::BAD_REQUEST,
                format!("invalid start time: cannot parse \"{text}\""),
            )
        })?,
        (None, Some(since)) => end.minus(
            crate::model::time::parse_duration(since)
                .map_err(|e| plain(StatusCode::BAD_REQUEST, format!("invalid since: {e}")))?,
        ),
        (None, None) => end.minus(Duration::from_secs(3600)),
    };
    if end < start {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "end timestamp must not be before or equal to start time",
        ));
    }
    Ok((start, end))
}

async fn loki_query_range(
    State(host): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(query_text) = params.get("query") else {
        return plain(StatusCode::BAD_REQUEST, "query parameter is required");
    };
    let query = match LogQuery::parse(query_text) {
        Ok(query) => query,
        Err(message) => return plain(StatusCode::BAD_REQUEST, message),
    };
    let (start, end) = match loki_range(&params) {
        Ok(range) => range,
        Err(response) => return response,
    };
    let limit: usize = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(0)) | Some(Err(_)) => {
            return plain(StatusCode::BAD_REQUEST, "limit must be a positive value");
        }
        Some(Ok(limit)) if limit > 5000 => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!(
                    "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > 5000)"
                ),
            );
        }
        Some(Ok(limit)) => limit,
    };
    let direction = match params.get("direction").map(|d| d.to_ascii_lowercase()) {
        None => Direction::Backward,
        Some(d) if d == "backward" => Direction::Backward,
        Some(d) if d == "forward" => Direction::Forward,
        Some(_) => return plain(StatusCode::BAD_REQUEST, "invalid direction"),
    };
    let host = match lock(&host) {
        Ok(host) => host,
        Err(response) => return response,
    };
    let wanted = |r: &&LogRecord| {
        r.timestamp >= start
            && r.timestamp < end
            && query.selects(&r.labels)
            && query.keeps(&r.line)
    };
    let selected: Vec<LogRecord> = match direction {
        Direction::Forward => host
            .logs
            .iter()
            .filter(wanted)
            .take(limit)
            .cloned()
            .collect(),
        // Newest first, as Loki answers a backward query.
        Direction::Backward => host
            .logs
            .iter()
            .rev()
            .filter(wanted)
            .take(limit)
            .cloned()
            .collect(),
    };
    axum::Json(wire::loki::encode_streams(&selected, direction)).into_response()
}

async fn loki_query(Query(params): Query<HashMap<String, String>>) -> Response {
    match params.get("query").map(|q| LogQuery::parse(q)) {
        Some(Ok(_)) => plain(
            StatusCode::BAD_REQUEST,
            "log queries are not supported as an instant query type, please change your query to a range query type",
        ),
        Some(Err(message)) => plain(StatusCode::BAD_REQUEST, message),
        None => plain(StatusCode::BAD_REQUEST, "query parameter is required"),
    }
}

async fn loki_labels(
    State(host): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (start, end) = match loki_range(&params) {
        Ok(range) => range,
        Err(response) => return response,
    };
    let host = match lock(&host) {
        Ok(host) => host,
        Err(response) => return response,
    };
    let mut names: Vec<String> = host
        .logs
        .iter()
        .filter(|r| r.timestamp >= start && r.timestamp < end)
        .flat_map(|r| r.labels.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    axum::Json(wire::loki::encode_labels(&names)).into_response()
}

async fn loki_label_values(
    State(host): State<Shared>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (start, end) = match loki_range(&params) {
        Ok(range) => range,
        Err(response) => return response,
    };
    let host = match lock(&host) {
        Ok(host) => host,
        Err(response) => return response,
    };
    let mut values: Vec<String> = host
        .logs
        .iter()
        .filter(|r| r.timestamp >= start && r.timestamp < end)
        .filter_map(|r| r.labels.get(&name).cloned())
        .collect();
    values.sort();
    values.dedup();
    axum::Json(wire::loki::encode_labels(&values)).into_response()
}

async fn tempo_search(
    State(host): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = match (params.get("q"), params.get("tags")) {
        (Some(_), Some(_)) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "invalid request: can't specify tags and q in the same query",
            );
        }
        (Some(q), None) => TraceQuery::parse_traceql(q),
        (None, tags) => TraceQuery::parse_tags(
            tags.map_or("", String::as_str),
            params.get("minDuration").map(String::as_str),
            params.get("maxDuration").map(String::as_str),
        ),
    };
    let query = match query {
        Ok(query) => query,
        Err(message) => return plain(StatusCode::BAD_REQUEST, message),
    };
    let range = match (params.get("start"), params.get("end")) {
        (Some(start), Some(end)) => match (start.parse::<u32>(), end.parse::<u32>()) {
            (Ok(start), Ok(end)) if start <= end => {
                if end - start > 168 * 3600 {
                    return plain(
                        StatusCode::BAD_REQUEST,
                        "range specified by start and end exceeds 168h0m0s",
                    );
                }
                Some((
                    Timestamp::from_secs(i64::from(start)),
                    Timestamp::from_secs(i64::from(end) + 1),
                ))
            }
            (Ok(_), Ok(_)) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "http parameter start must be before end",
                );
            }
            _ => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "invalid start or end: expected Unix seconds",
                );
            }
        },
        (None, None) => None,
        _ => {
            return plain(
                StatusCode::BAD_REQUEST,
                "only one of start and end provided",
            );
        }
    };
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(20)
        .min(1000);
    let spans_per_set = params
        .get("spss")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(3);
    if spans_per_set > 100 {
        return plain(StatusCode::BAD_REQUEST, "invalid spss: must be at most 100");
    }
    let host = match lock(&host) {
        Ok(host) => host,
        Err(response) => return response,
    };
    let mut results = Vec::new();
    for trace_id in host.trace_order.iter().rev() {
        if results.len() >= limit {
            break;
        }
        let Some(spans) = host.traces.get(trace_id) else {
            continue;
        };
        let Some(mut summary) = wire::tempo::summarize_trace(spans) else {
            continue;
        };
        if let Some((start, end)) = range
            && (summary.start < start || summary.start >= end)
        {
            continue;
        }
        let matched: Vec<&Span> = spans.iter().filter(|span| query.matches(span)).collect();
        if matched.is_empty() {
            continue;
        }
        summary.spans = matched
            .iter()
            .take(spans_per_set)
            .map(|span| wire::tempo::SearchSpan::from_span(span))
            .collect();
        results.push(summary);
    }
    axum::Json(wire::tempo::encode_search(&results)).into_response()
}

fn find_trace(host: &Shared, id: &str) -> Result<Vec<Span>, Response> {
    let trace_id = TraceId::from_hex(id).ok_or_else(|| {
        plain(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid trace id `{}`: expected up to 32 hex characters",
                id.chars().take(40).collect::<String>()
            ),
        )
    })?;
    let host = lock(host)?;
    host.traces
        .get(&trace_id)
        .cloned()
        .ok_or_else(|| (StatusCode::NOT_FOUND, "").into_response())
}

async fn tempo_trace_v1(State(host): State<Shared>, Path(id): Path<String>) -> Response {
    match find_trace(&host, &id) {
        Ok(spans) => axum::Json(wire::otlp::encode_tempo_v1(&spans)).into_response(),
        Err(response) => response,
    }
}

async fn tempo_trace_v2(State(host): State<Shared>, Path(id): Path<String>) -> Response {
    match find_trace(&host, &id) {
        Ok(spans) => axum::Json(wire::otlp::encode_tempo_v2(&spans)).into_response(),
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::SimHost;
    use crate::sim::engine::{SimConfig, Simulation};
    use std::time::Duration;

    #[test]
    fn logs_stay_in_timestamp_order_across_advances() {
        let config = SimConfig {
            seed: 5,
            load_per_sec: 20.0,
            ..SimConfig::default()
        };
        let start = config.start;
        let simulation = Simulation::new(config).expect("valid config");
        let mut host = SimHost::new(simulation, 100_000, 10_000);
        // Half-second advances, as a client polling the server does.
        for step in 1..=240_u64 {
            host.advance_to(start.plus(Duration::from_millis(step * 500)));
        }
        assert!(host.logs.len() > 1_000, "{} lines", host.logs.len());
        let out_of_order = host
            .logs
            .iter()
            .zip(host.logs.iter().skip(1))
            .filter(|(a, b)| a.timestamp > b.timestamp)
            .count();
        assert_eq!(out_of_order, 0, "lines out of order");
    }
}
