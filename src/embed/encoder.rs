//! The packed BERT encoder: the engine behind [`super::Embedder`]. Same model, same vectors as
//! candle-transformers' `BertModel` ([`super::bert::BertEngine`], kept as the reference in the
//! tests), computed with fewer and larger matrix products and no padding:
//!
//! - every text's word pieces are concatenated into one `[tokens, 384]` matrix (no padding,
//!   so no attention mask: a text only attends to its own rows);
//! - the dense layers are one matrix product each over all the tokens of a pass (query, key
//!   and value fused into one `[384, 1152]` product; biases and residuals are the product's
//!   initial value, so they cost no extra pass);
//! - attention runs per text and head on strided views of the fused product;
//! - GELU (erf, through a rational approximation) and softmax (a polynomial `exp`) are plain
//!   loops the compiler vectorises; LayerNorm is fused with the residual.
//!
//! The products go through the `gemm` crate ([`super::matmul`]: AVX-512 kernels where the CPU
//! has them, pure Rust, no system library), straight on the activations' slices.
//!
//! Threads: the passes of one call run in parallel on rayon's pool (one thread per core,
//! `RAYON_NUM_THREADS` changes it; the tokenizer shares the pool), each pass on one thread, and
//! a call's word pieces are split into at least as many passes as there are threads. Work
//! stealing hands passes to whichever thread is free, so a core taken by another process only
//! slows its own share, where threads inside every product (OpenBLAS's, matrixmultiply's) wait
//! for their slowest member at every product, and spin while they wait.
//!
//! Memory: as in [`super::bert`], the word-embedding table is never loaded (each pass reads
//! the rows of its word pieces), and a pass holds at most [`PASS_TOKENS`] word pieces, so its
//! activations stay near 35 MB (the `[tokens, 1536]` intermediate is the largest) whatever the
//! input.

use super::EmbedError;
use super::bert::{self, WeightsFile};
use super::matmul::{Accumulate, View, ViewMut, product};
use candle_transformers::models::bert::HiddenAct;
use ndarray::{Array2, Axis};
use rayon::prelude::*;
use std::path::Path;
use tokenizers::{Encoding, Tokenizer};

/// Most word pieces in one forward pass (texts are never split: a single text of up to
/// [`bert::MAX_TOKENS`] always fits).
pub const PASS_TOKENS: usize = 2048;

/// Fewest word pieces a pass is cut down to when a call is split across threads (smaller
/// products lose more to packing than a second thread gains).
const MIN_PASS_TOKENS: usize = 256;

/// The pass budget for `total` word pieces on `threads` threads: at most [`PASS_TOKENS`], and
/// small enough that every thread gets a pass, but not below [`MIN_PASS_TOKENS`].
fn pass_budget(total: usize, threads: usize) -> usize {
    total
        .div_ceil(threads.max(1))
        .clamp(MIN_PASS_TOKENS, PASS_TOKENS)
}

/// A LayerNorm's scale and shift.
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// A dense layer, `y = x · weightᵀ + bias`, its weight kept transposed (`[in, out]`, row-major)
/// as the matrix product reads it.
struct Linear {
    inputs: usize,
    outputs: usize,
    weight_t: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    /// From PyTorch's layout: `weight` is `[out, in]`.
    fn new(weight: &Array2<f32>, bias: Vec<f32>) -> Self {
        let (outputs, inputs) = weight.dim();
        Self {
            inputs,
            outputs,
            weight_t: weight.t().iter().copied().collect(),
            bias,
        }
    }
}

