//! Submit: claim the payment attempt, open, record and confirm the charge, and turn the hold
//! into the order (or a pending one) under the request's `Idempotency-Key`.

use super::*;

/// How a submit ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Paid: the order is placed (or this is a retry of a submit that already placed it).
    Placed(Order),
    /// The provider did not answer; the timer settles the order.
    Pending(Order),
    /// The shopper's client must act (3-D Secure) with `client_secret`; the order is
    /// pending until the provider tells the outcome. A replay of this submit answers
    /// [`Submitted::Pending`]: the secret is answered once, never stored.
    ActionRequired {
        /// The pending order.
        order: Order,
        /// What the client needs to act (not logged, not stored).
        client_secret: String,
    },
}

impl Submitted {
    /// The order the submit made or found, whatever its payment's state.
    pub fn order(&self) -> &Order {
        match self {
            Self::Placed(order) | Self::Pending(order) | Self::ActionRequired { order, .. } => {
                order
            }
        }
    }
}

/// A submit's request as the edge parsed it.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// The `Idempotency-Key` header.
    pub idempotency_key: String,
    /// A digest of the request (checkout id and body): the same key with another body is a
    /// different request.
    pub fingerprint: String,
    /// The payment method the client obtained from the provider (never card data).
    pub payment_token: String,
    /// Where it ships.
    pub shipping_address: Address,
}

/// What a submit answered, recorded under its idempotency key for replays.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum Answer {
    Placed { order: Box<Order> },
    Pending { order: Box<Order> },
    Declined { reason: String },
    NotFound,
    NotActive { status: CheckoutStatus },
    RejectedLate { order: Box<Order> },
}

impl Answer {
    /// The answer to record for `result`, if it is final (not a transient failure).
    fn of(result: &Result<Submitted, CheckoutError>) -> Option<Answer> {
        Some(match result {
            Ok(Submitted::Placed(o)) => Answer::Placed {
                order: Box::new(o.clone()),
            },
            Ok(Submitted::Pending(o) | Submitted::ActionRequired { order: o, .. }) => {
                Answer::Pending {
                    order: Box::new(o.clone()),
                }
            }
            Err(CheckoutError::Declined(reason)) => Answer::Declined {
                reason: reason.clone(),
            },
            Err(CheckoutError::NotFound) => Answer::NotFound,
            Err(CheckoutError::NotActive(status)) => Answer::NotActive { status: *status },
            Err(CheckoutError::RejectedLate(o)) => Answer::RejectedLate { order: o.clone() },
            Err(_) => return None,
        })
    }

    fn into_result(self) -> Result<Submitted, CheckoutError> {
        match self {
            Answer::Placed { order } => Ok(Submitted::Placed(*order)),
            Answer::Pending { order } => Ok(Submitted::Pending(*order)),
            Answer::Declined { reason } => Err(CheckoutError::Declined(reason)),
            Answer::NotFound => Err(CheckoutError::NotFound),
            Answer::NotActive { status } => Err(CheckoutError::NotActive(status)),
            Answer::RejectedLate { order } => Err(CheckoutError::RejectedLate(order)),
        }
    }
}

/// Records a submit's answer: in the effect's own transaction where there is one.
pub(super) struct Answering<'a> {
    key: String,
    fingerprint: &'a str,
}

impl Answering<'_> {
    fn receipt(&self, answer: &Answer) -> Receipt {
        Receipt {
            key: self.key.clone(),
            fingerprint: self.fingerprint.to_owned(),
            outcome: serde_json::to_value(answer).unwrap_or_default(),
        }
    }
}

