//! Domain events, derived from committed state changes on the orders and holds streams
//! (a transactional outbox: an event exists only if its change was written, and the stream
//! redelivers until the event is published). Ids are deterministic so consumers can dedupe.

use std::collections::HashMap;

use crate::domain::event::{self, Event, Version};
use crate::domain::{Checkout, HoldState, ItemId, Order, OrderStatus, ReleaseReason, UserId};
use crate::ports::{Catalog, Change, DomainEvent, EventPublisher};

pub use crate::domain::event::DETAIL_VERSION;

fn lines_of(lines: &[crate::domain::HoldLine]) -> Vec<event::Line> {
    lines
        .iter()
        .map(|l| event::Line {
            item_id: l.item_id,
            quantity: l.quantity,
        })
        .collect()
}

fn order_changed(order: &Order) -> event::OrderChanged {
    event::OrderChanged {
        version: Version,
        order_id: order.order_id,
        user_id: order.user_id.clone(),
        checkout_id: order.checkout_id,
        status: order.status,
        lines: lines_of(&order.lines),
        total: order.total,
        ship_to_zip: order.shipping_address.zip5().to_owned(),
        at: order.updated_at,
    }
}

fn order_event(event: Event, order: &Order) -> DomainEvent {
    DomainEvent {
        id: format!("order/{}/{}", order.order_id, order.status.as_str()),
        event,
    }
}

/// `OrderLineCancelled` for each line cancelled between `old` and `new`.
fn line_events(old: Option<&Order>, new: &Order) -> Vec<DomainEvent> {
    let before = old.map_or(0, |o| o.cancelled_lines.len());
    new.cancelled_lines
        .iter()
        .skip(before)
        .map(|line| DomainEvent {
            id: format!("order/{}/line-cancelled/{}", new.order_id, line.item_id),
            event: Event::OrderLineCancelled(event::LineCancelled {
                version: Version,
                order_id: new.order_id,
                user_id: new.user_id.clone(),
                item_id: line.item_id,
                quantity: line.quantity,
                reason: line.reason.clone(),
                refund: crate::domain::Money {
                    amount: line.refund,
                    currency: new.total.currency,
                },
                at: line.at,
            }),
        })
        .collect()
}

/// `ReturnAuthorised` for each authorisation and `ReturnHeldForReview` for each review
/// added between `old` and `new` (both lists only grow).
fn return_events(old: Option<&Order>, new: &Order) -> Vec<DomainEvent> {
    let (returns, reviews) = old.map_or((0, 0), |o| (o.returns.len(), o.reviews.len()));
    let authorised = new.returns.iter().skip(returns).map(|r| DomainEvent {
        id: format!("order/{}/return/{}", new.order_id, r.return_id),
        event: Event::ReturnAuthorised(event::ReturnAuthorised {
            version: Version,
            order_id: new.order_id,
            user_id: new.user_id.clone(),
            return_id: r.return_id,
            lines: r.lines.clone(),
            return_to: r.label.return_to.clone(),
            at: r.authorised_at,
        }),
    });
    let held = new.reviews.iter().skip(reviews).map(|r| DomainEvent {
        id: format!("order/{}/review/{}", new.order_id, r.review_id),
        event: Event::ReturnHeldForReview(event::ReturnHeld {
            version: Version,
            order_id: new.order_id,
            review_id: r.review_id,
            return_id: r.return_id,
            item_id: r.item_id,
            seller_id: r.seller_id.clone(),
            warehouse_id: r.warehouse_id.clone(),
            units: r.units,
            cause: r.cause,
            at: r.held_at,
        }),
    });
    authorised.chain(held).collect()
}

/// `StockDrift`, when a reconciliation found aggregated stock that did not match the
/// warehouses' rows (none when all matched): operators alarm on it.
pub fn stock_drift(
    report: &crate::usecases::fulfilment::Reconciliation,
    repaired: bool,
    at: crate::domain::Timestamp,
) -> Option<DomainEvent> {
    if report.drifts.is_empty() {
        return None;
    }
    Some(DomainEvent {
        id: format!("reconcile/{}", at.unix_millis()),
        event: Event::StockDrift(event::StockDrift {
            version: Version,
            repaired,
            drifts: report.drifts.clone(),
        }),
    })
}

