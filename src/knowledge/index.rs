//! The seam between the knowledge base and its index: [`KnowledgeIndex`], implemented by the
//! embedded store ([`super::store::KnowledgeStore`]: redb + tantivy + exact vectors) and by the
//! Qdrant backend ([`super::qdrant::QdrantStore`]). The Markdown files stay the source of
//! truth; an index holds what was derived from them and can always be rebuilt
//! ([`KnowledgeIndex::replace_all`]).
//!
//! Both keep every record in memory (for `get`, `list` and the signature ranking) and answer
//! [`KnowledgeIndex::search`] by fusing three rankings with the same pure code
//! ([`super::retrieval::fuse`]).

use super::retrieval::{Hit, SearchQuery, StoredRecord};
use super::store::{KnowledgeStore, StoreError};
use super::vectors::TextEmbedder;

/// The index side of a knowledge base.
pub trait KnowledgeIndex: Send {
    /// `embedded` or `qdrant`.
    fn backend(&self) -> &'static str;
    /// Where it lives (a directory, or a URL and collection), for messages.
    fn location(&self) -> String;
    /// Number of records.
    fn len(&self) -> usize;
    /// Whether there is no record.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A record by id.
    fn get(&self, id: &str) -> Option<&StoredRecord>;
    /// Every record, by id.
    fn records(&self) -> Box<dyn Iterator<Item = &StoredRecord> + '_>;
    /// The stored vectors of `id` with the embedder's name, when the backend has them at hand.
    fn vectors_of(&self, id: &str) -> Option<(String, Vec<Vec<f32>>)>;
    /// Adds or replaces records as one batch: all of them are stored (and acknowledged) or
    /// none. A record with the same id from another file is a [`StoreError::DuplicateId`].
    ///
    /// # Errors
    /// Duplicates, backend and embedding errors.
    fn upsert_batch(&mut self, batch: Vec<StoredRecord>) -> Result<(), StoreError>;
    /// Adds or replaces one record.
    ///
    /// # Errors
    /// As [`Self::upsert_batch`].
    fn upsert(&mut self, stored: StoredRecord) -> Result<(), StoreError> {
        self.upsert_batch(vec![stored])
    }
    /// Removes a record from the index (not its file).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] and backend errors.
    fn remove(&mut self, id: &str) -> Result<StoredRecord, StoreError>;
    /// Replaces the whole content with `records` (a reindex).
    ///
    /// # Errors
    /// Duplicates among `records`, backend and embedding errors.
    fn replace_all(&mut self, records: Vec<StoredRecord>) -> Result<(), StoreError>;
    /// Hybrid retrieval with the query's filters.
    ///
    /// # Errors
    /// Backend and embedding errors.
    fn search(&mut self, query: &SearchQuery) -> Result<Vec<Hit>, StoreError>;
    /// Closes the index and hands back its embedder (a loaded model is worth keeping).
    fn into_embedder(self: Box<Self>) -> Box<dyn TextEmbedder>;
}

impl KnowledgeIndex for KnowledgeStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn location(&self) -> String {
        self.dir().display().to_string()
    }

    fn len(&self) -> usize {
        KnowledgeStore::len(self)
    }

    fn get(&self, id: &str) -> Option<&StoredRecord> {
        KnowledgeStore::get(self, id)
    }

    fn records(&self) -> Box<dyn Iterator<Item = &StoredRecord> + '_> {
        Box::new(KnowledgeStore::records(self))
    }

    fn vectors_of(&self, id: &str) -> Option<(String, Vec<Vec<f32>>)> {
        KnowledgeStore::vectors_of(self, id)
    }

    fn upsert_batch(&mut self, batch: Vec<StoredRecord>) -> Result<(), StoreError> {
        KnowledgeStore::upsert_batch(self, batch)
    }

    fn remove(&mut self, id: &str) -> Result<StoredRecord, StoreError> {
        KnowledgeStore::remove(self, id)
    }

    fn replace_all(&mut self, records: Vec<StoredRecord>) -> Result<(), StoreError> {
        KnowledgeStore::replace_all(self, records)
    }

    fn search(&mut self, query: &SearchQuery) -> Result<Vec<Hit>, StoreError> {
        KnowledgeStore::search(self, query)
    }

    fn into_embedder(self: Box<Self>) -> Box<dyn TextEmbedder> {
        KnowledgeStore::into_embedder(*self)
    }
}

/// A boxed index is an index (so `&mut Box<dyn KnowledgeIndex>` goes where `&mut dyn
/// KnowledgeIndex` is expected).
impl<T: KnowledgeIndex + ?Sized> KnowledgeIndex for Box<T> {
    fn backend(&self) -> &'static str {
        (**self).backend()
    }
    fn location(&self) -> String {
        (**self).location()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, id: &str) -> Option<&StoredRecord> {
        (**self).get(id)
    }
    fn records(&self) -> Box<dyn Iterator<Item = &StoredRecord> + '_> {
        (**self).records()
    }
    fn vectors_of(&self, id: &str) -> Option<(String, Vec<Vec<f32>>)> {
        (**self).vectors_of(id)
    }
    fn upsert_batch(&mut self, batch: Vec<StoredRecord>) -> Result<(), StoreError> {
        (**self).upsert_batch(batch)
    }
    fn remove(&mut self, id: &str) -> Result<StoredRecord, StoreError> {
        (**self).remove(id)
    }
    fn replace_all(&mut self, records: Vec<StoredRecord>) -> Result<(), StoreError> {
        (**self).replace_all(records)
    }
    fn search(&mut self, query: &SearchQuery) -> Result<Vec<Hit>, StoreError> {
        (**self).search(query)
    }
    fn into_embedder(self: Box<Self>) -> Box<dyn TextEmbedder> {
        T::into_embedder(*self)
    }
}
