//! Sparse text vectors for backends that score text with sparse dot products (pure) — Qdrant's
//! sparse vectors with the collection's `modifier: "idf"`. A document vector holds, per term of
//! its title, body and evidence text, BM25's saturated term frequency
//! `tf·(k1+1) / (tf + k1·(1 − b + b·len/avg))`; a query vector holds 1 per distinct term; the
//! engine multiplies in the inverse document frequency it keeps per collection, so the score is
//! BM25 without per-field weighting. Terms are tokenised like the embedded index
//! ([`super::terms`]: words of alphanumerics and underscores, a signal name whole and in its
//! parts, lowercased, English Snowball stems, tokens over 40 bytes dropped) and identified by a
//! stable 32-bit FNV-1a hash of the stem.

use std::collections::BTreeMap;

/// BM25's term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25's length normalisation.
pub const B: f32 = 0.75;
/// The document length (tokens) taken as average: a constant, since a shared collection has no
/// stable average to read at write time. Postmortems run to a few hundred tokens.
pub const AVG_DOC_TOKENS: f32 = 300.0;

/// A sparse vector: ascending unique indices and their values.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparseVector {
    /// Term ids, ascending, unique.
    pub indices: Vec<u32>,
    /// Values, one per index.
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Whether it holds no term.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// The stable id of a (stemmed) term: 32-bit FNV-1a of its UTF-8 bytes.
#[must_use]
pub fn term_id(term: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in term.as_bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

fn counts(terms: &[String]) -> BTreeMap<u32, u32> {
    let mut counts = BTreeMap::new();
    for term in terms {
        *counts.entry(term_id(term)).or_insert(0) += 1;
    }
    counts
}

/// The document vector of a record's title, body and evidence text.
#[must_use]
pub fn document(title: &str, body: &str, evidence: &str) -> SparseVector {
    let terms = super::terms::terms(&[title, body, evidence]);
    #[allow(clippy::cast_precision_loss)]
    let length = terms.len() as f32;
    let norm = K1 * (1.0 - B + B * length / AVG_DOC_TOKENS);
    let mut vector = SparseVector::default();
    for (id, tf) in counts(&terms) {
        #[allow(clippy::cast_precision_loss)]
        let tf = tf as f32;
        vector.indices.push(id);
        vector.values.push(tf * (K1 + 1.0) / (tf + norm));
    }
    vector
}

/// The query vector of free text: 1 per distinct term.
#[must_use]
pub fn query(text: &str) -> SparseVector {
    let terms = super::terms::terms(&[text]);
    let ids = counts(&terms);
    SparseVector {
        values: vec![1.0; ids.len()],
        indices: ids.into_keys().collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn term_ids_are_stable_fnv1a() {
        // FNV-1a 32 reference values.
        assert_eq!(term_id(""), 0x811c_9dc5);
        assert_eq!(term_id("a"), 0xe40c_292c);
        assert_eq!(term_id("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn terms_are_stemmed_lowercased_and_split_like_the_embedded_index() {
        for text in [
            "Readiness probes FAILING on carts-db",
            "error_ratio latency_p99_ms_up on orders",
            &"x".repeat(41),
        ] {
            let ids: Vec<u32> = counts(&crate::knowledge::terms::terms(&[text]))
                .into_keys()
                .collect();
            assert_eq!(query(text).indices, ids);
        }
        assert!(
            query("error_ratio")
                .indices
                .contains(&term_id("error_ratio"))
        );
    }

    #[test]
    fn document_values_saturate_and_shrink_with_length() {
        let short = document("probe", "probe probe", "");
        assert_eq!(short.indices, vec![term_id("probe")]);
        let norm = K1 * (1.0 - B + B * 3.0 / AVG_DOC_TOKENS);
        let expected = 3.0 * (K1 + 1.0) / (3.0 + norm);
        assert!((short.values[0] - expected).abs() < 1e-6, "{short:?}");
        assert!(short.values[0] < K1 + 1.0);
        let long_body = format!("probe {}", "filler ".repeat(600));
        let long = document("", &long_body, "");
        let probe = long
            .indices
            .iter()
            .position(|&i| i == term_id("probe"))
            .unwrap();
        let one = document("", "probe", "");
        assert!(long.values[probe] < one.values[0]);
        assert!(long.indices.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(long.indices.len(), long.values.len());
    }

    #[test]
    fn query_vectors_hold_one_per_distinct_term() {
        let q = query("Probe probes, probing!");
        assert_eq!(q.indices, vec![term_id("probe")]);
        assert_eq!(q.values, vec![1.0]);
        assert!(query("  ,;  ").is_empty());
    }
}
