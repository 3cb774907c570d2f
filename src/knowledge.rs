//! The incident knowledge base: postmortems, playbooks and notes as Markdown files with YAML
//! front matter (the source of truth), indexed into an embedded hybrid store for retrieval.
//!
//! - [`record`] (pure): the schema, parse / validate / render.
//! - [`signature`] (pure): symptom-signature vectors and similarity, built from an `Analysis`.
//! - [`vectors`] (pure): the [`vectors::TextEmbedder`] seam, the hashed bag-of-words fallback,
//!   exact cosine search, reciprocal rank fusion.
//! - [`retrieval`] (pure): the query, filters, indexed text and the fusion shared by backends.
//! - [`sparse`] (pure): BM25-style sparse text vectors for Qdrant.
//! - [`terms`] (pure): the text analysis both text retrievers share (signal names whole and
//!   in parts).
//! - [`index`]: the [`index::KnowledgeIndex`] seam every backend implements.
//! - [`store`] (adapter): the embedded backend, redb records + tantivy BM25 + stored vectors.
//! - [`qdrant`] (adapter): the Qdrant backend over its REST API.
//!
//! This module (adapter) adds the directories: the user's knowledge directory (recorded
//! incidents; `kb add` copies files there) and the curated `knowledge/` of the repository,
//! which is indexed but never written to.

pub mod bm25;
pub mod draft;
pub mod evaluate;
pub mod index;
pub mod qdrant;
pub mod recall;
pub mod record;
pub mod retrieval;
pub mod signature;
pub mod sparse;
pub mod store;
pub mod terms;
pub mod vectors;

use crate::analysis::Analysis;
use crate::chat::situation::SimilarIncident;
pub use index::KnowledgeIndex;
use record::{MAX_FILE_BYTES, Postmortem, RecordError, Source};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use store::{KnowledgeStore, SearchQuery, StoreError, StoredRecord, content_hash};

/// The embedded store's directory inside a knowledge directory given with `--kb-dir` (hidden,
/// skipped when Markdown files are collected, and ignored by git through its own `.gitignore`).
pub const STORE_IN_KB_DIR: &str = ".baynet-store";

/// Records stored per commit by [`KnowledgeBase::add_files`].
pub const ADD_BATCH: usize = 64;

/// Where the knowledge lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbPaths {
    /// The user's directory: recorded incidents and added files.
    pub user_dir: PathBuf,
    /// The store (database and index).
    pub store_dir: PathBuf,
    /// Curated directories, indexed read-only.
    pub curated: Vec<PathBuf>,
}

impl KbPaths {
    /// Resolves the defaults: user dir `kb_dir` (from `--kb-dir` / `BAYNET_KB_DIR`), else
    /// `$XDG_DATA_HOME/baynet/knowledge`, else `~/.local/share/baynet/knowledge`; store
    /// `<data>/baynet/store` for the default directory, and [`STORE_IN_KB_DIR`] inside a
    /// directory given with `--kb-dir` (so two knowledge bases never share one index); curated
    /// `BAYNET_CURATED_KB` or the repository's `knowledge/`.
    ///
    /// # Errors
    /// When no `kb_dir` is given and neither `XDG_DATA_HOME` nor `HOME` is set.
    pub fn resolve(kb_dir: Option<PathBuf>) -> Result<Self, String> {
        let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => Some(PathBuf::from(dir)),
            None => std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("share")),
        };
        let (user_dir, store_dir) = match (kb_dir, data) {
            (Some(dir), _) => {
                let store = dir.join(STORE_IN_KB_DIR);
                (dir, store)
            }
            (None, Some(data)) => {
                let base = data.join("baynet");
                (base.join("knowledge"), base.join("store"))
            }
            (None, None) => {
                return Err("neither XDG_DATA_HOME nor HOME is set; give --kb-dir".to_owned());
            }
        };
        let curated = match std::env::var_os("BAYNET_CURATED_KB") {
            Some(dir) if dir.is_empty() => Vec::new(),
            Some(dir) => vec![PathBuf::from(dir)],
            None => {
                let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
                if repo.is_dir() {
                    vec![repo]
                } else {
                    Vec::new()
                }
            }
        };
        Ok(Self {
            user_dir,
            store_dir,
            curated,
        })
    }

    /// The Qdrant collection of this knowledge base when none is configured:
    /// `baynet-knowledge` for the default directory, `baynet-<name>-<hash>` (the folder's name
    /// and 8 hex digits of SHA-256 of its path) for one given with `--kb-dir`, so two knowledge
    /// bases never share a collection by accident.
    #[must_use]
    pub fn default_collection(&self) -> String {
        if !self.store_dir.starts_with(&self.user_dir) {
            return "baynet-knowledge".to_owned();
        }
        let absolute =
            std::path::absolute(&self.user_dir).unwrap_or_else(|_| self.user_dir.clone());
        let hash = content_hash(absolute.to_string_lossy().as_bytes());
        let name: String = self
            .user_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(48)
            .collect();
        if name.is_empty() {
            format!("baynet-{}", &hash[..8])
        } else {
            format!("baynet-{name}-{}", &hash[..8])
        }
    }

    /// Whether `path` lies in a curated directory.
    #[must_use]
    pub fn is_curated(&self, path: &Path) -> bool {
        self.curated.iter().any(|dir| path.starts_with(dir))
    }
}

