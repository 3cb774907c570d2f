//! The Prometheus exposition of Baynet's scores and its own health, so teams can alert on them.

use super::snapshot::Snapshot;
use crate::model::{Labels, Timestamp};
use crate::wire::prometheus::exposition::{
    ExpositionSample, MetricFamily, MetricKind, encode_exposition,
};
use std::collections::BTreeMap;

/// Counters of the intake paths, owned by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntakeCounters {
    /// Events accepted, per path (`http`, `sqs`).
    pub accepted: BTreeMap<String, u64>,
    /// Events rejected as malformed, per path.
    pub rejected: BTreeMap<String, u64>,
    /// Duplicate events ignored.
    pub duplicates: u64,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn family(name: &str, help: &str, kind: MetricKind, samples: Vec<(Labels, f64)>) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        help: help.to_owned(),
        kind,
        samples: samples
            .into_iter()
            .map(|(labels, value)| ExpositionSample {
                name: name.to_owned(),
                labels,
                value,
                timestamp_ms: None,
            })
            .collect(),
    }
}

/// Renders the exposition text for the snapshot at `now`.
#[must_use]
pub fn render(snapshot: &Snapshot, counters: &IntakeCounters, now: Timestamp) -> String {
    let ranking = &snapshot.ranking.ranking;
    let per_service = |value: &dyn Fn(&crate::rca::RankedService) -> f64| -> Vec<(Labels, f64)> {
        ranking
            .iter()
            .map(|r| (labels(&[("service", &r.service)]), value(r)))
            .collect()
    };
    let mut anomaly = Vec::new();
    for (service, kinds) in &snapshot.anomaly {
        for (kind, score) in kinds {
            anomaly.push((labels(&[("service", service), ("signal", kind)]), *score));
        }
    }
    let mut intake = Vec::new();
    for (path, count) in &counters.accepted {
        intake.push((
            labels(&[("path", path), ("outcome", "accepted")]),
            *count as f64,
        ));
    }
    for (path, count) in &counters.rejected {
        intake.push((
            labels(&[("path", path), ("outcome", "rejected")]),
            *count as f64,
        ));
    }
    intake.push((
        labels(&[("path", "any"), ("outcome", "duplicate")]),
        counters.duplicates as f64,
    ));
    let families = vec![
        family(
            "baynet_service_outage_probability",
            "Probability that the service itself has failed (Bayesian network posterior).",
            MetricKind::Gauge,
            per_service(&|r| r.p_outage),
        ),
        family(
            "baynet_service_root_cause_probability",
            "Probability that the service is the root cause of the current incident.",
            MetricKind::Gauge,
            per_service(&|r| r.p_root_cause),
        ),
        family(
            "baynet_service_band",
            "Colour band of the outage probability: 0 green (0-15%), 1 yellow (16-45%), 2 red (46-100%).",
            MetricKind::Gauge,
            per_service(&|r| f64::from(r.band as u8)),
        ),
        family(
            "baynet_service_health_score",
            "MAIA health score of the service (1 healthy, 0 failing).",
            MetricKind::Gauge,
            snapshot
                .health
                .iter()
                .map(|(s, h)| (labels(&[("service", s)]), *h))
                .collect(),
        ),
        family(
            "baynet_service_anomaly_score",
            "Anomaly score per service and signal kind, 0-1.",
            MetricKind::Gauge,
            anomaly,
        ),
        family(
            "baynet_incident",
            "1 while any service is outside the green band.",
            MetricKind::Gauge,
            vec![(
                Labels::new(),
                if snapshot.ranking.incident { 1.0 } else { 0.0 },
            )],
        ),
        family(
            "baynet_source_errors_total",
            "Errors reading each telemetry source.",
            MetricKind::Counter,
            snapshot
                .source_errors
                .iter()
                .map(|(s, n)| (labels(&[("source", s)]), *n as f64))
                .collect(),
        ),
        family(
            "baynet_last_update_age_seconds",
            "Seconds since the analysis was last updated.",
            MetricKind::Gauge,
            vec![(Labels::new(), now.since(snapshot.updated_at).as_secs_f64())],
        ),
        family(
            "baynet_events_total",
            "Anomaly events received.",
            MetricKind::Counter,
            intake,
        ),
    ];
    encode_exposition(&families)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::prometheus::exposition::parse_exposition;

    #[test]
    fn exposition_parses_back_with_the_service_scores() {
        let graph = crate::sim::topology::service_graph();
        let mut evidence = BTreeMap::new();
        evidence.insert(
            "carts-db".to_owned(),
            crate::rca::ServiceEvidence {
                degraded: Some(0.97),
                ..Default::default()
            },
        );
        evidence.insert(
            "carts".to_owned(),
            crate::rca::ServiceEvidence {
                degraded: Some(0.9),
                ..Default::default()
            },
        );
        let ranking = crate::rca::rank(
            &graph,
            &evidence,
            &crate::rca::LinkStrengths::new(),
            &crate::rca::RcaConfig::default(),
        )
        .expect("ranks");
        let mut snapshot = Snapshot::empty("sock-shop", Timestamp::from_secs(100));
        snapshot.graph = graph;
        snapshot.ranking = ranking;
        snapshot.health.insert("carts-db".into(), 0.4);
        snapshot
            .anomaly
            .entry("carts-db".into())
            .or_default()
            .insert("logs".into(), 0.9);
        let text = render(
            &snapshot,
            &IntakeCounters::default(),
            Timestamp::from_secs(107),
        );
        let samples = parse_exposition(&text).expect("valid exposition");
        let value = |name: &str, service: &str| {
            samples
                .iter()
                .find(|s| {
                    s.name == name && s.labels.get("service").map(String::as_str) == Some(service)
                })
                .map(|s| s.value)
        };
        assert!(value("baynet_service_outage_probability", "carts-db").is_some_and(|p| p > 0.5));
        assert_eq!(value("baynet_service_band", "carts-db"), Some(2.0));
        assert_eq!(value("baynet_service_health_score", "carts-db"), Some(0.4));
        assert_eq!(
            samples
                .iter()
                .filter(|s| s.name == "baynet_service_root_cause_probability")
                .count(),
            14
        );
        assert_eq!(
            samples
                .iter()
                .find(|s| s.name == "baynet_last_update_age_seconds")
                .map(|s| s.value),
            Some(7.0)
        );
        assert_eq!(
            samples
                .iter()
                .find(|s| s.name == "baynet_incident")
                .map(|s| s.value),
            Some(1.0)
        );
    }
}
