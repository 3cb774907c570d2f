//! The live source: Loki, Tempo, Prometheus and Kiali clients built from the configuration,
//! each optional. A question needing an unconfigured source is a
//! [`SourceError::NotConfigured`]; the service graph falls back from Kiali to Istio metrics,
//! Tempo's service-graph metrics and finally trace span pairs, noting why.

use super::http::HttpClient;
use super::kiali::KialiClient;
use super::loki::LokiClient;
use super::prometheus::PrometheusClient;
use super::query::{
    ChangeEvent, EdgeQuery, GoldenQuery, LogSelection, TraceSelection, assemble_golden,
    assemble_graph, change_events, golden_queries, graph_queries, logql, raw_series_queries, side,
    tempo_graph_queries, window,
};
use super::tempo::{SearchSyntax, TempoClient};
use super::{GraphMethod, GraphReading, SourceError, TelemetrySource};
use crate::analysis::graph::learn_service_graph;
use crate::config::{Config, SourceKind};
use crate::detect::metrics::golden::GoldenSignals;
use crate::model::{LogRecord, Series, Span, TimeRange, Trace};
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::time::Duration;

/// Live HTTP sources.
#[derive(Debug, Clone)]
pub struct LiveSource {
    config: Config,
    /// Loki, when configured.
    pub loki: Option<LokiClient>,
    /// Tempo, when configured.
    pub tempo: Option<TempoClient>,
    /// Prometheus, when configured.
    pub prometheus: Option<PrometheusClient>,
    /// Kiali, when configured.
    pub kiali: Option<KialiClient>,
}

impl LiveSource {
    /// Builds the clients of every configured source.
    ///
    /// # Errors
    /// [`SourceError::Setup`] when a client cannot be built (bad CA file).
    pub fn new(config: &Config) -> Result<Self, SourceError> {
        let http = |kind: SourceKind| -> Result<Option<HttpClient>, SourceError> {
            config
                .endpoint(kind)
                .map(|e| HttpClient::new(e, config.retry, config.limits.max_response_bytes))
                .transpose()
        };
        let limits = config.limits;
        Ok(Self {
            loki: http(SourceKind::Loki)?.map(|h| LokiClient::new(h, limits)),
            tempo: http(SourceKind::Tempo)?.map(|h| {
                let mode = config.tempo.as_ref().map(|t| t.search).unwrap_or_default();
                TempoClient::new(h, limits, config.labels.clone(), mode)
            }),
            prometheus: http(SourceKind::Prometheus)?.map(|h| PrometheusClient::new(h, limits)),
            kiali: http(SourceKind::Kiali)?.map(KialiClient::new),
            config: config.clone(),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn need<T>(client: Option<&T>, kind: SourceKind) -> Result<&T, SourceError> {
        client.ok_or(SourceError::NotConfigured { kind })
    }

    async fn search_traces(
        &self,
        selection: &TraceSelection,
        range: TimeRange,
    ) -> Result<Vec<Span>, SourceError> {
        let tempo = Self::need(self.tempo.as_ref(), SourceKind::Tempo)?;
        let (found, syntax) = tempo.search(selection, range).await?;
        let ids: Vec<_> = found.iter().map(|t| t.trace_id).collect();
        let traces = tempo.traces(&ids).await?;
        let keep = |spans: &Vec<Span>| {
            syntax == SearchSyntax::TraceQl
                || spans.iter().any(|s| {
                    (!selection.errors_only || s.is_error())
                        && selection.min_duration.is_none_or(|m| s.duration() >= m)
                })
        };
        Ok(traces.into_iter().filter(keep).flatten().collect())
    }

    async fn istio_graph(
        &self,
        prometheus: &PrometheusClient,
        range: TimeRange,
    ) -> Result<crate::model::ServiceGraph, SourceError> {
        let win = window(range.duration(), self.config.limits.rate_window);
        let labels = &self.config.labels;
        let mut results: BTreeMap<EdgeQuery, Vec<Series>> = BTreeMap::new();
        for (role, promql) in graph_queries(labels, &self.config.namespace, &win) {
            results.insert(role, prometheus.query(&promql, range.end).await?);
        }
        Ok(assemble_graph(
            &results,
            &side(labels, "source"),
            &side(labels, "destination"),
            &[],
        ))
    }

    async fn tempo_metrics_graph(
        &self,
        prometheus: &PrometheusClient,
        range: TimeRange,
    ) -> Result<crate::model::ServiceGraph, SourceError> {
        let win = window(range.duration(), self.config.limits.rate_window);
        let mut results: BTreeMap<EdgeQuery, Vec<Series>> = BTreeMap::new();
        for (role, promql) in tempo_graph_queries(&win) {
            results.insert(role, prometheus.query(&promql, range.end).await?);
        }
        Ok(assemble_graph(&results, "client", "server", &["user"]))
    }

    async fn graph(&self, range: TimeRange) -> Result<GraphReading, SourceError> {
        let mut notes = Vec::new();
        if let Some(kiali) = &self.kiali {
            match kiali
                .graph(&self.config.namespace, range.duration(), range.end)
                .await
            {
                Ok(graph) if graph.edge_count() > 0 => {
                    return Ok(GraphReading {
                        graph,
                        method: GraphMethod::Kiali,
                        notes,
                    });
                }
                Ok(_) => notes.push("Kiali: the graph has no edges".to_owned()),
                Err(error) => notes.push(format!("Kiali: {error}")),
            }
        }
        if let Some(prometheus) = &self.prometheus {
            match self.istio_graph(prometheus, range).await {
                Ok(graph) if graph.edge_count() > 0 => {
                    return Ok(GraphReading {
                        graph,
                        method: GraphMethod::IstioMetrics,
                        notes,
                    });
                }
                Ok(_) => notes.push("Prometheus: no Istio traffic in the namespace".to_owned()),
                Err(error) => notes.push(format!("Prometheus (Istio): {error}")),
            }
            match self.tempo_metrics_graph(prometheus, range).await {
                Ok(graph) if graph.edge_count() > 0 => {
                    return Ok(GraphReading {
                        graph,
                        method: GraphMethod::TempoServiceGraph,
                        notes,
                    });
                }
                Ok(_) => notes.push("Prometheus: no Tempo service-graph metrics".to_owned()),
                Err(error) => notes.push(format!("Prometheus (Tempo metrics): {error}")),
            }
        }
        if self.tempo.is_some() {
            let selection = TraceSelection {
                limit: 200,
                ..TraceSelection::default()
            };
            let spans = self.search_traces(&selection, range).await?;
            let graph = learn_service_graph(&spans, &[], None);
            return Ok(GraphReading {
                graph,
                method: GraphMethod::TraceSpans,
                notes,
            });
        }
        Err(SourceError::Unsupported(format!(
            "no source can give the service graph ({}); configure Prometheus with Istio metrics, Kiali or Tempo",
            if notes.is_empty() {
                "none configured".to_owned()
            } else {
                notes.join("; ")
            }
        )))
    }
}

impl TelemetrySource for LiveSource {
    fn describe(&self) -> String {
        let parts: Vec<String> = SourceKind::ALL
            .iter()
            .filter_map(|k| {
                self.config
                    .endpoint(*k)
                    .map(|e| format!("{} {}", k.key(), e.url))
            })
            .collect();
        format!("live: {}", parts.join(", "))
    }

    fn logs<'a>(
        &'a self,
        selection: &'a LogSelection,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<Vec<LogRecord>, SourceError>> {
        Box::pin(async move {
            let loki = Self::need(self.loki.as_ref(), SourceKind::Loki)?;
            let query = logql(&self.config.labels, &self.config.namespace, selection);
            loki.query_range(&query, range, selection.max_lines).await
        })
    }

    fn traces<'a>(
        &'a self,
        selection: &'a TraceSelection,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<Vec<Span>, SourceError>> {
        Box::pin(self.search_traces(selection, range))
    }

    fn golden_signals(
        &self,
        range: TimeRange,
        step: Duration,
    ) -> BoxFuture<'_, Result<BTreeMap<String, GoldenSignals>, SourceError>> {
        Box::pin(async move {
            let prometheus = Self::need(self.prometheus.as_ref(), SourceKind::Prometheus)?;
            let step =
                super::query::choose_step(range.duration(), step, self.config.limits.max_points);
            let win = window(step.saturating_mul(4), self.config.limits.rate_window);
            let mut results: BTreeMap<GoldenQuery, Vec<Series>> = BTreeMap::new();
            for (role, promql) in golden_queries(&self.config.labels, &self.config.namespace, &win)
            {
                results.insert(role, prometheus.query_range(&promql, range, step).await?);
            }
            Ok(assemble_golden(&self.config.labels, &results))
        })
    }

