//! Stock as shoppers and warehouses see it.

use serde::Serialize;

use super::{ItemId, Quantity, WarehouseId};

/// What a shopper may buy of an item right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    /// Units on sale: received, minus held by checkouts, minus sold.
    pub available: u32,
    /// Whether any unit is on sale.
    pub in_stock: bool,
    /// In stock, but at or below the seller's low-stock threshold.
    pub low_stock: bool,
}

impl Availability {
    /// What a shopper may know of `available` units (exact counts only when low).
    pub fn new(available: u32, low_stock_threshold: u32) -> Self {
        Self {
            available,
            in_stock: available > 0,
            low_stock: available > 0 && available <= low_stock_threshold,
        }
    }
}

/// A delivery of units of one item into one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockReceipt {
    /// The warehouse's id.
    pub warehouse_id: WarehouseId,
    /// The item's id.
    pub item_id: ItemId,
    /// How many units.
    pub quantity: Quantity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_stock_means_in_stock_at_or_below_the_threshold() {
        assert_eq!(
            Availability::new(0, 5),
            Availability {
                available: 0,
                in_stock: false,
                low_stock: false
            }
        );
        assert_eq!(
            Availability::new(5, 5),
            Availability {
                available: 5,
                in_stock: true,
                low_stock: true
            }
        );
        assert_eq!(
            Availability::new(6, 5),
            Availability {
                available: 6,
                in_stock: true,
                low_stock: false
            }
        );
    }
}
