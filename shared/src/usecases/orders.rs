//! A shopper's orders: history, detail, cancellation and returns.

use super::Shop;
use crate::domain::{
    CancelledLine, DueKind, HoldState, ItemId, Money, MoneyDue, Order, OrderId, OrderStatus, Page,
    PageRequest, PaymentState, ReleaseReason, Timestamp, UserId,
};
use crate::ports::{Applied, ChargeRef, ChargeStatus, StockEffect, StoreError, Transition};
use crate::retry::Policy;

/// Why a `Order` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Order not found.
    #[error("order not found")]
    NotFound,
    /// The order has gone too far to cancel.
    #[error("an order can be cancelled only before it ships (it is {})", .0.as_str())]
    NotCancellable(OrderStatus),
    /// The order cannot be returned in this status.
    #[error("a return can be requested only after delivery (the order is {})", .0.as_str())]
    NotReturnable(OrderStatus),
    /// The return asks for lines or units the order does not have.
    #[error("{0}")]
    InvalidReturn(String),
    /// The order has no such line.
    #[error("the order has no such line")]
    LineNotFound,
    /// The payment is still being confirmed; try again in a minute.
    #[error("the payment is still being confirmed; try again in a minute")]
    PaymentUnsettled,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The caller's own order, live or archived; anyone else's is indistinguishable from none.
#[tracing::instrument(name = "get_order", skip_all, fields(user_id = %user, order_id = %id))]
pub async fn get(shop: Shop<'_>, user: &UserId, id: OrderId) -> Result<Order, OrderError> {
    match super::archive::find(shop, id).await? {
        Some(order) if &order.user_id == user => Ok(order),
        _ => Err(OrderError::NotFound),
    }
}

/// The caller's orders, newest first, optionally within a time range: live and archived
/// orders in one listing.
#[tracing::instrument(name = "list_orders", skip_all, fields(user_id = %user))]
pub async fn list(
    shop: Shop<'_>,
    user: &UserId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    page: &PageRequest,
) -> Result<Page<Order>, StoreError> {
    super::archive::history(shop, user, from, to, page).await
}

/// What cancelling owes the shopper, on `next`: a refund of what is left of the capture,
/// or a void of a charge that never settled.
fn owe_back(next: &mut Order, kind: DueKind) {
    let amount = next.payment.captured - next.payment.refunded;
    next.owe(MoneyDue {
        key: format!("{}-cancel", next.charge_key()),
        kind,
        amount: if kind == DueKind::Refund { amount } else { 0 },
    });
}

/// Cancel before shipping (an order assigned to warehouses too, while none of its shipments
/// has left): stock goes back on sale exactly once (the status change and the stock return
/// are one transaction conditioned on the order's version), and what was captured is
/// refunded through the payment outbox (or the charge voided, if it never settled). An order
/// whose payment is still unconfirmed is settled with the provider first. Cancelling a
/// cancelled order is a no-op.
#[tracing::instrument(name = "cancel", skip_all, fields(user_id = %user, order_id = %id))]
pub async fn cancel(shop: Shop<'_>, user: &UserId, id: OrderId) -> Result<Order, OrderError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let order = get(shop, user, id).await?;
        if order.status == OrderStatus::Cancelled {
            return Ok(order);
        }
        if !order.status.cancellable() {
            return Err(OrderError::NotCancellable(order.status));
        }
        let now = shop.clock.now();
        let mut next = order.moved_to(
            OrderStatus::Cancelled,
            now,
            Some("cancelled by the shopper".into()),
        );
        let effect = if order.status == OrderStatus::PaymentPending {
            // The money's fate decides what is owed back: ask before cancelling.
            match shop
                .payments
                .status(&ChargeRef::of_order(&order), order.payment.checks)
                .await?
            {
                ChargeStatus::Captured { reference } => {
                    next.payment.reference = Some(reference);
                    next.payment.captured = order.total.amount;
                    next.payment.state = PaymentState::Captured;
                    owe_back(&mut next, DueKind::Refund);
                }
                ChargeStatus::Failed { .. } => {
                    next.payment.state = PaymentState::Voided;
                    owe_back(&mut next, DueKind::Void);
                }
                ChargeStatus::Unknown => return Err(OrderError::PaymentUnsettled),
            }
            // The stock is still in the checkout's hold (or already back): release the hold.
            if let Some(checkout) = shop.checkouts.get(order.checkout_id).await? {
                if checkout.state == HoldState::Held {
                    shop.checkouts
                        .release(&checkout, ReleaseReason::Cancelled, now)
                        .await?;
                }
            }
            StockEffect::None
        } else {
            owe_back(&mut next, DueKind::Refund);
            StockEffect::Return
        };
        let outcome = if order.status == OrderStatus::Processing {
            // Assigned to warehouses: their orders and stock are restored in the same
            // transaction as the order (the aggregate included).
            match super::fulfilment::cancel_assigned(shop, &order, &next, now).await? {
                None => return Err(OrderError::NotCancellable(OrderStatus::Shipped)),
                Some(Applied::Done) => Transition::Done,
                Some(_) => Transition::Stale,
            }
        } else {
            shop.orders.transition(&order, &next, effect).await?
        };
        match outcome {
            Transition::Done => {
                tracing::info!(order_id = %id, "order cancelled");
                return Ok(super::payments::settle_dues(shop, next).await);
            }
            Transition::Stale => continue,
            Transition::Short => {
                return Err(StoreError::Corrupt("returning stock cannot run short".into()).into())
            }
        }
    }
    Err(StoreError::Contention(format!("order {id} kept changing")).into())
}

