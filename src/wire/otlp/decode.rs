//! Decoding of OTLP/Tempo trace JSON into [`Span`]s.
//!
//! Invariant: every decoded span has a valid trace and span id, `end >= start`, and a non-empty
//! `service` (from the resource's `service.name`, `unknown` when absent); a span that cannot be
//! decoded fails the whole input with its path rather than being silently dropped.

use super::values::{decode_attributes, span_id, span_kind, status_code, trace_id};
use crate::model::telemetry::{find_attribute, service_from_service_name};
use crate::model::{AttributeValue, Attributes, Span, SpanKind, SpanStatus, Timestamp};
use crate::wire::WireError;
use crate::wire::json::{Path, for_each_document, object, opt_array, opt_str, uint_lenient};
use serde_json::{Map, Value};

/// The service used when a resource has no usable `service.name`.
pub const UNKNOWN_SERVICE: &str = "unknown";

/// Decodes trace JSON: Tempo v1 `{"batches":[…]}`, OTLP `{"resourceSpans":[…]}`, Tempo v2
/// `{"trace":{"resourceSpans":[…]}}` (an empty trace gives no spans), a bare `ResourceSpans`
/// object, a JSON array of any of these, or JSON lines of them. Empty input gives no spans.
///
/// # Errors
/// [`WireError::NotJson`] for plain-text or HTML bodies, [`WireError::Malformed`] for broken
/// JSON, [`WireError::Invalid`] with the path of the first bad field (e.g. an id that is neither
/// hex nor base64 of the right length).
pub fn decode_traces(bytes: &[u8]) -> Result<Vec<Span>, WireError> {
    let mut spans = Vec::new();
    for_each_document(
        bytes,
        |error| error,
        |path, value| decode_document(value, path, &mut spans, true),
    )?;
    Ok(spans)
}

/// Decodes one already-parsed trace document (any of the shapes [`decode_traces`] accepts,
/// except JSON lines).
///
/// # Errors
/// As [`decode_traces`].
pub fn decode_traces_value(value: &Value) -> Result<Vec<Span>, WireError> {
    let mut spans = Vec::new();
    decode_document(value, &Path::root(), &mut spans, true)?;
    Ok(spans)
}

fn decode_document(
    value: &Value,
    path: &Path,
    out: &mut Vec<Span>,
    allow_array: bool,
) -> Result<(), WireError> {
    match value {
        Value::Array(items) if allow_array => {
            for (i, item) in items.iter().enumerate() {
                decode_document(item, &path.index(i), out, false)?;
            }
            Ok(())
        }
        Value::Object(obj) => decode_object(obj, path, out),
        other => Err(path.expected("a trace object", other)),
    }
}

fn decode_object(
    obj: &Map<String, Value>,
    path: &Path,
    out: &mut Vec<Span>,
) -> Result<(), WireError> {
    for key in ["batches", "resourceSpans"] {
        if obj.contains_key(key) {
            let list = opt_array(obj, key, path)?;
            let list_path = path.key(key);
            for (i, item) in list.iter().enumerate() {
                decode_resource_spans(item, &list_path.index(i), out)?;
            }
            return Ok(());
        }
    }
    if let Some(trace) = obj.get("trace") {
        let trace_path = path.key("trace");
        return match trace {
            Value::Null => Ok(()),
            Value::Object(inner) => decode_object(inner, &trace_path, out),
            other => Err(trace_path.expected("an object", other)),
        };
    }
    if obj.contains_key("scopeSpans") || obj.contains_key("instrumentationLibrarySpans") {
        return decode_resource_spans_obj(obj, path, out);
    }
    if obj.is_empty()
        || obj
            .keys()
            .all(|k| k == "status" || k == "message" || k == "metrics")
    {
        // `{}` or a v2 answer without a trace: nothing found.
        return Ok(());
    }
    Err(path.err(
        "expected a trace object with `batches`, `resourceSpans` or `trace` (Tempo or OTLP JSON)",
    ))
}

fn decode_resource_spans(value: &Value, path: &Path, out: &mut Vec<Span>) -> Result<(), WireError> {
    decode_resource_spans_obj(object(value, path)?, path, out)
}

