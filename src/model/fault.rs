//! Fault classes and the ground truth of an experiment.

use super::telemetry::TraceId;
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A class of fault, as chaos experiments inject them and postmortems classify them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultClass {
    /// Every container of the pod stops serving (Chaos Mesh `pod-failure`).
    PodFailure,
    /// Traffic between two sets of pods is dropped.
    NetworkPartition,
    /// Added network latency.
    NetworkDelay,
    /// Egress bandwidth limited.
    Bandwidth,
    /// Filesystem calls fail with an errno.
    IoFault,
    /// CPU stress.
    CpuStress,
    /// Memory stress (GC pressure, OOM kills).
    MemoryStress,
    /// HTTP requests aborted.
    HttpAbort,
    /// A deploy that introduced errors.
    BadDeploy,
    /// Database connection pool exhausted.
    DbConnectionExhaustion,
    /// More load than the service can take.
    Overload,
}

impl FaultClass {
    /// Every class, in a fixed order.
    pub const ALL: [Self; 11] = [
        Self::PodFailure,
        Self::NetworkPartition,
        Self::NetworkDelay,
        Self::Bandwidth,
        Self::IoFault,
        Self::CpuStress,
        Self::MemoryStress,
        Self::HttpAbort,
        Self::BadDeploy,
        Self::DbConnectionExhaustion,
        Self::Overload,
    ];

    /// The kebab-case name used in files and on the command line.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PodFailure => "pod-failure",
            Self::NetworkPartition => "network-partition",
            Self::NetworkDelay => "network-delay",
            Self::Bandwidth => "bandwidth",
            Self::IoFault => "io-fault",
            Self::CpuStress => "cpu-stress",
            Self::MemoryStress => "memory-stress",
            Self::HttpAbort => "http-abort",
            Self::BadDeploy => "bad-deploy",
            Self::DbConnectionExhaustion => "db-connection-exhaustion",
            Self::Overload => "overload",
        }
    }
}

impl fmt::Display for FaultClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultClass {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|class| class.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|class| class.as_str()).collect();
                format!(
                    "unknown fault class `{text}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// What really happened in an experiment: written by the simulator (`labels.json`), read only
/// by evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Scenario name (the Chaos Mesh object name) or `random`.
    pub scenario: String,
    /// Fault class injected.
    pub fault_class: FaultClass,
    /// The service at fault.
    pub root_cause: String,
    /// For partitions: the other side of the cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// When the fault was injected (RFC 3339 in the file).
    #[serde(with = "rfc3339")]
    pub fault_start: Timestamp,
    /// When the fault was removed.
    #[serde(with = "rfc3339")]
    pub fault_end: Timestamp,
    /// Start of the simulated telemetry.
    #[serde(with = "rfc3339")]
    pub start: Timestamp,
    /// End of the simulated telemetry.
    #[serde(with = "rfc3339")]
    pub end: Timestamp,
    /// Simulator seed.
    pub seed: u64,
    /// The sampled traces the fault actually acted on (an injected failure, added delay or
    /// slowdown, memory pressure): the per-trace label of `baynet traces evaluate --label
    /// acted`. Kept here, never in the telemetry, so no detector, model or served API can see
    /// it. Hex trace ids in the file; absent in runs without a fault or written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "hex_trace_ids")]
    pub acted_traces: Vec<TraceId>,
    /// When the last consequence of the fault that outlasted its removal ended (requests it
    /// acted on still completing, a pod it restarted coming back up, a queue backlog it caused
    /// draining); absent when nothing outlasted it. Evaluation leaves the windows between the
    /// fault end and this moment unscored: the system is neither faulty nor normal there.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_option"
    )]
    pub effects_end: Option<Timestamp>,
}

impl GroundTruth {
    /// When the system was back to normal: the fault end, or the end of its after-effects.
    #[must_use]
    pub fn impact_end(&self) -> Timestamp {
        self.effects_end
            .map_or(self.fault_end, |end| end.max(self.fault_end))
    }
}

/// Serde helpers writing trace ids as hex text (as every wire format does).
mod hex_trace_ids {
    use super::TraceId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(ids: &[TraceId], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(ids.len()))?;
        for id in ids {
            seq.serialize_element(&id.to_hex())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<TraceId>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts
            .iter()
            .map(|text| {
                TraceId::from_hex(text).ok_or_else(|| {
                    D::Error::custom(format!("acted_traces: {text:?} is not a hex trace id"))
                })
            })
            .collect()
    }
}

/// Serde helpers writing timestamps as RFC 3339 text.
pub mod rfc3339 {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes RFC 3339.
    ///
    /// # Errors
    /// Never fails beyond the serializer's own errors.
    pub fn serialize<S: Serializer>(t: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&t.to_rfc3339())
    }

    /// Reads RFC 3339.
    ///
    /// # Errors
    /// When the text is not RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        parse(&String::deserialize(deserializer)?)
    }

    /// Parses RFC 3339 text, with the error every reader of it gives.
    pub(super) fn parse<E: serde::de::Error>(text: &str) -> Result<Timestamp, E> {
        Timestamp::parse_rfc3339(text)
            .ok_or_else(|| E::custom(format!("`{text}` is not an RFC 3339 timestamp")))
    }
}

/// Serde helpers for an optional RFC 3339 timestamp.
mod rfc3339_option {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(
        t: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| super::rfc3339::parse(&text))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_classes_round_trip_names() {
        for class in FaultClass::ALL {
            assert_eq!(class.as_str().parse::<FaultClass>(), Ok(class));
        }
        assert_eq!("IO_FAULT".parse::<FaultClass>(), Ok(FaultClass::IoFault));
        assert!("meteor".parse::<FaultClass>().is_err());
    }
}
