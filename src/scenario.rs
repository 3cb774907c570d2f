//! Chaos experiments: Chaos Mesh manifests (`chaos-mesh.org/v1alpha1`) carrying Baynet's
//! metadata in `baynet.io/*` annotations, and the fault they describe.
//!
//! Invariant: parsing is pure (text in, [`Scenario`] out); reading files is the caller's job
//! ([`Scenario::load`] is the one convenience that touches the filesystem).

use crate::model::FaultClass;
use crate::model::time::{format_duration, parse_duration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default length of each phase (baseline, fault, recovery).
pub const DEFAULT_PHASE: Duration = Duration::from_secs(600);

/// Annotation keys Baynet reads.
pub mod annotation {
    /// Expected root-cause service.
    pub const ROOT_CAUSE: &str = "baynet.io/root-cause";
    /// Fault class (`pod-failure`, `network-partition`, …).
    pub const FAULT_CLASS: &str = "baynet.io/fault-class";
    /// Baseline duration before the fault.
    pub const BASELINE: &str = "baynet.io/baseline";
    /// Recovery duration after the fault.
    pub const RECOVERY: &str = "baynet.io/recovery";
    /// Human description.
    pub const DESCRIPTION: &str = "baynet.io/description";
    /// The other side of a partition.
    pub const PEER: &str = "baynet.io/peer";
}

/// Errors reading a scenario; each names the file (when known) and the field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The YAML is malformed.
    #[error("{origin}: not valid YAML: {message}")]
    Yaml {
        /// File or `<text>`.
        origin: String,
        /// Parser message.
        message: String,
    },
    /// A field is missing or wrong.
    #[error("{origin}: field `{field}`: {message}")]
    Field {
        /// File or `<text>`.
        origin: String,
        /// Dotted field path.
        field: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// The Chaos Mesh kinds Baynet understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChaosKind {
    /// `PodChaos`.
    PodChaos,
    /// `NetworkChaos`.
    NetworkChaos,
    /// `IOChaos`.
    IoChaos,
    /// `StressChaos`.
    StressChaos,
    /// `HTTPChaos`.
    HttpChaos,
}

impl ChaosKind {
    fn parse(kind: &str) -> Option<Self> {
        match kind {
            "PodChaos" => Some(Self::PodChaos),
            "NetworkChaos" => Some(Self::NetworkChaos),
            "IOChaos" => Some(Self::IoChaos),
            "StressChaos" => Some(Self::StressChaos),
            "HTTPChaos" => Some(Self::HttpChaos),
            _ => None,
        }
    }

    /// The manifest's `kind`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PodChaos => "PodChaos",
            Self::NetworkChaos => "NetworkChaos",
            Self::IoChaos => "IOChaos",
            Self::StressChaos => "StressChaos",
            Self::HttpChaos => "HTTPChaos",
        }
    }
}

/// Parameters of a fault, in the units the simulator and reports use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultParams {
    /// Added latency (delay).
    pub latency: Option<Duration>,
    /// Bandwidth limit in bytes per second.
    pub bandwidth_bytes_per_sec: Option<f64>,
    /// Share of IO calls that fail, 0–100.
    pub io_error_percent: Option<f64>,
    /// errno returned by failing IO calls.
    pub errno: Option<i64>,
    /// Memory stress: total bytes.
    pub memory_bytes: Option<u64>,
    /// Stress workers.
    pub workers: Option<u32>,
    /// CPU stress load per worker, percent.
    pub cpu_load_percent: Option<u32>,
    /// HTTP method filter (`GET`); `None` matches every method.
    pub http_method: Option<String>,
    /// Selector mode (`all`, `one`, …).
    pub mode: String,
}

/// What to inject where: the part of a scenario the simulator needs.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// Fault class.
    pub class: FaultClass,
    /// The faulty service.
    pub target: String,
    /// For partitions: the service cut off from `target`.
    pub peer: Option<String>,
    /// Parameters.
    pub params: FaultParams,
}

