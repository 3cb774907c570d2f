//! MAIA sequence scoring: consecutive lines of a service are cut into windows of `size` lines;
//! each window's text (its templates joined by newlines) is embedded; the baseline windows are
//! the normal set, and a window is anomalous when its cosine similarity to the closest normal
//! window is below `threshold` (0.8).
//!
//! The embedder sits behind [`Embed`], so this module stays pure: the candle engine
//! (`crate::embed`) implements it, and [`HashEmbed`] is a deterministic twin for tests.
//!
//! Score: `0.5 · (1 − s) / (1 − t)` at or above the threshold `t`, `0.5 + 0.5 · (t − s) / t`
//! below it (s = similarity to the closest normal window, clamped to `[0, 1]`), so the threshold
//! maps to 0.5 like every other family score.
//!
//! Cost: a 10-line window is ~200 word pieces, which candle embeds at roughly 10 per second on
//! two CPU cores, so the work is bounded: at most `max_normal` distinct normal windows and, when
//! the scored windows are grouped (by detector window), at most `max_per_group` per group, both
//! evenly spaced and deterministic.
//!
//! Invariants: identical texts are embedded once per call.

use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// An error from an embedding engine.
pub type EmbedFailure = Box<dyn std::error::Error + Send + Sync>;

/// A sentence-embedding engine: one L2-normalised vector per text, in order.
pub trait Embed {
    /// Embeds `texts`.
    ///
    /// # Errors
    /// Whatever the engine reports (model errors, tokenizer errors).
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedFailure>;
}

/// A deterministic bag-of-words embedder (feature hashing of lowercase words into `dim`
/// buckets, L2-normalised). Not semantic; used in tests and when measuring the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashEmbed {
    /// Vector length.
    pub dim: usize,
}

impl Default for HashEmbed {
    fn default() -> Self {
        Self { dim: 64 }
    }
}

impl Embed for HashEmbed {
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedFailure> {
        let dim = self.dim.max(1);
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0.0_f32; dim];
                for word in text.split(|c: char| !c.is_alphanumeric() && c != '<' && c != '>') {
                    if word.is_empty() {
                        continue;
                    }
                    let digest = Sha256::digest(word.to_lowercase().as_bytes());
                    let bucket = usize::from(digest[0]) << 8 | usize::from(digest[1]);
                    vector[bucket % dim] += 1.0;
                }
                normalise(&mut vector);
                vector
            })
            .collect())
    }
}

/// Scales `vector` to unit length (left as is when zero).
pub fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in vector {
            *x /= norm;
        }
    }
}

/// Cosine of two unit vectors (their dot product).
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Settings of the sequence scorer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaiaConfig {
    /// Lines per sequence window (10).
    pub size: usize,
    /// Similarity below which a window is anomalous (0.8).
    pub threshold: f64,
    /// Most distinct normal windows kept per service (100).
    pub max_normal: usize,
    /// Most scored windows per group (detector window) and service (3).
    pub max_per_group: usize,
}

impl Default for MaiaConfig {
    fn default() -> Self {
        Self {
            size: 10,
            threshold: 0.8,
            max_normal: 100,
            max_per_group: 3,
        }
    }
}

/// Maps a similarity to the closest normal window to a score (see the module docs).
#[must_use]
pub fn similarity_score(similarity: f64, threshold: f64) -> f64 {
    let s = if similarity.is_nan() {
        0.0
    } else {
        similarity.clamp(0.0, 1.0)
    };
    let t = threshold.clamp(1e-6, 1.0 - 1e-6);
    if s >= t {
        0.5 * (1.0 - s) / (1.0 - t)
    } else {
        0.5 + 0.5 * (t - s) / t
    }
}

/// One scored sequence window.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredWindow {
    /// Position of the window's last line in the scored sequence.
    pub last: usize,
    /// Similarity to the closest normal window.
    pub similarity: f64,
    /// Score in `[0, 1]`.
    pub score: f64,
}

/// Cuts `texts` into consecutive windows of `size` and joins each with newlines; a shorter
/// tail window is kept when it has at least half the size.
#[must_use]
pub fn window_texts(texts: &[&str], size: usize) -> Vec<(usize, String)> {
    let size = size.max(1);
    texts
        .chunks(size)
        .enumerate()
        .filter(|(_, chunk)| chunk.len() * 2 >= size)
        .map(|(i, chunk)| (i * size + chunk.len() - 1, chunk.join("\n")))
        .collect()
}

fn embed_unique(
    embedder: &mut dyn Embed,
    texts: &[&String],
) -> Result<HashMap<String, Vec<f32>>, EmbedFailure> {
    let mut unique: Vec<String> = texts.iter().map(|t| (*t).clone()).collect();
    unique.sort();
    unique.dedup();
    let vectors = embedder.embed(&unique)?;
    if vectors.len() != unique.len() {
        return Err(format!(
            "the embedder returned {} vectors for {} texts",
            vectors.len(),
            unique.len()
        )
        .into());
    }
    Ok(unique.into_iter().zip(vectors).collect())
}

/// Scores the windows of `scored` (template texts, oldest first) against the normal windows of
/// `normal`.
///
/// # Errors
/// When the embedder fails.
pub fn score_sequences(
    normal: &[&str],
    scored: &[&str],
    config: &MaiaConfig,
    embedder: &mut dyn Embed,
) -> Result<Vec<ScoredWindow>, EmbedFailure> {
    score_sequences_grouped(normal, scored, None, config, embedder)
}

