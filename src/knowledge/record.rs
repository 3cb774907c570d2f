//! The postmortem schema (pure): Markdown with YAML front matter, parsed, validated and
//! rendered back. Every validation error names the file and the field; nothing here panics on
//! input or touches the file system.

use crate::model::FaultClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest postmortem file accepted (1 MiB).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Service roles a role-abstracted signature may name.
pub const ROLES: [&str; 5] = ["gateway", "service", "database", "cache", "queue"];

/// Why a knowledge file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Over [`MAX_FILE_BYTES`].
    #[error("{path}: file is {bytes} bytes; postmortems are limited to {MAX_FILE_BYTES} bytes (1 MiB)", path = .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: usize,
    },
    /// NUL bytes or invalid UTF-8.
    #[error("{path}: binary content ({reason}); a postmortem must be UTF-8 Markdown text", path = .path.display())]
    Binary {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// No `---` front matter block.
    #[error("{path}: {message}", path = .path.display())]
    FrontMatter {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The YAML does not fit the schema (the message names the field and the line).
    #[error("{path}: front matter: {message}", path = .path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A field has a value the schema does not allow.
    #[error("{path}: field `{field}`: {message}", path = .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: String,
        /// What was wrong.
        message: String,
    },
}

/// Where an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Recorded from a chaos experiment.
    ChaosExperiment,
    /// A real incident.
    LiveIncident,
    /// Imported from another tool.
    Imported,
    /// A generic curated playbook.
    Playbook,
    /// Reference notes.
    Notes,
    /// A hand-written postmortem (the curated README's name for recorded incidents).
    Postmortem,
}

impl Source {
    /// The kebab-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ChaosExperiment => "chaos-experiment",
            Self::LiveIncident => "live-incident",
            Self::Imported => "imported",
            Self::Playbook => "playbook",
            Self::Notes => "notes",
            Self::Postmortem => "postmortem",
        }
    }
}

/// Which anomaly kinds showed where: per role (abstracted, so that a fault on another service
/// of the same role matches) and, for recorded incidents, per service with scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymptomSignature {
    /// Signals at the entry point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway: Vec<String>,
    /// Signals at application services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<String>,
    /// Signals at databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub database: Vec<String>,
    /// Signals at caches and session stores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache: Vec<String>,
    /// Signals at message brokers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<String>,
    /// Per service, per signal: the anomaly score in [0, 1].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, BTreeMap<String, f64>>,
}

impl SymptomSignature {
    /// The role lists as `(role, signals)` pairs, in [`ROLES`] order.
    #[must_use]
    pub fn roles(&self) -> [(&'static str, &[String]); 5] {
        [
            ("gateway", &self.gateway),
            ("service", &self.service),
            ("database", &self.database),
            ("cache", &self.cache),
            ("queue", &self.queue),
        ]
    }

    /// The mutable list of `role` (`None` for an unknown role).
    pub fn role_mut(&mut self, role: &str) -> Option<&mut Vec<String>> {
        match role {
            "gateway" => Some(&mut self.gateway),
            "service" => Some(&mut self.service),
            "database" => Some(&mut self.database),
            "cache" => Some(&mut self.cache),
            "queue" => Some(&mut self.queue),
            _ => None,
        }
    }

    /// Whether nothing is recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.roles().iter().all(|(_, signals)| signals.is_empty()) && self.services.is_empty()
    }
}

/// One detector's result at detection time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorResult {
    /// Detector family or name (`traces`, `metrics`, `logs`, …).
    pub detector: String,
    /// Whether it fired.
    pub fired: bool,
    /// Its peak score, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// One service of the ranking at detection time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankedAtDetection {
    /// Service.
    pub service: String,
    /// P(root cause).
    pub p_root_cause: f64,
    /// P(outage), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_outage: Option<f64>,
}

/// A postmortem, playbook or note: the front matter plus the Markdown body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postmortem {
    /// Unique id.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Fault start (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// Detection time (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<String>,
    /// Resolution time (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// Cluster or environment name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Where it comes from.
    pub source: Source,
    /// Scenario file of a chaos experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Chaos Mesh kind (`PodChaos`, `NetworkChaos`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos_kind: Option<String>,
    /// Service at fault (`""` for generic playbooks).
    #[serde(default)]
    pub root_cause_service: String,
    /// Fault class (`""` when not about one class).
    #[serde(default)]
    pub fault_class: String,
    /// Services that showed symptoms.
    #[serde(default)]
    pub affected_services: Vec<String>,
    /// Symptom signature.
    #[serde(default)]
    pub symptom_signature: SymptomSignature,
    /// Time to detect, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mttd_secs: Option<f64>,
    /// Time to recover, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mttr_secs: Option<f64>,
    /// User impact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// Detector results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<DetectorResult>,
    /// Ranking at detection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranking: Vec<RankedAtDetection>,
    /// What fixed it.
    #[serde(default)]
    pub remediation: String,
    /// Follow-up actions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<String>,
    /// Free keywords.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The Markdown after the front matter.
    #[serde(skip)]
    pub body: String,
}