/// A parsed experiment.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// The namespace of the pods the fault targets, whose telemetry shows it: the selector's
    /// only namespace (`spec.selector.namespaces`), else the resource's own (Chaos Mesh's
    /// default).
    pub target_namespace: String,
    /// Chaos kind.
    pub kind: ChaosKind,
    /// Human description.
    pub description: String,
    /// Fault and expected root cause.
    pub fault: FaultSpec,
    /// Baseline before the fault.
    pub baseline: Duration,
    /// Fault duration (`spec.duration`).
    pub fault_duration: Duration,
    /// Recovery after the fault.
    pub recovery: Duration,
    /// The manifest text exactly as read (what `kubectl apply -f` receives).
    pub manifest: String,
    /// Where it was read from, if a file.
    pub path: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<RawMetadata>,
    spec: Option<yaml_serde::Value>,
}

#[derive(Deserialize)]
struct RawMetadata {
    name: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

struct FieldReader<'a> {
    origin: &'a str,
}

impl FieldReader<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Field {
            origin: self.origin.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn get<'v>(&self, spec: &'v yaml_serde::Value, path: &str) -> Option<&'v yaml_serde::Value> {
        path.split('.').try_fold(spec, |value, key| value.get(key))
    }

    fn string(
        &self,
        spec: &yaml_serde::Value,
        path: &str,
    ) -> Result<Option<String>, ScenarioError> {
        match self.get(spec, path) {
            None | Some(yaml_serde::Value::Null) => Ok(None),
            Some(yaml_serde::Value::String(text)) => Ok(Some(text.clone())),
            Some(yaml_serde::Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(self.error(&format!("spec.{path}"), "expected a string")),
        }
    }

    fn number(&self, spec: &yaml_serde::Value, path: &str) -> Result<Option<f64>, ScenarioError> {
        match self.get(spec, path) {
            None | Some(yaml_serde::Value::Null) => Ok(None),
            Some(yaml_serde::Value::Number(number)) => Ok(number.as_f64()),
            Some(yaml_serde::Value::String(text)) => text.trim().parse().map(Some).map_err(|_| {
                self.error(&format!("spec.{path}"), format!("`{text}` is not a number"))
            }),
            Some(_) => Err(self.error(&format!("spec.{path}"), "expected a number")),
        }
    }

    fn duration(&self, field: &str, text: Option<&str>) -> Result<Option<Duration>, ScenarioError> {
        text.map(|text| parse_duration(text).map_err(|message| self.error(field, message)))
            .transpose()
    }
}

