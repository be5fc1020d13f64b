//! The payment outbox: refunds and voids the shop owes, paid out until the provider
//! confirms.
//!
//! A change that owes money back (a cancelled order or line, a return, a rejected late
//! payment, a pending payment given up on) writes a [`MoneyDue`] onto the order in the same
//! transaction as the change itself, so the debt exists exactly when the change committed.
//! Whoever made the change then pays it out at once; if the provider cannot be reached the
//! entry stays, and the sweeper (every minute) pays it out later. Each entry has its own
//! provider idempotency key, so paying it out twice refunds once; an entry is removed only
//! after the provider confirmed it, by a write conditioned on the order's version.

use super::Shop;
use crate::domain::{DueKind, MoneyDue, Order, PaymentState};
use crate::ports::{StockEffect, StoreError, Transition};
use crate::retry::Policy;

/// Ask the provider for one entry.
async fn pay_out(shop: Shop<'_>, order: &Order, due: &MoneyDue) -> Result<(), StoreError> {
    match due.kind {
        DueKind::Refund => {
            let amount = crate::domain::Money {
                amount: due.amount,
                currency: order.total.currency,
            };
            shop.payments
                .refund(&due.key, &order.charge_key(), amount)
                .await
        }
        DueKind::Void => shop.payments.void(&order.charge_key()).await,
    }
}

/// The order with `paid` entries removed and the money they moved accounted.
fn settled(order: &Order, paid: &[MoneyDue]) -> Order {
    let mut next = order.clone();
    next.money_due
        .retain(|d| !paid.iter().any(|p| p.key == d.key));
    for due in paid {
        if due.kind == DueKind::Refund {
            next.payment.refunded = next
                .payment
                .refunded
                .checked_add(due.amount)
                .expect("refunds are bounded by the captured amount");
        }
    }
    if paid.iter().any(|d| d.kind == DueKind::Refund) {
        next.payment.state = if next.payment.refunded >= next.payment.captured {
            PaymentState::Refunded
        } else {
            PaymentState::PartiallyRefunded
        };
    }
    next.version += 1;
    next
}

/// Pay out what `order` owes, now. Never fails: what could not be paid stays owed on the
/// order for the sweeper. Returns the order as it now stands (as far as this call knows).
#[tracing::instrument(name = "settle_dues", skip_all, fields(order_id = %order.order_id))]
pub async fn settle_dues(shop: Shop<'_>, order: Order) -> Order {
    let mut order = order;
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        if order.money_due.is_empty() {
            return order;
        }
        let mut paid = Vec::new();
        for due in &order.money_due {
            match pay_out(shop, &order, due).await {
                Ok(()) => paid.push(due.clone()),
                Err(e) => {
                    tracing::warn!(order_id = %order.order_id, key = %due.key, error = %e, "refund or void not confirmed; left to the sweeper");
                }
            }
        }
        if paid.is_empty() {
            return order;
        }
        let next = settled(&order, &paid);
        match shop
            .orders
            .transition(&order, &next, StockEffect::None)
            .await
        {
            Ok(Transition::Done) => return next,
            // The order moved (a warehouse message, say): the provider calls were idempotent,
            // so read it again and record what was paid on the fresh version.
            Ok(_) => match shop.orders.get(order.order_id).await {
                Ok(Some(fresh)) => order = fresh,
                _ => return order,
            },
            Err(e) => {
                tracing::warn!(order_id = %order.order_id, error = %e, "paid-out refund not recorded yet; the sweeper records it");
                return order;
            }
        }
    }
    order
}

/// The sweeper's part: pay out every order's outstanding entries (up to `limit` orders).
/// Returns how many orders owed something.
pub async fn drain(shop: Shop<'_>, limit: u32) -> Result<usize, StoreError> {
    let owing = shop.orders.owing(limit).await?;
    for id in &owing {
        if let Some(order) = shop.orders.get(*id).await? {
            settle_dues(shop, order).await;
        }
    }
    Ok(owing.len())
}
