//! Checkout: hold the cart's stock, pay, and let holds nobody completes expire on time.
//!
//! Expiry has three independent triggers that may race in any order with each other and
//! with cancel and submit: the timer message sent when the hold is taken ([`expire()`]), the
//! sweeper that runs every minute ([`sweep()`]), and DynamoDB's TTL deletion seen on the
//! holds stream ([`expired_by_ttl()`]). All of them end in `Checkouts::release`, which moves
//! the stock back only if the hold is still held, so whichever comes first acts and the rest
//! do nothing. Reads treat a held checkout past `expiresAt` as expired regardless.
//!
//! Paying is exact under concurrency because the attempt is recorded on the hold *before*
//! the provider is called (`Checkouts::claim_payment`, one conditional write): a second
//! submit, a cancel or a replacing checkout sees the attempt and backs off, and only an
//! expiry may end a hold whose payment is in flight, after asking the provider what became
//! of it. So stock is taken again after the fact (a late success) only for a hold that
//! expired, never for one the shopper cancelled or replaced.
//!
//! One file per use case: [`begin()`] (`begin.rs`), [`cancel()`] (`cancel.rs`), [`submit()`]
//! (`submit.rs`), [`expire()`] and [`expired_by_ttl()`] (`expire.rs`), [`settle()`] and
//! [`provider_news()`] (`settle.rs`), [`sweep()`] (`sweep.rs`); what several share (the
//! view, the error, how an attempt becomes an order) is here. Provider events (the webhook)
//! are their own use case, `usecases::provider_events`, which calls in here; nothing here
//! calls it back.

use crate::retry::Policy;
use std::time::Duration;

use serde::Serialize;

use super::Shop;
use serde::Deserialize;

use crate::domain::{
    Address, Checkout, CheckoutId, CheckoutStatus, DueKind, HoldLine, HoldState, ItemId, Money,
    MoneyDue, Order, OrderStatus, Payment, PaymentAttempt, PaymentState, ReleaseReason,
    SaleSettings, Timestamp, UserId,
};
use crate::ports::{
    ChargeOutcome, ChargeRef, ChargeStatus, HoldRefused, Opened, PaymentClaim, Receipt, Replacing,
    RequestClaim, StockEffect, StoreError, TimerMessage, Transition,
};

mod begin;
mod cancel;
mod expire;
mod settle;
mod submit;
mod sweep;

pub use begin::*;
pub use cancel::*;
pub use expire::*;
pub use settle::*;
pub use submit::*;
pub use sweep::*;

/// How long after an unanswered payment the provider is asked again.
pub const SETTLE_RETRY: Duration = Duration::from_secs(30);
/// How many times a pending payment is looked up before it is voided.
pub const MAX_SETTLE_CHECKS: u32 = 10;
/// The longest a submit's provider call may take (the provider adapter times out sooner).
/// An expiry leaves a younger payment attempt alone: the provider may not know of a charge
/// still on its way, and "no such charge" must not be read as "failed" while it might be.
pub const PAYMENT_GRACE: Duration = Duration::from_secs(30);

/// A checkout as the shopper sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutView {
    /// The checkout's id.
    pub checkout_id: CheckoutId,
    /// Where it stands now.
    pub status: CheckoutStatus,
    /// The lines, one per item.
    pub lines: Vec<HoldLine>,
    /// What it costs in all.
    pub total: Money,
    /// When the hold expires; reads after it treat it as expired.
    pub expires_at: Timestamp,
    /// The order's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<crate::domain::OrderId>,
}

impl CheckoutView {
    /// The checkout as its owner sees it at `now`.
    pub fn of(checkout: &Checkout, now: Timestamp) -> Self {
        Self {
            checkout_id: checkout.checkout_id,
            status: checkout.status(now),
            lines: checkout.lines.clone(),
            total: checkout.total,
            expires_at: checkout.expires_at,
            order_id: checkout.order_id,
        }
    }
}

