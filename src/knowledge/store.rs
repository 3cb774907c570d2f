//! The knowledge store (adapter: files): a redb database holding every record (id → JSON), the
//! content hash of each indexed file, the stored vectors and learned state, plus a tantivy
//! index (BM25 over title, body and evidence text; term fields for service, fault class and
//! tags; `started` as a date). The Markdown files are the source of truth: everything here can
//! be rebuilt from them ([`KnowledgeStore::reindex`]).
//!
//! Crash safety: a record is acknowledged once its redb transaction has committed (durable,
//! one fsync). The text index is committed after it; when a crash leaves the text index behind
//! the database (its document count differs from the record count, or it cannot be opened),
//! [`KnowledgeStore::open`] rebuilds it from the database.

use super::record::RecordError;
use super::retrieval::{CANDIDATES, Rankings, evidence_text, passes};
pub use super::retrieval::{Hit, SearchQuery, StoredRecord, content_hash};
use super::signature;
use super::terms;
use super::vectors::{self, FlatIndex, TextEmbedder, VectorIndex};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tantivy::schema::{
    DateOptions, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::{DateTime, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

const RECORDS: TableDefinition<&str, &str> = TableDefinition::new("records");
const FILES: TableDefinition<&str, &str> = TableDefinition::new("file_hashes");
/// Vectors per record, binary ([`vectors::encode`]).
const VECTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("vectors_f32");
/// The vectors as JSON text, as stores before 2026-12-02 kept them (deleted at open; the
/// records they belonged to are re-embedded).
const VECTORS_JSON: TableDefinition<&str, &str> = TableDefinition::new("vectors");
const STATE: TableDefinition<&str, &str> = TableDefinition::new("state");

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The redb database.
    #[error("knowledge database {path}: {message}", path = .path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// The engine's message.
        message: String,
    },
    /// The tantivy index.
    #[error("knowledge text index: {0}")]
    Index(String),
    /// File I/O.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file failed validation.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Two files with one id.
    #[error("duplicate id `{id}`: in {first} and {second}", first = .first.display(), second = .second.display())]
    DuplicateId {
        /// The id.
        id: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// No such record.
    #[error("no knowledge record with id `{0}`")]
    NotFound(String),
    /// The embedder failed.
    #[error("embedding: {0}")]
    Embed(String),
    /// Another process holds the index writer.
    #[error("knowledge base busy: {0}")]
    Busy(String),
    /// The Qdrant backend: unreachable, refused, or answered with an error.
    #[error("Qdrant at {url}: {message}")]
    Qdrant {
        /// The request's URL (no credentials).
        url: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// A stored value could not be decoded.
    #[error("stored record `{id}` is unreadable: {message}; run `baynet kb reindex`")]
    Corrupt {
        /// The record.
        id: String,
        /// The decoder's message.
        message: String,
    },
}

/// How long a writer waits for another process's index writer lock.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

struct Fields {
    id: Field,
    title: Field,
    body: Field,
    evidence: Field,
    service: Field,
    fault_class: Field,
    tag: Field,
    started: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    // Signal names whole and in parts ([`terms`]); no positions: the text query is a flat
    // disjunction of terms, never a phrase. An index built with another schema (before
    // 2026-12-04: `en_stem` with positions) no longer matches and is rebuilt at open.
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(terms::TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        // A fast field too: a hit's id is read from its column, not from the document store.
        id: builder.add_text_field("id", STRING | STORED | FAST),
        title: builder.add_text_field("title", text.clone()),
        body: builder.add_text_field("body", text.clone()),
        evidence: builder.add_text_field("evidence", text),
        service: builder.add_text_field("service", STRING),
        fault_class: builder.add_text_field("fault_class", STRING),
        tag: builder.add_text_field("tag", STRING),
        started: builder.add_date_field("started", DateOptions::from(INDEXED) | STORED),
    };
    (builder.build(), fields)
}

/// The knowledge store.
pub struct KnowledgeStore {
    db_path: PathBuf,
    db: redb::Database,
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    records: BTreeMap<String, StoredRecord>,
    signatures: signature::SignatureIndex,
    vectors: FlatIndex,
    embedder: Box<dyn TextEmbedder>,
}

impl std::fmt::Debug for KnowledgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeStore")
            .field("db_path", &self.db_path)
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn index_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Index(e.to_string())
}

fn open_text_index(dir: &Path) -> Result<Index, StoreError> {
    let (schema, _) = schema();
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let index = if dir.join("meta.json").is_file() {
        let index = Index::open_in_dir(dir).map_err(index_error)?;
        if index.schema() != schema {
            return Err(StoreError::Index("schema changed".to_owned()));
        }
        index
    } else {
        Index::create_in_dir(dir, schema).map_err(index_error)?
    };
    index
        .tokenizers()
        .register(terms::TOKENIZER, terms::analyzer());
    Ok(index)
}

impl KnowledgeStore {
    /// Opens (creating) the store in `dir` with `embedder`; repairs the text index and the
    /// vectors when they lag the records.
    ///
    /// # Errors
    /// When the database cannot be opened (locked by another process, unreadable).
    pub fn open(dir: &Path, embedder: Box<dyn TextEmbedder>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let db_path = dir.join("kb.redb");
        let db_error = |e: &dyn std::fmt::Display| StoreError::Database {
            path: db_path.clone(),
            message: e.to_string(),
        };
        // Several processes share the store (the console searching, `kb add`, an experiment
        // recording): redb's multi-writer mode lets each open it, one write transaction at a
        // time.
        let db = redb::Database::builder()
            .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
            .create(&db_path)
            .map_err(|e| db_error(&e))?;
        {
            let txn = db.begin_write().map_err(|e| db_error(&e))?;
            for table in [RECORDS, FILES, STATE] {
                txn.open_table(table).map_err(|e| db_error(&e))?;
            }
            txn.open_table(VECTORS).map_err(|e| db_error(&e))?;
            txn.delete_table(VECTORS_JSON).map_err(|e| db_error(&e))?;
            txn.commit().map_err(|e| db_error(&e))?;
        }
        let text_dir = dir.join("text");
        let index = match open_text_index(&text_dir) {
            Ok(index) => index,
            Err(_) => {
                // The text index is derived data: start it afresh and rebuild below.
                std::fs::remove_dir_all(&text_dir).map_err(io(&text_dir))?;
                open_text_index(&text_dir)?
            }
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error)?;
        let (_, fields) = schema();
        let mut store = Self {
            db_path,
            db,
            index,
            reader,
            writer: None,
            fields,
            records: BTreeMap::new(),
            signatures: signature::SignatureIndex::default(),
            vectors: FlatIndex::default(),
            embedder,
        };
        store.load()?;
        Ok(store)
    }

    /// The store's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.db_path.parent().unwrap_or_else(|| Path::new("."))
    }

    /// Closes the store and hands back its embedder (a loaded model is worth keeping).
    #[must_use]
    pub fn into_embedder(self) -> Box<dyn TextEmbedder> {
        self.embedder
    }

    fn db_error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Database {
            path: self.db_path.clone(),
            message: e.to_string(),
        }
    }

    fn load(&mut self) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_error(e))?;
        let table = txn.open_table(RECORDS).map_err(|e| self.db_error(e))?;
        let mut records = BTreeMap::new();
        for entry in table.iter().map_err(|e| self.db_error(e))? {
            let (key, value) = entry.map_err(|e| self.db_error(e))?;
            let stored: StoredRecord =
                serde_json::from_str(value.value()).map_err(|e| StoreError::Corrupt {
                    id: key.value().to_owned(),
                    message: e.to_string(),
                })?;
            records.insert(key.value().to_owned(), stored);
        }
        let vector_table = txn.open_table(VECTORS).map_err(|e| self.db_error(e))?;
        let state = txn.open_table(STATE).map_err(|e| self.db_error(e))?;
        let model = state
            .get("embedder")
            .map_err(|e| self.db_error(e))?
            .map(|v| v.value().to_owned());
        let same_model = model.as_deref() == Some(self.embedder.name().as_str());
        let mut missing = Vec::new();
        for id in records.keys() {
            let stored = vector_table
                .get(id.as_str())
                .map_err(|e| self.db_error(e))?
                .and_then(|v| vectors::decode(v.value()));
            match stored {
                Some(found) if same_model => self.vectors.upsert(id, found),
                _ => missing.push(id.clone()),
            }
        }
        drop((table, vector_table, state, txn));
        for (id, stored) in &records {
            self.signatures
                .upsert(id, &signature::of_record(&stored.record));
        }
        self.records = records;
        if !missing.is_empty() || !same_model {
            self.reembed(&missing)?;
        }
        self.vectors.prepare();
        let indexed = self.reader.searcher().num_docs();
        if usize::try_from(indexed).ok() != Some(self.records.len()) {
            // Either a writer died between its two commits (repair now), or another process is
            // between them right now (it holds the writer lock and will commit; search what is
            // indexed).
            match self.writer_within(std::time::Duration::ZERO) {
                Ok(_) => self.rebuild_text_index()?,
                Err(StoreError::Busy(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    fn reembed(&mut self, ids: &[String]) -> Result<(), StoreError> {
        let mut computed = Vec::new();
        for id in ids {
            if let Some(stored) = self.records.get(id) {
                let found = self
                    .embedder
                    .embed(&super::retrieval::vector_texts(
                        &stored.record,
                        &stored.body,
                    ))
                    .map_err(StoreError::Embed)?;
                computed.push((id.clone(), found));
            }
        }
        let txn = self.db.begin_write().map_err(|e| self.db_error(e))?;
        {
            let mut table = txn.open_table(VECTORS).map_err(|e| self.db_error(e))?;
            for (id, found) in &computed {
                table
                    .insert(id.as_str(), vectors::encode(found).as_slice())
                    .map_err(|e| self.db_error(e))?;
            }
            let mut state = txn.open_table(STATE).map_err(|e| self.db_error(e))?;
            let name = self.embedder.name();
            state
                .insert("embedder", name.as_str())
                .map_err(|e| self.db_error(e))?;
        }
        txn.commit().map_err(|e| self.db_error(e))?;
        for (id, found) in computed {
            self.vectors.upsert(&id, found);
        }
        Ok(())
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, StoreError> {
        self.writer_within(WRITER_WAIT)
    }

    /// The index writer, waiting up to `wait` while another process holds tantivy's writer
    /// lock (it is released when that process's store closes).
    fn writer_within(&mut self, wait: std::time::Duration) -> Result<&mut IndexWriter, StoreError> {
        if self.writer.is_none() {
            let started = std::time::Instant::now();
            let mut pause = std::time::Duration::from_millis(10);
            let writer = loop {
                match self.index.writer_with_num_threads(1, 15_000_000) {
                    Ok(writer) => break writer,
                    Err(tantivy::TantivyError::LockFailure(..)) if started.elapsed() < wait => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(std::time::Duration::from_millis(200));
                    }
                    Err(tantivy::TantivyError::LockFailure(..)) => {
                        return Err(StoreError::Busy(format!(
                            "another baynet process has been writing the knowledge base for {} s; try again when it is done",
                            wait.as_secs()
                        )));
                    }
                    Err(error) => return Err(index_error(error)),
                }
            };
            self.writer = Some(writer);
        }
        self.writer
            .as_mut()
            .ok_or_else(|| StoreError::Index("no index writer".to_owned()))
    }

    fn document(&self, stored: &StoredRecord) -> TantivyDocument {
        let record = &stored.record;
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &record.id);
        doc.add_text(f.title, &record.title);
        doc.add_text(f.body, &stored.body);
        doc.add_text(f.evidence, evidence_text(record));
        if !record.root_cause_service.is_empty() {
            doc.add_text(f.service, &record.root_cause_service);
        }
        for service in &record.affected_services {
            doc.add_text(f.service, service);
        }
        if !record.fault_class.is_empty() {
            doc.add_text(f.fault_class, &record.fault_class);
        }
        for tag in &record.tags {
            doc.add_text(f.tag, tag);
        }
        if let Some(started) = record
            .started
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            doc.add_date(
                f.started,
                DateTime::from_timestamp_secs(started.timestamp()),
            );
        }
        doc
    }

    fn rebuild_text_index(&mut self) -> Result<(), StoreError> {
        let documents: Vec<TantivyDocument> =
            self.records.values().map(|s| self.document(s)).collect();
        let writer = self.writer()?;
        writer.delete_all_documents().map_err(index_error)?;
        for doc in documents {
            writer.add_document(doc).map_err(index_error)?;
        }
        writer.commit().map_err(index_error)?;
        // One segment: the top 50 of a query is then pruned against one threshold over the
        // whole store (each segment keeps its own).
        let segments = self.index.searchable_segment_ids().map_err(index_error)?;
        if segments.len() > 1 {
            let writer = self.writer()?;
            writer.merge(&segments).wait().map_err(index_error)?;
        }
        self.reader.reload().map_err(index_error)
    }

    /// Number of records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A record by id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&StoredRecord> {
        self.records.get(id)
    }

    /// Every record, by id.
    pub fn records(&self) -> impl Iterator<Item = &StoredRecord> {
        self.records.values()
    }

    /// The content hash recorded for `path`, if it was indexed.
    ///
    /// # Errors
    /// Database errors.
    pub fn file_hash(&self, path: &Path) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_error(e))?;
        let table = txn.open_table(FILES).map_err(|e| self.db_error(e))?;
        let key = path.to_string_lossy();
        Ok(table
            .get(key.as_ref())
            .map_err(|e| self.db_error(e))?
            .map(|v| v.value().to_owned()))
    }

    /// Adds or replaces a record (durably), then indexes it. A record with the same id from
    /// another file is a [`StoreError::DuplicateId`].
    ///
    /// # Errors
    /// Duplicates, database, index and embedding errors.
    pub fn upsert(&mut self, stored: StoredRecord) -> Result<(), StoreError> {
        self.upsert_batch(vec![stored])
    }

    /// Adds or replaces records in one durable database transaction and one index commit
    /// (embedded in one batch). Either every record of the batch is stored or none is; a crash
    /// between the database commit and the index commit is repaired by [`Self::open`], which
    /// rebuilds the text index when it disagrees with the database.
    ///
    /// # Errors
    /// Duplicates (within the batch or against the store), database, index and embedding
    /// errors.
    pub fn upsert_batch(&mut self, batch: Vec<StoredRecord>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
        for stored in &batch {
            let id = stored.record.id.as_str();
            let clash = self
                .records
                .get(id)
                .map(|existing| existing.path.as_path())
                .filter(|path| *path != stored.path)
                .or_else(|| seen.get(id).copied().filter(|path| *path != stored.path));
            if let Some(first) = clash {
                return Err(StoreError::DuplicateId {
                    id: id.to_owned(),
                    first: first.to_owned(),
                    second: stored.path.clone(),
                });
            }
            seen.insert(id, &stored.path);
        }
        let mut texts: Vec<String> = Vec::new();
        let mut counts: Vec<usize> = Vec::with_capacity(batch.len());
        for stored in &batch {
            let own = super::retrieval::vector_texts(&stored.record, &stored.body);
            counts.push(own.len());
            texts.extend(own);
        }
        let embedded = self.embedder.embed(&texts).map_err(StoreError::Embed)?;
        if embedded.len() != texts.len() {
            return Err(StoreError::Embed(format!(
                "the embedder returned {} vectors for {} texts",
                embedded.len(),
                texts.len()
            )));
        }
        let mut embedded = embedded.into_iter();
        let vectors: Vec<Vec<Vec<f32>>> = counts
            .iter()
            .map(|&count| embedded.by_ref().take(count).collect())
            .collect();
        let name = self.embedder.name();
        // Take the index writer before the database commit, so that no other process sees
        // the two disagree and starts a repair in between.
        self.writer()?;
        let txn = self.db.begin_write().map_err(|e| self.db_error(e))?;
        {
            let mut records = txn.open_table(RECORDS).map_err(|e| self.db_error(e))?;
            let mut files = txn.open_table(FILES).map_err(|e| self.db_error(e))?;
            let mut table = txn.open_table(VECTORS).map_err(|e| self.db_error(e))?;
            for (stored, found) in batch.iter().zip(&vectors) {
                let id = stored.record.id.as_str();
                let json = serde_json::to_string(stored).map_err(|e| self.db_error(e))?;
                let encoded = vectors::encode(found);
                records
                    .insert(id, json.as_str())
                    .map_err(|e| self.db_error(e))?;
                let path = stored.path.to_string_lossy();
                files
                    .insert(path.as_ref(), stored.hash.as_str())
                    .map_err(|e| self.db_error(e))?;
                table
                    .insert(id, encoded.as_slice())
                    .map_err(|e| self.db_error(e))?;
            }
            let mut state = txn.open_table(STATE).map_err(|e| self.db_error(e))?;
            state
                .insert("embedder", name.as_str())
                .map_err(|e| self.db_error(e))?;
        }
        txn.commit().map_err(|e| self.db_error(e))?;
        let id_field = self.fields.id;
        let docs: Vec<TantivyDocument> = batch.iter().map(|stored| self.document(stored)).collect();
        let writer = self.writer()?;
        for (stored, doc) in batch.iter().zip(docs) {
            writer.delete_term(Term::from_field_text(id_field, &stored.record.id));
            writer.add_document(doc).map_err(index_error)?;
        }
        writer.commit().map_err(index_error)?;
        self.reader.reload().map_err(index_error)?;
        for (stored, found) in batch.into_iter().zip(vectors) {
            let id = stored.record.id.clone();
            self.vectors.upsert(&id, found);
            self.signatures
                .upsert(&id, &signature::of_record(&stored.record));
            self.records.insert(id, stored);
        }
        Ok(())
    }

    /// Removes a record from the store (not its file).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], database and index errors.
    pub fn remove(&mut self, id: &str) -> Result<StoredRecord, StoreError> {
        let stored = self
            .records
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let txn = self.db.begin_write().map_err(|e| self.db_error(e))?;
        {
            let mut records = txn.open_table(RECORDS).map_err(|e| self.db_error(e))?;
            records.remove(id).map_err(|e| self.db_error(e))?;
            let mut files = txn.open_table(FILES).map_err(|e| self.db_error(e))?;
            let path = stored.path.to_string_lossy();
            files.remove(path.as_ref()).map_err(|e| self.db_error(e))?;
            let mut table = txn.open_table(VECTORS).map_err(|e| self.db_error(e))?;
            table.remove(id).map_err(|e| self.db_error(e))?;
        }
        txn.commit().map_err(|e| self.db_error(e))?;
        let id_field = self.fields.id;
        let writer = self.writer()?;
        writer.delete_term(Term::from_field_text(id_field, id));
        writer.commit().map_err(index_error)?;
        self.reader.reload().map_err(index_error)?;
        self.vectors.remove(id);
        self.signatures.remove(id);
        self.records.remove(id);
        Ok(stored)
    }

    /// Replaces the whole content with `records` (one transaction), then rebuilds the text
    /// index and the vectors.
    ///
    /// # Errors
    /// Duplicates among `records`, database, index and embedding errors.
    pub fn replace_all(&mut self, records: Vec<StoredRecord>) -> Result<(), StoreError> {
        let mut by_id: BTreeMap<String, StoredRecord> = BTreeMap::new();
        for stored in records {
            if let Some(first) = by_id.get(&stored.record.id) {
                return Err(StoreError::DuplicateId {
                    id: stored.record.id.clone(),
                    first: first.path.clone(),
                    second: stored.path,
                });
            }
            by_id.insert(stored.record.id.clone(), stored);
        }
        let mut computed = BTreeMap::new();
        for (id, stored) in &by_id {
            let found = self
                .embedder
                .embed(&super::retrieval::vector_texts(
                    &stored.record,
                    &stored.body,
                ))
                .map_err(StoreError::Embed)?;
            computed.insert(id.clone(), found);
        }
        let txn = self.db.begin_write().map_err(|e| self.db_error(e))?;
        {
            for table in [RECORDS, FILES] {
                let mut open = txn.open_table(table).map_err(|e| self.db_error(e))?;
                open.retain(|_, _| false).map_err(|e| self.db_error(e))?;
            }
            txn.open_table(VECTORS)
                .map_err(|e| self.db_error(e))?
                .retain(|_, _| false)
                .map_err(|e| self.db_error(e))?;
            let mut table = txn.open_table(RECORDS).map_err(|e| self.db_error(e))?;
            let mut files = txn.open_table(FILES).map_err(|e| self.db_error(e))?;
            let mut vector_table = txn.open_table(VECTORS).map_err(|e| self.db_error(e))?;
            for (id, stored) in &by_id {
                let json = serde_json::to_string(stored).map_err(|e| self.db_error(e))?;
                table
                    .insert(id.as_str(), json.as_str())
                    .map_err(|e| self.db_error(e))?;
                let path = stored.path.to_string_lossy();
                files
                    .insert(path.as_ref(), stored.hash.as_str())
                    .map_err(|e| self.db_error(e))?;
                if let Some(found) = computed.get(id) {
                    vector_table
                        .insert(id.as_str(), vectors::encode(found).as_slice())
                        .map_err(|e| self.db_error(e))?;
                }
            }
            let mut state = txn.open_table(STATE).map_err(|e| self.db_error(e))?;
            let name = self.embedder.name();
            state
                .insert("embedder", name.as_str())
                .map_err(|e| self.db_error(e))?;
        }
        txn.commit().map_err(|e| self.db_error(e))?;
        self.vectors = FlatIndex::default();
        for (id, found) in computed {
            self.vectors.upsert(&id, found);
        }
        self.vectors.prepare();
        self.signatures = signature::SignatureIndex::default();
        for (id, stored) in &by_id {
            self.signatures
                .upsert(id, &signature::of_record(&stored.record));
        }
        self.records = by_id;
        self.rebuild_text_index()
    }

    /// Hybrid retrieval: BM25, vectors and signature similarity, each filtered, fused with
    /// reciprocal rank fusion ([`super::vectors::RRF_K`], [`super::retrieval::fuse`]). The
    /// three rankings run in parallel (BM25 and the signatures on scoped threads, the vectors
    /// on the caller's).
    ///
    /// # Errors
    /// Index and embedding errors.
    pub fn search(&mut self, query: &SearchQuery) -> Result<Vec<Hit>, StoreError> {
        let query_vector = self.query_vector(query)?;
        let parts = self.parts();
        let allowed = |id: &str| parts.allowed(query, id);
        let (text, vector, signature) = std::thread::scope(|scope| {
            let text = scope.spawn(|| parts.text(query, &allowed));
            let signature = scope.spawn(|| parts.signature(query, &allowed));
            let vector = parts.vector(query_vector.as_deref(), &allowed);
            let text = text
                .join()
                .unwrap_or_else(|_| Err(StoreError::Index("the BM25 search panicked".into())));
            let signature = signature
                .join()
                .map_err(|_| StoreError::Index("the signature ranking panicked".into()));
            (text, vector, signature)
        });
        let rankings = Rankings {
            text: text?,
            vector,
            signature: signature?,
        };
        Ok(super::retrieval::fuse(&rankings, query.limit, |id| {
            self.records.get(id).map(|stored| &stored.record)
        }))
    }

    /// The time each step of [`Self::search`] takes when run alone, one after the other: the
    /// query's embedding, BM25, the vectors, the signatures (for benchmarks).
    ///
    /// # Errors
    /// As [`Self::search`].
    pub fn step_times(
        &mut self,
        query: &SearchQuery,
    ) -> Result<[std::time::Duration; 4], StoreError> {
        let started = std::time::Instant::now();
        let query_vector = self.query_vector(query)?;
        let embed = started.elapsed();
        let parts = self.parts();
        let allowed = |id: &str| parts.allowed(query, id);
        let started = std::time::Instant::now();
        parts.text(query, &allowed)?;
        let text = started.elapsed();
        let started = std::time::Instant::now();
        parts.vector(query_vector.as_deref(), &allowed);
        let vector = started.elapsed();
        let started = std::time::Instant::now();
        parts.signature(query, &allowed);
        Ok([embed, text, vector, started.elapsed()])
    }

    fn query_vector(&mut self, query: &SearchQuery) -> Result<Option<Vec<f32>>, StoreError> {
        if query.text.trim().is_empty() {
            return Ok(None);
        }
        let embedded = self
            .embedder
            .embed(std::slice::from_ref(&query.text))
            .map_err(StoreError::Embed)?;
        Ok(embedded.into_iter().next())
    }

    fn parts(&self) -> SearchParts<'_> {
        SearchParts {
            reader: &self.reader,
            fields: &self.fields,
            records: &self.records,
            vectors: &self.vectors,
            signatures: &self.signatures,
        }
    }

    /// The stored vectors of `id` (summary first, then the body chunks) and the embedder's
    /// name.
    #[must_use]
    pub fn vectors_of(&self, id: &str) -> Option<(String, Vec<Vec<f32>>)> {
        self.vectors
            .get(id)
            .map(|found| (self.embedder.name(), found))
    }
}

