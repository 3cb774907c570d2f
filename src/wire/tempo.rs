//! Tempo search results (`/api/search`): decoding, encoding in Tempo's exact shape, and
//! summarizing a trace's spans into a search result.
//!
//! Invariant: trace ids are always full 128-bit ids inside Baynet (search ids with stripped
//! leading zeros are left-padded on decode) and are written with leading zeros stripped, as
//! Tempo does, on encode; zero or empty fields are omitted on encode and default on decode.

use crate::model::telemetry::find_attribute;
use crate::model::{AttributeValue, Attributes, Span, SpanId, StatusCode, Timestamp, TraceId};
use crate::wire::WireError;
use crate::wire::json::{Path, object, opt_array, opt_int, opt_str, parse_document};
use crate::wire::otlp::values::{decode_attributes, encode_attributes};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

/// Span and error counts of one service within a trace (`serviceStats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceStats {
    /// Spans of the service in the trace.
    pub span_count: u32,
    /// Of which with status error.
    pub error_count: u32,
}

/// A matched span of a search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpan {
    /// The span id.
    pub span_id: SpanId,
    /// Operation name (may be empty: Tempo omits it unless selected).
    pub name: String,
    /// Start time.
    pub start: Timestamp,
    /// Duration in nanoseconds.
    pub duration_ns: u64,
    /// Attributes Tempo returned for the match (the queried ones).
    pub attributes: Attributes,
}

impl SearchSpan {
    /// The search view of a full span (no attributes: the caller adds the matched ones).
    #[must_use]
    pub fn from_span(span: &Span) -> Self {
        Self {
            span_id: span.span_id,
            name: span.name.clone(),
            start: span.start,
            duration_ns: u64::try_from(span.duration().as_nanos()).unwrap_or(u64::MAX),
            attributes: Vec::new(),
        }
    }
}

/// One trace of a Tempo search response.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    /// The full trace id.
    pub trace_id: TraceId,
    /// `service.name` of the root span (`<root span not yet received>` when Tempo lacks it).
    pub root_service_name: String,
    /// Name of the root span.
    pub root_trace_name: String,
    /// Start of the trace.
    pub start: Timestamp,
    /// Duration in milliseconds (0 when omitted).
    pub duration_ms: u64,
    /// Span and error counts per `service.name`.
    pub service_stats: BTreeMap<String, ServiceStats>,
    /// Matched spans (all span sets flattened).
    pub spans: Vec<SearchSpan>,
}

/// Decodes a `/api/search` body. A missing `traces` key means no results; `traceID`s with
/// stripped leading zeros are padded; an omitted `durationMs` is 0.
///
/// # Errors
/// [`WireError::NotJson`] for Tempo's plain-text errors, [`WireError::Invalid`] for bad ids or
/// numbers, with their path.
pub fn decode_search(bytes: &[u8]) -> Result<Vec<TraceSummary>, WireError> {
    decode_search_value(&parse_document(bytes)?)
}

/// As [`decode_search`], on a parsed document.
///
/// # Errors
/// As [`decode_search`].
pub fn decode_search_value(value: &Value) -> Result<Vec<TraceSummary>, WireError> {
    let root = Path::root();
    let obj = object(value, &root)?;
    let traces = opt_array(obj, "traces", &root)?;
    let traces_path = root.key("traces");
    traces
        .iter()
        .enumerate()
        .map(|(i, trace)| decode_trace(trace, &traces_path.index(i)))
        .collect()
}

fn u32_field(obj: &Map<String, Value>, key: &str, path: &Path) -> Result<u32, WireError> {
    let value = opt_int(obj, key, path)?.unwrap_or(0);
    u32::try_from(value).map_err(|_| path.key(key).err(format!("{value} is out of range")))
}

fn nonneg(obj: &Map<String, Value>, key: &str, path: &Path) -> Result<i64, WireError> {
    let value = opt_int(obj, key, path)?.unwrap_or(0);
    if value < 0 {
        return Err(path.key(key).err(format!("{value} is negative")));
    }
    Ok(value)
}

