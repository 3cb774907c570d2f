//! Logs, spans, traces and metric series as Baynet sees them, whatever system they came from.

use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Serde for a shared label map: the map itself on the wire.
mod shared_labels {
    use super::Labels;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub(super) fn serialize<S: Serializer>(
        labels: &Arc<Labels>,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        labels.as_ref().serialize(out)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        input: D,
    ) -> Result<Arc<Labels>, D::Error> {
        Labels::deserialize(input).map(Arc::new)
    }
}

/// Label set of a log stream or metric series (sorted, so equal sets compare equal).
pub type Labels = BTreeMap<String, String>;

/// One log line of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When the line was written (Loki's entry timestamp).
    pub timestamp: Timestamp,
    /// The service (workload) the line belongs to, resolved from the stream labels.
    pub service: String,
    /// The stream labels (namespace, pod, container, …), shared by the lines of a stream: a
    /// line costs a pointer here, not its own copy of the map (`Labels` converts with `into`).
    /// Serialised as the plain map.
    #[serde(with = "shared_labels")]
    pub labels: Arc<Labels>,
    /// The raw line, untrusted: it may contain anything, including control characters.
    pub line: String,
}

/// A 128-bit trace id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct TraceId(pub [u8; 16]);

/// A 64-bit span id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct SpanId(pub [u8; 8]);

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for byte in bytes {
        write!(f, "{byte:02x}")?;
    }
    Ok(())
}

fn parse_hex_padded<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim();
    if text.is_empty() || text.len() > N * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{text:0>width$}", width = N * 2);
    let mut out = [0_u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&padded[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

impl TraceId {
    /// Parses lowercase or uppercase hex, left-padding ids whose leading zeros were stripped
    /// (as Tempo's search results do).
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex_padded::<16>(text).map(Self)
    }

    /// Builds an id from raw bytes: 16 bytes, or 8 bytes (64-bit ids of older tracers,
    /// right-aligned).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut out = [0_u8; 16];
        match bytes.len() {
            16 => out.copy_from_slice(bytes),
            8 => out[8..].copy_from_slice(bytes),
            _ => return None,
        }
        Some(Self(out))
    }

    /// 32 lowercase hex characters.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl SpanId {
    /// Parses hex (left-padding stripped leading zeros).
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex_padded::<8>(text).map(Self)
    }

    /// Builds an id from exactly 8 raw bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; 8]>::try_from(bytes).ok().map(Self)
    }

    /// 16 lowercase hex characters.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

/// OpenTelemetry span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SpanKind {
    /// Not specified by the producer.
    #[default]
    Unspecified,
    /// An internal operation.
    Internal,
    /// The server side of a call.
    Server,
    /// The client side of a call.
    Client,
    /// A message producer.
    Producer,
    /// A message consumer.
    Consumer,
}

/// OpenTelemetry span status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum StatusCode {
    /// No status set (OTLP's default, omitted on the wire).
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed.
    Error,
}

/// The status of a span.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SpanStatus {
    /// The code.
    pub code: StatusCode,
    /// An optional message (untrusted text).
    pub message: String,
}

/// An attribute value (OTLP `AnyValue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    /// Text.
    Str(String),
    /// A 64-bit integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    Array(Vec<AttributeValue>),
    /// Nested key/values.
    KvList(Vec<(String, AttributeValue)>),
}

