//! Returns as records (see `domain::returns`). A shopper asks and is given an authorisation
//! ([`request()`], `request.rs`) they can read back ([`get()`]); a warehouse reports what
//! arrived ([`receive()`], `receive.rs`): units covered by the authorisation it names are
//! refunded once, whatever the number of reports or event ids, and the rest is held for
//! review; the item's seller accepts or refuses what is held ([`decide()`], `review.rs`).
//!
//! Every refund is owed in the same transaction as the order change that causes it (the
//! payment outbox, `Order::money_due`) and paid by `payments::settle_dues` afterwards.

mod receive;
mod request;
mod review;

pub use receive::receive;
pub use request::{request, Requested};
pub use review::{decide, ReviewError};

use super::Shop;
use crate::domain::{
    ItemId, Money, Order, OrderId, OrderStatus, ReturnAuthorisation, ReturnId, UserId, WarehouseId,
};
use crate::ports::{StockMove, StoreError};

/// Why a shopper's return request or read was refused; each maps to one HTTP answer in
/// `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    /// No such order or authorisation of the caller's.
    #[error("return not found")]
    NotFound,
    /// Nothing was delivered yet (or the order ended otherwise).
    #[error("a return can be requested only after delivery (the order is {})", .0.as_str())]
    NotReturnable(OrderStatus),
    /// The return window (30 days from delivery) closed then.
    #[error("returns are accepted for 30 days after delivery; this order's window closed at {0}")]
    WindowClosed(crate::domain::Timestamp),
    /// The request names lines or units the shopper does not hold.
    #[error("{0}")]
    Invalid(String),
    /// This `Idempotency-Key` made an authorisation for another request.
    #[error("this Idempotency-Key was already used for a different return request")]
    KeyReused,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The caller's own authorisation `return_id` of order `order_id`; anyone else's is
/// indistinguishable from none.
#[tracing::instrument(name = "get_return", skip_all, fields(order_id = %order_id, return_id = %return_id))]
pub async fn get(
    shop: Shop<'_>,
    user: &UserId,
    order_id: OrderId,
    return_id: ReturnId,
) -> Result<ReturnAuthorisation, ReturnError> {
    match crate::usecases::archive::find(shop, order_id).await? {
        Some(order) if &order.user_id == user => order
            .return_auth(return_id)
            .cloned()
            .ok_or(ReturnError::NotFound),
        _ => Err(ReturnError::NotFound),
    }
}

/// What `units` of `item` cost on `order` (its unit price as bought).
fn refund_for(order: &Order, item: ItemId, units: u32) -> Money {
    order.lines.iter().find(|l| l.item_id == item).map_or(
        Money {
            amount: 0,
            currency: order.total.currency,
        },
        |l| l.unit_price.times(units),
    )
}

/// Resellable units back on sale at `warehouse`: on its shelves, available there, and in the
/// aggregate shoppers buy from.
fn restock(warehouse: &WarehouseId, item: ItemId, units: u32) -> [StockMove; 2] {
    let q = i64::from(units);
    [
        StockMove {
            item,
            warehouse: Some(warehouse.clone()),
            physical: q,
            available: q,
            shortfall: 0,
            expect_version: None,
        },
        StockMove {
            item,
            warehouse: None,
            physical: 0,
            available: q,
            shortfall: 0,
            expect_version: None,
        },
    ]
}
