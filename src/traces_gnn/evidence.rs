//! Per-trace scores as evidence for the root-cause network.
//!
//! Each flagged trace (score above the model's threshold) blames the service of its worst
//! node — the callee when that node is a client span that names one (a failed or slow call
//! is the callee's symptom, as the trace family counts errors where they originate). A
//! service blamed by at least [`MIN_FLAGGED`] traces of the focus window gets `degraded`
//! evidence `0.5 + 0.45 · min(1, share / 0.25)`, where `share` is the blamed fraction of the
//! focus traces that touch it; quiet services get nothing (the model is an extra witness, not
//! a reason to clear a service).

use super::graph::TraceGraph;
use super::train::GraphScore;
use crate::model::{SpanKind, TimeRange, Timestamp};
use crate::rca::{EvidenceItem, ServiceEvidence};
use std::collections::{BTreeMap, BTreeSet};

/// Fewer flagged traces than this never make evidence.
pub const MIN_FLAGGED: usize = 3;

/// A scored trace, reduced to what evidence needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredTrace {
    /// Trace start.
    pub start: Timestamp,
    /// Services the trace touches (as span owners or callees).
    pub services: BTreeSet<String>,
    /// The service its worst node blames.
    pub blamed: Option<String>,
    /// The trace score.
    pub score: f64,
}

impl ScoredTrace {
    /// Reduces a graph and its score.
    #[must_use]
    pub fn new(graph: &TraceGraph, score: &GraphScore, value: f64) -> Self {
        let mut services = BTreeSet::new();
        for node in &graph.nodes {
            services.insert(node.service.clone());
            if let Some(callee) = &node.callee {
                services.insert(callee.clone());
            }
        }
        let blamed = score
            .worst_node()
            .and_then(|i| graph.nodes.get(i))
            .map(|node| match (&node.callee, node.kind) {
                (Some(callee), SpanKind::Client | SpanKind::Producer) => callee.clone(),
                _ => node.service.clone(),
            });
        Self {
            start: graph.start,
            services,
            blamed,
            score: value,
        }
    }
}

/// (score, flagged, touching) per blamed service in `focus`.
#[must_use]
pub fn service_scores(
    traces: &[ScoredTrace],
    focus: TimeRange,
    threshold: f64,
) -> BTreeMap<String, (f64, usize, usize)> {
    let mut touching: BTreeMap<&str, usize> = BTreeMap::new();
    let mut flagged: BTreeMap<&str, usize> = BTreeMap::new();
    for trace in traces.iter().filter(|t| focus.contains(t.start)) {
        for service in &trace.services {
            *touching.entry(service).or_default() += 1;
        }
        if trace.score > threshold
            && let Some(blamed) = &trace.blamed
        {
            *flagged.entry(blamed).or_default() += 1;
        }
    }
    flagged
        .into_iter()
        .filter(|(_, n)| *n >= MIN_FLAGGED)
        .map(|(service, n)| {
            let total = touching.get(service).copied().unwrap_or(n).max(n);
            #[allow(clippy::cast_precision_loss)]
            let share = n as f64 / total as f64;
            (
                service.to_owned(),
                (0.5 + 0.45 * (share / 0.25).min(1.0), n, total),
            )
        })
        .collect()
}

/// Adds the model's evidence to the network's.
pub fn add_evidence(
    evidence: &mut BTreeMap<String, ServiceEvidence>,
    traces: &[ScoredTrace],
    focus: TimeRange,
    threshold: f64,
) {
    for (service, (score, flagged, total)) in service_scores(traces, focus, threshold) {
        let facts = evidence.entry(service).or_default();
        facts.degraded = Some(facts.degraded.unwrap_or(0.0).max(score));
        facts.items.push(EvidenceItem {
            kind: "traces".to_owned(),
            description: format!(
                "trace GNN: {flagged} of {total} traces anomalous, worst span here"
            ),
            score,
        });
        facts.items.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(at: i64, services: &[&str], blamed: &str, score: f64) -> ScoredTrace {
        ScoredTrace {
            start: Timestamp(at),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            blamed: Some(blamed.to_owned()),
            score,
        }
    }

    #[test]
    fn flagged_traces_blame_services_in_the_focus_only() {
        let mut traces = Vec::new();
        for i in 0..8 {
            // 8 traces through user; 4 flagged, blaming user.
            traces.push(trace(
                10 + i,
                &["front-end", "user"],
                "user",
                if i < 4 { 9.0 } else { 0.1 },
            ));
        }
        // Two flagged traces blaming carts: below the minimum.
        traces.push(trace(20, &["carts"], "carts", 9.0));
        traces.push(trace(21, &["carts"], "carts", 9.0));
        // Outside the focus.
        for i in 0..5 {
            traces.push(trace(1_000 + i, &["orders"], "orders", 9.0));
        }
        let focus = TimeRange {
            start: Timestamp(0),
            end: Timestamp(100),
        };
        let scores = service_scores(&traces, focus, 1.0);
        assert_eq!(scores.len(), 1);
        let (score, flagged, total) = scores["user"];
        assert_eq!((flagged, total), (4, 8));
        assert!((score - 0.95).abs() < 1e-12, "share 0.5 saturates");
        let mut evidence = BTreeMap::new();
        add_evidence(&mut evidence, &traces, focus, 1.0);
        assert_eq!(evidence["user"].degraded, Some(score));
        assert_eq!(evidence["user"].items[0].kind, "traces");
        // A lower share scores lower: 3 of 24 = 0.125 → 0.5 + 0.45 · 0.5.
        let mut many: Vec<ScoredTrace> = (0..24)
            .map(|i| trace(i, &["user"], "user", if i < 3 { 9.0 } else { 0.0 }))
            .collect();
        many.push(trace(50, &["x"], "x", 0.0));
        let (score, _, _) = service_scores(&many, focus, 1.0)["user"];
        assert!((score - 0.725).abs() < 1e-12);
    }
}
