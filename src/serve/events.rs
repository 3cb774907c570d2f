//! Anomaly events from outside (the MAIA design's queue payload): parsing with clear errors,
//! de-duplication, and expiry. External events raise the Bayesian evidence the way built-in
//! detectors do. Pure: time arrives as an argument.

use crate::model::Timestamp;
use crate::rca::EvidenceItem;
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Largest event body accepted, bytes.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// One external anomaly event.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyEvent {
    /// Idempotency key (`event_id`), or one derived from the content.
    pub event_id: String,
    /// Service (workload) the anomaly is about.
    pub service: String,
    /// Signal kind (`error_rate`, `latency`, `logs`, …).
    pub anomaly_type: String,
    /// Anomaly score in [0, 1].
    pub score: f64,
    /// When the anomaly started.
    pub start: Timestamp,
    /// When it ended, if known.
    pub end: Option<Timestamp>,
    /// Free-form context, shown as evidence (untrusted text).
    pub context: String,
}

/// Why an event was rejected; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or not an object.
    #[error("event is not a JSON object: {0}")]
    NotJson(String),
    /// A field is missing or invalid.
    #[error("event field `{field}`: {message}")]
    Field {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The body is too large.
    #[error("event is {0} bytes; the limit is {MAX_EVENT_BYTES}")]
    TooLarge(usize),
}

#[derive(Deserialize)]
struct RawEvent {
    event_id: Option<String>,
    id: Option<String>,
    service: Option<String>,
    #[serde(alias = "signal", alias = "kind", alias = "type")]
    anomaly_type: Option<String>,
    score: Option<f64>,
    value: Option<f64>,
    baseline: Option<f64>,
    #[serde(alias = "ts", alias = "timestamp", alias = "start_time")]
    start: Option<serde_json::Value>,
    #[serde(alias = "end_time")]
    end: Option<serde_json::Value>,
    context: Option<serde_json::Value>,
    /// SNS envelope without raw delivery: the real event is a JSON string here.
    #[serde(rename = "Message")]
    sns_message: Option<String>,
}

fn parse_time(value: &serde_json::Value, field: &'static str) -> Result<Timestamp, EventError> {
    match value {
        serde_json::Value::String(text) => {
            Timestamp::parse_rfc3339(text).ok_or_else(|| EventError::Field {
                field,
                message: format!(
                    "`{}` is not an RFC 3339 time",
                    text.chars().take(40).collect::<String>()
                ),
            })
        }
        serde_json::Value::Number(number) => {
            let secs = number.as_f64().unwrap_or(f64::NAN);
            // Epoch milliseconds are common on queues; tell them apart from seconds by size.
            let secs = if secs > 1e11 { secs / 1000.0 } else { secs };
            Timestamp::from_secs_f64(secs).ok_or_else(|| EventError::Field {
                field,
                message: "not a valid epoch time".to_owned(),
            })
        }
        _ => Err(EventError::Field {
            field,
            message: "expected RFC 3339 text or epoch seconds".to_owned(),
        }),
    }
}

fn valid_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
}

/// Parses an event body (also unwrapping an SNS notification envelope).
///
/// # Errors
/// When the body is too large, not JSON, or a required field is missing or invalid.
pub fn parse_event(body: &[u8]) -> Result<AnomalyEvent, EventError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(EventError::TooLarge(body.len()));
    }
    let raw: RawEvent =
        serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    if let Some(inner) = raw.sns_message {
        return parse_event(inner.as_bytes());
    }
    let service = raw.service.ok_or(EventError::Field {
        field: "service",
        message: "missing".to_owned(),
    })?;
    if !valid_name(&service) {
        return Err(EventError::Field {
            field: "service",
            message: "must be a workload name ([A-Za-z0-9-_.:/], at most 253 characters)"
                .to_owned(),
        });
    }
    let anomaly_type = raw.anomaly_type.unwrap_or_else(|| "external".to_owned());
    if !valid_name(&anomaly_type) {
        return Err(EventError::Field {
            field: "anomaly_type",
            message: "must be a short identifier".to_owned(),
        });
    }
    let start = parse_time(
        raw.start.as_ref().ok_or(EventError::Field {
            field: "start",
            message: "missing (also accepted: ts, timestamp)".to_owned(),
        })?,
        "start",
    )?;
    let end = raw.end.as_ref().map(|v| parse_time(v, "end")).transpose()?;
    if end.is_some_and(|end| end < start) {
        return Err(EventError::Field {
            field: "end",
            message: "is before start".to_owned(),
        });
    }
    let score = match (raw.score, raw.value, raw.baseline) {
        (Some(score), _, _) if (0.0..=1.0).contains(&score) => score,
        (Some(score), _, _) => {
            return Err(EventError::Field {
                field: "score",
                message: format!("{score} is outside [0, 1]"),
            });
        }
        // A value against a baseline: the larger the relative change, the surer the anomaly.
        (None, Some(value), Some(baseline)) if value.is_finite() && baseline.is_finite() => {
            let change = (value - baseline).abs() / baseline.abs().max(1e-3);
            (change / (change + 1.0)).clamp(0.0, 1.0)
        }
        (None, _, _) => 1.0,
    };
    let context = match raw.context {
        Some(serde_json::Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => match (raw.value, raw.baseline) {
            (Some(value), Some(baseline)) => {
                format!("{anomaly_type} {value} against baseline {baseline}")
            }
            _ => String::new(),
        },
    };
    let context: String = context
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect();
    let event_id = raw
        .event_id
        .or(raw.id)
        .unwrap_or_else(|| format!("{service}/{anomaly_type}/{}", start.as_nanos()));
    Ok(AnomalyEvent {
        event_id,
        service,
        anomaly_type,
        score,
        start,
        end,
        context,
    })
}

