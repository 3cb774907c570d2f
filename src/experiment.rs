//! Chaos experiments: the recorder that notes milestones and computes MTTD, MTTR, golden-signal
//! impact, SLO error budget and detector quality, and the kubectl adapter that applies and
//! removes Chaos Mesh manifests on a live cluster.
//!
//! Invariant: [`recorder`] and [`slo`] are pure (observations in, report out); [`runner`]
//! reads time only from its telemetry source (the simulator, or [`live`]'s wall clock); only
//! [`kubectl`] runs processes.

pub mod kubectl;
pub mod live;
pub mod recorder;
pub mod runner;
pub mod slo;
