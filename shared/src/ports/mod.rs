//! Ports: the narrow interfaces use cases need from the outside world. Adapters implement
//! them (DynamoDB today); use cases and tests depend only on these traits. Adapters classify
//! their SDK errors into [`StoreError`] so no SDK type reaches the domain.
//!
//! One file per port, each with the data types it speaks in; everything is re-exported here
//! so callers name `crate::ports::Checkouts` whatever file it lives in.

mod addresses;
mod archive;
mod carts;
mod catalog;
mod checkouts;
mod clock;
mod events;
mod fulfilment;
mod images;
mod inventory;
mod live;
mod mailer;
mod notices;
mod orders;
mod parking;
mod payments;
mod requests;
mod search;
mod signals;
mod timer;
mod waiting_room;
mod warehouses;

pub use addresses::*;
pub use archive::*;
pub use carts::*;
pub use catalog::*;
pub use checkouts::*;
pub use clock::*;
pub use events::*;
pub use fulfilment::*;
pub use images::*;
pub use inventory::*;
pub use live::*;
pub use mailer::*;
pub use notices::*;
pub use orders::*;
pub use parking::*;
pub use payments::*;
pub use requests::*;
pub use search::*;
pub use signals::*;
pub use timer::*;
pub use waiting_room::*;
pub use warehouses::*;

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
