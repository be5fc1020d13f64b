//! Checkout: hold the cart's stock, pay, and let holds nobody completes expire on time.
//!
//! Expiry has three independent triggers that may race in any order with each other and
//! with cancel and submit: the timer message sent when the hold is taken ([`expire`]), the
//! sweeper that runs every minute ([`sweep`]), and DynamoDB's TTL deletion seen on the
//! holds stream ([`expired_by_ttl`]). All of them end in `Checkouts::release`, which moves
//! the stock back only if the hold is still held, so whichever comes first acts and the rest
//! do nothing. Reads treat a held checkout past `expiresAt` as expired regardless.

use std::time::Duration;

use serde::Serialize;

use super::ports::Shop;
use crate::domain::{
    Address, Checkout, CheckoutId, CheckoutStatus, HoldLine, HoldState, ItemId, Money, Order,
    OrderStatus, Payment, PaymentState, ReleaseReason, StatusChange, Timestamp, UserId,
};
use crate::ports::{
    ChargeOutcome, ChargeStatus, HoldRefused, StockEffect, StoreError, TimerMessage, Transition,
};

/// How long after an unanswered payment the provider is asked again.
pub const SETTLE_RETRY: Duration = Duration::from_secs(30);
/// How many times a pending payment is looked up before it is voided.
pub const MAX_SETTLE_CHECKS: u32 = 10;

/// A checkout as the shopper sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutView {
    pub checkout_id: CheckoutId,
    pub status: CheckoutStatus,
    pub lines: Vec<HoldLine>,
    pub total: Money,
    pub expires_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<crate::domain::OrderId>,
}

