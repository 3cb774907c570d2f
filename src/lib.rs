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
//! - [`analysis`]: the pipeline telemetry → detectors → evidence → root-cause ranking.
//! - [`chat`]: the guided chat (offline analyst, prompt builder, LLM clients).
//! - [`detect`]: pure anomaly detectors (logs, traces, metrics) and their events.
//! - [`embed`]: local sentence embeddings (all-MiniLM-L6-v2 with candle) and model discovery.
//! - [`live`]: the console's engine: a running simulation or an input directory, bounded
//!   buffers, analysis in a worker thread, snapshots over a channel.
//! - [`config`]: the TOML configuration of live sources (URLs, auth, tenants, labels, limits).
//! - [`source`]: the `TelemetrySource` interface and its live (Loki, Tempo, Prometheus, Kiali),
//!   simulated and offline implementations.
//! - [`console`]: the ratatui terminal UI (state machine, drawing, sanitizer, palettes).
//! - [`traces_gnn`]: learned trace anomaly detection (GAT autoencoder with candle), metrics, plots.

pub mod analysis;
pub mod bayes;
pub mod chat;
pub mod config;
pub mod console;
pub mod detect;
pub mod embed;
pub mod eval;
pub mod experiment;
pub mod input_dir;
pub mod knowledge;
pub mod live;
pub mod model;
pub mod rca;
pub mod scenario;
pub mod serve;
pub mod sim;
pub mod sim_server;
pub mod source;
pub mod traces_gnn;
pub mod wire;
