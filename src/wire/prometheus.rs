//! Prometheus query API responses (`/api/v1/query`, `/api/v1/query_range`) decoded to and
//! encoded from [`Series`], plus the exposition text format ([`exposition`]).
//!
//! Invariant: sample values keep NaN and the infinities (`"NaN"`, `"+Inf"`, `"-Inf"` on the
//! wire); native-histogram samples are skipped, never misread as floats; an error envelope or a
//! non-JSON body always becomes an error, never an empty result.

pub mod exposition;

use crate::model::{Labels, Sample, Series, Timestamp};
use crate::wire::WireError;
use crate::wire::json::{
    MAX_ERROR_TEXT, Path, collapse, float_lenient, format_float, labels, object, opt_array,
    opt_str, parse_document,
};
use serde_json::{Map, Value, json};

pub use exposition::{
    ExpositionSample, MetricFamily, MetricKind, encode_exposition, parse_exposition,
};

/// The `data` of a successful query response.
#[derive(Debug, Clone, PartialEq)]
pub enum PromData {
    /// Range query result: series with samples, oldest first.
    Matrix(Vec<Series>),
    /// Instant query result: one sample per series.
    Vector(Vec<Series>),
    /// A scalar.
    Scalar(Sample),
    /// A string result (its timestamp dropped).
    String(String),
}

/// Decodes a `/api/v1/query` or `/api/v1/query_range` body. `warnings`/`infos` are ignored;
/// native histograms (`histogram`/`histograms`) are skipped, and a series holding only
/// histograms is left out.
///
/// # Errors
/// [`WireError::Server`] for `{"status":"error","errorType","error"}`, [`WireError::NotJson`]
/// for proxy HTML or text, [`WireError::Invalid`] for a bad shape or value, with its path.
pub fn decode_query(bytes: &[u8]) -> Result<PromData, WireError> {
    decode_query_value(&parse_document(bytes)?)
}

/// As [`decode_query`], on a parsed document.
///
/// # Errors
/// As [`decode_query`].
pub fn decode_query_value(value: &Value) -> Result<PromData, WireError> {
    let root = Path::root();
    let obj = object(value, &root)?;
    let data = success_data(obj, &root)?;
    let data_path = root.key("data");
    let data_obj = object(data, &data_path)?;
    let result_type = opt_str(data_obj, "resultType", &data_path)?
        .ok_or_else(|| data_path.err("resultType is missing"))?;
    let result = data_obj.get("result").unwrap_or(&Value::Null);
    let result_path = data_path.key("result");
    match result_type {
        "matrix" => decode_series_list(result, &result_path, true).map(PromData::Matrix),
        "vector" => decode_series_list(result, &result_path, false).map(PromData::Vector),
        "scalar" => decode_sample(result, &result_path).map(PromData::Scalar),
        "string" => {
            let pair = pair(result, &result_path)?;
            match &pair[1] {
                Value::String(text) => Ok(PromData::String(text.clone())),
                other => Err(result_path.index(1).expected("a string", other)),
            }
        }
        other => Err(data_path.key("resultType").err(format!(
            "unknown resultType `{}` (expected matrix, vector, scalar or string)",
            collapse(other, 40)
        ))),
    }
}

/// Checks the envelope's `status` and returns `data`. Shared with the Loki decoder, whose
/// envelope is the same.
pub(crate) fn success_data<'v>(
    obj: &'v Map<String, Value>,
    root: &Path,
) -> Result<&'v Value, WireError> {
    let status = opt_str(obj, "status", root)?;
    if status == Some("error") || (status.is_none() && obj.contains_key("error")) {
        let error_type = match obj.get("errorType") {
            Some(Value::String(kind)) => collapse(kind, 60),
            _ => "error".to_owned(),
        };
        let message = match obj.get("error") {
            Some(Value::String(text)) => collapse(text, MAX_ERROR_TEXT),
            Some(other) => collapse(&other.to_string(), MAX_ERROR_TEXT),
            None => "(no message)".to_owned(),
        };
        return Err(WireError::Server {
            error_type,
            message,
        });
    }
    if let Some(status) = status.filter(|s| *s != "success") {
        return Err(root
            .key("status")
            .err(format!("unknown status `{}`", collapse(status, 40))));
    }
    match obj.get("data") {
        None | Some(Value::Null) => Err(root.err("no `data` in the response")),
        Some(data) => Ok(data),
    }
}

