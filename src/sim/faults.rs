//! How an injected fault changes a service over time: reachability, readiness, egress delay,
//! failing IO, memory pressure. Pure: the engine asks, this answers.

use crate::model::{FaultClass, Timestamp};
use crate::scenario::FaultSpec;
use std::time::Duration;

/// An injected fault with its window.
#[derive(Debug, Clone)]
pub struct ActiveFault {
    /// What and where.
    pub spec: FaultSpec,
    /// Index of the target service.
    pub target: usize,
    /// Index of the partition peer, if any.
    pub peer: Option<usize>,
    /// Injection time.
    pub start: Timestamp,
    /// Removal time.
    pub end: Timestamp,
}

impl ActiveFault {
    /// The egress rate cap of a bandwidth fault on service `index` at `t`, bytes per second
    /// (default 200 KB/s, at least 1); `None` when no such fault is active there.
    #[must_use]
    pub fn bandwidth_limit(&self, index: usize, t: Timestamp) -> Option<f64> {
        (self.spec.class == FaultClass::Bandwidth && index == self.target && self.active(t)).then(
            || {
                self.spec
                    .params
                    .bandwidth_bytes_per_sec
                    .unwrap_or(200_000.0)
                    .max(1.0)
            },
        )
    }

    /// Whether the fault is injected at `t`.
    #[must_use]
    pub fn active(&self, t: Timestamp) -> bool {
        t >= self.start && t < self.end
    }

    /// Seconds since injection (negative before).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn elapsed_secs(&self, t: Timestamp) -> f64 {
        (t.as_nanos() - self.start.as_nanos()) as f64 / 1e9
    }

    /// Whether traffic between services `a` and `b` is dropped at `t`.
    #[must_use]
    pub fn partitioned(&self, a: usize, b: usize, t: Timestamp) -> bool {
        if self.spec.class != FaultClass::NetworkPartition || !self.active(t) {
            return false;
        }
        match self.peer {
            Some(peer) => (a == self.target && b == peer) || (a == peer && b == self.target),
            None => a == self.target || b == self.target,
        }
    }

    /// Added egress latency of service `index` at `t` from a delay fault, in ms.
    #[must_use]
    pub fn egress_delay_ms(&self, index: usize, t: Timestamp) -> f64 {
        if index != self.target || !self.active(t) {
            return 0.0;
        }
        match self.spec.class {
            FaultClass::NetworkDelay => {
                self.spec
                    .params
                    .latency
                    .unwrap_or(Duration::from_millis(200))
                    .as_secs_f64()
                    * 1000.0
            }
            _ => 0.0,
        }
    }

    /// Probability that an IO-touching operation on service `index` fails at `t`.
    #[must_use]
    pub fn io_failure_probability(&self, index: usize, t: Timestamp, write: bool) -> f64 {
        if index != self.target || !self.active(t) || self.spec.class != FaultClass::IoFault {
            return 0.0;
        }
        let share = self.spec.params.io_error_percent.unwrap_or(100.0) / 100.0;
        // Reads are partly served from the cache; writes and journal flushes always hit the disk.
        if write { share } else { share * 0.6 }
    }

    /// Whether inbound HTTP requests with `method` are aborted at `t`.
    #[must_use]
    pub fn aborts(&self, index: usize, method: &str, t: Timestamp) -> bool {
        index == self.target
            && self.active(t)
            && self.spec.class == FaultClass::HttpAbort
            && self
                .spec
                .params
                .http_method
                .as_deref()
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
    }

    /// Whether the fault fails the target's GET health probes (an HTTP abort of GETs).
    #[must_use]
    pub fn fails_probes(&self, index: usize, t: Timestamp) -> bool {
        self.aborts(index, "GET", t)
    }

    /// Latency multiplier from CPU stress or overload on `index`.
    #[must_use]
    pub fn slowdown(&self, index: usize, t: Timestamp) -> f64 {
        if index != self.target || !self.active(t) {
            return 1.0;
        }
        match self.spec.class {
            FaultClass::CpuStress => {
                1.0 + 3.0 * f64::from(self.spec.params.cpu_load_percent.unwrap_or(100)) / 100.0
            }
            FaultClass::Overload => 6.0,
            FaultClass::DbConnectionExhaustion => 4.0,
            _ => 1.0,
        }
    }

    /// Share of requests a bad deploy or connection exhaustion fails.
    #[must_use]
    pub fn application_error_rate(&self, index: usize, t: Timestamp) -> f64 {
        if index != self.target || !self.active(t) {
            return 0.0;
        }
        match self.spec.class {
            FaultClass::BadDeploy => 0.3,
            FaultClass::DbConnectionExhaustion => 0.4,
            FaultClass::Overload => 0.2,
            _ => 0.0,
        }
    }
}
