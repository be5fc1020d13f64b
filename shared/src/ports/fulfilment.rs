//! The warehouse side: stock rows, warehouse orders and atomic fulfilment changes.

use super::inventory::StockTotal;
use super::StoreError;
use crate::domain::{ItemId, Page, PageRequest};
use async_trait::async_trait;
use std::collections::HashMap;

/// One warehouse's stock of one item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarehouseStock {
    /// Units on the shelves.
    pub physical: u32,
    /// Of those, units not promised to a warehouse order.
    pub available: u32,
    /// Units lost while promised elsewhere (held, ordered or assigned): on the books, not on
    /// the shelf. Assignment never counts them.
    pub shortfall: u32,
}

impl WarehouseStock {
    /// Units that can be promised to a new order: available, less what was lost.
    pub fn sellable(&self) -> u32 {
        self.available.saturating_sub(self.shortfall)
    }
}

/// An item's stock everywhere: the aggregated row and every warehouse row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemStock {
    /// What it costs in all.
    pub total: StockTotal,
    /// Counts per warehouse holding the item.
    pub warehouses: HashMap<crate::domain::WarehouseId, WarehouseStock>,
}

impl ItemStock {
    /// The warehouses holding sellable units, sorted (what search's delivery promise uses).
    pub fn sellable_sites(&self) -> Vec<crate::domain::WarehouseId> {
        let mut sites: Vec<_> = self
            .warehouses
            .iter()
            .filter(|(_, s)| s.sellable() > 0)
            .map(|(w, _)| w.clone())
            .collect();
        sites.sort();
        sites
    }
}

/// A change to one stock row. Negative amounts are conditional: a move that would take a
/// counter below zero fails the whole change ([`Applied::Short`]) instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMove {
    /// The item.
    pub item: ItemId,
    /// `None` is the item's aggregated row (what shoppers buy from; only `available` applies).
    pub warehouse: Option<crate::domain::WarehouseId>,
    /// Units on the shelf, promised or not.
    pub physical: i64,
    /// Units on sale now.
    pub available: i64,
    /// Units lost that were already promised (recorded on the warehouse row; the stream turns
    /// a rise into a `StockShortfall` event).
    pub shortfall: u32,
    /// For the aggregated row: apply only if its `stockVersion` is still this (repairs).
    pub expect_version: Option<u64>,
}

/// A warehouse order write: `None` as `current` creates it (it must not exist yet).
#[derive(Debug, Clone, Copy)]
pub struct ShipmentWrite<'a> {
    /// The record as read (absent to create it).
    pub current: Option<&'a crate::domain::WarehouseOrder>,
    /// The cursor of the next page, if any.
    pub next: &'a crate::domain::WarehouseOrder,
}

/// One atomic fulfilment change: order, warehouse orders, stock and a once-only key, written
/// in one transaction or not at all.
#[derive(Debug, Clone, Default)]
pub struct FulfilmentChange<'a> {
    /// `(current, next)`: written only if the stored order is still at `current.version`.
    pub order: Option<(&'a crate::domain::Order, &'a crate::domain::Order)>,
    /// The warehouse orders it was split into.
    pub shipments: Vec<ShipmentWrite<'a>>,
    /// Stock moves, each conditional where it takes.
    pub stock: Vec<StockMove>,
    /// Applied at most once per key (a warehouse message's event id).
    pub once: Option<String>,
}

/// How a fulfilment change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Committed.
    Done,
    /// The once-only key was used before: this change already happened.
    AlreadyApplied,
    /// The order or a warehouse order changed since it was read.
    Stale,
    /// A stock counter would have gone below zero.
    Short,
}

/// Warehouse orders and per-warehouse stock.
#[async_trait]
pub trait Fulfilment: Send + Sync {
    /// Every stock row of each item (consistent reads).
    async fn stock(&self, items: &[ItemId]) -> Result<HashMap<ItemId, ItemStock>, StoreError>;
    /// The warehouse orders of an order.
    async fn shipments(
        &self,
        order: crate::domain::OrderId,
    ) -> Result<Vec<crate::domain::WarehouseOrder>, StoreError>;
    /// A warehouse's orders, newest first (the simulator's pick list).
    async fn shipments_of(
        &self,
        warehouse: &crate::domain::WarehouseId,
        page: &PageRequest,
    ) -> Result<Page<crate::domain::WarehouseOrder>, StoreError>;
    /// Write a change atomically.
    async fn apply(&self, change: &FulfilmentChange<'_>) -> Result<Applied, StoreError>;
}