fn pair<'v>(value: &'v Value, path: &Path) -> Result<&'v [Value], WireError> {
    match value {
        Value::Array(items) if items.len() == 2 => Ok(items),
        other => Err(path.expected("a [time, value] pair", other)),
    }
}

/// One `[<unix seconds>, "<value>"]` sample; the time may be a number or a string.
pub(crate) fn decode_sample(value: &Value, path: &Path) -> Result<Sample, WireError> {
    let items = pair(value, path)?;
    let time_path = path.index(0);
    let secs = float_lenient(&items[0], &time_path)?;
    let timestamp = Timestamp::from_secs_f64(secs)
        .ok_or_else(|| time_path.err(format!("time {secs} is out of range")))?;
    let value = float_lenient(&items[1], &path.index(1))?;
    Ok(Sample { timestamp, value })
}

/// A matrix (`values`) or vector (`value`) result list, shared with Loki's metric queries.
pub(crate) fn decode_series_list(
    value: &Value,
    path: &Path,
    matrix: bool,
) -> Result<Vec<Series>, WireError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(path.expected("an array of series", other)),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = path.index(i);
        let obj = object(item, &item_path)?;
        let labels = labels(
            obj.get("metric").unwrap_or(&Value::Null),
            &item_path.key("metric"),
        )?;
        let has_histograms = obj.contains_key("histogram") || obj.contains_key("histograms");
        let samples = if matrix {
            let values = opt_array(obj, "values", &item_path)?;
            let values_path = item_path.key("values");
            values
                .iter()
                .enumerate()
                .map(|(j, v)| decode_sample(v, &values_path.index(j)))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            match obj.get("value") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => vec![decode_sample(v, &item_path.key("value"))?],
            }
        };
        if samples.is_empty() && has_histograms {
            continue;
        }
        out.push(Series { labels, samples });
    }
    Ok(out)
}

fn encode_time(timestamp: Timestamp) -> Value {
    if timestamp.0 % 1_000_000_000 == 0 {
        Value::from(timestamp.as_secs())
    } else {
        Value::from(timestamp.as_secs_f64())
    }
}

fn encode_pair(sample: &Sample) -> Value {
    json!([encode_time(sample.timestamp), format_float(sample.value)])
}

fn labels_value(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
    )
}

fn success(result_type: &str, result: Value) -> Value {
    json!({"status": "success", "data": {"resultType": result_type, "result": result}})
}

/// A `query_range` success body: `resultType: matrix`, times as (float) seconds numbers, values
/// as strings (`"NaN"`, `"+Inf"`, `"-Inf"`). Also the shape of Loki metric query responses.
#[must_use]
pub fn encode_matrix(series: &[Series]) -> Value {
    let result = series
        .iter()
        .map(|s| json!({"metric": labels_value(&s.labels), "values": s.samples.iter().map(encode_pair).collect::<Vec<_>>()}))
        .collect();
    success("matrix", Value::Array(result))
}

/// A `query` success body: `resultType: vector`, each series with its last sample; series
/// without samples are left out.
#[must_use]
pub fn encode_vector(series: &[Series]) -> Value {
    let result = series
        .iter()
        .filter_map(|s| {
            s.samples
                .last()
                .map(|last| json!({"metric": labels_value(&s.labels), "value": encode_pair(last)}))
        })
        .collect();
    success("vector", Value::Array(result))
}

