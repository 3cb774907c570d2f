//! Text vectors (pure): the [`TextEmbedder`] seam, the built-in deterministic hashed
//! bag-of-words embedder, chunking, cosine search behind [`VectorIndex`] (a first pass over
//! `i8` columns for sparse queries or ternary codes for dense ones, the best documents
//! rescored exactly; an ANN index can implement the same trait later), and reciprocal rank
//! fusion.

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

    /// The entry in `slot` (as [`Self::iter`] numbers them).
    #[must_use]
    pub fn at(&self, slot: usize) -> Option<&T> {
        self.entries.get(slot).map(|(_, value)| value)
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

    /// The `limit` best of `scored` (`(score, slot)` pairs) whose id `allowed` accepts, best
    /// first, ties by id, as `(id, score)`. Streams through a [`TopK`]: `allowed` is asked only
    /// about candidates good enough to enter, and memory stays proportional to `limit`.
    #[must_use]
    pub fn best_first<S: Copy>(
        &self,
        scored: impl IntoIterator<Item = (S, usize)>,
        limit: usize,
        descending: impl Fn(&S, &S) -> std::cmp::Ordering,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, S)> {
        let mut top = TopK::new(self, limit, descending);
        for (score, slot) in scored {
            top.offer(score, slot, allowed);
        }
        top.finish()
            .into_iter()
            .map(|(score, slot)| (self.entries[slot].0.clone(), score))
            .collect()
    }

    /// The id in `slot`.
    #[must_use]
    pub fn id_at(&self, slot: usize) -> Option<&str> {
        self.entries.get(slot).map(|(id, _)| id.as_str())
    }
}

/// A streaming top-k selection over the slots of a [`Keyed`], best first, ties by id: a
/// buffer of at most `2 × limit` candidates is cut back to the best `limit` whenever it fills,
/// and a candidate strictly worse than the worst kept one cannot enter.
pub struct TopK<'a, T, S, D> {
    keyed: &'a Keyed<T>,
    limit: usize,
    capacity: usize,
    kept: Vec<(S, usize)>,
    floor: Option<S>,
    descending: D,
}

impl<'a, T, S: Copy, D: Fn(&S, &S) -> std::cmp::Ordering> TopK<'a, T, S, D> {
    /// An empty selection of the `limit` best; `descending` orders scores best first.
    pub fn new(keyed: &'a Keyed<T>, limit: usize, descending: D) -> Self {
        let capacity = limit.saturating_mul(2).max(limit + 1);
        Self {
            keyed,
            limit,
            capacity,
            kept: Vec::with_capacity(capacity.min(keyed.len() + 1)),
            floor: None,
            descending,
        }
    }

    /// Whether a candidate with `score` could still be among the best.
    pub fn would_enter(&self, score: &S) -> bool {
        self.limit > 0
            && self
                .floor
                .as_ref()
                .is_none_or(|worst| (self.descending)(score, worst) != std::cmp::Ordering::Greater)
    }

    fn cut(&mut self) {
        let (keyed, descending) = (self.keyed, &self.descending);
        let order = |a: &(S, usize), b: &(S, usize)| {
            descending(&a.0, &b.0).then_with(|| keyed.entries[a.1].0.cmp(&keyed.entries[b.1].0))
        };
        if self.kept.len() > self.limit {
            self.kept.select_nth_unstable_by(self.limit - 1, order);
            self.kept.truncate(self.limit);
        }
        self.kept.sort_by(order);
    }

    /// Offers a candidate: kept when it could still be among the best and `allowed` accepts
    /// its id (asked only then).
    pub fn offer(&mut self, score: S, slot: usize, allowed: &dyn Fn(&str) -> bool) {
        if self.would_enter(&score) && self.keyed.id_at(slot).is_some_and(allowed) {
            self.push(score, slot);
        }
    }

    fn push(&mut self, score: S, slot: usize) {
        if self.limit == 0 {
            return;
        }
        self.kept.push((score, slot));
        if self.kept.len() >= self.capacity {
            self.cut();
            self.floor = self.kept.last().map(|&(score, _)| score);
        }
    }

    /// The best `limit`, best first, as `(score, slot)`.
    #[must_use]
    pub fn finish(mut self) -> Vec<(S, usize)> {
        self.cut();
        self.kept
    }
}

