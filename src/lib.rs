//! Baynet: a terminal incident console for microservice systems.
//!
//! Codemap (see ARCHITECTURE.md for the data flow and invariants):
//! - [`model`]: pure vocabulary — time, logs, spans, series, service graph, fault labels.
//! - [`wire`]: pure decoders and encoders for the native wire formats (OTLP JSON as Tempo
//!   returns it, Loki and Prometheus query responses, Prometheus exposition text, Kiali graphs).
//! - [`scenario`]: Chaos Mesh experiment manifests with Baynet's metadata.
//! - [`sim`]: the sock-shop simulator (pure, seeded) and its HTTP server adapter.
//! - [`input_dir`]: the offline telemetry directory (adapter: reads and writes files).
//! - [`eval`]: evaluation against the simulator's ground truth (the only reader of labels).
//! - [`detect`]: pure anomaly detectors (traces, metrics; logs on their branch) and their events.

pub mod analysis;
pub mod bayes;
pub mod chat;
pub mod detect;
pub mod eval;
pub mod experiment;
pub mod input_dir;
pub mod knowledge;
pub mod model;
pub mod rca;
pub mod scenario;
pub mod serve;
pub mod sim;
pub mod sim_server;
pub mod wire;
