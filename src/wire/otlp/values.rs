//! OTLP leaf values: trace/span ids (base64 or hex), `AnyValue`/`KeyValue` attributes, span kind
//! and status code names.
//!
//! Invariant: ids are decided by content (hex when every character is a hex digit and the length
//! is exactly 32 or 16; base64 otherwise), never by the caller's guess; attribute values keep
//! their type (an `intValue` stays an integer even when written as a string).

use crate::model::{AttributeValue, Attributes, SpanId, SpanKind, StatusCode, TraceId};
use crate::wire::WireError;
use crate::wire::json::{Path, float_lenient, int_lenient, object, opt_array, opt_str};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value, json};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const B64_STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const B64_URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes standard or URL-safe base64, padded or not.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    B64_STANDARD
        .decode(text)
        .or_else(|_| B64_URL.decode(text))
        .ok()
}

/// Standard padded base64 (what protobuf JSON writes for `bytes`).
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Raw id bytes from hex (exactly `hex_len` characters) or base64.
fn id_bytes(text: &str, hex_len: usize) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() == hex_len && is_hex(text) {
        let mut out = Vec::with_capacity(hex_len / 2);
        for pair in text.as_bytes().chunks(2) {
            let pair = std::str::from_utf8(pair).ok()?;
            out.push(u8::from_str_radix(pair, 16).ok()?);
        }
        return Some(out);
    }
    base64_decode(text)
}

/// A trace id from hex (32 or 16 characters) or base64 (16 or 8 bytes).
pub(crate) fn trace_id(text: &str) -> Option<TraceId> {
    let text = text.trim();
    if text.len() == 16 && is_hex(text) {
        return TraceId::from_hex(text);
    }
    id_bytes(text, 32).and_then(|bytes| TraceId::from_bytes(&bytes))
}

/// A span id from hex (16 characters) or base64 (8 bytes).
pub(crate) fn span_id(text: &str) -> Option<SpanId> {
    id_bytes(text, 16).and_then(|bytes| SpanId::from_bytes(&bytes))
}

