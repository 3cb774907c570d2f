//! The Qdrant backend (adapter: network): a [`KnowledgeIndex`] over Qdrant's REST API (port
//! 6333) with the reqwest client already in the tree — no gRPC stack.
//!
//! One collection per knowledge base ([`wire`] describes it): dense multivectors from the same
//! embedder as the embedded store (a summary vector and the body chunks; `max_sim` scores a
//! point by its best chunk), Qdrant sparse vectors for the text side (BM25-saturated term
//! frequencies, [`super::sparse`], with the collection applying IDF), and payload indexes for
//! the filters. A search asks Qdrant for the top candidates of the dense and the sparse vectors
//! under the query's filter, ranks the symptom signatures itself (the records are held in
//! memory, loaded with a scroll at open, as the embedded store loads its database), and fuses
//! the three rankings with the same code as the embedded store ([`super::retrieval::fuse`]).
//!
//! Writes wait for Qdrant to apply them (`wait=true`); the Markdown files stay the source of
//! truth, and `kb reindex` rebuilds the collection from them. Errors name the URL and say what
//! to do; the API key travels in the `api-key` header and is never printed.

pub mod wire;

use super::index::KnowledgeIndex;
use super::retrieval::{self, CANDIDATES, Hit, Rankings, SearchQuery, StoredRecord};
use super::signature::{self, SignatureVector};
use super::sparse;
use super::store::StoreError;
use super::vectors::TextEmbedder;
use crate::config::Secret;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Points per upsert request.
const UPSERT_CHUNK: usize = 64;
/// Points per scroll page (each carries its whole record).
const SCROLL_PAGE: usize = 64;
/// The largest response accepted.
const MAX_RESPONSE_BYTES: usize = 256 << 20;
/// Retries of a request that failed to connect or met 502/503/504.
const RETRIES: u32 = 2;

/// Where the collection is and how to reach it.
#[derive(Debug, Clone)]
pub struct QdrantSettings {
    /// Base URL (`http://localhost:6333`), no trailing slash.
    pub url: String,
    /// The collection.
    pub collection: String,
    /// The API key (`api-key` header), if the cluster needs one.
    pub api_key: Option<Secret>,
    /// Timeout of one request.
    pub timeout: Duration,
}

/// The Qdrant-backed index.
pub struct QdrantStore {
    settings: QdrantSettings,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    records: BTreeMap<String, StoredRecord>,
    signatures: BTreeMap<String, SignatureVector>,
    embedder: Box<dyn TextEmbedder>,
    dimension: usize,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("url", &self.settings.url)
            .field("collection", &self.settings.collection)
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Put,
    Post,
    Delete,
}

