//! Kiali client: the workload graph of a namespace (`/api/namespaces/graph`), with the
//! bearer/basic auth of the `header` strategy or anonymous access.

use super::SourceError;
use super::http::HttpClient;
use crate::model::{ServiceGraph, Timestamp};
use crate::wire::kiali::decode_graph;
use std::time::Duration;

/// A Kiali API client (the base URL includes the web root, usually `/kiali`).
#[derive(Debug, Clone)]
pub struct KialiClient {
    http: HttpClient,
}

impl KialiClient {
    /// A client over `http`.
    #[must_use]
    pub fn new(http: HttpClient) -> Self {
        Self { http }
    }

    /// The HTTP endpoint.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The workload graph of `namespace` over `duration` ending at `at`.
    ///
    /// # Errors
    /// [`SourceError`].
    pub async fn graph(
        &self,
        namespace: &str,
        duration: Duration,
        at: Timestamp,
    ) -> Result<ServiceGraph, SourceError> {
        let query = [
            ("namespaces", namespace.to_owned()),
            ("graphType", "workload".to_owned()),
            ("duration", format!("{}s", duration.as_secs().max(60))),
            ("queryTime", at.as_secs().to_string()),
            ("rateTcp", "sent".to_owned()),
            ("responseTime", "99".to_owned()),
        ];
        self.http
            .get_decoded("/api/namespaces/graph", &query, decode_graph)
            .await
    }
}