/// One document of a [`FlatIndex`]: its vectors back to back in one allocation.
#[derive(Debug, Clone)]
struct FlatDocument {
    dimension: usize,
    data: Vec<f32>,
}

/// A vector reduced to the signs of its components (two bit masks: positive, negative; a zero
/// component is in neither) and one scale, the mean magnitude of its non-zero components: the
/// vector is approximately `scale × (positive − negative)`. 512 dimensions take 132 bytes
/// instead of 2 kB, and a dot product of two codes is a few popcounts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ternary {
    positive: Vec<u64>,
    negative: Vec<u64>,
    scale: f32,
}

impl Ternary {
    /// The code of `vector`.
    #[must_use]
    pub fn of(vector: &[f32]) -> Self {
        let words = vector.len().div_ceil(64);
        let (mut positive, mut negative) = (vec![0_u64; words], vec![0_u64; words]);
        let (mut sum, mut count) = (0.0_f64, 0_u32);
        for (i, &v) in vector.iter().enumerate() {
            let bit = 1_u64 << (i % 64);
            if v > 0.0 {
                positive[i / 64] |= bit;
            } else if v < 0.0 {
                negative[i / 64] |= bit;
            } else {
                continue;
            }
            sum += f64::from(v.abs());
            count += 1;
        }
        #[allow(clippy::cast_possible_truncation)]
        let scale = if count == 0 {
            0.0
        } else {
            (sum / f64::from(count)) as f32
        };
        Self {
            positive,
            negative,
            scale,
        }
    }

    /// The approximate dot product of the two vectors (the product of the scales times the
    /// agreeing minus the disagreeing signs).
    #[must_use]
    pub fn dot(&self, other: &Self) -> f32 {
        signs_dot(
            &self.positive,
            &self.negative,
            &other.positive,
            &other.negative,
        ) * self.scale
            * other.scale
    }
}

/// Agreeing minus disagreeing signs of two ternary codes given as masks.
fn signs_dot(p: &[u64], n: &[u64], q: &[u64], m: &[u64]) -> f32 {
    let (mut agree, mut disagree) = (0_u32, 0_u32);
    for (((p, n), q), m) in p.iter().zip(n).zip(q).zip(m) {
        agree += ((p & q) | (n & m)).count_ones();
        disagree += ((p & m) | (n & q)).count_ones();
    }
    #[allow(clippy::cast_precision_loss)]
    let signs = agree as f32 - disagree as f32;
    signs
}

/// A first-pass layout over every vector of a [`FlatIndex`] (the ternary [`Codes`], the `i8`
/// [`Columns`]): built from the documents, appended to on inserts.
trait FirstPass: Sized {
    /// An empty layout for vectors of `dimension` (documents of another are left out of it).
    fn empty(dimension: usize) -> Self;

    /// Appends the vectors of the document in `slot`.
    fn add(&mut self, slot: usize, document: &FlatDocument);

    /// The layout of every document, coded at the dimension of the first that has vectors.
    fn of(documents: &Keyed<FlatDocument>) -> Self {
        let dimension = documents
            .iter()
            .map(|(_, _, d)| d.dimension)
            .find(|&d| d > 0)
            .unwrap_or(0);
        let mut pass = Self::empty(dimension);
        for (slot, _, document) in documents.iter() {
            pass.add(slot, document);
        }
        pass
    }
}

/// Keeps a built layout in step with an upsert: a new document took the last slot, so its
/// vectors go at the end; a replaced one would leave stale entries behind, so the layout is
/// dropped and rebuilt at the next search that needs it.
fn follow_upsert<P: FirstPass>(
    pass: &mut std::sync::OnceLock<P>,
    new: bool,
    documents: &Keyed<FlatDocument>,
) {
    match (new, pass.get_mut()) {
        (true, Some(built)) => {
            let slot = documents.len() - 1;
            if let Some(document) = documents.at(slot) {
                built.add(slot, document);
            }
        }
        (_, None) => {}
        (false, Some(_)) => *pass = std::sync::OnceLock::new(),
    }
}

/// Every code of a [`FlatIndex`] in one array, document after document, so that the first
/// pass reads contiguous memory (one allocation per code would cost a cache miss each).
#[derive(Debug, Clone, Default)]
struct Codes {
    /// The dimension coded (documents of another dimension are left out).
    dimension: usize,
    /// `u64` words per mask.
    words: usize,
    /// Per vector: the positive mask, then the negative mask.
    bits: Vec<u64>,
    scales: Vec<f32>,
    /// The document slot of each vector.
    owners: Vec<usize>,
}

