//! Stock receipts and stock levels, per warehouse and aggregated per item.

use super::StoreError;
use crate::domain::{ItemId, StockReceipt};
use async_trait::async_trait;
use std::collections::HashMap;

/// Why a stock receipt was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptRejected {
    /// No such item.
    #[error("no such item")]
    UnknownItem,
    /// No such warehouse.
    #[error("no such warehouse")]
    UnknownWarehouse,
    /// The idempotency key was already used for a different receipt.
    #[error("idempotency key was used for a different request")]
    KeyReused,
    /// The store failed (see [`StoreError`]).
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
    /// Every stock row of each item (the aggregate with its `stockVersion`, bumped on every
    /// change, and each warehouse's counts), read strongly consistently: what the search
    /// indexer takes the in-stock flag and the delivery sites from.
    async fn stock(
        &self,
        items: &[ItemId],
    ) -> Result<HashMap<ItemId, super::ItemStock>, StoreError>;
    /// Apply a receipt atomically to the warehouse row and the item's aggregate.
    /// With an idempotency key, a repeat of the same receipt is applied once and reports
    /// `replayed = true`.
    async fn receive(
        &self,
        receipt: &StockReceipt,
        idempotency_key: Option<&str>,
    ) -> Result<(StockLevels, bool), ReceiptRejected>;
}

/// An item's aggregated stock row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockTotal {
    /// Units on sale now.
    pub available: u32,
    /// Optimistic-concurrency version, bumped by every write (`If-Match` compares it).
    pub version: u64,
}
