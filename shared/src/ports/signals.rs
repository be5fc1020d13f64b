//! Where shopper signals are counted (see `domain::signal`) and read back as rankings.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::signal::Tally;
use crate::domain::{ItemId, Timestamp, UserId};

/// Counters of distinct shoppers, purchases and co-purchases, and recent searches.
#[async_trait]
pub trait SignalCounts: Send + Sync {
    /// Add one to each of the tally's counters, once per `once_per` per bucket. `false` when
    /// it was already counted: a redelivered or repeated signal changes nothing.
    async fn tally(&self, tally: &Tally) -> Result<bool, StoreError>;
    /// The highest counts of one counter, best first, up to `limit`.
    async fn top(&self, counter: &str, limit: usize) -> Result<Vec<(String, u64)>, StoreError>;
    /// Record that `shopper` bought `item` and count it bought together with each of their
    /// earlier purchases (each pair once per shopper, whatever the order of concurrent
    /// orders). `false` when it was already recorded.
    async fn record_purchase(
        &self,
        shopper: &UserId,
        item: ItemId,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// What `shopper` bought, most recent first, up to `limit`.
    async fn purchases(&self, shopper: &UserId, limit: usize) -> Result<Vec<ItemId>, StoreError>;
    /// The items most shoppers who bought `item` also bought, best first, up to `limit`.
    async fn bought_with(
        &self,
        item: ItemId,
        limit: usize,
    ) -> Result<Vec<(ItemId, u64)>, StoreError>;
    /// Keep a signed-in shopper's search (for "for you"), for 30 days.
    async fn remember_search(
        &self,
        shopper: &UserId,
        query: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// The shopper's distinct recent searches, most recent first, up to `limit`.
    async fn recent_searches(
        &self,
        shopper: &UserId,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}