/// Events for an order record going from `old` to `new`.
pub fn from_order_change(old: Option<&Order>, new: Option<&Order>) -> Vec<DomainEvent> {
    let Some(new) = new else { return vec![] };
    let mut events = line_events(old, new);
    events.extend(return_events(old, new));
    // A partly refunded order can be refunded again while it stays `PARTIALLY_REFUNDED`: a
    // refund is known by the returned units growing.
    let refunded_more = old.is_some_and(|o| o.returned != new.returned);
    if old.is_some_and(|o| o.status == new.status)
        && !(refunded_more && new.status == OrderStatus::PartiallyRefunded)
    {
        return events;
    }
    events.extend(status_events(new));
    events
}

fn status_events(new: &Order) -> Vec<DomainEvent> {
    let d = order_changed(new);
    let event = match new.status {
        OrderStatus::Placed => Event::OrderPlaced(d),
        OrderStatus::Cancelled => Event::OrderCancelled(d),
        OrderStatus::Rejected => Event::OrderRejected(d),
        OrderStatus::PaymentFailed => Event::OrderPaymentFailed(d),
        OrderStatus::ReturnRequested => Event::ReturnRequested(d),
        OrderStatus::Processing => Event::OrderProcessing(d),
        OrderStatus::Backordered => Event::OrderBackordered(d),
        OrderStatus::Shipped => Event::OrderShipped(d),
        OrderStatus::Delivered => Event::OrderDelivered(d),
        OrderStatus::Refunded => Event::OrderRefunded(d),
        OrderStatus::PartiallyRefunded => {
            // An order can be partly refunded more than once: one event per refund.
            let mut event = order_event(Event::OrderPartiallyRefunded(d), new);
            event.id = format!("{}/{}", event.id, new.version);
            return vec![event];
        }
        // Passed through on the way to REFUNDED, in the same write.
        OrderStatus::Returned | OrderStatus::PaymentPending => return vec![],
    };
    vec![order_event(event, new)]
}

/// Events for a hold record going from `old` to `new` (`new` is `None` for a deletion).
pub fn from_checkout_change(old: Option<&Checkout>, new: Option<&Checkout>) -> Vec<DomainEvent> {
    let mut events = Vec::new();
    let expired = |c: &Checkout| DomainEvent {
        id: format!("checkout/{}/expired", c.checkout_id),
        event: Event::CheckoutExpired(event::CheckoutExpired {
            version: Version,
            checkout_id: c.checkout_id,
            user_id: c.user_id.clone(),
            lines: lines_of(&c.lines),
            expires_at: c.expires_at,
        }),
    };
    match (old, new) {
        (Some(old), Some(new)) => {
            if new.declines > old.declines {
                events.push(DomainEvent {
                    id: format!("checkout/{}/decline/{}", new.checkout_id, new.declines),
                    event: Event::PaymentFailed(event::PaymentDeclined {
                        version: Version,
                        checkout_id: new.checkout_id,
                        user_id: new.user_id.clone(),
                        attempt: new.declines,
                        reason: new.last_decline.clone(),
                        total: new.total,
                    }),
                });
            }
            if old.state == HoldState::Held
                && new.state == HoldState::Released
                && new.release_reason == Some(ReleaseReason::Expired)
            {
                events.push(expired(new));
            }
        }
        // A TTL deletion of a hold that nothing had released yet.
        (Some(old), None) if old.state == HoldState::Held => events.push(expired(old)),
        _ => {}
    }
    events
}

pub use crate::ports::StockImage;

