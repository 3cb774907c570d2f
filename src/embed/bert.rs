//! The candle engine: BERT (candle-transformers) in f32 on the CPU with the tokenizer set up
//! like sentence-transformers (the shipped `tokenizer.json` says "truncate and pad to 128";
//! sentence-transformers truncates at 256 and pads to the longest item of the batch).
//!
//! Memory: the weights are read from `model.safetensors` with ordinary reads, tensor by tensor
//! (no memory map whose pages would count as resident next to the copies, no whole-file
//! buffer). The word-embedding table (30,522 × 384 floats, half of the 90 MB file) is not
//! loaded at all: each batch reads just the rows of the word pieces it uses and runs the model
//! on that small table, with the ids renumbered, which computes exactly the same lookup. Long
//! texts go in smaller batches ([`ATTENTION_BUDGET`]), so the attention activations stay a few
//! megabytes whatever the input.
//!
//! Invariant: f32 only (f16/bf16 turn candle 0.11's `f32::MIN` attention mask into NaN).

use super::EmbedError;
use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

/// Word pieces kept per text (sentence-transformers' `max_seq_length` for this model).
pub const MAX_TOKENS: usize = 256;

/// Most `texts × tokens²` of one forward pass: the attention scores of a batch take
/// `texts × heads × tokens² × 4` bytes per layer, so this caps them at 3 MB for MiniLM's 12
/// heads (one text of 256 word pieces, 8 of 90, or the whole batch of 32 texts of up to 45).
/// One text of 256 rather than two keeps a first open of the knowledge base (the curated
/// records embedded) about 20 MB lower (BENCHMARKS.md, "Console memory").
pub const ATTENTION_BUDGET: usize = MAX_TOKENS * MAX_TOKENS;

/// The safetensors header tolerated (the real one is 11 kB).
const MAX_HEADER_BYTES: u64 = 16 * 1024 * 1024;

/// Where one tensor lies in a safetensors file.
#[derive(Debug, Clone)]
struct Entry {
    f32: bool,
    shape: Vec<usize>,
    /// Absolute byte range in the file.
    start: u64,
    end: u64,
}

/// A safetensors file read on demand: its header, and tensors or rows of one read from disk.
#[derive(Debug)]
pub(super) struct WeightsFile {
    path: PathBuf,
    entries: HashMap<String, Entry>,
}

