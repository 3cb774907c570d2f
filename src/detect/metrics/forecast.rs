//! Holt's linear-trend exponential smoothing: a short forecast of a signal for the console.
//!
//! Invariant: pure; NaN observations are skipped (the state carries forward), so gaps do not
//! poison the forecast.

/// Smoothing factors of Holt's method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoltConfig {
    /// Level smoothing in `(0, 1]`.
    pub alpha: f64,
    /// Trend smoothing in `(0, 1]`.
    pub beta: f64,
}

impl Default for HoltConfig {
    /// `alpha = 0.5`, `beta = 0.3`: responsive enough for 15 s samples over a few minutes.
    fn default() -> Self {
        Self {
            alpha: 0.5,
            beta: 0.3,
        }
    }
}

/// Forecasts `horizon` steps after the last value with Holt's method; the level starts at the
/// first finite value and the trend at the difference of the first two. Fewer than two finite
/// values give a flat forecast (or nothing when there is none).
#[must_use]
pub fn holt_forecast(values: &[f64], config: HoltConfig, horizon: usize) -> Vec<f64> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    match finite.as_slice() {
        [] => Vec::new(),
        [only] => vec![*only; horizon],
        [first, second, rest @ ..] => {
            let mut level = *second;
            let mut trend = second - first;
            for &value in rest {
                let previous_level = level;
                level = config.alpha * value + (1.0 - config.alpha) * (level + trend);
                trend = config.beta * (level - previous_level) + (1.0 - config.beta) * trend;
            }
            #[allow(clippy::cast_precision_loss)]
            (1..=horizon)
                .map(|step| level + trend * step as f64)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_series_forecast_is_exact() {
        let values: Vec<f64> = (0..20).map(|i| 3.0 + 2.5 * f64::from(i)).collect();
        let forecast = holt_forecast(&values, HoltConfig::default(), 4);
        let expected: Vec<f64> = (20..24).map(|i| 3.0 + 2.5 * f64::from(i)).collect();
        for (got, want) in forecast.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
    }

    #[test]
    fn gaps_and_short_inputs_are_handled() {
        let forecast = holt_forecast(&[1.0, f64::NAN, 2.0, 3.0], HoltConfig::default(), 2);
        assert!((forecast[0] - 4.0).abs() < 1e-9);
        assert_eq!(
            holt_forecast(&[7.0], HoltConfig::default(), 3),
            vec![7.0; 3]
        );
        assert!(holt_forecast(&[], HoltConfig::default(), 3).is_empty());
    }
}
