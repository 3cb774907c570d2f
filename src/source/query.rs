//! Pure query building and result shaping for the live sources: LogQL selectors, TraceQL and
//! tag searches, the golden-signal and service-graph PromQL of the Istio reference, a
//! Prometheus `step` that never exceeds the point limit, time chunking, and change events from
//! kube-state-metrics series.
//!
//! Invariant: pure (no I/O, no clock); every value spliced into a query is escaped, so a
//! service or namespace name can never change the query's structure.

use crate::config::LabelNames;
use crate::model::telemetry::{service_from_service_name, workload_from_pod};
use crate::model::{Series, TimeRange, Timestamp};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which logs to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSelection {
    /// Services (empty: the whole namespace).
    pub services: Vec<String>,
    /// Keep only lines containing this text.
    pub contains: Option<String>,
    /// At most this many lines (0: the configured limit).
    pub max_lines: usize,
}

/// Which traces to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceSelection {
    /// Traces touching one of these services (empty: any).
    pub services: Vec<String>,
    /// Only traces with an error span.
    pub errors_only: bool,
    /// Only spans at least this long.
    pub min_duration: Option<Duration>,
    /// At most this many traces (0: the configured limit).
    pub limit: usize,
}

/// A string literal for LogQL, PromQL or TraceQL (double-quoted, `\` and `"` escaped, control
/// characters dropped).
#[must_use]
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn alternatives(services: &[String]) -> String {
    services
        .iter()
        .map(|s| regex::escape(s))
        .collect::<Vec<_>>()
        .join("|")
}

/// `{namespace="sock-shop", name=~"carts|orders"} |= "text"`.
#[must_use]
pub fn logql(labels: &LabelNames, namespace: &str, selection: &LogSelection) -> String {
    let mut query = format!("{{{}={}", labels.namespace, quote(namespace));
    match selection.services.as_slice() {
        [] => {}
        [one] => query.push_str(&format!(", {}={}", labels.service, quote(one))),
        many => query.push_str(&format!(
            ", {}=~{}",
            labels.service,
            quote(&alternatives(many))
        )),
    }
    query.push('}');
    if let Some(text) = selection.contains.as_deref().filter(|t| !t.is_empty()) {
        query.push_str(&format!(" |= {}", quote(text)));
    }
    query
}

/// A TraceQL spanset filter: services match `name` or Envoy's `name.<namespace>`.
#[must_use]
pub fn traceql(labels: &LabelNames, selection: &TraceSelection) -> String {
    let mut conditions = Vec::new();
    if !selection.services.is_empty() {
        conditions.push(format!(
            "{} =~ {}",
            labels.trace_service,
            quote(&format!("({})(\\..*)?", alternatives(&selection.services)))
        ));
    }
    if selection.errors_only {
        conditions.push("status = error".to_owned());
    }
    if let Some(min) = selection.min_duration {
        conditions.push(format!("duration >= {}ms", min.as_millis().max(1)));
    }
    if conditions.is_empty() {
        "{ }".to_owned()
    } else {
        format!("{{ {} }}", conditions.join(" && "))
    }
}

/// Legacy tag searches (one per service, substring match on `service.name`); errors are
/// filtered after fetching.
#[must_use]
pub fn tag_searches(selection: &TraceSelection) -> Vec<String> {
    if selection.services.is_empty() {
        return vec![String::new()];
    }
    selection
        .services
        .iter()
        .map(|s| {
            let clean: String = s
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            format!("service.name={clean}")
        })
        .collect()
}

/// A Prometheus step for `range`: `preferred`, or larger so that no series exceeds
/// `max_points` points (whole seconds, at least 1 s).
#[must_use]
pub fn choose_step(range: Duration, preferred: Duration, max_points: usize) -> Duration {
    let max_points = max_points.max(2) as u64;
    let range_secs = range.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let needed = (range_secs / (max_points - 1) as f64).ceil();
    let preferred = preferred.as_secs_f64().ceil();
    Duration::from_secs_f64(needed.max(preferred).max(1.0))
}

/// Points a range query with `step` returns per series.
#[must_use]
pub fn points(range: Duration, step: Duration) -> u64 {
    if step.is_zero() {
        return u64::MAX;
    }
    (range.as_nanos() / step.as_nanos()) as u64 + 1
}

