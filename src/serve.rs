//! `baynet serve`: the live Bayesian graph for Grafana's Node Graph panel, scores for
//! Prometheus, and anomaly-event intake over HTTP and AWS SQS — so teams keep their dashboards
//! and alerting while Baynet feeds them.
//!
//! Pure parts: [`snapshot`], [`nodegraph`], [`exposition`], [`events`], [`sigv4`], [`feed`]
//! (telemetry sources and the analysis feed; the clock arrives as an argument). Adapters:
//! [`server`] (axum, auth, limits, graceful shutdown) and [`sqs`] (the queue consumer).

pub mod events;
pub mod exposition;
pub mod feed;
pub mod nodegraph;
pub mod server;
pub mod sigv4;
pub mod snapshot;
pub mod sqs;
