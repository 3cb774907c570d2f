//! Univariate baselines: quantiles, robust z-score (median/MAD), IQR fences and an EWMA with
//! adaptive (exponentially weighted) variance.
//!
//! Invariants: NaN and infinite inputs are ignored when fitting; a scale never drops below the
//! signal's [`ScaleFloor`], so a perfectly flat baseline does not turn noise into infinite z.

/// The smallest spread a signal is assumed to have: `max(absolute, relative · |centre|)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleFloor {
    /// Absolute floor in the signal's unit.
    pub absolute: f64,
    /// Floor relative to the baseline centre.
    pub relative: f64,
}

impl ScaleFloor {
    /// The floor for a baseline centred on `centre`.
    #[must_use]
    pub fn at(&self, centre: f64) -> f64 {
        self.absolute.max(self.relative * centre.abs()).max(1e-12)
    }
}

/// The finite values of a slice, sorted ascending.
#[must_use]
pub fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    out.sort_by(f64::total_cmp);
    out
}

/// Quantile `q` in `[0, 1]` of sorted values with linear interpolation (R type 7); NaN when empty.
#[must_use]
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(clippy::cast_precision_loss)]
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lower = position.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    let fraction = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

/// Median of the finite values; NaN when there are none.
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    quantile_sorted(&sorted_finite(values), 0.5)
}

/// Median and MAD of a baseline: `z = (x − median) / max(1.4826 · MAD, floor)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustBaseline {
    /// Baseline median.
    pub median: f64,
    /// Median absolute deviation (unscaled).
    pub mad: f64,
    /// The scale used: `max(1.4826 · MAD, floor)`.
    pub scale: f64,
}

impl RobustBaseline {
    /// Fits the baseline; `None` when there is no finite value.
    #[must_use]
    pub fn fit(values: &[f64], floor: ScaleFloor) -> Option<Self> {
        let sorted = sorted_finite(values);
        if sorted.is_empty() {
            return None;
        }
        let centre = quantile_sorted(&sorted, 0.5);
        let deviations: Vec<f64> = sorted.iter().map(|v| (v - centre).abs()).collect();
        let mad = median(&deviations);
        Some(Self {
            median: centre,
            mad,
            scale: (1.4826 * mad).max(floor.at(centre)),
        })
    }

    /// Signed robust z of `x`.
    #[must_use]
    pub fn z(&self, x: f64) -> f64 {
        (x - self.median) / self.scale
    }
}

/// Quartiles of a baseline; the statistic is the distance beyond the nearer quartile in IQRs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IqrBaseline {
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// The spread used: `max(q3 − q1, floor)`.
    pub iqr: f64,
}

impl IqrBaseline {
    /// Fits the quartiles; `None` when there is no finite value.
    #[must_use]
    pub fn fit(values: &[f64], floor: ScaleFloor) -> Option<Self> {
        let sorted = sorted_finite(values);
        if sorted.is_empty() {
            return None;
        }
        let q1 = quantile_sorted(&sorted, 0.25);
        let q3 = quantile_sorted(&sorted, 0.75);
        let centre = quantile_sorted(&sorted, 0.5);
        Some(Self {
            q1,
            q3,
            iqr: (q3 - q1).max(floor.at(centre)),
        })
    }

    /// Signed distance outside `[q1, q3]` in IQRs (0 inside); Tukey's far-out fence is ±3.
    #[must_use]
    pub fn excess(&self, x: f64) -> f64 {
        if x > self.q3 {
            (x - self.q3) / self.iqr
        } else if x < self.q1 {
            (x - self.q1) / self.iqr
        } else {
            0.0
        }
    }
}

/// Exponentially weighted mean and variance. Each observation is scored against the state
/// before it, then absorbed with its residual clipped at `clip` standard deviations, so a
/// sustained shift is followed slowly and a single spike barely moves the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma {
    /// Smoothing factor in `(0, 1]`.
    pub alpha: f64,
    /// Residuals are clipped to this many standard deviations before updating.
    pub clip: f64,
    /// Current mean (NaN before the first observation).
    pub mean: f64,
    /// Current variance.
    pub variance: f64,
    /// Minimum standard deviation.
    pub min_std: f64,
}

