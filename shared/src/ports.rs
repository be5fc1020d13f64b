//! Ports: the narrow interfaces use cases need from the outside world. Adapters implement
//! them (DynamoDB today); use cases and tests depend only on these traits. Adapters classify
//! their SDK errors into [`StoreError`] so no SDK type reaches the domain.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::domain::{Item, ItemId, Page, PageRequest, StockReceipt, UserId};

/// Infrastructure failures, already classified by the adapter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, network: worth retrying later (HTTP 503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Contention that outlasted the adapter's own retries.
    #[error("store contention: {0}")]
    Contention(String),
    /// A continuation cursor that this store did not issue (or that was tampered with).
    #[error("cursor is not valid for this listing")]
    BadCursor,
    /// A stored record that no longer parses: a bug or a bad migration, never client input.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The store rejected a request as malformed (a validation or resource error): our bug
    /// or misconfiguration, never worth a client's retry (HTTP 500, not 503).
    #[error("store rejected the request: {0}")]
    Bug(String),
}

/// The product catalog.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Store a new item; ids are fresh UUIDs, so this never overwrites.
    async fn insert(&self, item: &Item) -> Result<(), StoreError>;
    /// Replace `current` with `next` only if the stored version is still `current.version`.
    /// `Ok(false)` means someone else changed it first.
    async fn replace(&self, current: &Item, next: &Item) -> Result<bool, StoreError>;
    async fn get(&self, id: ItemId) -> Result<Option<Item>, StoreError>;
    /// Several items in one round trip; unknown ids are absent from the answer.
    async fn get_many(&self, ids: &[ItemId]) -> Result<HashMap<ItemId, Item>, StoreError>;
    /// Every item, in no particular order, a page at a time (the search index rebuild).
    async fn scan(&self, page: &PageRequest) -> Result<Page<Item>, StoreError>;
    /// One seller's items, newest first.
    async fn by_seller(
        &self,
        seller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Item>, StoreError>;
}

/// Why a stock receipt was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptRejected {
    #[error("no such item")]
    UnknownItem,
    #[error("no such warehouse")]
    UnknownWarehouse,
    /// The idempotency key was already used for a different receipt.
    #[error("idempotency key was used for a different request")]
    KeyReused,
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
    /// Aggregated available units with the row's `stockVersion` (bumped on every change), read
    /// strongly consistently: what the search indexer versions its in-stock flag by.
    async fn totals(&self, items: &[ItemId]) -> Result<HashMap<ItemId, StockTotal>, StoreError>;
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
    pub available: u32,
    pub version: u64,
}

/// Warehouse sites.
#[async_trait]
pub trait Warehouses: Send + Sync {
    /// Create or replace a site (operators and seeding; idempotent).
    async fn put(&self, warehouse: &crate::domain::Warehouse) -> Result<(), StoreError>;
    async fn get(
        &self,
        id: &crate::domain::WarehouseId,
    ) -> Result<Option<crate::domain::Warehouse>, StoreError>;
    /// Every site (dozens, not thousands: the assignment worker reads them once per instance).
    async fn list(&self) -> Result<Vec<crate::domain::Warehouse>, StoreError>;
}

/// Carts and wishlists, each one record per user with a version for optimistic concurrency.
#[async_trait]
pub trait Carts: Send + Sync {
    async fn cart(&self, user: &UserId) -> Result<crate::domain::Cart, StoreError>;
    /// Store `cart` (whose version the caller has bumped) if the stored version is still
    /// `cart.version - 1`; `Ok(false)` if another device wrote first.
    async fn save_cart(
        &self,
        user: &UserId,
        cart: &crate::domain::Cart,
    ) -> Result<bool, StoreError>;
    async fn wishlist(&self, user: &UserId) -> Result<crate::domain::Wishlist, StoreError>;
    /// As [`Carts::save_cart`], for the wishlist.
    async fn save_wishlist(
        &self,
        user: &UserId,
        wishlist: &crate::domain::Wishlist,
    ) -> Result<bool, StoreError>;
}

