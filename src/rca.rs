//! Root-cause ranking: a Bayesian network over the service graph turns per-service anomaly
//! evidence into each service's outage probability, a root-cause probability, a colour band
//! and an explanation.
//!
//! The model (built fresh from the current graph on every ranking, so services and edges come
//! and go without a restart):
//! - per service `s` a latent fault `fault.s` (prior from a base rate, the MAIA health score and
//!   recent deploys);
//! - `degraded.s`: errors, latency, log anomalies. Noisy-OR of `fault.s` and `degraded.c` for
//!   every callee `c`, so a failing dependency explains its callers' symptoms away;
//! - `starved.s`: lost traffic (silence). Noisy-OR of `fault.s` and `starved.p` for every
//!   caller `p`, so a dead entry point explains the quiet services behind it;
//! - detector scores enter as soft (virtual) evidence on `degraded.s` and `starved.s`.
//!
//! Cycles in the call graph are cut by lagging the back edge one time slice: across a back edge
//! the caller depends on the callee's own fault (`fault.c`) rather than on its current
//! degradation, which keeps the network acyclic and lets first-order propagation through.
//! Link strengths are learned online from error propagation seen in traces ([`LinkStrengths`]).
//!
//! Invariant: pure. Graph, evidence and links in; a [`Ranking`] out.

pub mod links;
pub mod model;

pub use links::LinkStrengths;
pub use model::{
    Band, EvidenceItem, RankedService, Ranking, RcaConfig, RcaError, ServiceEvidence, rank,
};
