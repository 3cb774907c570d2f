//! Loki client: label discovery, one `query_range` page, and long ranges read in time chunks,
//! each paged forward by time with de-duplication at the page boundary (Loki has no cursor;
//! many lines can share one nanosecond).

use super::SourceError;
use super::http::HttpClient;
use crate::config::Limits;
use crate::model::{LogRecord, TimeRange, Timestamp};
use crate::wire::loki::{Direction, LokiData, decode_labels, decode_query_range};
use crate::wire::meta::{BuildInfo, decode_buildinfo};
use std::collections::HashSet;

/// A Loki API client.
#[derive(Debug, Clone)]
pub struct LokiClient {
    http: HttpClient,
    limits: Limits,
}

fn ns(t: Timestamp) -> String {
    t.0.to_string()
}

type Key = (i64, String, Vec<(String, String)>);

fn key(record: &LogRecord) -> Key {
    (
        record.timestamp.0,
        record.line.clone(),
        record
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

impl LokiClient {
    /// A client over `http` with `limits`.
    #[must_use]
    pub fn new(http: HttpClient, limits: Limits) -> Self {
        Self { http, limits }
    }

    /// The HTTP endpoint.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `/loki/api/v1/status/buildinfo`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn buildinfo(&self) -> Result<BuildInfo, SourceError> {
        self.http
            .get_decoded("/loki/api/v1/status/buildinfo", &[], decode_buildinfo)
            .await
    }

    /// Label names seen in `range`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn labels(&self, range: TimeRange) -> Result<Vec<String>, SourceError> {
        let query = [("start", ns(range.start)), ("end", ns(range.end))];
        self.http
            .get_decoded("/loki/api/v1/labels", &query, decode_labels)
            .await
    }

    /// Values of label `name` seen in `range`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn label_values(
        &self,
        name: &str,
        range: TimeRange,
    ) -> Result<Vec<String>, SourceError> {
        let query = [("start", ns(range.start)), ("end", ns(range.end))];
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        self.http
            .get_decoded(
                &format!("/loki/api/v1/label/{clean}/values"),
                &query,
                decode_labels,
            )
            .await
    }

    /// One `query_range` request for log lines; records oldest first.
    ///
    /// # Errors
    /// [`SourceError`]; a metric query answer is [`SourceError::Unsupported`].
    pub async fn query_page(
        &self,
        logql: &str,
        range: TimeRange,
        limit: usize,
        direction: Direction,
    ) -> Result<Vec<LogRecord>, SourceError> {
        let query = [
            ("query", logql.to_owned()),
            ("start", ns(range.start)),
            ("end", ns(range.end)),
            ("limit", limit.max(1).to_string()),
            ("direction", direction.as_str().to_owned()),
        ];
        let data = self
            .http
            .get_decoded("/loki/api/v1/query_range", &query, decode_query_range)
            .await?;
        match data {
            LokiData::Streams(mut records) => {
                records.sort_by_key(|r| r.timestamp);
                Ok(records)
            }
            _ => Err(SourceError::Unsupported(format!(
                "Loki answered `{logql}` with metric samples, not log lines; give a log query"
            ))),
        }
    }

    /// All lines of `logql` in `range`, oldest first, at most `max_lines` (0: the configured
    /// limit): the range is split into `loki_chunk` chunks, each paged forward.
    ///
    /// # Errors
    /// The first failing request.
    pub async fn query_range(
        &self,
        logql: &str,
        range: TimeRange,
        max_lines: usize,
    ) -> Result<Vec<LogRecord>, SourceError> {
        let max_lines = if max_lines == 0 {
            self.limits.max_log_lines
        } else {
            max_lines.min(self.limits.max_log_lines)
        };
        let page = self.limits.loki_page_lines.max(1);
        let mut out: Vec<LogRecord> = Vec::new();
        for chunk in super::query::chunks(range, self.limits.loki_chunk) {
            let mut start = chunk.start;
            let mut boundary: HashSet<Key> = HashSet::new();
            // Bounded: each page advances `start` or ends the chunk.
            for _ in 0..100_000 {
                if out.len() >= max_lines || start >= chunk.end {
                    break;
                }
                let want = page;
                let span = TimeRange {
                    start,
                    end: chunk.end,
                };
                let records = self
                    .query_page(logql, span, want, Direction::Forward)
                    .await?;
                let full = records.len() >= want;
                let Some(newest) = records.last().map(|r| r.timestamp) else {
                    break;
                };
                let mut next_boundary = HashSet::new();
                let mut fresh = 0;
                for record in records {
                    let k = key(&record);
                    if record.timestamp == start && boundary.contains(&k) {
                        continue;
                    }
                    if record.timestamp == newest {
                        next_boundary.insert(k);
                    }
                    fresh += 1;
                    if out.len() < max_lines {
                        out.push(record);
                    }
                }
                if !full {
                    break;
                }
                if fresh == 0 {
                    // A whole page at one timestamp: skip past it rather than loop.
                    tracing::warn!(
                        "more than {want} Loki lines share one timestamp; some may be missing"
                    );
                    start = Timestamp(newest.0.saturating_add(1));
                    boundary.clear();
                    continue;
                }
                if newest == start {
                    boundary.extend(next_boundary);
                } else {
                    boundary = next_boundary;
                }
                start = newest;
            }
            if out.len() >= max_lines {
                break;
            }
        }
        out.sort_by_key(|r| r.timestamp);
        Ok(out)
    }
}
