//! A shopper's orders: history, detail, cancellation and returns.

use super::ports::Shop;
use crate::domain::{
    HoldState, Order, OrderId, OrderStatus, Page, PageRequest, PaymentState, ReleaseReason,
    ReturnLine, ReturnRequest, Timestamp, UserId,
};
use crate::ports::{Applied, StockEffect, StoreError, Transition};

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order not found")]
    NotFound,
    #[error("an order can be cancelled only before it ships (it is {})", .0.as_str())]
    NotCancellable(OrderStatus),
    #[error("a return can be requested only after delivery (the order is {})", .0.as_str())]
    NotReturnable(OrderStatus),
    #[error("{0}")]
    InvalidReturn(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The caller's own order; anyone else's is indistinguishable from none.
pub async fn get(shop: Shop<'_>, user: &UserId, id: OrderId) -> Result<Order, OrderError> {
    match shop.orders.get(id).await? {
        Some(order) if &order.user_id == user => Ok(order),
        _ => Err(OrderError::NotFound),
    }
}

/// The caller's orders, newest first, optionally within a time range.
pub async fn list(
    shop: Shop<'_>,
    user: &UserId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    page: &PageRequest,
) -> Result<Page<Order>, StoreError> {
    shop.orders.for_user(user, from, to, page).await
}

/// Cancel before shipping (an order assigned to warehouses too, while none of its shipments
/// has left): stock goes back on sale exactly once (the status change and the
/// stock return are one transaction conditioned on the order's version), and the payment is
/// refunded (or voided, if it never settled). Cancelling a cancelled order is a no-op.
pub async fn cancel(shop: Shop<'_>, user: &UserId, id: OrderId) -> Result<Order, OrderError> {
    for _ in 0..5 {
        let order = get(shop, user, id).await?;
        if order.status == OrderStatus::Cancelled {
            return Ok(order);
        }
        if !order.status.cancellable() {
            return Err(OrderError::NotCancellable(order.status));
        }
        let now = Timestamp::now();
        let mut next = order.moved_to(
            OrderStatus::Cancelled,
            now,
            Some("cancelled by the shopper".into()),
        );
        let effect = if order.status == OrderStatus::PaymentPending {
            // The stock is still in the checkout's hold (or already back): release the hold.
            if let Some(checkout) = shop.checkouts.get(order.checkout_id).await? {
                if checkout.state == HoldState::Held {
                    shop.checkouts
                        .release(&checkout, ReleaseReason::Cancelled)
                        .await?;
                }
            }
            next.payment.state = PaymentState::Voided;
            StockEffect::None
        } else {
            next.payment.state = PaymentState::Refunded;
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
                let key = id.to_string();
                if effect == StockEffect::Return {
                    shop.payments
                        .refund(&key, order.payment.reference.as_deref(), order.total)
                        .await?;
                } else {
                    shop.payments.void(&key).await?;
                }
                tracing::info!(order_id = %id, "order cancelled");
                return Ok(next);
            }
            Transition::Stale => continue,
            Transition::Short => {
                return Err(StoreError::Corrupt("returning stock cannot run short".into()).into())
            }
        }
    }
    Err(StoreError::Contention(format!("order {id} kept changing")).into())
}

/// Ask to return delivered items: the lines must be items of the order, in at most the
/// ordered quantities.
pub async fn request_return(
    shop: Shop<'_>,
    user: &UserId,
    id: OrderId,
    lines: Vec<ReturnLine>,
    reason: String,
) -> Result<Order, OrderError> {
    let order = get(shop, user, id).await?;
    if order.status != OrderStatus::Delivered {
        return Err(OrderError::NotReturnable(order.status));
    }
    if lines.is_empty() {
        return Err(OrderError::InvalidReturn(
            "name at least one line to return".into(),
        ));
    }
    for line in &lines {
        let ordered = order
            .lines
            .iter()
            .filter(|l| l.item_id == line.item_id)
            .map(|l| l.quantity.get())
            .sum::<u32>();
        let asked = lines
            .iter()
            .filter(|l| l.item_id == line.item_id)
            .map(|l| l.quantity.get())
            .sum::<u32>();
        if asked > ordered {
            return Err(OrderError::InvalidReturn(format!(
                "item {} was ordered {ordered} time(s)",
                line.item_id
            )));
        }
    }
    let now = Timestamp::now();
    let mut next = order.moved_to(OrderStatus::ReturnRequested, now, Some(reason.clone()));
    next.return_request = Some(ReturnRequest {
        lines,
        reason,
        requested_at: now,
    });
    match shop
        .orders
        .transition(&order, &next, StockEffect::None)
        .await?
    {
        Transition::Done => Ok(next),
        _ => Err(StoreError::Contention(format!("order {id} changed; retry")).into()),
    }
}
