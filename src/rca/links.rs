//! Learned propagation strengths per call edge: Beta counts of how often a callee's failure
//! showed up as a failure of its caller, updated online from trace evidence.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Beta(α, β) counts for one caller ← callee edge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BetaCounts {
    /// Pseudo-count of propagated failures (callee failed → caller failed).
    pub alpha: f64,
    /// Pseudo-count of contained failures (callee failed → caller answered fine).
    pub beta: f64,
}

/// Propagation strengths of every edge seen so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LinkStrengths {
    edges: BTreeMap<(String, String), BetaCounts>,
    /// Weight of the prior (the configured default strength) in pseudo-observations.
    prior_weight: f64,
}

impl LinkStrengths {
    /// Empty, with the default prior weight of 4 pseudo-observations.
    #[must_use]
    pub fn new() -> Self {
        Self {
            edges: BTreeMap::new(),
            prior_weight: 4.0,
        }
    }

    /// Records failures of `callee` seen by `caller`: `propagated` of them made the caller's
    /// span fail too, `contained` did not (retries, fallbacks, asynchronous work).
    pub fn observe(&mut self, caller: &str, callee: &str, propagated: f64, contained: f64) {
        if !(propagated.is_finite() && contained.is_finite()) || propagated < 0.0 || contained < 0.0
        {
            return;
        }
        let counts = self
            .edges
            .entry((caller.to_owned(), callee.to_owned()))
            .or_insert(BetaCounts {
                alpha: 0.0,
                beta: 0.0,
            });
        counts.alpha += propagated;
        counts.beta += contained;
    }

    /// The posterior mean strength of caller ← callee, starting from `default` as the prior
    /// mean. Clamped to [0.05, 0.99] so no edge becomes certain or impossible.
    #[must_use]
    pub fn strength(&self, caller: &str, callee: &str, default: f64) -> f64 {
        let prior_weight = if self.prior_weight > 0.0 {
            self.prior_weight
        } else {
            4.0
        };
        let prior_alpha = default * prior_weight;
        let prior_beta = (1.0 - default) * prior_weight;
        let counts = self
            .edges
            .get(&(caller.to_owned(), callee.to_owned()))
            .copied()
            .unwrap_or(BetaCounts {
                alpha: 0.0,
                beta: 0.0,
            });
        let mean =
            (prior_alpha + counts.alpha) / (prior_alpha + prior_beta + counts.alpha + counts.beta);
        mean.clamp(0.05, 0.99)
    }

    /// Number of edges with observations.
    #[must_use]
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether nothing has been observed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strengths_move_from_the_prior_towards_the_observed_rate() {
        let mut links = LinkStrengths::new();
        assert!((links.strength("orders", "shipping", 0.6) - 0.6).abs() < 1e-12);
        links.observe("orders", "shipping", 96.0, 0.0);
        assert!(links.strength("orders", "shipping", 0.6) > 0.95);
        links.observe("queue-master", "rabbitmq", 0.0, 196.0);
        assert!(
            (links.strength("queue-master", "rabbitmq", 0.5) - 0.05).abs() < 1e-12,
            "clamped"
        );
        links.observe("a", "b", f64::NAN, 1.0);
        assert_eq!(links.len(), 2, "NaN observations are ignored");
    }
}
