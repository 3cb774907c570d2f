//! The multi-head GAT graph autoencoder (candle, CPU) and its optimiser.
//!
//! Encoder: GAT(features → hidden × heads, concatenated) → ELU → GAT(→ latent, heads averaged).
//! Decoder: GAT(latent → hidden × heads) → ELU → linear (→ features). Attention runs over
//! parent → child, child → parent and self edges, each relation with a learnt per-head bias
//! (sync and async calls are separate relations). The softmax over a node's incoming edges is
//! computed with `index_add` (segment sums), shifted by the batch maximum for stability.
//!
//! A node's error is the squared reconstruction error summed over its features. With the Deep
//! SVDD option, each graph's mean latent vector is also pulled towards a fixed centre `c`
//! (Ruff et al., 2018) and its squared distance, times the weight, joins the loss and the score.
//!
//! Parameters are plain candle `Var`s initialised from a seeded ChaCha RNG (Glorot uniform),
//! so the same seed gives the same model. [`Adam`] is the AdamW update of `candle_nn::AdamW`
//! with its moments exposed, so that checkpoints can resume exactly.

use super::graph::EdgeKind;
use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Relations between nodes: self, parent→child and child→parent for sync and async edges.
pub const RELATIONS: usize = 5;

/// Shape of the network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Node feature dimension.
    pub input_dim: usize,
    /// Hidden width per head.
    pub hidden: usize,
    /// Attention heads.
    pub heads: usize,
    /// Latent dimension per node.
    pub latent: usize,
    /// Weight of the Deep SVDD term (0 disables it).
    pub svdd_weight: f64,
}

/// Named parameters.
#[derive(Debug)]
pub struct Params {
    vars: BTreeMap<String, Var>,
}

fn glorot(rng: &mut ChaCha8Rng, fan_in: usize, fan_out: usize, count: usize) -> Vec<f64> {
    #[allow(clippy::cast_precision_loss)]
    let limit = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    (0..count)
        .map(|_| rng.random_range(-limit..=limit))
        .collect()
}

impl Params {
    /// Fresh parameters for `config`, drawn from `seed`.
    ///
    /// # Errors
    /// Candle errors (none expected on the CPU).
    pub fn new(config: &ModelConfig, dtype: DType, seed: u64) -> candle_core::Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut vars = BTreeMap::new();
        let (h, k) = (config.hidden, config.heads);
        let layers = [
            ("enc1", config.input_dim, h, true),
            ("enc2", h * k, config.latent, false),
            ("dec1", config.latent, h, true),
        ];
        let mut put =
            |name: String, shape: &[usize], values: Vec<f64>| -> candle_core::Result<()> {
                let tensor = Tensor::from_vec(values, shape, &Device::Cpu)?.to_dtype(dtype)?;
                vars.insert(name, Var::from_tensor(&tensor)?);
                Ok(())
            };
        for (name, input, out, concat) in layers {
            put(
                format!("{name}.w"),
                &[input, k * out],
                glorot(&mut rng, input, k * out, input * k * out),
            )?;
            put(
                format!("{name}.a_src"),
                &[k, out],
                glorot(&mut rng, out, 1, k * out),
            )?;
            put(
                format!("{name}.a_dst"),
                &[k, out],
                glorot(&mut rng, out, 1, k * out),
            )?;
            put(
                format!("{name}.rel"),
                &[RELATIONS, k],
                vec![0.0; RELATIONS * k],
            )?;
            let width = if concat { k * out } else { out };
            put(format!("{name}.b"), &[width], vec![0.0; width])?;
        }
        put(
            "out.w".to_owned(),
            &[h * k, config.input_dim],
            glorot(&mut rng, h * k, config.input_dim, h * k * config.input_dim),
        )?;
        put(
            "out.b".to_owned(),
            &[config.input_dim],
            vec![0.0; config.input_dim],
        )?;
        Ok(Self { vars })
    }

    fn get(&self, name: &str) -> candle_core::Result<&Tensor> {
        self.vars
            .get(name)
            .map(Var::as_tensor)
            .ok_or_else(|| candle_core::Error::Msg(format!("parameter `{name}` missing")))
    }

    /// The parameters by name.
    #[must_use]
    pub fn vars(&self) -> &BTreeMap<String, Var> {
        &self.vars
    }

    /// Number of scalar parameters.
    #[must_use]
    pub fn count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// Replaces every parameter from `tensors` (same names and shapes).
    ///
    /// # Errors
    /// When a tensor is missing or has another shape.
    pub fn assign(
        &self,
        tensors: &std::collections::HashMap<String, Tensor>,
    ) -> candle_core::Result<()> {
        for (name, var) in &self.vars {
            let tensor = tensors.get(name).ok_or_else(|| {
                candle_core::Error::Msg(format!("the weights file has no `{name}`"))
            })?;
            if tensor.dims() != var.dims() {
                return Err(candle_core::Error::Msg(format!(
                    "`{name}` has shape {:?} in the weights file, the model expects {:?}",
                    tensor.dims(),
                    var.dims()
                )));
            }
            var.set(&tensor.to_dtype(var.dtype())?)?;
        }
        Ok(())
    }
}