/// Recent external events, de-duplicated by id and forgotten after a time to live.
#[derive(Debug, Clone)]
pub struct EventStore {
    ttl: Duration,
    max_events: usize,
    events: VecDeque<AnomalyEvent>,
    seen: BTreeMap<String, Timestamp>,
}

impl EventStore {
    /// A store keeping events for `ttl` after they end (or start), at most `max_events`.
    #[must_use]
    pub fn new(ttl: Duration, max_events: usize) -> Self {
        Self {
            ttl,
            max_events: max_events.max(1),
            events: VecDeque::new(),
            seen: BTreeMap::new(),
        }
    }

    /// Adds an event; returns `false` for a duplicate (at-least-once delivery).
    pub fn add(&mut self, event: AnomalyEvent) -> bool {
        if self.seen.contains_key(&event.event_id) {
            return false;
        }
        self.seen
            .insert(event.event_id.clone(), event.end.unwrap_or(event.start));
        self.events.push_back(event);
        while self.events.len() > self.max_events {
            self.events.pop_front();
        }
        true
    }

    /// Drops events older than the TTL at `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let ttl = self.ttl;
        self.events
            .retain(|e| now.since(e.end.unwrap_or(e.start)) <= ttl);
        self.seen
            .retain(|_, at| now.since(*at) <= ttl.saturating_mul(2));
    }

    /// Per service: the strongest current external score and the evidence items.
    #[must_use]
    pub fn evidence(&self, now: Timestamp) -> BTreeMap<String, (f64, Vec<EvidenceItem>)> {
        let mut out: BTreeMap<String, (f64, Vec<EvidenceItem>)> = BTreeMap::new();
        for event in self
            .events
            .iter()
            .filter(|e| e.start <= now && now.since(e.end.unwrap_or(e.start)) <= self.ttl)
        {
            let entry = out
                .entry(event.service.clone())
                .or_insert((0.0, Vec::new()));
            entry.0 = entry.0.max(event.score);
            entry.1.push(EvidenceItem {
                kind: format!("external:{}", event.anomaly_type),
                description: if event.context.is_empty() {
                    format!("event {}", event.event_id)
                } else {
                    event.context.clone()
                },
                score: event.score,
            });
        }
        out
    }

    /// Number of events held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_example_parses_and_sns_envelopes_unwrap() {
        let body = br#"{"event_id":"a-20250101-0010-carts","service":"carts","namespace":"sock-shop","signal":"error_rate","value":0.25,"baseline":0.002,"ts":"2025-01-01T00:10:00Z"}"#;
        let event = parse_event(body).expect("valid");
        assert_eq!(event.service, "carts");
        assert_eq!(event.anomaly_type, "error_rate");
        assert_eq!(event.start, Timestamp::from_secs(1_735_690_200));
        assert!(
            event.score > 0.99,
            "125× the baseline is a strong anomaly: {}",
            event.score
        );
        let envelope = serde_json::json!({"Type": "Notification", "MessageId": "x", "Message": String::from_utf8_lossy(body)}).to_string();
        assert_eq!(parse_event(envelope.as_bytes()).expect("unwrapped"), event);
        let millis =
            parse_event(br#"{"service":"user","ts":1735690200000,"score":0.5}"#).expect("epoch ms");
        assert_eq!(millis.start, Timestamp::from_secs(1_735_690_200));
    }

    #[test]
    fn bad_events_name_the_field() {
        let cases: [(&[u8], &str); 6] = [
            (b"not json", "not a JSON object"),
            (br#"{"ts":"2025-01-01T00:00:00Z"}"#, "`service`: missing"),
            (
                br#"{"service":"a b","ts":"2025-01-01T00:00:00Z"}"#,
                "`service`",
            ),
            (br#"{"service":"carts"}"#, "`start`: missing"),
            (
                br#"{"service":"carts","ts":"yesterday"}"#,
                "not an RFC 3339 time",
            ),
            (
                br#"{"service":"carts","ts":"2025-01-01T00:00:00Z","score":7}"#,
                "`score`: 7 is outside [0, 1]",
            ),
        ];
        for (body, wanted) in cases {
            let error = parse_event(body).expect_err("invalid").to_string();
            assert!(error.contains(wanted), "{error} should contain {wanted}");
        }
        assert!(matches!(
            parse_event(&vec![b' '; MAX_EVENT_BYTES + 1]),
            Err(EventError::TooLarge(_))
        ));
    }

    #[test]
    fn duplicates_are_ignored_and_events_expire() {
        let mut store = EventStore::new(Duration::from_secs(600), 100);
        let event = parse_event(
            br#"{"event_id":"e1","service":"carts","ts":"2025-01-01T00:10:00Z","score":0.8}"#,
        )
        .expect("valid");
        assert!(store.add(event.clone()));
        assert!(!store.add(event), "same id twice");
        let now = Timestamp::from_secs(1_735_690_200 + 60);
        assert_eq!(
            store.evidence(now).get("carts").map(|(score, _)| *score),
            Some(0.8)
        );
        store.expire(Timestamp::from_secs(1_735_690_200 + 3600));
        assert!(store.is_empty());
    }
}
