//! The bundle of ports the shopping use cases work against, borrowed from whatever wiring
//! the caller has (the Lambda's `App`, or a test's).

use crate::ports::{
    Carts, Catalog, Checkouts, Clock, Fulfilment, Inventory, Orders, Payments, Requests, Timer,
    Warehouses,
};

/// Borrowed ports for one use-case call.
#[derive(Clone, Copy)]
pub struct Shop<'a> {
    pub catalog: &'a dyn Catalog,
    pub inventory: &'a dyn Inventory,
    pub carts: &'a dyn Carts,
    pub checkouts: &'a dyn Checkouts,
    pub orders: &'a dyn Orders,
    pub fulfilment: &'a dyn Fulfilment,
    pub warehouses: &'a dyn Warehouses,
    pub payments: &'a dyn Payments,
    /// Idempotency records of requests.
    pub requests: &'a dyn Requests,
    pub timer: &'a dyn Timer,
    /// Where the time comes from.
    pub clock: &'a dyn Clock,
    /// How long a checkout holds stock.
    pub hold: std::time::Duration,
}
