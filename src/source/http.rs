//! One HTTP endpoint of a live source: base URL (with any path prefix, such as a Grafana
//! datasource proxy), auth header, `X-Scope-OrgID`, custom CA, timeouts, retries with
//! exponential backoff and jitter honouring `Retry-After`, and a cap on the body size.
//!
//! Invariant: a body is never held beyond `max_bytes` (checked against `Content-Length` first,
//! then while streaming the decompressed body); secrets go only into request headers, and error
//! messages carry the URL without its query string.

use super::SourceError;
use crate::config::{Auth, Endpoint, RetryPolicy, SourceKind};
use crate::wire::WireError;
use crate::wire::json::summarize_body;
use base64::Engine;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A response body that arrived whole, with its status.
#[derive(Debug, Clone)]
pub struct Body {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, lower-cased (empty when absent).
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A client for one endpoint.
#[derive(Debug, Clone)]
pub struct HttpClient {
    kind: SourceKind,
    base: String,
    http: reqwest::Client,
    auth: Auth,
    tenant: Option<String>,
    retry: RetryPolicy,
    max_bytes: u64,
    timeout: Duration,
}

/// Installs rustls' ring provider once (reqwest is built without a default provider).
fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A random number in `[0, 1)` without a dependency on an RNG (std's per-process random keys).
fn jitter_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x9e37_79b9_7f4a_7c15);
    #[allow(clippy::cast_precision_loss)]
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    unit
}

/// The wait before retry number `attempt` (0-based): `base · 2^attempt`, capped at `max`, with
/// "equal jitter" (half fixed, half random) so that clients do not retry in lockstep.
#[must_use]
pub fn backoff(policy: &RetryPolicy, attempt: u32, unit: f64) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_delay);
    exp.div_f64(2.0) + exp.div_f64(2.0).mul_f64(unit.clamp(0.0, 1.0))
}

/// `Retry-After` as seconds or an HTTP date (relative to `now`).
#[must_use]
pub fn parse_retry_after(text: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(1e6)));
    }
    let date = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

