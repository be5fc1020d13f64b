//! Expiry: the timer and the TTL stream end holds nobody completed, settling a payment in
//! flight first.

use super::*;

/// What the timer did with a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Nothing to do: gone, already over, or released by another mechanism first.
    Nothing,
    /// Not yet due; ask again after this long.
    NotDue(Duration),
    /// This call put the stock back on sale.
    Released,
    /// A payment in flight was settled as captured; the hold became the order.
    Completed,
}

/// Release a checkout's hold if its time is up (timer and sweeper). A hold with a payment
/// attempt in flight is settled first: captured → placed; failed → voided and released;
/// unknown → released, the order kept pending and asked about again later (a success
/// then is a late success).
#[tracing::instrument(name = "expire", skip_all, fields(checkout_id = %id))]
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
    // A submit still running has recorded its attempt but neither finished nor parked an
    // order: until the grace is over, the provider's "no such charge" proves nothing.
    if let Some(attempt) = checkout
        .paying
        .as_ref()
        .filter(|_| checkout.order_id.is_none())
    {
        let settles_at = attempt
            .started_at
            .plus_millis(PAYMENT_GRACE.as_millis() as i64);
        if settles_at > now {
            return Ok(Expiry::NotDue(Duration::from_millis(
                (settles_at.unix_millis() - now.unix_millis()) as u64,
            )));
        }
    }
    let Some(attempt) = checkout.paying.clone() else {
        let released = shop
            .checkouts
            .release(&checkout, ReleaseReason::Expired, now)
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
    settle_attempt(shop, &checkout, attempt, now, true).await
}

/// Settle a held checkout's payment attempt with what the provider says now: captured →
/// the order is placed; failed → voided and the hold released; unknown → at expiry
/// (`expired`), the hold is released and the order kept pending for the settle timer,
/// before it, nothing changes.
pub(super) async fn settle_attempt(
    shop: Shop<'_>,
    checkout: &Checkout,
    attempt: crate::domain::PaymentAttempt,
    now: Timestamp,
    expired: bool,
) -> Result<Expiry, StoreError> {
    let pending = match checkout.order_id {
        Some(order_id) => shop
            .orders
            .get(order_id)
            .await?
            .filter(|o| o.status == OrderStatus::PaymentPending),
        None => None,
    };
    let checks = pending.as_ref().map_or(0, |o| o.payment.checks);
    let charge = ChargeRef::of_attempt(checkout, &attempt.method);
    match shop.payments.status(&charge, checks).await? {
        ChargeStatus::Captured { reference } => {
            let mut placed = match &pending {
                Some(order) => {
                    order.moved_to(OrderStatus::Placed, now, Some("payment confirmed".into()))
                }
                None => {
                    // The request that charged died before committing: its record settles it.
                    let payment = payment_of(&checkout, &attempt, PaymentState::Captured);
                    order_for(&checkout, &attempt, OrderStatus::Placed, payment, now)
                }
            };
            placed.payment.state = PaymentState::Captured;
            placed.payment.reference = Some(reference);
            placed.payment.captured = checkout.total.amount;
            placed.payment.checks = checks + 1;
            let version = pending.as_ref().map(|o| o.version);
            Ok(
                if shop
                    .checkouts
                    .complete(&checkout, &placed, version, None)
                    .await?
                {
                    tracing::info!(order_id = %placed.order_id, "payment confirmed at expiry; order placed");
                    Expiry::Completed
                } else {
                    Expiry::Nothing
                },
            )
        }
        ChargeStatus::Failed { reason } => {
            // Voided before the hold is released: if the void fails, the hold stays and the
            // next sweep tries again.
            shop.payments.void(&charge).await?;
            let released = shop
                .checkouts
                .release(&checkout, ReleaseReason::PaymentFailed, now)
                .await?;
            if let Some(order) = pending {
                let mut failed = order.moved_to(OrderStatus::PaymentFailed, now, Some(reason));
                failed.payment.state = PaymentState::Voided;
                failed.payment.checks += 1;
                shop.orders
                    .transition(&order, &failed, StockEffect::None)
                    .await?;
            }
            Ok(if released {
                Expiry::Released
            } else {
                Expiry::Nothing
            })
        }
        // Not expired (the provider's webhook asked): the hold runs on; its expiry asks again.
        ChargeStatus::Unknown if !expired => Ok(Expiry::Nothing),
        ChargeStatus::Unknown => {
            let order = match pending {
                Some(order) => order,
                None => {
                    let order = pending_order(checkout, &attempt, now);
                    shop.orders.create(&order).await?;
                    order
                }
            };
            let released = shop
                .checkouts
                .release(&checkout, ReleaseReason::Expired, now)
                .await?;
            let mut asked = order.clone();
            asked.payment.checks += 1;
            asked.version += 1;
            asked.updated_at = now;
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

/// DynamoDB's TTL deleted a hold record: if it was still held, release its stock (once),
/// and leave a payment that was in flight to settlement.
#[tracing::instrument(name = "expired_by_ttl", skip_all, fields(checkout_id = %last_image.checkout_id))]
pub async fn expired_by_ttl(shop: Shop<'_>, last_image: &Checkout) -> Result<bool, StoreError> {
    if last_image.state != HoldState::Held {
        return Ok(false);
    }
    let released = shop.checkouts.release_deleted(last_image).await?;
    if let Some(attempt) = &last_image.paying {
        let order_id = Order::id_for(last_image.checkout_id);
        let order = match shop.orders.get(order_id).await? {
            Some(order) => Some(order),
            None => {
                let order = pending_order(last_image, attempt, shop.clock.now());
                shop.orders.create(&order).await?;
                Some(order)
            }
        };
        if let Some(order) = order.filter(|o| o.status == OrderStatus::PaymentPending) {
            schedule_settle(shop, &order).await;
        }
    }
    if released {
        tracing::info!(checkout_id = %last_image.checkout_id, "hold released by TTL deletion");
    }
    Ok(released)
}
