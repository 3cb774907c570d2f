//! Node features of trace graphs, fitted on the training traces and saved with the model.
//!
//! Layout per node: service one-hot (training vocabulary + "other"), operation one-hot (the
//! most frequent operations + "other"), kind (server/client/other), duration z of
//! `ln(1 + ms)` against the operation's training mean and spread (clipped to ±[`Z_CLIP`]), the
//! error flag, the HTTP status class (2xx, 3xx, 4xx, 5xx, none/0), the child count against the
//! operation's usual `ln(1 + children)`, and `ln(1 + count)` of each attached log template
//! (the most frequent templates + "other").

use super::graph::{SpanNode, TraceGraph};
use crate::model::SpanKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Duration z-scores are clipped to ±this.
pub const Z_CLIP: f64 = 10.0;
/// Smallest spread of `ln(1 + ms)` per operation.
pub const SPREAD_FLOOR: f64 = 0.1;

/// Training statistics of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpStats {
    /// Mean of `ln(1 + ms)`.
    pub mean_log_ms: f64,
    /// Standard deviation of `ln(1 + ms)` (at least [`SPREAD_FLOOR`]).
    pub std_log_ms: f64,
    /// Mean of `ln(1 + children)`.
    pub mean_log_children: f64,
}

/// The fitted feature space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpace {
    /// Service vocabulary.
    pub services: Vec<String>,
    /// Operation vocabulary.
    pub operations: Vec<String>,
    /// Statistics per operation of the vocabulary (same order).
    pub op_stats: Vec<OpStats>,
    /// Statistics over all spans (for unknown operations).
    pub global: OpStats,
    /// Template vocabulary (keys `service \x1f text`).
    pub templates: Vec<String>,
}

#[derive(Default)]
struct Moments {
    n: f64,
    sum: f64,
    sum_sq: f64,
    children: f64,
}

impl Moments {
    fn add(&mut self, log_ms: f64, log_children: f64) {
        self.n += 1.0;
        self.sum += log_ms;
        self.sum_sq += log_ms * log_ms;
        self.children += log_children;
    }

    fn stats(&self) -> OpStats {
        let n = self.n.max(1.0);
        let mean = self.sum / n;
        let variance = (self.sum_sq / n - mean * mean).max(0.0);
        OpStats {
            mean_log_ms: mean,
            std_log_ms: variance.sqrt().max(SPREAD_FLOOR),
            mean_log_children: self.children / n,
        }
    }
}

fn log_ms(node: &SpanNode) -> f64 {
    node.duration_ms.max(0.0).ln_1p()
}

#[allow(clippy::cast_precision_loss)]
fn log_children(children: usize) -> f64 {
    (children as f64).ln_1p()
}

fn top_keys(counts: HashMap<&str, usize>, limit: usize) -> Vec<String> {
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
        .into_iter()
        .take(limit)
        .map(|(key, _)| key.to_owned())
        .collect()
}

impl FeatureSpace {
    /// Fits vocabularies and statistics on training graphs.
    #[must_use]
    pub fn fit(graphs: &[TraceGraph], max_operations: usize, max_templates: usize) -> Self {
        let mut services: HashMap<&str, usize> = HashMap::new();
        let mut operations: HashMap<&str, usize> = HashMap::new();
        let mut templates: HashMap<&str, usize> = HashMap::new();
        for graph in graphs {
            for node in &graph.nodes {
                *services.entry(&node.service).or_default() += 1;
                *operations.entry(&node.operation).or_default() += 1;
                for (key, count) in &node.templates {
                    *templates.entry(key).or_default() += *count as usize;
                }
            }
        }
        let mut services = top_keys(services, usize::MAX);
        services.sort();
        let operations = top_keys(operations, max_operations);
        let templates = top_keys(templates, max_templates);
        let position: HashMap<&str, usize> = operations
            .iter()
            .enumerate()
            .map(|(i, op)| (op.as_str(), i))
            .collect();
        let mut moments: Vec<Moments> = (0..operations.len()).map(|_| Moments::default()).collect();
        let mut global = Moments::default();
        for graph in graphs {
            let children = graph.child_counts();
            for (node, &kids) in graph.nodes.iter().zip(&children) {
                let (x, c) = (log_ms(node), log_children(kids));
                global.add(x, c);
                if let Some(&at) = position.get(node.operation.as_str()) {
                    moments[at].add(x, c);
                }
            }
        }
        Self {
            services,
            op_stats: moments.iter().map(Moments::stats).collect(),
            operations,
            global: global.stats(),
            templates,
        }
    }

    /// Feature dimension.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.services.len()
            + 1
            + self.operations.len()
            + 1
            + 3
            + 1
            + 1
            + 5
            + 1
            + self.templates.len()
            + 1
    }

    /// Index of the duration feature (for reports).
    #[must_use]
    pub fn duration_index(&self) -> usize {
        self.services.len() + 1 + self.operations.len() + 1 + 3
    }

    /// The (service, text) pairs of the template vocabulary, to rebuild a frozen miner.
    #[must_use]
    pub fn template_pairs(&self) -> Vec<(String, String)> {
        self.templates
            .iter()
            .map(|k| super::templates::split_key(k))
            .collect()
    }

    /// An encoder with lookup tables.
    #[must_use]
    pub fn encoder(&self) -> Encoder<'_> {
        let index = |items: &[String]| -> HashMap<String, usize> {
            items
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), i))
                .collect()
        };
        Encoder {
            space: self,
            services: index(&self.services),
            operations: index(&self.operations),
            templates: index(&self.templates),
        }
    }
}