impl AttributeValue {
    /// The value as text, if it is text.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The value as an integer: integers, integral doubles and numeric strings.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(value) => Some(*value),
            #[allow(clippy::cast_possible_truncation)]
            Self::Double(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => {
                Some(*value as i64)
            }
            Self::Str(text) => text.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Ordered attribute list (OTLP keeps order; duplicates are possible in untrusted input, the
/// first one wins on lookup).
pub type Attributes = Vec<(String, AttributeValue)>;

/// Looks an attribute up by key.
#[must_use]
pub fn find_attribute<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a AttributeValue> {
    attributes
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
}

/// One span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// Its parent, or `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// Operation name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// The service (workload) that produced the span, resolved from `service.name`
    /// (`carts.sock-shop` → `carts`).
    pub service: String,
    /// Start time.
    pub start: Timestamp,
    /// End time (never before `start` once decoded).
    pub end: Timestamp,
    /// Span attributes.
    pub attributes: Attributes,
    /// Resource attributes of the process that emitted the span.
    pub resource: Attributes,
    /// Status.
    pub status: SpanStatus,
}

impl Span {
    /// Duration of the span.
    #[must_use]
    pub fn duration(&self) -> std::time::Duration {
        self.end.since(self.start)
    }

    /// The HTTP status code from `http.status_code` or `http.response.status_code`
    /// (semantic conventions before and after 1.21), as a string or an integer.
    #[must_use]
    pub fn http_status(&self) -> Option<u16> {
        ["http.response.status_code", "http.status_code"]
            .iter()
            .find_map(|key| find_attribute(&self.attributes, key))
            .and_then(AttributeValue::as_i64)
            .and_then(|code| u16::try_from(code).ok())
    }

    /// Whether the span failed: an HTTP 5xx (or 0, no response) when a status is present,
    /// the span status otherwise.
    #[must_use]
    pub fn is_error(&self) -> bool {
        match self.http_status() {
            Some(code) => code >= 500 || code == 0,
            None => self.status.code == StatusCode::Error,
        }
    }

    /// A span attribute as text.
    #[must_use]
    pub fn attribute_str(&self, key: &str) -> Option<&str> {
        find_attribute(&self.attributes, key).and_then(AttributeValue::as_str)
    }
}

/// A trace: the spans sharing a trace id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The trace id.
    pub trace_id: TraceId,
    /// Its spans, in no particular order.
    pub spans: Vec<Span>,
}

impl Trace {
    /// The root span: the one without a parent, or whose parent is missing, earliest first.
    #[must_use]
    pub fn root(&self) -> Option<&Span> {
        let ids: std::collections::HashSet<SpanId> = self.spans.iter().map(|s| s.span_id).collect();
        self.spans
            .iter()
            .filter(|s| s.parent_span_id.is_none_or(|parent| !ids.contains(&parent)))
            .min_by_key(|s| s.start)
    }

    /// Earliest start to latest end over all spans.
    #[must_use]
    pub fn duration(&self) -> std::time::Duration {
        let start = self.spans.iter().map(|s| s.start).min();
        let end = self.spans.iter().map(|s| s.end).max();
        match (start, end) {
            (Some(start), Some(end)) => end.since(start),
            _ => std::time::Duration::ZERO,
        }
    }

    /// Groups spans by trace id, in order of first appearance.
    #[must_use]
    pub fn group(spans: Vec<Span>) -> Vec<Trace> {
        let mut index: std::collections::HashMap<TraceId, usize> = std::collections::HashMap::new();
        let mut traces: Vec<Trace> = Vec::new();
        for span in spans {
            let slot = *index.entry(span.trace_id).or_insert_with(|| {
                traces.push(Trace {
                    trace_id: span.trace_id,
                    spans: Vec::new(),
                });
                traces.len() - 1
            });
            traces[slot].spans.push(span);
        }
        traces
    }
}

/// One metric sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Sample time.
    pub timestamp: Timestamp,
    /// Value; may be NaN or infinite (Prometheus sends `"NaN"`, `"+Inf"`).
    pub value: f64,
}

/// A metric series: a name, labels and samples in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Labels, including `__name__` when the query kept it.
    pub labels: Labels,
    /// Samples, oldest first.
    pub samples: Vec<Sample>,
}

impl Series {
    /// The metric name (`__name__`), or the empty string for an aggregated series.
    #[must_use]
    pub fn name(&self) -> &str {
        self.labels.get("__name__").map_or("", String::as_str)
    }

