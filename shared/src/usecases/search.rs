//! Searching the catalogue, keeping the index current, and rebuilding it.
//!
//! Freshness: stock numbers shown with results are always read live (one batch read of the
//! aggregated rows); the index only decides membership. In-stock-only results also drop a
//! hit the live read says is sold out, so the index's lag (one stream hop, under a second
//! locally) never shows a shopper something they cannot buy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::{
    Availability, Facets, ItemId, PageRequest, SearchDoc, SearchHits, SearchQuery,
};
use crate::ports::{Catalog, IndexTarget, Inventory, SearchIndex, StoreError};
use crate::usecases::catalog::ItemView;

/// A page of search results as the API returns it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// The entries.
    pub items: Vec<ItemView>,
    /// Every match of the query and filters (as indexed).
    pub total: u64,
    /// Counts over every hit.
    pub facets: Facets,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
}

/// Short-lived cache of first pages, per function instance.
///
/// A repeated first page (the home page's popular queries) is served from memory for at most
/// `ttl`, and not at all once the index has committed anything since (when the backend can
/// tell: the embedded index's generation). Availability is never cached: it is read live for
/// every page served, so a cached page can be at most `ttl` late about which items match,
/// never about how many are left.
#[derive(Debug)]
pub struct QueryCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    at: Instant,
    generation: Option<u64>,
    hits: Arc<SearchHits>,
}

impl QueryCache {
    /// A cache of at most `capacity` pages, each kept for `ttl`.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str, generation: Option<u64>) -> Option<Arc<SearchHits>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        (entry.at.elapsed() < self.ttl && entry.generation == generation)
            .then(|| entry.hits.clone())
    }

    fn put(&self, key: String, generation: Option<u64>, hits: Arc<SearchHits>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            // Expired entries first; if none, the oldest.
            entries.retain(|_, e| e.at.elapsed() < self.ttl);
            if entries.len() >= self.capacity {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(
            key,
            Cached {
                at: Instant::now(),
                generation,
                hits,
            },
        );
    }
}

/// Run a search and attach live availability to the page.
pub async fn search(
    index: &dyn SearchIndex,
    inventory: &dyn Inventory,
    cache: &QueryCache,
    query: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    let hits = if query.after.is_none() {
        let generation = index.generation().await;
        let key = query.cache_key();
        match cache.get(&key, generation) {
            Some(hits) => hits,
            None => {
                let hits = Arc::new(index.search(query).await?);
                cache.put(key, generation, hits.clone());
                hits
            }
        }
    } else {
        Arc::new(index.search(query).await?)
    };
    let ids: Vec<ItemId> = hits.hits.iter().map(|h| h.doc.item.item_id).collect();
    let available = inventory.available(&ids).await?;
    let items = hits
        .hits
        .iter()
        .filter_map(|hit| {
            let units = available.get(&hit.doc.item.item_id).copied().unwrap_or(0);
            if query.in_stock_only && units == 0 {
                return None;
            }
            Some(ItemView {
                availability: Availability::new(units, hit.doc.item.low_stock_threshold),
                item: hit.doc.item.clone(),
            })
        })
        .collect();
    Ok(SearchPage {
        items,
        total: hits.total,
        facets: hits.facets.clone(),
        next_cursor: hits.next.map(|c| c.encode()),
    })
}

/// What one indexing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Documents written (new, or newer than what was indexed).
    pub changed: usize,
    /// Items gone from the catalogue, removed from the index.
    pub removed: usize,
}

