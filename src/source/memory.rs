//! A source over telemetry held in memory: the simulator run in-process, or an offline input
//! directory. Queries filter the dataset the way the live APIs would, so the console, `fetch`
//! and tests read every source through the same interface.

use super::query::{ChangeEvent, LogSelection, TraceSelection, change_events};
use super::{GraphMethod, GraphReading, SourceError, TelemetrySource};
use crate::analysis::graph::learn_service_graph;
use crate::detect::metrics::golden::{GoldenSignals, golden_signals_from_series};
use crate::model::{Dataset, LogRecord, Sample, Series, Span, TimeRange, Trace};
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Telemetry in memory.
#[derive(Debug, Clone)]
pub struct MemorySource {
    label: String,
    dataset: Dataset,
}

impl MemorySource {
    /// A source over `dataset`, described as `label`.
    #[must_use]
    pub fn new(label: impl Into<String>, dataset: Dataset) -> Self {
        Self {
            label: label.into(),
            dataset,
        }
    }

    /// Reads an offline input directory.
    ///
    /// # Errors
    /// The directory's read error, as text.
    pub fn from_dir(path: &Path) -> Result<Self, SourceError> {
        let dataset = crate::input_dir::read_dir(path)
            .map_err(|e| SourceError::Unsupported(format!("reading {}: {e}", path.display())))?;
        Ok(Self::new(format!("input: {}", path.display()), dataset))
    }

    /// Runs the simulator in-process over the whole experiment of `config`.
    ///
    /// # Errors
    /// When the simulation configuration is invalid.
    pub fn simulate(config: crate::sim::SimConfig) -> Result<Self, SourceError> {
        let label = format!("sim: {}", config.scenario);
        let dataset = crate::sim::run::run(config).map_err(SourceError::Unsupported)?;
        Ok(Self::new(label, dataset))
    }

    /// The data.
    #[must_use]
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    fn series_in(&self, range: TimeRange) -> Vec<Series> {
        self.dataset
            .series
            .iter()
            .map(|s| Series {
                labels: s.labels.clone(),
                samples: s
                    .samples
                    .iter()
                    .filter(|p| p.timestamp >= range.start && p.timestamp <= range.end)
                    .copied()
                    .collect::<Vec<Sample>>(),
            })
            .filter(|s| !s.samples.is_empty())
            .collect()
    }

    fn select_logs(&self, selection: &LogSelection, range: TimeRange) -> Vec<LogRecord> {
        let mut out: Vec<LogRecord> = self
            .dataset
            .logs
            .iter()
            .filter(|r| range.contains(r.timestamp))
            .filter(|r| selection.services.is_empty() || selection.services.contains(&r.service))
            .filter(|r| {
                selection
                    .contains
                    .as_deref()
                    .is_none_or(|text| r.line.contains(text))
            })
            .cloned()
            .collect();
        out.sort_by_key(|r| r.timestamp);
        if selection.max_lines > 0 {
            out.truncate(selection.max_lines);
        }
        out
    }

    fn select_traces(&self, selection: &TraceSelection, range: TimeRange) -> Vec<Span> {
        let traces = Trace::group(self.dataset.spans.clone());
        let mut out = Vec::new();
        let mut count = 0;
        for trace in traces {
            if selection.limit > 0 && count >= selection.limit {
                break;
            }
            let start = trace.spans.iter().map(|s| s.start).min();
            if !start.is_some_and(|t| range.contains(t)) {
                continue;
            }
            let matches = trace.spans.iter().any(|s| {
                (selection.services.is_empty() || selection.services.contains(&s.service))
                    && (!selection.errors_only || s.is_error())
                    && selection.min_duration.is_none_or(|min| s.duration() >= min)
            });
            if matches {
                count += 1;
                out.extend(trace.spans);
            }
        }
        out
    }
}

