//! Learns the service graph from telemetry: Istio's request and TCP metrics (caller and callee
//! workloads of every edge), trace parent → child pairs across services, and an explicit graph
//! when one is given. Pure.

use crate::model::{CallEdge, Protocol, Series, ServiceGraph, ServiceRole, Span, SpanId};
use std::collections::{BTreeMap, HashMap};

/// Workload names that stand for "no sidecar here" in Istio's labels.
fn is_unknown(name: &str) -> bool {
    name.is_empty() || name == "unknown"
}

/// Accumulates edge observations before they become a graph.
#[derive(Debug, Default)]
struct EdgeTally {
    requests: f64,
    errors: f64,
    tcp: bool,
    bytes: f64,
    latency_sum_ms: f64,
    latency_n: f64,
    trace_errors: f64,
}

/// Increase of a counter series over its samples, tolerating resets and NaN.
fn counter_increase(series: &Series) -> f64 {
    let mut total = 0.0;
    let mut last: Option<f64> = None;
    for sample in &series.samples {
        if !sample.value.is_finite() {
            continue;
        }
        if let Some(previous) = last {
            let delta = sample.value - previous;
            total += if delta >= 0.0 { delta } else { sample.value };
        }
        last = Some(sample.value);
    }
    total
}

fn duration_seconds(series: &Series) -> f64 {
    match (series.samples.first(), series.samples.last()) {
        (Some(first), Some(last)) if last.timestamp > first.timestamp => {
            #[allow(clippy::cast_precision_loss)]
            let nanos = (last.timestamp.0 - first.timestamp.0) as f64;
            nanos / 1e9
        }
        _ => 0.0,
    }
}