/// Why a hold was not taken.
#[derive(Debug, thiserror::Error)]
pub enum HoldRefused {
    /// These items had fewer units than the checkout needs.
    #[error("out of stock")]
    Short(Vec<ItemId>),
    /// Another checkout for the same user was started at the same moment, or the previous
    /// one changed since it was read.
    #[error("another checkout was started concurrently")]
    Concurrent,
    /// This idempotency key already began that checkout.
    #[error("replay")]
    Replay(crate::domain::CheckoutId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The checkout a new one replaces, and why its stock goes back.
#[derive(Debug, Clone, Copy)]
pub struct Replacing<'a> {
    /// The user's latest checkout pointer as read (the hold is conditioned on it).
    pub pointer: crate::domain::CheckoutId,
    /// The previous checkout if it still holds stock: released in the same transaction.
    pub held: Option<(&'a crate::domain::Checkout, crate::domain::ReleaseReason)>,
}

/// The outcome of claiming a checkout for a payment attempt.
#[derive(Debug)]
pub enum PaymentClaim {
    /// The attempt is recorded on the hold (`paying`): the caller may call the provider.
    Claimed(crate::domain::Checkout),
    /// Not claimable: the record as it is (absent, someone else's, over, or already paying).
    Refused(Option<crate::domain::Checkout>),
}

/// The recorded answer to an idempotent request, written in the same transaction as the
/// effect it reports where there is one, so a request is never done without its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The idempotency record's key (scoped by route and user).
    pub key: String,
    /// A digest of the request (route, path, body): a reused key with another body differs.
    pub fingerprint: String,
    /// What the use case answered, as JSON of its own choosing.
    pub outcome: serde_json::Value,
}

/// What an idempotency key says about a request that arrives with it.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestClaim {
    /// New (or its earlier record expired): this request may act; it is now in flight.
    Fresh,
    /// Done before with the same request: answer this outcome again.
    Replay(serde_json::Value),
    /// The first request with this key is still running.
    InFlight,
    /// The key was used for a different request.
    Reused,
}

/// Idempotency records of requests (the `Idempotency-Key` header).
#[async_trait]
pub trait Requests: Send + Sync {
    /// Claim `key` for a request with `fingerprint` (expired records count as absent).
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: crate::domain::Timestamp,
    ) -> Result<RequestClaim, StoreError>;
    /// Record the answer of a request whose effect had no transaction of its own.
    async fn finish(&self, receipt: &Receipt) -> Result<(), StoreError>;
    /// Forget an in-flight claim whose request ended without a final answer (a retry runs).
    async fn abandon(&self, key: &str, fingerprint: &str) -> Result<(), StoreError>;
}