/// One transformer layer.
struct Layer {
    /// Query, key and value stacked: `[3 × hidden, hidden]`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

/// all-MiniLM-L6-v2 (any BERT with erf GELU and absolute positions) on packed word pieces.
pub struct PackedEncoder {
    tokenizer: Tokenizer,
    weights: WeightsFile,
    word_embeddings: String,
    hidden: usize,
    heads: usize,
    eps: f32,
    /// `[max positions, hidden]`, row-major.
    positions: Vec<f32>,
    /// Token type 0's row (every word piece is type 0 for single sentences).
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for PackedEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedEncoder")
            .field("hidden", &self.hidden)
            .field("heads", &self.heads)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

fn shape_error(error: ndarray::ShapeError) -> EmbedError {
    EmbedError::Encoder(error.to_string())
}

/// Reads weights by name (under the prefix of the word-embedding table) with their shapes
/// checked.
struct Loader<'a> {
    weights: &'a WeightsFile,
    prefix: String,
}

impl Loader<'_> {
    fn read(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, EmbedError> {
        let name = format!("{}{name}", self.prefix);
        let (values, found) = self.weights.tensor(&name)?;
        if found != shape {
            return Err(EmbedError::Config {
                path: self.weights.path().to_owned(),
                message: format!("{name} has shape {found:?}, expected {shape:?}"),
            });
        }
        Ok(values)
    }

    fn matrix(&self, name: &str, rows: usize, columns: usize) -> Result<Array2<f32>, EmbedError> {
        Array2::from_shape_vec((rows, columns), self.read(name, &[rows, columns])?)
            .map_err(shape_error)
    }

    /// A dense layer's weight (`[out, in]`) and bias.
    fn dense(
        &self,
        name: &str,
        out: usize,
        input: usize,
    ) -> Result<(Array2<f32>, Vec<f32>), EmbedError> {
        Ok((
            self.matrix(&format!("{name}.weight"), out, input)?,
            self.read(&format!("{name}.bias"), &[out])?,
        ))
    }

    fn linear(&self, name: &str, out: usize, input: usize) -> Result<Linear, EmbedError> {
        let (weight, bias) = self.dense(name, out, input)?;
        Ok(Linear::new(&weight, bias))
    }

    fn norm(&self, name: &str, size: usize) -> Result<Norm, EmbedError> {
        Ok(Norm {
            gamma: self.read(&format!("{name}.weight"), &[size])?,
            beta: self.read(&format!("{name}.bias"), &[size])?,
        })
    }
}

impl PackedEncoder {
    /// Loads `config.json`, `tokenizer.json` and the weights of `model.safetensors` from `dir`.
    ///
    /// # Errors
    /// When a file is missing or malformed, or the config is not a BERT this encoder runs.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let config = bert::config(dir)?;
        let config_error = |message: String| EmbedError::Config {
            path: dir.join("config.json"),
            message,
        };
        if !matches!(config.hidden_act, HiddenAct::Gelu) {
            return Err(config_error(format!(
                "hidden_act {:?}: only \"gelu\" (erf) is supported",
                config.hidden_act
            )));
        }
        let (hidden, heads) = (config.hidden_size, config.num_attention_heads);
        if heads == 0 || hidden % heads != 0 {
            return Err(config_error(format!(
                "{hidden} hidden units do not split into {heads} heads"
            )));
        }
        if config.max_position_embeddings < bert::MAX_TOKENS {
            return Err(config_error(format!(
                "{} positions, fewer than the {} word pieces kept",
                config.max_position_embeddings,
                bert::MAX_TOKENS
            )));
        }
        let tokenizer = bert::tokenizer(dir)?;
        let weights = WeightsFile::open(&dir.join("model.safetensors"))?;
        let suffix = "embeddings.word_embeddings.weight";
        let word_embeddings = weights.find(suffix)?;
        let prefix = word_embeddings
            .strip_suffix(suffix)
            .unwrap_or_default()
            .to_owned();
        let loader = Loader {
            weights: &weights,
            prefix,
        };
        let inter = config.intermediate_size;
        let positions = loader.read(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, hidden],
        )?;
        let mut token_type = loader.read(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, hidden],
        )?;
        token_type.truncate(hidden);
        if token_type.len() != hidden {
            return Err(config_error("no token type embeddings".to_owned()));
        }
        let embedding_norm = loader.norm("embeddings.LayerNorm", hidden)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let at = |name: &str| format!("encoder.layer.{i}.{name}");
            let query = loader.dense(&at("attention.self.query"), hidden, hidden)?;
            let key = loader.dense(&at("attention.self.key"), hidden, hidden)?;
            let value = loader.dense(&at("attention.self.value"), hidden, hidden)?;
            let qkv = Linear::new(
                &ndarray::concatenate(Axis(0), &[query.0.view(), key.0.view(), value.0.view()])
                    .map_err(shape_error)?,
                [query.1, key.1, value.1].concat(),
            );
            layers.push(Layer {
                qkv,
                attention_out: loader.linear(&at("attention.output.dense"), hidden, hidden)?,
                attention_norm: loader.norm(&at("attention.output.LayerNorm"), hidden)?,
                intermediate: loader.linear(&at("intermediate.dense"), inter, hidden)?,
                output: loader.linear(&at("output.dense"), hidden, inter)?,
                output_norm: loader.norm(&at("output.LayerNorm"), hidden)?,
            });
        }
        #[allow(clippy::cast_possible_truncation)]
        let eps = config.layer_norm_eps as f32;
        Ok(Self {
            tokenizer,
            weights,
            word_embeddings,
            hidden,
            heads,
            eps,
            positions,
            token_type,
            embedding_norm,
            layers,
        })
    }

    /// The tokenizer (truncation at [`bert::MAX_TOKENS`], no padding).
    #[must_use]
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Embeds `texts`: mean pooling over each text's word pieces, then L2 normalisation; one
    /// unit vector per text, in order. Texts are tokenized together, sorted by length and
    /// packed into passes of at most [`PASS_TOKENS`] word pieces.
    ///
    /// # Errors
    /// Tokenizer failures, or a weights file that cannot be read.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        let total = encodings.iter().map(|e| e.get_ids().len()).sum();
        self.embed_encodings(&encodings, pass_budget(total, rayon::current_num_threads()))
    }

    /// Embeds tokenized texts in passes of at most `budget` word pieces (longest first), the
    /// passes in parallel.
    fn embed_encodings(
        &self,
        encodings: &[Encoding],
        budget: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let mut passes: Vec<&[usize]> = Vec::new();
        let mut rest = order.as_slice();
        while !rest.is_empty() {
            let mut tokens = 0;
            let mut take = 0;
            for &i in rest {
                let length = encodings[i].get_ids().len();
                if take > 0 && tokens + length > budget {
                    break;
                }
                tokens += length;
                take += 1;
            }
            let (pass, tail) = rest.split_at(take);
            passes.push(pass);
            rest = tail;
        }
        let vectors: Vec<Vec<Vec<f32>>> = passes
            .par_iter()
            .map(|pass| {
                let group: Vec<&[u32]> = pass.iter().map(|&i| encodings[i].get_ids()).collect();
                self.forward(&group)
            })
            .collect::<Result<_, _>>()?;
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); encodings.len()];
        for (pass, pass_vectors) in passes.iter().zip(vectors) {
            for (&i, vector) in pass.iter().zip(pass_vectors) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    /// One forward pass over the packed word pieces of `texts`.
    fn forward(&self, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let hidden = self.hidden;
        let total: usize = texts.iter().map(|ids| ids.len()).sum();
        let mut vocabulary: Vec<u32> = texts.iter().flat_map(|ids| ids.iter().copied()).collect();
        vocabulary.sort_unstable();
        vocabulary.dedup();
        let (table, columns) = self.weights.rows_vec(&self.word_embeddings, &vocabulary)?;
        if columns != hidden {
            return Err(EmbedError::Config {
                path: self.weights.path().to_owned(),
                message: format!("word embeddings of {columns} columns, expected {hidden}"),
            });
        }
        // Embeddings: word + position + token type, then LayerNorm.
        let mut h = vec![0.0_f32; total * hidden];
        let mut spans = Vec::with_capacity(texts.len());
        let mut rows = h.chunks_exact_mut(hidden);
        let mut start = 0;
        for ids in texts {
            spans.push((start, ids.len()));
            start += ids.len();
            for (position, id) in ids.iter().enumerate() {
                let word = vocabulary.binary_search(id).unwrap_or(0) * hidden;
                let word = &table[word..word + hidden];
                let at = &self.positions[position * hidden..(position + 1) * hidden];
                if let Some(row) = rows.next() {
                    for (((x, w), p), t) in row.iter_mut().zip(word).zip(at).zip(&self.token_type) {
                        *x = w + p + t;
                    }
                }
            }
        }
        layer_norm(&mut h, &self.embedding_norm, self.eps);
        for layer in &self.layers {
            h = self.layer(layer, &h, total, &spans)?;
        }
        Ok(spans
            .iter()
            .map(|&(start, length)| pool(&h[start * hidden..(start + length) * hidden], hidden))
            .collect())
    }

    /// One transformer layer over the packed hidden states `h` (`[total, hidden]`).
    fn layer(
        &self,
        layer: &Layer,
        h: &[f32],
        total: usize,
        spans: &[(usize, usize)],
    ) -> Result<Vec<f32>, EmbedError> {
        let hidden = self.hidden;
        let mut qkv = repeat_rows(&layer.qkv.bias, total);
        linear_add(h, total, &layer.qkv, &mut qkv)?;
        let mut context = vec![0.0_f32; total * hidden];
        for &(start, length) in spans {
            self.attention(
                &qkv[start * 3 * hidden..(start + length) * 3 * hidden],
                length,
                &mut context[start * hidden..(start + length) * hidden],
            )?;
        }
        let mut attended = add_rows(h, &layer.attention_out.bias);
        linear_add(&context, total, &layer.attention_out, &mut attended)?;
        layer_norm(&mut attended, &layer.attention_norm, self.eps);
        let mut inner = repeat_rows(&layer.intermediate.bias, total);
        linear_add(&attended, total, &layer.intermediate, &mut inner)?;
        gelu(&mut inner);
        let mut out = add_rows(&attended, &layer.output.bias);
        linear_add(&inner, total, &layer.output, &mut out)?;
        layer_norm(&mut out, &layer.output_norm, self.eps);
        Ok(out)
    }

    /// Self-attention of one text: `qkv` is its `[length, 3 × hidden]` slice of the fused
    /// product, `context` its `[length, hidden]` output.
    fn attention(&self, qkv: &[f32], length: usize, context: &mut [f32]) -> Result<(), EmbedError> {
        let hidden = self.hidden;
        let size = hidden / self.heads;
        #[allow(clippy::cast_precision_loss)]
        let scale = 1.0 / (size as f32).sqrt();
        let width = 3 * hidden;
        let mut scores = vec![0.0_f32; length * length];
        for head in 0..self.heads {
            let at = head * size;
            let query = View::strided(&qkv[at..], length, size, width, 1)?;
            let key = View::strided(&qkv[hidden + at..], length, size, width, 1)?;
            let value = View::strided(&qkv[2 * hidden + at..], length, size, width, 1)?;
            let mut view = ViewMut::row_major(&mut scores, length, length)?;
            product(&mut view, query, key.t(), scale, Accumulate::Replace)?;
            softmax_rows(&mut scores, length);
            let mut out = ViewMut::strided(&mut context[at..], length, size, hidden, 1)?;
            let weights = View::row_major(&scores, length, length)?;
            product(&mut out, weights, value, 1.0, Accumulate::Replace)?;
        }
        Ok(())
    }
}

