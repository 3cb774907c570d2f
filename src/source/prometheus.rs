//! Prometheus HTTP API client (also Mimir/Thanos and Grafana's datasource proxy): instant and
//! range queries with a step that keeps every series under the point limit, series and label
//! discovery, build info.

use super::SourceError;
use super::http::HttpClient;
use super::query::{choose_step, points};
use crate::config::Limits;
use crate::model::{Labels, Sample, Series, TimeRange, Timestamp};
use crate::wire::loki::decode_labels;
use crate::wire::meta::{BuildInfo, decode_buildinfo, decode_label_sets};
use crate::wire::prometheus::{PromData, decode_query};
use std::time::Duration;

/// A Prometheus API client.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    http: HttpClient,
    limits: Limits,
}

fn secs(t: Timestamp) -> String {
    let s = t.as_secs_f64();
    if t.0 % 1_000_000_000 == 0 {
        format!("{}", t.as_secs())
    } else {
        format!("{s:.3}")
    }
}

fn to_series(data: PromData, at: Timestamp) -> Vec<Series> {
    match data {
        PromData::Matrix(series) | PromData::Vector(series) => series,
        PromData::Scalar(sample) => vec![Series {
            labels: Labels::new(),
            samples: vec![sample],
        }],
        PromData::String(_) => vec![Series {
            labels: Labels::new(),
            samples: vec![Sample {
                timestamp: at,
                value: f64::NAN,
            }],
        }],
    }
}

impl PrometheusClient {
    /// A client over `http`.
    #[must_use]
    pub fn new(http: HttpClient, limits: Limits) -> Self {
        Self { http, limits }
    }

    /// The HTTP endpoint.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `/api/v1/status/buildinfo`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn buildinfo(&self) -> Result<BuildInfo, SourceError> {
        self.http
            .get_decoded("/api/v1/status/buildinfo", &[], decode_buildinfo)
            .await
    }

    /// An instant query at `at`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn query(&self, promql: &str, at: Timestamp) -> Result<Vec<Series>, SourceError> {
        let query = [("query", promql.to_owned()), ("time", secs(at))];
        let data = self
            .http
            .get_decoded("/api/v1/query", &query, decode_query)
            .await?;
        Ok(to_series(data, at))
    }

    /// A range query; `step` is raised when needed so no series exceeds `max_points`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn query_range(
        &self,
        promql: &str,
        range: TimeRange,
        step: Duration,
    ) -> Result<Vec<Series>, SourceError> {
        let step = choose_step(range.duration(), step, self.limits.max_points);
        debug_assert!(points(range.duration(), step) <= self.limits.max_points.max(2) as u64);
        let query = [
            ("query", promql.to_owned()),
            ("start", secs(range.start)),
            ("end", secs(range.end)),
            ("step", format!("{}s", step.as_secs().max(1))),
        ];
        let data = self
            .http
            .get_decoded("/api/v1/query_range", &query, decode_query)
            .await?;
        Ok(to_series(data, range.end))
    }

    /// Label sets of the series matching `selector` in `range`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn series(
        &self,
        selector: &str,
        range: TimeRange,
    ) -> Result<Vec<Labels>, SourceError> {
        let query = [
            ("match[]", selector.to_owned()),
            ("start", secs(range.start)),
            ("end", secs(range.end)),
        ];
        self.http
            .get_decoded("/api/v1/series", &query, decode_label_sets)
            .await
    }

    /// Values of label `name` (optionally among series matching `selector`).
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn label_values(
        &self,
        name: &str,
        selector: Option<&str>,
        range: TimeRange,
    ) -> Result<Vec<String>, SourceError> {
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let mut query = vec![("start", secs(range.start)), ("end", secs(range.end))];
        if let Some(selector) = selector {
            query.push(("match[]", selector.to_owned()));
        }
        self.http
            .get_decoded(
                &format!("/api/v1/label/{clean}/values"),
                &query,
                decode_labels,
            )
            .await
    }
}