/// The error envelope `{"status":"error","errorType":…,"error":…}`.
#[must_use]
pub fn encode_error(error_type: &str, message: &str) -> Value {
    json!({"status": "error", "errorType": error_type, "error": message})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixture;
    use crate::wire::testgen::{arb_json, arb_series, same_series};
    use proptest::prelude::*;

    #[test]
    fn matrix_with_nan_and_infinities() {
        let data = decode_query(fixture!("prometheus/matrix.json").as_bytes()).unwrap();
        let PromData::Matrix(series) = data else {
            panic!("expected a matrix")
        };
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].label("destination_workload"), Some("carts"));
        assert_eq!(series[0].samples.len(), 4);
        assert_eq!(
            series[0].samples[0].timestamp,
            Timestamp::from_secs(1_735_689_600)
        );
        assert_eq!(series[0].samples[0].value, 12.4);
        assert!(series[0].samples[1].value.is_nan());
        assert_eq!(series[0].samples[2].value, f64::INFINITY);
        assert_eq!(series[0].samples[3].value, f64::NEG_INFINITY);
        assert_eq!(
            series[0].samples[3].timestamp,
            Timestamp::from_millis(1_735_689_780_500)
        );
        assert_eq!(series[1].name(), "istio_requests_total");
        assert!(series[1].samples.is_empty() || series[1].samples[0].value == 0.0);
    }

    #[test]
    fn vector_scalar_string_and_histograms() {
        let data = decode_query(fixture!("prometheus/vector.json").as_bytes()).unwrap();
        let PromData::Vector(series) = data else {
            panic!("expected a vector")
        };
        assert_eq!(series.len(), 5, "the histogram-only series is skipped");
        assert_eq!(series[0].label("source_workload"), Some("front-end"));
        assert_eq!(series[0].samples[0].value, 12.4);
        assert_eq!(series[4].label("source_workload"), Some("unknown"));
        assert_eq!(
            decode_query(br#"{"status":"success","data":{"resultType":"scalar","result":[1735690200.5,"2"]}}"#)
                .unwrap(),
            PromData::Scalar(Sample { timestamp: Timestamp::from_millis(1_735_690_200_500), value: 2.0 })
        );
        assert_eq!(
            decode_query(
                br#"{"status":"success","data":{"resultType":"string","result":[1,"hi"]}}"#
            )
            .unwrap(),
            PromData::String("hi".into())
        );
    }

    #[test]
    fn errors_are_reported() {
        let error = decode_query(fixture!("prometheus/error.json").as_bytes()).unwrap_err();
        assert_eq!(
            error,
            WireError::Server {
                error_type: "bad_data".into(),
                message:
                    "invalid parameter \"query\": 1:35: parse error: unclosed left parenthesis"
                        .into()
            }
        );
        let html = "<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n<body><center><h1>503</h1></center><hr><center>nginx</center></body></html>";
        let error = decode_query(html.as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the response is not JSON; it says: HTML page: 503 Service Temporarily Unavailable"
        );
        let bad_value = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}"#;
        assert_eq!(
            decode_query(bad_value).unwrap_err().to_string(),
            "data.result[0].value[1]: `abc` is not a number (expected digits, NaN, +Inf or -Inf)"
        );
        assert!(decode_query(br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1e300,"1"]}]}}"#).is_err());
        assert!(decode_query(br#"{"status":"success"}"#).is_err());
        assert!(decode_query(br#"{"status":"success","data":{"resultType":"bogus"}}"#).is_err());
    }

    #[test]
    fn encoders_round_trip_fixture() {
        let PromData::Matrix(series) =
            decode_query(fixture!("prometheus/matrix.json").as_bytes()).unwrap()
        else {
            panic!("expected a matrix")
        };
        let encoded = encode_matrix(&series);
        assert_eq!(
            encoded["data"]["result"][0]["values"][0],
            json!([1_735_689_600, "12.4"])
        );
        assert_eq!(encoded["data"]["result"][0]["values"][1][1], "NaN");
        assert_eq!(encoded["data"]["result"][0]["values"][2][1], "+Inf");
        assert_eq!(
            encoded["data"]["result"][0]["values"][3][0],
            json!(1_735_689_780.5)
        );
        let PromData::Matrix(back) = decode_query_value(&encoded).unwrap() else {
            panic!("expected a matrix")
        };
        assert!(series.iter().zip(&back).all(|(a, b)| same_series(a, b)));
        let PromData::Vector(last) = decode_query_value(&encode_vector(&series)).unwrap() else {
            panic!("expected a vector")
        };
        assert_eq!(last[0].samples.len(), 1);
        assert!(matches!(
            decode_query_value(&encode_error("timeout", "query timed out")),
            Err(WireError::Server { error_type, .. }) if error_type == "timeout"
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn matrix_round_trips(series in prop::collection::vec(arb_series(), 0..5)) {
            let bytes = serde_json::to_vec(&encode_matrix(&series)).unwrap();
            let PromData::Matrix(back) = decode_query(&bytes).unwrap() else {
                panic!("expected a matrix")
            };
            prop_assert_eq!(back.len(), series.len());
            for (a, b) in series.iter().zip(&back) {
                prop_assert!(same_series(a, b), "{:?} != {:?}", a, b);
            }
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), value in arb_json()) {
            let _ = decode_query(&bytes);
            let _ = decode_query_value(&value);
            let _ = decode_query_value(&json!({"status":"success","data":{"resultType":"matrix","result":[value.clone()]}}));
            let _ = decode_query_value(&json!({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":value}]}}));
        }
    }
}
