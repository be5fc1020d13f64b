//! The product search index.

use super::StoreError;
use crate::domain::ItemId;
use async_trait::async_trait;

/// Which index a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexTarget<'a> {
    /// The index searches are served from (behind the alias).
    Live,
    /// A generation being built by a rebuild, not yet served.
    Generation(&'a str),
}

/// The product search index (embedded tantivy or OpenSearch).
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// Run a query (see `domain::search` for the semantics every backend follows).
    async fn search(
        &self,
        query: &crate::domain::SearchQuery,
    ) -> Result<crate::domain::SearchHits, StoreError>;
    /// Brands, categories and item names completing `typed` within its typos (unranked: the
    /// caller merges them with popular queries, `domain::suggest::rank`).
    async fn suggest(
        &self,
        typed: &crate::domain::suggest::Typed,
    ) -> Result<Vec<crate::domain::suggest::Suggestion>, StoreError>;
    /// A number that changes whenever searchable content may have changed, when the backend
    /// can tell cheaply (the embedded index's commit generation); `None` otherwise.
    async fn generation(&self) -> Option<u64>;
    /// Write documents, each merged with what is indexed by [`crate::domain::SearchDoc::merge`]
    /// so an older version never replaces a newer one. Returns how many changed.
    async fn upsert(
        &self,
        target: IndexTarget<'_>,
        docs: &[crate::domain::SearchDoc],
    ) -> Result<usize, StoreError>;
    /// Forget items that no longer exist.
    async fn remove(&self, ids: &[ItemId]) -> Result<(), StoreError>;
    /// Start a fresh, empty generation (with the project's mapping) and name it.
    async fn create_generation(&self) -> Result<String, StoreError>;
    /// Serve searches from `name` from now on (an atomic alias switch) and drop older ones.
    async fn publish_generation(&self, name: &str) -> Result<(), StoreError>;
}
