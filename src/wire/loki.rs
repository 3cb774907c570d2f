//! Loki query API responses (`/loki/api/v1/query_range`, `/query`, `/labels`,
//! `/label/<name>/values`) decoded to and encoded from [`LogRecord`]s and [`Series`].
//!
//! Invariant: every decoded log record carries the full label set of its entry (stream labels
//! plus structured metadata and parsed labels of 3-element values) and a non-empty service;
//! Loki's plain-text errors always become a [`WireError`] carrying their text, never an empty
//! result.

use crate::model::telemetry::service_from_labels;
use crate::model::{Labels, LogRecord, Sample, Series, Timestamp};
use crate::wire::WireError;
use crate::wire::json::{
    Path, collapse, int_lenient, labels, object, opt_array, opt_str, parse_document,
};
use crate::wire::prometheus::{decode_sample, decode_series_list, success_data};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The service of records whose labels name none.
pub const UNKNOWN_SERVICE: &str = "unknown";

/// The `data` of a successful Loki query.
#[derive(Debug, Clone, PartialEq)]
pub enum LokiData {
    /// Log lines (log queries), in the order the response listed them.
    Streams(Vec<LogRecord>),
    /// Metric query over a range.
    Matrix(Vec<Series>),
    /// Instant metric query.
    Vector(Vec<Series>),
    /// Scalar metric query.
    Scalar(Sample),
}

/// Order of entries in a streams response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Oldest first.
    Forward,
    /// Newest first (Loki's default).
    #[default]
    Backward,
}

impl Direction {
    /// `forward` or `backward`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Backward => "backward",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = String;

    /// Case-insensitive `forward` / `backward`, as Loki accepts them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "forward" => Ok(Self::Forward),
            "backward" => Ok(Self::Backward),
            _ => Err(format!(
                "invalid direction `{}` (expected forward or backward)",
                collapse(text, 40)
            )),
        }
    }
}

/// Decodes a `query_range` or `query` body. Stream values may be `["<ns>", "<line>"]` or
/// `["<ns>", "<line>", {"structuredMetadata":{…},"parsed":{…}}]`; metadata labels are merged
/// into the record's labels (stream labels win on a clash).
///
/// # Errors
/// [`WireError::NotJson`] with Loki's text for plain-text errors (`no org id`,
/// `parse error at line 1, col 9: …`), [`WireError::Server`] for a JSON error envelope,
/// [`WireError::Invalid`] with the path of a bad value.
pub fn decode_query_range(bytes: &[u8]) -> Result<LokiData, WireError> {
    decode_query_range_value(&parse_document(bytes)?)
}

/// As [`decode_query_range`], on a parsed document.
///
/// # Errors
/// As [`decode_query_range`].
pub fn decode_query_range_value(value: &Value) -> Result<LokiData, WireError> {
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
        "streams" => decode_streams(result, &result_path).map(LokiData::Streams),
        "matrix" => decode_series_list(result, &result_path, true).map(LokiData::Matrix),
        "vector" => decode_series_list(result, &result_path, false).map(LokiData::Vector),
        "scalar" => decode_sample(result, &result_path).map(LokiData::Scalar),
        other => Err(data_path.key("resultType").err(format!(
            "unknown resultType `{}` (expected streams, matrix, vector or scalar)",
            collapse(other, 40)
        ))),
    }
}

fn service_of(labels: &Labels) -> String {
    service_from_labels(labels).unwrap_or_else(|| UNKNOWN_SERVICE.to_owned())
}

fn decode_streams(value: &Value, path: &Path) -> Result<Vec<LogRecord>, WireError> {
    let streams = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(path.expected("an array of streams", other)),
    };
    let mut out = Vec::new();
    for (i, stream) in streams.iter().enumerate() {
        let stream_path = path.index(i);
        let obj = object(stream, &stream_path)?;
        // Shared by the stream's lines (those without metadata of their own).
        let stream_labels = Arc::new(labels(
            obj.get("stream").unwrap_or(&Value::Null),
            &stream_path.key("stream"),
        )?);
        let stream_service = service_of(&stream_labels);
        let values = opt_array(obj, "values", &stream_path)?;
        let values_path = stream_path.key("values");
        out.reserve(values.len());
        for (j, entry) in values.iter().enumerate() {
            out.push(decode_entry(
                entry,
                &values_path.index(j),
                &stream_labels,
                &stream_service,
            )?);
        }
    }
    Ok(out)
}

