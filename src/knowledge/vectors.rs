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
    // Eight independent partial sums: the compiler turns this into SIMD lanes (a single
    // running sum cannot be reordered, so it would stay scalar).
    let mut lanes = [0.0_f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The stored form of a record's vectors: the count and the dimension (u32, little-endian),
/// then every component as a little-endian f32. A third of the size of JSON text and read
/// without parsing. Vectors of another length than the first are left out.
#[must_use]
pub fn encode(vectors: &[Vec<f32>]) -> Vec<u8> {
    let dimension = vectors.first().map_or(0, Vec::len);
    let kept: Vec<&Vec<f32>> = vectors.iter().filter(|v| v.len() == dimension).collect();
    let mut out = Vec::with_capacity(8 + kept.len() * dimension * 4);
    out.extend_from_slice(&u32::try_from(kept.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&u32::try_from(dimension).unwrap_or(0).to_le_bytes());
    for vector in kept {
        for value in vector {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    out
}

/// Reads [`encode`]'s bytes back; `None` when they are not such bytes (wrong length,
/// non-finite values), so the caller re-embeds.
#[must_use]
pub fn decode(bytes: &[u8]) -> Option<Vec<Vec<f32>>> {
    let word = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    let (count, dimension) = (word(0)?, word(4)?);
    let expected = count
        .checked_mul(dimension)?
        .checked_mul(4)?
        .checked_add(8)?;
    if bytes.len() != expected || (count > 0 && dimension == 0) {
        return None;
    }
    let values: Vec<f32> = bytes[8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(
        values
            .chunks(dimension.max(1))
            .map(<[f32]>::to_vec)
            .collect(),
    )
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
    /// The `limit` best documents among those `allowed` accepts, by their best-matching
    /// vector (positive scores only), best first, ties by id.
    fn search(
        &self,
        query: &[f32],
        limit: usize,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, f32)>;
}

/// Entries addressed by id, held in one array so that a scan touches contiguous memory;
/// removal moves the last entry into the freed slot.
#[derive(Debug, Clone)]
pub struct Keyed<T> {
    entries: Vec<(String, T)>,
    slots: std::collections::HashMap<String, usize>,
}

impl<T> Default for Keyed<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            slots: std::collections::HashMap::new(),
        }
    }
}

impl<T> Keyed<T> {
    /// Adds or replaces the entry of `id`.
    pub fn upsert(&mut self, id: &str, value: T) {
        match self.slots.get(id) {
            Some(&slot) => self.entries[slot].1 = value,
            None => {
                self.slots.insert(id.to_owned(), self.entries.len());
                self.entries.push((id.to_owned(), value));
            }
        }
    }

    /// Removes the entry of `id`.
    pub fn remove(&mut self, id: &str) {
        let Some(slot) = self.slots.remove(id) else {
            return;
        };
        self.entries.swap_remove(slot);
        if let Some((moved, _)) = self.entries.get(slot) {
            self.slots.insert(moved.clone(), slot);
        }
    }

    /// The entry of `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&T> {
        self.slots.get(id).map(|&slot| &self.entries[slot].1)
    }

    /// Entries stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry as `(slot, id, value)`, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &str, &T)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(slot, (id, value))| (slot, id.as_str(), value))
    }

    /// The `limit` best of `scored` (`(score, slot)` pairs), best first, ties by id, as
    /// `(id, score)`: a partial selection, then a sort of the selected only.
    #[must_use]
    pub fn best_first<S: Copy>(
        &self,
        mut scored: Vec<(S, usize)>,
        limit: usize,
        descending: impl Fn(&S, &S) -> std::cmp::Ordering,
    ) -> Vec<(String, S)> {
        if limit == 0 {
            return Vec::new();
        }
        let order = |a: &(S, usize), b: &(S, usize)| {
            descending(&a.0, &b.0).then_with(|| self.entries[a.1].0.cmp(&self.entries[b.1].0))
        };
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit - 1, order);
            scored.truncate(limit);
        }
        scored.sort_by(order);
        scored
            .into_iter()
            .map(|(score, slot)| (self.entries[slot].0.clone(), score))
            .collect()
    }
}

/// One document of a [`FlatIndex`]: its vectors back to back in one allocation.
#[derive(Debug, Clone)]
struct FlatDocument {
    dimension: usize,
    data: Vec<f32>,
}

/// Exact search: scores every stored vector.
#[derive(Debug, Clone, Default)]
pub struct FlatIndex {
    documents: Keyed<FlatDocument>,
}

impl FlatIndex {
    /// The vectors of `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<Vec<Vec<f32>>> {
        let document = self.documents.get(id)?;
        Some(
            document
                .data
                .chunks(document.dimension.max(1))
                .map(<[f32]>::to_vec)
                .collect(),
        )
    }

    /// Documents stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}

