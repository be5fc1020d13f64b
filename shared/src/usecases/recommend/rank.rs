//! Rankings served to shoppers: popular now and most wishlisted (per window, overall or per
//! category), "customers who bought this also bought", and "for you". Only listed items with
//! units on sale ever appear.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::domain::recommend::{for_you as blend, merged_ranking};
use crate::domain::signal::{counter_key, Measure, Window};
use crate::domain::{Availability, Category, ItemId, SearchQuery, Timestamp, UserId};
use crate::ports::{Catalog, Inventory, SearchIndex, SignalCounts, StoreError};
use crate::usecases::catalog::ItemView;

/// Counted subjects read per bucket: enough that sold-out ones can be left out and `limit`
/// still filled.
const READ_PER_BUCKET: usize = 100;
/// Most items one list returns.
pub const MAX_LIST: usize = 20;

/// `GET /v1/recommendations`: the store's rankings for one window and scope.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rankings {
    /// The window asked for.
    pub window: Window,
    /// The category asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Most shoppers viewed, carted, wishlisted or bought (distinct shoppers).
    pub popular: Vec<ItemView>,
    /// Most shoppers wishlisted.
    pub wishlisted: Vec<ItemView>,
}

/// `ids` as shoppers see them, in order: unknown (unlisted) and sold-out items left out, up
/// to `limit`.
pub async fn on_sale(
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    ids: &[ItemId],
    limit: usize,
) -> Result<Vec<ItemView>, StoreError> {
    let mut out = Vec::new();
    // In slices, so a long candidate list costs only the reads it needs.
    for slice in ids.chunks(limit.max(1) * 2) {
        let (items, available) =
            tokio::try_join!(catalog.get_many(slice), inventory.available(slice))?;
        for id in slice {
            let units = available.get(id).copied().unwrap_or(0);
            if let (Some(item), true) = (items.get(id), units > 0) {
                out.push(ItemView {
                    availability: Availability::new(units, item.low_stock_threshold),
                    item: item.clone(),
                    delivery: None,
                });
                if out.len() == limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// One counter's ranking over `window` at `now` (both its buckets added up).
pub async fn ranking(
    counts: &impl SignalCounts,
    measure: Measure,
    window: Window,
    category: Option<&Category>,
    now: Timestamp,
) -> Result<Vec<(String, u64)>, StoreError> {
    let [current, previous] = window.buckets(now);
    let (current, previous) = (
        counter_key(measure, &current, category),
        counter_key(measure, &previous, category),
    );
    let (a, b) = tokio::try_join!(
        counts.top(&current, READ_PER_BUCKET),
        counts.top(&previous, READ_PER_BUCKET),
    )?;
    Ok(merged_ranking(&[a, b]))
}

fn item_ids(ranked: Vec<(String, u64)>) -> Vec<ItemId> {
    ranked
        .into_iter()
        .filter_map(|(id, _)| ItemId::try_from(id.as_str()).ok())
        .collect()
}

/// Popular now and most wishlisted.
#[tracing::instrument(name = "rankings", skip_all)]
pub async fn rankings(
    counts: &impl SignalCounts,
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    window: Window,
    category: Option<Category>,
    limit: usize,
    now: Timestamp,
) -> Result<Rankings, StoreError> {
    let scope = category.as_ref();
    let (popular, wished) = tokio::try_join!(
        ranking(counts, Measure::Interest, window, scope, now),
        ranking(counts, Measure::Wishlisted, window, scope, now),
    )?;
    let (popular, wished) = (item_ids(popular), item_ids(wished));
    let (popular, wishlisted) = tokio::try_join!(
        on_sale(catalog, inventory, &popular, limit),
        on_sale(catalog, inventory, &wished, limit),
    )?;
    Ok(Rankings {
        window,
        category,
        popular,
        wishlisted,
    })
}

/// `GET /v1/items/{itemId}/related`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Related {
    /// Bought by the most shoppers who bought this item, best first.
    pub also_bought: Vec<ItemView>,
}

/// "Customers who bought this also bought".
#[tracing::instrument(name = "related", skip_all, fields(item_id = %item))]
pub async fn related(
    counts: &impl SignalCounts,
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    item: ItemId,
    limit: usize,
) -> Result<Related, StoreError> {
    let ids: Vec<ItemId> = counts
        .bought_with(item, READ_PER_BUCKET)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| *id != item)
        .collect();
    Ok(Related {
        also_bought: on_sale(catalog, inventory, &ids, limit).await?,
    })
}

/// `GET /v1/me/recommendations`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForYou {
    /// For this shopper, best first.
    pub for_you: Vec<ItemView>,
}

/// Purchases a shopper's "for you" starts from.
const PURCHASES_READ: usize = 20;
/// Recent searches it looks at, and hits taken from each.
const SEARCHES_READ: usize = 3;
const HITS_PER_SEARCH: usize = 5;

/// "For you": what the shopper's purchases were bought with, what their recent searches
/// find, then what is popular today; never what they bought already.
#[tracing::instrument(name = "for_you", skip_all, fields(user_id = %shopper))]
pub async fn for_you(
    counts: &impl SignalCounts,
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    index: &dyn SearchIndex,
    shopper: &UserId,
    limit: usize,
    now: Timestamp,
) -> Result<ForYou, StoreError> {
    let (bought, searches, popular) = tokio::try_join!(
        counts.purchases(shopper, PURCHASES_READ),
        counts.recent_searches(shopper, SEARCHES_READ),
        ranking(counts, Measure::Interest, Window::Day, None, now),
    )?;
    let rows = futures_util::future::try_join_all(
        bought
            .iter()
            .map(|item| counts.bought_with(*item, READ_PER_BUCKET)),
    )
    .await?;
    let rows: Vec<Vec<(ItemId, u32)>> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(id, n)| (id, n.min(u32::MAX as u64) as u32))
                .collect()
        })
        .collect();
    let found = futures_util::future::try_join_all(searches.iter().map(|query| {
        let mut q = SearchQuery::all();
        q.words = crate::domain::search::words(query);
        q.sort = crate::domain::SortOrder::Relevance;
        q.in_stock_only = true;
        q.limit = HITS_PER_SEARCH as u32;
        async move { index.search(&q).await }
    }))
    .await?;
    let searched: Vec<ItemId> = found
        .iter()
        .flat_map(|hits| hits.hits.iter().map(|h| h.doc.item.item_id))
        .collect();
    let bought: BTreeSet<ItemId> = bought.into_iter().collect();
    // Candidates beyond `limit`: some may be sold out by now.
    let candidates = blend(
        &rows,
        &searched,
        &item_ids(popular),
        &bought,
        limit * 3,
        |_| true,
    );
    Ok(ForYou {
        for_you: on_sale(catalog, inventory, &candidates, limit).await?,
    })
}

/// The operator's report: searches that found nothing today and yesterday, most frequent
/// first (anonymous ones counted every time, signed-in shoppers once each), up to `limit`.
pub async fn zero_results(
    counts: &impl SignalCounts,
    limit: usize,
    now: Timestamp,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut ranked = ranking(counts, Measure::ZeroResults, Window::Day, None, now).await?;
    ranked.truncate(limit);
    Ok(ranked)
}
