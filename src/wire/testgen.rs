//! Proptest strategies shared by the codec tests: spans, log records and metric series shaped
//! so that an encode → decode round trip must reproduce them exactly.
//!
//! Invariant: generated values respect the documented round-trip preconditions (resources carry
//! a `service.name` matching `service`, log labels resolve to the record's service, timestamps
//! are non-negative, floats are exactly representable in short decimal form).
#![allow(clippy::unwrap_used)]

use crate::model::{
    AttributeValue, Labels, LogRecord, Sample, Series, Span, SpanId, SpanKind, SpanStatus,
    StatusCode, Timestamp, TraceId,
};
use proptest::prelude::*;

/// Service names without dots (a dot would be cut by `service_from_service_name`).
pub(crate) fn arb_service() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "carts",
        "orders",
        "front-end",
        "carts-db",
        "user",
        "x_y",
    ])
    .prop_map(str::to_owned)
}

/// Short arbitrary text, including control characters and non-ASCII.
pub(crate) fn arb_text() -> impl Strategy<Value = String> {
    prop::string::string_regex("(?s).{0,12}").unwrap()
}

/// Floats exactly representable in short decimal form (so JSON number round trips are exact).
pub(crate) fn arb_exact_f64() -> impl Strategy<Value = f64> {
    any::<i32>().prop_map(|n| f64::from(n) / 64.0)
}

/// An attribute value, nested at most two levels.
pub(crate) fn arb_attribute_value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        arb_text().prop_map(AttributeValue::Str),
        any::<i64>().prop_map(AttributeValue::Int),
        arb_exact_f64().prop_map(AttributeValue::Double),
        any::<bool>().prop_map(AttributeValue::Bool),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::Bytes),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(AttributeValue::Array),
            prop::collection::vec(("[a-z.]{1,6}", inner), 0..3).prop_map(AttributeValue::KvList),
        ]
    })
}

fn arb_kind() -> impl Strategy<Value = SpanKind> {
    prop::sample::select(vec![
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ])
}

fn arb_status() -> impl Strategy<Value = SpanStatus> {
    (
        prop::sample::select(vec![StatusCode::Unset, StatusCode::Ok, StatusCode::Error]),
        arb_text(),
    )
        .prop_map(|(code, message)| SpanStatus { code, message })
}

/// A span whose resource names its service.
pub(crate) fn arb_span() -> impl Strategy<Value = Span> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 8]>(),
        prop::option::of(any::<[u8; 8]>()),
        arb_text(),
        arb_kind(),
        arb_service(),
        any::<bool>(),
        (0_i64..2_000_000_000_000_000_000, 0_i64..10_000_000_000),
        prop::collection::vec(("[a-z._]{1,10}", arb_attribute_value()), 0..4),
        prop::collection::vec(("[a-z._]{1,10}", arb_attribute_value()), 0..2),
        arb_status(),
    )
        .prop_map(
            |(
                trace,
                span,
                parent,
                name,
                kind,
                service,
                suffix,
                (start, len),
                attributes,
                extra,
                status,
            )| {
                let mut resource = vec![(
                    "service.name".to_owned(),
                    AttributeValue::Str(if suffix {
                        format!("{service}.sock-shop")
                    } else {
                        service.clone()
                    }),
                )];
                resource.extend(extra);
                Span {
                    trace_id: TraceId(trace),
                    span_id: SpanId(span),
                    parent_span_id: parent.filter(|p| *p != [0; 8]).map(SpanId),
                    name,
                    kind,
                    service,
                    start: Timestamp(start),
                    end: Timestamp(start + len),
                    attributes,
                    resource,
                    status,
                }
            },
        )
}

/// A log record whose labels resolve to its service.
pub(crate) fn arb_log_record() -> impl Strategy<Value = LogRecord> {
    (
        0_i64..2_000_000_000_000_000_000,
        arb_service(),
        prop::option::of(prop::sample::select(vec!["info", "error", "warn"])),
        arb_text(),
    )
        .prop_map(|(ts, service, level, line)| {
            let mut labels = Labels::new();
            labels.insert("service_name".to_owned(), service.clone());
            labels.insert("namespace".to_owned(), "sock-shop".to_owned());
            if let Some(level) = level {
                labels.insert("level".to_owned(), level.to_owned());
            }
            LogRecord {
                timestamp: Timestamp(ts),
                service,
                labels: labels.into(),
                line,
            }
        })
}

/// A sample value: exact floats plus NaN and the infinities.
pub(crate) fn arb_sample_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => arb_exact_f64(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ]
}

/// A series with millisecond-precision timestamps, oldest first.
pub(crate) fn arb_series() -> impl Strategy<Value = Series> {
    (
        prop::option::of(prop::sample::select(vec![
            "istio_requests_total",
            "up",
            "container_cpu_usage_seconds_total",
        ])),
        prop::collection::btree_map("[a-z_]{1,8}", arb_text(), 0..3),
        1_600_000_000_000_i64..1_900_000_000_000,
        prop::collection::vec((1_i64..60_000, arb_sample_value()), 0..6),
    )
        .prop_map(|(name, mut labels, start_ms, steps)| {
            labels.remove("__name__");
            if let Some(name) = name {
                labels.insert("__name__".to_owned(), name.to_owned());
            }
            let mut t = start_ms;
            let samples = steps
                .into_iter()
                .map(|(step, value)| {
                    t += step;
                    Sample {
                        timestamp: Timestamp::from_millis(t),
                        value,
                    }
                })
                .collect();
            Series { labels, samples }
        })
}

/// Float equality where NaN equals NaN.
pub(crate) fn same_f64(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Series equality where NaN samples equal NaN samples.
pub(crate) fn same_series(a: &Series, b: &Series) -> bool {
    a.labels == b.labels
        && a.samples.len() == b.samples.len()
        && a.samples
            .iter()
            .zip(&b.samples)
            .all(|(x, y)| x.timestamp == y.timestamp && same_f64(x.value, y.value))
}

/// Arbitrary JSON values (for "never panics" properties).
pub(crate) fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "NaN",
            "+Inf",
            "1735690195200000000",
            "S/kvNXezTaajzpKdDg5HNg==",
            "APBnqgupArc=",
            "streams",
            "matrix",
            "vector",
            "scalar",
            "string",
            "success",
            "error",
            "http",
            "tcp",
            "SPAN_KIND_SERVER",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ])
        .prop_map(Value::from),
        arb_text().prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "batches",
        "resourceSpans",
        "trace",
        "scopeSpans",
        "spans",
        "resource",
        "attributes",
        "traceId",
        "spanId",
        "parentSpanId",
        "startTimeUnixNano",
        "value",
        "values",
        "status",
        "data",
        "resultType",
        "result",
        "stream",
        "metric",
        "traces",
        "traceID",
        "spanSets",
        "serviceStats",
        "elements",
        "nodes",
        "edges",
        "source",
        "target",
        "traffic",
        "rates",
        "id",
        "workload",
        "key",
        "stringValue",
        "intValue",
        "arrayValue",
        "kvlistValue",
        "histogram",
        "error",
        "errorType",
    ]);
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}
