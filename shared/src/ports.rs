//! Ports: the narrow interfaces use cases need from the outside world. Adapters implement
//! them (DynamoDB today); use cases and tests depend only on these traits. Adapters classify
//! their SDK errors into [`StoreError`] so no SDK type reaches the domain.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::domain::{Category, Item, ItemId, Page, PageRequest, StockReceipt, UserId};

/// Infrastructure failures, already classified by the adapter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, network: worth retrying later (HTTP 503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Contention that outlasted the adapter's own retries.
    #[error("store contention: {0}")]
    Contention(String),
    /// A continuation cursor that this store did not issue (or that was tampered with).
    #[error("cursor is not valid for this listing")]
    BadCursor,
    /// A stored record that no longer parses: a bug or a bad migration, never client input.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// The product catalog.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Store a new item; ids are fresh UUIDs, so this never overwrites.
    async fn insert(&self, item: &Item) -> Result<(), StoreError>;
    /// Replace `current` with `next` only if the stored version is still `current.version`.
    /// `Ok(false)` means someone else changed it first.
    async fn replace(&self, current: &Item, next: &Item) -> Result<bool, StoreError>;
    async fn get(&self, id: ItemId) -> Result<Option<Item>, StoreError>;
    /// A category, newest first.
    async fn by_category(
        &self,
        category: &Category,
        page: &PageRequest,
    ) -> Result<Page<Item>, StoreError>;
    /// One seller's items, newest first.
    async fn by_seller(
        &self,
        seller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Item>, StoreError>;
}

/// Why a stock receipt was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptRejected {
    #[error("no such item")]
    UnknownItem,
    #[error("no such warehouse")]
    UnknownWarehouse,
    /// The idempotency key was already used for a different receipt.
    #[error("idempotency key was used for a different request")]
    KeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stock figures after a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLevels {
    /// Units physically in the warehouse.
    pub warehouse_physical: u32,
    /// Of those, units not yet promised to an order.
    pub warehouse_available: u32,
    /// Units of the item on sale across all warehouses.
    pub item_available: u32,
}

/// Stock: per warehouse (physical vs available) and aggregated per item.
#[async_trait]
pub trait Inventory: Send + Sync {
    /// Aggregated available units for each item; items never stocked are absent.
    async fn available(&self, items: &[ItemId]) -> Result<HashMap<ItemId, u32>, StoreError>;
    /// Apply a receipt atomically to the warehouse row and the item's aggregate.
    /// With an idempotency key, a repeat of the same receipt is applied once and reports
    /// `replayed = true`.
    async fn receive(
        &self,
        receipt: &StockReceipt,
        idempotency_key: Option<&str>,
    ) -> Result<(StockLevels, bool), ReceiptRejected>;
}

/// Warehouse sites.
#[async_trait]
pub trait Warehouses: Send + Sync {
    /// Create or replace a site (operators and seeding; idempotent).
    async fn put(&self, warehouse: &crate::domain::Warehouse) -> Result<(), StoreError>;
    async fn get(
        &self,
        id: &crate::domain::WarehouseId,
    ) -> Result<Option<crate::domain::Warehouse>, StoreError>;
}