impl FirstPass for Codes {
    fn empty(dimension: usize) -> Self {
        Self {
            dimension,
            words: dimension.div_ceil(64),
            ..Self::default()
        }
    }

    fn add(&mut self, slot: usize, document: &FlatDocument) {
        if document.dimension != self.dimension || self.dimension == 0 {
            return;
        }
        for vector in document.data.chunks_exact(self.dimension) {
            let code = Ternary::of(vector);
            self.bits.extend_from_slice(&code.positive);
            self.bits.extend_from_slice(&code.negative);
            self.scales.push(code.scale);
            self.owners.push(slot);
        }
    }
}

/// Whether a query is sparse: at most an eighth of its components non-zero (the hashed bag of
/// words of a short text; a neural embedding never is).
fn is_sparse(query: &[f32]) -> bool {
    query.iter().filter(|v| **v != 0.0).count() <= query.len() / 8
}

/// A query as the first pass uses it: a sparse query (few non-zero components, as the hashed
/// bag of words gives) keeps its exact components and reads the code's sign bits at them;
/// a dense one (a neural embedding) is itself reduced to a [`Ternary`] code.
enum CodedQuery {
    Sparse(Vec<(usize, f32)>),
    Dense(Ternary),
}

impl CodedQuery {
    fn of(query: &[f32]) -> Self {
        if is_sparse(query) {
            Self::Sparse(
                query
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|&(_, v)| v != 0.0)
                    .collect(),
            )
        } else {
            Self::Dense(Ternary::of(query))
        }
    }

    /// The approximate dot product with a coded vector (its masks and scale).
    fn dot(&self, positive: &[u64], negative: &[u64], scale: f32) -> f32 {
        match self {
            Self::Sparse(nonzero) => {
                // Branch-free: the sign bits are as good as random, a branch on them would be
                // mispredicted half the time.
                let mut sum = 0.0_f32;
                for &(i, v) in nonzero {
                    let (word, bit) = (i / 64, i % 64);
                    let p = positive.get(word).map_or(0, |w| (w >> bit) & 1);
                    let n = negative.get(word).map_or(0, |w| (w >> bit) & 1);
                    #[allow(clippy::cast_precision_loss)]
                    let sign = p as f32 - n as f32;
                    sum += v * sign;
                }
                scale * sum
            }
            Self::Dense(code) => {
                signs_dot(&code.positive, &code.negative, positive, negative) * code.scale * scale
            }
        }
    }
}

/// Vectors per block of [`Columns`]: a block's accumulators (32 kB) stay in the L1 cache and
/// a column's values (8 kB) are long enough runs for the prefetcher (1,024 took 40 % longer
/// at 100k vectors, BENCHMARKS.md).
const BLOCK: usize = 8192;

/// Every vector of a [`FlatIndex`] quantised to `i8` (one scale per vector, its largest
/// magnitude over 127) and laid out by dimension within blocks of [`BLOCK`] vectors: a sparse
/// query (the hashed bag of words: tens of non-zero components out of 512) reads only the
/// columns of its non-zero components, contiguous bytes, and its scores are within a rounding
/// step of the exact ones (the ternary codes keep signs only), so few documents need rescoring.
#[derive(Debug, Clone, Default)]
struct Columns {
    dimension: usize,
    /// Block after block; within a block, dimension after dimension, [`BLOCK`] values each.
    values: Vec<i8>,
    /// Per vector: the quantisation step.
    scales: Vec<f32>,
    /// The document slot of each vector.
    owners: Vec<usize>,
}

impl FirstPass for Columns {
    fn empty(dimension: usize) -> Self {
        Self {
            dimension,
            ..Self::default()
        }
    }