/// A mini-batch: the disjoint union of several graphs.
#[derive(Debug)]
pub struct Batch {
    /// Node features `[nodes, features]`.
    pub x: Tensor,
    src: Tensor,
    dst: Tensor,
    relation: Tensor,
    graph: Tensor,
    graph_sizes: Tensor,
    /// Graph of each node.
    pub graph_of_node: Vec<u32>,
    /// Number of graphs.
    pub graphs: usize,
}

/// A graph ready for batching: feature rows and edges.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedGraph {
    /// Row-major features, `nodes × dim`.
    pub x: Vec<f32>,
    /// Node count.
    pub nodes: usize,
    /// Edges (parent, child, kind).
    pub edges: Vec<(u32, u32, EdgeKind)>,
}

impl Batch {
    /// Stacks graphs into one batch.
    ///
    /// # Errors
    /// Candle errors, or when a graph's rows do not match `dim`.
    pub fn new(graphs: &[&EncodedGraph], dim: usize, dtype: DType) -> candle_core::Result<Self> {
        let device = Device::Cpu;
        let total: usize = graphs.iter().map(|g| g.nodes).sum();
        let mut x = Vec::with_capacity(total * dim);
        let (mut src, mut dst, mut relation) = (Vec::new(), Vec::new(), Vec::new());
        let mut graph_of_node = Vec::with_capacity(total);
        let mut sizes = Vec::with_capacity(graphs.len());
        let mut offset = 0_u32;
        for (g, graph) in graphs.iter().enumerate() {
            if graph.x.len() != graph.nodes * dim {
                return Err(candle_core::Error::Msg(
                    "feature rows do not match the model".into(),
                ));
            }
            x.extend_from_slice(&graph.x);
            let g =
                u32::try_from(g).map_err(|_| candle_core::Error::Msg("batch too large".into()))?;
            let nodes = u32::try_from(graph.nodes)
                .map_err(|_| candle_core::Error::Msg("graph too large".into()))?;
            for n in 0..nodes {
                src.push(offset + n);
                dst.push(offset + n);
                relation.push(0_u32);
                graph_of_node.push(g);
            }
            for &(parent, child, kind) in &graph.edges {
                if parent >= nodes || child >= nodes {
                    continue;
                }
                let down = if kind == EdgeKind::Sync { 1 } else { 3 };
                src.extend([offset + parent, offset + child]);
                dst.extend([offset + child, offset + parent]);
                relation.extend([down, down + 1]);
            }
            #[allow(clippy::cast_precision_loss)]
            sizes.push(graph.nodes.max(1) as f32);
            offset += nodes;
        }
        let edges = src.len();
        Ok(Self {
            x: Tensor::from_vec(x, (total, dim), &device)?.to_dtype(dtype)?,
            src: Tensor::from_vec(src, edges, &device)?,
            dst: Tensor::from_vec(dst, edges, &device)?,
            relation: Tensor::from_vec(relation, edges, &device)?,
            graph: Tensor::from_vec(graph_of_node.clone(), total, &device)?,
            graph_sizes: Tensor::from_vec(sizes, (graphs.len(), 1), &device)?.to_dtype(dtype)?,
            graph_of_node,
            graphs: graphs.len(),
        })
    }

    /// Number of nodes.
    #[must_use]
    pub fn nodes(&self) -> usize {
        self.graph_of_node.len()
    }
}