fn decode_entry(
    value: &Value,
    path: &Path,
    stream_labels: &Arc<Labels>,
    stream_service: &str,
) -> Result<LogRecord, WireError> {
    let items = match value {
        Value::Array(items) if items.len() == 2 || items.len() == 3 => items,
        other => return Err(path.expected("a [\"<ns>\", \"<line>\"] entry", other)),
    };
    let ts_path = path.index(0);
    let timestamp = Timestamp(int_lenient(&items[0], &ts_path)?);
    let line = match &items[1] {
        Value::String(line) => line.clone(),
        other => return Err(path.index(1).expected("a log line (string)", other)),
    };
    let extra = match items.get(2) {
        None | Some(Value::Null) => Labels::new(),
        Some(meta) => metadata_labels(meta, &path.index(2))?,
    };
    if extra.is_empty() {
        return Ok(LogRecord {
            timestamp,
            service: stream_service.to_owned(),
            labels: Arc::clone(stream_labels),
            line,
        });
    }
    let mut merged = Labels::clone(stream_labels);
    for (key, value) in extra {
        merged.entry(key).or_insert(value);
    }
    Ok(LogRecord {
        timestamp,
        service: service_of(&merged),
        labels: merged.into(),
        line,
    })
}

fn metadata_labels(value: &Value, path: &Path) -> Result<Labels, WireError> {
    let obj = object(value, path)?;
    let mut out = Labels::new();
    for key in ["structuredMetadata", "parsed"] {
        if let Some(inner) = obj.get(key) {
            for (name, text) in labels(inner, &path.key(key))? {
                out.entry(name).or_insert(text);
            }
        }
    }
    Ok(out)
}

/// Decodes `/labels` or `/label/<name>/values`: `{"status":"success","data":["…"]}`. A missing
/// `data` list (Loki omits it when empty) is an empty list.
///
/// # Errors
/// As [`decode_query_range`].
pub fn decode_labels(bytes: &[u8]) -> Result<Vec<String>, WireError> {
    let value = parse_document(bytes)?;
    let root = Path::root();
    let obj = object(&value, &root)?;
    let data = match success_data(obj, &root) {
        Ok(data) => data,
        Err(WireError::Invalid { .. }) if !obj.contains_key("data") => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let data_path = root.key("data");
    let Value::Array(items) = data else {
        return Err(data_path.expected("an array of strings", data));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(text) => Ok(text.clone()),
            other => Err(data_path.index(i).expected("a string", other)),
        })
        .collect()
}

fn labels_value(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
    )
}

/// Encodes records as a streams `query_range` success body. Records are grouped by identical
/// label sets (streams sorted by labels); within a stream entries are newest first for
/// [`Direction::Backward`] and oldest first for [`Direction::Forward`] (ties keep input order).
/// A record whose labels resolve to no service gets a `service_name` label (as Loki 3 adds),
/// so its service survives decoding.
#[must_use]
pub fn encode_streams(records: &[LogRecord], direction: Direction) -> Value {
    let mut streams: BTreeMap<Labels, Vec<&LogRecord>> = BTreeMap::new();
    for record in records {
        let mut labels = Labels::clone(&record.labels);
        if service_from_labels(&labels).is_none() && record.service != UNKNOWN_SERVICE {
            labels.insert("service_name".to_owned(), record.service.clone());
        }
        streams.entry(labels).or_default().push(record);
    }
    let mut result = Vec::with_capacity(streams.len());
    for (labels, mut entries) in streams {
        match direction {
            Direction::Forward => entries.sort_by_key(|r| r.timestamp),
            Direction::Backward => entries.sort_by_key(|r| std::cmp::Reverse(r.timestamp)),
        }
        let values: Vec<Value> = entries
            .iter()
            .map(|r| json!([r.timestamp.0.to_string(), r.line]))
            .collect();
        result.push(json!({"stream": labels_value(&labels), "values": values}));
    }
    let mut data = Map::new();
    data.insert("resultType".to_owned(), Value::from("streams"));
    data.insert("result".to_owned(), Value::Array(result));
    data.insert(
        "stats".to_owned(),
        json!({"summary": {"execTime": 0.0, "queueTime": 0.0, "totalEntriesReturned": records.len()}}),
    );
    json!({"status": "success", "data": data})
}