impl HttpClient {
    /// A client for `endpoint`.
    ///
    /// # Errors
    /// [`SourceError::Setup`] when the CA file cannot be read or TLS cannot be set up.
    pub fn new(
        endpoint: &Endpoint,
        retry: RetryPolicy,
        max_bytes: u64,
    ) -> Result<Self, SourceError> {
        ensure_crypto_provider();
        let kind = endpoint.kind;
        let mut builder = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.connect_timeout)
            .user_agent(concat!("baynet/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &endpoint.ca_file {
            let pem = std::fs::read(ca).map_err(|e| SourceError::Setup {
                kind,
                message: format!("cannot read ca_file {}: {e}", ca.display()),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SourceError::Setup {
                    kind,
                    message: format!("ca_file {} is not a PEM certificate: {e}", ca.display()),
                })?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| SourceError::Setup {
            kind,
            message: format!("cannot set up the HTTP client: {e}"),
        })?;
        Ok(Self {
            kind,
            base: endpoint.url.trim_end_matches('/').to_owned(),
            http,
            auth: endpoint.auth.clone(),
            tenant: endpoint.tenant.clone(),
            retry,
            max_bytes,
            timeout: endpoint.timeout,
        })
    }

    /// Which source this is.
    #[must_use]
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base + path` (the path starts with `/`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, path: &str, query: &[(&str, String)]) -> reqwest::RequestBuilder {
        let mut request = self.http.get(self.url(path)).query(query);
        if let Some(tenant) = &self.tenant {
            request = request.header("X-Scope-OrgID", tenant);
        }
        match &self.auth {
            Auth::None => {}
            Auth::Bearer { token, .. } => {
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", token.expose()),
                );
            }
            Auth::Basic {
                username, password, ..
            } => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                request =
                    request.header(reqwest::header::AUTHORIZATION, format!("Basic {encoded}"));
            }
        }
        request
    }

    fn classify(&self, url: &str, error: &reqwest::Error) -> SourceError {
        if error.is_timeout() {
            return SourceError::Timeout {
                kind: self.kind,
                url: url.to_owned(),
                after: self.timeout,
            };
        }
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        let mut depth = 0;
        while let Some(inner) = source {
            if depth > 4 {
                break;
            }
            detail = format!("{detail}: {inner}");
            source = inner.source();
            depth += 1;
        }
        if error.is_body() || error.is_decode() {
            detail = format!("the connection broke while reading the answer: {detail}");
        }
        SourceError::Unreachable {
            kind: self.kind,
            url: url.to_owned(),
            detail: crate::wire::json::collapse(&detail, 300),
        }
    }

    async fn once(&self, path: &str, query: &[(&str, String)]) -> Result<Body, SourceError> {
        let url = self.url(path);
        let mut response = self
            .request(path, query)
            .send()
            .await
            .map_err(|e| self.classify(&url, &e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes)
        {
            return Err(SourceError::TooLarge {
                kind: self.kind,
                url,
                limit: self.max_bytes,
            });
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                        return Err(SourceError::TooLarge {
                            kind: self.kind,
                            url,
                            limit: self.max_bytes,
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return Err(self.classify(&url, &error)),
            }
        }
        if !(200..300).contains(&status) {
            return Err(SourceError::Status {
                kind: self.kind,
                url,
                status,
                body: summarize_body(&bytes),
                retry_after,
            });
        }
        Ok(Body {
            status,
            content_type,
            bytes,
        })
    }

    /// GET `path` with `query`, retrying transient failures. A non-2xx answer is an error.
    ///
    /// # Errors
    /// The last error once retries are spent, or the first permanent one; a `Retry-After` longer
    /// than the policy's `max_delay` ends the retries.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Body, SourceError> {
        let mut attempt = 0;
        loop {
            match self.once(path, query).await {
                Ok(body) => return Ok(body),
                Err(error) if error.is_transient() && attempt < self.retry.max_retries => {
                    let wait = match &error {
                        SourceError::Status {
                            retry_after: Some(after),
                            ..
                        } => {
                            if *after > self.retry.max_delay {
                                return Err(error);
                            }
                            *after
                        }
                        _ => backoff(&self.retry, attempt, jitter_unit()),
                    };
                    tracing::debug!(source = %self.kind, path, attempt, ?wait, "retrying: {error}");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// GET and decode; a 404 is `Ok(None)`.
    ///
    /// # Errors
    /// As [`HttpClient::get`], and [`SourceError::Decode`] when the body does not decode.
    pub async fn get_optional<T>(
        &self,
        path: &str,
        query: &[(&str, String)],
        decode: impl FnOnce(&[u8]) -> Result<T, WireError>,
    ) -> Result<Option<T>, SourceError> {
        match self.get(path, query).await {
            Ok(body) => self.decode(path, &body, decode).map(Some),
            Err(SourceError::Status { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// GET and decode.
    ///
    /// # Errors
    /// As [`HttpClient::get_optional`]; a 404 is an error.
    pub async fn get_decoded<T>(
        &self,
        path: &str,
        query: &[(&str, String)],
        decode: impl FnOnce(&[u8]) -> Result<T, WireError>,
    ) -> Result<T, SourceError> {
        let body = self.get(path, query).await?;
        self.decode(path, &body, decode)
    }

    fn decode<T>(
        &self,
        path: &str,
        body: &Body,
        decode: impl FnOnce(&[u8]) -> Result<T, WireError>,
    ) -> Result<T, SourceError> {
        decode(&body.bytes).map_err(|source| SourceError::Decode {
            kind: self.kind,
            url: self.url(path),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(backoff(&policy, 0, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(&policy, 0, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&policy, 2, 0.0), Duration::from_millis(200));
        assert_eq!(backoff(&policy, 10, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&policy, 40, 0.5), Duration::from_millis(750));
        let u = jitter_unit();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
