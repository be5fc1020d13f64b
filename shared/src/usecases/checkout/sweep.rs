//! The sweeper: every minute, each due hold, overdue pending order and owed refund on its
//! own, within the function's time; what keeps failing is parked for an operator.

use super::*;

/// How many records the sweeper works on at once (each may call the payment provider).
pub const SWEEP_CONCURRENCY: usize = 4;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Holds released or completed.
    pub released: usize,
    /// Overdue pending orders asked about.
    pub settled: usize,
    /// Orders whose owed refunds and voids were all paid out.
    pub paid_out: usize,
    /// Records whose try failed this run (tried again after a wait).
    pub failed: usize,
    /// Records given up on this run: parked in the timer's dead-letter queue.
    pub parked: usize,
    /// Records skipped this run: waiting after a failure, or parked before.
    pub waiting: usize,
    /// Records the run had no time left for (the next run takes them).
    pub left: usize,
}

/// One record the sweeper works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sweepable {
    /// A held checkout whose time is up.
    Hold(CheckoutId),
    /// A pending order whose settle timer may be lost.
    Pending(crate::domain::OrderId),
    /// An order the payment outbox owes a refund or void.
    Dues(crate::domain::OrderId),
}

impl Sweepable {
    /// Its failure record's key.
    fn key(self) -> String {
        match self {
            Self::Hold(id) => format!("sweep#hold#{id}"),
            Self::Pending(id) => format!("sweep#pending#{id}"),
            Self::Dues(id) => format!("sweep#dues#{id}"),
        }
    }

    /// What an operator re-drives it with once the cause is fixed: a timer message (the
    /// dead-letter queue redrives into the timer queue).
    fn message(self) -> String {
        let message = match self {
            Self::Hold(checkout_id) => TimerMessage::Expire { v: 1, checkout_id },
            Self::Pending(order_id) => TimerMessage::Settle { v: 1, order_id },
            Self::Dues(order_id) => TimerMessage::PayDues { v: 1, order_id },
        };
        serde_json::to_string(&message).unwrap_or_default()
    }
}

/// What handling one record did, for the report.
pub(super) enum Swept {
    Released,
    Settled,
    PaidOut,
    Nothing,
}

/// Handle one record.
pub(super) async fn sweep_one(
    shop: Shop<'_>,
    work: Sweepable,
    now: Timestamp,
) -> Result<Swept, StoreError> {
    match work {
        Sweepable::Hold(id) => Ok(match expire(shop, id, now).await? {
            Expiry::Released | Expiry::Completed => Swept::Released,
            _ => Swept::Nothing,
        }),
        Sweepable::Pending(id) => {
            let overdue = SETTLE_RETRY.as_millis() as i64 * 2;
            match shop.orders.get(id).await? {
                Some(order) if order.updated_at.plus_millis(overdue) <= now => {
                    settle(shop, id, now).await?;
                    Ok(Swept::Settled)
                }
                _ => Ok(Swept::Nothing),
            }
        }
        Sweepable::Dues(id) => pay_dues(shop, id).await.map(|()| Swept::PaidOut),
    }
}

/// Pay out everything `order_id` owes; `Err` names what is still owed after trying (the
/// sweeper's outbox record, and a re-driven `PayDues` timer message).
pub async fn pay_dues(shop: Shop<'_>, order_id: crate::domain::OrderId) -> Result<(), StoreError> {
    let Some(order) = shop.orders.get(order_id).await? else {
        return Ok(());
    };
    let after = crate::usecases::payments::settle_dues(shop, order).await;
    if after.money_due.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = after.money_due.iter().map(|d| d.key.as_str()).collect();
    Err(StoreError::Unavailable(format!(
        "still owed after paying out: {}",
        keys.join(", ")
    )))
}

/// Work on `records` until `deadline`, each on its own: a failure is counted on the record
/// (tried again after a growing wait) and after [`crate::domain::parking::MAX_TRIES`] the
/// record is parked for an operator; the others go on either way.
pub(super) async fn sweep_each(
    shop: Shop<'_>,
    records: Vec<Sweepable>,
    now: Timestamp,
    deadline: tokio::time::Instant,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let keys: Vec<String> = records.iter().map(|r| r.key()).collect();
    let failures = shop.parking.failures(&keys).await?;
    let (due, waiting): (Vec<Sweepable>, Vec<Sweepable>) = records
        .into_iter()
        .partition(|r| failures.get(&r.key()).is_none_or(|f| f.due(now)));
    report.waiting += waiting.len();
    let failures = &failures;
    let handled = crate::batch::each(due, SWEEP_CONCURRENCY, deadline, |work| async move {
        let outcome = sweep_one(shop, work, now).await;
        let key = work.key();
        match &outcome {
            Ok(_) if failures.contains_key(&key) => {
                if let Err(e) = shop.parking.cleared(&key).await {
                    tracing::warn!(%key, error = %e, "failure record not cleared; it expires");
                }
            }
            Ok(_) => {}
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(%key, %reason, "sweep record failed; tried again later");
                let counted = shop.parking.failed(&key, &reason, now).await?;
                if counted.exhausted() {
                    shop.parking.park(&key, &work.message(), &reason).await?;
                    tracing::error!(%key, %reason, tries = counted.tries, "sweep record parked for an operator");
                    return Ok(Err(true));
                }
            }
        }
        Ok::<_, StoreError>(outcome.map_err(|_| false))
    })
    .await;
    for (work, outcome) in handled {
        match outcome {
            crate::batch::Handled::Done(Ok(Swept::Released)) => report.released += 1,
            crate::batch::Handled::Done(Ok(Swept::Settled)) => report.settled += 1,
            crate::batch::Handled::Done(Ok(Swept::PaidOut)) => report.paid_out += 1,
            crate::batch::Handled::Done(Ok(Swept::Nothing)) => {}
            crate::batch::Handled::Done(Err(parked)) => {
                report.failed += 1;
                report.parked += usize::from(parked);
            }
            crate::batch::Handled::Failed(e) => {
                // Not even its failure could be recorded: the next run tries it again.
                tracing::warn!(key = %work.key(), error = %e, "sweep failure not recorded");
                report.failed += 1;
            }
            crate::batch::Handled::OutOfTime => report.left += 1,
        }
    }
    Ok(())
}

/// Release every held checkout whose time is up (the scheduled sweeper), settle pending
/// payments whose settle timer is overdue (a lost timer message must not leave an order
/// pending forever), and pay out what the payment outbox still owes, until `deadline`.
///
/// Each record is handled on its own, [`SWEEP_CONCURRENCY`] at a time: one that fails is
/// tried again by later runs after a growing wait and parked for an operator after a bounded
/// number of tries, and never holds up the others; what the deadline cuts off is left for
/// the next run. Only failing to list what is due fails the run.
#[tracing::instrument(name = "sweep_holds", skip_all)]
pub async fn sweep(
    shop: Shop<'_>,
    now: Timestamp,
    deadline: tokio::time::Instant,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let holds = shop.checkouts.due(now, 200).await?;
    let holds = holds.into_iter().map(Sweepable::Hold).collect();
    sweep_each(shop, holds, now, deadline, &mut report).await?;
    let pending = shop.orders.with_status(OrderStatus::PaymentPending).await?;
    let pending = pending.into_iter().map(Sweepable::Pending).collect();
    sweep_each(shop, pending, now, deadline, &mut report).await?;
    let owing = shop.orders.owing(200).await?;
    let owing = owing.into_iter().map(Sweepable::Dues).collect();
    sweep_each(shop, owing, now, deadline, &mut report).await?;
    tracing::info!(?report, "sweep done");
    Ok(report)
}