/// Errors of the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// Store errors (including validation and duplicates).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Configuration.
    #[error("{0}")]
    Config(String),
    /// A curated record cannot be removed from here.
    #[error("`{id}` comes from the curated directory ({path}); edit the repository instead", path = .path.display())]
    Curated {
        /// The id.
        id: String,
        /// Its file.
        path: PathBuf,
    },
}

impl From<RecordError> for KbError {
    fn from(error: RecordError) -> Self {
        Self::Store(StoreError::Record(error))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KbError + '_ {
    move |source| {
        KbError::Store(StoreError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// Reads and parses one file, refusing files over the limit before reading them.
///
/// # Errors
/// I/O and validation errors naming the file.
pub fn read_record(path: &Path) -> Result<(Postmortem, Vec<u8>), KbError> {
    let size = std::fs::metadata(path).map_err(io(path))?.len();
    if size > MAX_FILE_BYTES as u64 {
        return Err(RecordError::TooLarge {
            path: path.to_owned(),
            bytes: usize::try_from(size).unwrap_or(usize::MAX),
        }
        .into());
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let record = record::parse_bytes(path, &bytes)?;
    Ok((record, bytes))
}

/// Every `*.md` under `dir` (recursively, sorted), except README files.
///
/// # Errors
/// I/O errors.
pub fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>, KbError> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(io(&current))? {
            let path = entry.map_err(io(&current))?.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if path.is_dir() {
                // Hidden folders (`.git`, the store of `--kb-dir`, import staging) hold no
                // records.
                if !hidden {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "md")
                && !path
                    .file_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case("README.md"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the folder.
///
/// # Errors
/// I/O errors.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KbError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("record"),
        std::process::id()
    ));
    {
        let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Ok(folder) = std::fs::File::open(dir) {
        folder.sync_all().map_err(io(dir))?;
    }
    Ok(())
}

/// What a reindex did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReindexReport {
    /// Records indexed.
    pub indexed: usize,
    /// Files skipped, with the reason.
    pub skipped: Vec<String>,
}

/// The knowledge base: the directories and the index.
pub struct KnowledgeBase {
    /// Where things live.
    pub paths: KbPaths,
    /// The index (embedded store or Qdrant).
    pub store: Box<dyn KnowledgeIndex>,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("paths", &self.paths)
            .field("backend", &self.store.backend())
            .field("records", &self.store.len())
            .finish()
    }
}

/// Marks a store directory as derived data for git (`*`), once.
fn ignore_for_git(store_dir: &Path) {
    let file = store_dir.join(".gitignore");
    if !file.exists() {
        let _ = std::fs::write(
            &file,
            "# Baynet's index, rebuilt from the Markdown files\n*\n",
        );
    }
}

impl KnowledgeBase {
    /// Opens the embedded store; on a first open (empty store) indexes the directories.
    ///
    /// # Errors
    /// Store errors.
    pub fn open(paths: KbPaths, embedder: Box<dyn vectors::TextEmbedder>) -> Result<Self, KbError> {
        let store = KnowledgeStore::open(&paths.store_dir, embedder)?;
        if paths.store_dir.starts_with(&paths.user_dir) {
            ignore_for_git(&paths.store_dir);
        }
        Self::with_index(paths, Box::new(store))
    }

    /// A knowledge base over any index; on a first open (empty index) indexes the directories.
    ///
    /// # Errors
    /// Index errors.
    pub fn with_index(paths: KbPaths, store: Box<dyn KnowledgeIndex>) -> Result<Self, KbError> {
        let mut kb = Self { paths, store };
        if kb.store.is_empty() {
            kb.reindex()?;
        }
        Ok(kb)
    }

    /// Rebuilds everything from the Markdown files: curated directories first, then the user
    /// directory. Invalid files and later duplicates are skipped and reported.
    ///
    /// # Errors
    /// Store errors.
    pub fn reindex(&mut self) -> Result<ReindexReport, KbError> {
        let mut report = ReindexReport::default();
        let mut by_id: BTreeMap<String, StoredRecord> = BTreeMap::new();
        let mut dirs = self.paths.curated.clone();
        dirs.push(self.paths.user_dir.clone());
        for dir in &dirs {
            for path in markdown_files(dir)? {
                match read_record(&path) {
                    Ok((record, bytes)) => {
                        if let Some(first) = by_id.get(&record.id) {
                            report.skipped.push(
                                StoreError::DuplicateId {
                                    id: record.id.clone(),
                                    first: first.path.clone(),
                                    second: path.clone(),
                                }
                                .to_string(),
                            );
                            continue;
                        }
                        let body = record.body.clone();
                        by_id.insert(
                            record.id.clone(),
                            StoredRecord {
                                path: path.clone(),
                                hash: content_hash(&bytes),
                                record,
                                body,
                            },
                        );
                    }
                    Err(error) => report.skipped.push(error.to_string()),
                }
            }
        }
        report.indexed = by_id.len();
        self.store.replace_all(by_id.into_values().collect())?;
        Ok(report)
    }

    /// Validates every file, then copies each into the user directory (as `<id>.md`) and
    /// indexes it; returns the ids in order, calling `acknowledged` after each commit. Nothing
    /// is written when any file is invalid or duplicates an id; re-adding identical content is
    /// a no-op (same bytes or the same parsed record).
    ///
    /// # Errors
    /// Validation, duplicate, I/O and store errors.
    pub fn add_files(
        &mut self,
        files: &[PathBuf],
        mut acknowledged: impl FnMut(&str),
    ) -> Result<Vec<String>, KbError> {
        let mut parsed: Vec<(PathBuf, Postmortem, Vec<u8>)> = Vec::new();
        for path in files {
            let (record, bytes) = read_record(path)?;
            if let Some((first, _, _)) = parsed.iter().find(|(_, r, _)| r.id == record.id) {
                return Err(StoreError::DuplicateId {
                    id: record.id,
                    first: first.clone(),
                    second: path.clone(),
                }
                .into());
            }
            if let Some(existing) = self.store.get(&record.id)
                && existing.hash != content_hash(&bytes)
                && existing.postmortem() != record
            {
                return Err(StoreError::DuplicateId {
                    id: record.id,
                    first: existing.path.clone(),
                    second: path.clone(),
                }
                .into());
            }
            parsed.push((path.clone(), record, bytes));
        }
        let mut ids = Vec::new();
        // Batches: one durable database commit and one index commit per batch; a record is
        // acknowledged only after its batch's commit.
        for chunk in parsed.chunks(ADD_BATCH) {
            let mut batch = Vec::new();
            for (_, record, bytes) in chunk {
                if self.store.get(&record.id).is_none() {
                    let dest = self.paths.user_dir.join(format!("{}.md", record.id));
                    write_atomic(&dest, bytes)?;
                    batch.push(StoredRecord {
                        path: dest,
                        hash: content_hash(bytes),
                        body: record.body.clone(),
                        record: record.clone(),
                    });
                }
            }
            self.store.upsert_batch(batch)?;
            for (_, record, _) in chunk {
                acknowledged(&record.id);
                ids.push(record.id.clone());
            }
        }
        Ok(ids)
    }

    /// Writes a recorded incident into the user directory and indexes it.
    ///
    /// # Errors
    /// Rendering, I/O and store errors.
    pub fn record(&mut self, record: &Postmortem) -> Result<PathBuf, KbError> {
        record::validate(Path::new("<recorded incident>"), record)?;
        let text = record::render(record).map_err(KbError::Config)?;
        let dest = self.paths.user_dir.join(format!("{}.md", record.id));
        if let Some(existing) = self.store.get(&record.id)
            && existing.path != dest
        {
            return Err(StoreError::DuplicateId {
                id: record.id.clone(),
                first: existing.path.clone(),
                second: dest,
            }
            .into());
        }
        write_atomic(&dest, text.as_bytes())?;
        self.store.upsert(StoredRecord {
            path: dest.clone(),
            hash: content_hash(text.as_bytes()),
            record: record.clone(),
            body: record.body.clone(),
        })?;
        Ok(dest)
    }

    /// Removes a record and its file from the user directory (curated ones are refused).
    ///
    /// # Errors
    /// Unknown id, curated record, I/O and store errors.
    pub fn remove(&mut self, id: &str) -> Result<StoredRecord, KbError> {
        let stored = self
            .store
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        if self.paths.is_curated(&stored.path) {
            return Err(KbError::Curated {
                id: id.to_owned(),
                path: stored.path.clone(),
            });
        }
        let path = stored.path.clone();
        let removed = self.store.remove(id)?;
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        Ok(removed)
    }
}

/// The query retrieval uses for an analysis: its signature and the evidence text of the top
/// suspects.
#[must_use]
pub fn query_for_analysis(analysis: &Analysis, limit: usize) -> SearchQuery {
    SearchQuery {
        text: signature::evidence_text(analysis, 3),
        signature: Some(signature::from_analysis(analysis)),
        focus_service: analysis.ranking.ranking.first().map(|r| r.service.clone()),
        exclude_sources: vec![Source::Notes],
        limit,
        ..SearchQuery::default()
    }
}

/// Past incidents and playbooks most similar to `analysis`, in the chat's shape.
///
/// # Errors
/// Store errors.
pub fn similar_incidents(
    store: &mut dyn KnowledgeIndex,
    analysis: &Analysis,
    limit: usize,
) -> Result<Vec<SimilarIncident>, StoreError> {
    let hits = store.search(&query_for_analysis(analysis, limit))?;
    Ok(as_similar(store, hits))
}

/// Records most similar to the stored record `id` (itself left out), in the chat's shape.
///
/// # Errors
/// Store errors.
pub fn similar_to_record(
    store: &mut dyn KnowledgeIndex,
    record: &Postmortem,
    limit: usize,
) -> Result<Vec<SimilarIncident>, StoreError> {
    let hits = store.search(&recall::query_for_record(record, limit))?;
    Ok(as_similar(store, hits))
}

fn as_similar(store: &dyn KnowledgeIndex, hits: Vec<store::Hit>) -> Vec<SimilarIncident> {
    hits.into_iter()
        .filter_map(|hit| {
            let stored = store.get(&hit.id)?;
            let record = stored.postmortem();
            Some(SimilarIncident {
                id: hit.id,
                title: hit.title,
                root_cause: hit.root_cause_service,
                fault_class: hit.fault_class,
                remediation: record.remediation.clone(),
                summary: record.summary(),
                similarity: hit.similarity,
            })
        })
        .collect()
}