impl WeightsFile {
    pub(super) fn open(path: &Path) -> Result<Self, EmbedError> {
        let io = |source| EmbedError::Io {
            path: path.to_owned(),
            source,
        };
        let malformed = |message: String| EmbedError::Config {
            path: path.to_owned(),
            message: format!("not a safetensors file: {message}"),
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut length = [0u8; 8];
        file.read_exact(&mut length).map_err(io)?;
        let length = u64::from_le_bytes(length);
        if length > MAX_HEADER_BYTES || 8 + length > size {
            return Err(malformed(format!("header of {length} bytes")));
        }
        let mut header = vec![0u8; usize::try_from(length).map_err(|e| malformed(e.to_string()))?];
        file.read_exact(&mut header).map_err(io)?;
        let header: safetensors::tensor::Metadata =
            serde_json::from_slice(&header).map_err(|e| malformed(e.to_string()))?;
        let data_start = 8 + length;
        let mut entries = HashMap::new();
        for (name, info) in header.tensors() {
            let (start, end) = info.data_offsets;
            let (start, end) = (data_start + start as u64, data_start + end as u64);
            if end > size {
                return Err(malformed(format!("{name} lies outside the file")));
            }
            entries.insert(
                name,
                Entry {
                    f32: info.dtype == safetensors::Dtype::F32,
                    shape: info.shape.clone(),
                    start,
                    end,
                },
            );
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    fn entry(&self, name: &str) -> Result<&Entry, EmbedError> {
        let entry = self.entries.get(name).ok_or_else(|| EmbedError::Config {
            path: self.path.clone(),
            message: format!("no tensor {name}"),
        })?;
        let elements: usize = entry.shape.iter().product();
        if !entry.f32 || entry.end - entry.start != 4 * elements as u64 {
            return Err(EmbedError::Config {
                path: self.path.clone(),
                message: format!("{name} is not an f32 tensor of shape {:?}", entry.shape),
            });
        }
        Ok(entry)
    }

    /// Reads `count` little-endian floats at `offset` of `file`.
    fn floats(
        &self,
        file: &mut std::fs::File,
        offset: u64,
        count: usize,
    ) -> Result<Vec<f32>, EmbedError> {
        let io = |source| EmbedError::Io {
            path: self.path.clone(),
            source,
        };
        let mut bytes = vec![0u8; 4 * count];
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        file.read_exact(&mut bytes).map_err(io)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The name of the tensor whose name ends with `suffix`.
    pub(super) fn find(&self, suffix: &str) -> Result<String, EmbedError> {
        self.entries
            .keys()
            .find(|name| name.ends_with(suffix))
            .cloned()
            .ok_or_else(|| EmbedError::Config {
                path: self.path.clone(),
                message: format!("no {suffix}"),
            })
    }

    /// The f32 tensor `name`, read whole: its values (row-major) and shape.
    pub(super) fn tensor(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>), EmbedError> {
        let entry = self.entry(name)?;
        let mut file = self.file()?;
        let values = self.floats(&mut file, entry.start, entry.shape.iter().product())?;
        Ok((values, entry.shape.clone()))
    }

    fn file(&self) -> Result<std::fs::File, EmbedError> {
        std::fs::File::open(&self.path).map_err(|source| EmbedError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Every f32 tensor but `skip`, read whole.
    fn tensors_except(
        &self,
        skip: &str,
        device: &Device,
    ) -> Result<HashMap<String, Tensor>, EmbedError> {
        let mut file = self.file()?;
        let mut tensors = HashMap::new();
        for (name, entry) in &self.entries {
            if name == skip || !entry.f32 {
                continue;
            }
            let entry = self.entry(name)?;
            let elements = entry.shape.iter().product();
            let values = self.floats(&mut file, entry.start, elements)?;
            tensors.insert(
                name.clone(),
                Tensor::from_vec(values, entry.shape.as_slice(), device)?,
            );
        }
        Ok(tensors)
    }

    /// Rows `ids` (ascending) of the matrix `name`, as a `(ids.len(), columns)` tensor.
    fn rows(&self, name: &str, ids: &[u32], device: &Device) -> Result<Tensor, EmbedError> {
        let (values, columns) = self.rows_vec(name, ids)?;
        Ok(Tensor::from_vec(values, (ids.len(), columns), device)?)
    }

    /// Rows `ids` of the matrix `name`, concatenated, and the number of columns.
    pub(super) fn rows_vec(
        &self,
        name: &str,
        ids: &[u32],
    ) -> Result<(Vec<f32>, usize), EmbedError> {
        let entry = self.entry(name)?;
        let [rows, columns] = entry.shape[..] else {
            return Err(EmbedError::Config {
                path: self.path.clone(),
                message: format!("{name} is not a matrix"),
            });
        };
        let mut file = self.file()?;
        let mut values = Vec::with_capacity(ids.len() * columns);
        for &id in ids {
            let id = id as usize;
            if id >= rows {
                return Err(EmbedError::Tokenizer(format!(
                    "word piece {id} is outside the {rows}-row embedding table"
                )));
            }
            let offset = entry.start + (4 * id * columns) as u64;
            values.extend(self.floats(&mut file, offset, columns)?);
        }
        Ok((values, columns))
    }
}

/// BERT's weights (all but the word embeddings, which are read per batch) plus its tokenizer.
pub struct BertEngine {
    config: Config,
    weights: WeightsFile,
    /// The name of the word-embedding table in the file.
    word_embeddings: String,
    tensors: HashMap<String, Tensor>,
    tokenizer: Tokenizer,
    device: Device,
}

fn read(path: &Path) -> Result<String, EmbedError> {
    std::fs::read_to_string(path).map_err(|source| EmbedError::Io {
        path: path.to_owned(),
        source,
    })
}

/// `config.json` of `dir`.
pub(super) fn config(dir: &Path) -> Result<Config, EmbedError> {
    let config_path = dir.join("config.json");
    serde_json::from_str(&read(&config_path)?).map_err(|error| EmbedError::Config {
        path: config_path.clone(),
        message: error.to_string(),
    })
}

/// `tokenizer.json` of `dir`, set up like sentence-transformers: truncation at [`MAX_TOKENS`],
/// no padding.
pub(super) fn tokenizer(dir: &Path) -> Result<Tokenizer, EmbedError> {
    let tokenizer_path = dir.join("tokenizer.json");
    let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
        .map_err(|error| EmbedError::Tokenizer(format!("{}: {error}", tokenizer_path.display())))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_TOKENS,
            ..TruncationParams::default()
        }))
        .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

impl BertEngine {
    /// Loads `config.json`, `tokenizer.json` and the weights of `model.safetensors` from `dir`.
    ///
    /// # Errors
    /// When a file is missing or malformed.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let device = Device::Cpu;
        let config = config(dir)?;
        // Padding is done per forward pass (to the longest item of it), see `embed`.
        let tokenizer = tokenizer(dir)?;
        let weights = WeightsFile::open(&dir.join("model.safetensors"))?;
        let word_embeddings = weights.find("embeddings.word_embeddings.weight")?;
        let tensors = weights.tensors_except(&word_embeddings, &device)?;
        let engine = Self {
            config,
            weights,
            word_embeddings,
            tensors,
            tokenizer,
            device,
        };
        // Fail at load, not at the first text, when a tensor is missing or misshapen.
        engine.model(&[0])?;
        Ok(engine)
    }

    /// The model over the word pieces `vocabulary` (ascending): id `vocabulary[i]` is `i`.
    fn model(&self, vocabulary: &[u32]) -> Result<BertModel, EmbedError> {
        let mut tensors = self.tensors.clone();
        tensors.insert(
            self.word_embeddings.clone(),
            self.weights
                .rows(&self.word_embeddings, vocabulary, &self.device)?,
        );
        let config = Config {
            vocab_size: vocabulary.len(),
            ..self.config.clone()
        };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &self.device);
        Ok(BertModel::load(vb, &config)?)
    }

    /// Embeds `texts`: mean pooling over the attention mask, then L2 normalisation; one unit
    /// vector per text, in order. Texts of similar length share a forward pass, at most
    /// `batch` of them and at most [`ATTENTION_BUDGET`] of `texts × tokens²`.
    ///
    /// # Errors
    /// Tokenizer or model failures.
    pub fn embed_batched(
        &self,
        texts: &[String],
        batch: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        // Longest first, like sentence-transformers (ties keep their order).
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let mut rest = order.as_slice();
        while let Some(&first) = rest.first() {
            let longest = encodings[first].get_ids().len().max(1);
            let fits = (ATTENTION_BUDGET / (longest * longest)).clamp(1, batch.max(1));
            let (chunk, tail) = rest.split_at(fits.min(rest.len()));
            let group: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            for (&i, vector) in chunk.iter().zip(self.forward(&group)?) {
                out[i] = vector;
            }
            rest = tail;
        }
        Ok(out)
    }

    /// Embeds one batch of texts in a single forward pass.
    ///
    /// # Errors
    /// Tokenizer or model failures.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_batched(texts, texts.len())
    }

    /// One forward pass over `encodings`, padded to the longest.
    fn forward(&self, encodings: &[&Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if encodings.is_empty() {
            return Ok(Vec::new());
        }
        let batch = encodings.len();
        let length = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let mut vocabulary: Vec<u32> = encodings
            .iter()
            .flat_map(|e| e.get_ids().iter().copied())
            .collect();
        // [PAD] is id 0 in BERT vocabularies; it is looked up for the padding positions.
        vocabulary.push(0);
        vocabulary.sort_unstable();
        vocabulary.dedup();
        let local = |id: u32| -> u32 {
            vocabulary
                .binary_search(&id)
                .map_or(0, |i| u32::try_from(i).unwrap_or(0))
        };
        let pad = local(0);
        let mut ids: Vec<u32> = Vec::with_capacity(batch * length);
        let mut mask: Vec<u32> = Vec::with_capacity(batch * length);
        for encoding in encodings {
            let own = encoding.get_ids();
            ids.extend(own.iter().map(|&id| local(id)));
            ids.extend(std::iter::repeat_n(pad, length - own.len()));
            mask.extend(encoding.get_attention_mask());
            mask.extend(std::iter::repeat_n(0, length - own.len()));
        }
        let model = self.model(&vocabulary)?;
        let ids = Tensor::from_vec(ids, (batch, length), &self.device)?;
        let mask = Tensor::from_vec(mask, (batch, length), &self.device)?;
        let hidden = model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A safetensors file of `tensors` (name, shape, values) in the order given.
    fn safetensors(dir: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> PathBuf {
        let mut header = serde_json::Map::new();
        header.insert(
            "__metadata__".to_owned(),
            serde_json::json!({"format": "pt"}),
        );
        let mut data = Vec::new();
        for (name, shape, values) in tensors {
            let start = data.len();
            for v in values {
                data.extend_from_slice(&v.to_le_bytes());
            }
            header.insert(
                (*name).to_owned(),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
            );
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header);
        bytes.extend(data);
        let path = dir.join("model.safetensors");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn weights_are_read_whole_or_by_rows() {
        let dir = tempfile::tempdir().unwrap();
        let table: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let path = safetensors(
            dir.path(),
            &[
                ("bias", vec![2], vec![0.5, -1.0]),
                ("embeddings.word_embeddings.weight", vec![4, 3], table),
            ],
        );
        let weights = WeightsFile::open(&path).unwrap();
        let device = Device::Cpu;
        let rest = weights
            .tensors_except("embeddings.word_embeddings.weight", &device)
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest["bias"].to_vec1::<f32>().unwrap(), vec![0.5, -1.0]);
        let rows = weights
            .rows("embeddings.word_embeddings.weight", &[1, 3], &device)
            .unwrap();
        assert_eq!(
            rows.to_vec2::<f32>().unwrap(),
            vec![vec![3.0, 4.0, 5.0], vec![9.0, 10.0, 11.0]]
        );
        assert!(
            weights
                .rows("embeddings.word_embeddings.weight", &[4], &device)
                .is_err()
        );
        assert!(weights.rows("missing", &[0], &device).is_err());
    }

    #[test]
    fn a_truncated_weights_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = safetensors(dir.path(), &[("bias", vec![2], vec![0.5, -1.0])]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        assert!(matches!(
            WeightsFile::open(&path),
            Err(EmbedError::Config { .. })
        ));
        std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\xff").unwrap();
        assert!(WeightsFile::open(&path).is_err());
    }

    /// With the model installed: the batching (length-sorted, attention budget, per-batch word
    /// table) gives each text the vector it gets alone.
    #[test]
    fn batches_embed_like_single_texts() {
        let Ok(dir) = super::super::discover::find_model() else {
            eprintln!("SKIPPED: needs the all-MiniLM-L6-v2 model");
            return;
        };
        let engine = BertEngine::load(&dir).unwrap();
        let long =
            "payment service returns HTTP 503 after the database pool is exhausted ".repeat(30);
        let texts: Vec<String> = vec![
            "connection refused".to_owned(),
            long.clone(),
            "GET /orders 200 12ms".to_owned(),
            format!("{long} and more"),
            String::new(),
        ];
        let together = engine.embed_batched(&texts, 2).unwrap();
        assert_eq!(together.len(), texts.len());
        for (text, vector) in texts.iter().zip(&together) {
            let alone = engine.embed(std::slice::from_ref(text)).unwrap();
            let cosine: f32 = alone[0].iter().zip(vector).map(|(a, b)| a * b).sum();
            assert!(cosine > 0.99999, "cosine {cosine} for {text:?}");
        }
    }
}
