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
        assert_eq!((idle.availability, idle.budget_burned), (1.0, 0.0));
    }
}
