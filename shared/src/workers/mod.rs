//! Everything that is not an HTTP request: SQS consumers (the checkout timer, assignment,
//! warehouse updates, seller notices), DynamoDB Streams consumers (the TTL backstop, the event
//! publisher, the search indexer, live stock), schedules (the expiry sweeper, reconciliation)
//! and the WebSocket routes of live stock. Each is idempotent: SQS
//! and Streams deliver at least once, and every effect here is gated on state.
//!
//! SQS handlers report only the failed message ids (`SqsBatchResponse`); stream handlers
//! report the first failed sequence number, so the batch is retried from there in order.
//!
//! One module per trigger kind, as `api/` has one per area: [`queues`], [`streams`],
//! [`schedules`], [`live`] (WebSocket). Everything is re-exported here (`aisle::workers::hold_timer`).

pub mod live;
pub mod queues;
pub mod schedules;
pub mod streams;

pub use live::*;
pub use queues::*;
pub use schedules::*;
pub use streams::*;