impl Postmortem {
    /// The first paragraph of the body under `## Summary` (or the first paragraph), one line.
    #[must_use]
    pub fn summary(&self) -> String {
        let after = self
            .body
            .split_once("## Summary")
            .map_or(self.body.as_str(), |(_, rest)| rest);
        let paragraph: Vec<&str> = after
            .lines()
            .map(str::trim)
            .skip_while(|line| line.is_empty() || line.starts_with('#'))
            .take_while(|line| !line.is_empty() && !line.starts_with('#'))
            .collect();
        let mut text = paragraph.join(" ");
        if text.chars().count() > 300 {
            text = text.chars().take(297).collect::<String>() + "...";
        }
        text
    }
}

/// Checks size and encoding, then parses and validates `bytes` read from `path`.
///
/// # Errors
/// [`RecordError`] naming the file (and the field, for schema errors).
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Postmortem, RecordError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(RecordError::TooLarge {
            path: path.to_owned(),
            bytes: bytes.len(),
        });
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(RecordError::Binary {
            path: path.to_owned(),
            reason: format!("NUL byte at offset {at}"),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| RecordError::Binary {
        path: path.to_owned(),
        reason: format!("invalid UTF-8 at offset {}", e.valid_up_to()),
    })?;
    parse(path, text)
}

/// Splits `---\n<yaml>\n---\n<body>`.
fn split_front_matter<'a>(path: &Path, text: &'a str) -> Result<(&'a str, &'a str), RecordError> {
    let missing = |message: &str| RecordError::FrontMatter {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| missing("no YAML front matter: the file must start with a `---` line"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Ok((yaml, body));
        }
        offset += line.len();
    }
    Err(missing(
        "unterminated front matter: no closing `---` line after the YAML",
    ))
}

/// Parses and validates a postmortem.
///
/// # Errors
/// [`RecordError`] naming the file and the field.
pub fn parse(path: &Path, text: &str) -> Result<Postmortem, RecordError> {
    let (yaml, body) = split_front_matter(path, text)?;
    let mut record: Postmortem = yaml_serde::from_str(yaml).map_err(|e| RecordError::Yaml {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    record.body = body.to_owned();
    validate(path, &record)?;
    Ok(record)
}

fn is_signal_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !id.starts_with('.')
}

/// Validates the fields serde cannot: ids, times, fault class, signal names, scores.
///
/// # Errors
/// [`RecordError::Invalid`] naming the field.
pub fn validate(path: &Path, record: &Postmortem) -> Result<(), RecordError> {
    let invalid = |field: &str, message: String| RecordError::Invalid {
        path: path.to_owned(),
        field: field.to_owned(),
        message,
    };
    if !is_id(&record.id) {
        return Err(invalid(
            "id",
            format!(
                "`{}` is not a valid id: use 1-128 letters, digits, `-`, `_` or `.`",
                record.id
            ),
        ));
    }
    if record.title.trim().is_empty() {
        return Err(invalid("title", "must not be empty".to_owned()));
    }
    for (field, value) in [
        ("started", &record.started),
        ("detected", &record.detected),
        ("resolved", &record.resolved),
    ] {
        if let Some(text) = value {
            let parsed = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| invalid(field, format!("`{text}` is not an RFC 3339 time: {e}")))?;
            if parsed.offset().local_minus_utc() != 0 {
                return Err(invalid(
                    field,
                    format!("`{text}` must be in UTC (`Z` or `+00:00`)"),
                ));
            }
        }
    }
    if !record.fault_class.is_empty() {
        record
            .fault_class
            .parse::<FaultClass>()
            .map_err(|message| invalid("fault_class", message))?;
    }
    for (role, signals) in record.symptom_signature.roles() {
        for signal in signals {
            if !is_signal_name(signal) {
                return Err(invalid(
                    &format!("symptom_signature.{role}"),
                    format!("`{signal}` is not a signal name (lowercase snake_case)"),
                ));
            }
        }
    }
    for (service, signals) in &record.symptom_signature.services {
        for (signal, score) in signals {
            if !is_signal_name(signal) {
                return Err(invalid(
                    &format!("symptom_signature.services.{service}"),
                    format!("`{signal}` is not a signal name (lowercase snake_case)"),
                ));
            }
            if !score.is_finite() || !(0.0..=1.0).contains(score) {
                return Err(invalid(
                    &format!("symptom_signature.services.{service}.{signal}"),
                    format!("score {score} is outside [0, 1]"),
                ));
            }
        }
    }
    for (field, value) in [
        ("mttd_secs", record.mttd_secs),
        ("mttr_secs", record.mttr_secs),
    ] {
        if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(invalid(field, "must be a non-negative number".to_owned()));
        }
    }
    Ok(())
}

