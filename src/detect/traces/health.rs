//! The MAIA health score of a service over a set of its requests: start at 1.0, subtract a
//! penalty for each rule that fires, clamp to `[0, 1]`.
//!
//! Rules (thresholds and penalties in [`HealthConfig`]): mean request duration above 1 s; 2xx
//! share below 70 %; p99 above 200 ms; any 5xx (or no response, code 0); deployed less than
//! 60 minutes before the evaluation time (TTL). When a span carries no HTTP status the span
//! status stands in (error → 5xx, otherwise 2xx) and the result says so.
//!
//! Invariant: pure; "now" and deploy times are arguments, never the clock.

use crate::model::{Span, StatusCode, Timestamp};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Thresholds and penalties of the health score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// Mean duration above which the duration penalty applies (default 1 s).
    pub max_mean_duration: Duration,
    /// 2xx share below which the success penalty applies (default 0.70).
    pub min_success_ratio: f64,
    /// p99 above which the tail-latency penalty applies (default 200 ms).
    pub max_p99: Duration,
    /// Time after a deploy during which the TTL penalty applies (default 60 min).
    pub deploy_ttl: Duration,
    /// Penalty for slow mean duration (default 0.2).
    pub duration_penalty: f64,
    /// Penalty for a low 2xx share (default 0.2).
    pub success_penalty: f64,
    /// Penalty for a slow p99 (default 0.2).
    pub p99_penalty: f64,
    /// Penalty for any 5xx (default 0.2).
    pub server_error_penalty: f64,
    /// Penalty for a recent deploy (default 0.2).
    pub deploy_penalty: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            max_mean_duration: Duration::from_secs(1),
            min_success_ratio: 0.70,
            max_p99: Duration::from_millis(200),
            deploy_ttl: Duration::from_secs(3600),
            duration_penalty: 0.2,
            success_penalty: 0.2,
            p99_penalty: 0.2,
            server_error_penalty: 0.2,
            deploy_penalty: 0.2,
        }
    }
}

/// A health score with the rules that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthScore {
    /// Score in `[0, 1]`, 1 healthy.
    pub score: f64,
    /// Same score without the deploy-TTL penalty (what anomaly detection compares).
    pub score_without_ttl: f64,
    /// Names of the rules that fired: `mean_duration`, `success_ratio`, `p99`, `server_errors`,
    /// `recent_deploy`.
    pub penalties: Vec<String>,
    /// Requests scored.
    pub requests: usize,
    /// True when some span had no HTTP status and its span status was used instead.
    pub status_fallback: bool,
}

/// Nearest-rank p99 of durations (empty → zero).
fn p99(durations: &mut [Duration]) -> Duration {
    if durations.is_empty() {
        return Duration::ZERO;
    }
    durations.sort();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((0.99 * durations.len() as f64).ceil() as usize).clamp(1, durations.len());
    durations[rank - 1]
}