/// Span kind from an enum name (`SPAN_KIND_SERVER`, `SERVER`, any case) or its number; unknown
/// values are `Unspecified`.
pub(crate) fn span_kind(value: &Value) -> SpanKind {
    let number = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => {
            let upper = text.trim().to_ascii_uppercase();
            let name = upper.strip_prefix("SPAN_KIND_").unwrap_or(&upper);
            match name {
                "INTERNAL" => Some(1),
                "SERVER" => Some(2),
                "CLIENT" => Some(3),
                "PRODUCER" => Some(4),
                "CONSUMER" => Some(5),
                _ => name.parse().ok(),
            }
        }
        _ => None,
    };
    match number {
        Some(1) => SpanKind::Internal,
        Some(2) => SpanKind::Server,
        Some(3) => SpanKind::Client,
        Some(4) => SpanKind::Producer,
        Some(5) => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

/// The OTLP number of a span kind.
pub(crate) const fn span_kind_number(kind: SpanKind) -> i64 {
    match kind {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// The protobuf enum name of a span kind.
pub(crate) const fn span_kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// Status code from a name (`STATUS_CODE_ERROR`, `ERROR`, any case) or number; unknown → Unset.
pub(crate) fn status_code(value: &Value) -> StatusCode {
    let number = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => {
            let upper = text.trim().to_ascii_uppercase();
            let name = upper.strip_prefix("STATUS_CODE_").unwrap_or(&upper);
            match name {
                "OK" => Some(1),
                "ERROR" => Some(2),
                _ => name.parse().ok(),
            }
        }
        _ => None,
    };
    match number {
        Some(1) => StatusCode::Ok,
        Some(2) => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}

/// The OTLP number of a status code.
pub(crate) const fn status_code_number(code: StatusCode) -> i64 {
    match code {
        StatusCode::Unset => 0,
        StatusCode::Ok => 1,
        StatusCode::Error => 2,
    }
}

/// The protobuf enum name of a status code.
pub(crate) const fn status_code_name(code: StatusCode) -> &'static str {
    match code {
        StatusCode::Unset => "STATUS_CODE_UNSET",
        StatusCode::Ok => "STATUS_CODE_OK",
        StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

/// A `KeyValue` list (`[{"key":…,"value":{…}}]`); missing or `null` is empty.
pub(crate) fn decode_attributes(
    obj: &Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Attributes, WireError> {
    let items = opt_array(obj, key, path)?;
    let list_path = path.key(key);
    decode_key_values(items, &list_path)
}

fn decode_key_values(items: &[Value], path: &Path) -> Result<Attributes, WireError> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = path.index(i);
        let kv = object(item, &item_path)?;
        let key = opt_str(kv, "key", &item_path)?
            .unwrap_or_default()
            .to_owned();
        let value = match kv.get("value") {
            None | Some(Value::Null) => AttributeValue::Str(String::new()),
            Some(value) => decode_any_value(value, &item_path.key("value"))?,
        };
        out.push((key, value));
    }
    Ok(out)
}

/// An OTLP `AnyValue`; an empty object is the empty string (protobuf JSON omits empty values).
pub(crate) fn decode_any_value(value: &Value, path: &Path) -> Result<AttributeValue, WireError> {
    let obj = object(value, path)?;
    if let Some(inner) = obj.get("stringValue") {
        return match inner {
            Value::String(text) => Ok(AttributeValue::Str(text.clone())),
            Value::Null => Ok(AttributeValue::Str(String::new())),
            other => Err(path.key("stringValue").expected("a string", other)),
        };
    }
    if let Some(inner) = obj.get("intValue") {
        return int_lenient(inner, &path.key("intValue")).map(AttributeValue::Int);
    }
    if let Some(inner) = obj.get("doubleValue") {
        return float_lenient(inner, &path.key("doubleValue")).map(AttributeValue::Double);
    }
    if let Some(inner) = obj.get("boolValue") {
        return match inner {
            Value::Bool(flag) => Ok(AttributeValue::Bool(*flag)),
            Value::String(text) if text.eq_ignore_ascii_case("true") => {
                Ok(AttributeValue::Bool(true))
            }
            Value::String(text) if text.eq_ignore_ascii_case("false") => {
                Ok(AttributeValue::Bool(false))
            }
            other => Err(path.key("boolValue").expected("a boolean", other)),
        };
    }
    if let Some(inner) = obj.get("bytesValue") {
        let inner_path = path.key("bytesValue");
        let text = inner
            .as_str()
            .ok_or_else(|| inner_path.expected("a base64 string", inner))?;
        return base64_decode(text)
            .map(AttributeValue::Bytes)
            .ok_or_else(|| inner_path.err("bytesValue is not base64"));
    }
    if let Some(inner) = obj.get("arrayValue") {
        let inner_path = path.key("arrayValue");
        let array = match inner {
            Value::Null => return Ok(AttributeValue::Array(Vec::new())),
            other => object(other, &inner_path)?,
        };
        let items = opt_array(array, "values", &inner_path)?;
        let values_path = inner_path.key("values");
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(decode_any_value(item, &values_path.index(i))?);
        }
        return Ok(AttributeValue::Array(out));
    }
    if let Some(inner) = obj.get("kvlistValue") {
        let inner_path = path.key("kvlistValue");
        let list = match inner {
            Value::Null => return Ok(AttributeValue::KvList(Vec::new())),
            other => object(other, &inner_path)?,
        };
        let items = opt_array(list, "values", &inner_path)?;
        return decode_key_values(items, &inner_path.key("values")).map(AttributeValue::KvList);
    }
    if obj.is_empty() {
        return Ok(AttributeValue::Str(String::new()));
    }
    Err(path.err(
        "value has none of stringValue, intValue, doubleValue, boolValue, bytesValue, \
         arrayValue, kvlistValue",
    ))
}

/// Encodes a `KeyValue` list.
pub(crate) fn encode_attributes(attributes: &Attributes) -> Value {
    Value::Array(
        attributes
            .iter()
            .map(|(key, value)| json!({"key": key, "value": encode_any_value(value)}))
            .collect(),
    )
}

/// Encodes an `AnyValue` as protobuf JSON: 64-bit ints as strings, non-finite doubles as
/// `"NaN"`/`"Infinity"`/`"-Infinity"`, bytes as base64, empty lists as `{}`.
pub(crate) fn encode_any_value(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Str(text) => json!({"stringValue": text}),
        AttributeValue::Int(int) => json!({"intValue": int.to_string()}),
        AttributeValue::Double(double) => {
            let encoded = if double.is_nan() {
                Value::from("NaN")
            } else if *double == f64::INFINITY {
                Value::from("Infinity")
            } else if *double == f64::NEG_INFINITY {
                Value::from("-Infinity")
            } else {
                Value::from(*double)
            };
            json!({ "doubleValue": encoded })
        }
        AttributeValue::Bool(flag) => json!({"boolValue": flag}),
        AttributeValue::Bytes(bytes) => json!({"bytesValue": base64_encode(bytes)}),
        AttributeValue::Array(items) => {
            let mut inner = Map::new();
            if !items.is_empty() {
                inner.insert(
                    "values".to_owned(),
                    Value::Array(items.iter().map(encode_any_value).collect()),
                );
            }
            json!({ "arrayValue": inner })
        }
        AttributeValue::KvList(items) => {
            let mut inner = Map::new();
            if !items.is_empty() {
                inner.insert("values".to_owned(), encode_attributes(items));
            }
            json!({ "kvlistValue": inner })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_decode_from_base64_and_hex() {
        assert_eq!(
            trace_id("S/kvNXezTaajzpKdDg5HNg==").unwrap().to_hex(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
                .unwrap()
                .to_hex(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            span_id("APBnqgupArc=").unwrap().to_hex(),
            "00f067aa0ba902b7"
        );
        assert_eq!(span_id("APBnqgupArc").unwrap().to_hex(), "00f067aa0ba902b7");
        assert_eq!(
            span_id("00f067aa0ba902b7").unwrap().to_hex(),
            "00f067aa0ba902b7"
        );
        // 64-bit trace ids, hex and base64, are right-aligned.
        assert_eq!(
            trace_id("00f067aa0ba902b7").unwrap().to_hex(),
            "000000000000000000f067aa0ba902b7"
        );
        assert_eq!(
            trace_id("APBnqgupArc=").unwrap().to_hex(),
            "000000000000000000f067aa0ba902b7"
        );
        assert!(span_id("not an id!").is_none());
        assert!(span_id("").is_none());
        assert!(trace_id("AAAA").is_none());
    }

    #[test]
    fn enums_accept_names_and_numbers() {
        assert_eq!(span_kind(&json!("SPAN_KIND_SERVER")), SpanKind::Server);
        assert_eq!(span_kind(&json!("client")), SpanKind::Client);
        assert_eq!(span_kind(&json!(4)), SpanKind::Producer);
        assert_eq!(span_kind(&json!(99)), SpanKind::Unspecified);
        assert_eq!(status_code(&json!("STATUS_CODE_ERROR")), StatusCode::Error);
        assert_eq!(status_code(&json!(1)), StatusCode::Ok);
        assert_eq!(status_code(&json!(null)), StatusCode::Unset);
    }

    #[test]
    fn any_values_decode_every_variant() {
        let root = Path::root();
        let cases = [
            (json!({"stringValue": "x"}), AttributeValue::Str("x".into())),
            (json!({"intValue": "503"}), AttributeValue::Int(503)),
            (json!({"intValue": 7}), AttributeValue::Int(7)),
            (json!({"doubleValue": 0.5}), AttributeValue::Double(0.5)),
            (
                json!({"doubleValue": "Infinity"}),
                AttributeValue::Double(f64::INFINITY),
            ),
            (json!({"boolValue": true}), AttributeValue::Bool(true)),
            (
                json!({"bytesValue": "AQI="}),
                AttributeValue::Bytes(vec![1, 2]),
            ),
            (
                json!({"arrayValue": {"values": [{"intValue": "1"}]}}),
                AttributeValue::Array(vec![AttributeValue::Int(1)]),
            ),
            (json!({"arrayValue": {}}), AttributeValue::Array(vec![])),
            (
                json!({"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}}),
                AttributeValue::KvList(vec![("k".into(), AttributeValue::Bool(false))]),
            ),
            (json!({}), AttributeValue::Str(String::new())),
        ];
        for (input, expected) in cases {
            let decoded = decode_any_value(&input, &root).unwrap();
            assert_eq!(decoded, expected, "{input}");
            assert_eq!(
                decode_any_value(&encode_any_value(&decoded), &root).unwrap(),
                decoded
            );
        }
        let nan = decode_any_value(&json!({"doubleValue": "NaN"}), &root).unwrap();
        assert!(matches!(nan, AttributeValue::Double(v) if v.is_nan()));
        assert!(decode_any_value(&json!({"intValue": "1e99"}), &root).is_err());
        assert!(decode_any_value(&json!({"bytesValue": "%%%"}), &root).is_err());
        assert!(decode_any_value(&json!({"weird": 1}), &root).is_err());
    }
}
