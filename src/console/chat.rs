//! The Chat view: the guided root-cause chat over the snapshot on screen, answered by the
//! offline analyst (pure, instant, so the UI never waits); suggested questions are one-key
//! choices (`1`–`4`).

use crate::chat::analyst::{self, Answer};
use crate::chat::situation::{Situation, Suspect};
use crate::live::Snapshot;

/// One question and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatTurn {
    /// What was asked.
    pub question: String,
    /// The analyst's answer.
    pub answer: Answer,
}

/// The situation the chat reasons over, from what the console shows.
#[must_use]
pub fn situation(snapshot: &Snapshot) -> Situation {
    let suspects = snapshot
        .services
        .iter()
        .map(|service| Suspect {
            service: service.name.clone(),
            p_outage: service.p_outage,
            p_root_cause: service.p_root_cause,
            band: service.band,
            health: service.health,
            evidence: service
                .evidence
                .iter()
                .map(|e| (e.kind.clone(), e.description.clone(), e.score))
                .collect(),
            explains: service.explains.clone(),
            traces: service
                .traces
                .iter()
                .filter(|t| t.error || t.slow)
                .take(5)
                .map(|t| t.trace_id.clone())
                .collect(),
            log_lines: service
                .logs
                .iter()
                .rev()
                .filter(|l| l.flagged)
                .take(3)
                .map(|l| (String::new(), l.line.clone()))
                .collect(),
            changes: service
                .evidence
                .iter()
                .filter(|e| e.kind == "deploy")
                .map(|e| e.description.clone())
                .collect(),
        })
        .collect();
    Situation {
        verdict: snapshot.verdict.clone(),
        incident: snapshot.incident,
        incident_start: snapshot.incident_start.map(|t| t.to_rfc3339()),
        focus: snapshot.window.map_or_else(
            || (String::new(), String::new()),
            |w| (w.start.to_rfc3339(), w.end.to_rfc3339()),
        ),
        suspects,
        edges: snapshot.edges.clone(),
        similar: snapshot.past.iter().map(|p| p.similar.clone()).collect(),
    }
}

/// The questions offered now: the last answer's suggestions, or the opening ones.
#[must_use]
pub fn suggestions(turns: &[ChatTurn], snapshot: Option<&Snapshot>) -> Vec<String> {
    match (turns.last(), snapshot) {
        (Some(turn), _) => turn.answer.suggestions.clone(),
        (None, Some(snapshot)) => analyst::opening_suggestions(&situation(snapshot)),
        (None, None) => Vec::new(),
    }
}

/// Asks `question` about the snapshot.
#[must_use]
pub fn ask(question: &str, snapshot: &Snapshot) -> ChatTurn {
    ChatTurn {
        question: question.to_owned(),
        answer: analyst::answer(question, &situation(snapshot)),
    }
}