impl Scenario {
    /// Reads and parses a scenario file.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid scenario.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut scenario = Self::parse(&text, &path.display().to_string())?;
        scenario.path = Some(path.to_owned());
        Ok(scenario)
    }

    /// Parses manifest text; `origin` names it in errors.
    ///
    /// # Errors
    /// When the YAML is malformed, the kind is not a Chaos Mesh kind Baynet knows, or a field
    /// Baynet relies on is missing or invalid.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let reader = FieldReader { origin };
        let raw: RawManifest = yaml_serde::from_str(text).map_err(|error| ScenarioError::Yaml {
            origin: origin.to_owned(),
            message: error.to_string(),
        })?;
        let api_version = raw
            .api_version
            .ok_or_else(|| reader.error("apiVersion", "missing"))?;
        if api_version != "chaos-mesh.org/v1alpha1" {
            return Err(reader.error(
                "apiVersion",
                format!("`{api_version}` is not chaos-mesh.org/v1alpha1"),
            ));
        }
        let kind_text = raw.kind.ok_or_else(|| reader.error("kind", "missing"))?;
        let kind = ChaosKind::parse(&kind_text).ok_or_else(|| {
            reader.error("kind", format!("`{kind_text}` is not one of PodChaos, NetworkChaos, IOChaos, StressChaos, HTTPChaos"))
        })?;
        let metadata = raw
            .metadata
            .ok_or_else(|| reader.error("metadata", "missing"))?;
        let name = metadata
            .name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| reader.error("metadata.name", "missing"))?;
        let namespace = metadata.namespace.unwrap_or_else(|| "default".to_owned());
        let spec = raw.spec.ok_or_else(|| reader.error("spec", "missing"))?;
        let annotations = metadata.annotations;

        let selector_target = label_selector_name(&spec, "selector");
        let target_namespace = selector_namespace(&spec).unwrap_or_else(|| namespace.clone());
        let root_cause = annotations
            .get(annotation::ROOT_CAUSE)
            .cloned()
            .or_else(|| selector_target.clone())
            .ok_or_else(|| {
                reader.error(
                    "metadata.annotations",
                    format!("no `{}` annotation and no `spec.selector.labelSelectors.name` to infer it from", annotation::ROOT_CAUSE),
                )
            })?;
        let mode = reader
            .string(&spec, "mode")?
            .ok_or_else(|| reader.error("spec.mode", "missing (one, all, fixed, …)"))?;
        let mut params = FaultParams {
            mode,
            ..FaultParams::default()
        };
        let inferred_class = match kind {
            ChaosKind::PodChaos => {
                let action = reader
                    .string(&spec, "action")?
                    .ok_or_else(|| reader.error("spec.action", "missing"))?;
                match action.as_str() {
                    "pod-failure" | "pod-kill" | "container-kill" => FaultClass::PodFailure,
                    other => {
                        return Err(reader
                            .error("spec.action", format!("unknown PodChaos action `{other}`")));
                    }
                }
            }
            ChaosKind::NetworkChaos => {
                let action = reader
                    .string(&spec, "action")?
                    .ok_or_else(|| reader.error("spec.action", "missing"))?;
                match action.as_str() {
                    "partition" | "loss" => FaultClass::NetworkPartition,
                    "delay" | "netem" => {
                        let latency = reader
                            .string(&spec, "delay.latency")?
                            .ok_or_else(|| reader.error("spec.delay.latency", "missing"))?;
                        params.latency = reader.duration("spec.delay.latency", Some(&latency))?;
                        FaultClass::NetworkDelay
                    }
                    "bandwidth" => {
                        let rate = reader
                            .string(&spec, "bandwidth.rate")?
                            .ok_or_else(|| reader.error("spec.bandwidth.rate", "missing"))?;
                        params.bandwidth_bytes_per_sec = Some(
                            parse_tc_rate(&rate)
                                .map_err(|message| reader.error("spec.bandwidth.rate", message))?,
                        );
                        FaultClass::Bandwidth
                    }
                    other => {
                        return Err(reader.error(
                            "spec.action",
                            format!("NetworkChaos action `{other}` is not simulated"),
                        ));
                    }
                }
            }
            ChaosKind::IoChaos => {
                reader.string(&spec, "volumePath")?.ok_or_else(|| {
                    reader.error("spec.volumePath", "missing (must be a mount point)")
                })?;
                let percent = reader.number(&spec, "percent")?.unwrap_or(100.0);
                if !(0.0..=100.0).contains(&percent) {
                    return Err(reader.error("spec.percent", "must be between 0 and 100"));
                }
                params.io_error_percent = Some(percent);
                params.errno = reader.number(&spec, "errno")?.map(|value| value as i64);
                let action = reader.string(&spec, "action")?.unwrap_or_default();
                if action == "latency" {
                    let delay = reader.string(&spec, "delay")?;
                    params.latency = reader.duration("spec.delay", delay.as_deref())?;
                    FaultClass::NetworkDelay
                } else {
                    if action == "fault" && params.errno.unwrap_or(0) == 0 {
                        return Err(reader.error(
                            "spec.errno",
                            "an IOChaos fault needs a non-zero errno (5 = EIO)",
                        ));
                    }
                    FaultClass::IoFault
                }
            }
            ChaosKind::StressChaos => {
                if let Some(size) = reader.string(&spec, "stressors.memory.size")? {
                    params.memory_bytes =
                        Some(parse_humanize_bytes(&size).map_err(|message| {
                            reader.error("spec.stressors.memory.size", message)
                        })?);
                    params.workers = reader
                        .number(&spec, "stressors.memory.workers")?
                        .map(|w| w as u32);
                    FaultClass::MemoryStress
                } else if reader.get(&spec, "stressors.cpu").is_some() {
                    params.workers = reader
                        .number(&spec, "stressors.cpu.workers")?
                        .map(|w| w as u32);
                    params.cpu_load_percent = reader
                        .number(&spec, "stressors.cpu.load")?
                        .map(|l| l as u32);
                    FaultClass::CpuStress
                } else {
                    return Err(reader.error("spec.stressors", "needs a memory or cpu stressor"));
                }
            }
            ChaosKind::HttpChaos => {
                if reader
                    .get(&spec, "abort")
                    .and_then(yaml_serde::Value::as_bool)
                    != Some(true)
                {
                    if let Some(delay) = reader.string(&spec, "delay")? {
                        params.latency = reader.duration("spec.delay", Some(&delay))?;
                    } else {
                        return Err(reader.error(
                            "spec.abort",
                            "only `abort: true` and `delay` HTTPChaos are simulated",
                        ));
                    }
                }
                params.http_method = reader
                    .string(&spec, "method")?
                    .map(|m| m.to_ascii_uppercase());
                if params.latency.is_some() {
                    FaultClass::NetworkDelay
                } else {
                    FaultClass::HttpAbort
                }
            }
        };
        let fault_class = match annotations.get(annotation::FAULT_CLASS) {
            Some(text) => text.parse().map_err(|message: String| {
                reader.error(
                    &format!("metadata.annotations.{}", annotation::FAULT_CLASS),
                    message,
                )
            })?,
            None => inferred_class,
        };
        let peer = annotations
            .get(annotation::PEER)
            .cloned()
            .or_else(|| label_selector_name(&spec, "target.selector"));
        let duration_text = reader.string(&spec, "duration")?;
        let fault_duration = reader
            .duration("spec.duration", duration_text.as_deref())?
            .unwrap_or(DEFAULT_PHASE);
        let baseline = reader
            .duration(
                &format!("metadata.annotations.{}", annotation::BASELINE),
                annotations.get(annotation::BASELINE).map(String::as_str),
            )?
            .unwrap_or(DEFAULT_PHASE);
        let recovery = reader
            .duration(
                &format!("metadata.annotations.{}", annotation::RECOVERY),
                annotations.get(annotation::RECOVERY).map(String::as_str),
            )?
            .unwrap_or(DEFAULT_PHASE);
        if fault_duration.is_zero() {
            return Err(reader.error("spec.duration", "must be longer than zero"));
        }
        let description = annotations
            .get(annotation::DESCRIPTION)
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "{}: {} ({} for {})",
                    root_cause,
                    fault_class,
                    kind.as_str(),
                    format_duration(fault_duration)
                )
            });
        Ok(Self {
            name,
            namespace,
            target_namespace,
            kind,
            description,
            fault: FaultSpec {
                class: fault_class,
                target: root_cause,
                peer,
                params,
            },
            baseline,
            fault_duration,
            recovery,
            manifest: text.to_owned(),
            path: None,
        })
    }

    /// Total length: baseline + fault + recovery.
    #[must_use]
    pub fn total(&self) -> Duration {
        self.baseline + self.fault_duration + self.recovery
    }

    /// Loads every `*.yaml`/`*.yml` file of a directory, sorted by file name.
    ///
    /// # Errors
    /// On the first file that cannot be read or parsed.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, ScenarioError> {
        let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
            })
            .collect();
        paths.sort();
        paths.iter().map(|path| Self::load(path)).collect()
    }
}

