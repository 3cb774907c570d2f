//! The model directory (adapter: files).
//!
//! | file | content |
//! |---|---|
//! | `model.json` | [`ModelMeta`]: network shape, feature space (vocabularies, per-operation statistics), log templates, SVDD centre, thresholds and the training score quantiles |
//! | `model.safetensors` | the parameters |
//! | `checkpoint.json`, `checkpoint.safetensors` | the same after each finished epoch, plus the AdamW moments (`m.*`, `v.*`): training resumes from them |
//!
//! Every file is replaced atomically (temp file + rename); files are read with a size cap and
//! every error names the file.

use super::features::FeatureSpace;
use super::model::{Adam, AdamSettings, ModelConfig, Params};
use super::train::Aggregation;
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Model description file.
pub const MODEL_JSON: &str = "model.json";
/// Model weights file.
pub const MODEL_WEIGHTS: &str = "model.safetensors";
/// Checkpoint description file.
pub const CHECKPOINT_JSON: &str = "checkpoint.json";
/// Checkpoint weights and optimiser moments.
pub const CHECKPOINT_WEIGHTS: &str = "checkpoint.safetensors";
/// Format version of [`ModelMeta`].
pub const FORMAT: u32 = 1;
/// Largest file read: 1 GiB.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// How the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMeta {
    /// Training traces.
    pub traces: usize,
    /// Epochs finished.
    pub epochs_done: usize,
    /// Traces per mini-batch.
    pub batch_size: usize,
    /// Optimiser settings.
    pub adam: AdamSettings,
    /// Optimiser steps taken.
    pub adam_step: u64,
    /// Initialisation and shuffling seed.
    pub seed: u64,
    /// Mean loss per epoch.
    pub history: Vec<f64>,
    /// Log records joined to spans.
    pub joined_log_records: usize,
}

/// Everything about a model but its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// [`FORMAT`].
    pub format: u32,
    /// Network shape.
    pub model: ModelConfig,
    /// Feature space.
    pub features: FeatureSpace,
    /// All (service, template) pairs mined in training, to rebuild the frozen miner.
    pub miner_templates: Vec<(String, String)>,
    /// Deep SVDD centre.
    pub center: Option<Vec<f32>>,
    /// Training facts.
    pub training: TrainingMeta,
    /// Quantile of the training scores used as the threshold.
    pub threshold_quantile: f64,
    /// Threshold per aggregation (empty in a checkpoint).
    pub thresholds: BTreeMap<Aggregation, f64>,
    /// Training score quantiles per aggregation: (q, score).
    pub train_quantiles: BTreeMap<Aggregation, Vec<(f64, f64)>>,
}

