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
    /// How each item is sold (items never stocked have the default). May be a few seconds
    /// stale: a stale shard count only spreads holds over fewer shards, never loses units.
    async fn sales(
        &self,
        items: &[ItemId],
    ) -> Result<HashMap<ItemId, crate::domain::SaleSettings>, StoreError>;
    /// Like [`Inventory::available`], but as this instance read it within the last second:
    /// the waiting room's "sold out" check, asked by every arrival at a hot item.
    async fn available_recently(
        &self,
        items: &[ItemId],
    ) -> Result<HashMap<ItemId, u32>, StoreError>;
    /// Change how `item` is sold, spreading the units on sale evenly over the shards; the
    /// count only grows (`Ok(false)` when fewer were asked for: see README, "Hot items").
    async fn configure_sale(
        &self,
        item: ItemId,
        settings: crate::domain::SaleSettings,
    ) -> Result<bool, StoreError>;
    /// Make stock shard `shard` of `item` hold at least `units`, moving units from its other
    /// shards in one transaction: `Ok(false)` if all of them together hold fewer.
    async fn concentrate(&self, item: ItemId, shard: u16, units: u32) -> Result<bool, StoreError>;
    /// For sharded items: the sum over their shards with the low-stock state last announced
    /// for it (a sharded item has no one row whose stream tells a crossing).
    async fn alert_states(
        &self,
        items: &[ItemId],
    ) -> Result<HashMap<ItemId, AlertState>, StoreError>;
    /// Record that `low` was announced for `item`, if its state is still at `seq`.
    async fn record_alert(
        &self,
        item: ItemId,
        seq: u64,
        announced: Announced,
    ) -> Result<bool, StoreError>;
    /// Apply a receipt atomically to the warehouse row and the item's aggregate.
    /// With an idempotency key, a repeat of the same receipt is applied once and reports
    /// `replayed = true`.
    async fn receive(
        &self,
        receipt: &StockReceipt,
        idempotency_key: Option<&str>,
    ) -> Result<(StockLevels, bool), ReceiptRejected>;
}

/// An item's aggregated stock: its `TOTAL` row, plus its other shards when it has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockTotal {
    /// Units on sale now, summed over every shard.
    pub available: u32,
    /// Optimistic-concurrency version of the `TOTAL` row, bumped by every write to it
    /// (`If-Match` compares it). Holds on shards 1.. do not bump it.
    pub version: u64,
    /// How the item is sold (shard count, waiting room).
    pub sale: crate::domain::SaleSettings,
}

/// The stock state a sharded item's alerts were last announced (or recorded) in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Announced {
    /// Below the low-stock threshold (`LowStock` was the last of its kind).
    pub low: bool,
    /// None on sale.
    pub sold_out: bool,
}

/// A sharded item's low-stock state: what is on sale over all shards, and what was last
/// announced (`low`, at announcement number `seq`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertState {
    /// Units on sale, summed over the shards.
    pub available: u32,
    /// Whether `LowStock` was the last announcement.
    pub low: bool,
    /// Whether the sum was last recorded at 0 (the next units on sale are a restock).
    pub sold_out: bool,
    /// Announcements made so far.
    pub seq: u64,
}