/// Renders a postmortem back to Markdown with front matter; [`parse`] of the result gives the
/// same record.
///
/// # Errors
/// When YAML serialisation fails (non-finite numbers).
pub fn render(record: &Postmortem) -> Result<String, String> {
    let yaml = yaml_serde::to_string(record).map_err(|e| e.to_string())?;
    let mut text = String::with_capacity(yaml.len() + record.body.len() + 8);
    text.push_str("---\n");
    text.push_str(&yaml);
    if !yaml.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("---\n");
    text.push_str(&record.body);
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PLAYBOOK: &str = "---\nid: playbook-network-delay\ntitle: \"Network delay: added latency\"\nsource: playbook\nfault_class: network-delay\nroot_cause_service: \"\"\naffected_services: []\nsymptom_signature:\n  service: [latency_p50_ms, latency_p99_ms, span_latency]\n  gateway: [latency_p99_ms]\nremediation: \"Remove the delay source.\"\ntags: [network-delay, latency]\n---\n\n## Summary\nA delay on one service.\nSecond line.\n\n## How\nx\n";

    fn full() -> Postmortem {
        let mut record = parse(Path::new("p.md"), PLAYBOOK).unwrap();
        record.id = "inc-2026-12-01-carts".to_owned();
        record.source = Source::ChaosExperiment;
        record.started = Some("2026-12-01T10:00:00Z".to_owned());
        record.detected = Some("2026-12-01T10:01:30Z".to_owned());
        record.scenario = Some("scenarios/carts-delay.yaml".to_owned());
        record.chaos_kind = Some("NetworkChaos".to_owned());
        record.root_cause_service = "carts".to_owned();
        record.symptom_signature.services.insert(
            "carts".to_owned(),
            BTreeMap::from([("span_latency".to_owned(), 0.91)]),
        );
        record.mttd_secs = Some(90.0);
        record.detectors.push(DetectorResult {
            detector: "traces".to_owned(),
            fired: true,
            score: Some(0.91),
        });
        record.ranking.push(RankedAtDetection {
            service: "carts".to_owned(),
            p_root_cause: 0.8,
            p_outage: Some(0.7),
        });
        record.follow_ups.push("add a timeout".to_owned());
        record
    }

    #[test]
    fn parses_the_curated_format() {
        let record = parse(Path::new("p.md"), PLAYBOOK).unwrap();
        assert_eq!(record.id, "playbook-network-delay");
        assert_eq!(record.source, Source::Playbook);
        assert_eq!(record.symptom_signature.gateway, vec!["latency_p99_ms"]);
        assert_eq!(record.symptom_signature.service.len(), 3);
        assert_eq!(record.summary(), "A delay on one service. Second line.");
        assert!(record.body.starts_with("\n## Summary"));
    }

    #[test]
    fn render_then_parse_is_identity() {
        let record = full();
        let text = render(&record).unwrap();
        let again = parse(Path::new("q.md"), &text).unwrap();
        assert_eq!(again, record);
        assert_eq!(render(&again).unwrap(), text);
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let bad_class = PLAYBOOK.replace("fault_class: network-delay", "fault_class: gremlins");
        let error = parse(Path::new("kb/x.md"), &bad_class)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("kb/x.md") && error.contains("fault_class"),
            "{error}"
        );
        let no_title = PLAYBOOK.replace("title: \"Network delay: added latency\"\n", "");
        let error = parse(Path::new("kb/y.md"), &no_title)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("kb/y.md") && error.contains("title"),
            "{error}"
        );
        let bad_role = PLAYBOOK.replace("  gateway:", "  gatewy:");
        let error = parse(Path::new("z.md"), &bad_role).unwrap_err().to_string();
        assert!(error.contains("gatewy"), "{error}");
        let bad_time = PLAYBOOK.replace("source: playbook", "source: playbook\nstarted: yesterday");
        let error = parse(Path::new("t.md"), &bad_time).unwrap_err().to_string();
        assert!(error.contains("started"), "{error}");
        let local = PLAYBOOK.replace(
            "source: playbook",
            "source: playbook\nstarted: 2026-12-01T10:00:00+02:00",
        );
        let error = parse(Path::new("t.md"), &local).unwrap_err().to_string();
        assert!(error.contains("UTC"), "{error}");
        let error = parse(Path::new("n.md"), "# just markdown\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("n.md") && error.contains("front matter"),
            "{error}"
        );
        let error = parse(Path::new("u.md"), "---\nid: a\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("unterminated"), "{error}");
        let bad_id = PLAYBOOK.replace("id: playbook-network-delay", "id: \"../etc\"");
        let error = parse(Path::new("i.md"), &bad_id).unwrap_err().to_string();
        assert!(error.contains("`id`"), "{error}");
    }

    #[test]
    fn rejects_huge_and_binary_files() {
        let huge = vec![b'a'; MAX_FILE_BYTES + 1];
        assert!(matches!(
            parse_bytes(Path::new("h.md"), &huge),
            Err(RecordError::TooLarge { .. })
        ));
        let mut nul = PLAYBOOK.as_bytes().to_vec();
        nul.insert(10, 0);
        let error = parse_bytes(Path::new("b.md"), &nul)
            .unwrap_err()
            .to_string();
        assert!(error.contains("NUL") && error.contains("b.md"), "{error}");
        let error = parse_bytes(Path::new("c.md"), &[b'-', 0xff, 0xfe])
            .unwrap_err()
            .to_string();
        assert!(error.contains("UTF-8"), "{error}");
    }
}