    /// A label value.
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Resolves a service name from telemetry labels the way the usual Kubernetes setups name
/// workloads: `destination_workload`, `service`, `service_name`, `app`, `name`, `container`, then
/// the workload part of a pod name (`carts-7b9f6d8c4-x2x7k` → `carts`).
#[must_use]
pub fn service_from_labels(labels: &Labels) -> Option<String> {
    const KEYS: [&str; 9] = [
        "destination_workload",
        "workload",
        "service",
        "service_name",
        "app",
        "app_kubernetes_io_name",
        "name",
        "job",
        "container",
    ];
    for key in KEYS {
        if let Some(value) = labels.get(key) {
            let value = value.trim();
            if !value.is_empty() && value != "unknown" && value != "unknown_service" {
                return Some(service_from_service_name(value).to_owned());
            }
        }
    }
    labels
        .get("pod")
        .and_then(|pod| workload_from_pod(pod))
        .map(str::to_owned)
}

/// `carts.sock-shop` (Envoy's `service.name`) → `carts`; other names unchanged.
#[must_use]
pub fn service_from_service_name(name: &str) -> &str {
    if name.starts_with("unknown_service") {
        return "unknown";
    }
    name.split_once('.').map_or(name, |(head, _)| head)
}

/// The Deployment name of a pod name with a ReplicaSet hash and a pod suffix
/// (`carts-db-6c4f8d7b9-q8wzr` → `carts-db`), or of a StatefulSet pod (`rabbitmq-0` → `rabbitmq`).
#[must_use]
pub fn workload_from_pod(pod: &str) -> Option<&str> {
    let parts: Vec<&str> = pod.rsplitn(3, '-').collect();
    match parts.as_slice() {
        [suffix, hash, workload]
            if suffix.len() == 5
                && (6..=10).contains(&hash.len())
                && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Some(workload)
        }
        [ordinal, ..] if ordinal.chars().all(|c| c.is_ascii_digit()) && !ordinal.is_empty() => {
            pod.rsplit_once('-').map(|(workload, _)| workload)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_stripped_hex() {
        let id = TraceId::from_hex("a3ce929d0e0e47364bf92f3577b34da").expect("31 chars");
        assert_eq!(id.to_hex(), "0a3ce929d0e0e47364bf92f3577b34da");
        assert!(TraceId::from_hex("xyz").is_none());
        assert!(TraceId::from_hex("").is_none());
        assert!(TraceId::from_hex(&"f".repeat(33)).is_none());
        assert_eq!(
            SpanId::from_hex("f067aa0ba902b7").expect("ok").to_hex(),
            "00f067aa0ba902b7"
        );
        assert_eq!(
            TraceId::from_bytes(&[1; 8]).expect("8 bytes").0[..8],
            [0; 8]
        );
    }

    #[test]
    fn services_resolve_from_labels() {
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            service_from_labels(&labels(&[("name", "carts")])),
            Some("carts".into())
        );
        assert_eq!(
            service_from_labels(&labels(&[
                ("app", "unknown"),
                ("pod", "carts-db-6c4f8d7b9-q8wzr")
            ])),
            Some("carts-db".into())
        );
        assert_eq!(
            service_from_labels(&labels(&[("pod", "rabbitmq-0")])),
            Some("rabbitmq".into())
        );
        assert_eq!(
            service_from_labels(&labels(&[("service_name", "front-end.sock-shop")])),
            Some("front-end".into())
        );
        assert_eq!(service_from_labels(&labels(&[("pod", "weird")])), None);
    }

    #[test]
    fn http_status_reads_both_conventions() {
        let mut span = Span {
            trace_id: TraceId::default(),
            span_id: SpanId::default(),
            parent_span_id: None,
            name: "x".into(),
            kind: SpanKind::Server,
            service: "carts".into(),
            start: Timestamp(0),
            end: Timestamp(10),
            attributes: vec![("http.status_code".into(), AttributeValue::Str("503".into()))],
            resource: vec![],
            status: SpanStatus::default(),
        };
        assert_eq!(span.http_status(), Some(503));
        assert!(span.is_error());
        span.attributes = vec![("http.response.status_code".into(), AttributeValue::Int(200))];
        assert!(!span.is_error());
        span.attributes.clear();
        span.status.code = StatusCode::Error;
        assert!(span.is_error());
    }
}
