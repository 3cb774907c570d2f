//! DeepLog-style next-template model: counts of the next template after the previous one or
//! two, and a "miss" when the observed next template is not among the `top_g` most frequent
//! after its context (the trigram context when seen, else the bigram, else the unigram).
//!
//! Invariants: pure and deterministic (ties broken by template index); an unseen context with
//! no fallback counts as a miss.

use std::collections::HashMap;

/// Next-template counts learned from normal sequences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NextTemplateModel {
    top_g: usize,
    trigram: HashMap<(usize, usize), Vec<usize>>,
    bigram: HashMap<usize, Vec<usize>>,
    unigram: Vec<usize>,
}

fn top(counts: &HashMap<usize, u64>, g: usize) -> Vec<usize> {
    let mut ranked: Vec<(usize, u64)> = counts.iter().map(|(&k, &v)| (k, v)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(g).map(|(k, _)| k).collect()
}

impl NextTemplateModel {
    /// Learns from one normal sequence of template indices.
    #[must_use]
    pub fn fit(sequence: &[usize], top_g: usize) -> Self {
        let top_g = top_g.max(1);
        let mut trigram: HashMap<(usize, usize), HashMap<usize, u64>> = HashMap::new();
        let mut bigram: HashMap<usize, HashMap<usize, u64>> = HashMap::new();
        let mut unigram: HashMap<usize, u64> = HashMap::new();
        for (i, &next) in sequence.iter().enumerate() {
            *unigram.entry(next).or_default() += 1;
            if i >= 1 {
                *bigram
                    .entry(sequence[i - 1])
                    .or_default()
                    .entry(next)
                    .or_default() += 1;
            }
            if i >= 2 {
                *trigram
                    .entry((sequence[i - 2], sequence[i - 1]))
                    .or_default()
                    .entry(next)
                    .or_default() += 1;
            }
        }
        Self {
            top_g,
            trigram: trigram.iter().map(|(k, v)| (*k, top(v, top_g))).collect(),
            bigram: bigram.iter().map(|(k, v)| (*k, top(v, top_g))).collect(),
            unigram: top(&unigram, top_g),
        }
    }

    /// Whether `next` after `previous` (oldest first, up to two used) is outside the top g.
    #[must_use]
    pub fn is_miss(&self, previous: &[usize], next: usize) -> bool {
        let candidates = match previous {
            [.., a, b] if self.trigram.contains_key(&(*a, *b)) => self.trigram.get(&(*a, *b)),
            [.., b] => self.bigram.get(b),
            [] => None,
        };
        let candidates = candidates.map_or(self.unigram.as_slice(), Vec::as_slice);
        !candidates.contains(&next)
    }

    /// Misses at each position of `sequence` (the first item has no context: never a miss).
    #[must_use]
    pub fn misses(&self, sequence: &[usize]) -> Vec<bool> {
        (0..sequence.len())
            .map(|i| i > 0 && self.is_miss(&sequence[i.saturating_sub(2)..i], sequence[i]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicts_the_learned_cycle_and_flags_breaks() {
        let normal: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let model = NextTemplateModel::fit(&normal, 1);
        assert!(!model.is_miss(&[0, 1], 2));
        assert!(model.is_miss(&[0, 1], 0));
        assert!(model.is_miss(&[0, 1], 7));
        let misses = model.misses(&[0, 1, 2, 0, 2, 1]);
        assert_eq!(misses, vec![false, false, false, false, true, true]);
    }

    #[test]
    fn top_g_widens_the_accepted_set_and_falls_back_to_bigrams() {
        let normal = [0, 1, 0, 2, 0, 1, 0, 3, 0, 1];
        let g1 = NextTemplateModel::fit(&normal, 1);
        let g3 = NextTemplateModel::fit(&normal, 3);
        // After (1, 0): 2 and 3 seen once each, the top-1 tie goes to the smaller index.
        assert!(!g1.is_miss(&[1, 0], 2));
        assert!(g1.is_miss(&[1, 0], 3));
        assert!(!g3.is_miss(&[1, 0], 3));
        // Unseen trigram (3, 1): the bigram after 1 is {0}.
        assert!(!g1.is_miss(&[3, 1], 0));
        assert!(g1.is_miss(&[3, 1], 2));
    }
}