impl VectorIndex for FlatIndex {
    fn upsert(&mut self, id: &str, vectors: Vec<Vec<f32>>) {
        // Vectors of another length than the first cannot be compared with a query of that
        // length anyway (`dot` gives 0), so they are dropped.
        let dimension = vectors.first().map_or(0, Vec::len);
        let data: Vec<f32> = vectors
            .into_iter()
            .filter(|v| v.len() == dimension)
            .flatten()
            .collect();
        self.documents.upsert(id, FlatDocument { dimension, data });
    }

    fn remove(&mut self, id: &str) {
        self.documents.remove(id);
    }

    fn search(
        &self,
        query: &[f32],
        limit: usize,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, f32)> {
        let dimension = query.len();
        if dimension == 0 {
            return Vec::new();
        }
        let scored: Vec<(f32, usize)> = self
            .documents
            .iter()
            .filter(|(_, id, d)| d.dimension == dimension && allowed(id))
            .map(|(slot, _, d)| {
                let best = d
                    .data
                    .chunks_exact(dimension)
                    .map(|v| dot(query, v))
                    .fold(f32::NEG_INFINITY, f32::max);
                (best, slot)
            })
            .filter(|(score, _)| score.is_finite() && *score > 0.0)
            .collect();
        self.documents
            .best_first(scored, limit, |a, b| b.total_cmp(a))
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
        let all = |_: &str| true;
        assert_eq!(index.search(&vectors[0], 2, &all)[0].0, "pod");
        assert!(
            index
                .search(&vectors[0], 2, &|id| id != "pod")
                .iter()
                .all(|(id, _)| id != "pod")
        );
        index.remove("pod");
        assert!(
            index
                .search(&vectors[0], 2, &all)
                .iter()
                .all(|(id, _)| id != "pod")
        );
    }

    #[test]
    fn vectors_round_trip_through_their_stored_bytes() {
        let vectors = vec![vec![0.25, -1.5, 3.0], vec![0.0, 1e-7, -0.0]];
        let bytes = encode(&vectors);
        assert_eq!(bytes.len(), 8 + 6 * 4);
        assert_eq!(decode(&bytes), Some(vectors));
        assert_eq!(decode(&encode(&[])), Some(Vec::new()));
        // Truncated, padded, garbage or non-finite bytes are refused, never misread.
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode(&[bytes.as_slice(), &[0]].concat()), None);
        assert_eq!(decode(b"[[0.1,0.2]]"), None);
        assert_eq!(decode(&encode(&[vec![f32::NAN]])), None);
        let mut huge = u32::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge), None);
        // A vector of another length than the first is left out.
        assert_eq!(
            decode(&encode(&[vec![1.0, 2.0], vec![3.0]])),
            Some(vec![vec![1.0, 2.0]])
        );
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        for n in [0, 1, 7, 8, 9, 384, 515] {
            #[allow(clippy::cast_precision_loss)]
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0).collect();
            #[allow(clippy::cast_precision_loss)]
            let b: Vec<f32> = (0..n).map(|i| ((i * 13 % 17) as f32 - 8.0) / 9.0).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "n {n}");
        }
        assert!(dot(&[1.0, 2.0], &[1.0]).abs() < f32::EPSILON);
    }

    #[test]
    fn flat_search_is_a_filtered_exact_top_k_with_ties_by_id() {
        let mut index = FlatIndex::default();
        // Ten documents, scores 0.1 … 1.0 against the query; "d3" has two vectors.
        for i in 1..=10_u8 {
            let x = f32::from(i) / 10.0;
            let mut vectors = vec![vec![x, (1.0 - x * x).max(0.0).sqrt()]];
            if i == 3 {
                vectors.push(vec![0.95, 0.312]);
            }
            index.upsert(&format!("d{i}"), vectors);
        }
        index.upsert("tie", vec![vec![1.0, 0.0]]);
        let query = [1.0, 0.0];
        let top = index.search(&query, 4, &|_| true);
        let ids: Vec<&str> = top.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["d10", "tie", "d3", "d9"]);
        assert!(
            (top[2].1 - 0.95).abs() < 1e-6,
            "best of a document's vectors"
        );
        let odd = index.search(&query, 3, &|id| id.ends_with(['1', '3', '5', '7', '9']));
        let ids: Vec<&str> = odd.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["d3", "d9", "d7"]);
        // Replacing and removing keep the slots consistent.
        index.upsert("d10", vec![vec![0.0, 1.0]]);
        index.remove("tie");
        let ids: Vec<String> = index
            .search(&query, 2, &|_| true)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["d3", "d9"]);
        assert_eq!(index.len(), 10);
        assert_eq!(index.get("d3").map(|v| v.len()), Some(2));
        assert!(
            index.search(&[1.0, 0.0, 0.0], 2, &|_| true).is_empty(),
            "other dimension"
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
