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
use crate::domain::{CheckoutId, DueKind, MoneyDue, Order, PaymentState, Timestamp};
use crate::ports::{ChargeRef, HeldCharge, StockEffect, StoreError, Transition};
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
                .refund(
                    &due.key,
                    &ChargeRef::of_order(order),
                    order.payment.reference.as_deref(),
                    amount,
                )
                .await
        }
        DueKind::Void => shop.payments.void(&ChargeRef::of_order(order)).await,
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

/// How old a charge must be before reconciliation judges it: a submit still running (its
/// order not yet written) is not a stray.
pub const STRAY_GRACE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Money the provider holds that no order accounts for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stray {
    /// The charge.
    pub charge: HeldCharge,
    /// Why it is a stray, in words.
    pub why: String,
}

/// Every charge since `since` (older than [`STRAY_GRACE`]) that holds money no order owns:
/// not under a key of the shop's, for a checkout attempt with no order, another attempt's
/// charge than the one its order was paid with, or money kept for an order that owns nothing
/// and owes nothing back. Each belongs to exactly one checkout attempt or is listed here;
/// what to do about one (refund it) is an operator's call, so this only reports.
#[tracing::instrument(name = "strays", skip_all)]
pub async fn strays(shop: Shop<'_>, since: Timestamp) -> Result<Vec<Stray>, StoreError> {
    let now = shop.clock.now();
    let judged_before = now.plus_millis(-(STRAY_GRACE.as_millis() as i64));
    let mut strays = Vec::new();
    for charge in shop.payments.holding_since(since).await? {
        if charge.created > judged_before {
            continue;
        }
        let checkout = charge
            .key
            .as_deref()
            .and_then(|key| key.rsplit_once('-'))
            .and_then(|(checkout, _)| CheckoutId::try_from(checkout).ok());
        let why = match checkout {
            None => Some("not created under a checkout attempt's key".to_owned()),
            Some(checkout) => match shop.orders.get(Order::id_for(checkout)).await {
                // One charge that cannot be judged now does not stop the others: the next
                // hourly run (its window overlaps this one) judges it again.
                Err(e) => {
                    tracing::warn!(reference = %charge.reference, error = %e, "charge not judged this run");
                    continue;
                }
                Ok(None) => Some(format!("checkout {checkout} has no order")),
                Ok(Some(order)) if Some(order.charge_key()) != charge.key => Some(format!(
                    "order {} was paid under {}, not this attempt",
                    order.order_id,
                    order.charge_key()
                )),
                Ok(Some(order))
                    if !order.status.holds_stock()
                        && order.status != crate::domain::OrderStatus::PaymentPending
                        && order.money_due.is_empty()
                        && order.kept_value() == 0 =>
                {
                    Some(format!(
                        "order {} ({:?}) owns nothing and owes nothing back",
                        order.order_id, order.status
                    ))
                }
                Ok(Some(_)) => None,
            },
        };
        if let Some(why) = why {
            tracing::warn!(reference = %charge.reference, held = charge.held, %why, "stray payment");
            strays.push(Stray { charge, why });
        }
    }
    Ok(strays)
}
