//! Tempo client: search (TraceQL, or legacy tag search when the server rejects TraceQL) over
//! windows of a long range, trace fetches with bounded concurrency, tag values, build info.

use super::SourceError;
use super::http::HttpClient;
use super::query::{TraceSelection, tag_searches, traceql};
use crate::config::{LabelNames, Limits, TempoSearch};
use crate::model::{Span, TimeRange, TraceId};
use crate::wire::meta::{BuildInfo, decode_buildinfo, decode_tempo_tags};
use crate::wire::otlp::decode_traces;
use crate::wire::tempo::{TraceSummary, decode_search};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A Tempo API client.
#[derive(Debug, Clone)]
pub struct TempoClient {
    http: HttpClient,
    limits: Limits,
    labels: LabelNames,
    mode: TempoSearch,
    /// Set once the server rejected TraceQL (Auto mode then uses tag search).
    tags_only: Arc<AtomicBool>,
}

/// Which search syntax answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSyntax {
    /// TraceQL (`q=`).
    TraceQl,
    /// Tag search (`tags=`).
    Tags,
}

impl TempoClient {
    /// A client over `http`.
    #[must_use]
    pub fn new(http: HttpClient, limits: Limits, labels: LabelNames, mode: TempoSearch) -> Self {
        Self {
            http,
            limits,
            labels,
            mode,
            tags_only: Arc::new(AtomicBool::new(mode == TempoSearch::Tags)),
        }
    }

    /// The HTTP endpoint.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `/api/status/buildinfo`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn buildinfo(&self) -> Result<BuildInfo, SourceError> {
        self.http
            .get_decoded("/api/status/buildinfo", &[], decode_buildinfo)
            .await
    }

    /// Values of a tag (`resource.service.name`): v2 API first, v1 on 404.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn tag_values(&self, tag: &str) -> Result<Vec<String>, SourceError> {
        let clean: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
            .collect();
        if let Some(values) = self
            .http
            .get_optional(
                &format!("/api/v2/search/tag/{clean}/values"),
                &[],
                decode_tempo_tags,
            )
            .await?
        {
            return Ok(values);
        }
        let v1 = clean
            .split_once('.')
            .map_or(clean.as_str(), |(scope, rest)| {
                if ["resource", "span"].contains(&scope) {
                    rest
                } else {
                    clean.as_str()
                }
            });
        self.http
            .get_decoded(
                &format!("/api/search/tag/{v1}/values"),
                &[],
                decode_tempo_tags,
            )
            .await
    }

    async fn search_once(
        &self,
        syntax: SearchSyntax,
        text: &str,
        selection: &TraceSelection,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<TraceSummary>, SourceError> {
        let start = range.start.as_secs().max(0);
        let end = (range.end.0.saturating_add(999_999_999) / 1_000_000_000).max(start);
        let mut query = vec![
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("limit", limit.max(1).to_string()),
        ];
        match syntax {
            SearchSyntax::TraceQl => query.push(("q", text.to_owned())),
            SearchSyntax::Tags => {
                if !text.is_empty() {
                    query.push(("tags", text.to_owned()));
                }
                if let Some(min) = selection.min_duration {
                    query.push(("minDuration", format!("{}ms", min.as_millis())));
                }
            }
        }
        self.http
            .get_decoded("/api/search", &query, decode_search)
            .await
    }

    /// Searches `range` in windows of `tempo_search_window`, newest window first, until
    /// `limit` traces (0: `max_traces`) are found; traces are de-duplicated by id.
    ///
    /// # Errors
    /// The first failing search (a TraceQL rejection in Auto mode switches to tag search).
    pub async fn search(
        &self,
        selection: &TraceSelection,
        range: TimeRange,
    ) -> Result<(Vec<TraceSummary>, SearchSyntax), SourceError> {
        let limit = if selection.limit == 0 {
            self.limits.max_traces
        } else {
            selection.limit.min(self.limits.max_traces)
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut windows = super::query::chunks(range, self.limits.tempo_search_window);
        windows.reverse();
        let mut syntax = SearchSyntax::TraceQl;
        for window in windows {
            if out.len() >= limit {
                break;
            }
            let per_window = self.limits.tempo_search_limit.min(limit - out.len());
            let found = if self.tags_only.load(Ordering::Relaxed) {
                syntax = SearchSyntax::Tags;
                self.tag_search(selection, window, per_window).await?
            } else {
                let q = traceql(&self.labels, selection);
                match self
                    .search_once(SearchSyntax::TraceQl, &q, selection, window, per_window)
                    .await
                {
                    Ok(found) => found,
                    Err(SourceError::Status {
                        status: 400 | 404,
                        ref body,
                        ..
                    }) if self.mode == TempoSearch::Auto
                        && !body.contains("exceeds")
                        && !body.contains("start") =>
                    {
                        tracing::info!("Tempo rejected TraceQL ({body}); using tag search");
                        self.tags_only.store(true, Ordering::Relaxed);
                        syntax = SearchSyntax::Tags;
                        self.tag_search(selection, window, per_window).await?
                    }
                    Err(error) => return Err(error),
                }
            };
            for trace in found {
                if out.len() < limit && seen.insert(trace.trace_id) {
                    out.push(trace);
                }
            }
        }
        Ok((out, syntax))
    }

    async fn tag_search(
        &self,
        selection: &TraceSelection,
        window: TimeRange,
        limit: usize,
    ) -> Result<Vec<TraceSummary>, SourceError> {
        let mut out = Vec::new();
        for tags in tag_searches(selection) {
            out.extend(
                self.search_once(SearchSyntax::Tags, &tags, selection, window, limit)
                    .await?,
            );
        }
        Ok(out)
    }

    /// One trace by id (`/api/traces/<hex>`); `None` when Tempo does not have it.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn trace(&self, id: TraceId) -> Result<Option<Vec<Span>>, SourceError> {
        let spans = self
            .http
            .get_optional(&format!("/api/traces/{}", id.to_hex()), &[], decode_traces)
            .await?;
        Ok(spans.filter(|s| !s.is_empty()))
    }

    /// Fetches traces with at most `trace_fetch_concurrency` requests in flight; missing traces
    /// are skipped. Order follows `ids`.
    ///
    /// # Errors
    /// The first failing fetch.
    pub async fn traces(&self, ids: &[TraceId]) -> Result<Vec<Vec<Span>>, SourceError> {
        let concurrency = self.limits.trace_fetch_concurrency.max(1);
        let results: Vec<Result<Option<Vec<Span>>, SourceError>> =
            futures_util::stream::iter(ids.iter().copied().map(|id| self.trace(id)))
                .buffered(concurrency)
                .collect()
                .await;
        let mut out = Vec::new();
        for result in results {
            if let Some(spans) = result? {
                out.push(spans);
            }
        }
        Ok(out)
    }
}
