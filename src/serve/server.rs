//! The HTTP server of `baynet serve`: Node Graph API, `/metrics`, `POST /api/v1/events`,
//! optional bearer-token authentication on every endpoint, request size limits, 127.0.0.1 by
//! default, graceful shutdown. An updater task refreshes the snapshot from an [`AnalysisFeed`]
//! and an optional SQS consumer feeds external events.

use super::events::{EventStore, MAX_EVENT_BYTES, parse_event};
use super::exposition::{IntakeCounters, render};
use super::nodegraph;
use super::snapshot::Snapshot;
use super::sqs::{Outcome, SqsClient, poll_once};
use crate::model::Timestamp;
use crate::rca::EvidenceItem;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Produces a fresh analysis; external event evidence is passed in to be merged with the
/// built-in detectors' evidence before ranking.
pub trait AnalysisFeed: Send + 'static {
    /// Analyses the system at `now`.
    ///
    /// # Errors
    /// A message for the logs and the `baynet_source_errors_total` metric.
    fn analyze(
        &mut self,
        now: Timestamp,
        external: &BTreeMap<String, (f64, Vec<EvidenceItem>)>,
    ) -> Result<Snapshot, String>;
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Bearer token required on every endpoint, if set.
    pub token: Option<String>,
    /// How often the analysis is refreshed.
    pub update_every: Duration,
    /// How long an external event counts as evidence.
    pub event_ttl: Duration,
}

/// State shared by the handlers, the updater and the consumer.
pub struct Shared {
    snapshot: RwLock<Arc<Snapshot>>,
    events: Mutex<EventStore>,
    counters: Mutex<IntakeCounters>,
    /// Failed updates per kind, carried into every published snapshot.
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    /// Starts with `snapshot`.
    #[must_use]
    pub fn new(snapshot: Snapshot, event_ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            snapshot: RwLock::new(Arc::new(snapshot)),
            events: Mutex::new(EventStore::new(event_ttl, 100_000)),
            counters: Mutex::new(IntakeCounters::default()),
            failures: Mutex::new(BTreeMap::new()),
        })
    }

    /// The current snapshot.
    #[must_use]
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().map_or_else(
            |poisoned| Arc::clone(&poisoned.into_inner()),
            |guard| Arc::clone(&guard),
        )
    }

    /// Replaces the snapshot.
    pub fn publish(&self, snapshot: Snapshot) {
        match self.snapshot.write() {
            Ok(mut guard) => *guard = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
    }

    /// Adds an external event; returns whether it was new.
    pub fn add_event(&self, event: super::events::AnomalyEvent, path: &str) -> bool {
        let added = self.events.lock().is_ok_and(|mut events| events.add(event));
        if let Ok(mut counters) = self.counters.lock() {
            if added {
                *counters.accepted.entry(path.to_owned()).or_default() += 1;
            } else {
                counters.duplicates += 1;
            }
        }
        added
    }

    fn reject(&self, path: &str) {
        if let Ok(mut counters) = self.counters.lock() {
            *counters.rejected.entry(path.to_owned()).or_default() += 1;
        }
    }

    /// Counts an error of `source` (`analysis`, `sqs`, …) in `baynet_source_errors_total`,
    /// now and in every later snapshot.
    pub fn count_error(&self, source: &str) {
        // The failures lock serialises this read-modify-write with `publish_update`.
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *failures.entry(source.to_owned()).or_default() += 1;
        let mut snapshot = (*self.snapshot()).clone();
        *snapshot.source_errors.entry(source.to_owned()).or_default() += 1;
        self.publish(snapshot);
    }

    /// Makes `source` appear in `baynet_source_errors_total` at 0 before its first error, so
    /// that `rate()` and `increase()` alerts work from the start.
    pub fn register_source(&self, source: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(source.to_owned())
            .or_insert(0);
    }

    /// Publishes a feed's snapshot with the errors counted here added to its own.
    pub fn publish_update(&self, mut snapshot: Snapshot) {
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (kind, count) in failures.iter() {
            *snapshot.source_errors.entry(kind.clone()).or_default() += count;
        }
        self.publish(snapshot);
    }

    /// External evidence at `now` (expired events dropped).
    #[must_use]
    pub fn external_evidence(&self, now: Timestamp) -> BTreeMap<String, (f64, Vec<EvidenceItem>)> {
        match self.events.lock() {
            Ok(mut events) => {
                events.expire(now);
                events.evidence(now)
            }
            Err(_) => BTreeMap::new(),
        }
    }
}