/// Builds the service graph from everything available. An explicit graph wins for the edges it
/// names; metric and trace edges add what it lacks, with their statistics.
#[must_use]
pub fn learn_service_graph(
    spans: &[Span],
    series: &[Series],
    explicit: Option<&ServiceGraph>,
) -> ServiceGraph {
    let mut tallies: BTreeMap<(String, String), EdgeTally> = BTreeMap::new();
    let mut span_seconds = 0.0_f64;
    let mut metric_seconds = 0.0_f64;
    for one in series {
        let name = one.name();
        let (Some(source), Some(destination)) = (
            one.labels.get("source_workload"),
            one.labels.get("destination_workload"),
        ) else {
            continue;
        };
        if is_unknown(source) || is_unknown(destination) || source == destination {
            continue;
        }
        // Count each edge once: the client side reports what the caller saw.
        if one
            .labels
            .get("reporter")
            .is_some_and(|r| r == "destination")
            && name != "istio_tcp_connections_opened_total"
            && !name.starts_with("istio_tcp_")
        {
            continue;
        }
        let key = (source.clone(), destination.clone());
        match name {
            "istio_requests_total" => {
                let increase = counter_increase(one);
                metric_seconds = metric_seconds.max(duration_seconds(one));
                let tally = tallies.entry(key).or_default();
                tally.requests += increase;
                let code = one.labels.get("response_code").map_or("", String::as_str);
                if code == "0" || code.starts_with('5') {
                    tally.errors += increase;
                }
            }
            "istio_tcp_sent_bytes_total" | "istio_tcp_received_bytes_total" => {
                let increase = counter_increase(one);
                metric_seconds = metric_seconds.max(duration_seconds(one));
                let tally = tallies.entry(key).or_default();
                tally.tcp = true;
                tally.bytes += increase;
            }
            "istio_tcp_connections_opened_total" => {
                let tally = tallies.entry(key).or_default();
                tally.tcp = true;
            }
            _ => {}
        }
    }
    // Trace edges: a span whose parent belongs to another service is a call parent → child.
    let by_id: HashMap<(crate::model::TraceId, SpanId), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.trace_id, s.span_id), i))
        .collect();
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for span in spans {
        first = first.min(span.start.0);
        last = last.max(span.end.0);
        let Some(parent_id) = span.parent_span_id else {
            continue;
        };
        let Some(&parent) = by_id.get(&(span.trace_id, parent_id)) else {
            continue;
        };
        let caller = &spans[parent].service;
        if caller == &span.service || is_unknown(caller) || is_unknown(&span.service) {
            continue;
        }
        let tally = tallies
            .entry((caller.clone(), span.service.clone()))
            .or_default();
        tally.latency_sum_ms += span.duration().as_secs_f64() * 1000.0;
        tally.latency_n += 1.0;
        if span.is_error() {
            tally.trace_errors += 1.0;
        }
    }
    if last > first {
        #[allow(clippy::cast_precision_loss)]
        let seconds = (last - first) as f64 / 1e9;
        span_seconds = seconds;
    }
    let mut graph = explicit.cloned().unwrap_or_default();
    for ((caller, callee), tally) in &tallies {
        let from_metrics = tally.requests > 0.0 || tally.tcp;
        let (rate, error_rate) = if tally.requests > 0.0 && metric_seconds > 0.0 {
            (
                tally.requests / metric_seconds,
                tally.errors / tally.requests,
            )
        } else if !from_metrics && span_seconds > 0.0 {
            (
                tally.latency_n / span_seconds,
                tally.trace_errors / tally.latency_n.max(1.0),
            )
        } else {
            (0.0, f64::NAN)
        };
        let latency_ms = if tally.latency_n > 0.0 {
            tally.latency_sum_ms / tally.latency_n
        } else {
            f64::NAN
        };
        let edge = CallEdge {
            protocol: if tally.tcp && tally.requests == 0.0 {
                Protocol::Tcp
            } else {
                Protocol::Http
            },
            request_rate: rate,
            error_rate,
            latency_ms,
            bytes_rate: if metric_seconds > 0.0 {
                tally.bytes / metric_seconds
            } else {
                0.0
            },
        };
        for name in [caller, callee] {
            if graph.service(name).is_none() {
                graph.add_service_with_role(name, ServiceRole::guess(name));
            }
        }
        if explicit.is_some_and(|g| g.edge(caller, callee).is_some()) {
            // Keep the explicit protocol, refresh the statistics.
            let protocol = graph
                .edge(caller, callee)
                .map_or(edge.protocol, |e| e.protocol);
            graph.set_edge(caller, callee, CallEdge { protocol, ..edge });
        } else {
            graph.set_edge(caller, callee, edge);
        }
    }
    // Services that only appear as span owners still belong in the graph.
    for span in spans {
        if !is_unknown(&span.service) && graph.service(&span.service).is_none() {
            graph.add_service_with_role(&span.service, ServiceRole::guess(&span.service));
        }
    }
    graph
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Labels, Sample, Timestamp};

    fn counter(name: &str, pairs: &[(&str, &str)], values: &[f64]) -> Series {
        let mut labels = Labels::new();
        labels.insert("__name__".to_owned(), name.to_owned());
        for (k, v) in pairs {
            labels.insert((*k).to_owned(), (*v).to_owned());
        }
        Series {
            labels,
            samples: values
                .iter()
                .enumerate()
                .map(|(i, &value)| Sample {
                    timestamp: Timestamp(i64::try_from(i).unwrap_or(0) * 15_000_000_000),
                    value,
                })
                .collect(),
        }
    }

    #[test]
    fn istio_metrics_give_http_and_tcp_edges_with_rates() {
        let series = vec![
            counter(
                "istio_requests_total",
                &[
                    ("reporter", "source"),
                    ("source_workload", "orders"),
                    ("destination_workload", "payment"),
                    ("response_code", "200"),
                ],
                &[0.0, 135.0, 270.0],
            ),
            counter(
                "istio_requests_total",
                &[
                    ("reporter", "source"),
                    ("source_workload", "orders"),
                    ("destination_workload", "payment"),
                    ("response_code", "503"),
                ],
                &[0.0, 15.0, 30.0],
            ),
            // The server-side copy of the same requests must not double the rate.
            counter(
                "istio_requests_total",
                &[
                    ("reporter", "destination"),
                    ("source_workload", "orders"),
                    ("destination_workload", "payment"),
                    ("response_code", "200"),
                ],
                &[0.0, 135.0, 270.0],
            ),
            counter(
                "istio_tcp_sent_bytes_total",
                &[
                    ("reporter", "source"),
                    ("source_workload", "orders"),
                    ("destination_workload", "orders-db"),
                ],
                &[0.0, 3000.0, 6000.0],
            ),
            counter(
                "istio_requests_total",
                &[
                    ("reporter", "destination"),
                    ("source_workload", "unknown"),
                    ("destination_workload", "front-end"),
                    ("response_code", "200"),
                ],
                &[0.0, 10.0],
            ),
        ];
        let graph = learn_service_graph(&[], &series, None);
        let edge = graph.edge("orders", "payment").expect("http edge");
        assert_eq!(edge.protocol, Protocol::Http);
        assert!(
            (edge.request_rate - 10.0).abs() < 1e-9,
            "{}",
            edge.request_rate
        );
        assert!((edge.error_rate - 0.1).abs() < 1e-9);
        let db = graph.edge("orders", "orders-db").expect("tcp edge");
        assert_eq!(db.protocol, Protocol::Tcp);
        assert!((db.bytes_rate - 200.0).abs() < 1e-9);
        assert_eq!(
            graph.edge_count(),
            2,
            "the sidecar-less load generator adds no edge"
        );
    }

    #[test]
    fn simulator_telemetry_recovers_the_sock_shop_graph() {
        let config = crate::sim::SimConfig {
            seed: 3,
            baseline: std::time::Duration::from_secs(180),
            fault_duration: std::time::Duration::ZERO,
            recovery: std::time::Duration::ZERO,
            ..crate::sim::SimConfig::default()
        };
        let dataset = crate::sim::run::run(config).expect("simulation");
        let learned = learn_service_graph(&dataset.spans, &dataset.series, None);
        let truth = crate::sim::topology::service_graph();
        for (caller, callee, _) in truth.edges() {
            assert!(
                learned.edge(caller, callee).is_some(),
                "missing {caller} -> {callee}"
            );
        }
        assert_eq!(learned.service_count(), 14);
        assert_eq!(learned.edge_count(), truth.edge_count());
    }
}