    fn add(&mut self, slot: usize, document: &FlatDocument) {
        if document.dimension != self.dimension || self.dimension == 0 {
            return;
        }
        for vector in document.data.chunks_exact(self.dimension) {
            let n = self.owners.len();
            if n.is_multiple_of(BLOCK) {
                self.values
                    .resize(self.values.len() + self.dimension * BLOCK, 0);
            }
            let largest = vector.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
            let scale = if largest > 0.0 { largest / 127.0 } else { 0.0 };
            let base = (n / BLOCK) * self.dimension * BLOCK + n % BLOCK;
            if scale > 0.0 {
                for (i, &v) in vector.iter().enumerate() {
                    #[allow(clippy::cast_possible_truncation)]
                    let q = (v / scale).round().clamp(-127.0, 127.0) as i8;
                    if let Some(slot) = self.values.get_mut(base + i * BLOCK) {
                        *slot = q;
                    }
                }
            }
            self.scales.push(scale);
            self.owners.push(slot);
        }
    }
}

impl Columns {
    /// The approximate score of every vector against the query's non-zero components, in
    /// vector order, handed to `each` as `(vector, score)`.
    fn scan(&self, nonzero: &[(usize, f32)], mut each: impl FnMut(usize, f32)) {
        let stride = self.dimension * BLOCK;
        if stride == 0 {
            return;
        }
        let mut sums = vec![0.0_f32; BLOCK];
        let mut columns: Vec<(&[i8], f32)> = Vec::with_capacity(nonzero.len());
        for (b, block) in self.values.chunks_exact(stride).enumerate() {
            sums.fill(0.0);
            columns.clear();
            columns.extend(
                nonzero
                    .iter()
                    .filter_map(|&(i, q)| Some((block.get(i * BLOCK..(i + 1) * BLOCK)?, q))),
            );
            // Four columns per pass over the accumulators: a quarter of their loads and stores.
            let mut groups = columns.chunks_exact(4);
            for group in &mut groups {
                let [(c0, q0), (c1, q1), (c2, q2), (c3, q3)] =
                    [group[0], group[1], group[2], group[3]];
                for ((((sum, &v0), &v1), &v2), &v3) in
                    sums.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3)
                {
                    *sum += q0 * f32::from(v0)
                        + q1 * f32::from(v1)
                        + q2 * f32::from(v2)
                        + q3 * f32::from(v3);
                }
            }
            for &(column, q) in groups.remainder() {
                for (sum, &v) in sums.iter_mut().zip(column) {
                    *sum += q * f32::from(v);
                }
            }
            let first = b * BLOCK;
            let scales = self.scales.get(first..).unwrap_or(&[]);
            for (j, (sum, scale)) in sums.iter().zip(scales).enumerate() {
                each(first + j, sum * scale);
            }
        }
    }
}

/// Documents whose codes are rescored exactly per document wanted: the exact top `limit` is
/// searched among the `RESCORE_FACTOR × limit` best by the codes (at least [`RESCORE_MIN`]).
/// The codes are coarse (signs and one scale per vector): on the benchmark's 100k synthetic
/// incidents 400 rescored documents kept 46 % of the exact top 50, 3,200 keep 95 % (and 98 %
/// of the exact top 10) at well under half the exact scan's time (BENCHMARKS.md).
pub const RESCORE_FACTOR: usize = 64;
/// The same for a sparse query, whose first pass reads the `i8` columns (scores within a
/// rounding step of the exact ones): on the benchmark's 100k incidents 100, 200 and 400
/// rescored documents each kept 100 % of the exact top 50 (BENCHMARKS.md, 2026-12-04).
pub const SPARSE_RESCORE_FACTOR: usize = 4;
/// The fewest documents rescored exactly.
pub const RESCORE_MIN: usize = 256;

/// Cosine ranking in two passes: a first pass over every vector — the `i8` columns of a sparse
/// query's non-zero components (`Columns`), or every vector's ternary code for a dense query
/// (about a sixteenth of the bytes of the vectors) — then the best documents of that pass are
/// rescored with their exact vectors. A store of at most that many documents is scored exactly.
#[derive(Debug, Clone, Default)]
pub struct FlatIndex {
    documents: Keyed<FlatDocument>,
    /// Built at the first search after a replacement or removal (appended to on inserts).
    codes: std::sync::OnceLock<Codes>,
    /// The same for the `i8` columns sparse queries read.
    columns: std::sync::OnceLock<Columns>,
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

