//! The facts the chat reasons over, digested from an [`Analysis`] and the retrieved incidents,
//! each with the handle an answer cites it by: `[service]`, `[trace ID]`, `[incident ID]`.

use crate::analysis::Analysis;
use crate::rca::Band;
use serde::Serialize;

/// A past incident or playbook retrieved for the current situation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarIncident {
    /// Stable id (the postmortem's front-matter id).
    pub id: String,
    /// Title.
    pub title: String,
    /// Service that was at fault.
    pub root_cause: String,
    /// Fault class.
    pub fault_class: String,
    /// What fixed it.
    pub remediation: String,
    /// Short summary.
    pub summary: String,
    /// Retrieval similarity in [0, 1].
    pub similarity: f64,
}

/// One suspect service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// Service name.
    pub service: String,
    /// P(outage).
    pub p_outage: f64,
    /// P(root cause).
    pub p_root_cause: f64,
    /// Colour band.
    pub band: Band,
    /// MAIA health score, when traces were available.
    pub health: Option<f64>,
    /// Evidence descriptions with their kind and score (untrusted text inside).
    pub evidence: Vec<(String, String, f64)>,
    /// Services whose symptoms it explains, by path.
    pub explains: Vec<Vec<String>>,
    /// Anomalous trace ids of this service.
    pub traces: Vec<String>,
    /// Example anomalous log lines (template, example), untrusted.
    pub log_lines: Vec<(String, String)>,
    /// Deploys and restarts.
    pub changes: Vec<String>,
}

/// Everything the chat knows about now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Situation {
    /// The pipeline's one-line verdict.
    pub verdict: String,
    /// Whether any service is above green.
    pub incident: bool,
    /// When the anomaly started (RFC 3339), if it did.
    pub incident_start: Option<String>,
    /// The ranked range (RFC 3339 start, end).
    pub focus: (String, String),
    /// Services, most suspect first.
    pub suspects: Vec<Suspect>,
    /// Call edges `caller -> callee`.
    pub edges: Vec<(String, String)>,
    /// Retrieved past incidents, most similar first.
    pub similar: Vec<SimilarIncident>,
}

impl Situation {
    /// Digests an analysis and the retrieved incidents.
    #[must_use]
    pub fn from_analysis(analysis: &Analysis, similar: Vec<SimilarIncident>) -> Self {
        let suspects = analysis
            .ranking
            .ranking
            .iter()
            .map(|ranked| {
                let events = analysis
                    .report
                    .events
                    .iter()
                    .filter(|e| e.service == ranked.service)
                    .filter(|e| {
                        e.window_start >= analysis.focus.start
                            && e.window_start < analysis.focus.end
                    });
                let mut traces: Vec<String> = Vec::new();
                let mut log_lines: Vec<(String, String)> = Vec::new();
                for event in events {
                    for id in &event.evidence.trace_ids {
                        if !traces.contains(id) && traces.len() < 5 {
                            traces.push(id.clone());
                        }
                    }
                    for line in &event.evidence.log_lines {
                        if log_lines.len() < 5
                            && !log_lines.iter().any(|(t, _)| t == &line.template)
                        {
                            log_lines.push((line.template.clone(), line.example.clone()));
                        }
                    }
                }
                let changes = ranked
                    .evidence
                    .iter()
                    .filter(|e| e.kind == "deploy")
                    .map(|e| e.description.clone())
                    .collect();
                Suspect {
                    service: ranked.service.clone(),
                    p_outage: ranked.p_outage,
                    p_root_cause: ranked.p_root_cause,
                    band: ranked.band,
                    health: analysis.health.get(&ranked.service).copied(),
                    evidence: ranked
                        .evidence
                        .iter()
                        .map(|e| (e.kind.clone(), e.description.clone(), e.score))
                        .collect(),
                    explains: ranked.explains.clone(),
                    traces,
                    log_lines,
                    changes,
                }
            })
            .collect();
        Self {
            verdict: analysis.ranking.verdict.clone(),
            incident: analysis.ranking.incident,
            incident_start: analysis.incident_start.map(|t| t.to_rfc3339()),
            focus: (
                analysis.focus.start.to_rfc3339(),
                analysis.focus.end.to_rfc3339(),
            ),
            suspects,
            edges: analysis.edges.clone(),
            similar,
        }
    }

    /// The leading suspect when it is out of the green band.
    #[must_use]
    pub fn culprit(&self) -> Option<&Suspect> {
        self.suspects.first().filter(|s| s.band != Band::Green)
    }

    /// Callers of `service` (direct).
    #[must_use]
    pub fn callers(&self, service: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, callee)| callee == service)
            .map(|(caller, _)| caller.as_str())
            .collect()
    }
}
