//! Trace graphs: one node per span, edges parent → child (typed sync/async), built from spans
//! alone — pure, deterministic (nodes in start order, ties by span id), bounded
//! ([`MAX_NODES`] spans per trace), and never panicking on malformed traces (missing parents
//! make extra roots, duplicate span ids keep the first span, parent cycles are kept as edges).

use crate::detect::traces::index::host_service;
use crate::model::{Span, SpanId, SpanKind, Timestamp, TraceId};
use std::collections::{BTreeMap, HashMap};

/// Spans kept per trace (the earliest ones); a larger trace is truncated.
pub const MAX_NODES: usize = 2_000;

/// How a child relates to its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// A request/response call (client/server/internal spans).
    Sync,
    /// A message (producer/consumer spans).
    Async,
}

/// One span as a node.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanNode {
    /// The span's service.
    pub service: String,
    /// Operation key: kind, span name, HTTP method and URL path when present.
    pub operation: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// Whether the span failed (HTTP 5xx/0, else the span status).
    pub error: bool,
    /// The HTTP status, when the span has one.
    pub http_status: Option<u16>,
    /// The service a client span calls, when it can be told.
    pub callee: Option<String>,
    /// Log templates attached to the span (template text → count).
    pub templates: BTreeMap<String, u32>,
}

/// A trace as a graph.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceGraph {
    /// The trace id.
    pub trace_id: TraceId,
    /// Earliest span start.
    pub start: Timestamp,
    /// Nodes, in start order.
    pub nodes: Vec<SpanNode>,
    /// Edges (parent node, child node, kind).
    pub edges: Vec<(usize, usize, EdgeKind)>,
    /// The span id of each node (to attach logs afterwards).
    pub span_ids: Vec<SpanId>,
}

impl TraceGraph {
    /// Number of children per node.
    #[must_use]
    pub fn child_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.nodes.len()];
        for &(parent, _, _) in &self.edges {
            if let Some(slot) = counts.get_mut(parent) {
                *slot += 1;
            }
        }
        counts
    }

    /// Whether any node belongs to, or calls, `service`.
    #[must_use]
    pub fn touches(&self, service: &str) -> bool {
        self.nodes
            .iter()
            .any(|n| n.service == service || n.callee.as_deref() == Some(service))
    }
}

/// The operation key of a span: `kind name method path` (the URL path without its query).
#[must_use]
pub fn operation_key(span: &Span) -> String {
    let kind = match span.kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
        SpanKind::Unspecified => "unspecified",
    };
    let method = span
        .attribute_str("http.method")
        .or_else(|| span.attribute_str("http.request.method"))
        .unwrap_or("");
    let path = span
        .attribute_str("http.url")
        .or_else(|| span.attribute_str("url.full"))
        .map(url_path)
        .or_else(|| span.attribute_str("url.path"))
        .unwrap_or("");
    let mut key = format!("{kind} {} {method} {path}", span.name);
    truncate_chars(&mut key, 200);
    key
}

fn truncate_chars(text: &mut String, max: usize) {
    if let Some((cut, _)) = text.char_indices().nth(max) {
        text.truncate(cut);
    }
}

/// `http://carts/carts/1/items?x=1` → `/carts/1/items`.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    path.split(['?', '#']).next().unwrap_or("")
}

fn callee_hint(span: &Span) -> Option<String> {
    if span.kind != SpanKind::Client && span.kind != SpanKind::Producer {
        return None;
    }
    for key in [
        "peer.service",
        "server.address",
        "net.peer.name",
        "http.url",
    ] {
        if let Some(value) = span.attribute_str(key).and_then(host_service) {
            return Some(value);
        }
    }
    host_service(&span.name)
}

/// Builds one graph per trace id, in order of the traces' first span start (ties by id).
#[must_use]
pub fn build_graphs(spans: &[Span]) -> Vec<TraceGraph> {
    let mut by_trace: HashMap<TraceId, Vec<&Span>> = HashMap::new();
    for span in spans {
        by_trace.entry(span.trace_id).or_default().push(span);
    }
    let mut graphs: Vec<TraceGraph> = by_trace
        .into_iter()
        .map(|(trace_id, spans)| build_graph(trace_id, spans))
        .collect();
    graphs.sort_by(|a, b| a.start.cmp(&b.start).then(a.trace_id.cmp(&b.trace_id)));
    graphs
}