/// Why a `Checkout` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Checkout not found.
    #[error("checkout not found")]
    NotFound,
    /// This checkout is no longer active.
    #[error("this checkout is no longer active")]
    NotActive(CheckoutStatus),
    /// A cancel that lost to a payment: the checkout is being (or was) paid for.
    #[error("this checkout is paid for, or a payment for it is in progress: it can no longer be cancelled")]
    Closed,
    /// Another submit of this checkout is paying right now.
    #[error("a payment for this checkout is in progress; its outcome will be the order")]
    PaymentInProgress,
    /// Payment declined: `0`.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The hold expired before payment arrived; the payment was refunded.
    #[error("the hold expired before payment arrived; the payment was refunded")]
    RejectedLate(Box<Order>),
    /// The first request with this `Idempotency-Key` is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInFlight,
    /// The `Idempotency-Key` was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn own_checkout(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
) -> Result<Checkout, CheckoutError> {
    owned(shop, user, id, shop.checkouts.get(id).await?).await
}

/// `record` (the checkout as read) if it is the user's; absent and someone else's look alike.
async fn owned(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    record: Option<Checkout>,
) -> Result<Checkout, CheckoutError> {
    match record {
        Some(c) if &c.user_id == user => Ok(c),
        // TTL deleted the record of an ended checkout; the user's pointer still names it, so
        // the shopper is told it expired rather than that it never existed.
        None if shop.checkouts.latest(user).await? == Some(id) => {
            Err(CheckoutError::NotActive(CheckoutStatus::Expired))
        }
        // Someone else's checkout is indistinguishable from none.
        _ => Err(CheckoutError::NotFound),
    }
}

/// The order `checkout` becomes under `attempt` (through the one constructor, [`Order::new`]).
fn order_for(
    checkout: &Checkout,
    attempt: &PaymentAttempt,
    status: OrderStatus,
    payment: Payment,
    now: Timestamp,
) -> Order {
    Order::new(
        crate::domain::NewOrder {
            checkout_id: checkout.checkout_id,
            user_id: checkout.user_id.clone(),
            lines: checkout.lines.clone(),
            total: checkout.total,
            shipping_address: attempt.shipping_address.clone(),
            status,
            payment,
        },
        now,
    )
}

/// The order of an attempt whose outcome is not known yet.
fn pending_order(checkout: &Checkout, attempt: &PaymentAttempt, now: Timestamp) -> Order {
    let payment = payment_of(checkout, attempt, PaymentState::Pending);
    order_for(checkout, attempt, OrderStatus::PaymentPending, payment, now)
}

fn payment_of(checkout: &Checkout, attempt: &PaymentAttempt, state: PaymentState) -> Payment {
    Payment {
        state,
        method: attempt.method.clone(),
        reference: attempt.reference.clone(),
        checks: 0,
        key: Some(checkout.payment_key()),
        captured: 0,
        refunded: 0,
    }
}

async fn schedule_settle(shop: Shop<'_>, order: &Order) {
    let message = TimerMessage::Settle {
        v: 1,
        order_id: order.order_id,
    };
    if let Err(e) = shop.timer.schedule(&message, SETTLE_RETRY).await {
        tracing::error!(order_id = %order.order_id, error = %e, "could not schedule payment settlement");
    }
}

/// Move each of `order`'s units into its item's shard 0, for a placement that takes from
/// there; `false` when some item has too few units in all its shards together.
async fn gather(shop: Shop<'_>, order: &Order) -> Result<bool, StoreError> {
    let mut demand: std::collections::BTreeMap<ItemId, u32> = Default::default();
    for line in &order.lines {
        *demand.entry(line.item_id).or_default() += line.quantity.get();
    }
    for (item, units) in demand {
        if !shop.inventory.concentrate(item, 0, units).await? {
            return Ok(false);
        }
    }
    Ok(true)
}