/// One GAT layer over the batch's edges.
fn gat(
    params: &Params,
    name: &str,
    x: &Tensor,
    batch: &Batch,
    heads: usize,
    concat: bool,
) -> candle_core::Result<Tensor> {
    let w = params.get(&format!("{name}.w"))?;
    let out = w.dim(1)? / heads;
    let nodes = x.dim(0)?;
    let wh = x.matmul(w)?.reshape((nodes, heads, out))?;
    let score = |key: &str| -> candle_core::Result<Tensor> {
        let a = params.get(&format!("{name}.{key}"))?.unsqueeze(0)?;
        wh.broadcast_mul(&a)?.sum(D::Minus1)
    };
    let (s_src, s_dst) = (score("a_src")?, score("a_dst")?);
    let rel = params.get(&format!("{name}.rel"))?;
    let e = (s_src.index_select(&batch.src, 0)? + s_dst.index_select(&batch.dst, 0)?)?;
    let e = (e + rel.index_select(&batch.relation, 0)?)?;
    let e = candle_nn::ops::leaky_relu(&e, 0.2)?;
    let shift = e.max_all()?.detach();
    let ex = e.broadcast_sub(&shift)?.exp()?;
    let denom =
        Tensor::zeros((nodes, heads), ex.dtype(), ex.device())?.index_add(&batch.dst, &ex, 0)?;
    let alpha = (ex / (denom.index_select(&batch.dst, 0)? + 1e-30)?)?;
    let messages = wh
        .index_select(&batch.src, 0)?
        .broadcast_mul(&alpha.unsqueeze(2)?)?;
    let aggregated = Tensor::zeros((nodes, heads, out), wh.dtype(), wh.device())?
        .index_add(&batch.dst, &messages, 0)?;
    let combined = if concat {
        aggregated.reshape((nodes, heads * out))?
    } else {
        aggregated.mean(1)?
    };
    combined.broadcast_add(params.get(&format!("{name}.b"))?)
}

/// What a forward pass gives.
#[derive(Debug)]
pub struct Forward {
    /// Squared reconstruction error per node, `[nodes]`.
    pub node_errors: Tensor,
    /// Squared distance of each graph's mean latent vector to the SVDD centre, `[graphs]`
    /// (zeros when the centre is absent).
    pub distances: Tensor,
    /// Mean latent vector per graph, `[graphs, latent]`.
    pub embeddings: Tensor,
}

/// Runs the autoencoder on a batch.
///
/// # Errors
/// Candle errors.
pub fn forward(
    params: &Params,
    config: &ModelConfig,
    batch: &Batch,
    center: Option<&Tensor>,
) -> candle_core::Result<Forward> {
    let k = config.heads;
    let h1 = gat(params, "enc1", &batch.x, batch, k, true)?.elu(1.0)?;
    let z = gat(params, "enc2", &h1, batch, k, false)?;
    let h2 = gat(params, "dec1", &z, batch, k, true)?.elu(1.0)?;
    let recon = h2
        .matmul(params.get("out.w")?)?
        .broadcast_add(params.get("out.b")?)?;
    let node_errors = (recon - &batch.x)?.sqr()?.sum(1)?;
    let sums = Tensor::zeros((batch.graphs, config.latent), z.dtype(), z.device())?.index_add(
        &batch.graph,
        &z,
        0,
    )?;
    let embeddings = sums.broadcast_div(&batch.graph_sizes)?;
    let distances = match center {
        Some(c) => embeddings.broadcast_sub(&c.unsqueeze(0)?)?.sqr()?.sum(1)?,
        None => Tensor::zeros(batch.graphs, z.dtype(), z.device())?,
    };
    Ok(Forward {
        node_errors,
        distances,
        embeddings,
    })
}

/// The training loss: mean node error plus the SVDD weight times the mean distance.
///
/// # Errors
/// Candle errors.
pub fn loss(forward: &Forward, config: &ModelConfig) -> candle_core::Result<Tensor> {
    let reconstruction = forward.node_errors.mean_all()?;
    if config.svdd_weight > 0.0 {
        reconstruction + (forward.distances.mean_all()? * config.svdd_weight)?
    } else {
        Ok(reconstruction)
    }
}

/// The SVDD centre from initial embeddings: their mean, with entries too close to zero pushed
/// to ±0.1 (Ruff et al.: a centre at the origin invites the trivial solution).
#[must_use]
pub fn svdd_center(mean: &[f32]) -> Vec<f32> {
    mean.iter()
        .map(|&v| {
            if v.abs() < 0.1 {
                if v < 0.0 { -0.1 } else { 0.1 }
            } else {
                v
            }
        })
        .collect()
}

