//! Search backends behind the [`crate::ports::SearchIndex`] port, chosen by configuration:
//! the embedded tantivy index (local default) or OpenSearch (AWS).

pub mod embedded;
pub mod opensearch;

pub use embedded::EmbeddedIndex;
pub use opensearch::OpenSearchIndex;