/// Cancel one line (one product) of an order before it ships, with the shopper's reason:
/// its units go back on sale once, its amount is refunded through the outbox, and the
/// warehouse parcel that carried it shrinks (or is cancelled when nothing is left in it),
/// all in one transaction with the order. Cancelling the last live line cancels the order.
#[tracing::instrument(name = "cancel_line", skip_all, fields(user_id = %user, order_id = %id, item_id = %item))]
pub async fn cancel_line(
    shop: Shop<'_>,
    user: &UserId,
    id: OrderId,
    item: ItemId,
    reason: String,
) -> Result<Order, OrderError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let order = get(shop, user, id).await?;
        if order.cancelled_lines.iter().any(|l| l.item_id == item) {
            return Ok(order);
        }
        let Some(line) = order.lines.iter().find(|l| l.item_id == item).cloned() else {
            return Err(OrderError::LineNotFound);
        };
        if !order.status.cancellable() || order.status == OrderStatus::PaymentPending {
            return Err(OrderError::NotCancellable(order.status));
        }
        if order.lines.len() == 1 {
            return cancel(shop, user, id).await;
        }
        let now = shop.clock.now();
        let amount = line.unit_price.times(line.quantity.get()).amount;
        let mut next = order.moved_to(
            order.status,
            now,
            Some(format!("line {item} cancelled by the shopper: {reason}")),
        );
        next.lines.retain(|l| l.item_id != item);
        next.total = Money::sum(
            order.total.currency,
            next.lines
                .iter()
                .map(|l| l.unit_price.times(l.quantity.get()).amount),
        );
        next.cancelled_lines.push(CancelledLine {
            item_id: item,
            quantity: line.quantity,
            reason: reason.clone(),
            at: now,
            refund: amount,
        });
        next.owe(MoneyDue {
            key: format!("{}-line-{item}", order.charge_key()),
            kind: DueKind::Refund,
            amount,
        });
        let outcome = if order.status == OrderStatus::Processing {
            match super::fulfilment::cancel_assigned_line(shop, &order, &next, item, now).await? {
                None => return Err(OrderError::NotCancellable(OrderStatus::Shipped)),
                Some(Applied::Done) => Transition::Done,
                Some(_) => Transition::Stale,
            }
        } else {
            shop.orders
                .transition(
                    &order,
                    &next,
                    StockEffect::ReturnUnits(item, line.quantity.get()),
                )
                .await?
        };
        match outcome {
            Transition::Done => {
                tracing::info!(order_id = %id, item_id = %item, "order line cancelled");
                return Ok(super::payments::settle_dues(shop, next).await);
            }
            Transition::Stale => continue,
            Transition::Short => {
                return Err(StoreError::Corrupt("returning stock cannot run short".into()).into())
            }
        }
    }
    Err(StoreError::Contention(format!("order {id} kept changing")).into())
}