/// Encodes a `/labels` or `/label/<name>/values` success body.
#[must_use]
pub fn encode_labels(names: &[String]) -> Value {
    json!({"status": "success", "data": names})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixture;
    use crate::wire::testgen::{arb_json, arb_log_record};
    use proptest::prelude::*;

    fn streams(bytes: &str) -> Vec<LogRecord> {
        match decode_query_range(bytes.as_bytes()).unwrap() {
            LokiData::Streams(records) => records,
            other => panic!("expected streams, got {other:?}"),
        }
    }

    #[test]
    fn streams_fixture_with_two_element_values() {
        let records = streams(fixture!("loki/streams.json"));
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].timestamp, Timestamp(1_735_690_195_123_456_789));
        assert_eq!(records[0].service, "carts");
        assert_eq!(records[0].labels["pod"], "carts-7b9f6d8c4-x2x7k");
        assert!(records[0].line.contains("MongoSocketReadException"));
        assert_eq!(records[1].timestamp, Timestamp(1_735_690_190_000_000_000));
        // No service label: resolved from the pod name.
        assert_eq!(records[2].service, "orders");
        assert_eq!(records[2].line, "tab\tand \u{1b}[31mescape");
        // The lines of a stream share its label map.
        assert!(Arc::ptr_eq(&records[0].labels, &records[1].labels));
        assert!(!Arc::ptr_eq(&records[0].labels, &records[2].labels));
    }

    #[test]
    fn categorized_three_element_values_merge_metadata() {
        let records = streams(fixture!("loki/streams_categorized.json"));
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0].labels["traceID"],
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(records[0].labels["level"], "error");
        assert_eq!(records[0].labels["container"], "carts", "stream label wins");
        assert!(!records[1].labels.contains_key("traceID"));
        assert!(
            !Arc::ptr_eq(&records[0].labels, &records[1].labels),
            "a line with metadata has a map of its own"
        );
        assert_eq!(records[2].service, "unknown");
        assert_eq!(records[2].labels.len(), 1);
    }

    #[test]
    fn matrix_vector_and_labels() {
        let LokiData::Matrix(series) =
            decode_query_range(fixture!("loki/matrix.json").as_bytes()).unwrap()
        else {
            panic!("expected a matrix")
        };
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].label("container"), Some("carts"));
        assert_eq!(series[0].samples[1].value, 2.35);
        assert_eq!(
            series[1].samples[0].timestamp,
            Timestamp::from_secs(1_735_689_660)
        );
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1735689600,"3"]}]}}"#;
        assert!(
            matches!(decode_query_range(vector).unwrap(), LokiData::Vector(v) if v[0].samples[0].value == 3.0)
        );
        assert_eq!(
            decode_labels(fixture!("loki/labels.json").as_bytes()).unwrap(),
            vec!["container", "namespace", "pod", "service_name"]
        );
        assert!(
            decode_labels(br#"{"status":"success"}"#)
                .unwrap()
                .is_empty()
        );
        let names = vec!["a".to_owned(), "b".to_owned()];
        let encoded = serde_json::to_vec(&encode_labels(&names)).unwrap();
        assert_eq!(decode_labels(&encoded).unwrap(), names);
    }

    #[test]
    fn plain_text_errors_carry_the_text() {
        assert_eq!(
            decode_query_range(b"no org id\n").unwrap_err(),
            WireError::NotJson {
                text: "no org id".into()
            }
        );
        let parse = "parse error at line 1, col 9: syntax error: unexpected IDENTIFIER";
        assert_eq!(
            decode_query_range(parse.as_bytes())
                .unwrap_err()
                .to_string(),
            format!("the response is not JSON; it says: {parse}")
        );
        let long = format!("too many outstanding requests\u{7}{}", "x".repeat(2000));
        let WireError::NotJson { text } = decode_labels(long.as_bytes()).unwrap_err() else {
            panic!("expected NotJson")
        };
        assert!(text.chars().count() <= 301 && !text.contains('\u{7}'));
        let envelope = br#"{"status":"error","errorType":"bad_data","error":"invalid direction"}"#;
        assert!(matches!(
            decode_query_range(envelope),
            Err(WireError::Server { .. })
        ));
        let bad = br#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["abc","x"]]}]}}"#;
        assert_eq!(
            decode_query_range(bad).unwrap_err().to_string(),
            "data.result[0].values[0][0]: `abc` is not an integer in the 64-bit range"
        );
        let short = br#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["1"]]}]}}"#;
        assert!(decode_query_range(short).is_err());
        assert!(decode_query_range(br#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{"a":[]}}]}}"#).is_err());
    }

    #[test]
    fn encode_orders_by_direction_and_round_trips() {
        let records = streams(fixture!("loki/streams.json"));
        let backward = encode_streams(&records, Direction::Backward);
        let carts = &backward["data"]["result"][0];
        assert_eq!(carts["stream"]["container"], "carts");
        assert_eq!(carts["values"][0][0], "1735690195123456789");
        assert_eq!(carts["values"][1][0], "1735690190000000000");
        let forward = encode_streams(&records, Direction::Forward);
        assert_eq!(
            forward["data"]["result"][0]["values"][0][0],
            "1735690190000000000"
        );
        assert_eq!(
            forward["data"]["stats"]["summary"]["totalEntriesReturned"],
            3
        );
        let LokiData::Streams(back) = decode_query_range_value(&forward).unwrap() else {
            panic!("expected streams")
        };
        let key = |r: &LogRecord| (r.timestamp, r.line.clone());
        let mut a = records.clone();
        let mut b = back;
        a.sort_by_key(key);
        b.sort_by_key(key);
        assert_eq!(a, b);
        assert_eq!("BACKWARD".parse::<Direction>(), Ok(Direction::Backward));
        assert_eq!("Forward".parse::<Direction>(), Ok(Direction::Forward));
        assert!("sideways".parse::<Direction>().is_err());
    }

    #[test]
    fn service_label_is_added_when_labels_name_none() {
        let record = LogRecord {
            timestamp: Timestamp(5),
            service: "carts".into(),
            labels: Labels::from([("namespace".to_owned(), "sock-shop".to_owned())]).into(),
            line: "x".into(),
        };
        let LokiData::Streams(back) =
            decode_query_range_value(&encode_streams(&[record], Direction::Forward)).unwrap()
        else {
            panic!("expected streams")
        };
        assert_eq!(back[0].service, "carts");
        assert_eq!(back[0].labels["service_name"], "carts");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn streams_round_trip(records in prop::collection::vec(arb_log_record(), 0..8), forward in any::<bool>()) {
            let direction = if forward { Direction::Forward } else { Direction::Backward };
            let bytes = serde_json::to_vec(&encode_streams(&records, direction)).unwrap();
            let LokiData::Streams(mut back) = decode_query_range(&bytes).unwrap() else {
                panic!("expected streams")
            };
            // Within each stream the order follows the direction.
            for pair in back.windows(2) {
                if pair[0].labels == pair[1].labels {
                    let ordered = if forward {
                        pair[0].timestamp <= pair[1].timestamp
                    } else {
                        pair[0].timestamp >= pair[1].timestamp
                    };
                    prop_assert!(ordered, "entries out of order for {:?}", direction);
                }
            }
            let key = |r: &LogRecord| (r.timestamp, r.line.clone(), r.labels.clone());
            let mut expected = records;
            expected.sort_by_key(key);
            back.sort_by_key(key);
            prop_assert_eq!(back, expected);
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), value in arb_json()) {
            let _ = decode_query_range(&bytes);
            let _ = decode_labels(&bytes);
            let _ = decode_query_range_value(&value);
            let _ = decode_query_range_value(&json!({"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[value.clone()]}]}}));
            let _ = decode_query_range_value(&json!({"status":"success","data":{"resultType":"streams","result":[value]}}));
        }
    }
}
