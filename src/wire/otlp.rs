//! Traces on the wire: OTLP/JSON and Tempo's protobuf-JSON flavour, decoded to and encoded from
//! [`crate::model::Span`].
//!
//! Invariant: `decode_traces(encode_tempo_v1(x))` and `decode_traces(encode_otlp_json(x))` give
//! back the spans of `x` (as a multiset) for spans meeting the preconditions documented on the
//! encoders; ids are never guessed by the caller but decided by their content.

mod decode;
mod encode;
pub(crate) mod values;

pub use decode::{UNKNOWN_SERVICE, decode_traces, decode_traces_value};
pub use encode::{encode_otlp_json, encode_tempo_v1, encode_tempo_v2};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixture;
    use crate::model::{AttributeValue, Span, SpanKind, StatusCode, Timestamp};
    use crate::wire::WireError;
    use crate::wire::testgen::{arb_json, arb_span};
    use proptest::prelude::*;

    fn by_id(spans: &[Span], hex: &str) -> Span {
        spans
            .iter()
            .find(|s| s.span_id.to_hex() == hex)
            .cloned()
            .unwrap()
    }

    fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
        spans.sort_by_key(|s| (s.trace_id, s.span_id, s.start, s.name.clone()));
        spans
    }

    #[test]
    fn tempo_v1_fixture_decodes_base64_ids_and_fields() {
        let spans = decode_traces(fixture!("tempo/trace_v1.json").as_bytes()).unwrap();
        assert_eq!(spans.len(), 3);
        let carts = by_id(&spans, "00f067aa0ba902b7");
        assert_eq!(carts.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            carts.parent_span_id.map(|p| p.to_hex()).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert_eq!(carts.service, "carts");
        assert_eq!(carts.kind, SpanKind::Server);
        assert_eq!(carts.start, Timestamp(1_735_690_195_200_000_000));
        assert_eq!(carts.duration().as_millis(), 1400);
        assert_eq!(carts.status.code, StatusCode::Error);
        assert_eq!(carts.http_status(), Some(503));
        assert_eq!(carts.attribute_str("response_flags"), Some("UF"));

        let root = by_id(&spans, "b7ad6b7169203331");
        assert_eq!(root.parent_span_id, None);
        assert_eq!(root.service, "front-end");
        assert_eq!(root.status.code, StatusCode::Unset);
        assert_eq!(root.attributes[0].1, AttributeValue::Int(503));
        assert_eq!(root.attributes[1].1, AttributeValue::Double(0.5));
        assert_eq!(root.attributes[2].1, AttributeValue::Bool(true));
        assert_eq!(root.resource.len(), 2);

        // end before start is clamped.
        let render = by_id(&spans, "1a2b3c4d5e6f7081");
        assert_eq!(render.end, render.start);
        assert_eq!(render.kind, SpanKind::Internal);
        assert_eq!(render.status.code, StatusCode::Ok);
        assert_eq!(render.status.message, "fine");
    }

    #[test]
    fn tempo_v2_wrapper_and_empty_trace() {
        let spans = decode_traces(fixture!("tempo/trace_v2.json").as_bytes()).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].span_id.to_hex(), "00f067aa0ba902b7");
        assert_eq!(spans[0].service, "carts");
        let empty = decode_traces(fixture!("tempo/trace_v2_empty.json").as_bytes()).unwrap();
        assert!(empty.is_empty());
        assert!(decode_traces(b"").unwrap().is_empty());
        assert!(decode_traces(b"{}").unwrap().is_empty());
    }

    #[test]
    fn otlp_hex_fixture_with_numbers_and_legacy_keys() {
        let spans = decode_traces(fixture!("tempo/otlp_hex.json").as_bytes()).unwrap();
        assert_eq!(spans.len(), 2);
        let orders = &spans[0];
        assert_eq!(orders.span_id.to_hex(), "1a2b3c4d5e6f7081");
        assert_eq!(orders.parent_span_id, None);
        assert_eq!(orders.kind, SpanKind::Server);
        assert_eq!(orders.start, Timestamp(1_735_690_195_000_000_000));
        assert_eq!(orders.status.code, StatusCode::Error);
        assert_eq!(orders.status.message, "payment declined");
        assert_eq!(orders.http_status(), Some(500));
        assert_eq!(
            orders.attributes[1].1,
            AttributeValue::Array(vec![
                AttributeValue::Str("a".into()),
                AttributeValue::Int(2)
            ])
        );
        assert_eq!(
            orders.attributes[3].1,
            AttributeValue::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert!(matches!(orders.attributes[4].1, AttributeValue::Double(v) if v.is_nan()));

        let legacy = &spans[1];
        assert_eq!(legacy.service, UNKNOWN_SERVICE);
        assert_eq!(legacy.trace_id.to_hex(), "000000000000000000f067aa0ba902b7");
        assert_eq!(legacy.parent_span_id, None, "all-zero parent is a root");
        assert_eq!(legacy.kind, SpanKind::Client);
        assert_eq!(legacy.duration().as_nanos(), 100);
    }

    #[test]
    fn arrays_and_json_lines_are_accepted() {
        let one = fixture!("tempo/trace_v2.json").replace('\n', " ");
        let array = format!("[{one}, {}]", fixture!("tempo/trace_v2_empty.json"));
        assert_eq!(decode_traces(array.as_bytes()).unwrap().len(), 1);
        let lines = format!("{one}\n\n{one}\n");
        assert_eq!(decode_traces(lines.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn errors_name_the_place() {
        let bad = r#"{"resourceSpans":[{},{"scopeSpans":[{"spans":[{"traceId":"S/kvNXezTaajzpKdDg5HNg==","spanId":"zz"}]}]}]}"#;
        let error = decode_traces(bad.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            error,
            "resourceSpans[1].scopeSpans[0].spans[0]: spanId is neither hex (16 digits) nor base64 of 8 bytes"
        );
        let lines = "{}\n{\"batches\": 5}";
        let error = decode_traces(lines.as_bytes()).unwrap_err().to_string();
        assert_eq!(error, "line 2, batches: expected an array, found a number");
        let huge = r#"{"batches":[{"scopeSpans":[{"spans":[{"traceId":"S/kvNXezTaajzpKdDg5HNg==","spanId":"APBnqgupArc=","startTimeUnixNano":"99999999999999999999"}]}]}]}"#;
        assert!(decode_traces(huge.as_bytes()).is_err());
        assert!(matches!(
            decode_traces(b"trace not found"),
            Err(WireError::NotJson { text }) if text == "trace not found"
        ));
        assert!(matches!(
            decode_traces(b"{\"batches\":[{\"scopeSpans\""),
            Err(WireError::Malformed { .. })
        ));
        assert!(decode_traces(b"{\"something\":1}").is_err());
    }

    #[test]
    fn tempo_v1_encoding_matches_tempo_shape() {
        let spans = decode_traces(fixture!("tempo/trace_v1.json").as_bytes()).unwrap();
        let encoded = encode_tempo_v1(&spans);
        let batches = encoded["batches"].as_array().unwrap();
        assert_eq!(batches.len(), 2, "one ResourceSpans per service/resource");
        let carts = &batches[0]["scopeSpans"][0]["spans"][0];
        assert_eq!(carts["traceId"], "S/kvNXezTaajzpKdDg5HNg==");
        assert_eq!(carts["spanId"], "APBnqgupArc=");
        assert_eq!(carts["parentSpanId"], "t61rcWkgMzE=");
        assert_eq!(carts["kind"], "SPAN_KIND_SERVER");
        assert_eq!(carts["startTimeUnixNano"], "1735690195200000000");
        assert_eq!(carts["status"]["code"], "STATUS_CODE_ERROR");
        let root = &batches[1]["scopeSpans"][0]["spans"][0];
        assert!(root.get("parentSpanId").is_none());
        assert!(root.get("status").is_none());
        assert_eq!(root["attributes"][0]["value"]["intValue"], "503");
        assert_eq!(
            sorted(decode_traces_value(&encoded).unwrap()),
            sorted(spans.clone())
        );

        let otlp = encode_otlp_json(&spans);
        let first = &otlp["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(first["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(first["kind"], 2);
        assert_eq!(first["status"]["code"], 2);
        assert_eq!(
            sorted(decode_traces_value(&otlp).unwrap()),
            sorted(spans.clone())
        );

        let v2 = encode_tempo_v2(&spans);
        assert_eq!(sorted(decode_traces_value(&v2).unwrap()), sorted(spans));
        assert_eq!(encode_tempo_v2(&[]), serde_json::json!({"trace": {}}));
    }

    #[test]
    fn sdk_default_service_names_are_unknown() {
        let body = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"unknown_service:java"}}]},"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7"}]}]}]}"#;
        let spans = decode_traces(body.as_bytes()).unwrap();
        assert_eq!(spans[0].service, UNKNOWN_SERVICE);
        assert_eq!(spans[0].start, Timestamp(0));
        assert_eq!(spans[0].kind, SpanKind::Unspecified);
    }

    #[test]
    fn service_is_added_to_resources_without_one() {
        let mut spans = decode_traces(fixture!("tempo/trace_v2.json").as_bytes()).unwrap();
        spans[0].resource.clear();
        let back = decode_traces_value(&encode_tempo_v1(&spans)).unwrap();
        assert_eq!(back[0].service, "carts");
        assert_eq!(
            back[0].resource,
            vec![(
                "service.name".to_owned(),
                AttributeValue::Str("carts".into())
            )]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trips_through_both_dialects(spans in prop::collection::vec(arb_span(), 0..6)) {
            let tempo = serde_json::to_vec(&encode_tempo_v1(&spans)).unwrap();
            prop_assert_eq!(sorted(decode_traces(&tempo).unwrap()), sorted(spans.clone()));
            let otlp = serde_json::to_vec(&encode_otlp_json(&spans)).unwrap();
            prop_assert_eq!(sorted(decode_traces(&otlp).unwrap()), sorted(spans));
        }

        #[test]
        fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_traces(&bytes);
        }

        #[test]
        fn never_panics_on_json(value in arb_json()) {
            let _ = decode_traces_value(&value);
            let _ = decode_traces_value(&serde_json::json!({"batches": [value]}));
        }
    }
}