fn decode_trace(value: &Value, path: &Path) -> Result<TraceSummary, WireError> {
    let obj = object(value, path)?;
    let id_text = opt_str(obj, "traceID", path)?.unwrap_or_default();
    let trace_id = TraceId::from_hex(id_text).ok_or_else(|| {
        path.key("traceID")
            .err("traceID is not hex of at most 32 digits")
    })?;
    let mut service_stats = BTreeMap::new();
    if let Some(stats) = obj.get("serviceStats").filter(|v| !v.is_null()) {
        let stats_path = path.key("serviceStats");
        for (service, entry) in object(stats, &stats_path)? {
            let entry_path = stats_path.key(service);
            let entry_obj = object(entry, &entry_path)?;
            service_stats.insert(
                service.clone(),
                ServiceStats {
                    span_count: u32_field(entry_obj, "spanCount", &entry_path)?,
                    error_count: u32_field(entry_obj, "errorCount", &entry_path)?,
                },
            );
        }
    }
    let mut spans = Vec::new();
    let sets = opt_array(obj, "spanSets", path)?;
    let sets_path = path.key("spanSets");
    let deprecated_path = path.key("spanSet");
    let single: Vec<(Path, &Value)> = if obj.contains_key("spanSets") {
        sets.iter()
            .enumerate()
            .map(|(i, set)| (sets_path.index(i), set))
            .collect()
    } else {
        obj.get("spanSet")
            .filter(|v| !v.is_null())
            .map(|set| (deprecated_path, set))
            .into_iter()
            .collect()
    };
    for (set_path, set) in single {
        let set_obj = object(set, &set_path)?;
        let list = opt_array(set_obj, "spans", &set_path)?;
        let list_path = set_path.key("spans");
        for (j, span) in list.iter().enumerate() {
            spans.push(decode_search_span(span, &list_path.index(j))?);
        }
    }
    Ok(TraceSummary {
        trace_id,
        root_service_name: opt_str(obj, "rootServiceName", path)?
            .unwrap_or_default()
            .to_owned(),
        root_trace_name: opt_str(obj, "rootTraceName", path)?
            .unwrap_or_default()
            .to_owned(),
        start: Timestamp(nonneg(obj, "startTimeUnixNano", path)?),
        duration_ms: nonneg(obj, "durationMs", path)?.unsigned_abs(),
        service_stats,
        spans,
    })
}

fn decode_search_span(value: &Value, path: &Path) -> Result<SearchSpan, WireError> {
    let obj = object(value, path)?;
    let id_text = opt_str(obj, "spanID", path)?.unwrap_or_default();
    let span_id = SpanId::from_hex(id_text).ok_or_else(|| {
        path.key("spanID")
            .err("spanID is not hex of at most 16 digits")
    })?;
    Ok(SearchSpan {
        span_id,
        name: opt_str(obj, "name", path)?.unwrap_or_default().to_owned(),
        start: Timestamp(nonneg(obj, "startTimeUnixNano", path)?),
        duration_ns: nonneg(obj, "durationNanos", path)?.unsigned_abs(),
        attributes: decode_attributes(obj, "attributes", path)?,
    })
}

/// Tempo's hex form of a search trace id: leading zeros stripped (`"0"` for the zero id).
#[must_use]
pub fn stripped_trace_id(trace_id: &TraceId) -> String {
    let hex = trace_id.to_hex();
    let stripped = hex.trim_start_matches('0');
    if stripped.is_empty() {
        "0".to_owned()
    } else {
        stripped.to_owned()
    }
}

/// Encodes search results in Tempo's shape: `traceID` with leading zeros stripped, 64-bit
/// integers as strings, zero fields omitted, the deprecated `spanSet` duplicate of
/// `spanSets[0]`, and a `metrics` object. An empty list omits `traces` entirely.
#[must_use]
pub fn encode_search(traces: &[TraceSummary]) -> Value {
    let mut out = Map::new();
    if !traces.is_empty() {
        out.insert(
            "traces".to_owned(),
            Value::Array(traces.iter().map(encode_trace).collect()),
        );
    }
    let mut metrics = Map::new();
    if !traces.is_empty() {
        metrics.insert("inspectedTraces".to_owned(), Value::from(traces.len()));
    }
    metrics.insert("completedJobs".to_owned(), Value::from(1));
    metrics.insert("totalJobs".to_owned(), Value::from(1));
    out.insert("metrics".to_owned(), Value::Object(metrics));
    Value::Object(out)
}