/// Bring the index up to date for `ids` (the indexer's stream batches, and the rebuild).
///
/// The stream record only says *which* item changed: its current listing and stock row are
/// read strongly consistently, so a redelivered or out-of-order record can only ever write
/// the present state, and the versioned merge in the index refuses anything older than what
/// a concurrent pass already wrote.
pub async fn index_items(
    catalog: &dyn Catalog,
    inventory: &dyn Inventory,
    index: &dyn SearchIndex,
    target: IndexTarget<'_>,
    ids: &[ItemId],
) -> Result<IndexReport, StoreError> {
    let unique: Vec<ItemId> = ids
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut report = IndexReport::default();
    for chunk in unique.chunks(100) {
        let items = catalog.get_many(chunk).await?;
        let totals = inventory.totals(chunk).await?;
        let docs: Vec<SearchDoc> = items
            .into_values()
            .map(|item| {
                let total = totals.get(&item.item_id).copied();
                SearchDoc {
                    in_stock: total.is_some_and(|t| t.available > 0),
                    stock_version: total.map_or(0, |t| t.version),
                    item,
                }
            })
            .collect();
        let gone: Vec<ItemId> = chunk
            .iter()
            .filter(|id| !docs.iter().any(|d| d.item.item_id == **id))
            .copied()
            .collect();
        report.changed += index.upsert(target, &docs).await?;
        if !gone.is_empty() && target == IndexTarget::Live {
            index.remove(&gone).await?;
            report.removed += gone.len();
        }
    }
    Ok(report)
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// The new index generation's name.
    pub generation: String,
    /// Documents written into it.
    pub indexed: usize,
    /// Documents the catch-up pass found changed while the build ran.
    pub caught_up: usize,
}

/// Build a fresh generation from the catalogue, switch searches to it, then catch up.
///
/// Searches keep using the old generation until the switch. Changes that land during the
/// build go to the old generation through the stream; the catch-up pass re-reads every item
/// after the switch and the versioned merge writes only what is newer, so nothing is lost.
pub async fn rebuild(
    catalog: &dyn Catalog,
    inventory: &dyn Inventory,
    index: &dyn SearchIndex,
) -> Result<RebuildReport, StoreError> {
    let generation = index.create_generation().await?;
    let ids = every_item(catalog).await?;
    let mut indexed = 0;
    for chunk in ids.chunks(1000) {
        let target = IndexTarget::Generation(&generation);
        indexed += index_items(catalog, inventory, index, target, chunk)
            .await?
            .changed;
    }
    index.publish_generation(&generation).await?;
    let mut caught_up = 0;
    for chunk in every_item(catalog).await?.chunks(1000) {
        caught_up += index_items(catalog, inventory, index, IndexTarget::Live, chunk)
            .await?
            .changed;
    }
    tracing::info!(%generation, indexed, caught_up, "search index rebuilt");
    Ok(RebuildReport {
        generation,
        indexed,
        caught_up,
    })
}

/// Every item id in the catalogue (a scan; ids only are kept: 16 bytes each).
async fn every_item(catalog: &dyn Catalog) -> Result<Vec<ItemId>, StoreError> {
    let mut page = PageRequest {
        limit: 1000,
        cursor: None,
    };
    let mut ids = Vec::new();
    loop {
        let listing = catalog.scan(&page).await?;
        ids.extend(listing.items.iter().map(|i| i.item_id));
        match listing.next_cursor {
            Some(next) => page.cursor = Some(crate::domain::Cursor(next)),
            None => return Ok(ids),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(total: u64) -> Arc<SearchHits> {
        Arc::new(SearchHits {
            hits: vec![],
            total,
            facets: Facets::default(),
            next: None,
        })
    }

    #[test]
    fn a_cached_first_page_is_served_until_the_index_commits() {
        let cache = QueryCache::new(Duration::from_secs(60), 8);
        cache.put("q".into(), Some(1), hits(5));
        assert_eq!(cache.get("q", Some(1)).map(|h| h.total), Some(5));
        assert!(cache.get("q", Some(2)).is_none(), "a commit invalidates");
        assert!(cache.get("other", Some(1)).is_none());
    }

    #[test]
    fn a_cached_page_expires_after_its_lifetime() {
        let cache = QueryCache::new(Duration::ZERO, 8);
        cache.put("q".into(), None, hits(5));
        assert!(cache.get("q", None).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = QueryCache::new(Duration::from_secs(60), 2);
        for key in ["a", "b", "c"] {
            cache.put(key.into(), None, hits(1));
        }
        let kept = ["a", "b", "c"]
            .iter()
            .filter(|k| cache.get(k, None).is_some())
            .count();
        assert_eq!(kept, 2);
        assert!(cache.get("c", None).is_some(), "the newest stays");
    }
}
