//! The candle engine: BERT (candle-transformers) in f32 on the CPU with the tokenizer set up
//! like sentence-transformers (the shipped `tokenizer.json` says "truncate and pad to 128";
//! sentence-transformers truncates at 256 and pads to the longest item of the batch).
//!
//! Invariant: f32 only (f16/bf16 turn candle 0.11's `f32::MIN` attention mask into NaN).

use super::EmbedError;
use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Word pieces kept per text (sentence-transformers' `max_seq_length` for this model).
pub const MAX_TOKENS: usize = 256;

/// BERT plus its tokenizer.
pub struct BertEngine {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

fn read(path: &Path) -> Result<String, EmbedError> {
    std::fs::read_to_string(path).map_err(|source| EmbedError::Io {
        path: path.to_owned(),
        source,
    })
}

impl BertEngine {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    ///
    /// # Errors
    /// When a file is missing or malformed.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let device = Device::Cpu;
        let config_path = dir.join("config.json");
        let config: Config =
            serde_json::from_str(&read(&config_path)?).map_err(|error| EmbedError::Config {
                path: config_path.clone(),
                message: error.to_string(),
            })?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|error| {
            EmbedError::Tokenizer(format!("{}: {error}", tokenizer_path.display()))
        })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: 0,
            pad_token: "[PAD]".to_owned(),
            ..PaddingParams::default()
        }));
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(EmbedError::Io {
                path: weights,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        // SAFETY: the file is memory-mapped read-only; Baynet never writes model files while a
        // model is loaded (the download writes to a temporary name and renames).
        #[allow(unsafe_code)]
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device)? };
        Ok(Self {
            model: BertModel::load(vb, &config)?,
            tokenizer,
            device,
        })
    }

    /// Embeds one batch: mean pooling over the attention mask, then L2 normalisation.
    ///
    /// # Errors
    /// Tokenizer or model failures.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        let batch = encodings.len();
        let length = encodings.first().map_or(0, |e| e.get_ids().len());
        let ids: Vec<u32> = encodings
            .iter()
            .flat_map(|e| e.get_ids().to_vec())
            .collect();
        let mask: Vec<u32> = encodings
            .iter()
            .flat_map(|e| e.get_attention_mask().to_vec())
            .collect();
        let ids = Tensor::from_vec(ids, (batch, length), &self.device)?;
        let mask = Tensor::from_vec(mask, (batch, length), &self.device)?;
        let hidden = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let mean = hidden
            .broadcast_mul(&weights)?
            .sum(1)?
            .broadcast_div(&weights.sum(1)?.clamp(1e-9, f64::INFINITY)?)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::INFINITY)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}
