//! Retrieval quality on the simulator (adapter: a temporary store on disk). Each built-in
//! scenario and random fault is simulated and analysed; a postmortem is drafted from each
//! analysis with its true fault class and root cause; then, leave one out, the analysis of each
//! run is the query over the others' postmortems (playbooks and notes left out), and a hit is a
//! top-k result of the same fault class.

use super::draft;
use super::query_for_analysis;
use super::record::Source;
use super::store::{KnowledgeStore, StoreError, StoredRecord, content_hash};
use super::vectors::HashedBagOfWords;
use crate::analysis::{AnalysisConfig, AnalysisInput, RecordLogs, analyze};
use crate::rca::LinkStrengths;
use crate::sim::engine::SimConfig;
use crate::sim::run::{config_for, run};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// One left-out run.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalRun {
    /// Run name.
    pub name: String,
    /// True fault class.
    pub fault_class: String,
    /// True root cause.
    pub root_cause: String,
    /// Fault classes of the top three results.
    pub top: Vec<String>,
    /// Whether the first result has the same class.
    pub hit1: bool,
    /// Whether one of the first three does.
    pub hit3: bool,
    /// Whether any other run of the same class exists (otherwise no hit is possible).
    pub answerable: bool,
    /// The query's focus (the analysis's top suspect).
    pub focus: Option<String>,
    /// Diagnostics: the query's per-service signals (`service signal score`).
    pub signals: Vec<String>,
    /// Diagnostics: the metric deltas of the focus's events (`kind signal delta: baseline -> observed (z)`).
    pub focus_deltas: Vec<String>,
    /// Diagnostics: the top three hits with their rank in each retriever's list.
    pub hits: Vec<HitRanks>,
    /// Diagnostics: the best-placed hit of the true fault class (among the first 50).
    pub first_same_class: Option<HitRanks>,
}

/// Where one hit stands: fused and per retriever (1-based; `None`: not in that list).
#[derive(Debug, Clone, Serialize)]
pub struct HitRanks {
    /// Record id.
    pub id: String,
    /// Its fault class.
    pub fault_class: String,
    /// Rank in the fused list.
    pub fused: usize,
    /// Rank by text (BM25).
    pub text: Option<usize>,
    /// Rank by vectors.
    pub vector: Option<usize>,
    /// Rank by symptom signature.
    pub signature: Option<usize>,
    /// Signature similarity.
    pub signature_similarity: Option<f64>,
}

fn ranks(position: usize, hit: &super::store::Hit) -> HitRanks {
    HitRanks {
        id: hit.id.clone(),
        fault_class: hit.fault_class.clone(),
        fused: position + 1,
        text: hit.bm25_rank,
        vector: hit.vector_rank,
        signature: hit.signature_rank,
        signature_similarity: hit.signature_similarity,
    }
}

/// The evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    /// The text embedder of the store's vectors.
    pub embedder: String,
    /// Every run.
    pub runs: Vec<RetrievalRun>,
    /// Answerable runs.
    pub answerable: usize,
    /// Top-1 same-class hit rate over answerable runs.
    pub hit_rate_top1: f64,
    /// Top-3 same-class hit rate over answerable runs.
    pub hit_rate_top3: f64,
}

fn shorten(mut config: SimConfig) -> SimConfig {
    config.baseline = Duration::from_secs(480);
    config.fault_duration = Duration::from_secs(300);
    config.recovery = Duration::from_secs(60);
    config
}

