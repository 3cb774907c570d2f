//! Detection metrics over anomaly scores (higher = more anomalous): ROC curve and AUC (ties
//! count one half, as in the Mann–Whitney U), PR AUC as average precision, and the confusion
//! matrix with precision, recall, F1 and specificity at a threshold (`score > threshold` is
//! flagged). Pure; NaN scores are treated as the lowest score.

use serde::Serialize;

fn key(score: f64) -> f64 {
    if score.is_nan() {
        f64::NEG_INFINITY
    } else {
        score
    }
}

/// Area under the ROC curve: the probability that an abnormal score beats a normal one (ties
/// one half). `None` when either set is empty.
#[must_use]
pub fn roc_auc(normal: &[f64], abnormal: &[f64]) -> Option<f64> {
    if normal.is_empty() || abnormal.is_empty() {
        return None;
    }
    // Rank-sum over the pooled, sorted scores with average ranks for ties.
    let mut pooled: Vec<(f64, bool)> = normal
        .iter()
        .map(|&s| (key(s), false))
        .chain(abnormal.iter().map(|&s| (key(s), true)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i;
        while j + 1 < pooled.len() && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * pooled[i..=j].iter().filter(|p| p.1).count() as f64;
        i = j + 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let (n, m) = (normal.len() as f64, abnormal.len() as f64);
    Some((rank_sum - m * (m + 1.0) / 2.0) / (n * m))
}

/// ROC points (false positive rate, true positive rate) from (0, 0) to (1, 1), one per
/// distinct score, thresholds descending.
#[must_use]
pub fn roc_curve(normal: &[f64], abnormal: &[f64]) -> Vec<(f64, f64)> {
    let mut pooled: Vec<(f64, bool)> = normal
        .iter()
        .map(|&s| (key(s), false))
        .chain(abnormal.iter().map(|&s| (key(s), true)))
        .collect();
    pooled.sort_by(|a, b| b.0.total_cmp(&a.0));
    #[allow(clippy::cast_precision_loss)]
    let (n, m) = (normal.len().max(1) as f64, abnormal.len().max(1) as f64);
    let mut points = vec![(0.0, 0.0)];
    let (mut fp, mut tp) = (0.0, 0.0);
    let mut i = 0;
    while i < pooled.len() {
        let score = pooled[i].0;
        while i < pooled.len() && pooled[i].0 == score {
            if pooled[i].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        points.push((fp / n, tp / m));
    }
    points
}

/// Average precision: Σ (recall_k − recall_{k−1}) · precision_k over distinct thresholds,
/// descending (scikit-learn's definition). `None` without abnormal scores.
#[must_use]
pub fn average_precision(normal: &[f64], abnormal: &[f64]) -> Option<f64> {
    if abnormal.is_empty() {
        return None;
    }
    let mut pooled: Vec<(f64, bool)> = normal
        .iter()
        .map(|&s| (key(s), false))
        .chain(abnormal.iter().map(|&s| (key(s), true)))
        .collect();
    pooled.sort_by(|a, b| b.0.total_cmp(&a.0));
    #[allow(clippy::cast_precision_loss)]
    let m = abnormal.len() as f64;
    let (mut tp, mut seen, mut previous_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < pooled.len() {
        let score = pooled[i].0;
        while i < pooled.len() && pooled[i].0 == score {
            if pooled[i].1 {
                tp += 1.0;
            }
            seen += 1.0;
            i += 1;
        }
        let recall = tp / m;
        ap += (recall - previous_recall) * (tp / seen);
        previous_recall = recall;
    }
    Some(ap)
}

/// Counts and rates at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Confusion {
    /// Abnormal flagged.
    pub true_positives: usize,
    /// Normal flagged.
    pub false_positives: usize,
    /// Normal not flagged.
    pub true_negatives: usize,
    /// Abnormal not flagged.
    pub false_negatives: usize,
}

impl Confusion {
    /// Counts `score > threshold` as flagged.
    #[must_use]
    pub fn at(normal: &[f64], abnormal: &[f64], threshold: f64) -> Self {
        let flagged = |s: &f64| key(*s) > threshold;
        let false_positives = normal.iter().filter(|s| flagged(s)).count();
        let true_positives = abnormal.iter().filter(|s| flagged(s)).count();
        Self {
            true_positives,
            false_positives,
            true_negatives: normal.len() - false_positives,
            false_negatives: abnormal.len() - true_positives,
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn ratio(a: usize, b: usize) -> f64 {
        if a + b == 0 {
            0.0
        } else {
            a as f64 / (a + b) as f64
        }
    }

    /// TP / (TP + FP), 0 when nothing is flagged.
    #[must_use]
    pub fn precision(&self) -> f64 {
        Self::ratio(self.true_positives, self.false_positives)
    }

    /// TP / (TP + FN).
    #[must_use]
    pub fn recall(&self) -> f64 {
        Self::ratio(self.true_positives, self.false_negatives)
    }

    /// TN / (TN + FP).
    #[must_use]
    pub fn specificity(&self) -> f64 {
        Self::ratio(self.true_negatives, self.false_positives)
    }

    /// Harmonic mean of precision and recall (0 when both are 0).
    #[must_use]
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Every figure of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Normal traces scored.
    pub normal: usize,
    /// Abnormal traces scored.
    pub abnormal: usize,
    /// ROC AUC.
    pub roc_auc: Option<f64>,
    /// PR AUC (average precision).
    pub pr_auc: Option<f64>,
    /// Threshold used.
    pub threshold: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// Specificity at the threshold.
    pub specificity: f64,
    /// Confusion matrix at the threshold.
    pub confusion: Confusion,
}

impl Report {
    /// All figures for the two score sets at `threshold`.
    #[must_use]
    pub fn new(normal: &[f64], abnormal: &[f64], threshold: f64) -> Self {
        let confusion = Confusion::at(normal, abnormal, threshold);
        Self {
            normal: normal.len(),
            abnormal: abnormal.len(),
            roc_auc: roc_auc(normal, abnormal),
            pr_auc: average_precision(normal, abnormal),
            threshold,
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            specificity: confusion.specificity(),
            confusion,
        }
    }
}

/// The `q`-quantile (0–1) by linear interpolation between order statistics; `None` when empty.
#[must_use]
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    let fraction = position - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn roc_auc_by_hand() {
        // Pairs (abnormal, normal): 0.8>0.1 0.8>0.4 0.8<0.9; 0.35>0.1 0.35<0.4 0.35<0.9 → 3/6.
        assert_eq!(roc_auc(&[0.1, 0.4, 0.9], &[0.8, 0.35]), Some(0.5));
        assert_eq!(roc_auc(&[0.1, 0.2], &[0.3, 0.4]), Some(1.0));
        assert_eq!(roc_auc(&[0.3, 0.4], &[0.1, 0.2]), Some(0.0));
        // A tie counts one half: (0.5 vs 0.5) = 0.5, (0.5 > 0.2) = 1 → 0.75.
        assert_eq!(roc_auc(&[0.5, 0.2], &[0.5]), Some(0.75));
        assert_eq!(roc_auc(&[], &[0.5]), None);
        // NaN is the lowest score.
        assert_eq!(roc_auc(&[f64::NAN], &[0.0]), Some(1.0));
    }

    #[test]
    fn roc_curve_by_hand_and_its_area_is_the_auc() {
        let normal = [0.1, 0.4, 0.9];
        let abnormal = [0.8, 0.35];
        let curve = roc_curve(&normal, &abnormal);
        let third = 1.0 / 3.0;
        let expected = [
            (0.0, 0.0),
            (third, 0.0),
            (third, 0.5),
            (2.0 * third, 0.5),
            (2.0 * third, 1.0),
            (1.0, 1.0),
        ];
        assert_eq!(curve.len(), expected.len());
        for (a, b) in curve.iter().zip(expected) {
            assert!(close(a.0, b.0) && close(a.1, b.1), "{a:?} vs {b:?}");
        }
        let area: f64 = curve
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!(close(area, 0.5));
    }

    #[test]
    fn average_precision_by_hand() {
        // Descending: 0.9 N, 0.8 A (P=1/2, R=1/2), 0.4 N, 0.35 A (P=2/4, R=1), 0.1 N.
        // AP = 0.5·0.5 + 0.5·0.5 = 0.5.
        assert!(close(
            average_precision(&[0.1, 0.4, 0.9], &[0.8, 0.35]).unwrap_or(0.0),
            0.5
        ));
        // Perfect ranking: AP = 1.
        assert!(close(
            average_precision(&[0.1], &[0.5, 0.7]).unwrap_or(0.0),
            1.0
        ));
        // A tie between a normal and an abnormal at the top: P = 1/2 at R = 1.
        assert!(close(average_precision(&[0.5], &[0.5]).unwrap_or(0.0), 0.5));
        assert_eq!(average_precision(&[0.1], &[]), None);
    }

    #[test]
    fn confusion_matrix_and_rates_by_hand() {
        let normal = [0.1, 0.2, 0.6, 0.3];
        let abnormal = [0.7, 0.9, 0.2];
        let c = Confusion::at(&normal, &abnormal, 0.5);
        assert_eq!(
            c,
            Confusion {
                true_positives: 2,
                false_positives: 1,
                true_negatives: 3,
                false_negatives: 1
            }
        );
        assert!(close(c.precision(), 2.0 / 3.0));
        assert!(close(c.recall(), 2.0 / 3.0));
        assert!(close(c.specificity(), 0.75));
        assert!(close(c.f1(), 2.0 / 3.0));
        // Nothing flagged: precision and F1 are 0, specificity 1.
        let none = Confusion::at(&normal, &abnormal, 10.0);
        assert_eq!(
            (none.precision(), none.f1(), none.specificity()),
            (0.0, 0.0, 1.0)
        );
        let report = Report::new(&normal, &abnormal, 0.5);
        assert_eq!(report.confusion, c);
        assert_eq!((report.normal, report.abnormal), (4, 3));
    }

    #[test]
    fn quantiles_interpolate() {
        let values = [4.0, 1.0, 3.0, 2.0, f64::NAN];
        assert_eq!(quantile(&values, 0.0), Some(1.0));
        assert_eq!(quantile(&values, 1.0), Some(4.0));
        assert_eq!(quantile(&values, 0.5), Some(2.5));
        assert!(close(quantile(&values, 0.9).unwrap_or(0.0), 3.7));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
