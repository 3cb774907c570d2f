//! Evaluation of Baynet against the simulator's ground truth. Ground truth (`labels.json`,
//! [`crate::model::GroundTruth`]) is read here and nowhere else.
//!
//! - [`detectors`]: window-level precision, recall, F1 and time to detect of the trace and
//!   metric detector families and their combination.
//! - [`experiments`]: every scenario recorded as an experiment (detectors and network live on
//!   sliding windows): precision/recall/F1, MTTD, MTTR, top-1/top-3 of the final ranking.
//! - [`rca`]: top-1/top-3 of the whole pipeline (detectors → Bayesian network) on scenarios,
//!   randomised faults and fault-free runs.
//!
//! Invariant: pure apart from running the (pure, seeded) simulator; results are deterministic.

pub mod detectors;
pub mod experiments;
pub mod rca;
