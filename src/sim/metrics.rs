//! The metrics a sock-shop pod set exposes: Istio standard metrics from both reporters (HTTP
//! counters and duration histograms, TCP bytes and connections), cAdvisor container CPU and
//! memory, kube-state-metrics restarts and deployment generations, and the RabbitMQ exporter's
//! queue depth. Counters are kept per compact key and turned into Prometheus labels on export.

use super::topology::{NAMESPACE, SERVICES};
use crate::model::Labels;
use std::collections::BTreeMap;

/// Istio's default bucket bounds of `istio_request_duration_milliseconds` (ms).
pub const DURATION_BUCKETS_MS: [f64; 18] = [
    1.0,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    30000.0,
    60000.0,
    300_000.0,
    600_000.0,
    1_800_000.0,
    3_600_000.0,
];

/// Who reported a request: the client's sidecar or the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reporter {
    /// Client-side proxy.
    Source,
    /// Server-side proxy.
    Destination,
}

impl Reporter {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Destination => "destination",
        }
    }
}

/// A service index into [`SERVICES`], or [`UNKNOWN`] for callers outside the mesh.
pub type ServiceIndex = usize;
/// The out-of-mesh load generator.
pub const UNKNOWN: ServiceIndex = usize::MAX;

/// Key of one HTTP series family member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpKey {
    /// Reporter.
    pub reporter: Reporter,
    /// Caller.
    pub source: ServiceIndex,
    /// Callee.
    pub destination: ServiceIndex,
    /// Response code (0 = no response).
    pub code: u16,
    /// Envoy response flags (`-` = none).
    pub flags: &'static str,
}

#[derive(Debug, Clone, Default)]
struct HttpStats {
    requests: f64,
    duration_sum_ms: f64,
    buckets: [f64; DURATION_BUCKETS_MS.len()],
}

/// Key of one TCP series family member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpKey {
    /// Reporter.
    pub reporter: Reporter,
    /// Caller.
    pub source: ServiceIndex,
    /// Callee.
    pub destination: ServiceIndex,
    /// Envoy response flags.
    pub flags: &'static str,
}

#[derive(Debug, Clone, Default)]
struct TcpStats {
    sent: f64,
    received: f64,
    opened: f64,
    closed: f64,
}

/// Identifies one exported series cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesKey {
    /// `istio_requests_total`.
    Requests(HttpKey),
    /// `istio_request_duration_milliseconds_bucket` with the bucket index (len = `+Inf`).
    DurationBucket(HttpKey, usize),
    /// `istio_request_duration_milliseconds_sum`.
    DurationSum(HttpKey),
    /// `istio_request_duration_milliseconds_count`.
    DurationCount(HttpKey),
    /// `istio_tcp_sent_bytes_total`.
    TcpSent(TcpKey),
    /// `istio_tcp_received_bytes_total`.
    TcpReceived(TcpKey),
    /// `istio_tcp_connections_opened_total`.
    TcpOpened(TcpKey),
    /// `istio_tcp_connections_closed_total`.
    TcpClosed(TcpKey),
    /// `container_cpu_usage_seconds_total` of a service's pod generation.
    Cpu(ServiceIndex, u32),
    /// `container_memory_working_set_bytes`.
    Memory(ServiceIndex, u32),
    /// `kube_pod_container_status_restarts_total`.
    Restarts(ServiceIndex, u32),
    /// `kube_deployment_status_observed_generation`.
    Generation(ServiceIndex),
    /// `rabbitmq_queue_messages_ready{queue="shipping-task"}`.
    QueueReady,
    /// `scrape_duration_seconds` of a service's pod generation: recorded by Prometheus for each
    /// scrape, never exposed by the pod ([`crate::sim::engine::Simulation::scrape_durations`]).
    ScrapeDuration(ServiceIndex, u32),
}