/// Splits `range` into consecutive chunks of at most `chunk` (the last may be shorter).
#[must_use]
pub fn chunks(range: TimeRange, chunk: Duration) -> Vec<TimeRange> {
    let mut out = Vec::new();
    let step = i64::try_from(chunk.as_nanos()).unwrap_or(i64::MAX).max(1);
    let mut start = range.start.0;
    // Bounded: at most 100k chunks.
    while start < range.end.0 && out.len() < 100_000 {
        let end = start.saturating_add(step).min(range.end.0);
        out.push(TimeRange {
            start: Timestamp(start),
            end: Timestamp(end),
        });
        start = end;
    }
    out
}

/// A PromQL range-vector window (`[75s]`) at least `minimum` long.
#[must_use]
pub fn window(duration: Duration, minimum: Duration) -> String {
    format!("[{}s]", duration.max(minimum).as_secs().max(1))
}

/// The Istio workload label on one side (`source_workload`, `destination_canonical_service`).
#[must_use]
pub fn side(labels: &LabelNames, side: &str) -> String {
    format!("{side}_{}", labels.workload)
}

/// The golden-signal queries, by role: traffic and errors by destination workload (server and
/// client reports), latency quantiles (ms), TCP bytes and connections, CPU, memory.
#[must_use]
pub fn golden_queries(
    labels: &LabelNames,
    namespace: &str,
    win: &str,
) -> Vec<(GoldenQuery, String)> {
    let dst = side(labels, "destination");
    let ns = quote(namespace);
    let requests = |reporter: &str, errors: bool| {
        format!(
            "sum by ({dst}) (rate(istio_requests_total{{reporter=\"{reporter}\", destination_workload_namespace={ns}{}}}{win}))",
            if errors {
                ", response_code=~\"5..|0\""
            } else {
                ""
            }
        )
    };
    let quantile = |q: f64| {
        format!(
            "histogram_quantile({q}, sum by ({dst}, le) (rate(istio_request_duration_milliseconds_bucket{{reporter=\"destination\", destination_workload_namespace={ns}}}{win})))"
        )
    };
    let containers =
        format!("namespace={ns}, container!=\"\", container!=\"POD\", container!=\"istio-proxy\"");
    vec![
        (GoldenQuery::ServerTotal, requests("destination", false)),
        (GoldenQuery::ServerErrors, requests("destination", true)),
        (GoldenQuery::ClientTotal, requests("source", false)),
        (GoldenQuery::ClientErrors, requests("source", true)),
        (GoldenQuery::P50, quantile(0.5)),
        (GoldenQuery::P99, quantile(0.99)),
        (
            GoldenQuery::TcpSent,
            format!(
                "sum by ({dst}) (rate(istio_tcp_sent_bytes_total{{reporter=\"destination\", destination_workload_namespace={ns}}}{win}))"
            ),
        ),
        (
            GoldenQuery::TcpReceived,
            format!(
                "sum by ({dst}) (rate(istio_tcp_received_bytes_total{{reporter=\"destination\", destination_workload_namespace={ns}}}{win}))"
            ),
        ),
        (
            GoldenQuery::TcpConnections,
            format!(
                "sum by ({dst}) (rate(istio_tcp_connections_opened_total{{reporter=\"destination\", destination_workload_namespace={ns}}}{win}))"
            ),
        ),
        (
            GoldenQuery::Cpu,
            format!(
                "sum by (container) (rate(container_cpu_usage_seconds_total{{{containers}}}{win}))"
            ),
        ),
        (
            GoldenQuery::Memory,
            format!("sum by (container) (container_memory_working_set_bytes{{{containers}}})"),
        ),
        (
            GoldenQuery::ScrapeDuration,
            format!("max by (pod) (scrape_duration_seconds{{namespace={ns}}})"),
        ),
    ]
}

/// The role of one golden-signal query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GoldenQuery {
    /// Requests/s, server reports.
    ServerTotal,
    /// 5xx or no-response requests/s, server reports.
    ServerErrors,
    /// Requests/s, client reports.
    ClientTotal,
    /// Failed requests/s, client reports.
    ClientErrors,
    /// Median latency, ms.
    P50,
    /// 99th percentile latency, ms.
    P99,
    /// TCP bytes/s sent by the server.
    TcpSent,
    /// TCP bytes/s received by the server.
    TcpReceived,
    /// TCP connections/s.
    TcpConnections,
    /// CPU cores.
    Cpu,
    /// Working-set bytes.
    Memory,
    /// Seconds Prometheus took to scrape each pod (its own `scrape_duration_seconds`, by the
    /// `pod` and `namespace` labels the usual `kubernetes-pods` job sets).
    ScrapeDuration,
}

