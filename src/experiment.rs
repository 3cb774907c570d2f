//! Chaos experiments: the recorder that notes milestones and computes MTTD, MTTR, golden-signal
//! impact, SLO error budget and detector quality, and the kubectl adapter that applies and
//! removes Chaos Mesh manifests on a live cluster.
//!
//! Invariant: [`recorder`] and [`slo`] are pure (observations in, report out); only
//! [`kubectl`] runs processes.

pub mod kubectl;
pub mod recorder;
pub mod slo;
