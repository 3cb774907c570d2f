//! Symptom-signature similarity (pure). A signature is turned into two sparse vectors: one over
//! `(role, signal)` pairs and one over signals alone, so that a past incident of the same fault
//! kind on a *different* service of the same role matches as well as one on the same service.
//! Similarity is a weighted sum of the two cosines.

use super::record::{Postmortem, SymptomSignature};
use crate::analysis::Analysis;
use crate::model::ServiceRole;
use std::collections::BTreeMap;

/// Weight of the `(role, signal)` cosine; the signal-only cosine gets the rest.
pub const ROLE_WEIGHT: f64 = 0.7;
/// Weight of the focus cosine (the culprit's own signals) when both sides have a focus; the
/// role and signal cosines share the rest in the [`ROLE_WEIGHT`] proportion.
pub const FOCUS_WEIGHT: f64 = 0.4;

/// Sparse weighted vectors of one signature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignatureVector {
    /// Weight per `(role, signal)`.
    pub by_role: BTreeMap<(String, String), f64>,
    /// Weight per signal.
    pub by_signal: BTreeMap<String, f64>,
    /// Weight per signal of the focal service alone (the root cause of a record, the top
    /// suspect of an analysis): what the culprit itself showed, apart from what spread.
    pub focus: BTreeMap<String, f64>,
}

impl SignatureVector {
    /// Whether nothing is in it.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_signal.is_empty()
    }
}

/// The role name used in signatures (unknown services count as `service`).
#[must_use]
pub fn role_name(role: ServiceRole) -> &'static str {
    match role {
        ServiceRole::Gateway => "gateway",
        ServiceRole::Database => "database",
        ServiceRole::Cache => "cache",
        ServiceRole::Queue => "queue",
        ServiceRole::Service | ServiceRole::Unknown => "service",
    }
}

fn bump<K: Ord>(map: &mut BTreeMap<K, f64>, key: K, weight: f64) {
    let slot = map.entry(key).or_insert(0.0);
    *slot = slot.max(weight);
}

/// Vectorises a signature: role lists weigh 1; per-service scores weigh their score, under
/// the role [`ServiceRole::guess`] gives the service.
#[must_use]
pub fn vectorize(signature: &SymptomSignature) -> SignatureVector {
    vectorize_focused(signature, None)
}

/// The signature vector of a stored record, focused on its root-cause service.
#[must_use]
pub fn of_record(record: &Postmortem) -> SignatureVector {
    let focus = Some(record.root_cause_service.as_str()).filter(|s| !s.is_empty());
    vectorize_focused(&record.symptom_signature, focus)
}

/// As [`vectorize`], plus the signals of `focus` (when it has any) as the focus part.
#[must_use]
pub fn vectorize_focused(signature: &SymptomSignature, focus: Option<&str>) -> SignatureVector {
    let mut vector = SignatureVector::default();
    if let Some(signals) = focus.and_then(|f| signature.services.get(f)) {
        for (signal, &score) in signals {
            if score.is_finite() && score > 0.0 {
                bump(&mut vector.focus, signal.clone(), score);
            }
        }
    }
    for (role, signals) in signature.roles() {
        for signal in signals {
            bump(&mut vector.by_role, (role.to_owned(), signal.clone()), 1.0);
            bump(&mut vector.by_signal, signal.clone(), 1.0);
        }
    }
    for (service, signals) in &signature.services {
        let role = role_name(ServiceRole::guess(service));
        for (signal, &score) in signals {
            if score.is_finite() && score > 0.0 {
                bump(
                    &mut vector.by_role,
                    (role.to_owned(), signal.clone()),
                    score,
                );
                bump(&mut vector.by_signal, signal.clone(), score);
            }
        }
    }
    vector
}

/// Cosine of two sparse vectors (0 when either is empty).
#[must_use]
pub fn cosine<K: Ord>(a: &BTreeMap<K, f64>, b: &BTreeMap<K, f64>) -> f64 {
    let dot: f64 = a
        .iter()
        .filter_map(|(key, x)| b.get(key).map(|y| x * y))
        .sum();
    let norm = |m: &BTreeMap<K, f64>| m.values().map(|v| v * v).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        (dot / (na * nb)).clamp(0.0, 1.0)
    }
}