/// The events one committed change stands for. `sellers` maps items whose aggregated stock
/// moved to their seller and low-stock threshold (see [`publish_changes`]).
pub fn from_change(change: &Change, sellers: &HashMap<ItemId, (UserId, u32)>) -> Vec<DomainEvent> {
    match change {
        Change::Order { old, new } => from_order_change(old.as_ref(), new.as_ref()),
        Change::Hold { old, new } => from_checkout_change(old.as_ref(), new.as_ref()),
        Change::StockWarehouse {
            item,
            warehouse,
            old,
            new,
        } => from_warehouse_row_change(
            *item,
            sellers.get(item).map(|(seller, _)| seller),
            warehouse,
            *old,
            *new,
        ),
        // A first receipt creates the row: that is new stock, not a recovery (for the
        // seller); for a shopper waiting on an item never stocked before, it is a restock.
        Change::StockTotal {
            created: true,
            item,
            old,
            new,
        } if new.shards <= 1 => restocked(*item, *old, *new).into_iter().collect(),
        Change::StockTotal { created: true, .. } => vec![],
        // A sharded item has no one row whose stream tells a crossing: see
        // [`sharded_alerts`], called once per batch.
        Change::StockTotal { old, new, .. } if new.shards > 1 || old.shards > 1 => vec![],
        Change::StockTotal { item, old, new, .. } => {
            let mut found = match sellers.get(item) {
                Some((seller, threshold)) => {
                    from_total_change(*item, seller, *threshold, *old, *new)
                }
                None => vec![],
            };
            found.extend(restocked(*item, *old, *new));
            found
        }
        Change::StockShard { .. } | Change::Item(_) | Change::Other => vec![],
    }
}