impl CheckoutView {
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

/// A line that could not be held.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Shortfall {
    pub item_id: ItemId,
    pub requested: u32,
    pub available: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    #[error("the cart is empty")]
    CartEmpty,
    #[error("some items are out of stock")]
    OutOfStock(Vec<Shortfall>),
    #[error("a cart can be checked out in one currency only")]
    MixedCurrencies,
    #[error("another checkout was started at the same time; retry")]
    Concurrent,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of a begin: the checkout, and whether it was created by an earlier request
/// with the same idempotency key.
#[derive(Debug)]
pub struct Begun {
    pub checkout: Checkout,
    pub replayed: bool,
}

/// Begin checkout: hold every cart line for `shop.hold`, all or nothing.
///
/// One active checkout per user: beginning again **replaces** the previous checkout (its hold
/// is released first), because the cart may have changed since. A retry with the same
/// `Idempotency-Key` returns the checkout that key created.
pub async fn begin(
    shop: Shop<'_>,
    user: &UserId,
    idempotency_key: &str,
) -> Result<Begun, BeginError> {
    // A retry must not replace the very checkout it created: answer it before anything else.
    if let Some(id) = shop.checkouts.begun_with(user, idempotency_key).await? {
        return replay(shop, id).await;
    }
    let cart = shop.carts.cart(user).await?;
    if cart.lines.is_empty() {
        return Err(BeginError::CartEmpty);
    }
    let ids: Vec<ItemId> = cart.lines.keys().copied().collect();
    let items = shop.catalog.get_many(&ids).await?;
    let delisted: Vec<Shortfall> = cart
        .lines
        .iter()
        .filter(|(id, _)| !items.contains_key(id))
        .map(|(id, q)| Shortfall {
            item_id: *id,
            requested: q.get(),
            available: 0,
        })
        .collect();
    if !delisted.is_empty() {
        return Err(BeginError::OutOfStock(delisted));
    }
    let lines: Vec<HoldLine> = cart
        .lines
        .iter()
        .map(|(id, q)| {
            let item = &items[id];
            HoldLine {
                item_id: *id,
                name: item.name.to_string(),
                quantity: *q,
                unit_price: item.price,
            }
        })
        .collect();
    let currency = lines[0].unit_price.currency;
    if lines.iter().any(|l| l.unit_price.currency != currency) {
        return Err(BeginError::MixedCurrencies);
    }
    let amount = lines
        .iter()
        .map(|l| l.unit_price.amount * i64::from(l.quantity.get()))
        .sum();

    let previous = shop.checkouts.latest(user).await?;
    if let Some(prev) = previous {
        if let Some(old) = shop.checkouts.get(prev).await? {
            if old.state == HoldState::Held && old.order_id.is_none() {
                let now = Timestamp::now();
                let why = if old.expires_at <= now {
                    ReleaseReason::Expired
                } else {
                    ReleaseReason::Replaced
                };
                shop.checkouts.release(&old, why).await?;
            }
        }
    }

    let now = Timestamp::now();
    let checkout = Checkout {
        checkout_id: CheckoutId::generate(),
        user_id: user.clone(),
        lines,
        total: Money { amount, currency },
        created_at: now,
        expires_at: now.plus_millis(shop.hold.as_millis() as i64),
        state: HoldState::Held,
        release_reason: None,
        order_id: None,
        declines: 0,
        last_decline: None,
    };
    match shop
        .checkouts
        .hold(&checkout, previous, idempotency_key)
        .await
    {
        Ok(()) => {
            tracing::info!(checkout_id = %checkout.checkout_id, lines = checkout.lines.len(), "stock held");
            let timer = TimerMessage::Expire {
                v: 1,
                checkout_id: checkout.checkout_id,
            };
            if let Err(e) = shop.timer.schedule(&timer, shop.hold).await {
                // Not fatal: the sweeper and the TTL stream release it anyway.
                tracing::warn!(checkout_id = %checkout.checkout_id, error = %e, "expiry timer not scheduled");
            }
            Ok(Begun {
                checkout,
                replayed: false,
            })
        }
        Err(HoldRefused::Replay(id)) => replay(shop, id).await,
        Err(HoldRefused::Short(short)) => {
            let available = shop.inventory.available(&short).await?;
            let details = checkout
                .lines
                .iter()
                .filter(|l| short.contains(&l.item_id))
                .map(|l| Shortfall {
                    item_id: l.item_id,
                    requested: l.quantity.get(),
                    available: available.get(&l.item_id).copied().unwrap_or(0),
                })
                .collect();
            Err(BeginError::OutOfStock(details))
        }
        Err(HoldRefused::Concurrent) => Err(BeginError::Concurrent),
        Err(HoldRefused::Store(e)) => Err(e.into()),
    }
}

async fn replay(shop: Shop<'_>, id: CheckoutId) -> Result<Begun, BeginError> {
    // The record may be gone already if TTL deleted it; that checkout is over either way.
    let checkout = shop
        .checkouts
        .get(id)
        .await?
        .ok_or(BeginError::Concurrent)?;
    Ok(Begun {
        checkout,
        replayed: true,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("checkout not found")]
    NotFound,
    #[error("this checkout is no longer active")]
    NotActive(CheckoutStatus),
    #[error("payment declined: {0}")]
    Declined(String),
    #[error("the hold expired before payment arrived; the payment was refunded")]
    RejectedLate(Box<Order>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn own_checkout(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
) -> Result<Checkout, CheckoutError> {
    match shop.checkouts.get(id).await? {
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

/// Release a checkout's hold at the shopper's request (idempotent).
pub async fn cancel(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
) -> Result<CheckoutView, CheckoutError> {
    let checkout = own_checkout(shop, user, id).await?;
    if checkout.order_id.is_some() {
        return Err(CheckoutError::NotActive(checkout.status(Timestamp::now())));
    }
    if checkout.state == HoldState::Held {
        shop.checkouts
            .release(&checkout, ReleaseReason::Cancelled)
            .await?;
    }
    let now = Timestamp::now();
    let current = shop.checkouts.get(id).await?.unwrap_or(checkout);
    Ok(CheckoutView::of(&current, now))
}

/// How a submit ended.
#[derive(Debug)]
pub enum Submitted {
    /// Paid: the order is placed (or this is a retry of a submit that already placed it).
    Placed(Order),
    /// The provider did not answer; the timer settles the order.
    Pending(Order),
}

/// Submit the order for a checkout: charge the payment and turn the hold into an order.
pub async fn submit(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    payment_token: &str,
    address: Address,
) -> Result<Submitted, CheckoutError> {
    let checkout = own_checkout(shop, user, id).await?;
    let order_id = Order::id_for(id);
    // A retry of a submit that got as far as an order answers with that order.
    if checkout.order_id.is_some() || checkout.state == HoldState::Consumed {
        if let Some(order) = shop.orders.get(order_id).await? {
            return Ok(match order.status {
                OrderStatus::PaymentPending => Submitted::Pending(order),
                _ => Submitted::Placed(order),
            });
        }
    }
    let now = Timestamp::now();
    let status = checkout.status(now);
    if status != CheckoutStatus::Active {
        return Err(CheckoutError::NotActive(status));
    }
    let new_order = |status: OrderStatus, payment: Payment| Order {
        order_id,
        user_id: user.clone(),
        checkout_id: id,
        status,
        lines: checkout.lines.clone(),
        total: checkout.total,
        shipping_address: address.clone(),
        payment,
        timeline: vec![StatusChange {
            status,
            at: now,
            note: None,
        }],
        created_at: now,
        updated_at: now,
        eta: None,
        return_request: None,
        version: 1,
    };
    let key = order_id.to_string();
    match shop
        .payments
        .charge(&key, payment_token, checkout.total)
        .await?
    {
        ChargeOutcome::Approved { reference } => {
            let payment = Payment {
                state: PaymentState::Captured,
                method: payment_token.into(),
                reference: Some(reference),
                checks: 0,
            };
            let order = new_order(OrderStatus::Placed, payment);
            if shop.checkouts.complete(&checkout, &order, None).await? {
                tracing::info!(order_id = %order_id, "order placed");
                return Ok(Submitted::Placed(order));
            }
            // The hold ended between our read and the write (it expired): a late success.
            late_success(shop, order).await.map(Submitted::Placed)
        }
        ChargeOutcome::Declined { reason } => {
            shop.checkouts.record_decline(&checkout, &reason).await?;
            tracing::info!(checkout_id = %id, %reason, "payment declined; hold kept");
            Err(CheckoutError::Declined(reason))
        }
        ChargeOutcome::NoResponse => {
            let payment = Payment {
                state: PaymentState::Pending,
                method: payment_token.into(),
                reference: None,
                checks: 0,
            };
            let order = new_order(OrderStatus::PaymentPending, payment);
            if !shop.checkouts.park(&checkout, &order).await? {
                // The hold ended meanwhile: keep the order pending and let settlement decide.
                shop.orders.create(&order).await?;
                schedule_settle(shop, &order).await;
            }
            tracing::info!(order_id = %order_id, "payment outcome unknown; order pending");
            Ok(Submitted::Pending(order))
        }
    }
}

/// A payment that succeeded after the hold was gone: take the stock again if it is still
/// there, otherwise refund and reject the order.
async fn late_success(shop: Shop<'_>, placed: Order) -> Result<Order, CheckoutError> {
    let pending = Order {
        status: OrderStatus::PaymentPending,
        ..placed.clone()
    };
    let current = match shop.orders.get(placed.order_id).await? {
        Some(order) => order,
        None => {
            shop.orders.create(&pending).await?;
            pending
        }
    };
    settle_captured(shop, &current, placed.payment.reference.clone()).await
}

/// Settle a captured payment for a pending order whose hold is gone.
async fn settle_captured(
    shop: Shop<'_>,
    order: &Order,
    reference: Option<String>,
) -> Result<Order, CheckoutError> {
    let now = Timestamp::now();
    let mut placed = order.moved_to(
        OrderStatus::Placed,
        now,
        Some("payment confirmed after the hold expired; stock re-held".into()),
    );
    placed.payment.state = PaymentState::Captured;
    placed.payment.reference = reference.clone();
    match shop
        .orders
        .transition(order, &placed, StockEffect::Take)
        .await?
    {
        Transition::Done => Ok(placed),
        Transition::Stale => Err(StoreError::Contention(format!(
            "order {} changed during settlement",
            order.order_id
        ))
        .into()),
        Transition::Short => {
            shop.payments
                .refund(
                    &order.order_id.to_string(),
                    reference.as_deref(),
                    order.total,
                )
                .await?;
            let mut rejected = order.moved_to(
                OrderStatus::Rejected,
                now,
                Some("stock sold out before payment arrived; refunded".into()),
            );
            rejected.payment.state = PaymentState::Refunded;
            rejected.payment.reference = reference;
            match shop
                .orders
                .transition(order, &rejected, StockEffect::None)
                .await?
            {
                Transition::Done => Err(CheckoutError::RejectedLate(Box::new(rejected))),
                _ => Err(StoreError::Contention(format!(
                    "order {} changed during rejection",
                    order.order_id
                ))
                .into()),
            }
        }
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

/// What the timer did with a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Nothing to do: gone, already over, or released by another mechanism first.
    Nothing,
    /// Not yet due; ask again after this long.
    NotDue(Duration),
    /// This call put the stock back on sale.
    Released,
    /// A pending payment was settled as captured; the hold became the order.
    Completed,
}

/// Release a checkout's hold if its time is up (timer and sweeper). A hold with a pending
/// payment is settled first: captured → placed; failed → voided and released; unknown →
/// released, and asked again later (a success then is a late success).
pub async fn expire(shop: Shop<'_>, id: CheckoutId, now: Timestamp) -> Result<Expiry, StoreError> {
    let Some(checkout) = shop.checkouts.get(id).await? else {
        return Ok(Expiry::Nothing);
    };
    if checkout.state != HoldState::Held {
        return Ok(Expiry::Nothing);
    }
    if checkout.expires_at > now {
        return Ok(Expiry::NotDue(Duration::from_millis(
            (checkout.expires_at.unix_millis() - now.unix_millis()) as u64,
        )));
    }
    let pending = match checkout.order_id {
        Some(order_id) => shop
            .orders
            .get(order_id)
            .await?
            .filter(|o| o.status == OrderStatus::PaymentPending),
        None => None,
    };
    let Some(order) = pending else {
        let released = shop
            .checkouts
            .release(&checkout, ReleaseReason::Expired)
            .await?;
        if released {
            tracing::info!(checkout_id = %id, "hold expired; stock released");
        }
        return Ok(if released {
            Expiry::Released
        } else {
            Expiry::Nothing
        });
    };
    let key = order.order_id.to_string();
    match shop
        .payments
        .status(&key, &order.payment.method, order.payment.checks)
        .await?
    {
        ChargeStatus::Captured { reference } => {
            let mut placed =
                order.moved_to(OrderStatus::Placed, now, Some("payment confirmed".into()));
            placed.payment.state = PaymentState::Captured;
            placed.payment.reference = Some(reference);
            placed.payment.checks += 1;
            if shop
                .checkouts
                .complete(&checkout, &placed, Some(order.version))
                .await?
            {
                return Ok(Expiry::Completed);
            }
            Ok(Expiry::Nothing)
        }
        ChargeStatus::Failed { reason } => {
            shop.payments.void(&key).await?;
            let released = shop
                .checkouts
                .release(&checkout, ReleaseReason::PaymentFailed)
                .await?;
            let mut failed = order.moved_to(OrderStatus::PaymentFailed, now, Some(reason));
            failed.payment.state = PaymentState::Voided;
            failed.payment.checks += 1;
            shop.orders
                .transition(&order, &failed, StockEffect::None)
                .await?;
            Ok(if released {
                Expiry::Released
            } else {
                Expiry::Nothing
            })
        }
        ChargeStatus::Unknown => {
            let released = shop
                .checkouts
                .release(&checkout, ReleaseReason::Expired)
                .await?;
            let mut asked = order.clone();
            asked.payment.checks += 1;
            asked.version += 1;
            shop.orders
                .transition(&order, &asked, StockEffect::None)
                .await?;
            schedule_settle(shop, &asked).await;
            Ok(if released {
                Expiry::Released
            } else {
                Expiry::Nothing
            })
        }
    }
}

/// Ask the provider again about a pending order whose hold is gone (timer `Settle`).
pub async fn settle(
    shop: Shop<'_>,
    order_id: crate::domain::OrderId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(order) = shop.orders.get(order_id).await? else {
        return Ok(());
    };
    if order.status != OrderStatus::PaymentPending {
        return Ok(());
    }
    if let Some(checkout) = shop.checkouts.get(order.checkout_id).await? {
        if checkout.state == HoldState::Held {
            // Still held: the expiry of the hold settles it.
            return expire(shop, checkout.checkout_id, now).await.map(|_| ());
        }
    }
    let key = order_id.to_string();
    match shop
        .payments
        .status(&key, &order.payment.method, order.payment.checks)
        .await?
    {
        ChargeStatus::Captured { reference } => {
            match settle_captured(shop, &order, Some(reference)).await {
                Ok(_) | Err(CheckoutError::RejectedLate(_)) => Ok(()),
                Err(CheckoutError::Store(e)) => Err(e),
                Err(other) => Err(StoreError::Unavailable(other.to_string())),
            }
        }
        ChargeStatus::Unknown if order.payment.checks + 1 < MAX_SETTLE_CHECKS => {
            let mut asked = order.clone();
            asked.payment.checks += 1;
            asked.version += 1;
            if shop
                .orders
                .transition(&order, &asked, StockEffect::None)
                .await?
                == Transition::Done
            {
                schedule_settle(shop, &asked).await;
            }
            Ok(())
        }
        ChargeStatus::Failed { .. } | ChargeStatus::Unknown => {
            shop.payments.void(&key).await?;
            let mut failed = order.moved_to(
                OrderStatus::PaymentFailed,
                now,
                Some("payment never confirmed; voided".into()),
            );
            failed.payment.state = PaymentState::Voided;
            shop.orders
                .transition(&order, &failed, StockEffect::None)
                .await?;
            Ok(())
        }
    }
}

/// Release every held checkout whose time is up (the scheduled sweeper). Returns how many
/// this run released.
pub async fn sweep(shop: Shop<'_>, now: Timestamp) -> Result<usize, StoreError> {
    let mut released = 0;
    for id in shop.checkouts.due(now, 200).await? {
        if matches!(
            expire(shop, id, now).await?,
            Expiry::Released | Expiry::Completed
        ) {
            released += 1;
        }
    }
    Ok(released)
}

/// DynamoDB's TTL deleted a hold record: if it was still held, release its stock (once).
pub async fn expired_by_ttl(shop: Shop<'_>, last_image: &Checkout) -> Result<bool, StoreError> {
    if last_image.state != HoldState::Held {
        return Ok(false);
    }
    let released = shop.checkouts.release_deleted(last_image).await?;
    if let Some(order_id) = last_image.order_id {
        if let Some(order) = shop
            .orders
            .get(order_id)
            .await?
            .filter(|o| o.status == OrderStatus::PaymentPending)
        {
            schedule_settle(shop, &order).await;
        }
    }
    if released {
        tracing::info!(checkout_id = %last_image.checkout_id, "hold released by TTL deletion");
    }
    Ok(released)
}