impl TelemetrySource for MemorySource {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn logs<'a>(
        &'a self,
        selection: &'a LogSelection,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<Vec<LogRecord>, SourceError>> {
        Box::pin(async move { Ok(self.select_logs(selection, range)) })
    }

    fn traces<'a>(
        &'a self,
        selection: &'a TraceSelection,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<Vec<Span>, SourceError>> {
        Box::pin(async move { Ok(self.select_traces(selection, range)) })
    }

    fn golden_signals(
        &self,
        range: TimeRange,
        step: Duration,
    ) -> BoxFuture<'_, Result<BTreeMap<String, GoldenSignals>, SourceError>> {
        Box::pin(async move { Ok(golden_signals_from_series(&self.series_in(range), step)) })
    }

    fn service_graph(&self, range: TimeRange) -> BoxFuture<'_, Result<GraphReading, SourceError>> {
        Box::pin(async move {
            let spans: Vec<Span> = self
                .dataset
                .spans
                .iter()
                .filter(|s| range.contains(s.start))
                .cloned()
                .collect();
            let series = self.series_in(range);
            let graph = learn_service_graph(&spans, &series, self.dataset.graph.as_ref());
            Ok(GraphReading {
                graph,
                method: if self.dataset.graph.is_some() {
                    GraphMethod::Saved
                } else {
                    GraphMethod::Learned
                },
                notes: Vec::new(),
            })
        })
    }

    fn raw_series(&self, range: TimeRange) -> BoxFuture<'_, Result<Vec<Series>, SourceError>> {
        Box::pin(async move { Ok(self.series_in(range)) })
    }

    fn changes(&self, range: TimeRange) -> BoxFuture<'_, Result<Vec<ChangeEvent>, SourceError>> {
        Box::pin(async move { Ok(change_events(&self.series_in(range))) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Timestamp;
    use crate::source::LogFollower;

    fn block<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn simulated() -> MemorySource {
        let scenario = crate::scenario::resolve("06").unwrap();
        let mut config = crate::sim::run::config_for(&scenario, 3);
        config.baseline = Duration::from_secs(120);
        config.fault_duration = Duration::from_secs(120);
        config.recovery = Duration::from_secs(60);
        MemorySource::simulate(config).unwrap()
    }

    #[test]
    fn simulator_in_process_answers_every_question() {
        let source = simulated();
        let data =
            crate::analysis::data_range(&source.dataset().spans, &source.dataset().series).unwrap();
        let carts = LogSelection {
            services: vec!["carts".into()],
            ..LogSelection::default()
        };
        let logs = block(source.logs(&carts, data)).unwrap();
        assert!(!logs.is_empty());
        assert!(logs.iter().all(|r| r.service == "carts"));
        assert!(logs.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        let errors = TraceSelection {
            errors_only: true,
            limit: 5,
            ..TraceSelection::default()
        };
        let spans = block(source.traces(&errors, data)).unwrap();
        let traces = Trace::group(spans);
        assert!(!traces.is_empty() && traces.len() <= 5);
        assert!(traces.iter().all(|t| t.spans.iter().any(Span::is_error)));
        let golden = block(source.golden_signals(data, Duration::from_secs(15))).unwrap();
        assert!(
            golden.contains_key("front-end") && golden.contains_key("payment"),
            "{:?}",
            golden.keys()
        );
        let graph = block(source.service_graph(data)).unwrap();
        assert_eq!(graph.method, GraphMethod::Saved);
        assert!(graph.graph.edge("orders", "payment").is_some());
        // Scenario 06 kills the payment pod: the restart is a change event.
        let changes = block(source.changes(data)).unwrap();
        assert!(
            changes.iter().any(|c| c.service == "payment"),
            "{changes:?}"
        );
    }

    #[test]
    fn follower_returns_each_line_once() {
        let source = simulated();
        let data =
            crate::analysis::data_range(&source.dataset().spans, &source.dataset().series).unwrap();
        let selection = LogSelection {
            services: vec!["orders".into()],
            ..LogSelection::default()
        };
        let all = block(source.logs(&selection, data)).unwrap();
        let mut follower = LogFollower::new(selection, data.start);
        let mut got = Vec::new();
        let mut now = data.start;
        for _ in 0..100 {
            now = now.plus(Duration::from_secs(7));
            let end = if now > data.end { data.end } else { now };
            got.extend(block(follower.poll(&source, end)).unwrap());
            if now > data.end {
                break;
            }
        }
        // Lines exactly at data.end are outside the half-open range of both reads.
        assert_eq!(got.len(), all.len());
        assert_eq!(
            got.first().map(|r| r.timestamp),
            all.first().map(|r| r.timestamp)
        );
        let _ = Timestamp(0);
    }
}