/// Assembles per-workload golden signals from the results of [`golden_queries`]; the error
/// ratio uses client reports when a workload has any (so unreachable pods count), server
/// reports otherwise; a missing error series with traffic present is a ratio of 0.
#[must_use]
pub fn assemble_golden(
    labels: &LabelNames,
    results: &BTreeMap<GoldenQuery, Vec<Series>>,
) -> BTreeMap<String, crate::detect::metrics::golden::GoldenSignals> {
    use crate::detect::metrics::golden::{GoldenSignals, Signal};
    let dst = side(labels, "destination");
    let by_workload = |role: GoldenQuery, label: &str| -> BTreeMap<String, &Series> {
        results
            .get(&role)
            .map(|list| {
                list.iter()
                    .filter_map(|s| {
                        let name = s.labels.get(label)?;
                        (!name.is_empty() && name != "unknown").then(|| (name.clone(), s))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out: BTreeMap<String, GoldenSignals> = BTreeMap::new();
    let mut put = |service: &str, signal: Signal, series: &Series| {
        out.entry(service.to_owned())
            .or_default()
            .signals
            .insert(signal, series.samples.clone());
    };
    let server_total = by_workload(GoldenQuery::ServerTotal, &dst);
    for (service, series) in &server_total {
        put(service, Signal::Traffic, series);
    }
    for (role, signal) in [
        (GoldenQuery::P50, Signal::LatencyP50),
        (GoldenQuery::P99, Signal::LatencyP99),
        (GoldenQuery::TcpConnections, Signal::TcpConnections),
    ] {
        for (service, series) in by_workload(role, &dst) {
            put(&service, signal.clone(), series);
        }
    }
    for (role, signal) in [
        (GoldenQuery::Cpu, Signal::Cpu),
        (GoldenQuery::Memory, Signal::Memory),
    ] {
        for (service, series) in by_workload(role, "container") {
            put(&service, signal.clone(), series);
        }
    }
    // Scrape duration: the slowest pod of each workload, point by point.
    let mut scrape: BTreeMap<String, BTreeMap<Timestamp, f64>> = BTreeMap::new();
    for series in results
        .get(&GoldenQuery::ScrapeDuration)
        .map_or(&[][..], Vec::as_slice)
    {
        let Some(service) = series
            .labels
            .get("pod")
            .and_then(|pod| crate::model::telemetry::workload_from_pod(pod))
        else {
            continue;
        };
        let points = scrape.entry(service.to_owned()).or_default();
        for sample in series.samples.iter().filter(|s| s.value.is_finite()) {
            let slowest = points.entry(sample.timestamp).or_insert(sample.value);
            *slowest = slowest.max(sample.value);
        }
    }
    insert_points(&mut out, scrape, &Signal::ScrapeDuration);
    // TCP bytes: sent plus received, point by point.
    let mut tcp: BTreeMap<String, BTreeMap<Timestamp, f64>> = BTreeMap::new();
    for role in [GoldenQuery::TcpSent, GoldenQuery::TcpReceived] {
        for (service, series) in by_workload(role, &dst) {
            let points = tcp.entry(service).or_default();
            for sample in &series.samples {
                *points.entry(sample.timestamp).or_insert(0.0) += sample.value;
            }
        }
    }
    insert_points(&mut out, tcp, &Signal::TcpBytes);
    let client_total = by_workload(GoldenQuery::ClientTotal, &dst);
    let client_errors = by_workload(GoldenQuery::ClientErrors, &dst);
    let server_errors = by_workload(GoldenQuery::ServerErrors, &dst);
    let mut services: Vec<&String> = client_total.keys().chain(server_total.keys()).collect();
    services.sort();
    services.dedup();
    for service in services {
        let (total, errors) = match client_total.get(service) {
            Some(total) => (*total, client_errors.get(service).copied()),
            None => match server_total.get(service) {
                Some(total) => (*total, server_errors.get(service).copied()),
                None => continue,
            },
        };
        let ratio = ratio_series(total, errors);
        out.entry(service.clone())
            .or_default()
            .signals
            .insert(Signal::ErrorRatio, ratio);
    }
    out
}

/// Adds `signal` to each service's golden signals from its points (time → value).
fn insert_points(
    out: &mut BTreeMap<String, crate::detect::metrics::golden::GoldenSignals>,
    points: BTreeMap<String, BTreeMap<Timestamp, f64>>,
    signal: &crate::detect::metrics::golden::Signal,
) {
    for (service, points) in points {
        let samples = points
            .into_iter()
            .map(|(timestamp, value)| crate::model::Sample { timestamp, value })
            .collect();
        out.entry(service)
            .or_default()
            .signals
            .insert(signal.clone(), samples);
    }
}

fn ratio_series(total: &Series, errors: Option<&Series>) -> Vec<crate::model::Sample> {
    let errors: BTreeMap<Timestamp, f64> = errors
        .map(|e| e.samples.iter().map(|s| (s.timestamp, s.value)).collect())
        .unwrap_or_default();
    total
        .samples
        .iter()
        .map(|s| crate::model::Sample {
            timestamp: s.timestamp,
            value: if s.value > 0.0 && s.value.is_finite() {
                (errors.get(&s.timestamp).copied().unwrap_or(0.0) / s.value).clamp(0.0, 1.0)
            } else {
                f64::NAN
            },
        })
        .collect()
}

/// The service-graph queries over Istio metrics (client view for rates and errors, server view
/// for latency, TCP bytes and connections).
#[must_use]
pub fn graph_queries(labels: &LabelNames, namespace: &str, win: &str) -> Vec<(EdgeQuery, String)> {
    let src = side(labels, "source");
    let dst = side(labels, "destination");
    let ns = quote(namespace);
    vec![
        (
            EdgeQuery::Requests,
            format!(
                "sum by ({src}, {dst}) (rate(istio_requests_total{{reporter=\"source\", source_workload_namespace={ns}}}{win}))"
            ),
        ),
        (
            EdgeQuery::Errors,
            format!(
                "sum by ({src}, {dst}) (rate(istio_requests_total{{reporter=\"source\", source_workload_namespace={ns}, response_code=~\"5..|0\"}}{win}))"
            ),
        ),
        (
            EdgeQuery::LatencyP99,
            format!(
                "histogram_quantile(0.99, sum by ({src}, {dst}, le) (rate(istio_request_duration_milliseconds_bucket{{reporter=\"destination\", destination_workload_namespace={ns}}}{win})))"
            ),
        ),
        (
            EdgeQuery::TcpBytes,
            format!(
                "sum by ({src}, {dst}) (rate(istio_tcp_sent_bytes_total{{reporter=\"source\", source_workload_namespace={ns}}}{win}))"
            ),
        ),
        (
            EdgeQuery::TcpOpened,
            format!(
                "sum by ({src}, {dst}) (rate(istio_tcp_connections_opened_total{{reporter=\"source\", source_workload_namespace={ns}}}{win}))"
            ),
        ),
    ]
}

/// The service-graph queries over Tempo's metrics-generator series (`client`, `server`).
#[must_use]
pub fn tempo_graph_queries(win: &str) -> Vec<(EdgeQuery, String)> {
    vec![
        (
            EdgeQuery::Requests,
            format!("sum by (client, server) (rate(traces_service_graph_request_total{win}))"),
        ),
        (
            EdgeQuery::Errors,
            format!(
                "sum by (client, server) (rate(traces_service_graph_request_failed_total{win}))"
            ),
        ),
        (
            EdgeQuery::LatencyP99,
            format!(
                "1000 * histogram_quantile(0.99, sum by (client, server, le) (rate(traces_service_graph_request_server_seconds_bucket{win})))"
            ),
        ),
    ]
}

/// The role of one edge query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeQuery {
    /// Requests/s.
    Requests,
    /// Failed requests/s.
    Errors,
    /// p99 latency, ms.
    LatencyP99,
    /// TCP bytes/s.
    TcpBytes,
    /// TCP connections opened/s.
    TcpOpened,
}

/// Builds a graph from instant-query results keyed by `caller_label`/`callee_label`. Edges with
/// an `unknown` or empty side, a side whose raw label value is in `ignore` (Tempo names a
/// missing client `user`), or no traffic at all, are left out.
#[must_use]
pub fn assemble_graph(
    results: &BTreeMap<EdgeQuery, Vec<Series>>,
    caller_label: &str,
    callee_label: &str,
    ignore: &[&str],
) -> crate::model::ServiceGraph {
    use crate::model::{CallEdge, Protocol, ServiceGraph};
    let value = |s: &Series| s.samples.last().map_or(f64::NAN, |p| p.value);
    let key = |s: &Series| -> Option<(String, String)> {
        let raw_caller = s.labels.get(caller_label)?;
        let raw_callee = s.labels.get(callee_label)?;
        if ignore.contains(&raw_caller.as_str()) || ignore.contains(&raw_callee.as_str()) {
            return None;
        }
        let caller = service_from_service_name(raw_caller).to_owned();
        let callee = service_from_service_name(raw_callee).to_owned();
        let bad = |n: &str| n.is_empty() || n == "unknown";
        (!bad(&caller) && !bad(&callee) && caller != callee).then_some((caller, callee))
    };
    let mut edges: BTreeMap<(String, String), CallEdge> = BTreeMap::new();
    let collect = |role: EdgeQuery| -> BTreeMap<(String, String), f64> {
        let mut out = BTreeMap::new();
        for s in results.get(&role).into_iter().flatten() {
            if let Some(k) = key(s) {
                let v = value(s);
                if v.is_finite() {
                    *out.entry(k).or_insert(0.0) += v;
                } else {
                    out.entry(k).or_insert(f64::NAN);
                }
            }
        }
        out
    };
    let requests = collect(EdgeQuery::Requests);
    let errors = collect(EdgeQuery::Errors);
    let latency = collect(EdgeQuery::LatencyP99);
    let tcp_bytes = collect(EdgeQuery::TcpBytes);
    let tcp_opened = collect(EdgeQuery::TcpOpened);
    for (k, rate) in &requests {
        if rate.is_nan() || *rate <= 0.0 {
            continue;
        }
        edges.insert(
            k.clone(),
            CallEdge {
                protocol: Protocol::Http,
                request_rate: *rate,
                error_rate: (errors.get(k).copied().unwrap_or(0.0) / rate).clamp(0.0, 1.0),
                latency_ms: latency.get(k).copied().unwrap_or(f64::NAN),
                bytes_rate: 0.0,
            },
        );
    }
    for (k, bytes) in &tcp_bytes {
        let opened = tcp_opened.get(k).copied().unwrap_or(0.0);
        if edges.contains_key(k) || (bytes.is_nan() || *bytes <= 0.0) && opened <= 0.0 {
            continue;
        }
        edges.insert(
            k.clone(),
            CallEdge {
                protocol: Protocol::Tcp,
                request_rate: opened.max(0.0),
                error_rate: f64::NAN,
                latency_ms: f64::NAN,
                bytes_rate: bytes.max(0.0),
            },
        );
    }
    let mut graph = ServiceGraph::new();
    for ((caller, callee), edge) in edges {
        graph.set_edge(&caller, &callee, edge);
    }
    graph
}

/// A change visible in the metrics: a rollout, a restart, a new pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ChangeEvent {
    /// When it was first visible.
    pub at: Timestamp,
    /// The workload.
    pub service: String,
    /// What happened.
    pub kind: ChangeKind,
    /// Details (pod name, new generation).
    pub detail: String,
}

/// Kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// `kube_deployment_status_observed_generation` went up.
    Deploy,
    /// `kube_pod_container_status_restarts_total` went up.
    Restart,
    /// A pod whose series start after the data start.
    NewPod,
}

/// Change events from kube-state-metrics and cAdvisor series (any mix; other series ignored).
#[must_use]
pub fn change_events(series: &[Series]) -> Vec<ChangeEvent> {
    let data_start = series
        .iter()
        .filter_map(|s| s.samples.first().map(|p| p.timestamp))
        .min();
    let mut out = Vec::new();
    let mut pods_seen: BTreeMap<String, (Timestamp, String)> = BTreeMap::new();
    for one in series {
        let name = one.name();
        let service = || {
            one.labels
                .get("deployment")
                .or_else(|| one.labels.get("container"))
                .cloned()
                .or_else(|| {
                    one.labels
                        .get("pod")
                        .and_then(|p| workload_from_pod(p))
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "unknown".to_owned())
        };
        let rises = || {
            one.samples
                .windows(2)
                .filter(|w| {
                    w[0].value.is_finite() && w[1].value.is_finite() && w[1].value > w[0].value
                })
                .map(|w| (w[1].timestamp, w[1].value))
                .collect::<Vec<_>>()
        };
        match name {
            "kube_deployment_status_observed_generation" => {
                for (at, value) in rises() {
                    out.push(ChangeEvent {
                        at,
                        service: service(),
                        kind: ChangeKind::Deploy,
                        detail: format!("generation {value}"),
                    });
                }
            }
            "kube_pod_container_status_restarts_total" => {
                for (at, value) in rises() {
                    out.push(ChangeEvent {
                        at,
                        service: service(),
                        kind: ChangeKind::Restart,
                        detail: format!(
                            "pod {} restarts {value}",
                            one.labels.get("pod").map_or("?", String::as_str)
                        ),
                    });
                }
            }
            _ => {}
        }
        if let (Some(pod), Some(first)) = (one.labels.get("pod"), one.samples.first()) {
            let entry = pods_seen
                .entry(pod.clone())
                .or_insert((first.timestamp, service()));
            if first.timestamp < entry.0 {
                entry.0 = first.timestamp;
            }
        }
    }
    if let Some(start) = data_start {
        for (pod, (first, service)) in pods_seen {
            if first > start {
                out.push(ChangeEvent {
                    at: first,
                    service,
                    kind: ChangeKind::NewPod,
                    detail: format!("pod {pod}"),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The raw series `baynet fetch` saves (what the detectors read): Istio counters and
/// histograms, cAdvisor and kube-state-metrics of the namespace.
#[must_use]
pub fn raw_series_queries(namespace: &str) -> Vec<String> {
    let ns = quote(namespace);
    vec![
        format!("istio_requests_total{{destination_workload_namespace={ns}}}"),
        format!(
            "istio_request_duration_milliseconds_bucket{{destination_workload_namespace={ns}, reporter=\"destination\"}}"
        ),
        format!("{{__name__=~\"istio_tcp_.*_total\", destination_workload_namespace={ns}}}"),
        format!(
            "container_cpu_usage_seconds_total{{namespace={ns}, container!=\"\", container!=\"POD\"}}"
        ),
        format!(
            "container_memory_working_set_bytes{{namespace={ns}, container!=\"\", container!=\"POD\"}}"
        ),
        format!("kube_pod_container_status_restarts_total{{namespace={ns}}}"),
        format!("kube_deployment_status_observed_generation{{namespace={ns}}}"),
        format!("scrape_duration_seconds{{namespace={ns}}}"),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Labels, Sample};
    use proptest::prelude::*;

    fn labels() -> LabelNames {
        LabelNames {
            service: "name".into(),
            ..LabelNames::default()
        }
    }

    #[test]
    fn logql_and_traceql_are_escaped() {
        let l = labels();
        assert_eq!(
            logql(&l, "sock-shop", &LogSelection::default()),
            r#"{namespace="sock-shop"}"#
        );
        let sel = LogSelection {
            services: vec!["carts".into(), "orders".into()],
            contains: Some("say \"hi\"".into()),
            max_lines: 0,
        };
        assert_eq!(
            logql(&l, "sock-shop", &sel),
            r#"{namespace="sock-shop", name=~"carts|orders"} |= "say \"hi\"""#
        );
        let one = LogSelection {
            services: vec!["a.b".into()],
            ..LogSelection::default()
        };
        assert_eq!(logql(&l, "x\"}", &one), r#"{namespace="x\"}", name="a.b"}"#);
        let t = TraceSelection {
            services: vec!["carts".into()],
            errors_only: true,
            min_duration: Some(Duration::from_millis(500)),
            limit: 0,
        };
        assert_eq!(
            traceql(&l, &t),
            r#"{ resource.service.name =~ "(carts)(\\..*)?" && status = error && duration >= 500ms }"#
        );
        assert_eq!(traceql(&l, &TraceSelection::default()), "{ }");
        assert_eq!(
            tag_searches(&TraceSelection {
                services: vec!["carts\" x".into()],
                ..TraceSelection::default()
            }),
            vec!["service.name=cartsx"]
        );
    }

    #[test]
    fn step_keeps_under_the_point_limit() {
        let day = Duration::from_secs(86_400);
        let step = choose_step(day, Duration::from_secs(15), 11_000);
        assert_eq!(
            step,
            Duration::from_secs(15),
            "a day at 15 s is 5761 points"
        );
        let month = Duration::from_secs(30 * 86_400);
        let step = choose_step(month, Duration::from_secs(15), 11_000);
        assert!(points(month, step) <= 11_000, "{step:?}");
        assert_eq!(step, Duration::from_secs(236));
        assert_eq!(
            choose_step(Duration::from_secs(10), Duration::ZERO, 11_000),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn chunks_cover_the_range() {
        let range = TimeRange::new(Timestamp::from_secs(0), Timestamp::from_secs(250)).unwrap();
        let parts = chunks(range, Duration::from_secs(100));
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].start, Timestamp::from_secs(0));
        assert_eq!(parts[2].end, Timestamp::from_secs(250));
        assert_eq!(parts[1].start, parts[0].end);
    }

    fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
        Series {
            labels: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Labels>(),
            samples: samples
                .iter()
                .map(|(t, v)| Sample {
                    timestamp: Timestamp::from_secs(*t),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn golden_error_ratio_prefers_client_reports() {
        use crate::detect::metrics::golden::Signal;
        let l = labels();
        let mut results = BTreeMap::new();
        results.insert(
            GoldenQuery::ServerTotal,
            vec![
                series(
                    &[("destination_workload", "payment")],
                    &[(0, 2.0), (15, 2.0)],
                ),
                series(&[("destination_workload", "front-end")], &[(0, 10.0)]),
            ],
        );
        results.insert(
            GoldenQuery::ClientTotal,
            vec![series(
                &[("destination_workload", "payment")],
                &[(0, 4.0), (15, 4.0)],
            )],
        );
        results.insert(
            GoldenQuery::ClientErrors,
            vec![series(&[("destination_workload", "payment")], &[(15, 1.0)])],
        );
        results.insert(
            GoldenQuery::ServerErrors,
            vec![series(
                &[("destination_workload", "front-end")],
                &[(0, 1.0)],
            )],
        );
        results.insert(
            GoldenQuery::Cpu,
            vec![series(&[("container", "payment")], &[(0, 0.25)])],
        );
        let golden = assemble_golden(&l, &results);
        let payment = &golden["payment"].signals;
        assert_eq!(payment[&Signal::Traffic][0].value, 2.0);
        assert_eq!(payment[&Signal::ErrorRatio][0].value, 0.0);
        assert_eq!(payment[&Signal::ErrorRatio][1].value, 0.25);
        assert_eq!(payment[&Signal::Cpu][0].value, 0.25);
        assert_eq!(
            golden["front-end"].signals[&Signal::ErrorRatio][0].value,
            0.1
        );
    }

    #[test]
    fn golden_scrape_duration_is_the_slowest_pod_per_workload() {
        use crate::detect::metrics::golden::Signal;
        let mut results = BTreeMap::new();
        results.insert(
            GoldenQuery::ScrapeDuration,
            vec![
                series(
                    &[("pod", "orders-6c9d8f7b5-abcde")],
                    &[(0, 0.02), (15, 2.5)],
                ),
                series(
                    &[("pod", "orders-6c9d8f7b5-fghij")],
                    &[(0, 0.05), (15, 0.01), (30, f64::NAN)],
                ),
                series(&[("pod", "orders-db-7d8c9b6f4-klmno")], &[(0, 7.0)]),
                // No pod label: nothing to attribute it to.
                series(&[("job", "kubernetes-pods")], &[(0, 3.0)]),
            ],
        );
        let golden = assemble_golden(&labels(), &results);
        let orders = &golden["orders"].signals[&Signal::ScrapeDuration];
        assert_eq!(orders.len(), 2, "the NaN point is left out: {orders:?}");
        assert_eq!(orders[0].value, 0.05);
        assert_eq!(orders[1].value, 2.5);
        assert_eq!(
            golden["orders-db"].signals[&Signal::ScrapeDuration][0].value,
            7.0
        );
        assert_eq!(golden.len(), 2);
        let queries = golden_queries(&labels(), "sock-shop", "[60s]");
        assert!(
            queries
                .iter()
                .any(|(role, promql)| *role == GoldenQuery::ScrapeDuration
                    && promql == "max by (pod) (scrape_duration_seconds{namespace=\"sock-shop\"})")
        );
    }

    #[test]
    fn graph_from_edge_results() {
        let mut results = BTreeMap::new();
        let edge = |a: &str, b: &str, v: f64| {
            series(
                &[("source_workload", a), ("destination_workload", b)],
                &[(60, v)],
            )
        };
        results.insert(
            EdgeQuery::Requests,
            vec![
                edge("front-end", "carts", 12.0),
                edge("unknown", "front-end", 30.0),
                edge("front-end", "user", 4.0),
                edge("orders", "payment", 0.0),
            ],
        );
        results.insert(EdgeQuery::Errors, vec![edge("front-end", "carts", 3.0)]);
        results.insert(
            EdgeQuery::LatencyP99,
            vec![edge("front-end", "carts", 950.0)],
        );
        results.insert(EdgeQuery::TcpBytes, vec![edge("carts", "carts-db", 830.0)]);
        let graph = assemble_graph(&results, "source_workload", "destination_workload", &[]);
        assert_eq!(
            graph.edge_count(),
            3,
            "sock-shop's `user` service is a real node"
        );
        let e = graph.edge("front-end", "carts").unwrap();
        assert_eq!(e.request_rate, 12.0);
        assert_eq!(e.error_rate, 0.25);
        assert_eq!(e.latency_ms, 950.0);
        let tcp = graph.edge("carts", "carts-db").unwrap();
        assert_eq!(tcp.protocol, crate::model::Protocol::Tcp);
        assert_eq!(tcp.bytes_rate, 830.0);
        // Tempo names: `carts.sock-shop` → carts.
        let mut tempo = BTreeMap::new();
        tempo.insert(
            EdgeQuery::Requests,
            vec![
                series(
                    &[
                        ("client", "front-end.sock-shop"),
                        ("server", "carts.sock-shop"),
                    ],
                    &[(0, 5.0)],
                ),
                series(
                    &[
                        ("client", "front-end.sock-shop"),
                        ("server", "user.sock-shop"),
                    ],
                    &[(0, 5.0)],
                ),
                series(
                    &[("client", "user"), ("server", "front-end.sock-shop")],
                    &[(0, 5.0)],
                ),
            ],
        );
        let graph = assemble_graph(&tempo, "client", "server", &["user"]);
        assert_eq!(graph.edge_count(), 2);
        assert!(graph.edge("front-end", "carts").is_some());
        assert!(graph.edge("front-end", "user").is_some());
    }

    #[test]
    fn change_events_from_kube_state_metrics() {
        let list = vec![
            series(
                &[
                    ("__name__", "kube_deployment_status_observed_generation"),
                    ("deployment", "carts"),
                ],
                &[(0, 1.0), (15, 1.0), (30, 2.0)],
            ),
            series(
                &[
                    ("__name__", "kube_pod_container_status_restarts_total"),
                    ("container", "payment"),
                    ("pod", "payment-abc12-xyz98"),
                ],
                &[(0, 0.0), (15, 1.0), (30, 1.0)],
            ),
            series(
                &[
                    ("__name__", "container_cpu_usage_seconds_total"),
                    ("container", "payment"),
                    ("pod", "payment-def34-uvw76"),
                ],
                &[(45, 1.0)],
            ),
        ];
        let events = change_events(&list);
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[0].kind, ChangeKind::Restart);
        assert_eq!(events[0].service, "payment");
        assert_eq!(events[0].at, Timestamp::from_secs(15));
        assert_eq!(events[1].kind, ChangeKind::Deploy);
        assert_eq!(events[1].service, "carts");
        assert_eq!(events[2].kind, ChangeKind::NewPod);
        assert!(events[2].detail.contains("payment-def34"));
    }

    proptest! {
        #[test]
        fn step_never_exceeds_the_limit(range_s in 1u64..100_000_000, preferred in 0u64..3600, max_points in 2usize..20_000) {
            let range = Duration::from_secs(range_s);
            let step = choose_step(range, Duration::from_secs(preferred), max_points);
            prop_assert!(points(range, step) <= max_points as u64);
            prop_assert!(step >= Duration::from_secs(preferred.max(1)));
        }

        #[test]
        fn quoted_values_stay_one_literal(text in ".{0,40}") {
            let q = quote(&text);
            // Inside the quotes every `"` is escaped.
            let inner = &q[1..q.len() - 1];
            let mut escaped = false;
            for c in inner.chars() {
                if escaped { escaped = false; continue; }
                if c == '\\' { escaped = true; continue; }
                prop_assert!(c != '"');
            }
            prop_assert!(!escaped);
        }
    }
}
