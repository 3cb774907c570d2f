//! Golden signals per workload from raw Prometheus series, computed in Rust the way the
//! PromQL of the Istio reference does: `rate()` over a range, `histogram_quantile()` over
//! summed bucket rates, saturation from cAdvisor, TCP bytes/connections and `UF` connection
//! failures for TCP-only services, and every other series as a per-service signal.
//!
//! Invariants: pure; counter resets are handled as Prometheus does (a drop starts a new
//! run); NaN and infinite samples are skipped; irregular steps are fine (rates divide by real
//! elapsed time); a series that first appears after the data start is taken to have started
//! from zero (Prometheus would lose that first increment; a new `response_code="503"` series is
//! exactly the signal we need).

use crate::detect::metrics::stats::ScaleFloor;
use crate::model::telemetry::{service_from_labels, workload_from_pod};
use crate::model::{Labels, Sample, Series, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One golden signal (or other per-service signal).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// HTTP requests per second received (server-side reports).
    Traffic,
    /// Share of requests answered 5xx or not at all (client-side reports when there are any).
    ErrorRatio,
    /// Median request duration, ms (server side).
    LatencyP50,
    /// 99th percentile request duration, ms (server side).
    LatencyP99,
    /// CPU cores used.
    Cpu,
    /// Working-set bytes.
    Memory,
    /// TCP bytes per second sent plus received (server side).
    TcpBytes,
    /// TCP connections opened per second (server side).
    TcpConnections,
    /// TCP connections per second that failed (`response_flags` other than `-`), client side.
    TcpFailures,
    /// Container restarts per second.
    Restarts,
    /// Seconds Prometheus took to scrape the service's pods (`scrape_duration_seconds`, the
    /// slowest pod): the pod's own egress shows in it (a bandwidth limit or added delay slows the
    /// metrics payload even when no request happens to queue behind it).
    ScrapeDuration,
    /// Any other series, by metric name.
    Other(String),
}

/// Which way a signal moves when something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Only increases are anomalous.
    Up,
    /// Both directions are anomalous.
    Both,
}

impl Signal {
    /// The name used in JSON and events (`error_ratio`, `latency_p99_ms`, or the metric name).
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::Traffic => "traffic_rps".into(),
            Self::ErrorRatio => "error_ratio".into(),
            Self::LatencyP50 => "latency_p50_ms".into(),
            Self::LatencyP99 => "latency_p99_ms".into(),
            Self::Cpu => "cpu_cores".into(),
            Self::Memory => "memory_bytes".into(),
            Self::TcpBytes => "tcp_bytes_per_s".into(),
            Self::TcpConnections => "tcp_connections_per_s".into(),
            Self::TcpFailures => "tcp_failures_per_s".into(),
            Self::Restarts => "restarts_per_s".into(),
            Self::ScrapeDuration => "scrape_duration_s".into(),
            Self::Other(name) => name.clone(),
        }
    }

    /// Which direction is anomalous.
    #[must_use]
    pub fn direction(&self) -> Direction {
        match self {
            Self::ErrorRatio
            | Self::LatencyP50
            | Self::LatencyP99
            | Self::TcpFailures
            | Self::Restarts
            | Self::ScrapeDuration => Direction::Up,
            _ => Direction::Both,
        }
    }

    /// Whether a routine deploy of the service explains a move of this signal (warm-up
    /// latency, a fresh container's CPU and memory, traffic shifting); errors are never
    /// explained away.
    #[must_use]
    pub fn explained_by_deploy(&self) -> bool {
        !matches!(self, Self::ErrorRatio | Self::TcpFailures | Self::Restarts)
    }

    /// The smallest spread assumed for the signal (documented defaults: error ratio ±2 points,
    /// latency ±25 % (p50) / ±50 % (p99): Istio's coarse buckets make interpolated quantiles
    /// jump by a bucket under plain noise; traffic ±20 %, CPU ±15 %, memory ±5 %, TCP ±20 %,
    /// failures 0.02/s, restarts 0.002/s, scrape duration 50 ms or ±50 %, other ±10 %).
    #[must_use]
    pub fn floor(&self) -> ScaleFloor {
        let (absolute, relative) = match self {
            Self::Traffic => (0.05, 0.2),
            Self::ErrorRatio => (0.02, 0.0),
            Self::LatencyP50 => (1.0, 0.25),
            Self::LatencyP99 => (5.0, 0.5),
            Self::Cpu => (0.005, 0.15),
            Self::Memory => (1_048_576.0, 0.05),
            Self::TcpBytes => (10.0, 0.2),
            Self::TcpConnections => (0.05, 0.3),
            Self::TcpFailures => (0.02, 0.0),
            Self::Restarts => (0.002, 0.0),
            Self::ScrapeDuration => (0.05, 0.5),
            Self::Other(_) => (1e-6, 0.1),
        };
        ScaleFloor { absolute, relative }
    }
}