/// `out += x · weightᵀ`, with `x` of `rows` rows (`out` holds the bias, and the residual when
/// there is one).
fn linear_add(x: &[f32], rows: usize, linear: &Linear, out: &mut [f32]) -> Result<(), EmbedError> {
    let x = View::row_major(x, rows, linear.inputs)?;
    let weight = View::row_major(&linear.weight_t, linear.inputs, linear.outputs)?;
    let mut out = ViewMut::row_major(out, rows, linear.outputs)?;
    product(&mut out, x, weight, 1.0, Accumulate::Add)?;
    Ok(())
}

/// `rows` copies of `row`, one after another.
fn repeat_rows(row: &[f32], rows: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(row.len() * rows);
    for _ in 0..rows {
        out.extend_from_slice(row);
    }
    out
}

/// `x` with `row` added to each of its rows.
fn add_rows(x: &[f32], row: &[f32]) -> Vec<f32> {
    let mut out = x.to_vec();
    for chunk in out.chunks_exact_mut(row.len()) {
        for (o, b) in chunk.iter_mut().zip(row) {
            *o += b;
        }
    }
    out
}

/// The sum of `x`, eight lanes at a time (so the compiler vectorises it).
fn sum(x: &[f32]) -> f32 {
    let mut lanes = [0.0_f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// LayerNorm of every row of `x` (rows of `norm.gamma.len()` values), in place.
fn layer_norm(x: &mut [f32], norm: &Norm, eps: f32) {
    // Compiled for the widest vectors the CPU has (see `gelu`).
    pulp::Arch::new().dispatch(|| layer_norm_rows(x, norm, eps));
}

#[inline]
fn layer_norm_rows(x: &mut [f32], norm: &Norm, eps: f32) {
    let width = norm.gamma.len();
    #[allow(clippy::cast_precision_loss)]
    let n = width as f32;
    for row in x.chunks_exact_mut(width) {
        let mean = sum(row) / n;
        for v in row.iter_mut() {
            *v -= mean;
        }
        let mut lanes = [0.0_f32; 8];
        for chunk in row.chunks_exact(8) {
            for (lane, v) in lanes.iter_mut().zip(chunk) {
                *lane += v * v;
            }
        }
        let tail: f32 = row.chunks_exact(8).remainder().iter().map(|v| v * v).sum();
        let variance = (lanes.iter().sum::<f32>() + tail) / n;
        let inverse = 1.0 / (variance + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
            *v = *v * inverse * g + b;
        }
    }
}

/// `e^x` to about 2 ulp for `x` in [-87, 88] (clamped outside), branch-free so that loops over
/// it vectorise: `x = n ln 2 + r`, a degree-6 polynomial for `e^r`, `2^n` from the exponent
/// bits.
#[inline]
#[allow(clippy::manual_clamp)] // max/min, unlike clamp, turn NaN into a bound
fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 × 2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0).min(88.0);
    let t = x * LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    let scale = f32::from_bits((((t.to_bits() as i32) - 0x4B40_0000 + 127) << 23) as u32);
    p * scale
}