/// Similarity in [0, 1]: `ROLE_WEIGHT·cos(role, signal) + (1 − ROLE_WEIGHT)·cos(signal)`;
/// when both sides have a focus, that sum weighs `1 − FOCUS_WEIGHT` and the cosine of the
/// foci `FOCUS_WEIGHT`.
#[must_use]
pub fn similarity(a: &SignatureVector, b: &SignatureVector) -> f64 {
    let spread = ROLE_WEIGHT * cosine(&a.by_role, &b.by_role)
        + (1.0 - ROLE_WEIGHT) * cosine(&a.by_signal, &b.by_signal);
    if a.focus.is_empty() || b.focus.is_empty() {
        spread
    } else {
        (1.0 - FOCUS_WEIGHT) * spread + FOCUS_WEIGHT * cosine(&a.focus, &b.focus)
    }
}

/// Builds the signature of an analysis: the signals of the anomaly events in the ranked range,
/// per service (with the peak score) and per role (from the graph, else guessed from the
/// name). Only services above the green band or with events count, and the top suspect's
/// signals are always in.
#[must_use]
pub fn from_analysis(analysis: &Analysis) -> SymptomSignature {
    let mut signature = SymptomSignature::default();
    for event in &analysis.report.events {
        if event.window_start < analysis.focus.start || event.window_start >= analysis.focus.end {
            continue;
        }
        if !event.score.is_finite() || event.signal.is_empty() {
            continue;
        }
        let score = event.score.clamp(0.0, 1.0);
        let signals = signature.services.entry(event.service.clone()).or_default();
        let mut add = |signal: String, weight: f64| {
            let slot = signals.entry(signal).or_insert(0.0);
            *slot = slot.max(weight);
        };
        add(event.signal.to_ascii_lowercase(), score);
        for delta in &event.evidence.metric_deltas {
            if let Some(signed) = signed_signal(delta) {
                add(signed, SIGNED_WEIGHT * score);
            }
        }
    }
    for (service, signals) in &signature.services.clone() {
        let role = analysis
            .graph
            .service(service)
            .map(|node| node.role)
            .filter(|role| *role != ServiceRole::Unknown)
            .unwrap_or_else(|| ServiceRole::guess(service));
        if let Some(list) = signature.role_mut(role_name(role)) {
            for signal in signals.keys() {
                if !list.contains(signal) {
                    list.push(signal.clone());
                }
            }
            list.sort();
        }
    }
    signature
}

/// Robust z beyond which a metric delta says which way the signal moved.
const SIGNED_Z: f64 = 3.0;
/// Weight of a signed change relative to the event's own signal.
const SIGNED_WEIGHT: f64 = 0.5;

/// `latency_p50_ms` that rose becomes `latency_p50_ms_up`: the direction of each strong metric
/// change, so a vanished pod (its memory and traffic *down*) and a cut link (callers' errors
/// up, its own traffic unchanged) leave different signatures, as do a bandwidth limit (p99 up,
/// p50 barely) and a delay (both up).
fn signed_signal(delta: &crate::detect::event::MetricDelta) -> Option<String> {
    if !delta.z.is_finite() || delta.z.abs() < SIGNED_Z || delta.signal.is_empty() {
        return None;
    }
    let direction = if delta.observed > delta.baseline {
        "up"
    } else if delta.observed < delta.baseline {
        "down"
    } else {
        return None;
    };
    let name: String = delta
        .signal
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    // A signal name as records require it (lowercase snake_case).
    Some(format!("{name}_{direction}"))
}