/// Why a model directory could not be read or written.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A JSON file is malformed.
    #[error(
        "{path}: not a Baynet trace model description ({source}); train one with `baynet traces train`"
    )]
    Json {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
    /// A weights file is malformed or does not fit the description.
    #[error("{path}: {message}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file is larger than [`MAX_FILE_BYTES`].
    #[error("{0}: larger than 1 GiB, refusing to read it")]
    TooLarge(PathBuf),
    /// Another format version.
    #[error("{path}: format {found}, this build reads format {FORMAT}; retrain the model")]
    Format {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, StoreError> {
    let size = std::fs::metadata(path).map_err(io(path))?.len();
    if size > MAX_FILE_BYTES {
        return Err(StoreError::TooLarge(path.to_owned()));
    }
    std::fs::read(path).map_err(io(path))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, bytes).map_err(io(&temp))?;
    std::fs::rename(&temp, path).map_err(io(path))
}

fn write_json(path: &Path, meta: &ModelMeta) -> Result<(), StoreError> {
    let text = serde_json::to_vec_pretty(meta).map_err(|source| StoreError::Json {
        path: path.to_owned(),
        source,
    })?;
    write_atomic(path, &text)
}

fn write_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<(), StoreError> {
    let temp = path.with_extension("tmp");
    candle_core::safetensors::save(tensors, &temp).map_err(|e| StoreError::Weights {
        path: temp.clone(),
        message: e.to_string(),
    })?;
    std::fs::rename(&temp, path).map_err(io(path))
}

fn read_meta(path: &Path) -> Result<ModelMeta, StoreError> {
    let bytes = read_capped(path)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
            path: path.to_owned(),
            source,
        })?;
    let found = value
        .get("format")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if found != u64::from(FORMAT) {
        return Err(StoreError::Format {
            path: path.to_owned(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    serde_json::from_value(value).map_err(|source| StoreError::Json {
        path: path.to_owned(),
        source,
    })
}

fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>, StoreError> {
    let bytes = read_capped(path)?;
    candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| StoreError::Weights {
        path: path.to_owned(),
        message: format!("not a safetensors file ({e})"),
    })
}

fn param_tensors(params: &Params) -> HashMap<String, Tensor> {
    params
        .vars()
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect()
}

fn params_from(
    meta: &ModelMeta,
    tensors: &HashMap<String, Tensor>,
    path: &Path,
) -> Result<Params, StoreError> {
    let params = Params::new(&meta.model, DType::F32, 0).map_err(|e| StoreError::Weights {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    params.assign(tensors).map_err(|e| StoreError::Weights {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(params)
}

/// Writes the final model.
///
/// # Errors
/// When a file cannot be written.
pub fn save_model(dir: &Path, meta: &ModelMeta, params: &Params) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_tensors(&dir.join(MODEL_WEIGHTS), &param_tensors(params))?;
    write_json(&dir.join(MODEL_JSON), meta)
}

/// Reads a model written by [`save_model`].
///
/// # Errors
/// When a file is missing, malformed or does not fit the description.
pub fn load_model(dir: &Path) -> Result<(ModelMeta, Params), StoreError> {
    let meta = read_meta(&dir.join(MODEL_JSON))?;
    let path = dir.join(MODEL_WEIGHTS);
    let tensors = read_tensors(&path)?;
    let params = params_from(&meta, &tensors, &path)?;
    Ok((meta, params))
}

/// Writes a checkpoint (weights, moments, description).
///
/// # Errors
/// When a file cannot be written.
pub fn save_checkpoint(
    dir: &Path,
    meta: &ModelMeta,
    params: &Params,
    adam: &Adam,
) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tensors = param_tensors(params);
    tensors.extend(adam.tensors());
    write_tensors(&dir.join(CHECKPOINT_WEIGHTS), &tensors)?;
    write_json(&dir.join(CHECKPOINT_JSON), meta)
}

/// Reads a checkpoint, if the directory holds one.
///
/// # Errors
/// When a checkpoint is present but unreadable.
pub fn load_checkpoint(dir: &Path) -> Result<Option<(ModelMeta, Params, Adam)>, StoreError> {
    let json = dir.join(CHECKPOINT_JSON);
    if !json.exists() {
        return Ok(None);
    }
    let meta = read_meta(&json)?;
    let path = dir.join(CHECKPOINT_WEIGHTS);
    let tensors = read_tensors(&path)?;
    let params = params_from(&meta, &tensors, &path)?;
    let mut adam = Adam::new(&params, meta.training.adam).map_err(|e| StoreError::Weights {
        path: path.clone(),
        message: e.to_string(),
    })?;
    adam.restore(&tensors, meta.training.adam_step)
        .map_err(|e| StoreError::Weights {
            path: path.clone(),
            message: e.to_string(),
        })?;
    Ok(Some((meta, params, adam)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::traces_gnn::features::OpStats;
    use crate::traces_gnn::graph::EdgeKind;
    use crate::traces_gnn::model::EncodedGraph;
    use crate::traces_gnn::train::{Trainer, score_graphs};

    fn meta(config: ModelConfig) -> ModelMeta {
        let stats = OpStats {
            mean_log_ms: 1.0,
            std_log_ms: 0.5,
            mean_log_children: 0.2,
        };
        ModelMeta {
            format: FORMAT,
            model: config,
            features: FeatureSpace {
                services: vec!["a".into()],
                operations: vec!["op".into()],
                op_stats: vec![stats],
                global: stats,
                templates: vec![],
            },
            miner_templates: vec![("a".into(), "hello <*>".into())],
            center: Some(vec![0.1, -0.1]),
            training: TrainingMeta {
                traces: 2,
                epochs_done: 1,
                batch_size: 2,
                adam: AdamSettings::default(),
                adam_step: 0,
                seed: 4,
                history: vec![1.5],
                joined_log_records: 0,
            },
            threshold_quantile: 0.99,
            thresholds: [(Aggregation::Max, 2.5)].into_iter().collect(),
            train_quantiles: BTreeMap::new(),
        }
    }

    #[test]
    fn model_and_checkpoint_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let config = ModelConfig {
            input_dim: 3,
            hidden: 2,
            heads: 2,
            latent: 2,
            svdd_weight: 0.1,
        };
        let data = vec![EncodedGraph {
            x: vec![1.0, 0.2, 0.0, 0.0, 0.5, 1.0],
            nodes: 2,
            edges: vec![(0, 1, EdgeKind::Sync)],
        }];
        let mut trainer = Trainer::new(config, AdamSettings::default(), 4).unwrap();
        trainer.epoch(&data, 2, &mut |_, _, _| {}).unwrap();
        let mut meta = meta(config);
        meta.training.adam_step = trainer.adam.step;
        save_model(dir.path(), &meta, &trainer.params).unwrap();
        let (loaded_meta, loaded) = load_model(dir.path()).unwrap();
        assert_eq!(loaded_meta, meta);
        let before =
            score_graphs(&trainer.params, &config, meta.center.as_deref(), &data, 4).unwrap();
        let after = score_graphs(&loaded, &config, meta.center.as_deref(), &data, 4).unwrap();
        assert_eq!(
            before, after,
            "the loaded model scores exactly like the trained one"
        );

        // A checkpoint resumes exactly: one more epoch from the checkpoint equals one more
        // epoch of the original trainer.
        save_checkpoint(dir.path(), &meta, &trainer.params, &trainer.adam).unwrap();
        let (_, params, adam) = load_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(adam.step, 1);
        let mut resumed = Trainer {
            params,
            adam,
            ..Trainer::new(config, AdamSettings::default(), 4).unwrap()
        };
        resumed.history = trainer.history.clone();
        trainer.epoch(&data, 2, &mut |_, _, _| {}).unwrap();
        resumed.epoch(&data, 2, &mut |_, _, _| {}).unwrap();
        for (name, var) in trainer.params.vars() {
            let a: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let b: Vec<f32> = resumed.params.vars()[name]
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(a, b, "{name}");
        }
    }

    #[test]
    fn broken_directories_give_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_checkpoint(dir.path()).unwrap().is_none());
        let missing = load_model(dir.path()).unwrap_err().to_string();
        assert!(missing.contains("model.json"), "{missing}");
        std::fs::write(dir.path().join(MODEL_JSON), b"{\"format\": 99}").unwrap();
        let format = load_model(dir.path()).unwrap_err().to_string();
        assert!(format.contains("format 99"), "{format}");
        let config = ModelConfig {
            input_dim: 3,
            hidden: 2,
            heads: 2,
            latent: 2,
            svdd_weight: 0.0,
        };
        write_json(&dir.path().join(MODEL_JSON), &meta(config)).unwrap();
        std::fs::write(dir.path().join(MODEL_WEIGHTS), b"garbage").unwrap();
        let weights = load_model(dir.path()).unwrap_err().to_string();
        assert!(weights.contains("model.safetensors"), "{weights}");
        // Weights of another shape.
        let other = ModelConfig {
            input_dim: 5,
            ..config
        };
        let params = Params::new(&other, DType::F32, 1).unwrap();
        write_tensors(&dir.path().join(MODEL_WEIGHTS), &param_tensors(&params)).unwrap();
        let shape = load_model(dir.path()).unwrap_err().to_string();
        assert!(shape.contains("shape"), "{shape}");
    }
}