/// Scores `requests` (the service's server spans, plus calls to it that never reached it) at
/// time `now`, given its latest deploy time, if any. `None` when there is no request.
#[must_use]
pub fn health_score(
    requests: &[&Span],
    last_deploy: Option<Timestamp>,
    now: Timestamp,
    config: &HealthConfig,
) -> Option<HealthScore> {
    if requests.is_empty() {
        return None;
    }
    let mut status_fallback = false;
    let mut successes = 0_usize;
    let mut server_errors = 0_usize;
    let mut durations: Vec<Duration> = Vec::with_capacity(requests.len());
    for span in requests {
        durations.push(span.duration());
        match span.http_status() {
            Some(code) => {
                successes += usize::from((200..300).contains(&code));
                server_errors += usize::from(code >= 500 || code == 0);
            }
            None => {
                status_fallback = true;
                let failed = span.status.code == StatusCode::Error;
                successes += usize::from(!failed);
                server_errors += usize::from(failed);
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let n = requests.len() as f64;
    let mean = durations.iter().sum::<Duration>().as_secs_f64() / n;
    #[allow(clippy::cast_precision_loss)]
    let success_ratio = successes as f64 / n;
    let rules = [
        (
            mean > config.max_mean_duration.as_secs_f64(),
            "mean_duration",
            config.duration_penalty,
        ),
        (
            success_ratio < config.min_success_ratio,
            "success_ratio",
            config.success_penalty,
        ),
        (
            p99(&mut durations) > config.max_p99,
            "p99",
            config.p99_penalty,
        ),
        (
            server_errors > 0,
            "server_errors",
            config.server_error_penalty,
        ),
    ];
    let recent = last_deploy.is_some_and(|at| at <= now && now.since(at) < config.deploy_ttl);
    let mut penalties: Vec<String> = Vec::new();
    let mut total = 0.0;
    for (fired, name, penalty) in rules {
        if fired {
            penalties.push(name.to_owned());
            total += penalty;
        }
    }
    let without_ttl = (1.0 - total).clamp(0.0, 1.0);
    if recent {
        penalties.push("recent_deploy".to_owned());
        total += config.deploy_penalty;
    }
    Some(HealthScore {
        score: (1.0 - total).clamp(0.0, 1.0),
        score_without_ttl: without_ttl,
        penalties,
        requests: requests.len(),
        status_fallback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttributeValue, SpanId, SpanKind, SpanStatus, TraceId};

    fn span(ms: i64, status: Option<u16>, error: bool) -> Span {
        Span {
            trace_id: TraceId::default(),
            span_id: SpanId::default(),
            parent_span_id: None,
            name: "GET /carts".into(),
            kind: SpanKind::Server,
            service: "carts".into(),
            start: Timestamp::from_millis(0),
            end: Timestamp::from_millis(ms),
            attributes: status
                .map(|code| vec![("http.status_code".into(), AttributeValue::Int(code.into()))])
                .unwrap_or_default(),
            resource: vec![],
            status: SpanStatus {
                code: if error {
                    StatusCode::Error
                } else {
                    StatusCode::Unset
                },
                message: String::new(),
            },
        }
    }

    #[test]
    fn hand_computed_health_of_a_small_set() {
        // 10 requests: 6 × 200 (50 ms), 3 × 503 (30 ms), 1 × 200 (2500 ms).
        // mean = (300 + 90 + 2500) / 10 = 289 ms → no duration penalty;
        // 2xx = 7/10 = 0.70 → not below 0.70, no penalty; p99 (nearest rank 10) = 2500 ms →
        // penalty; 5xx present → penalty; deployed 30 min ago → penalty. 1 − 0.6 = 0.4.
        let mut spans: Vec<Span> = (0..6).map(|_| span(50, Some(200), false)).collect();
        spans.extend((0..3).map(|_| span(30, Some(503), true)));
        spans.push(span(2500, Some(200), false));
        let refs: Vec<&Span> = spans.iter().collect();
        let now = Timestamp::from_secs(3600);
        let deployed = Some(Timestamp::from_secs(1800));
        let health = health_score(&refs, deployed, now, &HealthConfig::default()).expect("some");
        assert!((health.score - 0.4).abs() < 1e-12, "{health:?}");
        assert!((health.score_without_ttl - 0.6).abs() < 1e-12);
        assert_eq!(
            health.penalties,
            vec!["p99", "server_errors", "recent_deploy"]
        );
        assert!(!health.status_fallback);
        // Deployed 2 h ago: no TTL penalty.
        let old = health_score(
            &refs,
            Some(Timestamp::from_secs(0)),
            now.plus(Duration::from_secs(3600)),
            &HealthConfig::default(),
        )
        .expect("some");
        assert!((old.score - 0.6).abs() < 1e-12);
        assert!(health_score(&[], None, now, &HealthConfig::default()).is_none());
    }

    #[test]
    fn everything_wrong_clamps_at_zero_and_span_status_stands_in() {
        let spans: Vec<Span> = (0..4).map(|_| span(3000, None, true)).collect();
        let refs: Vec<&Span> = spans.iter().collect();
        let now = Timestamp::from_secs(100);
        let config = HealthConfig {
            deploy_penalty: 0.5,
            ..HealthConfig::default()
        };
        let health =
            health_score(&refs, Some(Timestamp::from_secs(50)), now, &config).expect("some");
        assert_eq!(health.score, 0.0);
        assert!((health.score_without_ttl - 0.2).abs() < 1e-12);
        assert!(health.status_fallback);
        assert_eq!(health.penalties.len(), 5);
    }
}