/// The signals of one service, each a time series (NaN where undefined, e.g. the error ratio
/// without traffic). Live sources that already aggregate can fill this directly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoldenSignals {
    /// Signal → samples, oldest first.
    pub signals: BTreeMap<Signal, Vec<Sample>>,
    /// Requests behind each error-ratio point (rate × range, from the reports the ratio is
    /// taken from), same timestamps; empty when the source gave ratios without counts. Lets
    /// the decision tell an error burst from two errors among nineteen requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_ratio_requests: Vec<Sample>,
    /// The p99 as the decision reads it, same timestamps as the p99: the quantile at rank
    /// `min(0.99 · n, n − 1.5)` of the `n` requests in the range, halfway between the slowest
    /// and the second slowest, so that the slowest request alone cannot set it (at 60 requests
    /// the plain p99 is the slowest one); identical to the p99 from 150 requests up. Empty when
    /// the source gave no histogram.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_p99_decision: Vec<Sample>,
}

/// How raw series are turned into signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoldenConfig {
    /// Evaluation step (15 s, the scrape interval, by default).
    pub step: Duration,
    /// `rate()` range (60 s by default, ≥ 4 × the scrape interval).
    pub rate_window: Duration,
}

impl Default for GoldenConfig {
    fn default() -> Self {
        Self {
            step: Duration::from_secs(15),
            rate_window: Duration::from_secs(60),
        }
    }
}

/// Golden signals with the default 60 s rate range, evaluated every `step`.
#[must_use]
pub fn golden_signals_from_series(
    series: &[Series],
    step: Duration,
) -> BTreeMap<String, GoldenSignals> {
    golden_signals_with(
        series,
        GoldenConfig {
            step,
            ..GoldenConfig::default()
        },
    )
}

/// What a raw series contributes to.
enum Role {
    Requests { error: bool },
    Bucket { le: f64 },
    TcpBytes,
    TcpOpened { failed: bool },
    Cpu,
    Memory,
    Restarts,
    ScrapeDuration,
    Counter(String),
    Gauge(String),
    Ignore,
}

fn istio_destination(labels: &Labels) -> String {
    [
        "destination_workload",
        "destination_service_name",
        "destination_canonical_service",
    ]
    .iter()
    .filter_map(|key| labels.get(*key))
    .find(|value| !value.is_empty() && *value != "unknown")
    .cloned()
    .unwrap_or_else(|| "unknown".to_owned())
}

fn container_service(labels: &Labels) -> Option<String> {
    match labels.get("container").map(String::as_str) {
        Some("" | "POD" | "istio-proxy" | "istio-init") => None,
        Some(container) => Some(container.to_owned()),
        None => pod_service(labels),
    }
}

/// The workload of the series' `pod` label, else the service its other labels name.
fn pod_service(labels: &Labels) -> Option<String> {
    labels
        .get("pod")
        .and_then(|pod| workload_from_pod(pod))
        .map(str::to_owned)
        .or_else(|| service_from_labels(labels))
}

