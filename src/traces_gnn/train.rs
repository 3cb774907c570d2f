//! Mini-batch training of the autoencoder and per-trace scoring (pure: no files, no clock;
//! progress is reported through a callback).

use super::metrics::quantile;
use super::model::{
    Adam, AdamSettings, Batch, EncodedGraph, ModelConfig, Params, forward, loss, svdd_center,
};
use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How node errors become a trace score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// The worst node.
    Max,
    /// The mean over nodes.
    Mean,
    /// The 95th percentile over nodes.
    P95,
}

impl Aggregation {
    /// All aggregations.
    pub const ALL: [Self; 3] = [Self::Max, Self::Mean, Self::P95];

    /// Name on the command line and in files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Max => "max",
            Self::Mean => "mean",
            Self::P95 => "p95",
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Aggregation {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown aggregation `{text}`; expected max, mean or p95"))
    }
}

/// Raw outputs for one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphScore {
    /// Reconstruction error per node.
    pub node_errors: Vec<f64>,
    /// Squared SVDD distance (0 without SVDD).
    pub distance: f64,
}

impl GraphScore {
    /// The trace's anomaly score: aggregated node errors plus the weighted SVDD distance.
    #[must_use]
    pub fn score(&self, aggregation: Aggregation, svdd_weight: f64) -> f64 {
        let errors = &self.node_errors;
        let aggregated = match aggregation {
            Aggregation::Max => errors.iter().copied().fold(0.0, f64::max),
            #[allow(clippy::cast_precision_loss)]
            Aggregation::Mean => errors.iter().sum::<f64>() / errors.len().max(1) as f64,
            Aggregation::P95 => quantile(errors, 0.95).unwrap_or(0.0),
        };
        aggregated + svdd_weight * self.distance
    }

    /// The node with the largest error.
    #[must_use]
    pub fn worst_node(&self) -> Option<usize> {
        self.node_errors
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    }
}

/// The model being trained.
#[derive(Debug)]
pub struct Trainer {
    /// Network shape.
    pub config: ModelConfig,
    /// Parameters.
    pub params: Params,
    /// Optimiser state.
    pub adam: Adam,
    /// SVDD centre (when the SVDD term is on).
    pub center: Option<Vec<f32>>,
    /// Mean loss of each finished epoch.
    pub history: Vec<f64>,
    /// Shuffling seed.
    pub seed: u64,
}

fn candle_error(error: &candle_core::Error) -> String {
    format!("model computation failed: {error}")
}

impl Trainer {
    /// A fresh model.
    ///
    /// # Errors
    /// Candle errors.
    pub fn new(config: ModelConfig, adam: AdamSettings, seed: u64) -> Result<Self, String> {
        let params = Params::new(&config, DType::F32, seed).map_err(|e| candle_error(&e))?;
        let adam = Adam::new(&params, adam).map_err(|e| candle_error(&e))?;
        Ok(Self {
            config,
            params,
            adam,
            center: None,
            history: Vec::new(),
            seed,
        })
    }

    fn center_tensor(&self) -> Result<Option<Tensor>, String> {
        self.center
            .as_ref()
            .map(|c| Tensor::new(c.as_slice(), &Device::Cpu))
            .transpose()
            .map_err(|e| candle_error(&e))
    }

    /// Sets the SVDD centre from the current model's embeddings of `data` (when SVDD is on
    /// and no centre is set yet).
    ///
    /// # Errors
    /// Candle errors.
    pub fn init_center(&mut self, data: &[EncodedGraph], batch_size: usize) -> Result<(), String> {
        if self.config.svdd_weight <= 0.0 || self.center.is_some() {
            return Ok(());
        }
        let mut sum = vec![0.0_f64; self.config.latent];
        let mut count = 0.0;
        for chunk in data.chunks(batch_size.max(1)) {
            let refs: Vec<&EncodedGraph> = chunk.iter().collect();
            let batch = Batch::new(&refs, self.config.input_dim, DType::F32)
                .map_err(|e| candle_error(&e))?;
            let out =
                forward(&self.params, &self.config, &batch, None).map_err(|e| candle_error(&e))?;
            let rows: Vec<Vec<f32>> = out.embeddings.to_vec2().map_err(|e| candle_error(&e))?;
            for row in rows {
                for (s, v) in sum.iter_mut().zip(row) {
                    *s += f64::from(v);
                }
                count += 1.0;
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        let mean: Vec<f32> = sum
            .iter()
            .map(|s| (s / f64::max(count, 1.0)) as f32)
            .collect();
        self.center = Some(svdd_center(&mean));
        Ok(())
    }

    /// One pass over `data` in shuffled mini-batches; returns the mean batch loss.
    /// `progress(batches done, batches, running mean loss)` is called after each batch.
    ///
    /// # Errors
    /// Candle errors, or a non-finite loss.
    pub fn epoch(
        &mut self,
        data: &[EncodedGraph],
        batch_size: usize,
        progress: &mut dyn FnMut(usize, usize, f64),
    ) -> Result<f64, String> {
        let epoch = self.history.len() as u64;
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            self.seed ^ (epoch + 1).wrapping_mul(0x9e37_79b9),
        ));
        let center = self.center_tensor()?;
        let batches = order.len().div_ceil(batch_size.max(1));
        let mut total = 0.0;
        for (b, chunk) in order.chunks(batch_size.max(1)).enumerate() {
            let refs: Vec<&EncodedGraph> = chunk.iter().map(|&i| &data[i]).collect();
            let batch = Batch::new(&refs, self.config.input_dim, DType::F32)
                .map_err(|e| candle_error(&e))?;
            let out = forward(&self.params, &self.config, &batch, center.as_ref())
                .map_err(|e| candle_error(&e))?;
            let value = loss(&out, &self.config).map_err(|e| candle_error(&e))?;
            let scalar = f64::from(value.to_scalar::<f32>().map_err(|e| candle_error(&e))?);
            if !scalar.is_finite() {
                return Err(format!(
                    "the loss became {scalar} in epoch {}; lower --lr",
                    epoch + 1
                ));
            }
            let grads = value.backward().map_err(|e| candle_error(&e))?;
            self.adam
                .step(&self.params, &grads)
                .map_err(|e| candle_error(&e))?;
            total += scalar;
            #[allow(clippy::cast_precision_loss)]
            progress(b + 1, batches, total / (b + 1) as f64);
        }
        #[allow(clippy::cast_precision_loss)]
        let mean = total / batches.max(1) as f64;
        self.history.push(mean);
        Ok(mean)
    }
}

