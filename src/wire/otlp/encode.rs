//! Encoding of [`Span`]s as Tempo v1 JSON (what `/api/traces/<id>` returns) and as OTLP/JSON
//! (the OpenTelemetry spec variant).
//!
//! Invariant: the output decodes back to the same spans with [`super::decode_traces`], provided
//! each span's resource carries (or lacks) a `service.name` consistent with `span.service`
//! (a resource without `service.name` gets one from `span.service`, so the service survives)
//! and timestamps are not negative (they are written as unsigned nanoseconds, clamped at 0).

use super::values::{
    base64_encode, encode_attributes, span_kind_name, span_kind_number, status_code_name,
    status_code_number,
};
use crate::model::telemetry::find_attribute;
use crate::model::{AttributeValue, Attributes, Span, SpanKind, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Which JSON dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// Tempo: base64 ids, enum names, `batches`.
    Tempo,
    /// OTLP/JSON spec: hex ids, enum numbers, `resourceSpans`.
    Otlp,
}

/// Tempo's v1 trace-by-id body: `{"batches":[ResourceSpans…]}` with one `ResourceSpans` per
/// distinct (service, resource attributes), base64 ids, 64-bit integers as strings, enum names,
/// and zero or empty fields omitted (no `status` when unset, no `parentSpanId` on roots).
#[must_use]
pub fn encode_tempo_v1(spans: &[Span]) -> Value {
    json!({ "batches": encode_resource_spans(spans, Dialect::Tempo) })
}

/// Tempo's v2 trace-by-id body: `{"trace":{"resourceSpans":[…]}}` (Tempo dialect).
#[must_use]
pub fn encode_tempo_v2(spans: &[Span]) -> Value {
    let mut trace = Map::new();
    if !spans.is_empty() {
        trace.insert(
            "resourceSpans".to_owned(),
            encode_resource_spans(spans, Dialect::Tempo),
        );
    }
    json!({ "trace": trace })
}

/// The OTLP/JSON spec variant: `{"resourceSpans":[…]}` with hex ids and enum numbers (64-bit
/// integers as strings, zero fields omitted).
#[must_use]
pub fn encode_otlp_json(spans: &[Span]) -> Value {
    json!({ "resourceSpans": encode_resource_spans(spans, Dialect::Otlp) })
}

fn resource_with_service(span: &Span) -> Attributes {
    let mut resource = span.resource.clone();
    if find_attribute(&resource, "service.name").is_none() {
        resource.insert(
            0,
            (
                "service.name".to_owned(),
                AttributeValue::Str(span.service.clone()),
            ),
        );
    }
    resource
}

fn encode_resource_spans(spans: &[Span], dialect: Dialect) -> Value {
    // Group by (service, resource) in order of first appearance.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
    for span in spans {
        let resource = encode_attributes(&resource_with_service(span));
        let key = format!("{}\u{0}{resource}", span.service);
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push((resource, Vec::new()));
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(slot) {
            group.1.push(encode_span(span, dialect));
        }
    }
    Value::Array(
        groups
            .into_iter()
            .map(|(attributes, spans)| {
                json!({
                    "resource": { "attributes": attributes },
                    "scopeSpans": [ { "scope": {}, "spans": spans } ],
                })
            })
            .collect(),
    )
}

fn encode_id(bytes: &[u8], dialect: Dialect) -> Value {
    match dialect {
        Dialect::Tempo => Value::from(base64_encode(bytes)),
        Dialect::Otlp => Value::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
}

fn nanos_text(nanos: i64) -> Value {
    Value::from(nanos.max(0).to_string())
}

fn encode_span(span: &Span, dialect: Dialect) -> Value {
    let mut obj = Map::new();
    obj.insert("traceId".to_owned(), encode_id(&span.trace_id.0, dialect));
    obj.insert("spanId".to_owned(), encode_id(&span.span_id.0, dialect));
    if let Some(parent) = span.parent_span_id {
        obj.insert("parentSpanId".to_owned(), encode_id(&parent.0, dialect));
    }
    if !span.name.is_empty() {
        obj.insert("name".to_owned(), Value::from(span.name.clone()));
    }
    if span.kind != SpanKind::Unspecified {
        let kind = match dialect {
            Dialect::Tempo => Value::from(span_kind_name(span.kind)),
            Dialect::Otlp => Value::from(span_kind_number(span.kind)),
        };
        obj.insert("kind".to_owned(), kind);
    }
    if span.start.0 > 0 {
        obj.insert("startTimeUnixNano".to_owned(), nanos_text(span.start.0));
    }
    if span.end.0 > 0 {
        obj.insert("endTimeUnixNano".to_owned(), nanos_text(span.end.0));
    }
    if !span.attributes.is_empty() {
        obj.insert("attributes".to_owned(), encode_attributes(&span.attributes));
    }
    let mut status = Map::new();
    if span.status.code != StatusCode::Unset {
        let code = match dialect {
            Dialect::Tempo => Value::from(status_code_name(span.status.code)),
            Dialect::Otlp => Value::from(status_code_number(span.status.code)),
        };
        status.insert("code".to_owned(), code);
    }
    if !span.status.message.is_empty() {
        status.insert(
            "message".to_owned(),
            Value::from(span.status.message.clone()),
        );
    }
    if !status.is_empty() {
        obj.insert("status".to_owned(), Value::Object(status));
    }
    Value::Object(obj)
}
