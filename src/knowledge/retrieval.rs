//! Retrieval shared by every backend (pure): the query, the filters, the text derived from a
//! record for indexing, the signature ranking and the fusion of the three rankings (text,
//! dense vectors, symptom signature) into [`Hit`]s. The embedded store and the Qdrant backend
//! produce the three ranked lists their own way and hand them to [`fuse`], so both rank alike.

use super::record::{Postmortem, Source, SymptomSignature};
use super::signature::{self, SignatureVector};
use super::vectors::{self, RRF_K};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Body chunk size for vectors, characters.
pub const CHUNK_CHARS: usize = 800;
/// Candidates taken from each retriever before fusion.
pub const CANDIDATES: usize = 50;

/// A record as stored: where it came from, the content hash, the record and its body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// The Markdown file.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes (hex).
    pub hash: String,
    /// The front matter.
    pub record: Postmortem,
    /// The Markdown body.
    pub body: String,
}

impl StoredRecord {
    /// The record with its body.
    #[must_use]
    pub fn postmortem(&self) -> Postmortem {
        let mut record = self.record.clone();
        record.body.clone_from(&self.body);
        record
    }
}

/// SHA-256 hex of `bytes`.
#[must_use]
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What to retrieve.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Free text (BM25 and vectors); may be empty.
    pub text: String,
    /// A symptom signature to match, when there is one.
    pub signature: Option<SymptomSignature>,
    /// The service the signature centres on (the top suspect of an analysis, a record's root
    /// cause): its own signals are compared with each record's root-cause signals.
    pub focus_service: Option<String>,
    /// Only records about this service (root cause or affected).
    pub service: Option<String>,
    /// Only records of this fault class.
    pub fault_class: Option<String>,
    /// Only records carrying all these tags.
    pub tags: Vec<String>,
    /// Only records that started at or after this instant (RFC 3339).
    pub started_after: Option<String>,
    /// Only records that started before this instant (RFC 3339).
    pub started_before: Option<String>,
    /// Leave these sources out.
    pub exclude_sources: Vec<Source>,
    /// Leave this id out (leave-one-out evaluation).
    pub exclude_id: Option<String>,
    /// Results wanted.
    pub limit: usize,
}

/// One retrieval result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Record id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Fault class.
    pub fault_class: String,
    /// Root-cause service.
    pub root_cause_service: String,
    /// Fused RRF score.
    pub score: f64,
    /// The fused score over the best possible one (every retriever ranks it first), in [0, 1].
    pub similarity: f64,
    /// 1-based rank in the text (BM25 / sparse) list.
    pub bm25_rank: Option<usize>,
    /// 1-based rank in the vector list.
    pub vector_rank: Option<usize>,
    /// 1-based rank in the signature list.
    pub signature_rank: Option<usize>,
    /// Signature similarity, when a signature was given.
    pub signature_similarity: Option<f64>,
}

