//! Symptom-signature similarity (pure). A signature is turned into two sparse vectors: one over
//! `(role, signal)` pairs and one over signals alone, so that a past incident of the same fault
//! kind on a *different* service of the same role matches as well as one on the same service.
//! Similarity is a weighted sum of the two cosines.

use super::record::{Postmortem, SymptomSignature};
use crate::analysis::Analysis;
use crate::detect::logs::failure;
use crate::model::ServiceRole;
use std::collections::BTreeMap;

/// Weight of the `(role, signal)` cosine; the signal-only cosine gets the rest.
pub const ROLE_WEIGHT: f64 = 0.7;
/// Weight of the focus cosine (the culprit's own signals) when both sides have a focus; the
/// role and signal cosines share the rest in the [`ROLE_WEIGHT`] proportion. The culprit's
/// own symptoms say what kind of fault it is; how they spread depends on who calls it (a
/// database's pod failure reaches the shop through its one caller, a gateway's at once), so
/// the spread weighs less: with 0.4 two database pod failures whose culprits showed the same
/// signals ranked below a partition of a third database (EVALUATION.md, 2026-12-03).
pub const FOCUS_WEIGHT: f64 = 0.8;
/// Weight of the failure-mode cosine (which failure the log lines name: `log_timeout`,
/// `log_refused`, `log_io_error`, …, see [`failure`]) when both sides have one; everything
/// else shares the rest. The mode is the most direct evidence of the kind of fault: callers
/// cut off by a partition time out, callers of a dead pod are refused, whichever service it
/// is, while the other signals (errors, latency) say mostly that *something* failed.
pub const MODE_WEIGHT: f64 = 0.3;

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
    /// Weight per failure mode the log lines named, over all services (the peak score).
    pub modes: BTreeMap<String, f64>,
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
                if failure::FailureKind::from_signal(signal).is_some() {
                    bump(&mut vector.modes, signal.clone(), score);
                }
                bump(
                    &mut vector.by_role,
                    (role.to_owned(), signal.clone()),
                    score,
                );
                bump(&mut vector.by_signal, signal.clone(), score);
            }
        }
    }
    if signature.services.is_empty() {
        // A curated signature lists signals per role only: each named mode weighs 1.
        for (_, signals) in signature.roles() {
            for signal in signals {
                if failure::FailureKind::from_signal(signal).is_some() {
                    bump(&mut vector.modes, signal.clone(), 1.0);
                }
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
/// foci `FOCUS_WEIGHT`; when both sides have failure modes, all that weighs
/// `1 − MODE_WEIGHT` and the cosine of the modes `MODE_WEIGHT` (see [`part_weights`]).
#[must_use]
pub fn similarity(a: &SignatureVector, b: &SignatureVector) -> f64 {
    let weights = part_weights(
        !a.focus.is_empty() && !b.focus.is_empty(),
        !a.modes.is_empty() && !b.modes.is_empty(),
    );
    let cosines = [
        cosine(&a.by_role, &b.by_role),
        cosine(&a.by_signal, &b.by_signal),
        cosine(&a.focus, &b.focus),
        cosine(&a.modes, &b.modes),
    ];
    weights.iter().zip(cosines).map(|(w, c)| w * c).sum()
}

/// The weight of each part's cosine (by role, by signal, focus, modes) in the similarity,
/// given whether both sides have a focus and whether both have failure modes. The weights sum
/// to 1.
#[must_use]
fn part_weights(both_focus: bool, both_modes: bool) -> [f64; PARTS] {
    let rest = if both_modes { 1.0 - MODE_WEIGHT } else { 1.0 };
    let spread = if both_focus {
        rest * (1.0 - FOCUS_WEIGHT)
    } else {
        rest
    };
    [
        spread * ROLE_WEIGHT,
        spread * (1.0 - ROLE_WEIGHT),
        if both_focus { rest * FOCUS_WEIGHT } else { 0.0 },
        if both_modes { MODE_WEIGHT } else { 0.0 },
    ]
}

/// Parts of a compiled signature: by role, by signal, focus, failure modes.
const PARTS: usize = 4;

fn norm<K>(map: &BTreeMap<K, f64>) -> f64 {
    map.values().map(|v| v * v).sum::<f64>().sqrt()
}

fn intern<K: Ord + Clone>(keys: &mut BTreeMap<K, u32>, key: &K) -> u32 {
    if let Some(&id) = keys.get(key) {
        return id;
    }
    let id = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    keys.insert(key.clone(), id);
    id
}

/// The slot of `(part, interned key)` in a dense query: parts interleaved, so that one
/// array serves all four (the by-role part's keys and the others' are separate id spaces).
fn slot(part: usize, key: u32) -> usize {
    (key as usize) * PARTS + part
}

/// Where one record's entries lie in the shared array of a [`SignatureIndex`], and which of
/// the optional parts it has: plain numbers, so a scan reads the rows in one sequence and the
/// entries from one flat array, with no pointer to follow per record.
#[derive(Debug, Clone, Copy)]
struct Row {
    start: usize,
    end: usize,
    /// Bit 0: the record has a focus; bit 1: it has failure modes.
    has: u8,
}

/// The signatures of a store, compiled for ranking many of them against one query. Every
/// record's four parts are one run of `(slot, weight / part norm)` entries in a flat array
/// (a record is a [`Row`] of offsets and flags), so a cosine needs no norm at scan time. The
/// query is spread once into four dense arrays, one per combination of the optional parts a
/// record may have, each holding `part weight × query weight / query norm` per slot: a
/// record's similarity is then one dot product over its entries.
/// [`SignatureIndex::rank`] gives what [`similarity`] gives record by record (to about 1e-7:
/// the weights are stored in single precision, and the summation order differs), at a
/// fraction of the cost.
#[derive(Debug, Clone, Default)]
pub struct SignatureIndex {
    role_keys: BTreeMap<(String, String), u32>,
    signal_keys: BTreeMap<String, u32>,
    entries: super::vectors::Keyed<Row>,
    /// Every row's entries side by side (8 bytes an entry, read once per query): the slot
    /// ([`slot`]) and the weight divided by its part's norm, in single precision.
    parts: Vec<(u32, f32)>,
    /// Array positions no row points at any more (replaced or removed records); compacted
    /// when they outnumber the live ones.
    garbage: usize,
}

impl SignatureIndex {
    /// Adds or replaces the signature of `id`.
    pub fn upsert(&mut self, id: &str, vector: &SignatureVector) {
        let mut entries: Vec<(u32, f32)> = Vec::new();
        let mut push = |part: usize, ids: Vec<(u32, f64)>| {
            let part_norm = ids.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
            if part_norm <= 0.0 || !part_norm.is_finite() {
                return;
            }
            let mut ids = ids;
            ids.sort_by_key(|&(key, _)| key);
            for (key, weight) in ids {
                let at = u32::try_from(slot(part, key)).unwrap_or(u32::MAX);
                #[allow(clippy::cast_possible_truncation)]
                entries.push((at, (weight / part_norm) as f32));
            }
        };
        let role_ids: Vec<(u32, f64)> = vector
            .by_role
            .iter()
            .map(|(k, &w)| (intern(&mut self.role_keys, k), w))
            .collect();
        push(0, role_ids);
        for (part, map) in [
            (1, &vector.by_signal),
            (2, &vector.focus),
            (3, &vector.modes),
        ] {
            let ids: Vec<(u32, f64)> = map
                .iter()
                .map(|(k, &w)| (intern(&mut self.signal_keys, k), w))
                .collect();
            push(part, ids);
        }
        if let Some(old) = self.entries.get(id) {
            self.garbage += old.end - old.start;
        }
        let start = self.parts.len();
        self.parts.extend(entries);
        let has = u8::from(!vector.focus.is_empty()) | (u8::from(!vector.modes.is_empty()) << 1);
        let row = Row {
            start,
            end: self.parts.len(),
            has,
        };
        self.entries.upsert(id, row);
        self.compact_when_sparse();
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: &str) {
        if let Some(old) = self.entries.get(id) {
            self.garbage += old.end - old.start;
        }
        self.entries.remove(id);
        self.compact_when_sparse();
    }

    /// Rewrites the array without the positions no row points at, once those are the
    /// majority (and not a handful).
    fn compact_when_sparse(&mut self) {
        if self.garbage < 1024 || self.garbage * 2 < self.parts.len() {
            return;
        }
        let live = self.parts.len() - self.garbage;
        let mut parts = Vec::with_capacity(live);
        let mut rows = Vec::with_capacity(self.entries.len());
        for (_, id, row) in self.entries.iter() {
            let start = parts.len();
            parts.extend_from_slice(self.parts.get(row.start..row.end).unwrap_or(&[]));
            rows.push((
                id.to_owned(),
                Row {
                    start,
                    end: parts.len(),
                    has: row.has,
                },
            ));
        }
        for (id, row) in rows {
            self.entries.upsert(&id, row);
        }
        self.parts = parts;
        self.garbage = 0;
    }

    /// Signatures stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The dense query for records whose optional parts are `has` (see [`Row::has`]).
    fn spread_query(&self, wanted: &SignatureVector, has: u8) -> Vec<f64> {
        let width = self.role_keys.len().max(self.signal_keys.len()) * PARTS;
        let mut out = vec![0.0; width];
        let weights = part_weights(
            has & 1 != 0 && !wanted.focus.is_empty(),
            has & 2 != 0 && !wanted.modes.is_empty(),
        );
        let mut fill = |part: usize, id: Option<&u32>, value: f64, part_norm: f64| {
            if let Some(&id) = id
                && part_norm > 0.0
                && let Some(cell) = out.get_mut(slot(part, id))
            {
                *cell = weights[part] * value / part_norm;
            }
        };
        let role_norm = norm(&wanted.by_role);
        for (key, &w) in &wanted.by_role {
            fill(0, self.role_keys.get(key), w, role_norm);
        }
        for (part, map) in [
            (1, &wanted.by_signal),
            (2, &wanted.focus),
            (3, &wanted.modes),
        ] {
            let part_norm = norm(map);
            for (key, &w) in map {
                fill(part, self.signal_keys.get(key), w, part_norm);
            }
        }
        out
    }

    /// The `limit` records `allowed` accepts most similar to `wanted` (positive similarity
    /// only), best first, ties by id.
    #[must_use]
    pub fn rank(
        &self,
        wanted: &SignatureVector,
        limit: usize,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, f64)> {
        let queries: [Vec<f64>; 4] = [0, 1, 2, 3].map(|has| self.spread_query(wanted, has));
        let parts = self.parts.as_slice();
        let scored = self
            .entries
            .iter()
            .map(|(slot, _, row)| {
                let query = &queries[usize::from(row.has & 3)];
                let score: f64 = parts
                    .get(row.start..row.end)
                    .unwrap_or(&[])
                    .iter()
                    .map(|&(at, w)| query.get(at as usize).map_or(0.0, |q| q * f64::from(w)))
                    .sum();
                (score.clamp(0.0, 1.0), slot)
            })
            .filter(|(score, _)| *score > 0.0);
        self.entries
            .best_first(scored, limit, |a, b| b.total_cmp(a), allowed)
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
        for (kind, share) in failure_shares(&event.evidence.log_lines) {
            add(kind.signal().to_owned(), FAILURE_WEIGHT * score * share);
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

/// Weight of a failure mode named by an event's log lines (`log_timeout`, `log_io_error`)
/// relative to the event's own signal: as much, because it is what tells a partition (callers
/// time out) from a pod failure (callers are refused) where both raise the callers' errors.
const FAILURE_WEIGHT: f64 = 1.0;

/// The failure modes an event's log lines name, each with its line count relative to the most
/// frequent one (that one 1): a database whose clients mostly read `Input/output error` and
/// were refused a few times while it restarted is mostly an IO fault.
fn failure_shares(lines: &[crate::detect::event::LogEvidence]) -> Vec<(failure::FailureKind, f64)> {
    let mut counts: BTreeMap<failure::FailureKind, f64> = BTreeMap::new();
    for line in lines {
        if let Some(kind) = failure::classify_evidence(&line.template, &line.example) {
            *counts.entry(kind).or_insert(0.0) += line.count.max(1) as f64;
        }
    }
    let most = counts.values().copied().fold(0.0_f64, f64::max);
    if most <= 0.0 {
        return Vec::new();
    }
    counts
        .into_iter()
        .map(|(kind, count)| (kind, count / most))
        .collect()
}

/// Robust z beyond which a metric delta says which way the signal moved.
const SIGNED_Z: f64 = 3.0;
/// Weight of a signed change relative to the event's own signal: as much, because the
/// direction is what tells a vanished pod (`memory_bytes_down`) from memory stress
/// (`memory_bytes_up`) where the unsigned `memory_bytes` says only that memory moved.
const SIGNED_WEIGHT: f64 = 1.0;

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
    fn the_compiled_index_ranks_as_similarity_does() {
        let signals = [
            "error_ratio",
            "latency_p99_ms",
            "restarts_per_s",
            "cpu_cores",
            "health",
            "log_timeout",
            "log_refused",
        ];
        let services = [
            "front-end",
            "carts",
            "carts-db",
            "orders",
            "rabbitmq",
            "session-db",
        ];
        // 60 deterministic signatures over varied services and signals.
        let signature_of = |i: usize| {
            let entries: Vec<(&str, Vec<(&str, f64)>)> = (0..1 + i % 3)
                .map(|k| {
                    let service = services[(i * 7 + k * 3) % services.len()];
                    #[allow(clippy::cast_precision_loss)]
                    let picked = (0..1 + (i + k) % 3)
                        .map(|j| {
                            (
                                signals[(i + j * 2 + k) % signals.len()],
                                0.5 + ((i * 13 + j) % 50) as f64 / 100.0,
                            )
                        })
                        .collect();
                    (service, picked)
                })
                .collect();
            let borrowed: Vec<(&str, &[(&str, f64)])> =
                entries.iter().map(|(s, v)| (*s, v.as_slice())).collect();
            with_services(&borrowed)
        };
        let mut index = SignatureIndex::default();
        let mut plain = Vec::new();
        for i in 0..60 {
            let focus = services[(i * 7) % services.len()];
            let vector = vectorize_focused(&signature_of(i), Some(focus));
            index.upsert(&format!("r{i:02}"), &vector);
            plain.push((format!("r{i:02}"), vector));
        }
        // Replacing and removing keep the index consistent.
        index.upsert("r05", &plain[6].1);
        plain[5].1 = plain[6].1.clone();
        index.remove("r10");
        plain.remove(10);
        assert_eq!(index.len(), 59);
        for q in 100..110 {
            let wanted = vectorize_focused(&signature_of(q), Some(services[q % services.len()]));
            let allowed = |id: &str| id != "r03";
            let ranked = index.rank(&wanted, 8, &allowed);
            let mut expected: Vec<(String, f64)> = plain
                .iter()
                .filter(|(id, _)| allowed(id))
                .map(|(id, v)| (id.clone(), similarity(&wanted, v)))
                .filter(|(_, s)| *s > 0.0)
                .collect();
            expected.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let exact: BTreeMap<String, f64> = expected.iter().cloned().collect();
            expected.truncate(8);
            assert_eq!(ranked.len(), expected.len());
            for ((id, score), (want_id, want)) in ranked.iter().zip(&expected) {
                // Single-precision weights: equal to 1e-6, and only near-ties may reorder.
                assert!(
                    (score - want).abs() < 1e-6,
                    "{id} {score} vs {want_id} {want}"
                );
                if id != want_id {
                    // (A near-tie at the cut may bring in one the exact list left out.)
                    assert!(
                        exact.get(id).is_some_and(|s| (s - want).abs() < 1e-6),
                        "{id} vs {want_id} at {score}"
                    );
                }
            }
        }
        // Replacing every record again and again leaves dead array positions behind; they
        // are compacted away and the ranking stays exactly the same.
        let wanted = vectorize_focused(&signature_of(200), Some("carts"));
        let before = index.rank(&wanted, 8, &|_| true);
        let live = index.parts.len() - index.garbage;
        for _ in 0..40 {
            for (id, v) in &plain {
                index.upsert(id, v);
            }
        }
        assert_eq!(index.parts.len() - index.garbage, live);
        assert!(
            index.parts.len() <= 2 * live + 1024,
            "{}",
            index.parts.len()
        );
        assert_eq!(index.rank(&wanted, 8, &|_| true), before);
        assert!(
            index
                .rank(&SignatureVector::default(), 5, &|_| true)
                .is_empty()
        );
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

    fn evidence(template: &str, count: u64) -> crate::detect::event::LogEvidence {
        crate::detect::event::LogEvidence {
            template: template.to_owned(),
            example: template.to_owned(),
            count,
            baseline_count: 0.0,
        }
    }

    #[test]
    fn failure_modes_weigh_by_their_share_of_the_lines() {
        let lines = [
            evidence(
                "UncategorizedMongoDbException: 'Input/output error' on server <*>",
                40,
            ),
            evidence("Timed out after <NUM> ms, caused by Connection refused", 10),
            evidence(
                "\tat works.weave.socks.cart.controllers.CartsController.handle",
                50,
            ),
        ];
        let shares = failure_shares(&lines);
        assert_eq!(
            shares,
            vec![
                (failure::FailureKind::IoError, 1.0),
                (failure::FailureKind::Refused, 0.25)
            ]
        );
        assert!(failure_shares(&[evidence("GET /health 200", 9)]).is_empty());
        assert!(failure_shares(&[]).is_empty());
    }

    #[test]
    fn the_failure_mode_tells_a_partition_from_a_pod_failure_of_the_same_service() {
        // The same caller errors either way; the callers' lines say whether they were
        // refused (nothing listening) or timed out (cut off).
        let shared = [
            ("error_ratio", 0.9),
            ("log_caller_errors", 0.85),
            ("span_errors", 0.6),
        ];
        let with_mode = |service: &str, mode: &str| {
            let mut signals: Vec<(&str, f64)> = shared.to_vec();
            signals.push((mode, 0.85));
            let signature =
                with_services(&[(service, &signals), ("front-end", &[("error_ratio", 0.7)])]);
            vectorize_focused(&signature, Some(service))
        };
        let query = with_mode("payment", "log_timeout");
        let pod_failure_here = with_mode("payment", "log_refused");
        let partition_of_a_database = {
            let signature = with_services(&[
                (
                    "session-db",
                    &[("log_caller_errors", 0.9), ("log_timeout", 0.9)],
                ),
                ("front-end", &[("error_ratio", 0.9)]),
            ]);
            vectorize_focused(&signature, Some("session-db"))
        };
        assert_eq!(query.modes.keys().collect::<Vec<_>>(), ["log_timeout"]);
        let to_pod_failure = similarity(&query, &pod_failure_here);
        let to_partition = similarity(&query, &partition_of_a_database);
        assert!(
            to_partition > to_pod_failure,
            "{to_partition} vs {to_pod_failure}"
        );
        // Without the mode part the pod failure of the same service would win.
        let strip = |v: &SignatureVector| SignatureVector {
            modes: BTreeMap::new(),
            ..v.clone()
        };
        assert!(
            similarity(&strip(&query), &strip(&pod_failure_here))
                > similarity(&strip(&query), &strip(&partition_of_a_database))
        );
        // A curated signature names modes in its role lists.
        let playbook = SymptomSignature {
            database: vec!["log_timeout".into(), "tcp_failures_per_s".into()],
            ..SymptomSignature::default()
        };
        assert_eq!(
            vectorize(&playbook).modes,
            BTreeMap::from([("log_timeout".to_owned(), 1.0)])
        );
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
