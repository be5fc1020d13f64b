//! Domain events for the event bus.

use super::StoreError;
use crate::domain::event::Event;
use crate::domain::{Checkout, ItemId, Order};
use async_trait::async_trait;

/// A domain event for the event bus: a deterministic id (consumers dedupe on it) and the
/// typed event (`domain::event`), whose kind gives the EventBridge source and detail type.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    /// Its id.
    pub id: String,
    /// The event.
    pub event: Event,
}

impl DomainEvent {
    /// The EventBridge source.
    pub fn source(&self) -> &'static str {
        self.event.kind().source()
    }

    /// The EventBridge detail type.
    pub fn detail_type(&self) -> &'static str {
        self.event.kind().detail_type()
    }
}

/// Publishes domain events; a failed entry is retried, never silently dropped.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publish `events`; all are accepted or the call fails (so a redelivery keeps them).
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError>;
}

/// One side of a stock row change, as a change stream shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockImage {
    /// Units on sale now.
    pub available: u32,
    /// Units promised but found missing, not yet made good.
    pub shortfall: u32,
    /// Optimistic-concurrency version, bumped by every write (`If-Match` compares it).
    pub version: u64,
    /// The shard count a `TOTAL` row records (1 on other rows and unsharded items).
    pub shards: u16,
}

/// What one committed change (a stream record) was, in domain terms: the adapter decodes
/// its table's keys and images, the use cases decide what it means.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An order record changed.
    Order {
        /// Before (absent if created).
        old: Option<Order>,
        /// After (absent if deleted).
        new: Option<Order>,
    },
    /// A hold record changed.
    Hold {
        /// Before (absent if created).
        old: Option<Checkout>,
        /// After (absent if TTL or a delete removed it).
        new: Option<Checkout>,
    },
    /// An item's aggregated stock row; `created` for its first write (a first receipt).
    StockTotal {
        /// The item.
        item: ItemId,
        /// Counts before.
        old: StockImage,
        /// Counts after.
        new: StockImage,
        /// Whether the row is new.
        created: bool,
    },
    /// One of a sharded item's extra stock shards (shard 0 is its `StockTotal` row).
    StockShard {
        /// The item.
        item: ItemId,
        /// Counts before.
        old: StockImage,
        /// Counts after.
        new: StockImage,
    },
    /// One warehouse's row of an item.
    StockWarehouse {
        /// The item.
        item: ItemId,
        /// The warehouse.
        warehouse: crate::domain::WarehouseId,
        /// Counts before.
        old: StockImage,
        /// Counts after.
        new: StockImage,
    },
    /// A catalogue listing.
    Item(ItemId),
    /// Something no use case reads (a parcel; a record that did not decode, once parked).
    Other,
}

impl Change {
    /// The item a catalogue or stock change is about.
    pub fn item(&self) -> Option<ItemId> {
        match self {
            Self::StockTotal { item, .. }
            | Self::StockShard { item, .. }
            | Self::StockWarehouse { item, .. }
            | Self::Item(item) => Some(*item),
            _ => None,
        }
    }
}
