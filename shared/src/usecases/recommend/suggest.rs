//! `GET /v1/items/suggest?q=`: completions from the search engine (brands, categories, item
//! names) and from what other shoppers searched for today and yesterday (popular queries,
//! read from the counters at most once a minute per instance).

use std::sync::Arc;

use super::rank::ranking;
use crate::domain::signal::{Measure, Window};
use crate::domain::suggest::{matching_queries, rank, Suggestion, Typed};
use crate::domain::Timestamp;
use crate::ports::{SearchIndex, SignalCounts, StoreError};

/// How long one read of the popular queries is used.
pub const POPULAR_QUERIES_MILLIS: i64 = 60_000;

/// Queries with how many shoppers searched for each, best first.
pub type Ranked = Arc<Vec<(String, u64)>>;

/// The popular queries this instance read last, and when (by the shop's clock).
#[derive(Debug, Default)]
pub struct PopularQueries {
    loaded: tokio::sync::Mutex<Option<(Timestamp, Ranked)>>,
}

impl PopularQueries {
    /// The queries most shoppers searched for (and found something), best first.
    pub async fn get(
        &self,
        counts: &impl SignalCounts,
        now: Timestamp,
    ) -> Result<Ranked, StoreError> {
        let mut loaded = self.loaded.lock().await;
        if let Some((at, queries)) = loaded.as_ref() {
            let age = now.unix_millis() - at.unix_millis();
            if (0..POPULAR_QUERIES_MILLIS).contains(&age) {
                return Ok(queries.clone());
            }
        }
        let queries = Arc::new(ranking(counts, Measure::Queries, Window::Day, None, now).await?);
        *loaded = Some((now, queries.clone()));
        Ok(queries)
    }
}

/// Up to `limit` completions of `typed`. The counters are a nicety here: when they cannot be
/// read, the engine's completions are still answered.
#[tracing::instrument(name = "suggest", skip_all)]
pub async fn suggest(
    index: &dyn SearchIndex,
    counts: &impl SignalCounts,
    popular: &PopularQueries,
    typed: &Typed,
    limit: usize,
    now: Timestamp,
) -> Result<Vec<Suggestion>, StoreError> {
    let (engine, queries) = tokio::join!(index.suggest(typed), popular.get(counts, now));
    let mut all = engine?;
    match queries {
        Ok(queries) => all.extend(matching_queries(typed, &queries)),
        Err(e) => tracing::warn!(error = %e, "popular queries not read; engine suggestions only"),
    }
    Ok(rank(all, limit))
}