/// Encodes graphs into feature rows.
pub struct Encoder<'a> {
    space: &'a FeatureSpace,
    services: HashMap<String, usize>,
    operations: HashMap<String, usize>,
    templates: HashMap<String, usize>,
}

impl Encoder<'_> {
    /// Appends the feature rows of `graph` (nodes × [`FeatureSpace::dim`]) to `out`.
    #[allow(clippy::cast_possible_truncation)]
    pub fn encode_into(&self, graph: &TraceGraph, out: &mut Vec<f32>) {
        let space = self.space;
        let dim = space.dim();
        let children = graph.child_counts();
        for (node, &kids) in graph.nodes.iter().zip(&children) {
            let base = out.len();
            out.resize(base + dim, 0.0);
            let row = &mut out[base..];
            let mut at = 0;
            let service = self
                .services
                .get(&node.service)
                .copied()
                .unwrap_or(space.services.len());
            row[at + service] = 1.0;
            at += space.services.len() + 1;
            let op = self.operations.get(&node.operation).copied();
            row[at + op.unwrap_or(space.operations.len())] = 1.0;
            at += space.operations.len() + 1;
            let kind = match node.kind {
                SpanKind::Server => 0,
                SpanKind::Client => 1,
                _ => 2,
            };
            row[at + kind] = 1.0;
            at += 3;
            let stats = op
                .and_then(|i| space.op_stats.get(i))
                .unwrap_or(&space.global);
            let z = ((log_ms(node) - stats.mean_log_ms) / stats.std_log_ms).clamp(-Z_CLIP, Z_CLIP);
            row[at] = z as f32;
            at += 1;
            row[at] = if node.error { 1.0 } else { 0.0 };
            at += 1;
            let class = match node.http_status {
                Some(200..=299) => 0,
                Some(300..=399) => 1,
                Some(400..=499) => 2,
                Some(500..=599) => 3,
                _ => 4,
            };
            row[at + class] = 1.0;
            at += 5;
            row[at] = (log_children(kids) - stats.mean_log_children) as f32;
            at += 1;
            let mut counts: BTreeMap<usize, u32> = BTreeMap::new();
            for (key, count) in &node.templates {
                let slot = self
                    .templates
                    .get(key)
                    .copied()
                    .unwrap_or(space.templates.len());
                *counts.entry(slot).or_insert(0) += count;
            }
            for (slot, count) in counts {
                row[at + slot] = f64::from(count).ln_1p() as f32;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::SpanKind;
    use crate::traces_gnn::graph::{build_graphs, tests::span};

    #[test]
    fn features_are_one_hot_and_normalised_per_operation() {
        let mut spans = Vec::new();
        for (t, ms) in [(1_u8, 10), (2, 10), (3, 40)] {
            spans.push(span(t, 1, None, "front-end", SpanKind::Server, 0, ms, 200));
            spans.push(span(t, 2, Some(1), "carts", SpanKind::Server, 0, 5, 200));
        }
        let mut graphs = build_graphs(&spans);
        graphs[2].nodes[1]
            .templates
            .insert("carts\u{1f}ok".into(), 3);
        let space = FeatureSpace::fit(&graphs, 10, 10);
        assert_eq!(space.services, ["carts", "front-end"]);
        assert_eq!(space.operations.len(), 2);
        // 3 services + 3 ops + 3 kinds + z + error + 5 classes + children + 2 templates.
        assert_eq!(space.dim(), 3 + 3 + 3 + 1 + 1 + 5 + 1 + 2);
        let encoder = space.encoder();
        let mut rows = Vec::new();
        encoder.encode_into(&graphs[2], &mut rows);
        let dim = space.dim();
        assert_eq!(rows.len(), 2 * dim);
        let root = &rows[..dim];
        assert_eq!(root[1], 1.0, "front-end one-hot");
        assert_eq!(root[..3].iter().sum::<f32>(), 1.0);
        assert_eq!(root[3..6].iter().sum::<f32>(), 1.0);
        assert_eq!(root[6], 1.0, "server kind");
        // ln(41) against mean (2 ln 11 + ln 41)/3 and its spread.
        let xs = [11_f64.ln(), 11_f64.ln(), 41_f64.ln()];
        let mean = xs.iter().sum::<f64>() / 3.0;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        let z = (41_f64.ln() - mean) / sd;
        let d = space.duration_index();
        assert!((f64::from(root[d]) - z).abs() < 1e-5, "{} vs {z}", root[d]);
        assert_eq!(root[d + 1], 0.0, "no error");
        assert_eq!(root[d + 2], 1.0, "2xx");
        assert!(root[d + 7].abs() < 1e-6, "usual child count");
        let child = &rows[dim..];
        assert!(
            (child[dim - 2] - 4_f32.ln()).abs() < 1e-6,
            "template count ln(1+3)"
        );
        // Unknown service and operation fall into "other"; an extreme duration is clipped.
        let mut odd = graphs[0].clone();
        odd.nodes[0].service = "new".into();
        odd.nodes[0].operation = "never seen".into();
        odd.nodes[0].duration_ms = 1e12;
        let mut rows = Vec::new();
        encoder.encode_into(&odd, &mut rows);
        assert_eq!(rows[2], 1.0);
        assert_eq!(rows[5], 1.0);
        assert_eq!(f64::from(rows[d]), Z_CLIP);
    }
}