impl QdrantStore {
    /// Connects, creates the collection (vectors and payload indexes) when it is missing,
    /// checks an existing one fits the embedder, and loads the records.
    ///
    /// # Errors
    /// [`StoreError::Qdrant`] naming the URL (unreachable, key refused, a collection of
    /// another shape), embedding errors, [`StoreError::Corrupt`] for an undecodable point.
    pub fn open(
        settings: QdrantSettings,
        mut embedder: Box<dyn TextEmbedder>,
    ) -> Result<Self, StoreError> {
        let settings = QdrantSettings {
            url: settings.url.trim_end_matches('/').to_owned(),
            ..settings
        };
        if !wire::valid_collection(&settings.collection) {
            return Err(StoreError::Qdrant {
                url: settings.url.clone(),
                message: format!(
                    "`{}` is not a usable collection name; use letters, digits, `-`, `_` and `.`",
                    settings.collection.escape_debug()
                ),
            });
        }
        let probe = embedder
            .embed(&["dimension probe".to_owned()])
            .map_err(StoreError::Embed)?;
        let dimension = probe.first().map_or(0, Vec::len);
        if dimension == 0 {
            return Err(StoreError::Embed(
                "the embedder returned no vector".to_owned(),
            ));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Qdrant {
                url: settings.url.clone(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Qdrant {
                url: settings.url.clone(),
                message: format!("cannot start the I/O runtime: {e}"),
            })?;
        let mut store = Self {
            settings,
            http,
            runtime,
            records: BTreeMap::new(),
            signatures: BTreeMap::new(),
            embedder,
            dimension,
        };
        store.ensure_collection()?;
        store.load()?;
        Ok(store)
    }

    /// The settings (the key stays redacted in `Debug`).
    #[must_use]
    pub fn settings(&self) -> &QdrantSettings {
        &self.settings
    }

    fn collection_path(&self) -> String {
        format!("/collections/{}", self.settings.collection)
    }

    fn error(&self, path: &str, message: impl Into<String>) -> StoreError {
        StoreError::Qdrant {
            url: format!("{}{path}", self.settings.url),
            message: message.into(),
        }
    }

    /// One request; any HTTP status comes back, transport failures are errors. Retries
    /// connection failures and 502/503/504 a few times.
    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>), StoreError> {
        let url = format!("{}{path}", self.settings.url);
        let mut attempt = 0;
        loop {
            let mut request = match method {
                Method::Get => self.http.get(&url),
                Method::Put => self.http.put(&url),
                Method::Post => self.http.post(&url),
                Method::Delete => self.http.delete(&url),
            };
            if let Some(key) = &self.settings.api_key {
                request = request.header("api-key", key.expose());
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let outcome = self.block(async move {
                let mut response = request.send().await.map_err(|e| (true, describe(&e)))?;
                let status = response.status().as_u16();
                if response
                    .content_length()
                    .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
                {
                    return Err((false, "the answer is too large".to_owned()));
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(|e| (true, describe(&e)))? {
                    if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err((false, "the answer is too large".to_owned()));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok((status, bytes))
            });
            let transient = match &outcome {
                Ok((status, _)) => matches!(status, 502..=504),
                Err((retry, _)) => *retry,
            };
            if transient && attempt < RETRIES {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(250 << attempt));
                continue;
            }
            return outcome.map_err(|(_, message)| {
                self.error(
                    path,
                    format!(
                        "{message}; is Qdrant running and reachable there? Set QDRANT_URL or \
                         [knowledge] qdrant_url, or use the embedded store (--backend embedded)"
                    ),
                )
            });
        }
    }

    /// A request that must succeed (2xx); the body of the answer.
    fn ok(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Vec<u8>, StoreError> {
        let (status, bytes) = self.send(method, path, body)?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let message = wire::error_message(status, &bytes);
        let hint = match status {
            401 | 403 if self.settings.api_key.is_none() => {
                "the server wants an API key: set QDRANT_API_KEY, or [knowledge] \
                 qdrant_api_key_env / qdrant_api_key_file"
                    .to_owned()
            }
            401 | 403 => "the API key was refused: check QDRANT_API_KEY (or [knowledge] \
                           qdrant_api_key_env / qdrant_api_key_file)"
                .to_owned(),
            404 => format!(
                "collection `{}` is missing; `baynet kb reindex` recreates it from the Markdown files",
                self.settings.collection
            ),
            500..=599 => "the server failed; check its log and try again".to_owned(),
            _ => "the request was refused; Baynet needs Qdrant 1.10 or newer".to_owned(),
        };
        Err(self.error(path, format!("{message}; {hint}")))
    }

    fn block<T: Send>(
        &self,
        future: impl Future<Output = Result<T, (bool, String)>> + Send,
    ) -> Result<T, (bool, String)> {
        let runtime = &self.runtime;
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside another runtime (a caller's async context) a nested `block_on` would panic:
            // run it on a scoped thread instead.
            std::thread::scope(|scope| {
                scope
                    .spawn(|| runtime.block_on(future))
                    .join()
                    .unwrap_or_else(|_| Err((false, "the request thread panicked".to_owned())))
            })
        } else {
            runtime.block_on(future)
        }
    }

    fn ensure_collection(&self) -> Result<(), StoreError> {
        let path = self.collection_path();
        let (status, bytes) = self.send(Method::Get, &path, None)?;
        match status {
            200..=299 => {
                let info = wire::collection_info(&bytes).map_err(|m| self.error(&path, m))?;
                if info.dense_size != Some(self.dimension) || !info.multivector || !info.sparse {
                    let found = info.dense_size.map_or_else(
                        || "no `dense` multivector".to_owned(),
                        |n| format!("dense vectors of size {n}"),
                    );
                    return Err(self.error(
                        &path,
                        format!(
                            "collection `{}` has {found}{}, but the embedder `{}` makes vectors of size {} \
                             with a `text` sparse vector; choose another collection ([knowledge] collection \
                             or BAYNET_QDRANT_COLLECTION), or switch the embedder (BAYNET_KB_EMBEDDER)",
                            self.settings.collection,
                            if info.sparse { "" } else { " and no `text` sparse vector" },
                            self.embedder.name(),
                            self.dimension
                        ),
                    ));
                }
                Ok(())
            }
            404 => self.create_collection(),
            _ => {
                // Let `ok` phrase the error.
                self.ok(Method::Get, &path, None).map(|_| ())
            }
        }
    }

    fn create_collection(&self) -> Result<(), StoreError> {
        let path = self.collection_path();
        let (status, bytes) = self.send(
            Method::Put,
            &path,
            Some(&wire::create_collection(self.dimension)),
        )?;
        // 409: another process created it first.
        if !(200..300).contains(&status) && status != 409 {
            let message = wire::error_message(status, &bytes);
            return Err(self.error(
                &path,
                format!(
                    "cannot create the collection ({message}); Baynet needs Qdrant 1.10 or newer"
                ),
            ));
        }
        let index_path = format!("{path}/index?wait=true");
        for (field, schema) in wire::PAYLOAD_INDEXES {
            self.ok(
                Method::Put,
                &index_path,
                Some(&wire::create_index(field, schema)),
            )?;
        }
        Ok(())
    }

    /// What a point's vectors were made with, kept in its `embedder` payload: the embedder's
    /// name and the text analysis of its sparse vector ([`super::terms::TOKENIZER`]). A point
    /// written by another embedder or another analysis (before 2026-12-04 signal names were
    /// split, with no whole term) is rewritten at open.
    fn point_version(&self) -> String {
        format!("{} {}", self.embedder.name(), super::terms::TOKENIZER)
    }

    fn load(&mut self) -> Result<(), StoreError> {
        let path = format!("{}/points/scroll", self.collection_path());
        let mut records = BTreeMap::new();
        let mut stale = Vec::new();
        let name = self.point_version();
        let mut offset: Option<Value> = None;
        // Bounded: each page moves the offset forward; a server repeating one is an error.
        let mut seen_offsets = std::collections::BTreeSet::new();
        loop {
            let bytes = self.ok(
                Method::Post,
                &path,
                Some(&wire::scroll(offset.as_ref(), SCROLL_PAGE)),
            )?;
            let (points, next) = wire::scroll_page(&bytes).map_err(|m| self.error(&path, m))?;
            for point in points {
                let (stored, embedder) =
                    wire::stored_of(&point.payload).map_err(|message| StoreError::Corrupt {
                        id: point.id.to_string(),
                        message: format!("{message} (collection `{}`)", self.settings.collection),
                    })?;
                if embedder != name {
                    stale.push(stored.record.id.clone());
                }
                records.insert(stored.record.id.clone(), stored);
            }
            match next {
                Some(next) if seen_offsets.insert(next.to_string()) => offset = Some(next),
                Some(_) => return Err(self.error(&path, "the scroll did not advance")),
                None => break,
            }
        }
        self.signatures = records
            .iter()
            .map(|(id, s)| (id.clone(), signature::of_record(&s.record)))
            .collect();
        self.records = records;
        if !stale.is_empty() {
            // Vectors from another embedder: re-embed those records with this one.
            let batch: Vec<StoredRecord> = stale
                .iter()
                .filter_map(|id| self.records.get(id).cloned())
                .collect();
            self.write_points(&batch)?;
        }
        Ok(())
    }

    /// Embeds and upserts `batch` (no duplicate checks, no cache update).
    fn write_points(&mut self, batch: &[StoredRecord]) -> Result<(), StoreError> {
        let name = self.point_version();
        let path = format!("{}/points?wait=true", self.collection_path());
        for chunk in batch.chunks(UPSERT_CHUNK) {
            let mut texts = Vec::new();
            let mut counts = Vec::with_capacity(chunk.len());
            for stored in chunk {
                let own = retrieval::vector_texts(&stored.record, &stored.body);
                counts.push(own.len());
                texts.extend(own);
            }
            let embedded = self.embedder.embed(&texts).map_err(StoreError::Embed)?;
            if embedded.len() != texts.len() || embedded.iter().any(|v| v.len() != self.dimension) {
                return Err(StoreError::Embed(format!(
                    "the embedder returned {} vectors for {} texts, or vectors of another size than {}",
                    embedded.len(),
                    texts.len(),
                    self.dimension
                )));
            }
            let mut embedded = embedded.into_iter();
            let points: Vec<Value> = chunk
                .iter()
                .zip(&counts)
                .map(|(stored, &count)| {
                    let dense: Vec<Vec<f32>> = embedded.by_ref().take(count).collect();
                    let text = sparse::document(
                        &stored.record.title,
                        &stored.body,
                        &retrieval::evidence_text(&stored.record),
                    );
                    wire::point(stored, &dense, &text, &name)
                })
                .collect();
            self.ok(Method::Put, &path, Some(&wire::upsert(points)))?;
        }
        Ok(())
    }

    fn query_ids(&self, body: &Value) -> Result<Vec<String>, StoreError> {
        let path = format!("{}/points/query", self.collection_path());
        let bytes = self.ok(Method::Post, &path, Some(body))?;
        wire::query_ids(&bytes).map_err(|m| self.error(&path, m))
    }
}

fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The innermost cause says most (connection refused, DNS); URLs carry no secret.
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    format!("{kind} ({cause})")
}

impl KnowledgeIndex for QdrantStore {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    fn location(&self) -> String {
        format!(
            "{} collection {}",
            self.settings.url, self.settings.collection
        )
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn get(&self, id: &str) -> Option<&StoredRecord> {
        self.records.get(id)
    }

    fn records(&self) -> Box<dyn Iterator<Item = &StoredRecord> + '_> {
        Box::new(self.records.values())
    }

    fn vectors_of(&self, _id: &str) -> Option<(String, Vec<Vec<f32>>)> {
        // Not kept locally; fetching every point's vectors would cost a round trip each.
        None
    }

    fn upsert_batch(&mut self, batch: Vec<StoredRecord>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut seen: BTreeMap<&str, &std::path::Path> = BTreeMap::new();
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
        self.write_points(&batch)?;
        for stored in batch {
            let id = stored.record.id.clone();
            self.signatures
                .insert(id.clone(), signature::of_record(&stored.record));
            self.records.insert(id, stored);
        }
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<StoredRecord, StoreError> {
        let stored = self
            .records
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let path = format!("{}/points/delete?wait=true", self.collection_path());
        self.ok(Method::Post, &path, Some(&wire::delete(&[id])))?;
        self.records.remove(id);
        self.signatures.remove(id);
        Ok(stored)
    }

    fn replace_all(&mut self, records: Vec<StoredRecord>) -> Result<(), StoreError> {
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
        let path = self.collection_path();
        let (status, bytes) = self.send(Method::Delete, &path, None)?;
        if !(200..300).contains(&status) && status != 404 {
            let message = wire::error_message(status, &bytes);
            return Err(self.error(
                &path,
                format!("cannot drop the collection to rebuild it ({message})"),
            ));
        }
        self.records.clear();
        self.signatures.clear();
        self.create_collection()?;
        let batch: Vec<StoredRecord> = by_id.values().cloned().collect();
        self.write_points(&batch)?;
        self.signatures = by_id
            .iter()
            .map(|(id, s)| (id.clone(), signature::of_record(&s.record)))
            .collect();
        self.records = by_id;
        Ok(())
    }

    fn search(&mut self, query: &SearchQuery) -> Result<Vec<Hit>, StoreError> {
        let filter = wire::filter(query);
        let allowed = |id: &String| {
            self.records
                .get(id)
                .is_some_and(|stored| retrieval::passes(&stored.record, query))
        };
        let mut vector = Vec::new();
        let mut text = Vec::new();
        if !query.text.trim().is_empty() && !self.records.is_empty() {
            let embedded = self
                .embedder
                .embed(std::slice::from_ref(&query.text))
                .map_err(StoreError::Embed)?;
            if let Some(first) = embedded.into_iter().next()
                && first.len() == self.dimension
                && first.iter().any(|v| *v != 0.0)
            {
                vector = self.query_ids(&wire::query_dense(&first, filter.as_ref(), CANDIDATES))?;
            }
            let terms = sparse::query(&query.text);
            if !terms.is_empty() {
                text = self.query_ids(&wire::query_sparse(&terms, filter.as_ref(), CANDIDATES))?;
            }
        }
        vector.retain(allowed);
        text.retain(allowed);
        let signature = match &query.signature {
            Some(wanted) => retrieval::signature_ranking(
                wanted,
                query.focus_service.as_deref(),
                self.signatures.iter().filter(|(id, _)| allowed(id)),
            ),
            None => Vec::new(),
        };
        let rankings = Rankings {
            text,
            vector,
            signature,
        };
        Ok(retrieval::fuse(&rankings, query.limit, |id| {
            self.records.get(id).map(|stored| &stored.record)
        }))
    }

    fn into_embedder(self: Box<Self>) -> Box<dyn TextEmbedder> {
        self.embedder
    }
}