/// Evidence text of an analysis: the top suspects' evidence descriptions, for text retrieval.
#[must_use]
pub fn evidence_text(analysis: &Analysis, suspects: usize) -> String {
    let mut text = String::new();
    for ranked in analysis.ranking.ranking.iter().take(suspects) {
        text.push_str(&ranked.service);
        text.push('\n');
        for item in &ranked.evidence {
            text.push_str(&item.description);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::detect::event::MetricDelta;

    fn delta(signal: &str, baseline: f64, observed: f64, z: f64) -> MetricDelta {
        MetricDelta {
            signal: signal.to_owned(),
            baseline,
            observed,
            z,
        }
    }

    #[test]
    fn strong_metric_changes_carry_their_direction() {
        assert_eq!(
            signed_signal(&delta("memory_mb", 89.0, 1.0, -12.0)).as_deref(),
            Some("memory_mb_down")
        );
        assert_eq!(
            signed_signal(&delta("Latency_P99_ms", 20.0, 900.0, 45.0)).as_deref(),
            Some("latency_p99_ms_up")
        );
        // Weak, flat, non-finite or unnamed changes say nothing.
        assert_eq!(signed_signal(&delta("cpu", 0.2, 0.25, 2.9)), None);
        assert_eq!(signed_signal(&delta("cpu", 0.2, 0.2, 8.0)), None);
        assert_eq!(signed_signal(&delta("cpu", 0.2, 0.9, f64::NAN)), None);
        assert_eq!(signed_signal(&delta("", 0.2, 0.9, 8.0)), None);
    }

    fn with_services(services: &[(&str, &[(&str, f64)])]) -> SymptomSignature {
        let mut signature = SymptomSignature::default();
        for (service, signals) in services {
            signature.services.insert(
                (*service).to_owned(),
                signals.iter().map(|(s, v)| ((*s).to_owned(), *v)).collect(),
            );
        }
        signature
    }

    #[test]
    fn same_fault_class_on_another_service_beats_another_fault_on_the_same_service() {
        let pod_failure_carts = with_services(&[
            (
                "carts",
                &[
                    ("health", 0.9),
                    ("traffic_rps", 0.8),
                    ("restarts_per_s", 0.7),
                ],
            ),
            ("front-end", &[("error_ratio", 0.8)]),
        ]);
        let cpu_stress_orders = with_services(&[
            ("orders", &[("cpu_cores", 0.95), ("latency_p99_ms", 0.7)]),
            ("front-end", &[("latency_p99_ms", 0.5)]),
        ]);
        let query_pod_failure_orders = with_services(&[
            ("orders", &[("health", 0.85), ("traffic_rps", 0.9)]),
            ("front-end", &[("error_ratio", 0.7)]),
        ]);
        let query = vectorize(&query_pod_failure_orders);
        let same_class = similarity(&query, &vectorize(&pod_failure_carts));
        let same_service = similarity(&query, &vectorize(&cpu_stress_orders));
        assert!(
            same_class > 0.8 && same_service < 0.2,
            "{same_class} vs {same_service}"
        );
    }

    #[test]
    fn the_culprits_own_signals_separate_faults_whose_spread_looks_alike() {
        // Both incidents show the same errors at the gateway; only the culprits differ.
        let cpu = with_services(&[
            ("orders", &[("cpu_cores", 0.9)]),
            (
                "front-end",
                &[("latency_p99_ms", 0.9), ("error_ratio", 0.9)],
            ),
        ]);
        let memory = with_services(&[
            ("carts", &[("memory_bytes", 0.9)]),
            (
                "front-end",
                &[("latency_p99_ms", 0.9), ("error_ratio", 0.9)],
            ),
        ]);
        let query = with_services(&[
            ("user", &[("cpu_cores", 0.8)]),
            (
                "front-end",
                &[("latency_p99_ms", 0.9), ("error_ratio", 0.9)],
            ),
        ]);
        let q = vectorize_focused(&query, Some("user"));
        let to_cpu = similarity(&q, &vectorize_focused(&cpu, Some("orders")));
        let to_memory = similarity(&q, &vectorize_focused(&memory, Some("carts")));
        assert!(
            (to_cpu - to_memory - FOCUS_WEIGHT).abs() < 0.2,
            "{to_cpu} vs {to_memory}"
        );
        assert!(to_cpu > to_memory + 0.3);
        // Without a focus on one side the spread alone counts, as before.
        let unfocused = similarity(&vectorize(&query), &vectorize_focused(&cpu, Some("orders")));
        assert!((unfocused - similarity(&vectorize(&query), &vectorize(&cpu))).abs() < 1e-12);
        // A focus on a service without signals adds nothing.
        assert!(vectorize_focused(&query, Some("nobody")).focus.is_empty());
    }

    #[test]
    fn role_lists_and_scored_services_meet_in_one_space() {
        let playbook = SymptomSignature {
            service: vec!["health".into(), "traffic_rps".into()],
            gateway: vec!["error_ratio".into()],
            ..SymptomSignature::default()
        };
        let observed = with_services(&[
            ("shipping", &[("health", 1.0), ("traffic_rps", 1.0)]),
            ("front-end", &[("error_ratio", 1.0)]),
        ]);
        let s = similarity(&vectorize(&playbook), &vectorize(&observed));
        assert!((s - 1.0).abs() < 1e-9, "{s}");
        // The same signals at another role only match on the signal-only part.
        let at_database = SymptomSignature {
            database: vec!["health".into(), "traffic_rps".into(), "error_ratio".into()],
            ..SymptomSignature::default()
        };
        let s = similarity(&vectorize(&playbook), &vectorize(&at_database));
        assert!((s - (1.0 - ROLE_WEIGHT)).abs() < 1e-9, "{s}");
        assert!(similarity(&vectorize(&playbook), &SignatureVector::default()).abs() < 1e-12);
    }
}
