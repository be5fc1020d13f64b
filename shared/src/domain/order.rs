//! Orders: what a shopper bought, where it goes, and what happened to it.

use serde::{Deserialize, Serialize};

use super::{Address, CheckoutId, HoldLine, Money, OrderId, Timestamp, UserId};

/// The order life cycle. Stock belongs to the order (counted as sold) in the
/// [`OrderStatus::holds_stock`] states; before that it sits in the checkout's hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// The payment provider did not answer; settled by the checkout timer.
    PaymentPending,
    Placed,
    Processing,
    Backordered,
    Shipped,
    Delivered,
    Cancelled,
    /// Paid too late: the hold had expired and the stock was gone, so it was refunded.
    Rejected,
    PaymentFailed,
    ReturnRequested,
    Returned,
    Refunded,
}

impl OrderStatus {
    /// Whether the order's units are counted as sold (out of available stock, not in a hold).
    pub fn holds_stock(self) -> bool {
        matches!(
            self,
            Self::Placed
                | Self::Processing
                | Self::Backordered
                | Self::Shipped
                | Self::Delivered
                | Self::ReturnRequested
        )
    }

    /// Whether a shopper may still cancel (nothing has left a warehouse).
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            Self::PaymentPending | Self::Placed | Self::Processing | Self::Backordered
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentPending => "PAYMENT_PENDING",
            Self::Placed => "PLACED",
            Self::Processing => "PROCESSING",
            Self::Backordered => "BACKORDERED",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
            Self::Rejected => "REJECTED",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::ReturnRequested => "RETURN_REQUESTED",
            Self::Returned => "RETURNED",
            Self::Refunded => "REFUNDED",
        }
    }
}

/// One entry of an order's status timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where the money is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    Pending,
    Captured,
    Voided,
    Refunded,
}

/// The payment behind an order. `method` is the provider's single-use token reference (never
/// card data); the provider is asked about it again when its first answer never came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub state: PaymentState,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// How many times a pending payment has been looked up.
    #[serde(default)]
    pub checks: u32,
}

/// Units of one item the shopper sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnLine {
    pub item_id: super::ItemId,
    pub quantity: super::Quantity,
}

/// A return request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnRequest {
    pub lines: Vec<ReturnLine>,
    pub reason: String,
    pub requested_at: Timestamp,
}

/// An order as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub checkout_id: CheckoutId,
    pub status: OrderStatus,
    pub lines: Vec<HoldLine>,
    pub total: Money,
    pub shipping_address: Address,
    pub payment: Payment,
    pub timeline: Vec<StatusChange>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_request: Option<ReturnRequest>,
    /// Bumped on every change; every write is conditioned on it.
    pub version: u64,
}

impl Order {
    /// The order after moving to `status` (timeline appended, version bumped).
    pub fn moved_to(&self, status: OrderStatus, now: Timestamp, note: Option<String>) -> Order {
        let mut next = self.clone();
        next.status = status;
        next.timeline.push(StatusChange {
            status,
            at: now,
            note,
        });
        next.updated_at = now;
        next.version += 1;
        next
    }

    /// The order id a checkout becomes: derived, so a retried submit can only ever create
    /// one order per checkout.
    pub fn id_for(checkout: CheckoutId) -> OrderId {
        OrderId::derived_from(&checkout.to_string())
    }
}