fn decode_resource_spans_obj(
    obj: &Map<String, Value>,
    path: &Path,
    out: &mut Vec<Span>,
) -> Result<(), WireError> {
    let resource: Attributes = match obj.get("resource") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => {
            let resource_path = path.key("resource");
            decode_attributes(object(value, &resource_path)?, "attributes", &resource_path)?
        }
    };
    let service = match find_attribute(&resource, "service.name") {
        // OTel SDKs default to `unknown_service` or `unknown_service:<process>`.
        Some(AttributeValue::Str(name))
            if !name.trim().is_empty() && !name.trim().starts_with("unknown_service") =>
        {
            service_from_service_name(name.trim()).to_owned()
        }
        _ => UNKNOWN_SERVICE.to_owned(),
    };
    for key in ["scopeSpans", "instrumentationLibrarySpans"] {
        let scopes = opt_array(obj, key, path)?;
        let scopes_path = path.key(key);
        for (i, scope) in scopes.iter().enumerate() {
            let scope_path = scopes_path.index(i);
            let scope_obj = object(scope, &scope_path)?;
            let spans = opt_array(scope_obj, "spans", &scope_path)?;
            let spans_path = scope_path.key("spans");
            out.reserve(spans.len());
            for (j, span) in spans.iter().enumerate() {
                out.push(decode_span(
                    span,
                    &spans_path.index(j),
                    &service,
                    &resource,
                )?);
            }
        }
    }
    Ok(())
}

fn timestamp(obj: &Map<String, Value>, key: &str, path: &Path) -> Result<Timestamp, WireError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Timestamp(0)),
        Some(value) => {
            let key_path = path.key(key);
            let nanos = uint_lenient(value, &key_path)?;
            i64::try_from(nanos)
                .map(Timestamp)
                .map_err(|_| key_path.err(format!("{nanos} ns is past the year 2262")))
        }
    }
}

fn decode_span(
    value: &Value,
    path: &Path,
    service: &str,
    resource: &Attributes,
) -> Result<Span, WireError> {
    let obj = object(value, path)?;
    let trace_text = opt_str(obj, "traceId", path)?.unwrap_or_default();
    let trace_id = trace_id(trace_text).ok_or_else(|| {
        path.err(if trace_text.is_empty() {
            "traceId is missing".to_owned()
        } else {
            "traceId is neither hex (32 or 16 digits) nor base64 of 16 or 8 bytes".to_owned()
        })
    })?;
    let span_text = opt_str(obj, "spanId", path)?.unwrap_or_default();
    let span_id = span_id(span_text).ok_or_else(|| {
        path.err(if span_text.is_empty() {
            "spanId is missing".to_owned()
        } else {
            "spanId is neither hex (16 digits) nor base64 of 8 bytes".to_owned()
        })
    })?;
    let parent_span_id = match opt_str(obj, "parentSpanId", path)?.map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let parent = super::values::span_id(text).ok_or_else(|| {
                path.err("parentSpanId is neither hex (16 digits) nor base64 of 8 bytes")
            })?;
            (parent.0 != [0; 8]).then_some(parent)
        }
    };
    let name = opt_str(obj, "name", path)?.unwrap_or_default().to_owned();
    let kind = obj.get("kind").map_or(SpanKind::Unspecified, span_kind);
    let start = timestamp(obj, "startTimeUnixNano", path)?;
    let end = timestamp(obj, "endTimeUnixNano", path)?.max(start);
    let attributes = decode_attributes(obj, "attributes", path)?;
    let status = match obj.get("status") {
        None | Some(Value::Null) => SpanStatus::default(),
        Some(value) => {
            let status_path = path.key("status");
            let status_obj = object(value, &status_path)?;
            SpanStatus {
                code: status_obj
                    .get("code")
                    .map_or_else(Default::default, status_code),
                message: opt_str(status_obj, "message", &status_path)?
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        name,
        kind,
        service: service.to_owned(),
        start,
        end,
        attributes,
        resource: resource.clone(),
        status,
    })
}