/// Wall-clock now (this is an adapter).
#[must_use]
pub fn now() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
}

async fn require_token(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), token.as_bytes()).into();
        if !matches {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "missing or wrong bearer token\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// The routes, for [`run`] and for tests.
pub fn router(shared: Arc<Shared>, token: Option<String>) -> Router {
    let token: Option<Arc<str>> = token.filter(|t| !t.is_empty()).map(Arc::from);
    Router::new()
        .route("/api/health", get(|| async { "ok" }))
        .route(
            "/api/graph/fields",
            get(|| async { axum::Json(nodegraph::fields()) }),
        )
        .route("/api/graph/data", get(graph_data))
        .route("/metrics", get(metrics))
        .route("/api/v1/events", post(events))
        .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
        .layer(middleware::from_fn_with_state(token, require_token))
        .with_state(shared)
}

async fn graph_data(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    axum::Json(nodegraph::data(&shared.snapshot(), &params)).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let counters = shared
        .counters
        .lock()
        .map(|c| c.clone())
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&shared.snapshot(), &counters, now()),
    )
        .into_response()
}

async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json"));
    if !json {
        shared.reject("http");
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the event as application/json\n",
        )
            .into_response();
    }
    match parse_event(&body) {
        Ok(event) => {
            let id = event.event_id.clone();
            let created = shared.add_event(event, "http");
            let status = if created {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            (
                status,
                axum::Json(serde_json::json!({"event_id": id, "duplicate": !created})),
            )
                .into_response()
        }
        Err(error) => {
            shared.reject("http");
            (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({"error": error.to_string()})),
            )
                .into_response()
        }
    }
}

/// Runs the updater loop: analyses every `every`, publishing snapshots; errors are counted.
pub async fn update_loop(shared: Arc<Shared>, feed: impl AnalysisFeed, every: Duration) {
    let feed = Arc::new(Mutex::new(feed));
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let at = now();
        let external = shared.external_evidence(at);
        let feed = Arc::clone(&feed);
        let result = tokio::task::spawn_blocking(move || {
            // A panic in an earlier analysis poisons the lock; the feed's state is still usable.
            feed.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .analyze(at, &external)
        })
        .await;
        match result {
            Ok(Ok(snapshot)) => shared.publish_update(snapshot),
            Ok(Err(message)) => record_failure(&shared, &message),
            Err(_) => record_failure(&shared, "the analysis task panicked"),
        }
    }
}

fn record_failure(shared: &Shared, message: &str) {
    tracing::warn!(%message, "analysis failed");
    shared.count_error("analysis");
}

/// Runs the SQS consumer until cancelled: long polls, hands events to the shared store, backs
/// off on transient errors (up to 30 s), stops on permanent ones.
///
/// # Errors
/// The permanent error that stopped it (missing queue, bad credentials).
pub async fn consume_sqs(
    shared: Arc<Shared>,
    client: SqsClient,
) -> Result<(), super::sqs::SqsError> {
    let mut backoff = Duration::from_millis(500);
    loop {
        match poll_once(&client, |event| {
            shared.add_event(event, "sqs");
        })
        .await
        {
            Ok(outcomes) => {
                backoff = Duration::from_millis(500);
                for outcome in outcomes {
                    if let Outcome::Rejected { message_id, error } = outcome {
                        tracing::warn!(%message_id, %error, "malformed SQS message left for retry or dead-letter");
                        shared.reject("sqs");
                    }
                }
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "SQS unavailable; retrying");
                shared.count_error("sqs");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(error) => {
                shared.count_error("sqs");
                return Err(error);
            }
        }
    }
}

/// Binds and serves until `shutdown` resolves, with the updater running.
///
/// # Errors
/// When the address cannot be bound or the server fails.
pub async fn run(
    config: ServerConfig,
    shared: Arc<Shared>,
    feed: impl AnalysisFeed,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let updater = tokio::spawn(update_loop(Arc::clone(&shared), feed, config.update_every));
    let result = axum::serve(listener, router(shared, config.token))
        .with_graceful_shutdown(shutdown)
        .await;
    updater.abort();
    result
}
