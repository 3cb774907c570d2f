//! The live engine behind the console: owns a running source of telemetry (the built-in
//! simulation stepped at an accelerated speed, or an offline input directory analysed once),
//! keeps bounded buffers of it, runs [`crate::analysis::analyze`] on a sliding window in a
//! worker thread and publishes [`Snapshot`]s over a channel.
//!
//! Invariant: nothing here touches the terminal, and nothing blocks the receiver: the engine
//! and the analysis worker are their own threads, a busy worker makes the engine skip an
//! analysis (newest data wins), and the receiver only ever drains a channel.

pub mod buffers;
pub mod engine;
pub mod poller;
pub mod recording;
pub mod snapshot;

pub use engine::{LiveHandle, SimSettings, start_offline, start_simulation};
pub use poller::{PollSettings, start_live};
pub use snapshot::{
    GoldenView, LogLine, PastIncident, Retriever, ServiceView, Snapshot, SpanRow, TraceSummary,
    build_snapshot,
};

use crate::model::Timestamp;

/// Phase of the simulated experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Normal traffic before the fault.
    Baseline,
    /// The fault is active.
    Fault,
    /// Normal traffic after the fault.
    Recovery,
    /// Offline data: no phases.
    Offline,
    /// A live cluster: no known phases.
    Live,
}

impl Phase {
    /// Lower-case name as shown in the status bar.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Fault => "fault",
            Self::Recovery => "recovery",
            Self::Offline => "offline",
            Self::Live => "live",
        }
    }
}

/// Frequent, cheap news about the source (sent several times a second).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatus {
    /// What the source is: `sim: 06-payment-pod-failure-one` or `input: DIR`.
    pub label: String,
    /// Experiment phase.
    pub phase: Phase,
    /// Current source time (simulated time for the simulation).
    pub now: Timestamp,
    /// Simulated seconds per wall second (0 offline).
    pub speed: f64,
    /// Whether the engine is paused.
    pub paused: bool,
    /// Log lines held in the buffer.
    pub buffered_logs: usize,
    /// How each live source part (logs, traces, metrics, graph) did at its last poll (empty for
    /// the simulation and offline data).
    pub health: Vec<PartHealth>,
    /// The experiment being played, when the source is the simulation (what a recording of it
    /// knows as ground truth, like `baynet experiment run --sim`).
    pub experiment: Option<ExperimentInfo>,
}

/// How one part of a live source did at its last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHealth {
    /// `logs`, `traces`, `metrics`, `graph`.
    pub part: String,
    /// Whether the last poll worked.
    pub ok: bool,
    /// `12 new`, or the error (untrusted: sanitise before drawing).
    pub detail: String,
}

/// The chaos experiment the simulation is playing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentInfo {
    /// Scenario name (`06-payment-pod-failure-one`).
    pub scenario: String,
    /// The service the fault targets.
    pub root_cause: String,
    /// Fault class (`pod-failure`).
    pub fault_class: String,
    /// Chaos Mesh kind of the manifest (`PodChaos`).
    pub chaos_kind: String,
    /// The scenario file, when it came from one.
    pub path: Option<String>,
    /// When the fault starts.
    pub fault_start: Timestamp,
    /// When it ends.
    pub fault_end: Timestamp,
}

/// What the engine sends to the console.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// Source news.
    Status(SourceStatus),
    /// A new analysis result with the data to show next to it.
    Snapshot(Box<Snapshot>),
    /// The source failed and stopped (message for the status bar).
    Failed(String),
}

/// Why the live engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No scenario to run.
    #[error("no scenario to simulate: {0}")]
    Scenario(String),
    /// The simulator rejected the configuration.
    #[error("the simulation cannot start: {0}")]
    Simulation(String),
    /// A setting is out of range.
    #[error("{0}")]
    Setting(String),
    /// A thread could not be started.
    #[error("cannot start the live engine thread: {0}")]
    Thread(#[from] std::io::Error),
}
