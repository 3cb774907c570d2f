//! Drafting a postmortem from an analysis (pure): the signature, the ranking at detection and
//! the evidence as the body. The caller adds what only a human or the ground truth knows (the
//! fault class, the remediation).

use super::record::{DetectorResult, Postmortem, RankedAtDetection, Source};
use super::signature;
use crate::analysis::Analysis;
use std::collections::BTreeMap;

/// A draft postmortem of `analysis` with id `id`; `fault_class` and `root_cause` when known
/// (else the top suspect).
#[must_use]
pub fn from_analysis(
    analysis: &Analysis,
    id: &str,
    source: Source,
    fault_class: &str,
    root_cause: Option<&str>,
) -> Postmortem {
    let top = analysis.ranking.ranking.first();
    let root = root_cause
        .map(str::to_owned)
        .or_else(|| top.map(|r| r.service.clone()))
        .unwrap_or_default();
    let signature = signature::from_analysis(analysis);
    let affected: Vec<String> = signature.services.keys().cloned().collect();
    let mut detectors: BTreeMap<String, f64> = BTreeMap::new();
    for event in &analysis.report.events {
        if event.window_start >= analysis.focus.start && event.window_start < analysis.focus.end {
            let slot = detectors
                .entry(event.kind.as_str().to_owned())
                .or_insert(0.0);
            *slot = slot.max(event.score);
        }
    }
    let mut body = String::from("\n## Summary\n");
    body.push_str(&analysis.ranking.verdict);
    body.push_str("\n\n## Evidence at detection\n");
    for ranked in analysis.ranking.ranking.iter().take(3) {
        for item in &ranked.evidence {
            body.push_str(&format!(
                "- {}: {} ({:.2})\n",
                ranked.service, item.description, item.score
            ));
        }
    }
    Postmortem {
        id: id.to_owned(),
        title: format!(
            "{} on {}",
            if fault_class.is_empty() {
                "incident"
            } else {
                fault_class
            },
            root
        ),
        started: analysis.incident_start.map(|t| t.to_rfc3339()),
        detected: None,
        resolved: None,
        environment: None,
        source,
        scenario: None,
        chaos_kind: None,
        root_cause_service: root,
        fault_class: fault_class.to_owned(),
        affected_services: affected,
        symptom_signature: signature,
        mttd_secs: None,
        mttr_secs: None,
        impact: None,
        detectors: detectors
            .into_iter()
            .map(|(detector, score)| DetectorResult {
                detector,
                fired: true,
                score: Some(score),
            })
            .collect(),
        ranking: analysis
            .ranking
            .ranking
            .iter()
            .take(3)
            .map(|r| RankedAtDetection {
                service: r.service.clone(),
                p_root_cause: r.p_root_cause,
                p_outage: Some(r.p_outage),
            })
            .collect(),
        remediation: String::new(),
        follow_ups: Vec::new(),
        tags: Vec::new(),
        body,
    }
}
