//! The order archive: cheap storage for orders that will never change again.

use super::StoreError;
use crate::domain::{HistoryPosition, Order, OrderId, Timestamp, UserId};
use async_trait::async_trait;

/// Where archived orders live (S3 in AWS). Every write is idempotent: an order has one place
/// in the archive, so writing it again leaves one copy.
#[async_trait]
pub trait OrderArchive: Send + Sync {
    /// Write the order's archive copy (what an analyst queries and a shopper reads back).
    async fn copy(&self, order: &Order) -> Result<(), StoreError>;
    /// List the order in its shopper's archived history.
    async fn index(&self, order: &Order) -> Result<(), StoreError>;
    /// Whether the archive holds exactly this order, copy and history entry both: the
    /// confirmation asked for before the transactional copy is removed.
    async fn holds(&self, order: &Order) -> Result<bool, StoreError>;
    /// The archived order `id`, if there is one.
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError>;
    /// Up to `limit` of a shopper's archived orders, in history order (newest first), created
    /// within `[from, to]` and after `after`.
    async fn history(
        &self,
        user: &UserId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        after: Option<HistoryPosition>,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError>;
}
