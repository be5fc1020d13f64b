//! Delayed work (checkout expiry, payment settlement).

use super::StoreError;
use async_trait::async_trait;

/// Delayed work for the checkout timer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum TimerMessage {
    /// Release the checkout's hold if it is still held once its time is up.
    #[serde(rename_all = "camelCase")]
    Expire {
        /// Message format version.
        v: u32,
        /// The hold to expire.
        checkout_id: crate::domain::CheckoutId,
    },
    /// Ask the payment provider again about a pending order.
    #[serde(rename_all = "camelCase")]
    Settle {
        /// Message format version.
        v: u32,
        /// The order whose payment to settle.
        order_id: crate::domain::OrderId,
    },
    /// Pay out what an order still owes (refunds and voids of the payment outbox): how an
    /// operator re-drives an owed refund the sweeper parked.
    #[serde(rename_all = "camelCase")]
    PayDues {
        /// Message format version.
        v: u32,
        /// The order that owes.
        order_id: crate::domain::OrderId,
    },
}

/// Schedules [`TimerMessage`]s.
#[async_trait]
pub trait Timer: Send + Sync {
    /// Deliver `message` after `delay` (SQS caps delays at 15 minutes).
    async fn schedule(
        &self,
        message: &TimerMessage,
        delay: std::time::Duration,
    ) -> Result<(), StoreError>;
}

/// A queue work is put on for other consumers (the restock fan-out's per-shopper messages).
#[async_trait]
pub trait MessageQueue: Send + Sync {
    /// Put every body on the queue (in batches; all or an error, after which a retry may
    /// send some twice: consumers are idempotent).
    async fn send_all(&self, bodies: &[String]) -> Result<(), StoreError>;
}