/// Checkout holds. Every state change of a hold is conditioned on it still being `HELD`
/// (and on the payment attempt the caller saw) and moves stock in the same transaction, so
/// each hold is consumed or released once.
#[async_trait]
pub trait Checkouts: Send + Sync {
    /// Take stock for every line, store the checkout and make it the user's active one,
    /// releasing the checkout it replaces in the same transaction; all or nothing. The
    /// cart it was made from must still be at `cart_version` (an order that emptied it
    /// meanwhile makes this `Concurrent`).
    async fn hold(
        &self,
        checkout: &crate::domain::Checkout,
        replacing: Option<Replacing<'_>>,
        cart_version: u64,
        idempotency_key: &str,
    ) -> Result<(), HoldRefused>;
    async fn get(
        &self,
        id: crate::domain::CheckoutId,
    ) -> Result<Option<crate::domain::Checkout>, StoreError>;
    /// The checkout an earlier begin with this idempotency key created, if any (a record
    /// past its own expiry counts as none).
    async fn begun_with(
        &self,
        user: &UserId,
        idempotency_key: &str,
    ) -> Result<Option<crate::domain::CheckoutId>, StoreError>;
    /// The checkout the user most recently began, if any (it may be over).
    async fn latest(&self, user: &UserId) -> Result<Option<crate::domain::CheckoutId>, StoreError>;
    /// Record payment attempt `attempt` on `id` if it is the user's, held, not expired at
    /// `now` and not paying already; one conditional write answering the record either way.
    async fn claim_payment(
        &self,
        id: crate::domain::CheckoutId,
        user: &UserId,
        attempt: &crate::domain::PaymentAttempt,
        now: crate::domain::Timestamp,
    ) -> Result<PaymentClaim, StoreError>;
    /// Put the held stock back on sale, once: `Ok(true)` only for the call that did it.
    /// Conditioned on the payment attempt `checkout` shows (none, or that one).
    async fn release(
        &self,
        checkout: &crate::domain::Checkout,
        reason: crate::domain::ReleaseReason,
    ) -> Result<bool, StoreError>;
    /// The TTL path: the hold record is already deleted; release from its last image, once.
    async fn release_deleted(&self, checkout: &crate::domain::Checkout)
        -> Result<bool, StoreError>;
    /// The attempt in flight was declined: count it and end it (the hold stays), recording
    /// the request's answer.
    async fn record_decline(
        &self,
        checkout: &crate::domain::Checkout,
        reason: &str,
        receipt: Option<&Receipt>,
    ) -> Result<bool, StoreError>;
    /// Turn the hold into `order` (new, or replacing a pending one at `pending_version`):
    /// hold consumed, order stored, cart emptied, answer recorded. `Ok(false)` if the hold
    /// was no longer held by this attempt.
    async fn complete(
        &self,
        checkout: &crate::domain::Checkout,
        order: &crate::domain::Order,
        pending_version: Option<u64>,
        receipt: Option<&Receipt>,
    ) -> Result<bool, StoreError>;
    /// Payment outcome unknown: store `order` (pending) and link it to the still-held hold.
    async fn park(
        &self,
        checkout: &crate::domain::Checkout,
        order: &crate::domain::Order,
        receipt: Option<&Receipt>,
    ) -> Result<bool, StoreError>;
    /// A payment confirmed after its hold *expired*: replace the pending `current` order by
    /// `placed`, taking its units again (only if all are there) and emptying the cart.
    async fn place_late(
        &self,
        current: &crate::domain::Order,
        placed: &crate::domain::Order,
    ) -> Result<Transition, StoreError>;
    /// Held checkouts whose time is up, oldest first.
    async fn due(
        &self,
        now: crate::domain::Timestamp,
        limit: u32,
    ) -> Result<Vec<crate::domain::CheckoutId>, StoreError>;
}

/// What an order transition does to aggregated stock, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockEffect {
    None,
    /// Put the order's units back on sale (cancel).
    Return,
    /// Put these units back on sale (a cancelled line).
    ReturnUnits(ItemId, u32),
    /// Take the order's units again, only if all are available (late payment).
    Take,
}

/// How an order transition ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Done,
    /// The order changed since it was read.
    Stale,
    /// `StockEffect::Take` found too few units; nothing changed.
    Short,
}

/// Orders.
#[async_trait]
pub trait Orders: Send + Sync {
    async fn get(
        &self,
        id: crate::domain::OrderId,
    ) -> Result<Option<crate::domain::Order>, StoreError>;
    /// A user's orders, newest first, optionally within `[from, to]`.
    async fn for_user(
        &self,
        user: &UserId,
        from: Option<crate::domain::Timestamp>,
        to: Option<crate::domain::Timestamp>,
        page: &PageRequest,
    ) -> Result<Page<crate::domain::Order>, StoreError>;
    /// Store a new order that owns no stock yet (a pending payment); `Ok(false)` if it exists.
    async fn create(&self, order: &crate::domain::Order) -> Result<bool, StoreError>;
    /// Ids of orders currently in `status` (operations: reconciliation, backorder retries).
    async fn with_status(
        &self,
        status: crate::domain::OrderStatus,
    ) -> Result<Vec<crate::domain::OrderId>, StoreError>;
    /// Orders that owe the provider a refund or void (the payment outbox), up to `limit`.
    async fn owing(&self, limit: u32) -> Result<Vec<crate::domain::OrderId>, StoreError>;
    /// Replace `current` by `next` if unchanged since read, applying `effect` atomically.
    async fn transition(
        &self,
        current: &crate::domain::Order,
        next: &crate::domain::Order,
        effect: StockEffect,
    ) -> Result<Transition, StoreError>;
}

/// The payment provider's first answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved {
        reference: String,
    },
    Declined {
        reason: String,
    },
    /// Timed out: the charge may or may not have happened; ask again later.
    NoResponse,
}

/// What the provider says about an earlier charge when asked again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeStatus {
    Captured { reference: String },
    Failed { reason: String },
    Unknown,
}