/// As [`score_sequences`]; with `groups` (one group index per scored line), at most
/// `max_per_group` windows per group (by the group of their last line) are scored.
///
/// # Errors
/// When the embedder fails.
pub fn score_sequences_grouped(
    normal: &[&str],
    scored: &[&str],
    groups: Option<&[usize]>,
    config: &MaiaConfig,
    embedder: &mut dyn Embed,
) -> Result<Vec<ScoredWindow>, EmbedFailure> {
    let mut normal_windows: Vec<String> = window_texts(normal, config.size)
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    normal_windows.sort();
    normal_windows.dedup();
    if normal_windows.len() > config.max_normal.max(1) {
        let keep = config.max_normal.max(1);
        let n = normal_windows.len();
        normal_windows = (0..keep)
            .map(|i| normal_windows[i * n / keep].clone())
            .collect();
    }
    let mut windows = window_texts(scored, config.size);
    if let Some(groups) = groups {
        let mut by_group: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, (last, _)) in windows.iter().enumerate() {
            by_group
                .entry(groups.get(*last).copied().unwrap_or(usize::MAX))
                .or_default()
                .push(i);
        }
        let keep_per = config.max_per_group.max(1);
        let mut keep = vec![false; windows.len()];
        for members in by_group.values() {
            let n = members.len();
            for k in 0..keep_per.min(n) {
                keep[members[k * n / keep_per.min(n)]] = true;
            }
        }
        let mut index = 0;
        windows.retain(|_| {
            index += 1;
            keep[index - 1]
        });
    }
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let all: Vec<&String> = normal_windows
        .iter()
        .chain(windows.iter().map(|(_, text)| text))
        .collect();
    let vectors = embed_unique(embedder, &all)?;
    let normal_vectors: Vec<&Vec<f32>> = normal_windows
        .iter()
        .filter_map(|text| vectors.get(text))
        .collect();
    Ok(windows
        .iter()
        .map(|(last, text)| {
            let similarity = vectors.get(text).map_or(0.0, |v| {
                normal_vectors
                    .iter()
                    .map(|n| f64::from(dot(v, n)))
                    .fold(0.0_f64, f64::max)
            });
            ScoredWindow {
                last: *last,
                similarity,
                score: similarity_score(similarity, config.threshold),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_maps_to_one_half() {
        assert!((similarity_score(0.8, 0.8) - 0.5).abs() < 1e-12);
        assert!(similarity_score(1.0, 0.8).abs() < 1e-12);
        assert!((similarity_score(0.0, 0.8) - 1.0).abs() < 1e-12);
        assert!((similarity_score(0.4, 0.8) - 0.75).abs() < 1e-12);
        assert!((similarity_score(0.9, 0.8) - 0.25).abs() < 1e-9);
        assert_eq!(similarity_score(f64::NAN, 0.8), 1.0);
    }

    #[test]
    fn windows_cut_consecutive_lines() {
        let texts = ["a", "b", "c", "d", "e"];
        let windows = window_texts(&texts, 2);
        assert_eq!(
            windows,
            vec![
                (1, "a\nb".to_owned()),
                (3, "c\nd".to_owned()),
                (4, "e".to_owned())
            ]
        );
        assert_eq!(window_texts(&texts, 4), vec![(3, "a\nb\nc\nd".to_owned())]);
    }

    #[test]
    fn unseen_sequences_score_high_and_known_ones_low() {
        let normal: Vec<&str> = ["GET orders ok", "GET carts ok"].repeat(20);
        let mut scored = normal[..10].to_vec();
        scored.extend(["connection refused to carts db"; 10]);
        let config = MaiaConfig::default();
        let out =
            score_sequences(&normal, &scored, &config, &mut HashEmbed::default()).expect("embeds");
        assert_eq!(out.len(), 2);
        assert!(out[0].similarity > 0.999 && out[0].score < 0.01);
        assert!(out[1].similarity < 0.5 && out[1].score > 0.5);
        assert_eq!(out[1].last, 19);
    }

    #[test]
    fn grouping_bounds_the_scored_windows() {
        let normal: Vec<&str> = ["a", "b"].repeat(50);
        let scored: Vec<&str> = ["a", "b"].repeat(50);
        let groups: Vec<usize> = (0..100).map(|i| i / 50).collect();
        let config = MaiaConfig {
            size: 5,
            max_per_group: 2,
            ..MaiaConfig::default()
        };
        let out = score_sequences_grouped(
            &normal,
            &scored,
            Some(&groups),
            &config,
            &mut HashEmbed::default(),
        )
        .expect("embeds");
        // 20 windows, 10 per group, 2 kept per group: those ending at lines 4, 29, 54, 79.
        let lasts: Vec<usize> = out.iter().map(|w| w.last).collect();
        assert_eq!(lasts, vec![4, 29, 54, 79]);
    }

    #[test]
    fn the_hash_embedder_is_normalised_and_deterministic() {
        let texts = vec!["a b c".to_owned(), String::new()];
        let one = HashEmbed::default().embed(&texts).expect("embeds");
        let two = HashEmbed::default().embed(&texts).expect("embeds");
        assert_eq!(one, two);
        assert!((dot(&one[0], &one[0]) - 1.0).abs() < 1e-6);
        assert!(one[1].iter().all(|x| *x == 0.0));
    }
}
