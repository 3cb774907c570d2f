//! `baynet fetch`: reads one time window from a source into a [`Dataset`] that
//! [`crate::input_dir::write_dir`] saves as an offline input directory. Every part (logs,
//! traces, metrics, graph, changes) is fetched on its own: a part that fails is reported and
//! left out, the others are kept.

use super::query::{ChangeEvent, LogSelection, TraceSelection};
use super::{GraphMethod, TelemetrySource};
use crate::model::{Dataset, TimeRange};
use serde::Serialize;

/// What to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The window.
    pub range: TimeRange,
    /// Which logs.
    pub logs: LogSelection,
    /// Which traces.
    pub traces: TraceSelection,
}

/// How one part went.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PartReport {
    /// `logs`, `traces`, `metrics`, `graph`, `changes`.
    pub part: &'static str,
    /// Items fetched (lines, spans, series, edges, events).
    pub count: usize,
    /// Why it failed (`None`: it worked).
    pub error: Option<String>,
}

/// What a fetch did.
#[derive(Debug, Clone, Serialize)]
pub struct FetchReport {
    /// The source.
    pub source: String,
    /// Window start (RFC 3339).
    pub start: String,
    /// Window end (RFC 3339).
    pub end: String,
    /// One entry per part.
    pub parts: Vec<PartReport>,
    /// How the graph was obtained.
    pub graph_method: Option<GraphMethod>,
    /// Notes of the graph fallbacks.
    pub graph_notes: Vec<String>,
    /// Deploys, restarts, new pods in the window.
    pub changes: Vec<ChangeEvent>,
}

impl FetchReport {
    /// Whether any telemetry (logs, traces or metrics) was fetched.
    #[must_use]
    pub fn has_telemetry(&self) -> bool {
        self.parts.iter().any(|p| {
            ["logs", "traces", "metrics"].contains(&p.part) && p.error.is_none() && p.count > 0
        })
    }
}

fn part<T>(name: &'static str, result: &Result<Vec<T>, super::SourceError>) -> PartReport {
    match result {
        Ok(items) => PartReport {
            part: name,
            count: items.len(),
            error: None,
        },
        Err(error) => PartReport {
            part: name,
            count: 0,
            error: Some(error.to_string()),
        },
    }
}

/// Fetches every part of `options.range` concurrently.
pub async fn fetch(source: &dyn TelemetrySource, options: &FetchOptions) -> (Dataset, FetchReport) {
    let range = options.range;
    let (logs, spans, series, graph, changes) = futures_util::join!(
        source.logs(&options.logs, range),
        source.traces(&options.traces, range),
        source.raw_series(range),
        source.service_graph(range),
        source.changes(range),
    );
    let mut parts = vec![
        part("logs", &logs),
        part("traces", &spans),
        part("metrics", &series),
    ];
    let (graph, graph_method, graph_notes, graph_part) = match graph {
        Ok(reading) => {
            let count = reading.graph.edge_count();
            (
                Some(reading.graph).filter(|g| g.edge_count() > 0),
                Some(reading.method),
                reading.notes,
                PartReport {
                    part: "graph",
                    count,
                    error: None,
                },
            )
        }
        Err(error) => (
            None,
            None,
            Vec::new(),
            PartReport {
                part: "graph",
                count: 0,
                error: Some(error.to_string()),
            },
        ),
    };
    parts.push(graph_part);
    parts.push(part("changes", &changes));
    let dataset = Dataset {
        logs: logs.unwrap_or_default(),
        spans: spans.unwrap_or_default(),
        series: series.unwrap_or_default(),
        graph,
        ground_truth: None,
    };
    let report = FetchReport {
        source: source.describe(),
        start: range.start.to_rfc3339(),
        end: range.end.to_rfc3339(),
        parts,
        graph_method,
        graph_notes,
        changes: changes.unwrap_or_default(),
    };
    (dataset, report)
}