/// Scores graphs with a model.
///
/// # Errors
/// Candle errors.
pub fn score_graphs(
    params: &Params,
    config: &ModelConfig,
    center: Option<&[f32]>,
    data: &[EncodedGraph],
    batch_size: usize,
) -> Result<Vec<GraphScore>, String> {
    let center = center
        .map(|c| Tensor::new(c, &Device::Cpu))
        .transpose()
        .map_err(|e| candle_error(&e))?;
    let mut scores = Vec::with_capacity(data.len());
    for chunk in data.chunks(batch_size.max(1)) {
        let refs: Vec<&EncodedGraph> = chunk.iter().collect();
        let batch =
            Batch::new(&refs, config.input_dim, DType::F32).map_err(|e| candle_error(&e))?;
        let out = forward(params, config, &batch, center.as_ref()).map_err(|e| candle_error(&e))?;
        let errors: Vec<f32> = out.node_errors.to_vec1().map_err(|e| candle_error(&e))?;
        let distances: Vec<f32> = out.distances.to_vec1().map_err(|e| candle_error(&e))?;
        let mut per_graph: Vec<Vec<f64>> = vec![Vec::new(); chunk.len()];
        for (&g, &e) in batch.graph_of_node.iter().zip(&errors) {
            per_graph[g as usize].push(f64::from(e));
        }
        for (node_errors, distance) in per_graph.into_iter().zip(distances) {
            scores.push(GraphScore {
                node_errors,
                distance: f64::from(distance),
            });
        }
    }
    Ok(scores)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::traces_gnn::graph::EdgeKind;

    #[test]
    fn aggregations_by_hand() {
        let s = GraphScore {
            node_errors: vec![1.0, 4.0, 2.0, 3.0],
            distance: 2.0,
        };
        assert_eq!(s.score(Aggregation::Max, 0.0), 4.0);
        assert_eq!(s.score(Aggregation::Mean, 0.0), 2.5);
        assert!((s.score(Aggregation::P95, 0.0) - 3.85).abs() < 1e-12);
        assert_eq!(s.score(Aggregation::Max, 0.5), 5.0);
        assert_eq!(s.worst_node(), Some(1));
        assert_eq!("P95".parse::<Aggregation>(), Ok(Aggregation::P95));
        assert!("median".parse::<Aggregation>().is_err());
    }

    #[test]
    fn training_lowers_the_loss_and_scores_an_outlier_higher() {
        // Chains of three nodes whose third feature is always about 0.5; the outlier has 6.
        let graph = |v: f32| EncodedGraph {
            x: vec![1.0, 0.0, 0.5, 0.0, 1.0, 0.4, 0.0, 1.0, v],
            nodes: 3,
            edges: vec![(0, 1, EdgeKind::Sync), (1, 2, EdgeKind::Sync)],
        };
        let data: Vec<EncodedGraph> = (0..32).map(|i| graph(0.45 + 0.003 * i as f32)).collect();
        let config = ModelConfig {
            input_dim: 3,
            hidden: 4,
            heads: 2,
            latent: 2,
            svdd_weight: 0.1,
        };
        let mut trainer = Trainer::new(
            config,
            AdamSettings {
                lr: 0.02,
                ..AdamSettings::default()
            },
            7,
        )
        .unwrap();
        trainer.init_center(&data, 8).unwrap();
        assert!(trainer.center.is_some());
        let mut calls = 0;
        let first = trainer
            .epoch(&data, 8, &mut |_, total, _| {
                calls += 1;
                assert_eq!(total, 4);
            })
            .unwrap();
        assert_eq!(calls, 4);
        let mut last = first;
        for _ in 0..30 {
            last = trainer.epoch(&data, 8, &mut |_, _, _| {}).unwrap();
        }
        assert!(last < first * 0.5, "loss {first} → {last}");
        let scores = score_graphs(
            &trainer.params,
            &config,
            trainer.center.as_deref(),
            &[graph(0.5), graph(6.0)],
            8,
        )
        .unwrap();
        assert_eq!(scores[0].node_errors.len(), 3);
        let (normal, odd) = (
            scores[0].score(Aggregation::Max, 0.1),
            scores[1].score(Aggregation::Max, 0.1),
        );
        assert!(odd > 10.0 * normal, "{odd} vs {normal}");
        assert_eq!(scores[1].worst_node(), Some(2));
    }
}