/// Submit the order for a checkout: charge the payment and turn the hold into an order.
///
/// Honours the `Idempotency-Key`: the same key and request answer the first answer again
/// (status included), another request under the key is `KeyReused`, and a first request
/// still running is `KeyInFlight`. Three sequential DynamoDB round trips on the way to a
/// placed order: the key's claim, the payment claim, the commit (which records the answer).
#[tracing::instrument(name = "submit", skip_all, fields(user_id = %user, checkout_id = %id))]
pub async fn submit(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    request: PaymentRequest,
) -> Result<Submitted, CheckoutError> {
    let answering = Answering {
        key: format!("submit#{user}#{}", request.idempotency_key),
        fingerprint: &request.fingerprint,
    };
    match shop
        .requests
        .claim(&answering.key, answering.fingerprint, shop.clock.now())
        .await?
    {
        RequestClaim::Fresh => {}
        RequestClaim::Replay(outcome) => {
            let answer: Answer = serde_json::from_value(outcome)
                .map_err(|e| StoreError::Corrupt(format!("submit answer: {e}")))?;
            return answer.into_result();
        }
        RequestClaim::InFlight => return Err(CheckoutError::KeyInFlight),
        RequestClaim::Reused => return Err(CheckoutError::KeyReused),
    }
    let (result, recorded) = pay(shop, user, id, &request, &answering).await;
    if !recorded {
        let outcome = match Answer::of(&result) {
            Some(answer) => shop.requests.finish(&answering.receipt(&answer)).await,
            // No final answer (unavailable, another attempt paying): a retry runs again.
            None => {
                shop.requests
                    .abandon(&answering.key, answering.fingerprint)
                    .await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(checkout_id = %id, error = %e, "idempotency record not updated");
        }
    }
    result
}

/// Claim, charge, commit. Returns the result and whether its answer was recorded already.
pub(super) async fn pay(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    request: &PaymentRequest,
    answering: &Answering<'_>,
) -> (Result<Submitted, CheckoutError>, bool) {
    let now = shop.clock.now();
    let attempt = PaymentAttempt {
        method: request.payment_token.clone(),
        shipping_address: request.shipping_address.clone(),
        started_at: now,
        reference: None,
    };
    let checkout = match shop.checkouts.claim_payment(id, user, &attempt, now).await {
        Ok(PaymentClaim::Claimed(checkout)) => checkout,
        Ok(PaymentClaim::Refused(current)) => {
            return (refused(shop, user, id, current, now).await, false)
        }
        Err(e) => return (Err(e.into()), false),
    };
    let span = tracing::info_span!("payment", checkout_id = %id, attempt = checkout.attempts);
    let _entered = span.enter();
    let (outcome, checkout, attempt) = match charge(shop, checkout, attempt).await {
        Ok(charged) => charged,
        Err(e) => return (Err(e), false),
    };
    match outcome {
        ChargeOutcome::Approved { reference } => {
            let mut payment = payment_of(&checkout, &attempt, PaymentState::Captured);
            payment.reference = Some(reference);
            payment.captured = checkout.total.amount;
            let order = order_for(&checkout, &attempt, OrderStatus::Placed, payment, now);
            let answer = Answer::Placed {
                order: Box::new(order.clone()),
            };
            let receipt = answering.receipt(&answer);
            match commit_placed(shop, &checkout, &order, &receipt).await {
                Ok(Some(recorded)) => {
                    tracing::info!(order_id = %order.order_id, "order placed");
                    (Ok(Submitted::Placed(order)), recorded)
                }
                // The hold ended between claim and commit: only an expiry can end a hold
                // with a payment in flight, so this is a late success.
                Ok(None) => (
                    late_success(shop, order).await.map(Submitted::Placed),
                    false,
                ),
                Err(e) => (Err(e.into()), false),
            }
        }
        ChargeOutcome::Declined { reason } => {
            let answer = Answer::Declined {
                reason: reason.clone(),
            };
            let receipt = answering.receipt(&answer);
            tracing::info!(%reason, "payment declined; hold kept");
            match shop
                .checkouts
                .record_decline(&checkout, &reason, Some(&receipt))
                .await
            {
                Ok(recorded) => (Err(CheckoutError::Declined(reason)), recorded),
                Err(e) => (Err(e.into()), false),
            }
        }
        // The shopper's client must act (3-D Secure) before the provider decides: like an
        // unanswered charge, the order waits, pending, with the stock still held, and the
        // provider's webhook (or the timer asking at the hold's expiry) settles it.
        ChargeOutcome::NoResponse | ChargeOutcome::ActionRequired { .. } => {
            let action = match outcome {
                ChargeOutcome::ActionRequired { client_secret, .. } => Some(client_secret),
                _ => None,
            };
            let order = pending_order(&checkout, &attempt, now);
            let answer = Answer::Pending {
                order: Box::new(order.clone()),
            };
            let receipt = answering.receipt(&answer);
            let parked = match shop.checkouts.park(&checkout, &order, Some(&receipt)).await {
                Ok(parked) => parked,
                Err(e) => return (Err(e.into()), false),
            };
            if !parked {
                // The hold expired meanwhile: keep the order pending and let settlement decide.
                if let Err(e) = shop.orders.create(&order).await {
                    return (Err(e.into()), false);
                }
                schedule_settle(shop, &order).await;
            }
            match action {
                Some(client_secret) => {
                    tracing::info!(order_id = %order.order_id, "payment needs the shopper's action; order pending");
                    (
                        Ok(Submitted::ActionRequired {
                            order,
                            client_secret,
                        }),
                        parked,
                    )
                }
                None => {
                    tracing::info!(order_id = %order.order_id, "payment outcome unknown; order pending");
                    (Ok(Submitted::Pending(order)), parked)
                }
            }
        }
    }
}

/// Open the attempt's charge, record the provider's id for it on the hold, then confirm it:
/// from then on status, void and refund act on that id, and nothing but this first call
/// ever creates a charge for the attempt. A provider call that failed outright is as
/// unknown as one that timed out: the charge may exist, so the attempt stays recorded and
/// is settled by asking (found by its key if its id never got recorded). Returns the
/// outcome with the checkout and attempt as recorded.
pub(super) async fn charge(
    shop: Shop<'_>,
    mut checkout: Checkout,
    mut attempt: PaymentAttempt,
) -> Result<(ChargeOutcome, Checkout, PaymentAttempt), CheckoutError> {
    let mut charge = ChargeRef::of_attempt(&checkout, &attempt.method);
    let opened = shop.payments.open(&charge).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "payment provider call failed; outcome unknown");
        Opened::NoResponse
    });
    let reference = match opened {
        Opened::Ready { reference } => reference,
        Opened::Declined { reason } => {
            return Ok((ChargeOutcome::Declined { reason }, checkout, attempt))
        }
        Opened::NoResponse => return Ok((ChargeOutcome::NoResponse, checkout, attempt)),
    };
    // Recorded before any money moves: if this write fails, the charge is never confirmed
    // (the settlement finds it unconfirmed and cancels it).
    charge.reference = Some(reference.clone());
    if !shop
        .checkouts
        .record_reference(&checkout, &reference)
        .await?
    {
        // The attempt ended meanwhile: only an expiry ends a hold with a payment in flight
        // (after the grace, finding no charge, it released the hold). Never take money for
        // it; cancel the intent made (best effort: unconfirmed, it holds nothing).
        if let Err(e) = shop.payments.void(&charge).await {
            tracing::warn!(error = %e, "unconfirmed intent of an ended attempt not cancelled");
        }
        return Err(CheckoutError::NotActive(CheckoutStatus::Expired));
    }
    attempt.reference = Some(reference);
    checkout.paying = Some(attempt.clone());
    let outcome = shop.payments.confirm(&charge).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "payment provider call failed; outcome unknown");
        ChargeOutcome::NoResponse
    });
    Ok((outcome, checkout, attempt))
}