/// Service and role of one series; `reporter_source` tells whether it is a client-side report.
fn classify(series: &Series) -> (Option<String>, Role, bool) {
    let labels = &series.labels;
    let name = series.name();
    let reporter_source = labels.get("reporter").is_some_and(|r| r == "source");
    let destination = || Some(istio_destination(labels));
    match name {
        "istio_requests_total" => {
            let code = labels.get("response_code").map_or("", String::as_str);
            let error = code.starts_with('5') || code == "0";
            (destination(), Role::Requests { error }, reporter_source)
        }
        "istio_request_duration_milliseconds_bucket" => {
            let le = labels.get("le").map_or(f64::NAN, |le| {
                if le.trim() == "+Inf" {
                    f64::INFINITY
                } else {
                    le.trim().parse().unwrap_or(f64::NAN)
                }
            });
            if le.is_nan() || reporter_source {
                return (None, Role::Ignore, reporter_source);
            }
            (destination(), Role::Bucket { le }, reporter_source)
        }
        "istio_request_duration_milliseconds_sum" | "istio_request_duration_milliseconds_count" => {
            (None, Role::Ignore, reporter_source)
        }
        "istio_tcp_sent_bytes_total" | "istio_tcp_received_bytes_total" => {
            if reporter_source {
                (None, Role::Ignore, true)
            } else {
                (destination(), Role::TcpBytes, false)
            }
        }
        "istio_tcp_connections_opened_total" => {
            let flags = labels.get("response_flags").map_or("-", String::as_str);
            let failed = !(flags == "-" || flags.is_empty());
            if reporter_source != failed {
                // Successful opens are counted server side, failures client side only.
                return (None, Role::Ignore, reporter_source);
            }
            (destination(), Role::TcpOpened { failed }, reporter_source)
        }
        "istio_tcp_connections_closed_total" | "kube_deployment_status_observed_generation" => {
            (None, Role::Ignore, reporter_source)
        }
        "container_cpu_usage_seconds_total" => (container_service(labels), Role::Cpu, false),
        "container_memory_working_set_bytes" => (container_service(labels), Role::Memory, false),
        "kube_pod_container_status_restarts_total" => {
            (container_service(labels), Role::Restarts, false)
        }
        "scrape_duration_seconds" => (pod_service(labels), Role::ScrapeDuration, false),
        _ => {
            let service = service_from_labels(labels).or_else(|| {
                name.split('_')
                    .next()
                    .filter(|prefix| !prefix.is_empty())
                    .map(str::to_owned)
            });
            let role = if name.ends_with("_total") || name.ends_with("_count") {
                Role::Counter(name.to_owned())
            } else if name.is_empty() {
                Role::Gauge("value".to_owned())
            } else {
                Role::Gauge(name.to_owned())
            };
            (service, role, false)
        }
    }
}

/// A series reduced to its finite samples, with whether it appeared after the data start.
struct Clean<'a> {
    samples: Vec<&'a Sample>,
    born_late: bool,
}

impl Clean<'_> {
    /// Per-second increase over `(t − range, t]`, handling resets; `None` when the series has
    /// no sample in the range.
    fn rate(&self, t: Timestamp, range: Duration) -> Option<f64> {
        let from = t.minus(range);
        let end = self.samples.partition_point(|s| s.timestamp <= t);
        let begin = self.samples.partition_point(|s| s.timestamp <= from);
        if begin >= end {
            return None;
        }
        let (mut previous, base_time) = if begin > 0 {
            let base = self.samples[begin - 1];
            (base.value, base.timestamp)
        } else if self.born_late {
            (0.0, from)
        } else {
            let base = self.samples[begin];
            (base.value, base.timestamp)
        };
        let mut increase = 0.0;
        for sample in &self.samples[begin..end] {
            increase += if sample.value >= previous {
                sample.value - previous
            } else {
                sample.value
            };
            previous = sample.value;
        }
        let elapsed = self.samples[end - 1]
            .timestamp
            .since(base_time)
            .as_secs_f64();
        (elapsed > 0.0).then(|| increase / elapsed)
    }

    /// The latest value in `(t − lookback, t]` with its time.
    fn latest(&self, t: Timestamp, lookback: Duration) -> Option<(Timestamp, f64)> {
        let end = self.samples.partition_point(|s| s.timestamp <= t);
        let sample = self.samples.get(end.checked_sub(1)?)?;
        (sample.timestamp > t.minus(lookback)).then_some((sample.timestamp, sample.value))
    }
}

/// `histogram_quantile(q, …)` over `(upper bound, cumulative count)` pairs, as Prometheus
/// computes it: linear interpolation inside the bucket holding rank `q · total`, the lower bound
/// of the first bucket taken as 0, and the highest finite bound when the rank falls in `+Inf`.
/// NaN when there is no observation or no `+Inf` bucket.
#[must_use]
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let mut sorted: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, count)| !le.is_nan() && count.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    if sorted.last().is_none_or(|(le, _)| !le.is_infinite()) {
        return f64::NAN;
    }
    // Enforce monotonic cumulative counts (rates of separately scraped buckets can jitter).
    let mut running: f64 = 0.0;
    for bucket in &mut sorted {
        running = running.max(bucket.1);
        bucket.1 = running;
    }
    let total = running;
    if total <= 0.0 {
        return f64::NAN;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let index = sorted.partition_point(|(_, count)| *count < rank);
    let Some(&(upper, count)) = sorted.get(index) else {
        return f64::NAN;
    };
    if upper.is_infinite() {
        return sorted
            .len()
            .checked_sub(2)
            .map_or(f64::NAN, |i| sorted[i].0);
    }
    let (lower, below) = if index == 0 {
        (0.0_f64.min(upper), 0.0)
    } else {
        sorted[index - 1]
    };
    if count <= below {
        return upper;
    }
    lower + (upper - lower) * (rank - below) / (count - below)
}

