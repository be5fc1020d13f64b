//! Returned units arrive at a warehouse.

use super::{refund_for, restock, Shop};
use crate::domain::returns::add_units;
use crate::domain::warehouse_update::ReturnCondition;
use crate::domain::{
    DueKind, Money, MoneyDue, OrderId, OrderStatus, ReturnId, ReturnReview, ReviewCause,
    ReviewState, ShipmentLine, ShipmentState, Timestamp, WarehouseId,
};
use crate::ports::{Applied, FulfilmentChange, StoreError};
use crate::retry::Policy;
use crate::usecases::fulfilment::{UpdateError, UpdateOutcome};

/// What arrived at `warehouse` for `order_id`, reported under the once-only `key`.
///
/// Units the named authorisation still expects are refunded (through the payment outbox,
/// in the same transaction as the order's change) and, when resellable, put back on sale;
/// the order ends `REFUNDED` (through `RETURNED`) once every unit is back and
/// `PARTIALLY_REFUNDED` before that, the rest staying returnable. Units beyond the
/// authorisation, or from a parcel naming none of this order's, are held for review: no
/// refund, no stock, a `ReturnHeldForReview` event for the seller. A repeated report of units
/// already received is beyond its authorisation, so it is held, never refunded twice.
#[tracing::instrument(name = "receive_return", skip_all, fields(order_id = %order_id, warehouse_id = %warehouse))]
#[allow(clippy::too_many_arguments)]
pub async fn receive(
    shop: Shop<'_>,
    warehouse: &WarehouseId,
    order_id: OrderId,
    return_id: Option<ReturnId>,
    lines: &[ShipmentLine],
    condition: ReturnCondition,
    key: &str,
    now: Timestamp,
) -> Result<UpdateOutcome, UpdateError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let order = shop
            .orders
            .get(order_id)
            .await?
            .ok_or_else(|| UpdateError::Invalid(format!("no such order {order_id}")))?;
        match order.status {
            OrderStatus::Delivered
            | OrderStatus::ReturnRequested
            | OrderStatus::PartiallyRefunded
            | OrderStatus::Returned
            | OrderStatus::Refunded => {}
            other => {
                return Err(UpdateError::Invalid(format!(
                    "order {order_id} is {}: nothing was delivered to return",
                    other.as_str()
                )))
            }
        }
        let shipments = shop.fulfilment.shipments(order_id).await?;
        for line in lines {
            let shipped: u32 = shipments
                .iter()
                .filter(|s| s.state != ShipmentState::Cancelled)
                .map(|s| s.units_of(line.item_id))
                .sum();
            if shipped == 0 {
                return Err(UpdateError::Invalid(format!(
                    "order {order_id} shipped no units of {}",
                    line.item_id
                )));
            }
        }
        let mut next = order.clone();
        let authorisation =
            return_id.and_then(|r| next.returns.iter().position(|a| a.return_id == r));
        let mut refunds = Vec::new();
        let mut stock = Vec::new();
        let mut held = Vec::new();
        for line in lines {
            let (item, units) = (line.item_id, line.quantity.get());
            let covered = authorisation.map_or(0, |i| next.returns[i].receive(item, units));
            if covered > 0 {
                add_units(&mut next.returned, item, covered);
                refunds.push(refund_for(&order, item, covered).amount);
                if condition == ReturnCondition::Resellable {
                    stock.extend(restock(warehouse, item, covered));
                }
            }
            let beyond = units - covered;
            if beyond == 0 {
                continue;
            }
            let seller = shop.catalog.get(item).await?.map(|i| i.seller_id);
            held.push(ReturnReview {
                review_id: ReturnReview::id_for(key, item),
                return_id,
                item_id: item,
                seller_id: seller,
                warehouse_id: warehouse.clone(),
                units: crate::domain::Quantity::try_from(i64::from(beyond))
                    .map_err(UpdateError::Invalid)?,
                condition,
                cause: if authorisation.is_some() {
                    ReviewCause::BeyondAuthorisation
                } else {
                    ReviewCause::NoAuthorisation
                },
                state: ReviewState::Pending,
                held_at: now,
                decided_at: None,
                decided_by: None,
                refund: 0,
            });
        }
        if !held.is_empty() {
            tracing::warn!(
                return_id = ?return_id,
                held = held.len(),
                "returned units held for review"
            );
        }
        next.reviews.extend(held);
        let refund = Money::sum(order.total.currency, refunds);
        let condition_note = match condition {
            ReturnCondition::Resellable => "restocked",
            ReturnCondition::Damaged => "damaged, not restocked",
        };
        next = if refund.amount > 0 {
            next.owe(MoneyDue {
                key: format!("return-{key}"),
                kind: DueKind::Refund,
                amount: refund.amount,
            });
            next.after_refunded_return(
                now,
                format!(
                    "received at {warehouse}, {condition_note}; refunded {} minor units",
                    refund.amount
                ),
            )
        } else {
            // Nothing refunded (all held): the order records the reviews only.
            next.updated_at = now;
            next
        };
        next.version = order.version + 1;
        let change = FulfilmentChange {
            order: Some((&order, &next)),
            shipments: Vec::new(),
            stock,
            once: Some(key.to_owned()),
        };
        match shop.fulfilment.apply(&change).await? {
            Applied::Done => {
                if refund.amount > 0 {
                    super::super::payments::settle_dues(shop, next).await;
                }
                return Ok(UpdateOutcome::Applied);
            }
            Applied::AlreadyApplied => return Ok(UpdateOutcome::Duplicate),
            Applied::Stale | Applied::Short => continue,
        }
    }
    Err(StoreError::Contention(format!("order {order_id} kept changing")).into())
}