/// Commit a placed order for the attempt on `checkout`: `Some(recorded)` if it committed
/// (with the answer recorded, or without it if the key's record was taken over), `None`
/// if the hold is no longer held by this attempt.
pub(super) async fn commit_placed(
    shop: Shop<'_>,
    checkout: &Checkout,
    order: &Order,
    receipt: &Receipt,
) -> Result<Option<bool>, StoreError> {
    if shop
        .checkouts
        .complete(checkout, order, None, Some(receipt))
        .await?
    {
        return Ok(Some(true));
    }
    let still_ours = shop
        .checkouts
        .get(checkout.checkout_id)
        .await?
        .is_some_and(|c| {
            c.state == HoldState::Held && c.attempts == checkout.attempts && c.paying.is_some()
        });
    if still_ours && shop.checkouts.complete(checkout, order, None, None).await? {
        return Ok(Some(false));
    }
    Ok(None)
}

/// A payment claim that was refused: say why, or answer the order the checkout became.
pub(super) async fn refused(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    current: Option<Checkout>,
    now: Timestamp,
) -> Result<Submitted, CheckoutError> {
    let checkout = owned(shop, user, id, current).await?;
    // A double click or a retry with another key: the order the first submit made.
    if let Some(order_id) = checkout.order_id {
        if let Some(order) = shop.orders.get(order_id).await? {
            return Ok(match order.status {
                OrderStatus::PaymentPending => Submitted::Pending(order),
                _ => Submitted::Placed(order),
            });
        }
    }
    if checkout.state == HoldState::Held && checkout.paying.is_some() {
        return Err(CheckoutError::PaymentInProgress);
    }
    Err(CheckoutError::NotActive(checkout.status(now)))
}

