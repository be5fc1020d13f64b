//! Settlement: ask the provider again about a pending payment (the settle timer, the sweeper,
//! and the provider's own news by webhook).

use super::*;

/// The provider says something changed about the charge of `checkout`'s payment attempt
/// `attempt` (its webhook): settle now, through the same steps as the timer and the
/// sweeper, so an outcome that arrives by webhook and one found by asking end the same way.
/// A checkout still held with a parked payment is settled without waiting for its expiry;
/// otherwise a pending order is settled as by the settle timer. A submit still running (no
/// order parked yet) finishes on its own.
///
/// `Ok(false)`: neither that checkout nor that attempt is known here (yet). The caller keeps
/// the news for a later delivery instead of dropping it.
#[tracing::instrument(name = "provider_news", skip_all, fields(checkout_id = %id, attempt))]
pub async fn provider_news(
    shop: Shop<'_>,
    id: CheckoutId,
    attempt: u32,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some(checkout) = shop.checkouts.get(id).await? else {
        // TTL removed the hold a day after it ended: its order, if it made one, decides.
        return match shop.orders.get(Order::id_for(id)).await? {
            Some(order) => settle(shop, order.order_id, now).await.map(|()| true),
            None => Ok(false),
        };
    };
    if checkout.attempts < attempt {
        return Ok(false);
    }
    match (&checkout.state, checkout.paying.clone(), checkout.order_id) {
        (HoldState::Held, Some(attempt), Some(_)) => {
            settle_attempt(shop, &checkout, attempt, now, false).await?;
        }
        (HoldState::Held, _, _) => {}
        (_, _, Some(order_id)) => settle(shop, order_id, now).await?,
        _ => {}
    }
    Ok(true)
}

/// Ask the provider again about a pending order whose hold is gone (timer `Settle`). An
/// order that changed while it was settled (a cancel at the same moment) is read again and
/// settled as it now is.
#[tracing::instrument(name = "settle", skip_all, fields(order_id = %order_id))]
pub async fn settle(
    shop: Shop<'_>,
    order_id: crate::domain::OrderId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        match settle_once(shop, order_id, now).await {
            Err(StoreError::Contention(_)) => continue,
            other => return other,
        }
    }
    Err(StoreError::Contention(format!(
        "order {order_id} kept changing during settlement"
    )))
}

pub(super) async fn settle_once(
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
    let charge = ChargeRef::of_order(&order);
    let key = charge.key.clone();
    match shop.payments.status(&charge, order.payment.checks).await? {
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
            asked.updated_at = now;
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
            let mut failed = order.moved_to(
                OrderStatus::PaymentFailed,
                now,
                Some("payment never confirmed; voided".into()),
            );
            failed.payment.state = PaymentState::Voided;
            failed.owe(MoneyDue {
                key: format!("{key}-void"),
                kind: DueKind::Void,
                amount: 0,
            });
            if shop
                .orders
                .transition(&order, &failed, StockEffect::None)
                .await?
                == Transition::Done
            {
                crate::usecases::payments::settle_dues(shop, failed).await;
            }
            Ok(())
        }
    }
}