    fn service_graph(&self, range: TimeRange) -> BoxFuture<'_, Result<GraphReading, SourceError>> {
        Box::pin(self.graph(range))
    }

    fn raw_series(&self, range: TimeRange) -> BoxFuture<'_, Result<Vec<Series>, SourceError>> {
        Box::pin(async move {
            let prometheus = Self::need(self.prometheus.as_ref(), SourceKind::Prometheus)?;
            let mut out = Vec::new();
            for promql in raw_series_queries(&self.config.namespace) {
                out.extend(
                    prometheus
                        .query_range(&promql, range, self.config.limits.metrics_step)
                        .await?,
                );
            }
            Ok(out)
        })
    }

    fn changes(&self, range: TimeRange) -> BoxFuture<'_, Result<Vec<ChangeEvent>, SourceError>> {
        Box::pin(async move {
            let prometheus = Self::need(self.prometheus.as_ref(), SourceKind::Prometheus)?;
            let ns = super::query::quote(&self.config.namespace);
            let mut series = Vec::new();
            for promql in [
                format!("kube_deployment_status_observed_generation{{namespace={ns}}}"),
                format!("kube_pod_container_status_restarts_total{{namespace={ns}}}"),
                format!(
                    "container_memory_working_set_bytes{{namespace={ns}, container!=\"\", container!=\"POD\"}}"
                ),
            ] {
                series.extend(
                    prometheus
                        .query_range(&promql, range, self.config.limits.metrics_step)
                        .await?,
                );
            }
            Ok(change_events(&series))
        })
    }
}

/// Groups spans into traces (re-exported for callers that fetched spans).
#[must_use]
pub fn group_traces(spans: Vec<Span>) -> Vec<Trace> {
    Trace::group(spans)
}
