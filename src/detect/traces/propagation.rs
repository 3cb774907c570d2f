//! Error and slowness propagation: for each erroring or slow span, whether the cause lies in a
//! callee (a bad child span) or in the span itself. Per caller→callee edge it counts how often a
//! bad call made the caller's request bad (propagated) or not (absorbed); per service it counts
//! the bad requests that originated there. This is the evidence from which the Bayesian network
//! learns how faults propagate.
//!
//! Invariants: pure; a client span whose callee never answered (no server child) is the
//! callee's own failure (`unreachable`); a server span is "originated" only when none of its
//! children is bad in the same way.

use super::index::{SpanIndex, callee_of, is_server_like};
use crate::model::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a span failed or was slow against its operation's baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Badness {
    /// 5xx / no response / error status.
    pub error: bool,
    /// Duration robust z above the threshold.
    pub slow: bool,
}

/// Propagation counts of one caller → callee edge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgePropagation {
    /// Calling service.
    pub caller: String,
    /// Called service.
    pub callee: String,
    /// Calls observed on the edge.
    pub calls: u64,
    /// Calls that failed, as the caller saw them.
    pub callee_errors: u64,
    /// Failed calls after which the caller's own request failed.
    pub errors_propagated: u64,
    /// Failed calls the caller survived.
    pub errors_absorbed: u64,
    /// Slow calls.
    pub callee_slow: u64,
    /// Slow calls after which the caller's request was slow too.
    pub slow_propagated: u64,
    /// Slow calls the caller's request absorbed.
    pub slow_absorbed: u64,
}

/// Bad requests that originated in one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOrigin {
    /// Service.
    pub service: String,
    /// Requests it failed with no failing callee.
    pub errors_originated: u64,
    /// Requests it was slow on with no slow callee.
    pub slow_originated: u64,
    /// Calls to it that never reached it (no server span: refused, timed out, no healthy pod).
    pub unreachable: u64,
}

/// Propagation evidence over a set of spans.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PropagationReport {
    /// Per edge, sorted by (caller, callee).
    pub edges: Vec<EdgePropagation>,
    /// Per service, sorted by name.
    pub origins: Vec<ServiceOrigin>,
}

/// Where a bad span's cause lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The span's own service (or, for an unanswered call, the callee) caused the error.
    pub error_here: bool,
    /// Same for slowness.
    pub slow_here: bool,
}

/// Decides, for span `i`, whether its badness originated in itself.
#[must_use]
pub fn origin(index: &SpanIndex, bad: &[Badness], i: usize) -> Origin {
    let children = &index.children[i];
    Origin {
        error_here: bad[i].error && !children.iter().any(|&c| bad[c].error),
        slow_here: bad[i].slow && !children.iter().any(|&c| bad[c].slow),
    }
}

/// Counts propagation over the spans for which `include(i)` holds.
#[must_use]
pub fn propagation(
    spans: &[Span],
    index: &SpanIndex,
    bad: &[Badness],
    include: impl Fn(usize) -> bool,
) -> PropagationReport {
    let mut edges: BTreeMap<(String, String), EdgePropagation> = BTreeMap::new();
    let mut origins: BTreeMap<String, ServiceOrigin> = BTreeMap::new();
    for (i, span) in spans.iter().enumerate() {
        if !include(i) {
            continue;
        }
        if is_server_like(span.kind) {
            let here = origin(index, bad, i);
            if here.error_here || here.slow_here {
                let entry = origins.entry(span.service.clone()).or_default();
                entry.errors_originated += u64::from(here.error_here);
                entry.slow_originated += u64::from(here.slow_here);
            }
            continue;
        }
        let Some(callee) = callee_of(spans, index, i) else {
            continue;
        };
        if index.server_child(spans, i).is_none() && bad[i].error {
            origins.entry(callee.clone()).or_default().unreachable += 1;
        }
        let caller_bad = index.parent[i].map(|p| bad[p]).unwrap_or_default();
        let edge = edges.entry((span.service.clone(), callee)).or_default();
        edge.calls += 1;
        if bad[i].error {
            edge.callee_errors += 1;
            if caller_bad.error {
                edge.errors_propagated += 1;
            } else {
                edge.errors_absorbed += 1;
            }
        }
        if bad[i].slow {
            edge.callee_slow += 1;
            if caller_bad.slow {
                edge.slow_propagated += 1;
            } else {
                edge.slow_absorbed += 1;
            }
        }
    }
    PropagationReport {
        edges: edges
            .into_iter()
            .map(|((caller, callee), mut edge)| {
                edge.caller = caller;
                edge.callee = callee;
                edge
            })
            .collect(),
        origins: origins
            .into_iter()
            .map(|(service, mut origin)| {
                origin.service = service;
                origin
            })
            .collect(),
    }
}
