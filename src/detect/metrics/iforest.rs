//! A small, seeded Isolation Forest (Liu, Ting and Zhou, 2008) over fixed-length feature
//! vectors: `n_trees` random trees, each grown on a subsample of `sample_size` rows up to
//! depth `ceil(log2 sample_size)`.
//!
//! Invariants: deterministic for a seed; scores are in `(0, 1]`, about 0.5 for ordinary points
//! and close to 1 for points isolated quickly; non-finite feature values are treated as 0.

use rand::{Rng, SeedableRng, seq::index::sample};
use rand_chacha::ChaCha8Rng;

/// Forest settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsolationForestConfig {
    /// Number of trees (100 in the paper).
    pub n_trees: usize,
    /// Rows per tree (256 in the paper); capped by the number of rows.
    pub sample_size: usize,
    /// RNG seed.
    pub seed: u64,
}

impl Default for IsolationForestConfig {
    /// 100 trees, subsample 256, seed 42.
    fn default() -> Self {
        Self {
            n_trees: 100,
            sample_size: 256,
            seed: 42,
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Split {
        feature: usize,
        value: f64,
        left: usize,
        right: usize,
    },
    Leaf {
        size: usize,
    },
}

/// A trained forest.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    trees: Vec<Vec<Node>>,
    sample_size: usize,
    n_features: usize,
}

/// Average path length of an unsuccessful BST search among `n` points, `c(n)`.
#[must_use]
pub fn average_path_length(n: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    if n <= 1.0 {
        0.0
    } else if n <= 2.0 {
        1.0
    } else {
        2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
    }
}

fn clean(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

impl IsolationForest {
    /// Trains on `rows` (all of the same length); `None` when there are fewer than two rows or
    /// no features.
    #[must_use]
    pub fn fit(rows: &[Vec<f64>], config: IsolationForestConfig) -> Option<Self> {
        let n_features = rows.first()?.len();
        if rows.len() < 2 || n_features == 0 || rows.iter().any(|row| row.len() != n_features) {
            return None;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let sample_size = config.sample_size.clamp(2, rows.len());
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let max_depth = (sample_size as f64).log2().ceil() as usize;
        let trees = (0..config.n_trees.max(1))
            .map(|_| {
                let indexes = sample(&mut rng, rows.len(), sample_size).into_vec();
                let mut nodes = Vec::new();
                grow(
                    rows, indexes, 0, max_depth, n_features, &mut rng, &mut nodes,
                );
                nodes
            })
            .collect();
        Some(Self {
            trees,
            sample_size,
            n_features,
        })
    }

    /// Anomaly score `2^(−E[h(x)] / c(sample_size))` of one row (missing features count as 0).
    #[must_use]
    pub fn score(&self, row: &[f64]) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let mean_depth = self
            .trees
            .iter()
            .map(|tree| path_length(tree, row))
            .sum::<f64>()
            / self.trees.len() as f64;
        2.0_f64.powf(-mean_depth / average_path_length(self.sample_size).max(1e-12))
    }

    /// Number of features the forest was trained on.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }
}

/// Grows a subtree over `indexes` into `nodes`, returning the index of its root node.
fn grow(
    rows: &[Vec<f64>],
    indexes: Vec<usize>,
    depth: usize,
    max_depth: usize,
    n_features: usize,
    rng: &mut ChaCha8Rng,
    nodes: &mut Vec<Node>,
) -> usize {
    let slot = nodes.len();
    nodes.push(Node::Leaf {
        size: indexes.len(),
    });
    if depth >= max_depth || indexes.len() <= 1 {
        return slot;
    }
    // Pick a feature that still varies among these rows (try each once, from a random start).
    let start = rng.random_range(0..n_features);
    for offset in 0..n_features {
        let feature = (start + offset) % n_features;
        let (low, high) = indexes
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |acc, &i| {
                let value = clean(rows[i][feature]);
                (acc.0.min(value), acc.1.max(value))
            });
        if high <= low {
            continue;
        }
        let value = rng.random_range(low..high);
        let (left_rows, right_rows): (Vec<usize>, Vec<usize>) = indexes
            .iter()
            .partition(|&&i| clean(rows[i][feature]) < value);
        let left = grow(
            rows,
            left_rows,
            depth + 1,
            max_depth,
            n_features,
            rng,
            nodes,
        );
        let right = grow(
            rows,
            right_rows,
            depth + 1,
            max_depth,
            n_features,
            rng,
            nodes,
        );
        nodes[slot] = Node::Split {
            feature,
            value,
            left,
            right,
        };
        return slot;
    }
    slot
}

fn path_length(tree: &[Node], row: &[f64]) -> f64 {
    let mut node = 0;
    let mut depth = 0.0;
    loop {
        match tree.get(node) {
            Some(Node::Split {
                feature,
                value,
                left,
                right,
            }) => {
                let x = clean(row.get(*feature).copied().unwrap_or(0.0));
                node = if x < *value { *left } else { *right };
                depth += 1.0;
            }
            Some(Node::Leaf { size }) => return depth + average_path_length(*size),
            None => return depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_obvious_outlier_ranks_first() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut rows: Vec<Vec<f64>> = (0..300)
            .map(|_| vec![rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)])
            .collect();
        rows.push(vec![8.0, -7.0]);
        let forest = IsolationForest::fit(&rows, IsolationForestConfig::default()).expect("fits");
        let scores: Vec<f64> = rows.iter().map(|row| forest.score(row)).collect();
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(index, _)| index);
        assert_eq!(best, Some(300));
        assert!(scores[300] > 0.7, "outlier score {}", scores[300]);
        assert!(forest.score(&[0.0, 0.0]) < 0.55);
    }

    #[test]
    fn same_seed_same_scores_and_degenerate_inputs() {
        let rows: Vec<Vec<f64>> = (0..50).map(|i| vec![f64::from(i), 1.0]).collect();
        let a = IsolationForest::fit(&rows, IsolationForestConfig::default()).expect("fits");
        let b = IsolationForest::fit(&rows, IsolationForestConfig::default()).expect("fits");
        assert_eq!(a.score(&[100.0, 1.0]), b.score(&[100.0, 1.0]));
        assert!(IsolationForest::fit(&rows[..1], IsolationForestConfig::default()).is_none());
        assert!((average_path_length(2) - 1.0).abs() < 1e-12);
        let flat = vec![vec![1.0, 1.0]; 10];
        let forest = IsolationForest::fit(&flat, IsolationForestConfig::default()).expect("fits");
        assert!(forest.score(&[1.0, 1.0]).is_finite());
    }
}