/// The softmax of every row of `rows` (rows of `width` values), in place, compiled for the
/// widest vectors the CPU has (see `gelu`).
fn softmax_rows(rows: &mut [f32], width: usize) {
    pulp::Arch::new().dispatch(|| {
        for row in rows.chunks_exact_mut(width) {
            softmax(row);
        }
    });
}

/// The softmax of `row`, in place.
#[inline]
fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let inverse = 1.0 / sum(row);
    for v in row.iter_mut() {
        *v *= inverse;
    }
}

/// The error function to about 1e-7 absolute: a rational approximation on [-4, 4] (erf is ±1
/// in f32 outside), the one Eigen and XLA use for f32.
#[inline]
#[allow(clippy::manual_clamp)] // max/min, unlike clamp, turn NaN into a bound
fn erf(x: f32) -> f32 {
    let x = x.max(-4.0).min(4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329_2e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

/// GELU with erf (BERT's "gelu"), in place.
///
/// The loop is compiled once per instruction set and the widest the CPU has is picked at run
/// time (`pulp`'s dispatch, the mechanism `gemm` uses): a default build targets baseline x86-64
/// (SSE2, 4 lanes), where AVX-512 gives 16 lanes and fused multiply-adds.
fn gelu(x: &mut [f32]) {
    const HALF_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    pulp::Arch::new().dispatch(|| {
        for v in x.iter_mut() {
            *v = 0.5 * *v * (1.0 + erf(*v * HALF_SQRT_2));
        }
    });
}

/// The unit mean of `rows` (rows of `width` values); zeros for no rows.
fn pool(rows: &[f32], width: usize) -> Vec<f32> {
    let mut mean = vec![0.0_f32; width];
    let mut count = 0_usize;
    for row in rows.chunks_exact(width) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
        count += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let count = count.max(1) as f32;
    for m in &mut mean {
        *m /= count;
    }
    let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    for m in &mut mean {
        *m /= norm;
    }
    mean
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_the_standard_one() {
        let mut worst = 0.0_f32;
        let mut x = -87.0_f32;
        while x < 88.0 {
            let relative = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(relative);
            x += 0.001_7;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        // Clamped, never infinite or NaN.
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite());
        assert!(exp(f32::NAN).is_finite());
    }

    #[test]
    fn erf_and_gelu_match_known_values() {
        for (x, want) in [
            (0.0_f32, 0.0_f32),
            (0.1, 0.112_462_92),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-1.0, -0.842_700_8),
            (2.0, 0.995_322_3),
            (3.0, 0.999_977_9),
            (10.0, 1.0),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
        // gelu(1) = 0.5 (1 + erf(1/√2)) = 0.841 344 7; gelu(-3) = -0.004 049 6.
        let mut v = [1.0_f32, -3.0, 0.0];
        gelu(&mut v);
        assert!((v[0] - 0.841_344_7).abs() < 1e-6, "{v:?}");
        assert!((v[1] + 0.004_049_6).abs() < 1e-6, "{v:?}");
        assert_eq!(v[2], 0.0);
    }

    #[test]
    fn passes_are_split_across_threads_within_bounds() {
        assert_eq!(pass_budget(3_738, 2), 1_869);
        assert_eq!(pass_budget(3_738, 1), PASS_TOKENS);
        assert_eq!(pass_budget(100_000, 2), PASS_TOKENS);
        assert_eq!(pass_budget(300, 4), MIN_PASS_TOKENS);
        assert_eq!(pass_budget(0, 0), MIN_PASS_TOKENS);
    }

    #[test]
    fn softmax_layer_norm_and_pooling_compute_their_formulas() {
        let mut row = [1.0_f32, 2.0, 3.0];
        softmax(&mut row);
        let e: Vec<f32> = [1.0_f32, 2.0, 3.0].iter().map(|v| v.exp()).collect();
        let total: f32 = e.iter().sum();
        for (got, want) in row.iter().zip(&e) {
            assert!((got - want / total).abs() < 1e-6);
        }
        // Two rows of 10 (the 8-lane sums and their tail).
        let mut x: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let norm = Norm {
            gamma: vec![2.0; 10],
            beta: vec![1.0; 10],
        };
        layer_norm(&mut x, &norm, 0.0);
        // Row 0..10: mean 4.5, variance 8.25.
        let sd = 8.25_f32.sqrt();
        for (i, v) in x[..10].iter().enumerate() {
            assert!((v - ((i as f32 - 4.5) / sd * 2.0 + 1.0)).abs() < 1e-5);
        }
        assert_eq!(x[..10], x[10..]);
        let pooled = pool(&[1.0, 0.0, 3.0, 0.0], 2);
        assert_eq!(pooled, vec![1.0, 0.0]);
        assert_eq!(pool(&[], 2), vec![0.0, 0.0]);
        assert_eq!(sum(&(1..=19).map(|i| i as f32).collect::<Vec<_>>()), 190.0);
    }

    /// With the model installed: the packed encoder gives candle-transformers' `BertModel`
    /// vectors, whatever the packing.
    #[test]
    fn packed_encoder_matches_candle_bert() {
        let Ok(dir) = super::super::discover::find_model() else {
            eprintln!("SKIPPED: needs the all-MiniLM-L6-v2 model");
            return;
        };
        let encoder = PackedEncoder::load(&dir).unwrap();
        let reference = bert::BertEngine::load(&dir).unwrap();
        let long =
            "payment service returns HTTP 503 after the database pool is exhausted ".repeat(30);
        let texts: Vec<String> = vec![
            "connection refused".to_owned(),
            long.clone(),
            "GET /orders 200 12ms".to_owned(),
            format!("{long} and more"),
            String::new(),
            "2026-12-04T10:00:01.123Z ERROR [carts] o.s.b.w.e.tomcat: Connection to mongodb://carts-db:27017 timed out after 30000 ms; retrying (3/5) — ünïcödé".to_owned(),
            "a".to_owned(),
        ];
        let want = reference.embed_batched(&texts, 1).unwrap();
        let encodings = encoder
            .tokenizer()
            .encode_batch(texts.clone(), true)
            .unwrap();
        // One text per pass, a few per pass, all in one pass.
        for budget in [1, 300, PASS_TOKENS] {
            let got = encoder.embed_encodings(&encodings, budget).unwrap();
            assert_eq!(got.len(), texts.len());
            for ((text, a), b) in texts.iter().zip(&got).zip(&want) {
                assert_eq!(a.len(), 384);
                let cosine: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                assert!(
                    cosine > 0.99999,
                    "budget {budget}: cosine {cosine} for {text:?}"
                );
                let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!((norm - 1.0).abs() < 1e-5);
            }
        }
        assert_eq!(encoder.embed(&texts).unwrap().len(), texts.len());
    }
}