/// A payment that succeeded after its hold expired: take the stock again if it is still
/// there, otherwise refund and reject the order.
pub(super) async fn late_success(shop: Shop<'_>, placed: Order) -> Result<Order, CheckoutError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let current = match shop.orders.get(placed.order_id).await? {
            Some(order) => order,
            None => {
                let mut pending = placed.clone();
                pending.status = OrderStatus::PaymentPending;
                pending.payment.state = PaymentState::Pending;
                pending.payment.captured = 0;
                pending.timeline[0].status = OrderStatus::PaymentPending;
                shop.orders.create(&pending).await?;
                continue;
            }
        };
        if current.status != OrderStatus::PaymentPending {
            // Settled meanwhile (by the settle timer): its outcome is the answer.
            return match current.status {
                OrderStatus::Rejected => Err(CheckoutError::RejectedLate(Box::new(current))),
                _ => Ok(current),
            };
        }
        match settle_captured(shop, &current, placed.payment.reference.clone()).await {
            Err(CheckoutError::Store(StoreError::Contention(_))) => continue,
            other => return other,
        }
    }
    Err(StoreError::Contention(format!("order {} kept changing", placed.order_id)).into())
}

/// Settle a captured payment for a pending order whose hold is gone: take the stock again
/// (and empty the cart) if the hold *expired* and the stock is there; otherwise refund
/// through the outbox and reject.
pub(super) async fn settle_captured(
    shop: Shop<'_>,
    order: &Order,
    reference: Option<String>,
) -> Result<Order, CheckoutError> {
    let now = shop.clock.now();
    let hold = shop.checkouts.get(order.checkout_id).await?;
    // TTL deletes only expired holds, so a missing record expired too.
    let expired = hold.as_ref().is_none_or(|c| {
        c.state == HoldState::Released && c.release_reason == Some(ReleaseReason::Expired)
    });
    if expired {
        let mut placed = order.moved_to(
            OrderStatus::Placed,
            now,
            Some("payment confirmed after the hold expired; stock re-held".into()),
        );
        placed.payment.state = PaymentState::Captured;
        placed.payment.reference = reference.clone();
        placed.payment.captured = order.total.amount;
        for attempt in 0..2 {
            match shop.checkouts.place_late(order, &placed).await? {
                Transition::Done => return Ok(placed),
                Transition::Stale => {
                    return Err(StoreError::Contention(format!(
                        "order {} changed during settlement",
                        order.order_id
                    ))
                    .into())
                }
                // A sharded item's units may sit in its other shards: gather them into
                // shard 0 (what a late placement takes from) and try once more.
                Transition::Short if attempt == 0 && gather(shop, order).await? => continue,
                Transition::Short => break,
            }
        }
    }
    let mut rejected = order.moved_to(
        OrderStatus::Rejected,
        now,
        Some(if expired {
            "stock sold out before payment arrived; refunded".into()
        } else {
            "the checkout was closed before payment arrived; refunded".into()
        }),
    );
    rejected.payment.reference = reference;
    rejected.payment.captured = order.total.amount;
    rejected.owe(MoneyDue {
        key: format!("{}-refund", order.charge_key()),
        kind: DueKind::Refund,
        amount: order.total.amount,
    });
    match shop
        .orders
        .transition(order, &rejected, StockEffect::None)
        .await?
    {
        Transition::Done => {
            let settled = crate::usecases::payments::settle_dues(shop, rejected).await;
            Err(CheckoutError::RejectedLate(Box::new(settled)))
        }
        _ => Err(StoreError::Contention(format!(
            "order {} changed during rejection",
            order.order_id
        ))
        .into()),
    }
}