/// Metric families with their type and help, for exposition.
pub const FAMILIES: [(&str, &str, &str); 11] = [
    (
        "istio_requests_total",
        "counter",
        "Total requests, by reporter, source, destination, response code and flags.",
    ),
    (
        "istio_request_duration_milliseconds",
        "histogram",
        "Request duration in milliseconds.",
    ),
    (
        "istio_tcp_sent_bytes_total",
        "counter",
        "Bytes sent during TCP connections.",
    ),
    (
        "istio_tcp_received_bytes_total",
        "counter",
        "Bytes received during TCP connections.",
    ),
    (
        "istio_tcp_connections_opened_total",
        "counter",
        "TCP connections opened.",
    ),
    (
        "istio_tcp_connections_closed_total",
        "counter",
        "TCP connections closed.",
    ),
    (
        "container_cpu_usage_seconds_total",
        "counter",
        "Cumulative CPU time consumed in seconds.",
    ),
    (
        "container_memory_working_set_bytes",
        "gauge",
        "Current working set in bytes.",
    ),
    (
        "kube_pod_container_status_restarts_total",
        "counter",
        "Container restarts.",
    ),
    (
        "kube_deployment_status_observed_generation",
        "gauge",
        "Generation observed by the deployment controller.",
    ),
    (
        "rabbitmq_queue_messages_ready",
        "gauge",
        "Messages ready to be delivered.",
    ),
];

/// Per-container resource counters.
#[derive(Debug, Clone, Default)]
pub struct ContainerStats {
    /// CPU seconds since the container started.
    pub cpu_seconds: f64,
    /// Working set bytes.
    pub memory_bytes: f64,
    /// Restart count of the pod.
    pub restarts: f64,
}

/// All counters of the simulated mesh.
#[derive(Debug, Clone, Default)]
pub struct MeshMetrics {
    http: BTreeMap<HttpKey, HttpStats>,
    tcp: BTreeMap<TcpKey, TcpStats>,
    /// Per service: its current pod generation and container stats.
    pub containers: Vec<(u32, ContainerStats)>,
    /// Deployment generation per service.
    pub generations: Vec<u32>,
    /// RabbitMQ ready messages.
    pub queue_ready: f64,
}

impl MeshMetrics {
    /// Counters for `n_services` services, all at zero.
    #[must_use]
    pub fn new(n_services: usize) -> Self {
        Self {
            containers: vec![(0, ContainerStats::default()); n_services],
            generations: vec![1; n_services],
            ..Self::default()
        }
    }

    /// Records one HTTP request as seen by one reporter.
    pub fn record_http(&mut self, key: HttpKey, duration_ms: f64) {
        let stats = self.http.entry(key).or_default();
        stats.requests += 1.0;
        stats.duration_sum_ms += duration_ms;
        if let Some(bucket) = DURATION_BUCKETS_MS
            .iter()
            .position(|bound| duration_ms <= *bound)
        {
            stats.buckets[bucket] += 1.0;
        }
    }

    /// Records bytes and connection events of one TCP exchange.
    pub fn record_tcp(&mut self, key: TcpKey, sent: f64, received: f64, opened: f64, closed: f64) {
        let stats = self.tcp.entry(key).or_default();
        stats.sent += sent;
        stats.received += received;
        stats.opened += opened;
        stats.closed += closed;
    }

    /// Every series with its current value.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(SeriesKey, f64)> {
        let mut out = Vec::with_capacity(
            self.http.len() * 22 + self.tcp.len() * 4 + self.containers.len() * 3 + 16,
        );
        for (key, stats) in &self.http {
            out.push((SeriesKey::Requests(*key), stats.requests));
            let mut cumulative = 0.0;
            for (index, count) in stats.buckets.iter().enumerate() {
                cumulative += count;
                out.push((SeriesKey::DurationBucket(*key, index), cumulative));
            }
            out.push((
                SeriesKey::DurationBucket(*key, DURATION_BUCKETS_MS.len()),
                stats.requests,
            ));
            out.push((SeriesKey::DurationSum(*key), stats.duration_sum_ms));
            out.push((SeriesKey::DurationCount(*key), stats.requests));
        }
        for (key, stats) in &self.tcp {
            out.push((SeriesKey::TcpSent(*key), stats.sent));
            out.push((SeriesKey::TcpReceived(*key), stats.received));
            out.push((SeriesKey::TcpOpened(*key), stats.opened));
            out.push((SeriesKey::TcpClosed(*key), stats.closed));
        }
        for (index, (generation, stats)) in self.containers.iter().enumerate() {
            out.push((SeriesKey::Cpu(index, *generation), stats.cpu_seconds));
            out.push((SeriesKey::Memory(index, *generation), stats.memory_bytes));
            out.push((SeriesKey::Restarts(index, *generation), stats.restarts));
        }
        for index in 0..self.generations.len() {
            out.push((
                SeriesKey::Generation(index),
                f64::from(self.generations[index]),
            ));
        }
        out.push((SeriesKey::QueueReady, self.queue_ready));
        out
    }
}