fn encode_trace(trace: &TraceSummary) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "traceID".to_owned(),
        Value::from(stripped_trace_id(&trace.trace_id)),
    );
    if !trace.root_service_name.is_empty() {
        obj.insert(
            "rootServiceName".to_owned(),
            Value::from(trace.root_service_name.clone()),
        );
    }
    if !trace.root_trace_name.is_empty() {
        obj.insert(
            "rootTraceName".to_owned(),
            Value::from(trace.root_trace_name.clone()),
        );
    }
    if trace.start.0 > 0 {
        obj.insert(
            "startTimeUnixNano".to_owned(),
            Value::from(trace.start.0.to_string()),
        );
    }
    if trace.duration_ms > 0 {
        obj.insert("durationMs".to_owned(), Value::from(trace.duration_ms));
    }
    if !trace.spans.is_empty() {
        let set = json!({
            "spans": trace.spans.iter().map(encode_search_span).collect::<Vec<_>>(),
            "matched": trace.spans.len(),
        });
        obj.insert("spanSet".to_owned(), set.clone());
        obj.insert("spanSets".to_owned(), Value::Array(vec![set]));
    }
    if !trace.service_stats.is_empty() {
        let stats: Map<String, Value> = trace
            .service_stats
            .iter()
            .map(|(service, stats)| {
                let mut entry = Map::new();
                if stats.span_count > 0 {
                    entry.insert("spanCount".to_owned(), Value::from(stats.span_count));
                }
                if stats.error_count > 0 {
                    entry.insert("errorCount".to_owned(), Value::from(stats.error_count));
                }
                (service.clone(), Value::Object(entry))
            })
            .collect();
        obj.insert("serviceStats".to_owned(), Value::Object(stats));
    }
    Value::Object(obj)
}

fn encode_search_span(span: &SearchSpan) -> Value {
    let mut obj = Map::new();
    obj.insert("spanID".to_owned(), Value::from(span.span_id.to_hex()));
    if !span.name.is_empty() {
        obj.insert("name".to_owned(), Value::from(span.name.clone()));
    }
    if span.start.0 > 0 {
        obj.insert(
            "startTimeUnixNano".to_owned(),
            Value::from(span.start.0.to_string()),
        );
    }
    if span.duration_ns > 0 {
        obj.insert(
            "durationNanos".to_owned(),
            Value::from(span.duration_ns.to_string()),
        );
    }
    if !span.attributes.is_empty() {
        obj.insert("attributes".to_owned(), encode_attributes(&span.attributes));
    }
    Value::Object(obj)
}

/// The `service.name` Tempo reports for a span: the resource attribute when present, else the
/// span's resolved service.
fn service_name(span: &Span) -> String {
    match find_attribute(&span.resource, "service.name") {
        Some(AttributeValue::Str(name)) if !name.is_empty() => name.clone(),
        _ => span.service.clone(),
    }
}