/// The selector's namespace when it names exactly one.
fn selector_namespace(spec: &yaml_serde::Value) -> Option<String> {
    match spec
        .get("selector")?
        .get("namespaces")?
        .as_sequence()?
        .as_slice()
    {
        [one] => one.as_str().filter(|n| !n.is_empty()).map(str::to_owned),
        _ => None,
    }
}

fn label_selector_name(spec: &yaml_serde::Value, selector_path: &str) -> Option<String> {
    let selector = selector_path
        .split('.')
        .try_fold(spec, |value, key| value.get(key))?;
    let labels = selector.get("labelSelectors")?;
    ["name", "app", "app.kubernetes.io/name"]
        .iter()
        .find_map(|key| labels.get(*key).and_then(yaml_serde::Value::as_str))
        .map(str::to_owned)
}

/// Parses a tc rate as Chaos Mesh takes it: `bit|kbit|mbit|gbit|tbit` are bits per second and
/// `bps|kbps|mbps|gbps|tbps` are BYTES per second (tc convention). Returns bytes per second.
///
/// # Errors
/// When the text is not a number followed by one of those units.
pub fn parse_tc_rate(text: &str) -> Result<f64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("rate `{text}` lacks a unit (e.g. 200kbps, 1mbit)"))?;
    let value: f64 = lower[..split]
        .parse()
        .map_err(|_| format!("rate `{text}` has a bad number"))?;
    let bytes_per_unit = match &lower[split..] {
        "bit" => 1.0 / 8.0,
        "kbit" => 1e3 / 8.0,
        "mbit" => 1e6 / 8.0,
        "gbit" => 1e9 / 8.0,
        "tbit" => 1e12 / 8.0,
        "bps" => 1.0,
        "kbps" => 1e3,
        "mbps" => 1e6,
        "gbps" => 1e9,
        "tbps" => 1e12,
        unit => {
            return Err(format!(
                "rate `{text}` has unknown unit `{unit}` (bit, kbit, mbit, bps, kbps, mbps, …)"
            ));
        }
    };
    if value <= 0.0 {
        return Err(format!("rate `{text}` must be positive"));
    }
    Ok(value * bytes_per_unit)
}

