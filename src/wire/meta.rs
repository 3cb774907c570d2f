//! The small "about the server" responses the live clients and `baynet doctor` read: build
//! information (Loki, Tempo, Prometheus), label sets (`/api/v1/series`), Tempo tag names and
//! values (v1 and v2 shapes), and TraceQL metrics series (`/api/metrics/query_range`).
//!
//! Invariant: pure, never panics; a Prometheus error envelope or a plain-text body is an error,
//! never an empty result.

use crate::model::{AttributeValue, Labels, Sample, Series, Timestamp};
use crate::wire::WireError;
use crate::wire::json::{Path, collapse, labels, object, opt_array, opt_str, parse_document};
use crate::wire::otlp::values::decode_attributes;
use crate::wire::prometheus::success_data;
use serde_json::Value;

/// What a server says about its build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// `version` (`3.2.0`, `2.53.1`).
    pub version: String,
    /// `revision`, empty when absent.
    pub revision: String,
}

impl BuildInfo {
    /// The major version number, when the version starts with one (`v3.1` → 3).
    #[must_use]
    pub fn major(&self) -> Option<u32> {
        self.version
            .trim_start_matches('v')
            .split(['.', '-'])
            .next()
            .and_then(|major| major.parse().ok())
    }
}

/// Decodes `/loki/api/v1/status/buildinfo` and `/api/status/buildinfo` (a bare object) or
/// Prometheus' `/api/v1/status/buildinfo` (the `{"status":"success","data":{…}}` envelope).
///
/// # Errors
/// [`WireError::NotJson`] for text or HTML, [`WireError::Server`] for an error envelope,
/// [`WireError::Invalid`] when there is no string `version`.
pub fn decode_buildinfo(bytes: &[u8]) -> Result<BuildInfo, WireError> {
    let value = parse_document(bytes)?;
    let root = Path::root();
    let obj = object(&value, &root)?;
    let (info, path) = if obj.contains_key("status") || obj.contains_key("data") {
        let data = success_data(obj, &root)?;
        (object(data, &root.key("data"))?, root.key("data"))
    } else {
        (obj, root)
    };
    let version = opt_str(info, "version", &path)?
        .ok_or_else(|| path.err("no `version` in the build information"))?;
    Ok(BuildInfo {
        version: collapse(version, 60),
        revision: collapse(opt_str(info, "revision", &path)?.unwrap_or_default(), 60),
    })
}

/// Decodes Prometheus `/api/v1/series` (and Loki `/loki/api/v1/series`): `data` is a list of
/// label sets. A missing `data` is an empty list.
///
/// # Errors
/// As [`decode_buildinfo`].
pub fn decode_label_sets(bytes: &[u8]) -> Result<Vec<Labels>, WireError> {
    let value = parse_document(bytes)?;
    let root = Path::root();
    let obj = object(&value, &root)?;
    if !obj.contains_key("data") && obj.get("status").and_then(Value::as_str) == Some("success") {
        return Ok(Vec::new());
    }
    let data = success_data(obj, &root)?;
    let data_path = root.key("data");
    let Value::Array(items) = data else {
        return Err(data_path.expected("an array of label sets", data));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| labels(item, &data_path.index(i)))
        .collect()
}

/// Decodes Tempo tag names or values: v1 `{"tagNames":[…]}` / `{"tagValues":["…"]}`, v2
/// `{"scopes":[{"name":"span","tags":[…]}]}` / `{"tagValues":[{"type":"string","value":"…"}]}`.
/// Values that are not strings are kept as their JSON text.
///
/// # Errors
/// [`WireError::NotJson`] for Tempo's plain-text errors, [`WireError::Invalid`] for a bad shape.
pub fn decode_tempo_tags(bytes: &[u8]) -> Result<Vec<String>, WireError> {
    let value = parse_document(bytes)?;
    let root = Path::root();
    let obj = object(&value, &root)?;
    let mut out = Vec::new();
    for key in ["tagNames", "tagValues"] {
        let path = root.key(key);
        for (i, item) in opt_array(obj, key, &root)?.iter().enumerate() {
            match item {
                Value::String(text) => out.push(text.clone()),
                Value::Object(entry) => match entry.get("value") {
                    Some(Value::String(text)) => out.push(text.clone()),
                    Some(other) => out.push(other.to_string()),
                    None => return Err(path.index(i).err("a tag value without `value`")),
                },
                other => return Err(path.index(i).expected("a string or an object", other)),
            }
        }
    }
    let scopes_path = root.key("scopes");
    for (i, scope) in opt_array(obj, "scopes", &root)?.iter().enumerate() {
        let scope_path = scopes_path.index(i);
        let scope_obj = object(scope, &scope_path)?;
        let name = opt_str(scope_obj, "name", &scope_path)?.unwrap_or_default();
        for (j, tag) in opt_array(scope_obj, "tags", &scope_path)?
            .iter()
            .enumerate()
        {
            let Value::String(tag) = tag else {
                return Err(scope_path.key("tags").index(j).expected("a string", tag));
            };
            out.push(match name {
                "" | "intrinsic" => tag.clone(),
                scope => format!("{scope}.{tag}"),
            });
        }
    }
    Ok(out)
}

