//! The bundle of ports the shopping use cases work against, borrowed from whatever wiring
//! the caller has (the Lambda's `App`, or a test's).

use crate::ports::{
    Carts, Catalog, Checkouts, Clock, Fulfilment, Inventory, OrderArchive, Orders, Parking,
    Payments, Requests, Timer, WaitingRoom, Warehouses,
};

/// Borrowed ports for one use-case call.
#[derive(Clone, Copy)]
pub struct Shop<'a> {
    /// Items.
    pub catalog: &'a dyn Catalog,
    /// Sellable stock.
    pub inventory: &'a dyn Inventory,
    /// Carts and wishlists.
    pub carts: &'a dyn Carts,
    /// Checkout holds.
    pub checkouts: &'a dyn Checkouts,
    /// Orders.
    pub orders: &'a dyn Orders,
    /// Orders that will never change again, moved out of `orders`.
    pub archive: &'a dyn OrderArchive,
    /// Warehouse orders and stock.
    pub fulfilment: &'a dyn Fulfilment,
    /// Warehouse sites.
    pub warehouses: &'a dyn Warehouses,
    /// The payment provider.
    pub payments: &'a dyn Payments,
    /// Idempotency records of requests.
    pub requests: &'a dyn Requests,
    /// The hold-expiry timer.
    pub timer: &'a dyn Timer,
    /// Failure records of the sweeper's work, and where what it gives up on is parked.
    pub parking: &'a dyn Parking,
    /// Hot items' waiting rooms.
    pub waiting_room: &'a dyn WaitingRoom,
    /// Where the time comes from.
    pub clock: &'a dyn Clock,
    /// How long a checkout holds stock.
    pub hold: std::time::Duration,
}
