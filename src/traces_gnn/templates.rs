//! Log templates attached to spans.
//!
//! A log record joins a span when its stream labels carry the span id (`span_id`/`spanId`, as
//! OpenTelemetry log exporters and Loki structured metadata do), or — what the simulator's
//! Envoy access lines allow — when it belongs to the span's service, quotes the span's
//! `x-request-id` and is written within 2 ms of the span's start (Envoy logs client calls at
//! the call's start and inbound requests at their arrival). Application lines carry neither id,
//! so they join no span.
//!
//! Templates are mined with [`Drain`]; a trained model keeps the template texts of its
//! vocabulary and rebuilds a miner from them ([`TemplateMiner::from_templates`]) so that
//! evaluation maps new lines onto the training templates without learning new ones.

use super::graph::TraceGraph;
use crate::detect::logs::drain::{Drain, DrainConfig};
use crate::model::{LogRecord, Span, SpanId, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Template key of a joined line that matches no known template (it counts as "other").
pub const UNMATCHED: &str = "\u{1f}<unmatched>";

/// Lines further than this from the span's start do not join it by request id.
pub const JOIN_TOLERANCE: Duration = Duration::from_millis(2);

/// A Drain miner keyed by service.
#[derive(Debug, Default)]
pub struct TemplateMiner {
    drain: Drain,
    learn: bool,
}

impl TemplateMiner {
    /// A miner that learns templates from the lines it sees.
    #[must_use]
    pub fn learning() -> Self {
        Self {
            drain: Drain::new(DrainConfig::default()),
            learn: true,
        }
    }

    /// A frozen miner holding the given (service, template text) pairs: lines map onto them or
    /// onto nothing.
    #[must_use]
    pub fn from_templates(templates: &[(String, String)]) -> Self {
        let mut drain = Drain::new(DrainConfig::default());
        for (service, text) in templates {
            drain.add(service, text);
        }
        Self {
            drain,
            learn: false,
        }
    }

    /// Every (service, template text) the miner holds, in creation order.
    #[must_use]
    pub fn templates(&self) -> Vec<(String, String)> {
        (0..self.drain.clusters().len())
            .map(|i| {
                (
                    self.drain.clusters()[i].service.clone(),
                    self.drain.template_text(i),
                )
            })
            .collect()
    }

    /// The template text of a line, learning it when the miner learns.
    pub fn template(&mut self, service: &str, line: &str) -> Option<String> {
        let index = if self.learn {
            Some(self.drain.add(service, line))
        } else {
            self.drain.match_line(service, line)
        }?;
        Some(self.drain.template_text(index))
    }
}

/// Quoted UUID-shaped tokens of a line (`"a1b2…-…"`), the way Envoy writes `x-request-id`.
fn quoted_request_ids(line: &str) -> impl Iterator<Item = &str> {
    line.split('"').skip(1).step_by(2).filter(|field| {
        field.len() == 36
            && field.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    })
}

fn label_span_id(record: &LogRecord) -> Option<SpanId> {
    ["span_id", "spanId", "spanid"]
        .iter()
        .find_map(|key| record.labels.get(*key))
        .and_then(|text| SpanId::from_hex(text))
}

/// Attaches template counts to the nodes of `graphs` (built from `spans`), returning how many
/// log records joined a span.
pub fn attach_templates(
    graphs: &mut [TraceGraph],
    spans: &[Span],
    logs: &[LogRecord],
    miner: &mut TemplateMiner,
) -> usize {
    // Where each span sits: span id → (graph, node).
    let mut place: HashMap<SpanId, (usize, usize)> = HashMap::new();
    for (g, graph) in graphs.iter().enumerate() {
        for (n, id) in graph.span_ids.iter().enumerate() {
            place.entry(*id).or_insert((g, n));
        }
    }
    // (service, request id) → [(start, span id)].
    let mut by_request: HashMap<(&str, &str), Vec<(Timestamp, SpanId)>> = HashMap::new();
    for span in spans {
        if let Some(request) = span.attribute_str("guid:x-request-id") {
            by_request
                .entry((span.service.as_str(), request))
                .or_default()
                .push((span.start, span.span_id));
        }
    }
    let tolerance = i64::try_from(JOIN_TOLERANCE.as_nanos()).unwrap_or(i64::MAX);
    let mut joined = 0;
    for record in logs {
        let target = label_span_id(record).or_else(|| {
            quoted_request_ids(&record.line).find_map(|request| {
                by_request
                    .get(&(record.service.as_str(), request))?
                    .iter()
                    .filter(|(start, _)| {
                        record.timestamp.0.saturating_sub(start.0).saturating_abs() <= tolerance
                    })
                    .min_by_key(|(start, _)| record.timestamp.0.saturating_sub(start.0).abs())
                    .map(|(_, id)| *id)
            })
        });
        let Some(&(g, n)) = target.and_then(|id| place.get(&id)) else {
            continue;
        };
        let key = match miner.template(&record.service, &record.line) {
            Some(text) => format!("{}\u{1f}{text}", record.service),
            None => UNMATCHED.to_owned(),
        };
        let counts: &mut BTreeMap<String, u32> = &mut graphs[g].nodes[n].templates;
        *counts.entry(key).or_insert(0) += 1;
        joined += 1;
    }
    joined
}

/// Splits a template key of [`attach_templates`] into (service, text).
#[must_use]
pub fn split_key(key: &str) -> (String, String) {
    match key.split_once('\u{1f}') {
        Some((service, text)) => (service.to_owned(), text.to_owned()),
        None => (String::new(), key.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{AttributeValue, Labels, SpanKind};
    use crate::traces_gnn::graph::{build_graphs, tests::span};

    fn record(service: &str, ms: i64, line: &str, labels: Labels) -> LogRecord {
        LogRecord {
            timestamp: Timestamp(ms * 1_000_000),
            service: service.to_owned(),
            labels: labels.into(),
            line: line.to_owned(),
        }
    }

    #[test]
    fn envoy_lines_join_by_request_id_and_time_and_labels_by_span_id() {
        let request = "0a1b2c3d-0000-4abc-a123-00000000beef";
        let mut root = span(1, 1, None, "front-end", SpanKind::Server, 10, 20, 200);
        let mut client = span(1, 2, Some(1), "front-end", SpanKind::Client, 15, 7, 503);
        for s in [&mut root, &mut client] {
            s.attributes.push((
                "guid:x-request-id".into(),
                AttributeValue::Str(request.into()),
            ));
        }
        let spans = vec![root, client];
        let mut graphs = build_graphs(&spans);
        let line = |status: u16| {
            format!(
                "[t] \"GET /x HTTP/1.1\" {status} - via_upstream \"-\" 0 9 1 - \"-\" \"locust\" \"{request}\" \"a\""
            )
        };
        let mut labels = Labels::new();
        labels.insert("span_id".into(), "0202020202020202".into());
        let logs = vec![
            record("front-end", 10, &line(200), Labels::new()),
            record("front-end", 15, &line(503), Labels::new()),
            // Too far from any span start: joins nothing.
            record("front-end", 40, &line(200), Labels::new()),
            // Another service's line with the same request id: joins nothing.
            record("carts", 10, &line(200), Labels::new()),
            // Structured metadata wins.
            record("front-end", 99, "connection refused", labels),
        ];
        let mut miner = TemplateMiner::learning();
        assert_eq!(attach_templates(&mut graphs, &spans, &logs, &mut miner), 3);
        let g = &graphs[0];
        assert_eq!(g.nodes[0].templates.values().sum::<u32>(), 1);
        assert_eq!(g.nodes[1].templates.values().sum::<u32>(), 2);
        assert!(
            g.nodes[1]
                .templates
                .keys()
                .any(|k| k.ends_with("connection refused"))
        );
    }

    #[test]
    fn frozen_miner_maps_lines_onto_saved_templates() {
        let mut learning = TemplateMiner::learning();
        for user in ["alice", "bob", "carol"] {
            learning.template("user", &format!("login ok for user {user} in session"));
        }
        let text = learning
            .template("user", "login ok for user dave in session")
            .unwrap();
        assert!(text.contains("<*>"), "{text}");
        let mut frozen = TemplateMiner::from_templates(&[("user".into(), text.clone())]);
        assert_eq!(
            frozen.template("user", "login ok for user erin in session"),
            Some(text.clone())
        );
        assert_eq!(frozen.template("user", "disk full"), None);
        assert_eq!(frozen.templates(), vec![("user".to_owned(), text.clone())]);
        assert_eq!(
            frozen.template("other", "login ok for user erin in session"),
            None
        );
    }
}
