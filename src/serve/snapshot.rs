//! What the server publishes: the latest analysis, replaced atomically by the updater.

use crate::model::{ServiceGraph, Timestamp};
use crate::rca::Ranking;
use std::collections::BTreeMap;

/// The latest analysis of the system.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Kubernetes namespace or system name shown as the nodes' subtitle.
    pub namespace: String,
    /// The service graph with per-edge statistics.
    pub graph: ServiceGraph,
    /// The root-cause ranking.
    pub ranking: Ranking,
    /// MAIA health score per service.
    pub health: BTreeMap<String, f64>,
    /// Anomaly score per service and signal kind (`logs`, `traces`, `metrics`, `external`).
    pub anomaly: BTreeMap<String, BTreeMap<String, f64>>,
    /// When the analysis was made.
    pub updated_at: Timestamp,
    /// Errors per telemetry source since start.
    pub source_errors: BTreeMap<String, u64>,
}

impl Snapshot {
    /// An empty snapshot: no services yet.
    #[must_use]
    pub fn empty(namespace: &str, at: Timestamp) -> Self {
        Self {
            namespace: namespace.to_owned(),
            graph: ServiceGraph::new(),
            ranking: Ranking {
                ranking: Vec::new(),
                verdict: "waiting for the first analysis".to_owned(),
                incident: false,
                algorithm: String::new(),
            },
            health: BTreeMap::new(),
            anomaly: BTreeMap::new(),
            updated_at: at,
            source_errors: BTreeMap::new(),
        }
    }
}
