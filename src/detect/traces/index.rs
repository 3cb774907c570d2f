//! Span relationships and per-operation baselines shared by the trace detectors.
//!
//! Invariant: built once from a span slice; indexes refer into that slice.

use crate::detect::metrics::stats::{RobustBaseline, ScaleFloor};
use crate::model::{Span, SpanId, SpanKind, TimeRange, TraceId};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An operation: (service, kind code (see [`kind_code`]), span name).
pub type OpKey = (String, u8, String);

/// A sortable code of a span kind (the model type is not `Ord`).
#[must_use]
pub fn kind_code(kind: SpanKind) -> u8 {
    match kind {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// Parent/child links of a span slice.
#[derive(Debug, Clone)]
pub struct SpanIndex {
    /// Parent index per span.
    pub parent: Vec<Option<usize>>,
    /// Children per span.
    pub children: Vec<Vec<usize>>,
}

impl SpanIndex {
    /// Links spans by (trace id, span id).
    #[must_use]
    pub fn build(spans: &[Span]) -> Self {
        let by_id: HashMap<(TraceId, SpanId), usize> = spans
            .iter()
            .enumerate()
            .map(|(index, span)| ((span.trace_id, span.span_id), index))
            .collect();
        let mut parent = vec![None; spans.len()];
        let mut children = vec![Vec::new(); spans.len()];
        for (index, span) in spans.iter().enumerate() {
            if let Some(parent_id) = span.parent_span_id
                && let Some(&parent_index) = by_id.get(&(span.trace_id, parent_id))
                && parent_index != index
            {
                parent[index] = Some(parent_index);
                children[parent_index].push(index);
            }
        }
        Self { parent, children }
    }

    /// The server-side child of a client span, if the callee's proxy reported one.
    #[must_use]
    pub fn server_child(&self, spans: &[Span], index: usize) -> Option<usize> {
        self.children[index]
            .iter()
            .copied()
            .find(|&child| is_server_like(spans[child].kind))
    }
}

/// Whether a span describes work done by its own service (server, consumer, internal).
#[must_use]
pub fn is_server_like(kind: SpanKind) -> bool {
    !matches!(kind, SpanKind::Client | SpanKind::Producer)
}

/// The first DNS label of a host in a URL, an Envoy cluster name or a span name
/// (`http://carts.sock-shop/x` → `carts`, `outbound|80||user.sock-shop.svc.cluster.local` → `user`).
#[must_use]
pub fn host_service(text: &str) -> Option<String> {
    let text = text.rsplit("||").next().unwrap_or(text);
    let text = text.split_once("://").map_or(text, |(_, rest)| rest);
    let host = text.split(['/', ':']).next()?.trim();
    let label = host.split('.').next()?.trim();
    (!label.is_empty() && !label.contains(' ')).then(|| label.to_owned())
}

/// The service a client span calls: its server child's service, else `peer.service`,
/// `server.address`, `net.peer.name`, Envoy's `upstream_cluster`, the `http.url` host, or the
/// host part of the span name.
#[must_use]
pub fn callee_of(spans: &[Span], index: &SpanIndex, span_index: usize) -> Option<String> {
    if let Some(child) = index.server_child(spans, span_index) {
        return Some(spans[child].service.clone());
    }
    let span = &spans[span_index];
    for key in ["peer.service", "server.address", "net.peer.name"] {
        if let Some(value) = span.attribute_str(key).and_then(host_service) {
            return Some(value);
        }
    }
    if let Some(cluster) = span.attribute_str("upstream_cluster")
        && cluster.starts_with("outbound")
        && let Some(value) = host_service(cluster)
    {
        return Some(value);
    }
    span.attribute_str("http.url")
        .and_then(host_service)
        .or_else(|| host_service(&span.name).filter(|_| span.name.contains('.')))
}

/// The key of a span's operation.
#[must_use]
pub fn op_key(span: &Span) -> OpKey {
    (
        span.service.clone(),
        kind_code(span.kind),
        span.name.clone(),
    )
}

/// What normal looks like per operation: log-duration baseline, parent→child pairs and the
/// children almost always present.
#[derive(Debug, Clone, Default)]
pub struct OpBaselines {
    /// Robust baseline of `ln(duration ms)` per operation.
    pub duration: BTreeMap<OpKey, RobustBaseline>,
    /// Instances per operation in the baseline.
    pub count: BTreeMap<OpKey, usize>,
    /// Parent op → child ops seen.
    pub pairs: BTreeSet<(OpKey, OpKey)>,
    /// Parent op → child ops present in at least `expected_share` of its instances.
    pub expected_children: BTreeMap<OpKey, BTreeSet<OpKey>>,
}

/// Duration of a span in milliseconds, as `ln(ms)` (floored at 1 µs).
#[must_use]
pub fn log_ms(span: &Span) -> f64 {
    (span.duration().as_secs_f64() * 1000.0).max(1e-3).ln()
}

impl OpBaselines {
    /// Learns from the spans starting inside `baseline`.
    #[must_use]
    pub fn learn(
        spans: &[Span],
        index: &SpanIndex,
        baseline: TimeRange,
        log_floor: f64,
        expected_share: f64,
    ) -> Self {
        let mut durations: BTreeMap<OpKey, Vec<f64>> = BTreeMap::new();
        let mut child_counts: BTreeMap<OpKey, BTreeMap<OpKey, usize>> = BTreeMap::new();
        let mut out = Self::default();
        for (i, span) in spans.iter().enumerate() {
            if !baseline.contains(span.start) {
                continue;
            }
            let key = op_key(span);
            durations.entry(key.clone()).or_default().push(log_ms(span));
            *out.count.entry(key.clone()).or_default() += 1;
            let distinct: BTreeSet<OpKey> = index.children[i]
                .iter()
                .map(|&c| op_key(&spans[c]))
                .collect();
            for child in distinct {
                out.pairs.insert((key.clone(), child.clone()));
                *child_counts
                    .entry(key.clone())
                    .or_default()
                    .entry(child)
                    .or_default() += 1;
            }
        }
        let floor = ScaleFloor {
            absolute: log_floor,
            relative: 0.0,
        };
        for (key, values) in durations {
            if let Some(baseline) = RobustBaseline::fit(&values, floor) {
                out.duration.insert(key, baseline);
            }
        }
        for (parent, children) in child_counts {
            let total = out.count.get(&parent).copied().unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            let expected: BTreeSet<OpKey> = children
                .into_iter()
                .filter(|(_, seen)| *seen as f64 >= expected_share * total as f64)
                .map(|(child, _)| child)
                .collect();
            if !expected.is_empty() {
                out.expected_children.insert(parent, expected);
            }
        }
        out
    }

    /// Robust z of the span's log duration against its operation (0 for unseen operations).
    #[must_use]
    pub fn latency_z(&self, span: &Span) -> f64 {
        self.duration
            .get(&op_key(span))
            .map_or(0.0, |baseline| baseline.z(log_ms(span)))
    }
}