/// The outbox relay: publish the events of `changes` in order. The low-stock thresholds of
/// the items whose aggregated stock moved are read once for the batch, and so are sharded
/// items' sums. `Err(i)`: change `i` (and those after it) is not published yet; the stream
/// redelivers from there.
#[tracing::instrument(name = "publish_changes", skip_all, fields(changes = changes.len()))]
pub async fn publish_changes(
    catalog: &dyn Catalog,
    inventory: &dyn crate::ports::Inventory,
    publisher: &dyn EventPublisher,
    changes: &[Change],
) -> Result<(), usize> {
    // Sellers are read for the changes that tell one: aggregate moves (low / back in stock)
    // and shortfall rises.
    let totals: Vec<ItemId> = changes
        .iter()
        .filter_map(|c| match c {
            Change::StockTotal { item, .. } | Change::StockShard { item, .. } => Some(*item),
            Change::StockWarehouse { item, old, new, .. } if new.shortfall > old.shortfall => {
                Some(*item)
            }
            _ => None,
        })
        .collect();
    let sharded: Vec<ItemId> = changes
        .iter()
        .filter_map(|c| match c {
            Change::StockShard { item, .. } => Some(*item),
            Change::StockTotal { item, old, new, .. } if old.shards > 1 || new.shards > 1 => {
                Some(*item)
            }
            _ => None,
        })
        .collect();
    let sellers: HashMap<ItemId, (UserId, u32)> = if totals.is_empty() {
        HashMap::new()
    } else {
        match catalog.get_many(&totals).await {
            Ok(items) => items
                .into_values()
                .map(|i| (i.item_id, (i.seller_id, i.low_stock_threshold)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading thresholds failed; the stream will redeliver");
                return Err(0);
            }
        }
    };
    for (i, change) in changes.iter().enumerate() {
        let found = from_change(change, &sellers);
        if found.is_empty() {
            continue;
        }
        if let Err(e) = publisher.publish(&found).await {
            tracing::warn!(error = %e, "publishing failed; the stream will redeliver");
            return Err(i);
        }
    }
    if !sharded.is_empty() {
        sharded_alerts(inventory, publisher, &sharded, &sellers)
            .await
            .map_err(|()| changes.len().saturating_sub(1))?;
    }
    Ok(())
}

/// Low-stock alerts of sharded items: the sum over their shards, read now, against the state
/// last announced (kept on the item's `TOTAL` row). A change of state is published under the
/// id of its announcement number, then recorded conditioned on that number, so two relay
/// instances (one per stream shard) announce one crossing once, and a failed publication is
/// retried by the stream's redelivery.
async fn sharded_alerts(
    inventory: &dyn crate::ports::Inventory,
    publisher: &dyn EventPublisher,
    items: &[ItemId],
    sellers: &HashMap<ItemId, (UserId, u32)>,
) -> Result<(), ()> {
    let states = inventory.alert_states(items).await.map_err(|e| {
        tracing::warn!(error = %e, "reading sharded stock failed; the stream will redeliver");
    })?;
    for (item, state) in states {
        let Some((seller, threshold)) = sellers.get(&item) else {
            continue;
        };
        let low = state.available < *threshold;
        let sold_out = state.available == 0;
        if low == state.low && sold_out == state.sold_out {
            continue;
        }
        let mut found = Vec::new();
        if low != state.low {
            let (before, after) = if low {
                (*threshold, state.available)
            } else {
                (0, state.available)
            };
            let image = |available| StockImage {
                available,
                version: state.seq + 1,
                ..Default::default()
            };
            found = from_total_change(item, seller, *threshold, image(before), image(after));
            for event in &mut found {
                event.id = format!(
                    "stock/{item}/{}/sharded/{}",
                    event.detail_type(),
                    state.seq + 1
                );
            }
        }
        // Sold out is recorded silently; the way back out of it is what shoppers wait for.
        if state.sold_out && !sold_out {
            found.push(restock_event(
                item,
                state.available,
                state.seq + 1,
                "sharded/",
            ));
        }
        if !found.is_empty() {
            publisher.publish(&found).await.map_err(|e| {
                tracing::warn!(error = %e, "publishing failed; the stream will redeliver");
            })?;
        }
        let announced = crate::ports::Announced { low, sold_out };
        if let Err(e) = inventory.record_alert(item, state.seq, announced).await {
            tracing::warn!(item_id = %item, error = %e, "alert state not recorded; a redelivery re-announces it under the same id");
            return Err(());
        }
    }
    Ok(())
}

/// `ItemRestocked` when an aggregated stock row (`TOTAL`) moves from none on sale to some:
/// once per crossing, under the id of the row's version.
pub fn restocked(
    item: crate::domain::ItemId,
    old: StockImage,
    new: StockImage,
) -> Option<DomainEvent> {
    (old.available == 0 && new.available > 0)
        .then(|| restock_event(item, new.available, new.version, ""))
}

/// The `ItemRestocked` event of `item` with `available` units, numbered `version` (`scope`
/// tells a sharded item's announcement numbers from a row's versions in the id).
fn restock_event(item: ItemId, available: u32, version: u64, scope: &str) -> DomainEvent {
    DomainEvent {
        id: format!("stock/{item}/ItemRestocked/{scope}{version}"),
        event: Event::ItemRestocked(event::Restocked {
            version: Version,
            item_id: item,
            available,
            stock_version: version,
        }),
    }
}

/// Events for an aggregated stock row (`TOTAL`) moving from `old` to `new`, given the item's
/// low-stock threshold: one `LowStock` when available falls below it, one `BackInStock` when it
/// climbs back (per crossing, not per write).
pub fn from_total_change(
    item: crate::domain::ItemId,
    seller: &crate::domain::UserId,
    threshold: u32,
    old: StockImage,
    new: StockImage,
) -> Vec<DomainEvent> {
    let (was_low, is_low) = (old.available < threshold, new.available < threshold);
    let alert = event::StockAlert {
        version: Version,
        item_id: item,
        seller_id: seller.clone(),
        available: new.available,
        threshold,
        stock_version: new.version,
    };
    let event = match (was_low, is_low) {
        (false, true) => Event::LowStock(alert),
        (true, false) if new.available > 0 || threshold == 0 => Event::BackInStock(alert),
        _ => return vec![],
    };
    vec![DomainEvent {
        id: format!(
            "stock/{item}/{}/{}",
            event.kind().detail_type(),
            new.version
        ),
        event,
    }]
}

/// A `StockShortfall` when a warehouse row's shortfall count rose: units lost that were
/// already promised. It names the item's seller when known (their notices list it).
pub fn from_warehouse_row_change(
    item: crate::domain::ItemId,
    seller: Option<&crate::domain::UserId>,
    warehouse: &crate::domain::WarehouseId,
    old: StockImage,
    new: StockImage,
) -> Vec<DomainEvent> {
    if new.shortfall <= old.shortfall {
        return vec![];
    }
    vec![DomainEvent {
        id: format!("stock/{item}/{warehouse}/shortfall/{}", new.shortfall),
        event: Event::StockShortfall(event::Shortfall {
            version: Version,
            item_id: item,
            warehouse_id: warehouse.clone(),
            seller_id: seller.cloned(),
            units: new.shortfall - old.shortfall,
        }),
    }]
}