impl Ewma {
    /// A fresh state.
    #[must_use]
    pub fn new(alpha: f64, clip: f64, min_std: f64) -> Self {
        Self {
            alpha: alpha.clamp(1e-6, 1.0),
            clip,
            mean: f64::NAN,
            variance: 0.0,
            min_std: min_std.max(1e-12),
        }
    }

    /// Current standard deviation (at least `min_std`).
    #[must_use]
    pub fn std(&self) -> f64 {
        self.variance.sqrt().max(self.min_std)
    }

    /// Scores `x` against the current state (signed z), then updates. NaN input scores 0 and
    /// leaves the state alone.
    pub fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return 0.0;
        }
        if self.mean.is_nan() {
            self.mean = x;
            return 0.0;
        }
        let std = self.std();
        let residual = x - self.mean;
        let z = residual / std;
        let clipped = residual.clamp(-self.clip * std, self.clip * std);
        self.mean += self.alpha * clipped;
        self.variance = (1.0 - self.alpha) * (self.variance + self.alpha * clipped * clipped);
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_FLOOR: ScaleFloor = ScaleFloor {
        absolute: 0.0,
        relative: 0.0,
    };

    #[test]
    fn robust_z_of_a_known_series() {
        // median 3, deviations [2,1,0,1,97] → MAD 1, scale 1.4826.
        let baseline =
            RobustBaseline::fit(&[1.0, 2.0, 3.0, 4.0, 100.0, f64::NAN], NO_FLOOR).expect("values");
        assert_eq!(baseline.median, 3.0);
        assert_eq!(baseline.mad, 1.0);
        assert!((baseline.z(6.0) - 3.0 / 1.4826).abs() < 1e-12);
        let flat = RobustBaseline::fit(
            &[5.0; 10],
            ScaleFloor {
                absolute: 0.0,
                relative: 0.1,
            },
        )
        .expect("values");
        assert!((flat.z(6.0) - 2.0).abs() < 1e-12);
        assert!(RobustBaseline::fit(&[f64::NAN], NO_FLOOR).is_none());
    }

    #[test]
    fn quantiles_interpolate_linearly() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&sorted, 0.5), 2.5);
        assert_eq!(quantile_sorted(&sorted, 0.25), 1.75);
        assert_eq!(quantile_sorted(&sorted, 1.0), 4.0);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }

    #[test]
    fn iqr_excess_counts_iqrs_beyond_the_quartiles() {
        let baseline = IqrBaseline::fit(&[1.0, 2.0, 3.0, 4.0, 5.0], NO_FLOOR).expect("values");
        assert_eq!((baseline.q1, baseline.q3, baseline.iqr), (2.0, 4.0, 2.0));
        assert_eq!(baseline.excess(3.0), 0.0);
        assert_eq!(baseline.excess(10.0), 3.0);
        assert_eq!(baseline.excess(0.0), -1.0);
    }

    #[test]
    fn ewma_tracks_mean_and_variance_by_hand() {
        let mut ewma = Ewma::new(0.5, f64::INFINITY, 1e-9);
        assert_eq!(ewma.update(10.0), 0.0);
        // residual 2 against std floor 1e-9 → huge z; mean 11, var 0.5·(0 + 0.5·4) = 1.
        assert!(ewma.update(12.0) > 1e6);
        assert_eq!(ewma.mean, 11.0);
        assert_eq!(ewma.variance, 1.0);
        // residual 1 against std 1 → z 1; mean 11.5, var 0.5·(1 + 0.5·1) = 0.75.
        assert_eq!(ewma.update(12.0), 1.0);
        assert_eq!(ewma.mean, 11.5);
        assert_eq!(ewma.variance, 0.75);
        assert_eq!(ewma.update(f64::NAN), 0.0);
        assert_eq!(ewma.mean, 11.5);
    }

    #[test]
    fn ewma_clipping_keeps_a_spike_from_dragging_the_mean() {
        let mut ewma = Ewma::new(0.2, 3.0, 1.0);
        for _ in 0..50 {
            ewma.update(100.0);
        }
        let z = ewma.update(1000.0);
        assert!(z > 100.0);
        assert!(ewma.mean < 101.0, "mean {}", ewma.mean);
    }
}