#[derive(Default)]
struct ServiceParts<'a> {
    requests_source: Vec<(Clean<'a>, bool)>,
    requests_destination: Vec<(Clean<'a>, bool)>,
    buckets: Vec<(Clean<'a>, f64)>,
    tcp_bytes: Vec<Clean<'a>>,
    tcp_opened: Vec<Clean<'a>>,
    tcp_failed: Vec<Clean<'a>>,
    cpu: Vec<Clean<'a>>,
    memory: Vec<Clean<'a>>,
    restarts: Vec<Clean<'a>>,
    scrape_durations: Vec<Clean<'a>>,
    counters: BTreeMap<String, Vec<Clean<'a>>>,
    gauges: BTreeMap<String, Vec<Clean<'a>>>,
}

/// Golden signals per service, evaluated every `config.step` from the earliest to the latest
/// sample of all series.
#[must_use]
pub fn golden_signals_with(
    series: &[Series],
    config: GoldenConfig,
) -> BTreeMap<String, GoldenSignals> {
    let first = series
        .iter()
        .filter_map(|s| s.samples.iter().find(|p| p.value.is_finite()))
        .map(|p| p.timestamp)
        .min();
    let last = series
        .iter()
        .filter_map(|s| s.samples.iter().rev().find(|p| p.value.is_finite()))
        .map(|p| p.timestamp)
        .max();
    let (Some(first), Some(last)) = (first, last) else {
        return BTreeMap::new();
    };
    let mut parts: BTreeMap<String, ServiceParts<'_>> = BTreeMap::new();
    for one in series {
        let (service, role, reporter_source) = classify(one);
        let Some(service) = service else { continue };
        let mut samples: Vec<&Sample> =
            one.samples.iter().filter(|p| p.value.is_finite()).collect();
        samples.sort_by_key(|p| p.timestamp);
        let Some(born) = samples.first().map(|p| p.timestamp) else {
            continue;
        };
        let clean = Clean {
            samples,
            born_late: born > first,
        };
        let entry = parts.entry(service).or_default();
        match role {
            Role::Requests { error } if reporter_source => {
                entry.requests_source.push((clean, error));
            }
            Role::Requests { error } => entry.requests_destination.push((clean, error)),
            Role::Bucket { le } => entry.buckets.push((clean, le)),
            Role::TcpBytes => entry.tcp_bytes.push(clean),
            Role::TcpOpened { failed: true } => entry.tcp_failed.push(clean),
            Role::TcpOpened { failed: false } => entry.tcp_opened.push(clean),
            Role::Cpu => entry.cpu.push(clean),
            Role::Memory => entry.memory.push(clean),
            Role::Restarts => entry.restarts.push(clean),
            Role::ScrapeDuration => entry.scrape_durations.push(clean),
            Role::Counter(name) => entry.counters.entry(name).or_default().push(clean),
            Role::Gauge(name) => entry.gauges.entry(name).or_default().push(clean),
            Role::Ignore => {}
        }
    }
    let step = config.step.max(Duration::from_millis(1));
    let mut times = Vec::new();
    let mut t = first;
    while t <= last {
        times.push(t);
        t = t.plus(step);
    }
    parts
        .into_iter()
        .map(|(service, parts)| (service, evaluate(&parts, &times, config)))
        .collect()
}

fn sum_rates(series: &[Clean<'_>], t: Timestamp, range: Duration) -> Option<f64> {
    series
        .iter()
        .filter_map(|s| s.rate(t, range))
        .fold(None, |acc, rate| Some(acc.unwrap_or(0.0) + rate))
}

fn evaluate(parts: &ServiceParts<'_>, times: &[Timestamp], config: GoldenConfig) -> GoldenSignals {
    let range = config.rate_window;
    let mut signals: BTreeMap<Signal, Vec<Sample>> = BTreeMap::new();
    let mut error_ratio_requests = Vec::new();
    let mut latency_p99_decision = Vec::new();
    let mut push = |signal: Signal, t: Timestamp, value: Option<f64>| {
        signals.entry(signal).or_default().push(Sample {
            timestamp: t,
            value: value.unwrap_or(f64::NAN),
        });
    };
    let lookback = config.step.mul_f64(1.5).max(Duration::from_secs(1));
    for &t in times {
        if !parts.requests_destination.is_empty() || !parts.requests_source.is_empty() {
            let rates = |list: &[(Clean<'_>, bool)], errors_only: bool| {
                list.iter()
                    .filter(|(_, error)| !errors_only || *error)
                    .filter_map(|(s, _)| s.rate(t, range))
                    .fold(None, |acc: Option<f64>, rate| {
                        Some(acc.unwrap_or(0.0) + rate)
                    })
            };
            let traffic = rates(&parts.requests_destination, false);
            push(Signal::Traffic, t, traffic.or(Some(0.0)));
            let errors_from = if parts.requests_source.is_empty() {
                &parts.requests_destination
            } else {
                &parts.requests_source
            };
            let total = rates(errors_from, false).unwrap_or(0.0);
            let errors = rates(errors_from, true).unwrap_or(0.0);
            push(Signal::ErrorRatio, t, (total > 0.0).then(|| errors / total));
            error_ratio_requests.push(Sample {
                timestamp: t,
                value: total * range.as_secs_f64(),
            });
        }
        if !parts.buckets.is_empty() {
            let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
            for (clean, le) in &parts.buckets {
                if let Some(rate) = clean.rate(t, range) {
                    by_le.entry(le.to_bits()).or_insert((*le, 0.0)).1 += rate;
                }
            }
            let buckets: Vec<(f64, f64)> = by_le.into_values().collect();
            push(
                Signal::LatencyP50,
                t,
                Some(histogram_quantile(0.5, &buckets)),
            );
            push(
                Signal::LatencyP99,
                t,
                Some(histogram_quantile(0.99, &buckets)),
            );
            latency_p99_decision.push(Sample {
                timestamp: t,
                value: decision_quantile(0.99, &buckets, range),
            });
        }
        if !parts.tcp_bytes.is_empty() {
            push(
                Signal::TcpBytes,
                t,
                sum_rates(&parts.tcp_bytes, t, range).or(Some(0.0)),
            );
        }
        if !parts.tcp_opened.is_empty() {
            let opened = sum_rates(&parts.tcp_opened, t, range).or(Some(0.0));
            push(Signal::TcpConnections, t, opened);
        }
        if !parts.tcp_failed.is_empty() {
            let failed = sum_rates(&parts.tcp_failed, t, range).or(Some(0.0));
            push(Signal::TcpFailures, t, failed);
        }
        if !parts.cpu.is_empty() {
            push(Signal::Cpu, t, sum_rates(&parts.cpu, t, range));
        }
        if !parts.restarts.is_empty() {
            push(
                Signal::Restarts,
                t,
                sum_rates(&parts.restarts, t, range).or(Some(0.0)),
            );
        }
        if !parts.memory.is_empty() {
            push(Signal::Memory, t, sum_latest(&parts.memory, t, lookback));
        }
        if !parts.scrape_durations.is_empty() {
            let slowest = parts
                .scrape_durations
                .iter()
                .filter_map(|s| s.latest(t, lookback).map(|(_, value)| value))
                .reduce(f64::max);
            push(Signal::ScrapeDuration, t, slowest);
        }
        for (name, list) in &parts.counters {
            push(Signal::Other(name.clone()), t, sum_rates(list, t, range));
        }
        for (name, list) in &parts.gauges {
            push(
                Signal::Other(name.clone()),
                t,
                sum_latest(list, t, lookback),
            );
        }
    }
    GoldenSignals {
        signals,
        error_ratio_requests,
        latency_p99_decision,
    }
}

/// [`histogram_quantile`] of bucket *rates* over a `range`, at rank `min(q · n, n − 1.5)` of
/// the `n` requests the range holds (never above `q`): halfway between the slowest and the
/// second slowest request, so that no single request sets it (and clear of the rounding at
/// a bucket's exact count).
#[must_use]
pub fn decision_quantile(q: f64, bucket_rates: &[(f64, f64)], range: Duration) -> f64 {
    let total = bucket_rates
        .iter()
        .filter(|(le, count)| le.is_infinite() && count.is_finite())
        .map(|(_, count)| *count)
        .fold(0.0_f64, f64::max);
    let requests = total * range.as_secs_f64();
    let q = if requests > 1.5 {
        q.min(1.0 - 1.5 / requests)
    } else {
        q
    };
    histogram_quantile(q, bucket_rates)
}

/// Sums the latest value of each series that was sampled at the group's most recent scrape
/// (so a replaced pod's last value is not added to its successor's).
fn sum_latest(series: &[Clean<'_>], t: Timestamp, lookback: Duration) -> Option<f64> {
    let latest: Vec<(Timestamp, f64)> = series
        .iter()
        .filter_map(|s| s.latest(t, lookback))
        .collect();
    let newest = latest.iter().map(|(at, _)| *at).max()?;
    Some(
        latest
            .iter()
            .filter(|(at, _)| *at == newest)
            .map(|(_, value)| value)
            .sum(),
    )
}

#[cfg(test)]
mod tests;