/// Parses a go-humanize byte size (`512MB` = 512×10⁶, `512MiB` = 512×2²⁰).
///
/// # Errors
/// When the text is not a size.
pub fn parse_humanize_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let value: f64 = trimmed[..split]
        .parse()
        .map_err(|_| format!("size `{text}` has a bad number"))?;
    let unit = trimmed[split..].trim().to_ascii_lowercase();
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" | "ki" => 1024.0,
        "mib" | "mi" => 1024.0 * 1024.0,
        "gib" | "gi" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "size `{text}` has unknown unit `{other}` (use MB or MiB)"
            ));
        }
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((value * scale).round() as u64)
}

/// The scenario files shipped in `scenarios/`, compiled in so `baynet` works from any directory.
pub const BUILTIN: [(&str, &str); 12] = [
    (
        "01-user-pod-failure.yaml",
        include_str!("../scenarios/01-user-pod-failure.yaml"),
    ),
    (
        "02-session-db-partition-front-end.yaml",
        include_str!("../scenarios/02-session-db-partition-front-end.yaml"),
    ),
    (
        "03-front-end-pod-failure.yaml",
        include_str!("../scenarios/03-front-end-pod-failure.yaml"),
    ),
    (
        "04-carts-db-io-fault.yaml",
        include_str!("../scenarios/04-carts-db-io-fault.yaml"),
    ),
    (
        "05-catalogue-db-io-fault.yaml",
        include_str!("../scenarios/05-catalogue-db-io-fault.yaml"),
    ),
    (
        "06-payment-pod-failure-one.yaml",
        include_str!("../scenarios/06-payment-pod-failure-one.yaml"),
    ),
    (
        "07-rabbitmq-partition-queue-master.yaml",
        include_str!("../scenarios/07-rabbitmq-partition-queue-master.yaml"),
    ),
    (
        "08-shipping-bandwidth-200kbps.yaml",
        include_str!("../scenarios/08-shipping-bandwidth-200kbps.yaml"),
    ),
    (
        "09-shipping-pod-failure.yaml",
        include_str!("../scenarios/09-shipping-pod-failure.yaml"),
    ),
    (
        "10-shipping-http-abort.yaml",
        include_str!("../scenarios/10-shipping-http-abort.yaml"),
    ),
    (
        "11-shipping-memory-stress.yaml",
        include_str!("../scenarios/11-shipping-memory-stress.yaml"),
    ),
    (
        "12-shipping-network-delay.yaml",
        include_str!("../scenarios/12-shipping-network-delay.yaml"),
    ),
];

/// Parses the built-in scenarios.
///
/// # Errors
/// Only if a shipped file is broken (a test guards against it).
pub fn builtin() -> Result<Vec<Scenario>, ScenarioError> {
    BUILTIN
        .iter()
        .map(|(name, text)| Scenario::parse(text, name))
        .collect()
}