/// The payment provider.
#[async_trait]
pub trait Payments: Send + Sync {
    /// Charge `amount` with the single-use `method` token. `key` makes retries safe.
    async fn charge(
        &self,
        key: &str,
        method: &str,
        amount: crate::domain::Money,
    ) -> Result<ChargeOutcome, StoreError>;
    /// Ask again about the charge made under `key` (`check` counts the asks so far).
    async fn status(&self, key: &str, method: &str, check: u32)
        -> Result<ChargeStatus, StoreError>;
    /// Refund `amount` of the charge made under `charge_key`; `key` is the refund's own
    /// idempotency key, so a retried refund pays back once.
    async fn refund(
        &self,
        key: &str,
        charge_key: &str,
        amount: crate::domain::Money,
    ) -> Result<(), StoreError>;
    /// Cancel an authorization that never settled.
    async fn void(&self, key: &str) -> Result<(), StoreError>;
}

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

/// Delayed work for the checkout timer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum TimerMessage {
    /// Release the checkout's hold if it is still held once its time is up.
    #[serde(rename_all = "camelCase")]
    Expire {
        v: u32,
        checkout_id: crate::domain::CheckoutId,
    },
    /// Ask the payment provider again about a pending order.
    #[serde(rename_all = "camelCase")]
    Settle {
        v: u32,
        order_id: crate::domain::OrderId,
    },
}

/// Schedules [`TimerMessage`]s.
#[async_trait]
pub trait Timer: Send + Sync {
    async fn schedule(
        &self,
        message: &TimerMessage,
        delay: std::time::Duration,
    ) -> Result<(), StoreError>;
}

/// Which index a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexTarget<'a> {
    /// The index searches are served from (behind the alias).
    Live,
    /// A generation being built by a rebuild, not yet served.
    Generation(&'a str),
}

/// The product search index (embedded tantivy or OpenSearch).
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// Run a query (see `domain::search` for the semantics every backend follows).
    async fn search(
        &self,
        query: &crate::domain::SearchQuery,
    ) -> Result<crate::domain::SearchHits, StoreError>;
    /// A number that changes whenever searchable content may have changed, when the backend
    /// can tell cheaply (the embedded index's commit generation); `None` otherwise.
    async fn generation(&self) -> Option<u64>;
    /// Write documents, each merged with what is indexed by [`crate::domain::SearchDoc::merge`]
    /// so an older version never replaces a newer one. Returns how many changed.
    async fn upsert(
        &self,
        target: IndexTarget<'_>,
        docs: &[crate::domain::SearchDoc],
    ) -> Result<usize, StoreError>;
    /// Forget items that no longer exist.
    async fn remove(&self, ids: &[ItemId]) -> Result<(), StoreError>;
    /// Start a fresh, empty generation (with the project's mapping) and name it.
    async fn create_generation(&self) -> Result<String, StoreError>;
    /// Serve searches from `name` from now on (an atomic alias switch) and drop older ones.
    async fn publish_generation(&self, name: &str) -> Result<(), StoreError>;
}

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

/// An item's stock everywhere: the aggregated row and every warehouse row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemStock {
    pub total: StockTotal,
    pub warehouses: HashMap<crate::domain::WarehouseId, WarehouseStock>,
}

/// A change to one stock row. Negative amounts are conditional: a move that would take a
/// counter below zero fails the whole change ([`Applied::Short`]) instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMove {
    pub item: ItemId,
    /// `None` is the item's aggregated row (what shoppers buy from; only `available` applies).
    pub warehouse: Option<crate::domain::WarehouseId>,
    pub physical: i64,
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
    pub current: Option<&'a crate::domain::WarehouseOrder>,
    pub next: &'a crate::domain::WarehouseOrder,
}

/// One atomic fulfilment change: order, warehouse orders, stock and a once-only key, written
/// in one transaction or not at all.
#[derive(Debug, Clone, Default)]
pub struct FulfilmentChange<'a> {
    /// `(current, next)`: written only if the stored order is still at `current.version`.
    pub order: Option<(&'a crate::domain::Order, &'a crate::domain::Order)>,
    pub shipments: Vec<ShipmentWrite<'a>>,
    pub stock: Vec<StockMove>,
    /// Applied at most once per key (a warehouse message's event id).
    pub once: Option<String>,
}

/// How a fulfilment change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
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
