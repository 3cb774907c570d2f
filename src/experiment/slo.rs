//! Service-level objectives and the error budget an experiment burned.

use serde::Serialize;
use std::collections::BTreeMap;

/// Availability and latency objectives of one service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// Share of requests that must succeed (e.g. 0.995).
    pub availability: f64,
    /// Latency objective in ms: p99 must stay below it.
    pub p99_ms: f64,
    /// Length of the SLO period the budget is counted over, in days.
    pub period_days: f64,
}

impl Default for Slo {
    fn default() -> Self {
        Self {
            availability: 0.995,
            p99_ms: 1000.0,
            period_days: 30.0,
        }
    }
}

/// Objectives per service, with a default for the rest.
#[derive(Debug, Clone, Default)]
pub struct SloConfig {
    /// Default objectives.
    pub default: Slo,
    /// Per-service overrides.
    pub services: BTreeMap<String, Slo>,
}

impl SloConfig {
    /// The objectives of a service.
    #[must_use]
    pub fn for_service(&self, service: &str) -> Slo {
        self.services.get(service).copied().unwrap_or(self.default)
    }
}

impl SloConfig {
    /// Applies `SERVICE=AVAILABILITY%[:P99]` overrides (`orders=99.9:500ms`, `default=99:2s`;
    /// the service `default` sets the default).
    ///
    /// # Errors
    /// A message naming the malformed override.
    pub fn with_overrides(mut self, overrides: &[String]) -> Result<Self, String> {
        for text in overrides {
            let bad = |why: &str| {
                format!(
                    "--slo `{text}`: {why}; write SERVICE=AVAILABILITY[:P99], e.g. orders=99.9:500ms"
                )
            };
            let (service, objectives) = text.split_once('=').ok_or_else(|| bad("no `=`"))?;
            let service = service.trim();
            if service.is_empty() {
                return Err(bad("empty service name"));
            }
            let (availability, p99) = match objectives.split_once(':') {
                Some((a, p)) => (a, Some(p)),
                None => (objectives, None),
            };
            let mut slo = if service == "default" {
                self.default
            } else {
                self.for_service(service)
            };
            let percent: f64 = availability
                .trim()
                .trim_end_matches('%')
                .parse()
                .map_err(|_| bad("availability is not a number"))?;
            if !(percent > 0.0 && percent < 100.0) {
                return Err(bad("availability must be a percentage between 0 and 100"));
            }
            slo.availability = percent / 100.0;
            if let Some(p99) = p99 {
                let latency =
                    crate::model::time::parse_duration(p99.trim()).map_err(|e| bad(&e))?;
                slo.p99_ms = latency.as_secs_f64() * 1000.0;
            }
            if service == "default" {
                self.default = slo;
            } else {
                self.services.insert(service.to_owned(), slo);
            }
        }
        Ok(self)
    }
}

/// What the experiment cost one service against its SLO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloImpact {
    /// Service.
    pub service: String,
    /// Availability objective.
    pub availability_objective: f64,
    /// Requests served during the experiment.
    pub requests: f64,
    /// Failed requests during the experiment.
    pub failed_requests: f64,
    /// Availability over the experiment.
    pub availability: f64,
    /// Share of the period's error budget burned (failed / allowed failures over the period at
    /// the baseline request rate).
    pub budget_burned: f64,
    /// Seconds during which p99 exceeded the latency objective.
    pub latency_violation_secs: f64,
}

/// Computes the impact from per-interval request counts: `(interval_secs, requests, failed,
/// p99_ms)` samples, and the baseline request rate.
#[must_use]
pub fn impact(
    service: &str,
    slo: Slo,
    samples: &[(f64, f64, f64, f64)],
    baseline_rps: f64,
) -> SloImpact {
    let requests: f64 = samples.iter().map(|(_, r, _, _)| r.max(0.0)).sum();
    let failed: f64 = samples.iter().map(|(_, _, f, _)| f.max(0.0)).sum();
    let latency_violation_secs: f64 = samples
        .iter()
        .filter(|(_, _, _, p99)| p99.is_finite() && *p99 > slo.p99_ms)
        .map(|(secs, _, _, _)| secs)
        .sum();
    let allowed_failures =
        (1.0 - slo.availability).max(0.0) * baseline_rps.max(0.0) * slo.period_days * 86_400.0;
    SloImpact {
        service: service.to_owned(),
        availability_objective: slo.availability,
        requests,
        failed_requests: failed,
        availability: if requests > 0.0 {
            1.0 - failed / requests
        } else {
            1.0
        },
        budget_burned: if allowed_failures > 0.0 {
            failed / allowed_failures
        } else {
            0.0
        },
        latency_violation_secs,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn budget_burned_is_failures_over_the_period_allowance() {
        // 10 req/s, 99.5 % over 30 days allows 0.005 · 10 · 2,592,000 = 129,600 failures.
        let samples = [(60.0, 600.0, 0.0, 50.0), (60.0, 600.0, 129.6, 2000.0)];
        let impact = impact("orders", Slo::default(), &samples, 10.0);
        assert!((impact.budget_burned - 0.001).abs() < 1e-12);
        assert!((impact.availability - (1.0 - 129.6 / 1200.0)).abs() < 1e-12);
        assert_eq!(impact.latency_violation_secs, 60.0);
        let idle = super::impact("idle", Slo::default(), &[], 0.0);
        let config = SloConfig::default()
            .with_overrides(&["orders=99.9:500ms".to_owned(), "default=99".to_owned()])
            .unwrap();
        assert!((config.for_service("orders").availability - 0.999).abs() < 1e-12);
        assert!((config.for_service("orders").p99_ms - 500.0).abs() < 1e-9);
        assert!((config.for_service("carts").availability - 0.99).abs() < 1e-12);
        for bad in [
            "orders",
            "orders=abc",
            "=99",
            "orders=100",
            "orders=99:fast",
        ] {
            let error = SloConfig::default()
                .with_overrides(&[bad.to_owned()])
                .unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
        assert_eq!((idle.availability, idle.budget_burned), (1.0, 0.0));
    }
}