/// Resolves a scenario argument: a file path, or the name, file name or number prefix of a
/// built-in scenario (`shipping-network-delay`, `12-shipping-network-delay.yaml`, `12`).
///
/// # Errors
/// When the file cannot be parsed or nothing matches (the message lists the built-in names).
pub fn resolve(argument: &str) -> Result<Scenario, ScenarioError> {
    let path = Path::new(argument);
    if path.is_file() {
        return Scenario::load(path);
    }
    let scenarios = builtin()?;
    let wanted = argument.trim_end_matches(".yaml");
    // `2`, `02` and `002` all name the file numbered 02.
    let number = wanted.parse::<u32>().ok();
    let found = BUILTIN
        .iter()
        .zip(&scenarios)
        .find(|((file, _), scenario)| {
            scenario.name == wanted
                || file.trim_end_matches(".yaml") == wanted
                || (number.is_some()
                    && file.split('-').next().and_then(|p| p.parse::<u32>().ok()) == number)
        });
    match found {
        Some((_, scenario)) => Ok(scenario.clone()),
        None => Err(ScenarioError::Field {
            origin: argument.to_owned(),
            field: "scenario".to_owned(),
            message: format!(
                "no such file and no built-in scenario of that name; built-in: {}",
                scenarios
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_scenarios_resolve_by_name_file_or_number() {
        for argument in ["2", "02", "002", "02-session-db-partition-front-end.yaml"] {
            assert_eq!(
                resolve(argument).map(|s| s.name).ok().as_deref(),
                Some("session-db-partition-front-end"),
                "{argument}"
            );
        }
        assert_eq!(
            resolve("12").map(|s| s.name).ok().as_deref(),
            Some("shipping-network-delay")
        );
        assert!(resolve("13").is_err());
        assert!(resolve("0").is_err());
    }

    #[test]
    fn rates_follow_tc_units() {
        assert_eq!(parse_tc_rate("200kbps"), Ok(200_000.0));
        assert_eq!(parse_tc_rate("200kbit"), Ok(25_000.0));
        assert!(parse_tc_rate("200").is_err());
        assert!(parse_tc_rate("200furlongs").is_err());
        assert_eq!(parse_humanize_bytes("512MB"), Ok(512_000_000));
        assert_eq!(parse_humanize_bytes("512MiB"), Ok(536_870_912));
    }

    #[test]
    fn errors_name_the_field() {
        let text = "apiVersion: chaos-mesh.org/v1alpha1\nkind: NetworkChaos\nmetadata: {name: x, namespace: sock-shop}\nspec:\n  action: delay\n  mode: all\n  selector: {labelSelectors: {name: shipping}}\n";
        let error = Scenario::parse(text, "x.yaml").expect_err("delay.latency missing");
        assert!(error.to_string().contains("spec.delay.latency"), "{error}");
        let error = Scenario::parse("kind: [", "y.yaml").expect_err("bad yaml");
        assert!(
            error.to_string().starts_with("y.yaml: not valid YAML"),
            "{error}"
        );
        let error =
            Scenario::parse("apiVersion: v1\nkind: Pod\n", "z.yaml").expect_err("not chaos");
        assert!(error.to_string().contains("apiVersion"), "{error}");
    }

    #[test]
    fn fault_class_and_target_are_inferred_without_annotations() {
        let text = "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p, namespace: sock-shop}\nspec:\n  action: pod-failure\n  mode: one\n  duration: 30s\n  selector: {namespaces: [sock-shop], labelSelectors: {name: payment}}\n";
        let scenario = Scenario::parse(text, "p.yaml").expect("valid");
        assert_eq!(scenario.fault.class, FaultClass::PodFailure);
        assert_eq!(scenario.fault.target, "payment");
        assert_eq!(scenario.fault.params.mode, "one");
        assert_eq!(scenario.fault_duration, Duration::from_secs(30));
        assert_eq!(scenario.baseline, DEFAULT_PHASE);
    }

    #[test]
    fn the_target_namespace_is_the_selectors_or_the_resources() {
        let manifest = |metadata: &str, selector: &str| {
            format!(
                "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {metadata}\nspec:\n  action: pod-kill\n  mode: one\n  selector: {selector}\n"
            )
        };
        let parse = |metadata: &str, selector: &str| {
            Scenario::parse(&manifest(metadata, selector), "p.yaml").expect("valid")
        };
        let chaos_ns = parse(
            "{name: p, namespace: chaos-testing}",
            "{namespaces: [shop], labelSelectors: {name: payment}}",
        );
        assert_eq!(chaos_ns.namespace, "chaos-testing");
        assert_eq!(chaos_ns.target_namespace, "shop");
        let own = parse(
            "{name: p, namespace: sock-shop}",
            "{labelSelectors: {name: payment}}",
        );
        assert_eq!(own.target_namespace, "sock-shop");
        let several = parse(
            "{name: p, namespace: chaos-testing}",
            "{namespaces: [a, b], labelSelectors: {name: payment}}",
        );
        assert_eq!(several.target_namespace, "chaos-testing");
        assert_eq!(
            parse("{name: p}", "{labelSelectors: {name: x}}").target_namespace,
            "default"
        );
    }
}
