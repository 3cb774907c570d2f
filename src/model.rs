//! The shared vocabulary of Baynet: time, telemetry (logs, spans, metric series), the service
//! graph and fault labels.
//!
//! Invariant: this module is plain data with small helpers. It performs no I/O, never reads the
//! clock and depends on nothing else in the crate. Every other module may use it.

pub mod dataset;
pub mod fault;
pub mod graph;
pub mod telemetry;
pub mod time;

pub use dataset::Dataset;
pub use fault::{FaultClass, GroundTruth};
pub use graph::{CallEdge, Protocol, ServiceGraph, ServiceRole};
pub use telemetry::{
    AttributeValue, Attributes, Labels, LogRecord, Sample, Series, Span, SpanId, SpanKind,
    SpanStatus, StatusCode, Trace, TraceId,
};
pub use time::{TimeRange, Timestamp};
