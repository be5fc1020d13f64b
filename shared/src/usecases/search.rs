//! Searching the catalogue, keeping the index current, and rebuilding it.
//!
//! Freshness: stock numbers shown with results are always read live (one batch read of the
//! aggregated rows); the index only decides membership. In-stock-only results also drop a
//! hit the live read says is sold out, so the index's lag (one stream hop, under a second
//! locally) never shows a shopper something they cannot buy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::Date;

use crate::domain::delivery::{days_until, Area};
use crate::domain::{
    Availability, DeliveryMap, DeliveryPromise, Facets, ItemId, PageRequest, SearchCursor,
    SearchDoc, SearchHits, SearchQuery, SortOrder, Timestamp, WarehouseId, Zip,
};
use crate::ports::{Catalog, Clock, IndexTarget, Inventory, SearchIndex, StoreError};
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
    /// Set when `total` (under a price filter) and the facet counts are estimates: past
    /// 10,000 matches the embedded index counts a sample (README, "Search").
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counts_estimated: bool,
    /// The ZIP the delivery dates are for (given, or the signed-in shopper's saved one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_zip: Option<String>,
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

/// Where a shopper wants things delivered, and what search should do with it.
#[derive(Debug, Clone)]
pub struct DeliveryAsk {
    /// The shopper's ZIP code.
    pub zip: Zip,
    /// Only items that can arrive on or before this (UTC) day.
    pub by: Option<Date>,
    /// Order by delivery date (earliest first; relevance or newest within one date).
    pub sorted: bool,
    /// Where a delivery-ordered page starts (from [`SearchPage::next_cursor`]).
    pub after: Option<DeliveryCursor>,
}

/// A position in a delivery-ordered listing: which delivery-time ring, and where in it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryCursor {
    /// The ring's index (0 is the fastest).
    pub ring: usize,
    /// Where the page starts within that ring.
    pub inner: Option<SearchCursor>,
}

impl DeliveryCursor {
    /// URL-safe text: `d<ring>.<inner cursor or ->`.
    pub fn encode(&self) -> String {
        let inner = self
            .inner
            .as_ref()
            .map_or("-".to_owned(), SearchCursor::encode);
        format!("d{}.{inner}", self.ring)
    }

    /// Parse what [`Self::encode`] wrote, for a listing whose rings sort by `sort`.
    pub fn decode(raw: &str, sort: SortOrder) -> Result<Self, String> {
        let bad = || "not a cursor of a delivery-ordered search".to_owned();
        let (ring, inner) = raw
            .strip_prefix('d')
            .and_then(|r| r.split_once('.'))
            .ok_or_else(bad)?;
        let ring: usize = ring.parse().map_err(|_| bad())?;
        if ring > 64 {
            return Err(bad());
        }
        let inner = match inner {
            "-" => None,
            other => Some(SearchCursor::decode(other, sort)?),
        };
        Ok(Self { ring, inner })
    }
}

/// What a search needs besides the index and the stock: warehouse reach, and the time.
#[derive(Clone, Copy)]
pub struct SearchContext<'a> {
    /// The warehouse sites by ZIP area (delivery filters and promises).
    pub delivery: &'a DeliveryMap,
    /// Now (the promise's dates count from it).
    pub now: Timestamp,
}

/// Run a search and attach live availability, and with a ZIP the delivery promise, to the
/// page.
///
/// Delivery filters are index filters on the warehouses holding each item, so totals, facets
/// and cursors stay exact: `deliverableBy` keeps items held at a warehouse within that many
/// days of the ZIP; `deliverable` keeps items held anywhere. `sort=delivery` walks the ZIP's
/// delivery-time rings (the distinct ETAs of its warehouses, fastest first; at most about
/// ten): each ring is one filtered query, "held within this ring and not in a faster one", so
/// a page is exact and its cursor says which ring it stopped in.
#[tracing::instrument(name = "search", skip_all)]
pub async fn search(
    index: &dyn SearchIndex,
    inventory: &dyn Inventory,
    cache: &QueryCache,
    context: SearchContext<'_>,
    query: &SearchQuery,
    deliverable_only: bool,
    ask: Option<&DeliveryAsk>,
) -> Result<SearchPage, StoreError> {
    let mut query = query.clone();
    if deliverable_only {
        query.in_stock_only = true;
        query.sites_any = Some(context.delivery.site_ids());
    }
    let area = ask.map(|a| context.delivery.area(&a.zip));
    if let (Some(ask), Some(area)) = (ask, &area) {
        if let Some(by) = ask.by {
            let days = days_until(context.now, by);
            let reach = u32::try_from(days).map_or_else(|_| Vec::new(), |d| area.within(d));
            query.in_stock_only = true;
            query.sites_any = Some(intersect(query.sites_any.take(), reach));
        }
    }
    let (hits, next_cursor) = match (ask, &area) {
        (Some(ask), Some(area)) if ask.sorted => {
            by_delivery(index, cache, &query, area, ask.after.as_ref()).await?
        }
        _ => {
            let hits = first_page_cached(index, cache, &query).await?;
            let next = hits.next.as_ref().map(SearchCursor::encode);
            (hits, next)
        }
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
            let delivery = area.as_ref().map(|area| {
                // Units held in a warehouse but all promised to checkouts are not for sale.
                let holding: &[WarehouseId] = if units > 0 { &hit.doc.sites } else { &[] };
                DeliveryPromise::of(area, holding, context.now)
            });
            Some(ItemView {
                availability: Availability::new(units, hit.doc.item.low_stock_threshold),
                item: hit.doc.item.clone(),
                delivery,
            })
        })
        .collect();
    Ok(SearchPage {
        items,
        total: hits.total,
        facets: hits.facets.clone(),
        next_cursor,
        counts_estimated: hits.estimated,
        delivery_zip: ask.map(|a| a.zip.as_str().to_owned()),
    })
}