fn build_graph(trace_id: TraceId, mut spans: Vec<&Span>) -> TraceGraph {
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(a.span_id.cmp(&b.span_id)));
    let mut index: HashMap<SpanId, usize> = HashMap::new();
    let mut kept: Vec<&Span> = Vec::new();
    for span in spans {
        if kept.len() >= MAX_NODES {
            break;
        }
        if index.contains_key(&span.span_id) {
            continue;
        }
        index.insert(span.span_id, kept.len());
        kept.push(span);
    }
    let mut edges = Vec::new();
    for (child, span) in kept.iter().enumerate() {
        let Some(parent) = span.parent_span_id.and_then(|p| index.get(&p).copied()) else {
            continue;
        };
        if parent == child {
            continue;
        }
        let asynchronous = matches!(span.kind, SpanKind::Producer | SpanKind::Consumer)
            || kept[parent].kind == SpanKind::Producer;
        let kind = if asynchronous {
            EdgeKind::Async
        } else {
            EdgeKind::Sync
        };
        edges.push((parent, child, kind));
    }
    let nodes = kept
        .iter()
        .map(|span| SpanNode {
            service: span.service.clone(),
            operation: operation_key(span),
            kind: span.kind,
            duration_ms: span.duration().as_secs_f64() * 1000.0,
            error: span.is_error(),
            http_status: span.http_status(),
            callee: callee_hint(span),
            templates: BTreeMap::new(),
        })
        .collect();
    TraceGraph {
        trace_id,
        start: kept.first().map_or(Timestamp(0), |s| s.start),
        nodes,
        edges,
        span_ids: kept.iter().map(|s| s.span_id).collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{AttributeValue, SpanStatus, StatusCode};

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn span(
        trace: u8,
        id: u8,
        parent: Option<u8>,
        service: &str,
        kind: SpanKind,
        start_ms: i64,
        duration_ms: i64,
        status: u16,
    ) -> Span {
        Span {
            trace_id: TraceId([trace; 16]),
            span_id: SpanId([id; 8]),
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            name: format!("{service}.sock-shop.svc.cluster.local:80/*"),
            kind,
            service: service.to_owned(),
            start: Timestamp(start_ms * 1_000_000),
            end: Timestamp((start_ms + duration_ms) * 1_000_000),
            attributes: vec![
                ("http.method".into(), AttributeValue::Str("GET".into())),
                (
                    "http.url".into(),
                    AttributeValue::Str(format!("http://{service}/items?id=3")),
                ),
                (
                    "http.status_code".into(),
                    AttributeValue::Str(status.to_string()),
                ),
            ],
            resource: vec![],
            status: SpanStatus {
                code: StatusCode::Unset,
                message: String::new(),
            },
        }
    }

    #[test]
    fn builds_nodes_in_start_order_and_parent_child_edges() {
        // front-end (server) → carts client → carts server; a second trace of one span.
        let spans = vec![
            span(1, 3, Some(2), "carts", SpanKind::Server, 12, 5, 200),
            span(1, 1, None, "front-end", SpanKind::Server, 10, 20, 200),
            span(2, 9, None, "user", SpanKind::Server, 5, 1, 503),
            span(1, 2, Some(1), "front-end", SpanKind::Client, 11, 7, 200),
        ];
        let graphs = build_graphs(&spans);
        assert_eq!(graphs.len(), 2);
        // Trace 2 starts first.
        assert_eq!(graphs[0].trace_id, TraceId([2; 16]));
        assert!(graphs[0].nodes[0].error);
        assert_eq!(graphs[0].nodes[0].http_status, Some(503));
        let g = &graphs[1];
        assert_eq!(g.start, Timestamp(10_000_000));
        let services: Vec<&str> = g.nodes.iter().map(|n| n.service.as_str()).collect();
        assert_eq!(services, ["front-end", "front-end", "carts"]);
        assert_eq!(
            g.edges,
            vec![(0, 1, EdgeKind::Sync), (1, 2, EdgeKind::Sync)]
        );
        assert_eq!(g.child_counts(), vec![1, 1, 0]);
        assert!((g.nodes[0].duration_ms - 20.0).abs() < 1e-9);
        assert_eq!(
            g.nodes[1].operation,
            "client front-end.sock-shop.svc.cluster.local:80/* GET /items"
        );
        assert_eq!(g.nodes[1].callee.as_deref(), Some("front-end"));
        assert!(g.touches("carts") && !g.touches("user"));
    }

    #[test]
    fn malformed_traces_do_not_panic() {
        let mut producer = span(1, 1, None, "orders", SpanKind::Producer, 0, 1, 200);
        producer.attributes.clear();
        let consumer = span(1, 2, Some(1), "shipping", SpanKind::Consumer, 1, 1, 200);
        let orphan = span(1, 3, Some(77), "carts", SpanKind::Server, 2, 1, 200);
        let duplicate = span(1, 3, Some(1), "carts", SpanKind::Server, 3, 1, 200);
        let self_parent = span(1, 4, Some(4), "user", SpanKind::Server, 4, 1, 200);
        let cycle_a = span(1, 5, Some(6), "a", SpanKind::Server, 5, 1, 200);
        let cycle_b = span(1, 6, Some(5), "b", SpanKind::Server, 6, 1, 200);
        let graphs = build_graphs(&[
            producer,
            consumer,
            orphan,
            duplicate,
            self_parent,
            cycle_a,
            cycle_b,
        ]);
        let g = &graphs[0];
        assert_eq!(g.nodes.len(), 6, "the duplicate span id is dropped");
        assert!(g.edges.contains(&(0, 1, EdgeKind::Async)));
        assert!(g.edges.contains(&(4, 5, EdgeKind::Sync)));
        assert!(g.edges.contains(&(5, 4, EdgeKind::Sync)));
        assert_eq!(g.edges.len(), 3, "orphan and self-parent make roots");
        assert_eq!(
            g.nodes[0].operation,
            "producer orders.sock-shop.svc.cluster.local:80/*  "
        );
    }

    #[test]
    fn huge_traces_are_truncated() {
        let spans: Vec<Span> = (0..(MAX_NODES + 10))
            .map(|i| {
                let mut s = span(1, 0, None, "x", SpanKind::Server, i as i64, 1, 200);
                s.span_id = SpanId((i as u64 + 1).to_be_bytes());
                s
            })
            .collect();
        assert_eq!(build_graphs(&spans)[0].nodes.len(), MAX_NODES);
    }
}