/// Seconds since the epoch of an RFC 3339 instant.
#[must_use]
pub fn epoch_secs(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// Whether the query filters on the records themselves (sources, service, fault class, time,
/// tags), beyond leaving one id out.
#[must_use]
pub fn filters_records(query: &SearchQuery) -> bool {
    !query.exclude_sources.is_empty()
        || query.service.is_some()
        || query.fault_class.is_some()
        || query.started_after.is_some()
        || query.started_before.is_some()
        || !query.tags.is_empty()
}

/// Whether `record` passes the query's filters (id, sources, service, fault class, tags,
/// time). A record without a start time fails a time filter.
#[must_use]
pub fn passes(record: &Postmortem, query: &SearchQuery) -> bool {
    if query.exclude_id.as_deref() == Some(record.id.as_str())
        || query.exclude_sources.contains(&record.source)
    {
        return false;
    }
    if let Some(service) = &query.service
        && record.root_cause_service != *service
        && !record.affected_services.contains(service)
    {
        return false;
    }
    if let Some(fault) = &query.fault_class
        && record.fault_class != *fault
    {
        return false;
    }
    if query.started_after.is_some() || query.started_before.is_some() {
        let Some(started) = record.started.as_deref().and_then(epoch_secs) else {
            return false;
        };
        if let Some(after) = query.started_after.as_deref().and_then(epoch_secs)
            && started < after
        {
            return false;
        }
        if let Some(before) = query.started_before.as_deref().and_then(epoch_secs)
            && started >= before
        {
            return false;
        }
    }
    query.tags.iter().all(|tag| record.tags.contains(tag))
}

/// Searchable text derived from the front matter: signals, remediation, tags, services.
#[must_use]
pub fn evidence_text(record: &Postmortem) -> String {
    let mut text = Vec::new();
    for (role, signals) in record.symptom_signature.roles() {
        for signal in signals {
            text.push(format!("{role} {signal}"));
        }
    }
    for (service, signals) in &record.symptom_signature.services {
        for signal in signals.keys() {
            text.push(format!("{service} {signal}"));
        }
    }
    text.push(record.fault_class.clone());
    text.push(record.root_cause_service.clone());
    text.extend(record.affected_services.iter().cloned());
    text.push(record.remediation.clone());
    text.extend(record.tags.iter().cloned());
    text.extend(record.follow_ups.iter().cloned());
    if let Some(impact) = &record.impact {
        text.push(impact.clone());
    }
    text.join("\n")
}

/// The texts embedded for a record: a summary vector first, then the body chunks.
#[must_use]
pub fn vector_texts(record: &Postmortem, body: &str) -> Vec<String> {
    let mut texts = vec![format!(
        "{}\n{}\n{}",
        record.title,
        record.remediation,
        evidence_text(record)
    )];
    texts.extend(vectors::chunk(body, CHUNK_CHARS));
    texts
}

/// The signature ranking: candidates by similarity to `wanted` (positive only), best first,
/// ties by id, at most [`CANDIDATES`].
#[must_use]
pub fn signature_ranking<'a>(
    wanted: &SymptomSignature,
    focus: Option<&str>,
    candidates: impl Iterator<Item = (&'a String, &'a SignatureVector)>,
) -> Vec<(String, f64)> {
    let wanted = signature::vectorize_focused(wanted, focus);
    let mut scored: Vec<(String, f64)> = candidates
        .map(|(id, v)| (id.clone(), signature::similarity(&wanted, v)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.truncate(CANDIDATES);
    scored
}

/// The three rankings of one query, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rankings {
    /// Text retrieval (BM25 in the embedded store, IDF-weighted sparse vectors in Qdrant).
    pub text: Vec<String>,
    /// Dense vectors (best of the summary vector and the body chunks).
    pub vector: Vec<String>,
    /// Symptom signature, with the similarity.
    pub signature: Vec<(String, f64)>,
}

/// Weight of the text (BM25 / sparse) ranking in the fusion.
pub const TEXT_WEIGHT: f64 = 0.5;
/// Weight of the dense-vector ranking in the fusion.
pub const VECTOR_WEIGHT: f64 = 0.5;
/// Weight of the symptom-signature ranking in the fusion: the one retriever built to match a
/// fault of the same kind on another service. The text and vector rankings read the same
/// words (service names first), so they favour incidents of the *same* service; at equal
/// weights they outvoted the signature (on the simulator's leave-one-out set a payment
/// partition retrieved payment's pod failure first while the signature ranked a partition
/// first; EVALUATION.md, 2026-12-03). A query without a signature is ranked by text and vectors alone.
pub const SIGNATURE_WEIGHT: f64 = 2.0;

/// Fuses the rankings with weighted reciprocal rank fusion ([`RRF_K`], [`TEXT_WEIGHT`],
/// [`VECTOR_WEIGHT`], [`SIGNATURE_WEIGHT`]) into at most `limit` hits; `lookup` gives the
/// record of an id (ids it does not know are dropped).
#[must_use]
pub fn fuse<'a>(
    rankings: &Rankings,
    limit: usize,
    lookup: impl Fn(&str) -> Option<&'a Postmortem>,
) -> Vec<Hit> {
    let signature_ids: Vec<String> = rankings
        .signature
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let lists: [(&[String], f64); 3] = [
        (&rankings.text, TEXT_WEIGHT),
        (&rankings.vector, VECTOR_WEIGHT),
        (&signature_ids, SIGNATURE_WEIGHT),
    ];
    // The score of a record every non-empty list ranks first.
    let best_possible: f64 = lists
        .iter()
        .filter(|(list, _)| !list.is_empty())
        .map(|(_, weight)| weight / (RRF_K + 1.0))
        .sum();
    let rank_in = |list: &[String], id: &str| list.iter().position(|x| x == id).map(|r| r + 1);
    let scores: BTreeMap<&str, f64> = rankings
        .signature
        .iter()
        .map(|(id, s)| (id.as_str(), *s))
        .collect();
    vectors::reciprocal_rank_fusion(&lists, RRF_K)
        .into_iter()
        .filter_map(|(id, score)| {
            let record = lookup(&id)?;
            Some(Hit {
                title: record.title.clone(),
                fault_class: record.fault_class.clone(),
                root_cause_service: record.root_cause_service.clone(),
                score,
                similarity: if best_possible > 0.0 {
                    (score / best_possible).clamp(0.0, 1.0)
                } else {
                    0.0
                },
                bm25_rank: rank_in(&rankings.text, &id),
                vector_rank: rank_in(&rankings.vector, &id),
                signature_rank: rank_in(&signature_ids, &id),
                signature_similarity: scores.get(id.as_str()).copied(),
                id,
            })
        })
        .take(limit.max(1))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::knowledge::record::parse;
    use std::path::Path;

    fn record(id: &str, class: &str, service: &str, started: &str) -> Postmortem {
        parse(
            Path::new("x.md"),
            &format!(
                "---\nid: {id}\ntitle: \"T {id}\"\nstarted: {started}\nsource: live-incident\n\
                 fault_class: {class}\nroot_cause_service: {service}\naffected_services: [front-end]\n\
                 tags: [a, b]\n---\n\nbody\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn filters_cover_service_class_tags_time_sources_and_id() {
        let r = record("x", "cpu-stress", "orders", "2026-03-01T10:00:00Z");
        let q = SearchQuery::default();
        assert!(passes(&r, &q));
        let with = |f: &dyn Fn(&mut SearchQuery)| {
            let mut q = SearchQuery::default();
            f(&mut q);
            passes(&r, &q)
        };
        assert!(with(&|q| q.service = Some("front-end".into())));
        assert!(!with(&|q| q.service = Some("carts".into())));
        assert!(!with(&|q| q.fault_class = Some("pod-failure".into())));
        assert!(with(&|q| q.tags = vec!["a".into(), "b".into()]));
        assert!(!with(&|q| q.tags = vec!["a".into(), "c".into()]));
        assert!(with(
            &|q| q.started_after = Some("2026-03-01T10:00:00Z".into())
        ));
        assert!(!with(
            &|q| q.started_after = Some("2026-03-01T10:00:01Z".into())
        ));
        assert!(!with(
            &|q| q.started_before = Some("2026-03-01T10:00:00Z".into())
        ));
        assert!(with(
            &|q| q.started_before = Some("2026-03-02T00:00:00+01:00".into())
        ));
        assert!(!with(&|q| q.exclude_id = Some("x".into())));
        assert!(!with(&|q| q.exclude_sources = vec![Source::LiveIncident]));
    }

    #[test]
    fn fusion_rewards_agreement_and_normalises_similarity() {
        let a = record("a", "cpu-stress", "orders", "2026-03-01T10:00:00Z");
        let b = record("b", "pod-failure", "carts", "2026-03-01T10:00:00Z");
        let rankings = Rankings {
            text: vec!["a".into(), "b".into()],
            vector: vec!["b".into(), "a".into(), "ghost".into()],
            signature: vec![("b".into(), 0.8)],
        };
        let lookup = |id: &str| match id {
            "a" => Some(&a),
            "b" => Some(&b),
            _ => None,
        };
        let hits = fuse(&rankings, 5, lookup);
        assert_eq!(hits.len(), 2, "unknown ids are dropped: {hits:?}");
        assert_eq!(hits[0].id, "b");
        let expected = TEXT_WEIGHT / (RRF_K + 2.0)
            + VECTOR_WEIGHT / (RRF_K + 1.0)
            + SIGNATURE_WEIGHT / (RRF_K + 1.0);
        assert!((hits[0].score - expected).abs() < 1e-12);
        let best = (TEXT_WEIGHT + VECTOR_WEIGHT + SIGNATURE_WEIGHT) / (RRF_K + 1.0);
        assert!((hits[0].similarity - expected / best).abs() < 1e-12);
        // a: first by text, second by vectors, no signature.
        let a_score = TEXT_WEIGHT / (RRF_K + 1.0) + VECTOR_WEIGHT / (RRF_K + 2.0);
        assert!((hits[1].score - a_score).abs() < 1e-12);
        assert_eq!(
            (
                hits[0].bm25_rank,
                hits[0].vector_rank,
                hits[0].signature_rank
            ),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(hits[0].signature_similarity, Some(0.8));
        assert_eq!(hits[1].signature_rank, None);
        assert_eq!(fuse(&rankings, 1, lookup).len(), 1);
        // The signature outweighs the two text rankings together: a record the signature
        // ranks first and both text lists rank second beats the one they rank first.
        let against_text = Rankings {
            text: vec!["a".into(), "b".into()],
            vector: vec!["a".into(), "b".into()],
            signature: vec![("b".into(), 0.6), ("a".into(), 0.5)],
        };
        assert_eq!(fuse(&against_text, 2, lookup)[0].id, "b");
        // Without a signature the text rankings alone decide, and a first place in both is
        // the best possible similarity.
        let text_only = Rankings {
            text: vec!["a".into(), "b".into()],
            vector: vec!["a".into()],
            signature: Vec::new(),
        };
        let hits = fuse(&text_only, 2, lookup);
        assert_eq!(hits[0].id, "a");
        assert!((hits[0].similarity - 1.0).abs() < 1e-12);
        assert!(fuse(&Rankings::default(), 3, lookup).is_empty());
    }
}