fn workload(index: ServiceIndex) -> &'static str {
    SERVICES
        .get(index)
        .map_or("unknown", |service| service.name)
}

fn insert(labels: &mut Labels, key: &str, value: &str) {
    labels.insert(key.to_owned(), value.to_owned());
}

fn istio_labels(
    reporter: Reporter,
    source: ServiceIndex,
    destination: ServiceIndex,
    protocol: &str,
    flags: &str,
) -> Labels {
    let mut labels = Labels::new();
    let source_name = workload(source);
    let destination_name = workload(destination);
    let in_mesh = source != UNKNOWN;
    insert(&mut labels, "reporter", reporter.as_str());
    insert(&mut labels, "source_workload", source_name);
    insert(
        &mut labels,
        "source_workload_namespace",
        if in_mesh { NAMESPACE } else { "unknown" },
    );
    insert(&mut labels, "source_app", "unknown");
    insert(&mut labels, "source_canonical_service", source_name);
    insert(
        &mut labels,
        "source_principal",
        &if in_mesh {
            format!("spiffe://cluster.local/ns/{NAMESPACE}/sa/default")
        } else {
            "unknown".to_owned()
        },
    );
    insert(&mut labels, "destination_workload", destination_name);
    insert(&mut labels, "destination_workload_namespace", NAMESPACE);
    insert(&mut labels, "destination_app", "unknown");
    insert(
        &mut labels,
        "destination_canonical_service",
        destination_name,
    );
    insert(
        &mut labels,
        "destination_service",
        &format!("{destination_name}.{NAMESPACE}.svc.cluster.local"),
    );
    insert(&mut labels, "destination_service_name", destination_name);
    insert(&mut labels, "destination_service_namespace", NAMESPACE);
    insert(&mut labels, "request_protocol", protocol);
    insert(&mut labels, "response_flags", flags);
    insert(
        &mut labels,
        "connection_security_policy",
        match reporter {
            Reporter::Source => "unknown",
            Reporter::Destination if in_mesh => "mutual_tls",
            Reporter::Destination => "none",
        },
    );
    labels
}

fn container_labels(index: ServiceIndex, pod: &str) -> Labels {
    let mut labels = Labels::new();
    insert(&mut labels, "namespace", NAMESPACE);
    insert(&mut labels, "pod", pod);
    insert(&mut labels, "container", workload(index));
    labels
}