/// Settings of [`Adam`] (those of `candle_nn::ParamsAdamW`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamSettings {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for AdamSettings {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// AdamW with inspectable state.
#[derive(Debug)]
pub struct Adam {
    /// Settings.
    pub settings: AdamSettings,
    /// Steps taken.
    pub step: u64,
    moments: BTreeMap<String, (Tensor, Tensor)>,
}

impl Adam {
    /// Zero moments for `params`.
    ///
    /// # Errors
    /// Candle errors.
    pub fn new(params: &Params, settings: AdamSettings) -> candle_core::Result<Self> {
        let mut moments = BTreeMap::new();
        for (name, var) in params.vars() {
            moments.insert(name.clone(), (var.zeros_like()?, var.zeros_like()?));
        }
        Ok(Self {
            settings,
            step: 0,
            moments,
        })
    }

    /// One AdamW step.
    ///
    /// # Errors
    /// Candle errors.
    pub fn step(&mut self, params: &Params, grads: &GradStore) -> candle_core::Result<()> {
        self.step += 1;
        let s = self.settings;
        let t = i32::try_from(self.step).unwrap_or(i32::MAX);
        let scale_m = 1.0 / (1.0 - s.beta1.powi(t));
        let scale_v = 1.0 / (1.0 - s.beta2.powi(t));
        for (name, var) in params.vars() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let Some((m, v)) = self.moments.get_mut(name) else {
                continue;
            };
            let next_m = ((&*m * s.beta1)? + (g * (1.0 - s.beta1))?)?;
            let next_v = ((&*v * s.beta2)? + (g.sqr()? * (1.0 - s.beta2))?)?;
            let adjusted = ((&next_m * scale_m)? / ((&next_v * scale_v)?.sqrt()? + s.eps)?)?;
            let next = ((var.as_tensor() * (1.0 - s.lr * s.weight_decay))? - (adjusted * s.lr)?)?;
            var.set(&next)?;
            // Detached: the gradients carry the batch's computation graph, and a moment that
            // kept it would keep every batch's graph alive through the chain of moments.
            *m = next_m.detach();
            *v = next_v.detach();
        }
        Ok(())
    }

    /// The moments as named tensors (`m.NAME`, `v.NAME`).
    #[must_use]
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (name, (m, v)) in &self.moments {
            out.push((format!("m.{name}"), m.clone()));
            out.push((format!("v.{name}"), v.clone()));
        }
        out
    }

    /// Restores moments saved by [`Adam::tensors`].
    ///
    /// # Errors
    /// When a moment is missing or has the wrong shape.
    pub fn restore(
        &mut self,
        tensors: &std::collections::HashMap<String, Tensor>,
        step: u64,
    ) -> candle_core::Result<()> {
        for (name, (m, v)) in &mut self.moments {
            for (prefix, slot) in [("m", &mut *m), ("v", &mut *v)] {
                let key = format!("{prefix}.{name}");
                let saved = tensors.get(&key).ok_or_else(|| {
                    candle_core::Error::Msg(format!("the checkpoint has no `{key}`"))
                })?;
                if saved.dims() != slot.dims() {
                    return Err(candle_core::Error::Msg(format!(
                        "`{key}` has the wrong shape"
                    )));
                }
                *slot = saved.to_dtype(slot.dtype())?;
            }
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use candle_nn::Optimizer;

    fn tiny() -> (ModelConfig, Vec<EncodedGraph>) {
        let config = ModelConfig {
            input_dim: 4,
            hidden: 3,
            heads: 2,
            latent: 2,
            svdd_weight: 0.5,
        };
        let graphs = vec![
            EncodedGraph {
                x: vec![1.0, 0.0, 0.3, -0.2, 0.0, 1.0, -0.5, 0.1, 0.0, 1.0, 1.5, 0.0],
                nodes: 3,
                edges: vec![(0, 1, EdgeKind::Sync), (1, 2, EdgeKind::Async)],
            },
            EncodedGraph {
                x: vec![1.0, 0.0, 0.9, 0.4],
                nodes: 1,
                edges: vec![],
            },
        ];
        (config, graphs)
    }

    fn total_loss(params: &Params, config: &ModelConfig, batch: &Batch, center: &Tensor) -> f64 {
        let f = forward(params, config, batch, Some(center)).unwrap();
        loss(&f, config).unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (config, graphs) = tiny();
        let params = Params::new(&config, DType::F64, 3).unwrap();
        // Non-zero biases so that every path is exercised.
        for (name, var) in params.vars() {
            if name.ends_with(".b") || name.ends_with(".rel") {
                let n = var.elem_count();
                let values: Vec<f64> = (0..n).map(|i| 0.05 * (i as f64 + 1.0) - 0.1).collect();
                var.set(&Tensor::from_vec(values, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
            }
        }
        let refs: Vec<&EncodedGraph> = graphs.iter().collect();
        let batch = Batch::new(&refs, config.input_dim, DType::F64).unwrap();
        let center = Tensor::new(&[0.2_f64, -0.3], &Device::Cpu).unwrap();
        let f = forward(&params, &config, &batch, Some(&center)).unwrap();
        let grads = loss(&f, &config).unwrap().backward().unwrap();
        let mut checked = 0;
        for (name, var) in params.vars() {
            let analytic: Vec<f64> = grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let original: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            for i in 0..original.len() {
                let h = 1e-6;
                let mut values = original.clone();
                values[i] += h;
                var.set(&Tensor::from_vec(values.clone(), var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                let up = total_loss(&params, &config, &batch, &center);
                values[i] -= 2.0 * h;
                var.set(&Tensor::from_vec(values, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                let down = total_loss(&params, &config, &batch, &center);
                var.set(&Tensor::from_vec(original.clone(), var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                let numeric = (up - down) / (2.0 * h);
                let error =
                    (numeric - analytic[i]).abs() / (1e-6 + numeric.abs().max(analytic[i].abs()));
                assert!(
                    error < 1e-4,
                    "{name}[{i}]: numeric {numeric} vs backward {}",
                    analytic[i]
                );
                checked += 1;
            }
        }
        assert_eq!(checked, params.count());
        assert!(checked > 50);
    }

    #[test]
    fn attention_is_a_softmax_over_incoming_edges() {
        // With zero weights except the output bias the reconstruction is the bias, so each
        // node's error is |x - b|², whatever the attention does.
        let (config, graphs) = tiny();
        let params = Params::new(&config, DType::F64, 1).unwrap();
        for var in params.vars().values() {
            var.set(&var.zeros_like().unwrap()).unwrap();
        }
        let refs: Vec<&EncodedGraph> = graphs.iter().collect();
        let batch = Batch::new(&refs, 4, DType::F64).unwrap();
        let f = forward(&params, &config, &batch, None).unwrap();
        let errors: Vec<f64> = f.node_errors.to_vec1().unwrap();
        let expected: Vec<f64> = graphs
            .iter()
            .flat_map(|g| {
                g.x.chunks(4)
                    .map(|row| row.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>())
                    .collect::<Vec<_>>()
            })
            .collect();
        for (a, b) in errors.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(batch.nodes(), 4);
        assert_eq!(f.distances.to_vec1::<f64>().unwrap(), vec![0.0, 0.0]);
    }

    #[test]
    fn adam_matches_candle_adamw() {
        let (config, graphs) = tiny();
        let ours = Params::new(&config, DType::F64, 5).unwrap();
        let theirs = Params::new(&config, DType::F64, 5).unwrap();
        let refs: Vec<&EncodedGraph> = graphs.iter().collect();
        let batch = Batch::new(&refs, 4, DType::F64).unwrap();
        let settings = AdamSettings {
            lr: 0.01,
            ..AdamSettings::default()
        };
        let mut adam = Adam::new(&ours, settings).unwrap();
        let mut reference = candle_nn::AdamW::new(
            theirs.vars().values().cloned().collect(),
            candle_nn::ParamsAdamW {
                lr: 0.01,
                ..Default::default()
            },
        )
        .unwrap();
        for _ in 0..3 {
            let g = loss(&forward(&ours, &config, &batch, None).unwrap(), &config)
                .unwrap()
                .backward()
                .unwrap();
            adam.step(&ours, &g).unwrap();
            let g = loss(&forward(&theirs, &config, &batch, None).unwrap(), &config)
                .unwrap()
                .backward()
                .unwrap();
            reference.step(&g).unwrap();
        }
        // The moments hold values, not the computation graphs of the batches (which kept every
        // batch's forward pass alive: 21.5 GB over 10 epochs of 50k traces).
        for (name, tensor) in adam.tensors() {
            assert!(!tensor.track_op(), "{name} keeps a computation graph");
        }
        for (name, var) in ours.vars() {
            assert!(var.as_tensor().is_variable(), "{name}");
        }
        for (name, var) in ours.vars() {
            let a: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let b: Vec<f64> = theirs.vars()[name]
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-12, "{name}: {x} vs {y}");
            }
        }
        assert_eq!(adam.step, 3);
    }
}
