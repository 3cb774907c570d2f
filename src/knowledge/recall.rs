//! A recorded incident as the chat's situation (pure): `baynet chat --incident ID` talks about a
//! past postmortem with the same analyst and prompt builder as a live incident. The record's
//! ranking at detection becomes the suspects, its symptom signature the evidence, its
//! detectors and timeline the context. Every text taken from the record stays untrusted data:
//! the prompt builder fences it like any other evidence.

use super::record::{Postmortem, SymptomSignature};
use super::store::SearchQuery;
use crate::chat::situation::{SimilarIncident, Situation, Suspect};
use crate::rca::Band;

/// The situation a recorded incident describes, with `similar` retrieved incidents.
#[must_use]
pub fn situation_of(record: &Postmortem, similar: Vec<SimilarIncident>) -> Situation {
    let mut order: Vec<(String, f64, f64)> = record
        .ranking
        .iter()
        .map(|r| {
            let p_root = clamp01(r.p_root_cause);
            let p_outage = r.p_outage.map_or(p_root, clamp01);
            (r.service.clone(), p_root, p_outage)
        })
        .collect();
    // A record without a ranking still names its root cause and the affected services.
    if order.is_empty() && !record.root_cause_service.is_empty() {
        order.push((record.root_cause_service.clone(), 1.0, 1.0));
    }
    for affected in &record.affected_services {
        if !order.iter().any(|(s, _, _)| s == affected) {
            order.push((affected.clone(), 0.0, 0.0));
        }
    }
    for service in record.symptom_signature.services.keys() {
        if !order.iter().any(|(s, _, _)| s == service) {
            order.push((service.clone(), 0.0, 0.0));
        }
    }
    let suspects = order
        .into_iter()
        .map(|(service, p_root_cause, p_outage)| Suspect {
            evidence: evidence_of(record, &service),
            band: Band::of(p_outage),
            service,
            p_outage,
            p_root_cause,
            health: None,
            explains: Vec::new(),
            traces: Vec::new(),
            log_lines: Vec::new(),
            changes: Vec::new(),
        })
        .collect();
    let root = if record.root_cause_service.is_empty() {
        "not recorded".to_owned()
    } else {
        record.root_cause_service.clone()
    };
    let fault = if record.fault_class.is_empty() {
        "unrecorded fault class".to_owned()
    } else {
        record.fault_class.clone()
    };
    Situation {
        verdict: format!(
            "Recorded incident [{}] \"{}\": root cause {root} ({fault}).",
            record.id, record.title
        ),
        incident: !record.root_cause_service.is_empty(),
        incident_start: record.started.clone(),
        focus: (
            record.started.clone().unwrap_or_default(),
            record
                .resolved
                .clone()
                .or_else(|| record.detected.clone())
                .unwrap_or_default(),
        ),
        suspects,
        edges: Vec::new(),
        similar,
    }
}

/// Evidence items of `service` from the record: its signature scores, the detectors that fired
/// (for the root cause) and whether it was recorded as affected.
fn evidence_of(record: &Postmortem, service: &str) -> Vec<(String, String, f64)> {
    let mut evidence: Vec<(String, String, f64)> = Vec::new();
    if let Some(signals) = record.symptom_signature.services.get(service) {
        let mut signals: Vec<(&String, &f64)> = signals.iter().collect();
        signals.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for (signal, score) in signals {
            evidence.push((
                kind_of(signal),
                format!("recorded {signal} anomaly (score {score:.2})"),
                clamp01(*score),
            ));
        }
    }
    if service == record.root_cause_service {
        for detector in record.detectors.iter().filter(|d| d.fired) {
            evidence.push((
                detector.detector.clone(),
                format!("the {} detector fired", detector.detector),
                detector.score.map_or(1.0, clamp01),
            ));
        }
        if let Some(role) = role_signals(&record.symptom_signature) {
            evidence.push(("signature".to_owned(), role, 1.0));
        }
    }
    if record.affected_services.iter().any(|s| s == service) && service != record.root_cause_service
    {
        evidence.push((
            "symptom".to_owned(),
            "recorded as an affected service".to_owned(),
            0.5,
        ));
    }
    evidence
}

/// The evidence kind a signature signal belongs to (`latency` → `traces`, …).
fn kind_of(signal: &str) -> String {
    let signal = signal.to_ascii_lowercase();
    if signal.contains("log") || signal.contains("template") {
        "logs"
    } else if signal.contains("latency") || signal.contains("error") || signal.contains("5xx") {
        "traces"
    } else {
        "metrics"
    }
    .to_owned()
}

