//! The errors of live sources, classed as transient (worth retrying, the source may come back)
//! or permanent (fix the configuration or the query). Every message names the source and its
//! URL (without the query string) and tells the user what to check.

use crate::config::SourceKind;
use crate::wire::WireError;
use std::time::Duration;
use thiserror::Error;

/// Why a source could not answer.
#[derive(Debug, Clone, Error)]
pub enum SourceError {
    /// The source is not in the configuration.
    #[error(
        "{kind} is not configured; set `url` in the [{key}] table of the config file, {env} or --{key}",
        key = kind.key(),
        env = env_var(*kind)
    )]
    NotConfigured {
        /// Which source.
        kind: SourceKind,
    },
    /// The connection could not be made or broke.
    #[error(
        "{kind} at {url}: cannot connect ({detail}); check the URL and that {kind} is running and reachable from here (port-forward, VPN, proxy)"
    )]
    Unreachable {
        /// Which source.
        kind: SourceKind,
        /// The URL without its query.
        url: String,
        /// What the HTTP stack said.
        detail: String,
    },
    /// No complete answer in time.
    #[error(
        "{kind} at {url}: no answer within {secs:.1} s; the server is slow or overloaded: narrow the time range, or raise `timeout` in [{key}]",
        secs = after.as_secs_f64(),
        key = kind.key()
    )]
    Timeout {
        /// Which source.
        kind: SourceKind,
        /// The URL without its query.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server answered with an HTTP error.
    #[error("{kind} at {url}: HTTP {status}: {body}; {hint}", hint = status_hint(*kind, *status))]
    Status {
        /// Which source.
        kind: SourceKind,
        /// The URL without its query.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body, sanitized (Loki/Tempo put their message there).
        body: String,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The body is over the configured cap.
    #[error(
        "{kind} at {url}: the response is larger than {limit} bytes; narrow the time range or the query, or raise limits.max_response_bytes"
    )]
    TooLarge {
        /// Which source.
        kind: SourceKind,
        /// The URL without its query.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The body does not decode.
    #[error(
        "{kind} at {url}: {source}; check that the URL points at the {kind} API (a proxy or login page answers HTML)"
    )]
    Decode {
        /// Which source.
        kind: SourceKind,
        /// The URL without its query.
        url: String,
        /// The decoder's error.
        source: WireError,
    },
    /// The client could not be set up (CA file, TLS).
    #[error("{kind}: {message}")]
    Setup {
        /// Which source.
        kind: SourceKind,
        /// What went wrong.
        message: String,
    },
    /// This source cannot answer this kind of question.
    #[error("{0}")]
    Unsupported(String),
}

fn env_var(kind: SourceKind) -> String {
    format!("BAYNET_{}_URL", kind.key().to_ascii_uppercase())
}

fn status_hint(kind: SourceKind, status: u16) -> String {
    let key = kind.key();
    match status {
        400 => "the server rejected the query (see its message); check the label names in [labels]".to_owned(),
        401 => format!(
            "authentication was refused: check [{key}.auth] (expired token?); Loki, Tempo and Mimir also answer 401 `no org id` when `tenant` is missing"
        ),
        403 => format!("access denied: the credentials of [{key}.auth] lack permission for this data"),
        404 => "not found: check the URL's path prefix (Grafana proxy /api/datasources/proxy/uid/<uid>, Kiali web root /kiali, Mimir /prometheus)".to_owned(),
        413 | 422 => "the query asks for too much: narrow the time range".to_owned(),
        429 => "rate limited: retried with backoff; try again later or narrow the range".to_owned(),
        502..=504 => "the server or a proxy in front of it is unavailable; retried with backoff".to_owned(),
        500..=599 => format!("a server-side error in {kind}; check its logs"),
        _ => "unexpected status".to_owned(),
    }
}

impl SourceError {
    /// Whether retrying may help: connection errors, timeouts, 429, 502, 503 and 504.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The HTTP status, when the server answered with an error.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A short verdict word for reports: `unreachable`, `timeout`, `auth refused`, …
    #[must_use]
    pub fn verdict(&self) -> &'static str {
        match self {
            Self::NotConfigured { .. } => "not configured",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Status { status: 401, .. } => "auth refused",
            Self::Status { status: 403, .. } => "forbidden",
            Self::Status { status: 404, .. } => "not found",
            Self::Status { status: 429, .. } => "rate limited",
            Self::Status { .. } => "http error",
            Self::TooLarge { .. } => "response too large",
            Self::Decode { .. } => "bad response",
            Self::Setup { .. } => "setup failed",
            Self::Unsupported(_) => "unsupported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_messages() {
        let status = |status| SourceError::Status {
            kind: SourceKind::Loki,
            url: "http://l/loki/api/v1/query_range".into(),
            status,
            body: "no org id".into(),
            retry_after: None,
        };
        for transient in [429, 502, 503, 504] {
            assert!(status(transient).is_transient(), "{transient}");
        }
        for permanent in [400, 401, 403, 404, 500, 422] {
            assert!(!status(permanent).is_transient(), "{permanent}");
        }
        let text = status(401).to_string();
        assert!(text.contains("HTTP 401: no org id"), "{text}");
        assert!(
            text.contains("[loki.auth]") && text.contains("tenant"),
            "{text}"
        );
        assert_eq!(status(401).verdict(), "auth refused");
        let not_configured = SourceError::NotConfigured {
            kind: SourceKind::Prometheus,
        }
        .to_string();
        assert!(
            not_configured.contains("BAYNET_PROMETHEUS_URL")
                && not_configured.contains("--prometheus")
        );
        let timeout = SourceError::Timeout {
            kind: SourceKind::Tempo,
            url: "u".into(),
            after: Duration::from_millis(1500),
        };
        assert!(timeout.is_transient());
        assert!(timeout.to_string().contains("1.5 s"));
        assert!(
            !SourceError::TooLarge {
                kind: SourceKind::Tempo,
                url: "u".into(),
                limit: 10
            }
            .is_transient()
        );
    }
}