    /// Builds the structures the first pass reads now rather than at the next search: the
    /// ternary codes (dense queries), and the `i8` columns (sparse queries) when the stored
    /// vectors are themselves sparse (at least a quarter of exact zeros in the first one, as
    /// the hashed bag of words makes; a neural embedding has none), since their embedder then
    /// makes sparse queries too. Either is otherwise built by the first query that needs it.
    pub fn prepare(&self) {
        self.codes.get_or_init(|| Codes::of(&self.documents));
        let sparse = self.documents.iter().next().is_some_and(|(_, _, d)| {
            let first = d.data.get(..d.dimension).unwrap_or(&[]);
            !first.is_empty() && first.iter().filter(|v| **v == 0.0).count() * 4 >= first.len()
        });
        if sparse {
            self.columns.get_or_init(|| Columns::of(&self.documents));
        }
    }

    /// The exact best-vector score of one document (positive and finite, else `None`).
    fn exact(query: &[f32], document: &FlatDocument) -> Option<f32> {
        if document.dimension != query.len() {
            return None;
        }
        let best = document
            .data
            .chunks_exact(query.len())
            .map(|v| dot(query, v))
            .fold(f32::NEG_INFINITY, f32::max);
        (best.is_finite() && best > 0.0).then_some(best)
    }

    /// Exact search: every vector scored with its full `f32` components (what [`Self::search`]
    /// approximates when the store holds more documents than it rescores; for measuring its
    /// recall).
    #[must_use]
    pub fn search_exact(
        &self,
        query: &[f32],
        limit: usize,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, f32)> {
        if query.is_empty() {
            return Vec::new();
        }
        let scored = self
            .documents
            .iter()
            .filter_map(|(slot, _, d)| Some((Self::exact(query, d)?, slot)));
        self.documents
            .best_first(scored, limit, |a, b| b.total_cmp(a), allowed)
    }
}

impl VectorIndex for FlatIndex {
    fn upsert(&mut self, id: &str, vectors: Vec<Vec<f32>>) {
        // Vectors of another length than the first cannot be compared with a query of that
        // length anyway (`dot` gives 0), so they are dropped.
        let dimension = vectors.first().map_or(0, Vec::len);
        let data = vectors
            .into_iter()
            .filter(|v| v.len() == dimension)
            .flatten()
            .collect();
        let document = FlatDocument { dimension, data };
        let new = self.documents.get(id).is_none();
        self.documents.upsert(id, document);
        follow_upsert(&mut self.codes, new, &self.documents);
        follow_upsert(&mut self.columns, new, &self.documents);
    }

    fn remove(&mut self, id: &str) {
        if self.documents.get(id).is_some() {
            self.documents.remove(id);
            self.codes = std::sync::OnceLock::new();
            self.columns = std::sync::OnceLock::new();
        }
    }

    fn search(
        &self,
        query: &[f32],
        limit: usize,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, f32)> {
        let rescored = if is_sparse(query) {
            limit.saturating_mul(SPARSE_RESCORE_FACTOR).max(RESCORE_MIN)
        } else {
            limit.saturating_mul(RESCORE_FACTOR).max(RESCORE_MIN)
        };
        self.search_rescoring(query, limit, rescored, allowed)
    }
}

impl FlatIndex {
    /// [`VectorIndex::search`] with `rescored` documents rescored exactly (for measuring the
    /// trade-off; `search` takes `RESCORE_FACTOR × limit`, at least [`RESCORE_MIN`]).
    #[must_use]
    pub fn search_rescoring(
        &self,
        query: &[f32],
        limit: usize,
        rescored: usize,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, f32)> {
        let rescored = rescored.max(limit);
        if query.is_empty() || self.documents.len() <= rescored {
            return self.search_exact(query, limit, allowed);
        }
        let mut top = TopK::new(&self.documents, rescored, |a: &f32, b: &f32| b.total_cmp(a));
        // Vectors come document by document: a document's best score is offered when its
        // last vector has been scored.
        let mut current: Option<(usize, f32)> = None;
        let mut offer = |owner: usize, score: f32| {
            current = match current {
                Some((slot, best)) if slot == owner => Some((slot, best.max(score))),
                Some((slot, best)) => {
                    top.offer(best, slot, allowed);
                    Some((owner, score))
                }
                None => Some((owner, score)),
            };
        };
        match CodedQuery::of(query) {
            CodedQuery::Sparse(nonzero) => {
                let columns = self.columns.get_or_init(|| Columns::of(&self.documents));
                if columns.dimension != query.len() {
                    return self.search_exact(query, limit, allowed);
                }
                let owners = &columns.owners;
                columns.scan(&nonzero, |i, score| {
                    if let Some(&owner) = owners.get(i) {
                        offer(owner, score);
                    }
                });
            }
            coded @ CodedQuery::Dense(_) => {
                let codes = self.codes.get_or_init(|| Codes::of(&self.documents));
                if codes.dimension != query.len() {
                    return self.search_exact(query, limit, allowed);
                }
                let stride = 2 * codes.words;
                for (i, &owner) in codes.owners.iter().enumerate() {
                    let bits = &codes.bits[i * stride..(i + 1) * stride];
                    let (positive, negative) = bits.split_at(codes.words);
                    offer(owner, coded.dot(positive, negative, codes.scales[i]));
                }
            }
        }
        if let Some((slot, best)) = current {
            top.offer(best, slot, allowed);
        }
        let exact = top
            .finish()
            .into_iter()
            .filter_map(|(_, slot)| Some((Self::exact(query, self.documents.at(slot)?)?, slot)));
        self.documents
            .best_first(exact, limit, |a, b| b.total_cmp(a), &|_| true)
    }
}