/// `current ∩ more` (`more` alone when there is no current restriction), in `more`'s order.
fn intersect(current: Option<Vec<WarehouseId>>, more: Vec<WarehouseId>) -> Vec<WarehouseId> {
    match current {
        None => more,
        Some(current) => more.into_iter().filter(|w| current.contains(w)).collect(),
    }
}

/// First pages come from the per-instance cache; later pages always from the index.
async fn first_page_cached(
    index: &dyn SearchIndex,
    cache: &QueryCache,
    query: &SearchQuery,
) -> Result<Arc<SearchHits>, StoreError> {
    if query.after.is_some() {
        return Ok(Arc::new(index.search(query).await?));
    }
    let generation = index.generation().await;
    let key = query.cache_key();
    if let Some(hits) = cache.get(&key, generation) {
        return Ok(hits);
    }
    let hits = Arc::new(index.search(query).await?);
    cache.put(key, generation, hits.clone());
    Ok(hits)
}

/// One page in delivery order: total and facets from the unringed query (the same matches),
/// hits ring by ring from the cursor's ring until the page is full.
async fn by_delivery(
    index: &dyn SearchIndex,
    cache: &QueryCache,
    query: &SearchQuery,
    area: &Area,
    after: Option<&DeliveryCursor>,
) -> Result<(Arc<SearchHits>, Option<String>), StoreError> {
    let mut overview = query.clone();
    overview.after = None;
    let overview = first_page_cached(index, cache, &overview).await?;
    // Rings: warehouses within each distinct ETA; then, unless the query only wants
    // deliverable items, the items held nowhere.
    let days = area.day_rings();
    let mut rings: Vec<(Option<Vec<WarehouseId>>, Vec<WarehouseId>)> = Vec::new();
    let mut faster: Vec<WarehouseId> = Vec::new();
    for d in days {
        let within = area.within(d);
        let ring: Vec<WarehouseId> = within
            .iter()
            .filter(|w| !faster.contains(w))
            .cloned()
            .collect();
        rings.push((
            Some(intersect(query.sites_any.clone(), ring)),
            faster.clone(),
        ));
        faster = within;
    }
    if query.sites_any.is_none() {
        rings.push((None, faster));
    }
    let (mut ring, mut inner) = after.map_or((0, None), |a| (a.ring, a.inner));
    let mut hits = Vec::new();
    let mut next = None;
    while ring < rings.len() && hits.len() < query.limit as usize {
        let (any, none) = &rings[ring];
        if any.as_ref().is_some_and(Vec::is_empty) {
            ring += 1;
            continue;
        }
        let mut q = query.clone();
        q.sites_any = any.clone();
        q.sites_none = none.clone();
        q.limit = query.limit - hits.len() as u32;
        q.after = inner.take();
        let found = index.search(&q).await?;
        hits.extend(found.hits);
        match found.next {
            Some(cursor) => {
                next = Some(DeliveryCursor {
                    ring,
                    inner: Some(cursor),
                });
                break;
            }
            None => ring += 1,
        }
    }
    if next.is_none() && ring < rings.len() && hits.len() >= query.limit as usize {
        next = Some(DeliveryCursor { ring, inner: None });
    }
    let page = SearchHits {
        hits,
        total: overview.total,
        facets: overview.facets.clone(),
        next: None,
        estimated: overview.estimated,
    };
    Ok((Arc::new(page), next.map(|c| c.encode())))
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
#[tracing::instrument(name = "index_items", skip_all, fields(items = ids.len()))]
pub async fn index_items(
    catalog: &dyn Catalog,
    inventory: &dyn Inventory,
    clock: &dyn Clock,
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
        let read_at = clock.now().unix_millis();
        let stock = inventory.stock(chunk).await?;
        let docs: Vec<SearchDoc> = items
            .into_values()
            .map(|item| {
                let stock = stock.get(&item.item_id);
                SearchDoc {
                    in_stock: stock.is_some_and(|s| s.total.available > 0),
                    stock_version: stock.map_or(0, |s| s.total.version),
                    sites: stock.map(|s| s.sellable_sites()).unwrap_or_default(),
                    stock_read_at: read_at,
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
#[tracing::instrument(name = "rebuild_index", skip_all)]
pub async fn rebuild(
    catalog: &dyn Catalog,
    inventory: &dyn Inventory,
    clock: &dyn Clock,
    index: &dyn SearchIndex,
) -> Result<RebuildReport, StoreError> {
    let generation = index.create_generation().await?;
    let ids = every_item(catalog).await?;
    let mut indexed = 0;
    for chunk in ids.chunks(1000) {
        let target = IndexTarget::Generation(&generation);
        indexed += index_items(catalog, inventory, clock, index, target, chunk)
            .await?
            .changed;
    }
    index.publish_generation(&generation).await?;
    let mut caught_up = 0;
    for chunk in every_item(catalog).await?.chunks(1000) {
        caught_up += index_items(catalog, inventory, clock, index, IndexTarget::Live, chunk)
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
            estimated: false,
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