/// What the three rankings read (shared between the threads of one search; the embedder,
/// which is not, stays behind).
struct SearchParts<'a> {
    reader: &'a IndexReader,
    fields: &'a Fields,
    records: &'a BTreeMap<String, StoredRecord>,
    vectors: &'a FlatIndex,
    signatures: &'a signature::SignatureIndex,
}

impl SearchParts<'_> {
    /// Whether the record `id` passes the query's filters. Without record filters only the
    /// excluded id is left out: no record lookup per candidate (the vectors and signatures
    /// hold exactly the stored records).
    fn allowed(&self, query: &SearchQuery, id: &str) -> bool {
        if super::retrieval::filters_records(query) {
            self.records
                .get(id)
                .is_some_and(|stored| passes(&stored.record, query))
        } else {
            query.exclude_id.as_deref() != Some(id)
        }
    }

    fn text(
        &self,
        query: &SearchQuery,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let text = &query.text;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let f = self.fields;
        // One flat disjunction: every analysed query term in each text field, a repeated term
        // counted as often as the query repeats it; BM25 per field, summed.
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for term in terms::terms(&[text]) {
            *counts.entry(term).or_default() += 1;
        }
        let mut query = Vec::with_capacity(counts.len() * 3);
        for (term, count) in &counts {
            for field in [f.title, f.body, f.evidence] {
                query.push((Term::from_field_text(field, term), *count));
            }
        }
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let top = super::bm25::top_docs(&searcher, &query, CANDIDATES).map_err(index_error)?;
        let mut columns: BTreeMap<u32, Option<tantivy::columnar::StrColumn>> = BTreeMap::new();
        let mut ids = Vec::new();
        let mut id = String::new();
        for (_score, address) in top {
            let column = match columns.entry(address.segment_ord) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => entry.insert(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .str("id")
                        .map_err(index_error)?,
                ),
            };
            let Some(column) = column else {
                return Err(StoreError::Index("the id column is missing".to_owned()));
            };
            let Some(ord) = column.term_ords(address.doc_id).next() else {
                continue;
            };
            id.clear();
            if column.ord_to_str(ord, &mut id).map_err(index_error)? && allowed(&id) {
                ids.push(id.clone());
            }
        }
        Ok(ids)
    }

    fn vector(&self, query_vector: Option<&[f32]>, allowed: &dyn Fn(&str) -> bool) -> Vec<String> {
        match query_vector {
            None => Vec::new(),
            Some(first) => self
                .vectors
                .search(first, CANDIDATES, allowed)
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        }
    }

    fn signature(&self, query: &SearchQuery, allowed: &dyn Fn(&str) -> bool) -> Vec<(String, f64)> {
        match &query.signature {
            Some(wanted) => self.signatures.rank(
                &signature::vectorize_focused(wanted, query.focus_service.as_deref()),
                CANDIDATES,
                allowed,
            ),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::knowledge::record::parse;
    use crate::knowledge::vectors::HashedBagOfWords;

    fn stored(id: &str, class: &str, service: &str, title: &str) -> StoredRecord {
        let text = format!(
            "---\nid: {id}\ntitle: \"{title}\"\nsource: live-incident\nfault_class: {class}\n\
             root_cause_service: {service}\ntags: [t-{class}]\n---\n\n## Summary\n{title}.\n"
        );
        let record = parse(Path::new("x.md"), &text).unwrap();
        StoredRecord {
            path: PathBuf::from(format!("/kb/{id}.md")),
            hash: content_hash(text.as_bytes()),
            body: record.body.clone(),
            record,
        }
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[test]
    fn upsert_search_filter_remove_and_repair_after_a_lost_text_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::default())).unwrap();
        store
            .upsert(stored(
                "a",
                "pod-failure",
                "carts",
                "Carts readiness probe failing",
            ))
            .unwrap();
        store
            .upsert(stored(
                "b",
                "cpu-stress",
                "orders",
                "Orders throttled on CPU",
            ))
            .unwrap();
        let query = SearchQuery {
            text: "readiness probe".to_owned(),
            limit: 5,
            ..SearchQuery::default()
        };
        let hits = store.search(&query).unwrap();
        assert_eq!(hits[0].id, "a");
        assert_eq!(hits[0].bm25_rank, Some(1));
        assert!(hits[0].similarity > 0.9 && hits[0].similarity <= 1.0);
        let filtered = store
            .search(&SearchQuery {
                fault_class: Some("cpu-stress".to_owned()),
                ..query.clone()
            })
            .unwrap();
        assert!(ids(&filtered).iter().all(|id| *id == "b"), "{filtered:?}");
        let tagged = store
            .search(&SearchQuery {
                text: "orders cpu".to_owned(),
                tags: vec!["t-pod-failure".to_owned()],
                ..query.clone()
            })
            .unwrap();
        assert!(ids(&tagged).iter().all(|id| *id == "a"), "{tagged:?}");
        // Same id from another file is a duplicate naming both files.
        let mut other = stored("a", "pod-failure", "carts", "Other");
        other.path = PathBuf::from("/elsewhere/a.md");
        let error = store.upsert(other).unwrap_err().to_string();
        assert!(
            error.contains("/kb/a.md") && error.contains("/elsewhere/a.md"),
            "{error}"
        );
        drop(store);
        // The text index is derived: lose it, and the next open rebuilds it from redb.
        std::fs::remove_dir_all(dir.path().join("text")).unwrap();
        let mut store =
            KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::new(64))).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.search(&query).unwrap()[0].id, "a");
        assert_eq!(store.search(&query).unwrap()[0].bm25_rank, Some(1));
        store.remove("a").unwrap();
        assert!(
            ids(&store.search(&query).unwrap())
                .iter()
                .all(|id| *id != "a")
        );
        assert!(matches!(store.remove("a"), Err(StoreError::NotFound(_))));
        drop(store);
        let store = KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::new(64))).unwrap();
        assert_eq!(store.len(), 1);
        assert!(store.get("b").is_some());
    }

    #[test]
    fn a_text_index_of_an_older_schema_is_rebuilt_and_signal_names_match_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::default())).unwrap();
        store
            .upsert(stored(
                "a",
                "pod-failure",
                "carts",
                "Carts error_ratio high",
            ))
            .unwrap();
        store
            .upsert(stored(
                "b",
                "cpu-stress",
                "orders",
                "Orders error and ratio",
            ))
            .unwrap();
        drop(store);
        // The index as stores before 2026-12-04 built it: `en_stem`, positions, no fast id.
        let text_dir = dir.path().join("text");
        std::fs::remove_dir_all(&text_dir).unwrap();
        std::fs::create_dir_all(&text_dir).unwrap();
        {
            let mut builder = Schema::builder();
            let old = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("en_stem")
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            );
            let id = builder.add_text_field("id", STRING | STORED);
            let title = builder.add_text_field("title", old);
            let index = Index::create_in_dir(&text_dir, builder.build()).unwrap();
            let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            let mut doc = TantivyDocument::default();
            doc.add_text(id, "b");
            doc.add_text(title, "error ratio");
            writer.add_document(doc).unwrap();
            writer.commit().unwrap();
        }
        let mut store =
            KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::default())).unwrap();
        assert_eq!(
            store.reader.searcher().num_docs(),
            2,
            "rebuilt from the records"
        );
        let parts = store.parts();
        let query = |text: &str| SearchQuery {
            text: text.to_owned(),
            limit: 5,
            ..SearchQuery::default()
        };
        // The whole signal name is a term of its own: only `a` has it, and it leads; `b`,
        // with both parts as words, follows.
        let ranked = parts.text(&query("error_ratio"), &|_| true).unwrap();
        assert_eq!(ranked, ["a", "b"]);
        // A part alone matches both.
        let mut ranked = parts.text(&query("ratio"), &|_| true).unwrap();
        ranked.sort();
        assert_eq!(ranked, ["a", "b"]);
        assert!(parts.text(&query(" ;; "), &|_| true).unwrap().is_empty());
        let hits = store.search(&query("error_ratio")).unwrap();
        assert_eq!(hits[0].id, "a");
        assert_eq!(hits[0].bm25_rank, Some(1));
    }

    #[test]
    fn a_store_with_json_vectors_is_re_embedded_and_the_old_table_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::default())).unwrap();
        store
            .upsert(stored(
                "a",
                "pod-failure",
                "carts",
                "Carts readiness probe failing",
            ))
            .unwrap();
        let before = store.vectors_of("a").unwrap().1;
        drop(store);
        // Rewrite the vectors as a store before the binary format kept them.
        {
            let db = redb::Database::create(dir.path().join("kb.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            txn.delete_table(VECTORS).unwrap();
            txn.open_table(VECTORS_JSON)
                .unwrap()
                .insert("a", serde_json::to_string(&before).unwrap().as_str())
                .unwrap();
            txn.commit().unwrap();
        }
        let store =
            KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::default())).unwrap();
        assert_eq!(
            store.vectors_of("a").unwrap().1,
            before,
            "re-embedded, same vectors"
        );
        drop(store);
        let db = redb::Database::create(dir.path().join("kb.redb")).unwrap();
        let txn = db.begin_read().unwrap();
        assert!(
            txn.open_table(VECTORS_JSON).is_err(),
            "the JSON table is gone"
        );
        let table = txn.open_table(VECTORS).unwrap();
        let bytes = table.get("a").unwrap().unwrap();
        assert_eq!(vectors::decode(bytes.value()), Some(before));
    }
}