/// The RRF constant `k`: a document at rank `r` (1-based) of a list contributes
/// `weight / (k + r)`. Cormack, Clarke and Büttcher (2009) found 60 robust for long result
/// lists; answers here are the top three of tens to thousands of records, where 60 makes a
/// first place worth barely more than a third (1/61 vs 1/63) so one retriever's confident
/// answer hardly counts. With 10 a first place outweighs a third by 18 % and agreement
/// between lists still beats the top of one.
pub const RRF_K: f64 = 10.0;

/// Weighted reciprocal rank fusion of ranked id lists (best first), each with its weight.
/// Returns `(id, fused score)`, best first, ties by id.
#[must_use]
pub fn reciprocal_rank_fusion(lists: &[(&[String], f64)], k: f64) -> Vec<(String, f64)> {
    let mut fused: BTreeMap<&str, f64> = BTreeMap::new();
    for &(list, weight) in lists {
        for (rank0, id) in list.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let rank = (rank0 + 1) as f64;
            *fused.entry(id.as_str()).or_insert(0.0) += weight / (k + rank);
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
        let first = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let second = vec!["b".to_owned(), "c".to_owned()];
        let fused = reciprocal_rank_fusion(&[(&first, 1.0), (&second, 1.0)], 60.0);
        assert_eq!(fused[0].0, "b");
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-12);
        assert_eq!(fused[1].0, "c");
        assert!((fused[1].1 - (1.0 / 63.0 + 1.0 / 62.0)).abs() < 1e-12);
        assert_eq!(fused[2].0, "a");
        assert!((fused[2].1 - 1.0 / 61.0).abs() < 1e-12);
        // A weight scales a list's contributions: with the second list at 3, its first place
        // (b) leads and its second (c) passes the first list's first (a).
        let weighted = reciprocal_rank_fusion(&[(&first, 1.0), (&second, 3.0)], 10.0);
        assert_eq!(weighted[0].0, "b");
        assert!((weighted[0].1 - (1.0 / 12.0 + 3.0 / 11.0)).abs() < 1e-12);
        assert_eq!(weighted[1].0, "c");
        assert!((weighted[1].1 - (1.0 / 13.0 + 3.0 / 12.0)).abs() < 1e-12);
        assert_eq!(weighted[2].0, "a");
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
    fn coded_search_rescores_exactly_and_follows_upserts_and_removals() {
        let mut embedder = HashedBagOfWords::default();
        let words = [
            "carts",
            "orders",
            "payment",
            "latency",
            "error",
            "refused",
            "cpu",
            "memory",
            "disk",
            "queue",
            "probe",
            "restart",
            "timeout",
            "deploy",
            "partition",
            "bandwidth",
        ];
        let text = |i: usize| -> String {
            (0..6)
                .map(|k| words[(i * 7 + k * k * 3 + i / 5) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut index = FlatIndex::default();
        for i in 0..600 {
            let found = embedder.embed(&[text(i), text(i + 1000)]).unwrap();
            index.upsert(&format!("d{i:03}"), found);
        }
        assert!(index.len() > 100 * 5);
        // Above the rescored count a search is the coded scan plus exact rescoring.
        let all = |_: &str| true;
        for q in 0..20 {
            let query = embedder.embed(&[text(q * 31)]).unwrap().remove(0);
            let exact = index.search_exact(&query, 10, &all);
            let coded = index.search_rescoring(&query, 10, 100, &all);
            assert_eq!(coded.len(), exact.len());
            // The best document is found, with its exact score, and the order is exact.
            assert_eq!(coded[0], exact[0], "query {q}");
            assert!(coded.windows(2).all(|w| w[0].1 >= w[1].1));
            let odd = index.search_rescoring(&query, 10, 100, &|id| {
                id.ends_with(['1', '3', '5', '7', '9'])
            });
            assert!(
                odd.iter()
                    .all(|(id, _)| id.ends_with(['1', '3', '5', '7', '9']))
            );
        }
        // A new document is appended to the codes, a replaced or removed one rebuilds them.
        let query = embedder
            .embed(&["zebra unicorn".to_owned()])
            .unwrap()
            .remove(0);
        index.upsert("new", vec![query.clone()]);
        assert_eq!(index.search_rescoring(&query, 3, 100, &all)[0].0, "new");
        index.upsert("d100", vec![query.clone()]);
        assert_eq!(index.search_rescoring(&query, 3, 100, &all)[0].0, "d100");
        index.remove("new");
        index.remove("d100");
        let top = index.search_rescoring(&query, 10, 100, &all);
        assert!(
            top.iter().all(|(id, _)| id != "new" && id != "d100"),
            "{top:?}"
        );
        assert_eq!(top, index.search_exact(&query, 10, &all));
    }

    #[test]
    fn sparse_queries_read_the_columns_and_dense_ones_the_codes() {
        // 1,500 documents of two dense 64-dimension vectors (no zero component).
        #[allow(clippy::cast_precision_loss)]
        let vector = |seed: usize| -> Vec<f32> {
            let mut v: Vec<f32> = (0..64)
                .map(|i| ((seed * 7919 + i * 104_729) % 1000) as f32 / 1000.0 - 0.45)
                .collect();
            normalize(&mut v);
            v
        };
        let mut index = FlatIndex::default();
        for d in 0..1500 {
            index.upsert(&format!("d{d:04}"), vec![vector(2 * d), vector(2 * d + 1)]);
        }
        index.prepare();
        assert!(
            index.columns.get().is_none(),
            "dense vectors: no columns up front"
        );
        let all = |_: &str| true;
        // A dense query: the ternary codes, then exact rescoring; the best is found.
        let dense = vector(3001);
        assert!(!is_sparse(&dense));
        let exact = index.search_exact(&dense, 10, &all);
        let coded = index.search_rescoring(&dense, 10, 300, &all);
        assert_eq!(coded[0], exact[0]);
        // A sparse query (4 of 64 components): the i8 columns, built on first use; with
        // 40 documents rescored the exact top 10 comes back, scores and order exact.
        let mut sparse = vec![0.0_f32; 64];
        for (i, v) in [(3, 0.5), (17, -0.5), (40, 0.5), (63, 0.5)] {
            sparse[i] = v;
        }
        assert!(is_sparse(&sparse));
        let exact = index.search_exact(&sparse, 10, &all);
        assert_eq!(index.search_rescoring(&sparse, 10, 40, &all), exact);
        assert!(index.columns.get().is_some());
        // The columns follow an insert (appended) and a removal (rebuilt).
        index.upsert("new", vec![sparse.clone()]);
        assert_eq!(index.search_rescoring(&sparse, 3, 40, &all)[0].0, "new");
        index.remove("new");
        assert_eq!(index.search_rescoring(&sparse, 10, 40, &all), exact);
    }

    #[test]
    fn ternary_codes_approximate_the_dot_product() {
        let a = [0.5_f32, -0.5, 0.5, -0.5, 0.0];
        let b = [0.5_f32, 0.5, 0.5, -0.5, 1.0];
        let (ca, cb) = (Ternary::of(&a), Ternary::of(&b));
        // Signs: +1 +(-1·1) ... agree on 0, 2, 3, disagree on 1; zero component ignored.
        let scale_b = (0.5 * 4.0 + 1.0) / 5.0;
        assert!((ca.dot(&cb) - 0.5 * scale_b * 2.0).abs() < 1e-6);
        assert!(Ternary::of(&[0.0; 70]).dot(&ca).abs() < f32::EPSILON);
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
