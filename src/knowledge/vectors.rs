//! Text vectors (pure): the [`TextEmbedder`] seam, the built-in deterministic hashed
//! bag-of-words embedder, chunking, exact cosine search behind [`VectorIndex`] (an ANN index
//! can implement the same trait later), and reciprocal rank fusion.

use std::collections::BTreeMap;

/// Turns texts into vectors (L2-normalised, one per text, all of one dimension).
pub trait TextEmbedder: Send {
    /// A stable name of the model (stored, so that a change of model triggers a re-embed).
    fn name(&self) -> String;
    /// Embeds `texts`.
    ///
    /// # Errors
    /// The engine's message.
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, String>;
}

/// Feature-hashing bag of words: lowercase alphanumeric tokens (and adjacent-token bigrams)
/// hashed with FNV-1a into `dimension` buckets with a hash-derived sign, log-scaled counts,
/// L2-normalised. Deterministic, needs no model; the fallback when no MiniLM engine is found.
#[derive(Debug, Clone)]
pub struct HashedBagOfWords {
    dimension: usize,
}

impl HashedBagOfWords {
    /// An embedder with `dimension` buckets (at least 16).
    #[must_use]
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension: dimension.max(16),
        }
    }
}

impl Default for HashedBagOfWords {
    fn default() -> Self {
        Self::new(512)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Lowercase alphanumeric tokens (underscores kept: signal names are tokens).
#[must_use]
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl HashedBagOfWords {
    /// Embeds one text.
    #[must_use]
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut counts: BTreeMap<usize, f64> = BTreeMap::new();
        let words = tokens(text);
        let mut add = |feature: &str, weight: f64| {
            let hash = fnv1a(feature.as_bytes());
            #[allow(clippy::cast_possible_truncation)]
            let bucket = (hash % self.dimension as u64) as usize;
            let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
            *counts.entry(bucket).or_insert(0.0) += sign * weight;
        };
        for word in &words {
            add(word, 1.0);
        }
        for pair in words.windows(2) {
            add(&format!("{} {}", pair[0], pair[1]), 0.5);
        }
        let mut vector = vec![0.0_f32; self.dimension];
        for (bucket, value) in counts {
            #[allow(clippy::cast_possible_truncation)]
            let scaled = (value.signum() * (1.0 + value.abs()).ln()) as f32;
            vector[bucket] = scaled;
        }
        normalize(&mut vector);
        vector
    }
}

impl TextEmbedder for HashedBagOfWords {
    fn name(&self) -> String {
        format!("hashed-bow-{}", self.dimension)
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

/// Scales `vector` to unit length (leaves a zero vector alone).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for v in vector.iter_mut() {
            *v /= norm;
        }
    }
}