/// "symptoms by role: gateway latency; database connections" when the record has role lists.
fn role_signals(signature: &SymptomSignature) -> Option<String> {
    let parts: Vec<String> = signature
        .roles()
        .into_iter()
        .filter(|(_, signals)| !signals.is_empty())
        .map(|(role, signals)| format!("{role} {}", signals.join(", ")))
        .collect();
    (!parts.is_empty()).then(|| format!("symptoms by role: {}", parts.join("; ")))
}

/// The retrieval query for records similar to `record` (itself left out).
#[must_use]
pub fn query_for_record(record: &Postmortem, limit: usize) -> SearchQuery {
    SearchQuery {
        text: format!("{}\n{}", record.title, record.body),
        signature: Some(record.symptom_signature.clone()),
        focus_service: Some(record.root_cause_service.clone()).filter(|s| !s.is_empty()),
        exclude_id: Some(record.id.clone()),
        limit,
        ..SearchQuery::default()
    }
}

fn clamp01(value: f64) -> f64 {
    if value.is_finite() {
        value.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::chat::analyst;
    use std::path::Path;

    const RECORD: &str = "---
id: pm-2026-03-02-carts-db-latency
title: carts-db latency spike slows checkout
started: 2026-03-02T10:00:00Z
resolved: 2026-03-02T10:20:00Z
source: chaos-experiment
root_cause_service: carts-db
fault_class: network-delay
affected_services: [carts, front-end]
symptom_signature:
  gateway: [latency]
  database: [latency]
  services:
    carts-db: {latency: 0.9, connections: 0.4}
    carts: {latency: 0.7}
detectors:
  - {detector: traces, fired: true, score: 0.93}
  - {detector: logs, fired: false}
ranking:
  - {service: carts-db, p_root_cause: 0.81, p_outage: 0.9}
  - {service: carts, p_root_cause: 0.1, p_outage: 0.35}
remediation: Removed the NetworkChaos; connection pool sized to 50.
tags: [latency]
---
## Summary
A 300 ms delay on carts-db slowed every cart call.
";

    fn record() -> Postmortem {
        crate::knowledge::record::parse_bytes(Path::new("pm.md"), RECORD.as_bytes()).unwrap()
    }

    #[test]
    fn the_ranking_becomes_the_suspects_with_bands_and_signature_evidence() {
        let s = situation_of(&record(), Vec::new());
        let names: Vec<&str> = s.suspects.iter().map(|x| x.service.as_str()).collect();
        assert_eq!(names, ["carts-db", "carts", "front-end"]);
        assert_eq!(s.suspects[0].band, Band::Red);
        assert_eq!(s.suspects[1].band, Band::Yellow);
        assert_eq!(s.suspects[2].band, Band::Green);
        let root = &s.suspects[0].evidence;
        assert_eq!(root[0].0, "traces");
        assert!((root[0].2 - 0.9).abs() < 1e-12, "{root:?}");
        assert!(root.iter().any(|e| e.1 == "the traces detector fired"));
        assert!(!root.iter().any(|e| e.1.contains("logs detector")));
        assert!(s.verdict.contains("[pm-2026-03-02-carts-db-latency]"));
        assert_eq!(s.incident_start.as_deref(), Some("2026-03-02T10:00:00Z"));
        assert_eq!(s.focus.1, "2026-03-02T10:20:00Z");
    }

    #[test]
    fn the_offline_analyst_names_the_recorded_root_cause() {
        let s = situation_of(&record(), Vec::new());
        let answer = analyst::answer("What is failing?", &s);
        assert!(answer.text.contains("carts-db"), "{}", answer.text);
        assert!(
            answer.citations.iter().any(|c| c == "carts-db"),
            "{answer:?}"
        );
    }

    #[test]
    fn hostile_probabilities_are_clamped_and_an_empty_ranking_falls_back_to_the_root_cause() {
        let mut r = record();
        r.ranking[0].p_root_cause = f64::NAN;
        r.ranking[1].p_outage = Some(7.0);
        let s = situation_of(&r, Vec::new());
        assert!(s.suspects[0].p_root_cause.abs() < f64::EPSILON);
        assert!((s.suspects[1].p_outage - 1.0).abs() < f64::EPSILON);
        r.ranking.clear();
        let s = situation_of(&r, Vec::new());
        assert_eq!(s.suspects[0].service, "carts-db");
        assert!((s.suspects[0].p_outage - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn the_record_query_leaves_the_record_itself_out() {
        let q = query_for_record(&record(), 3);
        assert_eq!(
            q.exclude_id.as_deref(),
            Some("pm-2026-03-02-carts-db-latency")
        );
        assert!(q.text.contains("carts-db latency spike"));
        assert_eq!(q.limit, 3);
    }
}