/// Summarizes the spans of one trace as Tempo's search would: the root is the earliest span
/// whose parent is absent from the set (the earliest span if every parent is present), the
/// start is the earliest span start, the duration runs to the latest end (whole milliseconds,
/// truncated), and `serviceStats` counts spans and status-error spans per `service.name`.
/// The trace id is the first span's; `spans` (the matched spans) is left empty for the caller
/// (see [`SearchSpan::from_span`]). `None` for no spans.
#[must_use]
pub fn summarize_trace(spans: &[Span]) -> Option<TraceSummary> {
    let first = spans.first()?;
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let root = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none_or(|p| !ids.contains(&p)))
        .min_by_key(|s| s.start)
        .or_else(|| spans.iter().min_by_key(|s| s.start))?;
    let start = spans.iter().map(|s| s.start).min()?;
    let end = spans.iter().map(|s| s.end).max()?;
    let mut service_stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
    for span in spans {
        let entry = service_stats.entry(service_name(span)).or_default();
        entry.span_count = entry.span_count.saturating_add(1);
        if span.status.code == StatusCode::Error {
            entry.error_count = entry.error_count.saturating_add(1);
        }
    }
    let duration_ms = u64::try_from(end.since(start).as_millis()).unwrap_or(u64::MAX);
    Some(TraceSummary {
        trace_id: first.trace_id,
        root_service_name: service_name(root),
        root_trace_name: root.name.clone(),
        start,
        duration_ms,
        service_stats,
        spans: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixture;
    use crate::wire::otlp::decode_traces;
    use crate::wire::testgen::{arb_json, arb_span};
    use proptest::prelude::*;

    #[test]
    fn search_fixture_decodes_with_padding() {
        let traces = decode_search(fixture!("tempo/search.json").as_bytes()).unwrap();
        assert_eq!(traces.len(), 2);
        let first = &traces[0];
        assert_eq!(first.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(first.root_service_name, "front-end.sock-shop");
        assert_eq!(first.start, Timestamp(1_735_690_195_100_000_000));
        assert_eq!(first.duration_ms, 1503);
        assert_eq!(
            first.service_stats["carts.sock-shop"],
            ServiceStats {
                span_count: 2,
                error_count: 1
            }
        );
        assert_eq!(first.spans.len(), 1);
        assert_eq!(first.spans[0].span_id.to_hex(), "00f067aa0ba902b7");
        assert_eq!(first.spans[0].duration_ns, 1_400_000_000);
        assert_eq!(
            first.spans[0].attributes,
            vec![("status".to_owned(), AttributeValue::Str("error".into()))]
        );
        let second = &traces[1];
        assert_eq!(second.trace_id.to_hex(), "0a3ce929d0e0e47364bf92f3577b34da");
        assert_eq!(second.spans[0].name, "");
        assert!(second.service_stats.is_empty());
    }

    #[test]
    fn sparse_search_defaults_omitted_fields() {
        let traces = decode_search(fixture!("tempo/search_sparse.json").as_bytes()).unwrap();
        assert_eq!(
            traces[0].trace_id.to_hex(),
            "000000000000000000f067aa0ba902b7"
        );
        assert_eq!(traces[0].duration_ms, 0);
        assert_eq!(traces[0].root_trace_name, "");
        assert_eq!(traces[0].spans.len(), 1, "deprecated spanSet is read");
        assert_eq!(traces[0].spans[0].duration_ns, 0);
        assert_eq!(
            traces[0].service_stats["carts.sock-shop"],
            ServiceStats {
                span_count: 1,
                error_count: 0
            }
        );
        assert!(decode_search(b"{\"metrics\":{}}").unwrap().is_empty());
        assert!(matches!(
            decode_search(b"invalid TraceQL query: parse error at line 1, col 3"),
            Err(WireError::NotJson { .. })
        ));
        assert!(decode_search(br#"{"traces":[{"traceID":"xyz"}]}"#).is_err());
    }

    #[test]
    fn encode_strips_zeros_and_round_trips() {
        let traces = decode_search(fixture!("tempo/search.json").as_bytes()).unwrap();
        let encoded = encode_search(&traces);
        assert_eq!(
            encoded["traces"][1]["traceID"],
            "a3ce929d0e0e47364bf92f3577b34da"
        );
        assert_eq!(
            encoded["traces"][0]["startTimeUnixNano"],
            "1735690195100000000"
        );
        assert_eq!(encoded["traces"][0]["spanSets"][0]["matched"], 1);
        assert!(encoded["metrics"].is_object());
        assert_eq!(decode_search_value(&encoded).unwrap(), traces);
        assert!(encode_search(&[]).get("traces").is_none());
    }

    #[test]
    fn summarize_matches_tempo_fixture() {
        let spans = decode_traces(fixture!("tempo/trace_v1.json").as_bytes()).unwrap();
        let summary = summarize_trace(&spans).unwrap();
        assert_eq!(
            summary.trace_id.to_hex(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(summary.root_service_name, "front-end.sock-shop");
        assert_eq!(
            summary.root_trace_name,
            "front-end.sock-shop.svc.cluster.local:80/*"
        );
        assert_eq!(summary.start, Timestamp(1_735_690_195_100_000_000));
        assert_eq!(summary.duration_ms, 1503);
        assert_eq!(
            summary.service_stats["carts.sock-shop"],
            ServiceStats {
                span_count: 1,
                error_count: 1
            }
        );
        assert_eq!(
            summary.service_stats["front-end.sock-shop"],
            ServiceStats {
                span_count: 2,
                error_count: 0
            }
        );
        assert!(summarize_trace(&[]).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn summaries_round_trip(spans in prop::collection::vec(arb_span(), 1..5)) {
            let mut summary = summarize_trace(&spans).unwrap();
            summary.spans = spans.iter().map(SearchSpan::from_span).collect();
            let encoded = serde_json::to_vec(&encode_search(std::slice::from_ref(&summary))).unwrap();
            prop_assert_eq!(decode_search(&encoded).unwrap(), vec![summary]);
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), value in arb_json()) {
            let _ = decode_search(&bytes);
            let _ = decode_search_value(&value);
            let _ = decode_search_value(&serde_json::json!({"traces": [value]}));
        }
    }
}
