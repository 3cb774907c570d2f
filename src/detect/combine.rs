//! Fuses the families' per-service window scores: per service the maximum over the families
//! (a service is anomalous when one family is sure), per window the system score as the
//! maximum over services. [`noisy_or`] is kept for callers that want sub-threshold evidence
//! to add up; on the simulator it cost precision (EVALUATION.md).
//!
//! Invariant: pure and symmetric in the families; a family that is absent contributes 0.

use crate::detect::event::FamilyScores;
use std::collections::{BTreeMap, BTreeSet};

/// Noisy-OR of scores in `[0, 1]`.
#[must_use]
pub fn noisy_or(scores: impl IntoIterator<Item = f64>) -> f64 {
    1.0 - scores
        .into_iter()
        .map(|s| 1.0 - s.clamp(0.0, 1.0))
        .product::<f64>()
}

/// Per service, the combined score per window over `families` (`n_windows` long).
#[must_use]
pub fn combine(families: &[&FamilyScores], n_windows: usize) -> BTreeMap<String, Vec<f64>> {
    combine_by(families, n_windows, FamilyScores::score)
}

/// As [`combine`], over the families' deciding scores ([`FamilyScores::verdict_score`]).
#[must_use]
pub fn combine_verdicts(
    families: &[&FamilyScores],
    n_windows: usize,
) -> BTreeMap<String, Vec<f64>> {
    combine_by(families, n_windows, FamilyScores::verdict_score)
}

fn combine_by(
    families: &[&FamilyScores],
    n_windows: usize,
    score: fn(&FamilyScores, &str, usize) -> f64,
) -> BTreeMap<String, Vec<f64>> {
    let services: BTreeSet<&String> = families.iter().flat_map(|f| f.scores.keys()).collect();
    services
        .into_iter()
        .map(|service| {
            let scores = (0..n_windows)
                .map(|w| {
                    families
                        .iter()
                        .map(|f| score(f, service, w))
                        .fold(0.0_f64, f64::max)
                })
                .collect();
            (service.clone(), scores)
        })
        .collect()
}

/// Per window, the highest score over services.
#[must_use]
pub fn system_scores(per_service: &BTreeMap<String, Vec<f64>>, n_windows: usize) -> Vec<f64> {
    (0..n_windows)
        .map(|w| {
            per_service
                .values()
                .filter_map(|scores| scores.get(w))
                .fold(0.0_f64, |a, b| a.max(*b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::event::SignalKind;

    #[test]
    fn families_combine_by_maximum_and_noisy_or_adds_up() {
        assert!((noisy_or([0.3, 0.3]) - 0.51).abs() < 1e-12);
        assert_eq!(noisy_or([]), 0.0);
        let mut traces = FamilyScores::new(SignalKind::Trace);
        traces.scores.insert("carts".into(), vec![0.3, 0.0]);
        let mut metrics = FamilyScores::new(SignalKind::Metric);
        metrics.scores.insert("carts".into(), vec![0.3, 0.9]);
        metrics.scores.insert("user".into(), vec![0.1]);
        let combined = combine(&[&traces, &metrics], 2);
        assert!((combined["carts"][0] - 0.3).abs() < 1e-12);
        assert!((combined["carts"][1] - 0.9).abs() < 1e-12);
        assert_eq!(combined["user"][1], 0.0);
        assert_eq!(system_scores(&combined, 2)[1], combined["carts"][1]);
    }

    #[test]
    fn verdicts_combine_by_maximum_and_fall_back_to_scores() {
        let mut traces = FamilyScores::new(SignalKind::Trace);
        traces.scores.insert("carts".into(), vec![0.3, 0.0]);
        let mut metrics = FamilyScores::new(SignalKind::Metric);
        metrics.scores.insert("carts".into(), vec![0.6, 0.9]);
        metrics.scores.insert("user".into(), vec![0.7, 0.0]);
        metrics.verdict.insert("carts".into(), vec![0.2, 0.8]);
        assert!((metrics.verdict_score("carts", 0) - 0.2).abs() < 1e-12);
        assert!((metrics.verdict_score("user", 0) - 0.7).abs() < 1e-12);
        assert_eq!(metrics.verdict_score("carts", 5), 0.0);
        let verdicts = combine_verdicts(&[&traces, &metrics], 2);
        assert!((verdicts["carts"][0] - 0.3).abs() < 1e-12);
        assert!((verdicts["carts"][1] - 0.8).abs() < 1e-12);
        assert!((verdicts["user"][0] - 0.7).abs() < 1e-12);
        let scores = combine(&[&traces, &metrics], 2);
        assert!((scores["carts"][0] - 0.6).abs() < 1e-12);
    }
}