/// Dot product (= cosine for unit vectors); 0 when the dimensions differ.
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Splits a Markdown body into chunks of at most about `max_chars`, on paragraph breaks.
#[must_use]
pub fn chunk(body: &str, max_chars: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for paragraph in body.split("\n\n") {
        let paragraph = paragraph.trim();
        if paragraph.is_empty() {
            continue;
        }
        if !current.is_empty() && current.len() + paragraph.len() > max_chars {
            chunks.push(std::mem::take(&mut current));
        }
        if paragraph.len() > max_chars {
            let mut piece = String::new();
            for c in paragraph.chars() {
                piece.push(c);
                if piece.len() >= max_chars {
                    chunks.push(std::mem::take(&mut piece));
                }
            }
            current = piece;
            continue;
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(paragraph);
    }
    if !current.trim().is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Nearest-neighbour search over document vectors (a document has several: summary + chunks).
pub trait VectorIndex {
    /// Replaces the vectors of `id`.
    fn upsert(&mut self, id: &str, vectors: Vec<Vec<f32>>);
    /// Removes `id`.
    fn remove(&mut self, id: &str);
    /// The `limit` best documents by their best-matching vector, best first.
    fn search(&self, query: &[f32], limit: usize) -> Vec<(String, f32)>;
}

/// Exact search: scores every stored vector.
#[derive(Debug, Clone, Default)]
pub struct FlatIndex {
    documents: BTreeMap<String, Vec<Vec<f32>>>,
}

impl FlatIndex {
    /// The vectors of `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&[Vec<f32>]> {
        self.documents.get(id).map(Vec::as_slice)
    }
}

impl VectorIndex for FlatIndex {
    fn upsert(&mut self, id: &str, vectors: Vec<Vec<f32>>) {
        self.documents.insert(id.to_owned(), vectors);
    }

    fn remove(&mut self, id: &str) {
        self.documents.remove(id);
    }

    fn search(&self, query: &[f32], limit: usize) -> Vec<(String, f32)> {
        let mut scored: Vec<(String, f32)> = self
            .documents
            .iter()
            .map(|(id, vectors)| {
                let best = vectors
                    .iter()
                    .map(|v| dot(query, v))
                    .fold(f32::NEG_INFINITY, f32::max);
                (id.clone(), best)
            })
            .filter(|(_, score)| score.is_finite() && *score > 0.0)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scored.truncate(limit);
        scored
    }
}

/// The RRF constant `k` (Cormack, Clarke and Büttcher 2009, who found 60 robust): a document
/// at rank `r` (1-based) of a list contributes `1 / (k + r)`, so the top of one list cannot
/// drown agreement between lists.
pub const RRF_K: f64 = 60.0;

/// Reciprocal rank fusion of ranked id lists (best first). Returns `(id, fused score)`, best
/// first, ties by id.
#[must_use]
pub fn reciprocal_rank_fusion(lists: &[Vec<String>], k: f64) -> Vec<(String, f64)> {
    let mut fused: BTreeMap<&str, f64> = BTreeMap::new();
    for list in lists {
        for (rank0, id) in list.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let rank = (rank0 + 1) as f64;
            *fused.entry(id.as_str()).or_insert(0.0) += 1.0 / (k + rank);
        }
    }
    let mut out: Vec<(String, f64)> = fused
        .into_iter()
        .map(|(id, s)| (id.to_owned(), s))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rrf_follows_the_formula_and_rewards_agreement() {
        let lists = vec![
            vec!["a".to_owned(), "b".to_owned(), "c".to_owned()],
            vec!["b".to_owned(), "c".to_owned()],
        ];
        let fused = reciprocal_rank_fusion(&lists, 60.0);
        assert_eq!(fused[0].0, "b");
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-12);
        assert_eq!(fused[1].0, "c");
        assert!((fused[1].1 - (1.0 / 63.0 + 1.0 / 62.0)).abs() < 1e-12);
        assert_eq!(fused[2].0, "a");
        assert!((fused[2].1 - 1.0 / 61.0).abs() < 1e-12);
        assert!(reciprocal_rank_fusion(&[], RRF_K).is_empty());
    }

    #[test]
    fn hashed_embedder_is_deterministic_normalised_and_topical() {
        let mut embedder = HashedBagOfWords::default();
        let texts: Vec<String> = [
            "carts pod failure readiness probe connection refused",
            "pod failure on carts connection refused",
            "cpu throttling latency on orders",
            "",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let vectors = embedder.embed(&texts).unwrap();
        assert_eq!(vectors, embedder.embed(&texts).unwrap());
        let norm: f32 = vectors[0].iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(dot(&vectors[0], &vectors[1]) > dot(&vectors[0], &vectors[2]) + 0.2);
        assert!(vectors[3].iter().all(|v| *v == 0.0));
        let mut index = FlatIndex::default();
        index.upsert("pod", vec![vectors[1].clone()]);
        index.upsert("cpu", vec![vectors[2].clone()]);
        assert_eq!(index.search(&vectors[0], 2)[0].0, "pod");
        index.remove("pod");
        assert!(
            index
                .search(&vectors[0], 2)
                .iter()
                .all(|(id, _)| id != "pod")
        );
    }

    #[test]
    fn chunks_respect_the_size_on_paragraphs() {
        let body = "para one\n\npara two is longer\n\n".repeat(20);
        let chunks = chunk(&body, 100);
        assert!(chunks.len() > 3);
        assert!(chunks.iter().all(|c| c.len() <= 100 + 20));
        assert!(chunk("", 100).is_empty());
    }
}
