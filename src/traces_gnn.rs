//! Learned trace anomaly detection: a multi-head graph-attention autoencoder over trace graphs
//! (candle, CPU), scoring each trace by how badly it reconstructs the trace's spans.
//!
//! - [`graph`]: spans → [`graph::TraceGraph`] (nodes = spans, edges parent → child, sync/async).
//! - [`templates`]: log templates (Drain) attached to spans where the logs can be joined.
//! - [`features`]: the fitted [`features::FeatureSpace`] (vocabularies, per-operation duration
//!   statistics) and node feature rows.
//! - [`model`]: the GAT autoencoder, the optional Deep SVDD term and AdamW with saveable state.
//! - [`train`]: mini-batch training and per-trace scores ([`train::Aggregation`] max/mean/p95).
//! - [`metrics`]: ROC/PR AUC, confusion matrix, precision/recall/F1/specificity.
//! - [`plot`]: ROC and score-distribution plots as PNG bytes and ASCII charts.
//! - [`evidence`]: per-service evidence for the root-cause network from scored traces.
//! - [`store`] (adapter, files): model directory (safetensors + JSON), per-epoch checkpoints.
//! - [`tables`] (adapter, files): Parquet trace tables (one row per span).
//!
//! Everything but [`store`] and [`tables`] is pure: no files, no clock, no terminal.

pub mod evidence;
pub mod features;
pub mod graph;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod store;
pub mod tables;
pub mod templates;
pub mod train;

use crate::model::{LogRecord, Span};
use features::FeatureSpace;
use graph::{TraceGraph, build_graphs};
use model::EncodedGraph;
use templates::{TemplateMiner, attach_templates};

/// Trace graphs of a dataset with log templates attached by `miner`; returns the graphs and how
/// many log records joined a span.
#[must_use]
pub fn trace_graphs(
    spans: &[Span],
    logs: &[LogRecord],
    miner: &mut TemplateMiner,
) -> (Vec<TraceGraph>, usize) {
    let mut graphs = build_graphs(spans);
    let joined = if logs.is_empty() {
        0
    } else {
        attach_templates(&mut graphs, spans, logs, miner)
    };
    (graphs, joined)
}

/// Encodes graphs for the model.
#[must_use]
pub fn encode(space: &FeatureSpace, graphs: &[TraceGraph]) -> Vec<EncodedGraph> {
    let encoder = space.encoder();
    graphs
        .iter()
        .map(|graph| {
            let mut x = Vec::with_capacity(graph.nodes.len() * space.dim());
            encoder.encode_into(graph, &mut x);
            EncodedGraph {
                x,
                nodes: graph.nodes.len(),
                edges: graph
                    .edges
                    .iter()
                    .filter_map(|&(p, c, k)| {
                        Some((u32::try_from(p).ok()?, u32::try_from(c).ok()?, k))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Scores every trace of `spans` (with `logs` for the templates) with a loaded model.
///
/// # Errors
/// Model computation errors.
pub fn score_traces(
    meta: &store::ModelMeta,
    params: &model::Params,
    spans: &[Span],
    logs: &[LogRecord],
    batch_size: usize,
) -> Result<(Vec<TraceGraph>, Vec<train::GraphScore>), String> {
    let mut miner = TemplateMiner::from_templates(&meta.miner_templates);
    let (graphs, _) = trace_graphs(spans, logs, &mut miner);
    let encoded = encode(&meta.features, &graphs);
    let scores = train::score_graphs(
        params,
        &meta.model,
        meta.center.as_deref(),
        &encoded,
        batch_size,
    )?;
    Ok((graphs, scores))
}