/// Runs the leave-one-out evaluation on the built-in scenarios and `random_seeds`, with the
/// store in `store_dir` (emptied first).
///
/// # Errors
/// Simulation, analysis and store errors.
pub fn evaluate(
    store_dir: &Path,
    random_seeds: &[u64],
    embedder: Box<dyn super::vectors::TextEmbedder>,
) -> Result<RetrievalReport, String> {
    let embedder_name = embedder.name();
    let mut sims: Vec<(String, SimConfig)> = crate::scenario::builtin()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|s| (s.name.clone(), shorten(config_for(s, 7))))
        .collect();
    for &seed in random_seeds {
        sims.push((
            format!("random-{seed}"),
            shorten(SimConfig {
                seed,
                fault: Some(crate::sim::random::random_fault(seed)),
                scenario: "random".to_owned(),
                ..SimConfig::default()
            }),
        ));
    }
    let mut cases: Vec<(String, crate::model::GroundTruth, crate::analysis::Analysis)> = Vec::new();
    for (name, sim) in sims {
        let dataset = run(sim)?;
        let Some(truth) = dataset.ground_truth.clone() else {
            continue;
        };
        // Logs included, as `analyze` and `kb similar --to DIR` read them.
        let log_family = RecordLogs::new(&dataset.logs);
        let analysis = analyze(
            &AnalysisInput {
                logs: Some(&log_family),
                ..AnalysisInput::new(&dataset.spans, &dataset.series)
            },
            &AnalysisConfig::default(),
            LinkStrengths::new(),
        )
        .map_err(|e| format!("{name}: {e}"))?;
        cases.push((name, truth, analysis));
    }
    if store_dir.is_dir() {
        std::fs::remove_dir_all(store_dir).map_err(|e| e.to_string())?;
    }
    let mut store =
        KnowledgeStore::open(store_dir, embedder).map_err(|e: StoreError| e.to_string())?;
    let records: Vec<StoredRecord> = cases
        .iter()
        .map(|(name, truth, analysis)| {
            let record = draft::from_analysis(
                analysis,
                name,
                Source::ChaosExperiment,
                truth.fault_class.as_str(),
                Some(&truth.root_cause),
            );
            let body = record.body.clone();
            StoredRecord {
                path: Path::new("eval").join(format!("{name}.md")),
                hash: content_hash(body.as_bytes()),
                record,
                body,
            }
        })
        .collect();
    store.replace_all(records).map_err(|e| e.to_string())?;
    let mut runs = Vec::new();
    for (name, truth, analysis) in &cases {
        let mut query = query_for_analysis(analysis, 50);
        query.exclude_id = Some(name.clone());
        let hits = store.search(&query).map_err(|e| e.to_string())?;
        let class = truth.fault_class.as_str();
        let first_same_class = hits
            .iter()
            .enumerate()
            .find(|(_, h)| h.fault_class == class)
            .map(|(i, h)| ranks(i, h));
        let hits: Vec<HitRanks> = hits
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, h)| ranks(i, h))
            .collect();
        let top: Vec<String> = hits.iter().map(|h| h.fault_class.clone()).collect();
        runs.push(RetrievalRun {
            name: name.clone(),
            fault_class: class.to_owned(),
            root_cause: truth.root_cause.clone(),
            hit1: top.first().is_some_and(|c| c == class),
            hit3: top.iter().any(|c| c == class),
            top,
            answerable: cases
                .iter()
                .any(|(other, t, _)| other != name && t.fault_class == truth.fault_class),
            signals: query
                .signature
                .iter()
                .flat_map(|s| s.services.iter())
                .flat_map(|(service, signals)| {
                    signals
                        .iter()
                        .map(move |(signal, v)| format!("{service} {signal} {v:.2}"))
                })
                .collect(),
            focus_deltas: analysis
                .report
                .events
                .iter()
                .filter(|e| {
                    Some(&e.service) == query.focus_service.as_ref()
                        && e.window_start >= analysis.focus.start
                        && e.window_start < analysis.focus.end
                })
                .flat_map(|e| {
                    e.evidence.metric_deltas.iter().map(move |d| {
                        format!(
                            "{} {} {}: {:.3} -> {:.3} (z {:.1})",
                            e.kind.as_str(),
                            e.signal,
                            d.signal,
                            d.baseline,
                            d.observed,
                            d.z
                        )
                    })
                })
                .collect(),
            focus: query.focus_service.clone(),
            hits,
            first_same_class,
        });
    }
    let answerable: Vec<&RetrievalRun> = runs.iter().filter(|r| r.answerable).collect();
    #[allow(clippy::cast_precision_loss)]
    let rate = |hit: fn(&RetrievalRun) -> bool| {
        if answerable.is_empty() {
            0.0
        } else {
            answerable.iter().filter(|r| hit(r)).count() as f64 / answerable.len() as f64
        }
    };
    Ok(RetrievalReport {
        embedder: embedder_name,
        answerable: answerable.len(),
        hit_rate_top1: rate(|r| r.hit1),
        hit_rate_top3: rate(|r| r.hit3),
        runs,
    })
}

/// Leave-one-out retrieval over recorded experiments: every case's postmortem is stored
/// together with the curated records under `curated` (playbooks; notes are never returned),
/// then each case's detection analysis is the query with its own postmortem excluded. Returns
/// per case the fault classes of the top three hits (`None` when the case has no analysis).
///
/// # Errors
/// Store and curated-file errors.
pub fn leave_one_out(
    store_dir: &Path,
    cases: &[(
        super::record::Postmortem,
        Option<&crate::analysis::Analysis>,
    )],
    curated: &[std::path::PathBuf],
) -> Result<Vec<Option<Vec<String>>>, String> {
    if store_dir.is_dir() {
        std::fs::remove_dir_all(store_dir).map_err(|e| e.to_string())?;
    }
    let mut store = KnowledgeStore::open(store_dir, Box::new(HashedBagOfWords::default()))
        .map_err(|e: StoreError| e.to_string())?;
    let mut records: Vec<StoredRecord> = Vec::new();
    for dir in curated {
        for path in super::markdown_files(dir).map_err(|e| e.to_string())? {
            let (record, bytes) = super::read_record(&path).map_err(|e| e.to_string())?;
            let body = record.body.clone();
            records.push(StoredRecord {
                path,
                hash: content_hash(&bytes),
                record,
                body,
            });
        }
    }
    for (record, _) in cases {
        let body = record.body.clone();
        records.push(StoredRecord {
            path: Path::new("eval").join(format!("{}.md", record.id)),
            hash: content_hash(body.as_bytes()),
            record: record.clone(),
            body,
        });
    }
    store.replace_all(records).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (record, analysis) in cases {
        let Some(analysis) = analysis else {
            out.push(None);
            continue;
        };
        let mut query = query_for_analysis(analysis, 3);
        query.exclude_id = Some(record.id.clone());
        let hits = store.search(&query).map_err(|e| e.to_string())?;
        out.push(Some(hits.into_iter().map(|h| h.fault_class).collect()));
    }
    Ok(out)
}
