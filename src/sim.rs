//! The sock-shop simulator: Baynet's built-in demo and test bed.
//!
//! It simulates the 14 services of sock-shop under a Locust-like purchase flow and injects the
//! chaos experiments of `scenarios/`, producing the telemetry real systems produce: logs in
//! each service's own style, Envoy client/server spans, Istio standard metrics from both
//! reporters, container CPU and memory. Each fault class leaves its real signature.
//!
//! Invariant: the simulation is pure and deterministic for a seed; it never reads the clock or
//! touches files. Serving it over HTTP is [`crate::sim_server`]'s job.

pub mod engine;
pub mod faults;
pub mod logs;
pub mod metrics;
pub mod operations;
pub mod random;
pub mod run;
pub mod topology;

pub use engine::{Emitted, SimConfig, Simulation};