/// Turns a series key into its metric name and Prometheus labels; `pod_name(service,
/// generation)` names pods.
#[must_use]
pub fn describe(
    key: SeriesKey,
    pod_name: &dyn Fn(ServiceIndex, u32) -> String,
) -> (String, Labels) {
    match key {
        SeriesKey::Requests(http)
        | SeriesKey::DurationSum(http)
        | SeriesKey::DurationCount(http)
        | SeriesKey::DurationBucket(http, _) => {
            let mut labels = istio_labels(
                http.reporter,
                http.source,
                http.destination,
                "http",
                http.flags,
            );
            insert(&mut labels, "response_code", &http.code.to_string());
            let name = match key {
                SeriesKey::Requests(_) => "istio_requests_total",
                SeriesKey::DurationSum(_) => "istio_request_duration_milliseconds_sum",
                SeriesKey::DurationCount(_) => "istio_request_duration_milliseconds_count",
                SeriesKey::DurationBucket(_, index) => {
                    let bound = DURATION_BUCKETS_MS
                        .get(index)
                        .map_or_else(|| "+Inf".to_owned(), |bound| format!("{bound}"));
                    insert(&mut labels, "le", &bound);
                    "istio_request_duration_milliseconds_bucket"
                }
                _ => "istio_requests_total",
            };
            (name.to_owned(), labels)
        }
        SeriesKey::TcpSent(tcp)
        | SeriesKey::TcpReceived(tcp)
        | SeriesKey::TcpOpened(tcp)
        | SeriesKey::TcpClosed(tcp) => {
            let labels = istio_labels(tcp.reporter, tcp.source, tcp.destination, "tcp", tcp.flags);
            let name = match key {
                SeriesKey::TcpSent(_) => "istio_tcp_sent_bytes_total",
                SeriesKey::TcpReceived(_) => "istio_tcp_received_bytes_total",
                SeriesKey::TcpOpened(_) => "istio_tcp_connections_opened_total",
                _ => "istio_tcp_connections_closed_total",
            };
            (name.to_owned(), labels)
        }
        SeriesKey::Cpu(index, generation) => (
            "container_cpu_usage_seconds_total".to_owned(),
            container_labels(index, &pod_name(index, generation)),
        ),
        SeriesKey::Memory(index, generation) => (
            "container_memory_working_set_bytes".to_owned(),
            container_labels(index, &pod_name(index, generation)),
        ),
        SeriesKey::Restarts(index, generation) => (
            "kube_pod_container_status_restarts_total".to_owned(),
            container_labels(index, &pod_name(index, generation)),
        ),
        SeriesKey::Generation(index) => {
            let mut labels = Labels::new();
            insert(&mut labels, "namespace", NAMESPACE);
            insert(&mut labels, "deployment", workload(index));
            (
                "kube_deployment_status_observed_generation".to_owned(),
                labels,
            )
        }
        SeriesKey::ScrapeDuration(index, generation) => {
            // As the usual `kubernetes-pods` scrape job labels the pods' merged Istio endpoint.
            let pod = pod_name(index, generation);
            let mut labels = Labels::new();
            insert(&mut labels, "job", "kubernetes-pods");
            insert(&mut labels, "namespace", NAMESPACE);
            insert(&mut labels, "pod", &pod);
            insert(&mut labels, "app", workload(index));
            insert(&mut labels, "instance", &format!("{pod}:15020"));
            ("scrape_duration_seconds".to_owned(), labels)
        }
        SeriesKey::QueueReady => {
            let mut labels = Labels::new();
            insert(&mut labels, "namespace", NAMESPACE);
            insert(&mut labels, "queue", "shipping-task");
            insert(&mut labels, "vhost", "/");
            ("rabbitmq_queue_messages_ready".to_owned(), labels)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        let mut metrics = MeshMetrics::new(SERVICES.len());
        let key = HttpKey {
            reporter: Reporter::Destination,
            source: 0,
            destination: 1,
            code: 200,
            flags: "-",
        };
        for duration in [0.5, 3.0, 3.0, 700.0, 1e9] {
            metrics.record_http(key, duration);
        }
        let snapshot = metrics.snapshot();
        let bucket = |index: usize| {
            snapshot
                .iter()
                .find(|(k, _)| *k == SeriesKey::DurationBucket(key, index))
                .map(|(_, v)| *v)
        };
        assert_eq!(bucket(0), Some(1.0));
        assert_eq!(bucket(1), Some(3.0));
        assert_eq!(bucket(8), Some(4.0));
        assert_eq!(bucket(DURATION_BUCKETS_MS.len()), Some(5.0));
        let (name, labels) = describe(
            SeriesKey::DurationBucket(key, DURATION_BUCKETS_MS.len()),
            &|_, _| "p".to_owned(),
        );
        assert_eq!(name, "istio_request_duration_milliseconds_bucket");
        assert_eq!(labels.get("le").map(String::as_str), Some("+Inf"));
        assert_eq!(
            labels.get("destination_workload").map(String::as_str),
            Some("catalogue")
        );
        assert_eq!(
            labels.get("source_workload").map(String::as_str),
            Some("front-end")
        );
        let (_, labels) = describe(SeriesKey::DurationBucket(key, 0), &|_, _| "p".to_owned());
        assert_eq!(labels.get("le").map(String::as_str), Some("1"));
    }
}
