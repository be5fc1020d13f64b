//! The shopper's cart and wishlist: one of each per user, the same from every device.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ItemId, Quantity, Timestamp};

/// Most distinct lines a cart may hold. A checkout holds every line in one
/// `TransactWriteItems` (at most 100 actions), which also writes the hold record, the
/// one-active-checkout pointer and the idempotency record: 100 - 3 = 97.
pub const MAX_CART_LINES: usize = 97;
/// Most units of one item per cart line (a household, not a reseller).
pub const MAX_LINE_QUANTITY: u32 = 10;
/// Most items on a wishlist.
pub const MAX_WISHLIST_ITEMS: usize = 200;

/// A cart as stored: item → quantity, with a version that every write bumps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    /// The lines, one per item.
    #[serde(default)]
    pub lines: BTreeMap<ItemId, Quantity>,
    /// 0 for a cart never written.
    #[serde(default)]
    pub version: u64,
    /// When it last changed.
    pub updated_at: Option<Timestamp>,
}

/// Why a cart edit is refused before any stock is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartRule {
    /// A cart holds at most `MAX_CART_LINES` different items.
    #[error("a cart holds at most {MAX_CART_LINES} different items")]
    TooManyLines,
    /// At most `MAX_LINE_QUANTITY` units of one item per order.
    #[error("at most {MAX_LINE_QUANTITY} units of one item per order")]
    LineTooLarge,
}

impl Cart {
    /// Set a line's quantity; `None` removes it.
    pub fn set(&mut self, item: ItemId, quantity: Option<Quantity>) -> Result<(), CartRule> {
        match quantity {
            None => {
                self.lines.remove(&item);
            }
            Some(q) if q.get() > MAX_LINE_QUANTITY => return Err(CartRule::LineTooLarge),
            Some(_) if !self.lines.contains_key(&item) && self.lines.len() >= MAX_CART_LINES => {
                return Err(CartRule::TooManyLines)
            }
            Some(q) => {
                self.lines.insert(item, q);
            }
        }
        Ok(())
    }
}

/// A wishlist: items with when they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wishlist {
    /// The entries.
    #[serde(default)]
    pub items: BTreeMap<ItemId, Timestamp>,
    /// Optimistic-concurrency version, bumped by every write (`If-Match` compares it).
    #[serde(default)]
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64) -> Option<Quantity> {
        Some(Quantity::try_from(n).unwrap())
    }

    #[test]
    fn a_cart_refuses_a_98th_line_and_oversize_lines_but_allows_edits_when_full() {
        let mut cart = Cart::default();
        let ids: Vec<ItemId> = (0..MAX_CART_LINES).map(|_| ItemId::generate()).collect();
        for id in &ids {
            cart.set(*id, q(1)).unwrap();
        }
        assert_eq!(
            cart.set(ItemId::generate(), q(1)),
            Err(CartRule::TooManyLines)
        );
        assert_eq!(cart.set(ids[0], q(11)), Err(CartRule::LineTooLarge));
        cart.set(ids[0], q(3)).unwrap();
        cart.set(ids[1], None).unwrap();
        assert_eq!(cart.lines.len(), MAX_CART_LINES - 1);
    }
}