/// Decodes a TraceQL metrics response (`/api/metrics/query_range`): each series' `labels`
/// (KeyValue list) become labels (`resource.service.name` → its string value) and `samples`
/// (`timestampMs` as a string, `value` omitted when 0) become samples. Instant responses
/// (`/api/metrics/query`, a `value` per series) give one sample at `time`.
///
/// # Errors
/// [`WireError::NotJson`] for plain text, [`WireError::Invalid`] for bad numbers, with their
/// path.
pub fn decode_traceql_metrics(bytes: &[u8], time: Timestamp) -> Result<Vec<Series>, WireError> {
    let value = parse_document(bytes)?;
    let root = Path::root();
    let obj = object(&value, &root)?;
    let series_path = root.key("series");
    let mut out = Vec::new();
    for (i, item) in opt_array(obj, "series", &root)?.iter().enumerate() {
        let path = series_path.index(i);
        let item_obj = object(item, &path)?;
        let mut series_labels = Labels::new();
        let attributes = decode_attributes(item_obj, "labels", &path)?;
        for (key, value) in attributes {
            let text = match value {
                AttributeValue::Str(text) => text,
                AttributeValue::Int(int) => int.to_string(),
                AttributeValue::Double(float) => float.to_string(),
                AttributeValue::Bool(flag) => flag.to_string(),
                other => collapse(&format!("{other:?}"), 200),
            };
            series_labels.insert(key, text);
        }
        let mut samples = Vec::new();
        let samples_path = path.key("samples");
        for (j, sample) in opt_array(item_obj, "samples", &path)?.iter().enumerate() {
            let sample_path = samples_path.index(j);
            let sample_obj = object(sample, &sample_path)?;
            let millis = match sample_obj.get("timestampMs") {
                Some(v) => crate::wire::json::int_lenient(v, &sample_path.key("timestampMs"))?,
                None => return Err(sample_path.err("a sample without `timestampMs`")),
            };
            let value = match sample_obj.get("value") {
                None | Some(Value::Null) => 0.0,
                Some(v) => crate::wire::json::float_lenient(v, &sample_path.key("value"))?,
            };
            samples.push(Sample {
                timestamp: Timestamp::from_millis(millis),
                value,
            });
        }
        if samples.is_empty()
            && let Some(v) = item_obj.get("value").filter(|v| !v.is_null())
        {
            samples.push(Sample {
                timestamp: time,
                value: crate::wire::json::float_lenient(v, &path.key("value"))?,
            });
        }
        out.push(Series {
            labels: series_labels,
            samples,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::wire::testgen::arb_json;
    use proptest::prelude::*;

    #[test]
    fn buildinfo_bare_and_enveloped() {
        let loki = decode_buildinfo(
            br#"{"version":"3.2.0","revision":"abc","branch":"x","goVersion":"go1.23"}"#,
        )
        .unwrap();
        assert_eq!(loki.version, "3.2.0");
        assert_eq!(loki.revision, "abc");
        assert_eq!(loki.major(), Some(3));
        let prom = decode_buildinfo(
            br#"{"status":"success","data":{"version":"2.53.1","revision":"r","branch":"HEAD"}}"#,
        )
        .unwrap();
        assert_eq!(prom.version, "2.53.1");
        assert_eq!(prom.major(), Some(2));
        assert_eq!(
            BuildInfo {
                version: "v1.x".into(),
                revision: String::new()
            }
            .major(),
            Some(1)
        );
        assert!(matches!(
            decode_buildinfo(b"<html><title>Sign in</title></html>"),
            Err(WireError::NotJson { .. })
        ));
        assert!(matches!(
            decode_buildinfo(br#"{"status":"error","errorType":"internal","error":"x"}"#),
            Err(WireError::Server { .. })
        ));
        assert!(decode_buildinfo(br#"{"revision":"x"}"#).is_err());
        assert!(decode_buildinfo(br#"{"version":3}"#).is_err());
    }

    #[test]
    fn label_sets_and_empty() {
        let sets = decode_label_sets(br#"{"status":"success","data":[{"__name__":"istio_requests_total","reporter":"source"},{"__name__":"up"}]}"#).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0]["reporter"], "source");
        assert!(
            decode_label_sets(br#"{"status":"success","data":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(
            decode_label_sets(br#"{"status":"success"}"#)
                .unwrap()
                .is_empty()
        );
        let err = decode_label_sets(
            br#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no match[]"), "{err}");
        assert!(decode_label_sets(br#"{"status":"success","data":{"a":1}}"#).is_err());
    }

    #[test]
    fn tempo_tags_v1_and_v2() {
        assert_eq!(
            decode_tempo_tags(br#"{"tagValues":["carts.sock-shop","orders.sock-shop"]}"#).unwrap(),
            vec!["carts.sock-shop", "orders.sock-shop"]
        );
        assert_eq!(
            decode_tempo_tags(br#"{"tagValues":[{"type":"string","value":"carts.sock-shop"},{"type":"int","value":503}],"metrics":{}}"#).unwrap(),
            vec!["carts.sock-shop", "503"]
        );
        assert_eq!(
            decode_tempo_tags(br#"{"scopes":[{"name":"resource","tags":["service.name"]},{"name":"span","tags":["http.status_code"]},{"name":"intrinsic","tags":["duration"]}]}"#).unwrap(),
            vec!["resource.service.name", "span.http.status_code", "duration"]
        );
        assert_eq!(
            decode_tempo_tags(br#"{"tagNames":["http.status_code"]}"#).unwrap(),
            vec!["http.status_code"]
        );
        assert!(decode_tempo_tags(b"{}").unwrap().is_empty());
        assert!(decode_tempo_tags(br#"{"tagValues":[{"type":"string"}]}"#).is_err());
        assert!(decode_tempo_tags(br#"{"tagValues":[true]}"#).is_err());
        assert!(matches!(
            decode_tempo_tags(b"no org id"),
            Err(WireError::NotJson { .. })
        ));
    }

    #[test]
    fn traceql_metrics_with_omitted_zero_values() {
        // The shape of the reference: the first sample has no `value` (it is 0).
        let body = br#"{"series":[{"labels":[{"key":"resource.service.name","value":{"stringValue":"carts.sock-shop"}}],
          "samples":[{"timestampMs":"1735689600000"},{"timestampMs":"1735689660000","value":2.35}]}],
          "metrics":{"inspectedBytes":"2048000","totalJobs":2,"completedJobs":2}}"#;
        let series = decode_traceql_metrics(body, Timestamp(0)).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].labels["resource.service.name"], "carts.sock-shop");
        assert_eq!(series[0].samples[0].value, 0.0);
        assert_eq!(
            series[0].samples[0].timestamp,
            Timestamp::from_secs(1_735_689_600)
        );
        assert_eq!(series[0].samples[1].value, 2.35);
        let instant = br#"{"series":[{"labels":[],"value":4.5}]}"#;
        let series = decode_traceql_metrics(instant, Timestamp::from_secs(9)).unwrap();
        assert_eq!(series[0].samples[0].value, 4.5);
        assert_eq!(series[0].samples[0].timestamp, Timestamp::from_secs(9));
        assert!(
            decode_traceql_metrics(br#"{"metrics":{}}"#, Timestamp(0))
                .unwrap()
                .is_empty()
        );
        assert!(
            decode_traceql_metrics(br#"{"series":[{"samples":[{"value":1}]}]}"#, Timestamp(0))
                .is_err()
        );
        assert!(
            decode_traceql_metrics(
                br#"{"series":[{"samples":[{"timestampMs":"x"}]}]}"#,
                Timestamp(0)
            )
            .is_err()
        );
        let partial = br#"{"series":[],"status":"PARTIAL","message":"range truncated"}"#;
        assert!(
            decode_traceql_metrics(partial, Timestamp(0))
                .unwrap()
                .is_empty()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), value in arb_json()) {
            let _ = decode_buildinfo(&bytes);
            let _ = decode_label_sets(&bytes);
            let _ = decode_tempo_tags(&bytes);
            let _ = decode_traceql_metrics(&bytes, Timestamp(0));
            let text = serde_json::to_vec(&value).unwrap();
            let _ = decode_buildinfo(&text);
            let _ = decode_label_sets(&text);
            let _ = decode_tempo_tags(&text);
            let _ = decode_traceql_metrics(&text, Timestamp(0));
            let wrapped = serde_json::to_vec(&serde_json::json!({"series":[{"labels":[], "samples":[value.clone()]}], "tagValues":[value.clone()], "status":"success", "data":[value]})).unwrap();
            let _ = decode_traceql_metrics(&wrapped, Timestamp(0));
            let _ = decode_tempo_tags(&wrapped);
            let _ = decode_label_sets(&wrapped);
        }
    }
}
