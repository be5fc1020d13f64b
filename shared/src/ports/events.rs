//! Domain events for the event bus.

use super::StoreError;
use crate::domain::{Checkout, ItemId, Order};
use async_trait::async_trait;

/// A domain event for the event bus: a deterministic id (consumers dedupe on it), a type
/// and a versioned JSON detail.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DomainEvent {
    pub id: String,
    pub source: &'static str,
    pub detail_type: &'static str,
    pub detail: serde_json::Value,
}

/// Publishes domain events; a failed entry is retried, never silently dropped.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError>;
}

/// One side of a stock row change, as a change stream shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockImage {
    pub available: u32,
    pub shortfall: u32,
    pub version: u64,
}

/// What one committed change (a stream record) was, in domain terms: the adapter decodes
/// its table's keys and images, the use cases decide what it means.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Order {
        old: Option<Order>,
        new: Option<Order>,
    },
    Hold {
        old: Option<Checkout>,
        new: Option<Checkout>,
    },
    /// An item's aggregated stock row; `created` for its first write (a first receipt).
    StockTotal {
        item: ItemId,
        old: StockImage,
        new: StockImage,
        created: bool,
    },
    /// One warehouse's row of an item.
    StockWarehouse {
        item: ItemId,
        warehouse: String,
        old: StockImage,
        new: StockImage,
    },
    /// A catalogue listing.
    Item(ItemId),
    /// Something no use case reads (a parcel, an unparsable image).
    Other,
}

impl Change {
    /// The item a catalogue or stock change is about.
    pub fn item(&self) -> Option<ItemId> {
        match self {
            Self::StockTotal { item, .. }
            | Self::StockWarehouse { item, .. }
            | Self::Item(item) => Some(*item),
            _ => None,
        }
    }
}
