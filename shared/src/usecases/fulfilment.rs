//! The warehouse side: assigning placed orders to warehouses, applying what warehouses report
//! (receipts, adjustments, shipments, deliveries, returns), and reconciling aggregated stock.
//!
//! Stock rules (per item): a warehouse row has `physical` (on the shelves) and `available`
//! (not promised to a warehouse order); the aggregated row's `available` is what shoppers buy
//! from. Always: aggregated = Σ warehouse available − held − placed-but-unassigned.
//! - receiving or finding raises physical, available and aggregated;
//! - assigning lowers the chosen warehouse's available (the aggregate already fell at checkout);
//! - shipping lowers physical only; a resellable return raises all three;
//! - a loss lowers physical by what was lost and available and aggregated by what they can
//!   give; what they cannot is a shortfall: recorded, evented, and the warehouse's affected
//!   shipments are flagged, never a negative count.
//!
//! Every message applies at most once: its event id is a once-only record written in the same
//! transaction as its effect.

use crate::retry::Policy;
use std::collections::{BTreeMap, HashMap};

use super::Shop;
use crate::domain::fulfilment::{distance_km, eta, locate, plan, Plan, Site};
use crate::domain::warehouse_update::{AdjustReason, Update, WarehouseMessage};
use crate::domain::{
    ItemId, Order, OrderId, OrderStatus, Principal, Role, ShipmentState, StockReceipt, Timestamp,
    UserId, Warehouse, WarehouseId, WarehouseOrder,
};
use crate::ports::{
    Applied, FulfilmentChange, ReceiptRejected, ShipmentWrite, StockMove, StoreError,
};
use crate::usecases::stock::{receive_stock, ReceiveStockError};

/// Why a `Assign` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// Order `0` does not exist.
    #[error("order {0} does not exist")]
    UnknownOrder(OrderId),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the assignment did.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    /// Warehouse orders created; the order is `PROCESSING`.
    Assigned(Vec<WarehouseId>),
    /// No combination of warehouses holds these items: the order is `BACKORDERED`.
    Backordered(Vec<ItemId>),
    /// The order is past assignment (assigned before, cancelled, ...): nothing to do.
    AlreadyHandled(OrderStatus),
}

/// Units per item of an order (an item may appear on several lines).
fn units_by_item(order: &Order) -> Vec<(ItemId, u32)> {
    let mut units: BTreeMap<ItemId, u32> = BTreeMap::new();
    for line in &order.lines {
        *units.entry(line.item_id).or_default() += line.quantity.get();
    }
    units.into_iter().collect()
}

/// Choose warehouses for a placed (or backordered) order and commit the choice in one
/// transaction: the warehouse orders, each warehouse's available stock taken conditionally,
/// and the order moved to `PROCESSING` with its ETA. A redelivery finds the order past
/// `PLACED` and does nothing.
#[tracing::instrument(name = "assign", skip_all, fields(order_id = %order_id))]
pub async fn assign(
    shop: Shop<'_>,
    sites: &[Warehouse],
    order_id: OrderId,
    now: Timestamp,
) -> Result<Assignment, AssignError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let order = shop
            .orders
            .get(order_id)
            .await?
            .ok_or(AssignError::UnknownOrder(order_id))?;
        if !matches!(order.status, OrderStatus::Placed | OrderStatus::Backordered) {
            return Ok(Assignment::AlreadyHandled(order.status));
        }
        let wanted = units_by_item(&order);
        let items: Vec<ItemId> = wanted.iter().map(|(i, _)| *i).collect();
        let stock = shop.fulfilment.stock(&items).await?;
        let customer = locate(&order.shipping_address);
        let candidates: Vec<Site> = sites
            .iter()
            .map(|w| Site {
                warehouse_id: w.warehouse_id.clone(),
                distance_km: customer.map_or(0.0, |c| {
                    distance_km(
                        c,
                        crate::domain::fulfilment::GeoPoint {
                            lat: w.lat,
                            lon: w.lon,
                        },
                    )
                }),
                available: items
                    .iter()
                    .map(|i| {
                        // Units lost while promised (a shortfall) are still on the books
                        // but not on the shelf: never promise them again.
                        let units = stock
                            .get(i)
                            .and_then(|s| s.warehouses.get(&w.warehouse_id))
                            .map_or(0, |s| s.sellable());
                        (*i, units)
                    })
                    .collect(),
            })
            .filter(|s| s.available.values().any(|u| *u > 0))
            .collect();
        let shipments = match plan(&wanted, &candidates) {
            Plan::Short(short) => {
                if order.status == OrderStatus::Backordered {
                    return Ok(Assignment::Backordered(short));
                }
                let note = format!(
                    "backordered: no warehouse stock for {}",
                    short
                        .iter()
                        .map(ItemId::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let next = order.moved_to(OrderStatus::Backordered, now, Some(note));
                let change = FulfilmentChange {
                    order: Some((&order, &next)),
                    ..Default::default()
                };
                match shop.fulfilment.apply(&change).await? {
                    Applied::Done => {
                        tracing::warn!(order_id = %order_id, short = short.len(), "order backordered");
                        return Ok(Assignment::Backordered(short));
                    }
                    _ => continue,
                }
            }
            Plan::Ship(shipments) => shipments,
        };
        let records: Vec<WarehouseOrder> = shipments
            .iter()
            .map(|(warehouse, km, lines)| WarehouseOrder {
                order_id,
                warehouse_id: warehouse.clone(),
                user_id: order.user_id.clone(),
                lines: lines.clone(),
                state: ShipmentState::Assigned,
                distance_km: (km * 10.0).round() / 10.0,
                eta: eta(now, *km),
                tracking_number: None,
                flag: None,
                created_at: now,
                updated_at: now,
                version: 1,
            })
            .collect();
        let names: Vec<&str> = records.iter().map(|r| r.warehouse_id.as_str()).collect();
        let mut next = order.moved_to(
            OrderStatus::Processing,
            now,
            Some(format!(
                "{} shipment(s): {}",
                records.len(),
                names.join(", ")
            )),
        );
        next.eta = records.iter().map(|r| r.eta).max();
        let stock_moves = records
            .iter()
            .flat_map(|r| {
                r.lines.iter().map(|l| StockMove {
                    item: l.item_id,
                    warehouse: Some(r.warehouse_id.clone()),
                    physical: 0,
                    available: -i64::from(l.quantity.get()),
                    shortfall: 0,
                    expect_version: None,
                })
            })
            .collect();
        let change = FulfilmentChange {
            order: Some((&order, &next)),
            shipments: records
                .iter()
                .map(|r| ShipmentWrite {
                    current: None,
                    next: r,
                })
                .collect(),
            stock: stock_moves,
            once: None,
        };
        match shop.fulfilment.apply(&change).await? {
            Applied::Done => {
                tracing::info!(order_id = %order_id, warehouses = ?names, "order assigned");
                return Ok(Assignment::Assigned(
                    records.into_iter().map(|r| r.warehouse_id).collect(),
                ));
            }
            // The order or a warehouse's stock moved since the read: plan again.
            Applied::Stale | Applied::Short | Applied::AlreadyApplied => continue,
        }
    }
    Err(StoreError::Contention(format!("order {order_id} kept changing during assignment")).into())
}

/// Why a warehouse message could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The message can never apply (unknown ids, impossible quantities): dead-letter it.
    #[error("{0}")]
    Invalid(String),
    /// It may apply later (a shipment reported before its assignment landed): retry.
    #[error("{0}")]
    NotYet(String),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What applying a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Applied now.
    Applied,
    /// This event id was applied before; nothing changed now.
    Duplicate,
}

/// Apply one warehouse message exactly once.
#[tracing::instrument(name = "apply_update", skip_all, fields(warehouse_id = %message.warehouse_id, event_id = %message.event_id))]
pub async fn apply_update(
    shop: Shop<'_>,
    message: &WarehouseMessage,
    now: Timestamp,
) -> Result<UpdateOutcome, UpdateError> {
    let warehouse = &message.warehouse_id;
    let key = format!("wh#{warehouse}#{}", message.event_id);
    match &message.update {
        Update::StockReceived { item_id, quantity } => {
            receive(shop, warehouse, *item_id, *quantity, &key).await
        }
        // Found units are a receipt: on the shelf, on sale, a recorded shortfall made good first.
        Update::StockAdjusted {
            item_id,
            quantity,
            reason: AdjustReason::Found,
        } => {
            let quantity =
                crate::domain::Quantity::try_from(*quantity).map_err(UpdateError::Invalid)?;
            receive(shop, warehouse, *item_id, quantity, &key).await
        }
        Update::StockAdjusted {
            item_id,
            quantity,
            reason,
        } => adjust(shop, warehouse, *item_id, *quantity, *reason, &key).await,
        Update::WarehouseOrderShipped {
            order_id,
            tracking_number,
        } => {
            let tracking = tracking_number.clone();
            progress(
                shop,
                warehouse,
                *order_id,
                ShipmentState::Shipped,
                &key,
                now,
                move |wo| {
                    wo.tracking_number = Some(tracking.clone());
                },
            )
            .await
        }
        Update::WarehouseOrderDelivered { order_id } => {
            progress(
                shop,
                warehouse,
                *order_id,
                ShipmentState::Delivered,
                &key,
                now,
                |_| {},
            )
            .await
        }
        Update::ReturnReceived {
            order_id,
            return_id,
            lines,
            condition,
        } => {
            crate::usecases::returns::receive(
                shop, warehouse, *order_id, *return_id, lines, *condition, &key, now,
            )
            .await
        }
    }
}

/// Units arriving at a warehouse, through the same use case as the HTTP route, acting as the
/// warehouse itself; the message's key makes a redelivery a replay.
async fn receive(
    shop: Shop<'_>,
    warehouse: &WarehouseId,
    item_id: ItemId,
    quantity: crate::domain::Quantity,
    key: &str,
) -> Result<UpdateOutcome, UpdateError> {
    let principal = Principal {
        user_id: UserId::try_from(format!("warehouse-{warehouse}"))
            .map_err(UpdateError::Invalid)?,
        roles: vec![Role::Warehouse],
        warehouse_id: Some(warehouse.clone()),
    };
    let receipt = StockReceipt {
        warehouse_id: warehouse.clone(),
        item_id,
        quantity,
    };
    match receive_stock(shop.inventory, &principal, &receipt, Some(key)).await {
        Ok(r) if r.replayed => Ok(UpdateOutcome::Duplicate),
        Ok(_) => Ok(UpdateOutcome::Applied),
        Err(ReceiveStockError::Rejected(ReceiptRejected::Store(e))) => Err(e.into()),
        Err(e) => Err(UpdateError::Invalid(e.to_string())),
    }
}

fn outcome(applied: Applied) -> Option<Result<UpdateOutcome, UpdateError>> {
    match applied {
        Applied::Done => Some(Ok(UpdateOutcome::Applied)),
        Applied::AlreadyApplied => Some(Ok(UpdateOutcome::Duplicate)),
        Applied::Stale | Applied::Short => None,
    }
}

async fn known_item_and_site(
    shop: Shop<'_>,
    warehouse: &WarehouseId,
    item: ItemId,
) -> Result<(), UpdateError> {
    if shop.catalog.get(item).await?.is_none() {
        return Err(UpdateError::Invalid(format!("no such item {item}")));
    }
    if shop.warehouses.get(warehouse).await?.is_none() {
        return Err(UpdateError::Invalid(format!(
            "no such warehouse {warehouse}"
        )));
    }
    Ok(())
}

/// Lost or damaged stock (found stock is a receipt).
async fn adjust(
    shop: Shop<'_>,
    warehouse: &WarehouseId,
    item: ItemId,
    quantity: i64,
    reason: AdjustReason,
    key: &str,
) -> Result<UpdateOutcome, UpdateError> {
    known_item_and_site(shop, warehouse, item).await?;
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let mut change = FulfilmentChange {
            once: Some(key.to_owned()),
            ..Default::default()
        };
        let flagged: Vec<WarehouseOrder>;
        let mut flags = Vec::new();
        let lost = quantity.unsigned_abs() as u32;
        let stock = shop.fulfilment.stock(&[item]).await?;
        let stock = stock.get(&item).cloned().unwrap_or_default();
        let here = stock.warehouses.get(warehouse).copied().unwrap_or_default();
        if here.physical < lost {
            return Err(UpdateError::Invalid(format!(
                "{reason:?} of {lost} units of {item} exceeds the {} on the shelves at {warehouse}",
                here.physical
            )));
        }
        let covered = lost.min(here.available).min(stock.total.available);
        let shortfall = lost - covered;
        change.stock = vec![
            StockMove {
                item,
                warehouse: Some(warehouse.clone()),
                physical: -i64::from(lost),
                available: -i64::from(covered),
                shortfall,
                expect_version: None,
            },
            StockMove {
                item,
                warehouse: None,
                physical: 0,
                available: -i64::from(covered),
                shortfall: 0,
                expect_version: None,
            },
        ];
        if shortfall > 0 {
            // Flag this warehouse's unshipped orders of the item: they may not ship as
            // planned. (The stream turns the shortfall into a StockShortfall event.)
            let page = crate::domain::PageRequest {
                limit: 100,
                cursor: None,
            };
            flagged = shop
                .fulfilment
                .shipments_of(warehouse, &page)
                .await?
                .items
                .into_iter()
                .filter(|wo| wo.state == ShipmentState::Assigned && wo.units_of(item) > 0)
                .take(90)
                .collect();
            for wo in &flagged {
                let mut next = wo.clone();
                next.flag = Some(format!(
                    "stock shortfall: {shortfall} unit(s) of {item} lost at {warehouse}"
                ));
                next.version += 1;
                flags.push(next);
            }
            tracing::warn!(%item, %warehouse, shortfall, flagged = flags.len(), "stock shortfall");
        } else {
            flagged = Vec::new();
        }
        change.shipments = flagged
            .iter()
            .zip(&flags)
            .map(|(current, next)| ShipmentWrite {
                current: Some(current),
                next,
            })
            .collect();
        if let Some(result) = outcome(shop.fulfilment.apply(&change).await?) {
            return result;
        }
    }
    Err(StoreError::Contention(format!("stock of {item} kept changing")).into())
}

/// A shipment leaves (`Shipped`) or arrives (`Delivered`); the order follows when all of its
/// live shipments have.
async fn progress(
    shop: Shop<'_>,
    warehouse: &WarehouseId,
    order_id: OrderId,
    to: ShipmentState,
    key: &str,
    now: Timestamp,
    edit: impl Fn(&mut WarehouseOrder),
) -> Result<UpdateOutcome, UpdateError> {
    let (from, order_to) = match to {
        ShipmentState::Shipped => (ShipmentState::Assigned, OrderStatus::Shipped),
        _ => (ShipmentState::Shipped, OrderStatus::Delivered),
    };
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let shipments = shop.fulfilment.shipments(order_id).await?;
        let Some(mine) = shipments.iter().find(|s| &s.warehouse_id == warehouse) else {
            // Only an order still waiting for its assignment can gain this parcel later.
            return Err(match shop.orders.get(order_id).await? {
                None => UpdateError::Invalid(format!("no such order {order_id}")),
                Some(o)
                    if matches!(
                        o.status,
                        OrderStatus::Placed
                            | OrderStatus::Backordered
                            | OrderStatus::PaymentPending
                    ) =>
                {
                    UpdateError::NotYet(format!(
                        "order {order_id} has no shipment from {warehouse} yet"
                    ))
                }
                Some(o) => UpdateError::Invalid(format!(
                    "order {order_id} ({}) has no shipment from {warehouse}",
                    o.status.as_str()
                )),
            });
        };
        match mine.state {
            s if s == from => {}
            ShipmentState::Cancelled => {
                return Err(UpdateError::Invalid(format!(
                    "the shipment of order {order_id} from {warehouse} was cancelled"
                )))
            }
            ShipmentState::Assigned => {
                return Err(UpdateError::NotYet(format!(
                    "order {order_id} from {warehouse} reported delivered before shipped"
                )))
            }
            // Already there (an earlier message with another event id said so).
            _ => return Ok(UpdateOutcome::Duplicate),
        }
        let order = shop
            .orders
            .get(order_id)
            .await?
            .ok_or_else(|| UpdateError::Invalid(format!("no such order {order_id}")))?;
        let mut next_wo = mine.moved_to(to, now);
        edit(&mut next_wo);
        let all_there = shipments
            .iter()
            .filter(|s| s.state != ShipmentState::Cancelled && &s.warehouse_id != warehouse)
            .all(|s| {
                s.state == to
                    || (to == ShipmentState::Shipped && s.state == ShipmentState::Delivered)
            });
        let note = format!(
            "{} from {warehouse}",
            if to == ShipmentState::Shipped {
                "shipped"
            } else {
                "delivered"
            }
        );
        let next_order = if all_there {
            order.moved_to(order_to, now, Some(note))
        } else {
            // Not the last: a version bump serialises concurrent reports on the order.
            let mut next = order.clone();
            next.updated_at = now;
            next.version += 1;
            next
        };
        let stock = if to == ShipmentState::Shipped {
            mine.lines
                .iter()
                .map(|l| StockMove {
                    item: l.item_id,
                    warehouse: Some(warehouse.clone()),
                    physical: -i64::from(l.quantity.get()),
                    available: 0,
                    shortfall: 0,
                    expect_version: None,
                })
                .collect()
        } else {
            Vec::new()
        };
        let change = FulfilmentChange {
            order: Some((&order, &next_order)),
            shipments: vec![ShipmentWrite {
                current: Some(mine),
                next: &next_wo,
            }],
            stock,
            once: Some(key.to_owned()),
        };
        match shop.fulfilment.apply(&change).await? {
            Applied::Done => return Ok(UpdateOutcome::Applied),
            Applied::AlreadyApplied => return Ok(UpdateOutcome::Duplicate),
            Applied::Short => {
                return Err(UpdateError::Invalid(format!(
                    "shipping order {order_id} from {warehouse}: fewer units on the shelves than it holds (a loss?)"
                )))
            }
            Applied::Stale => continue,
        }
    }
    Err(StoreError::Contention(format!("order {order_id} kept changing")).into())
}

/// Cancel an order already assigned to warehouses (none shipped): its warehouse orders are
/// cancelled, each warehouse's available stock and the aggregate are restored, in one
/// transaction with the order's own change. `None` if a parcel has left already (the
/// caller reports it); `Applied::Stale` if something moved (retry).
#[tracing::instrument(name = "cancel_assigned", skip_all, fields(order_id = %order.order_id))]
pub async fn cancel_assigned(
    shop: Shop<'_>,
    order: &Order,
    next: &Order,
    now: Timestamp,
) -> Result<Option<Applied>, StoreError> {
    let shipments = shop.fulfilment.shipments(order.order_id).await?;
    if shipments
        .iter()
        .any(|s| !matches!(s.state, ShipmentState::Assigned | ShipmentState::Cancelled))
    {
        return Ok(None);
    }
    let live: Vec<&WarehouseOrder> = shipments
        .iter()
        .filter(|s| s.state == ShipmentState::Assigned)
        .collect();
    let cancelled: Vec<WarehouseOrder> = live
        .iter()
        .map(|s| s.moved_to(ShipmentState::Cancelled, now))
        .collect();
    let mut total: HashMap<ItemId, i64> = HashMap::new();
    for line in &order.lines {
        *total.entry(line.item_id).or_default() += i64::from(line.quantity.get());
    }
    restore(shop, order, next, &live, &cancelled, total)
        .await
        .map(Some)
}

/// Cancel one line of an order assigned to warehouses: every parcel carrying `item` must
/// still be unshipped; each one shrinks (or is cancelled when it carried nothing else), its
/// warehouse's available stock and the aggregate get the units back, all in one transaction
/// with the order's change. `None` if a parcel with the item has left already.
#[tracing::instrument(name = "cancel_assigned_line", skip_all, fields(order_id = %order.order_id, item_id = %item))]
pub async fn cancel_assigned_line(
    shop: Shop<'_>,
    order: &Order,
    next: &Order,
    item: ItemId,
    now: Timestamp,
) -> Result<Option<Applied>, StoreError> {
    let shipments = shop.fulfilment.shipments(order.order_id).await?;
    let carrying: Vec<&WarehouseOrder> = shipments
        .iter()
        .filter(|s| s.state != ShipmentState::Cancelled && s.units_of(item) > 0)
        .collect();
    if carrying.iter().any(|s| s.state != ShipmentState::Assigned) {
        return Ok(None);
    }
    let shrunk: Vec<WarehouseOrder> = carrying
        .iter()
        .map(|s| {
            let mut next = s.moved_to(s.state, now);
            next.lines.retain(|l| l.item_id != item);
            if next.lines.is_empty() {
                next.state = ShipmentState::Cancelled;
            }
            next
        })
        .collect();
    let units: i64 = carrying.iter().map(|s| i64::from(s.units_of(item))).sum();
    restore(
        shop,
        order,
        next,
        &carrying,
        &shrunk,
        HashMap::from([(item, units)]),
    )
    .await
    .map(Some)
}

/// Replace parcels `current` by `next` (cancelled or shrunk) with the order's change: every
/// unit a parcel no longer carries goes back to its warehouse's available stock, and
/// `aggregate` units per item back to the aggregated rows, in one transaction.
async fn restore(
    shop: Shop<'_>,
    order: &Order,
    next_order: &Order,
    current: &[&WarehouseOrder],
    next: &[WarehouseOrder],
    aggregate: HashMap<ItemId, i64>,
) -> Result<Applied, StoreError> {
    let mut stock: Vec<StockMove> = Vec::new();
    for (before, after) in current.iter().zip(next) {
        let still_carried = |item: ItemId| {
            if after.state == ShipmentState::Cancelled {
                0
            } else {
                after.units_of(item)
            }
        };
        for line in &before.lines {
            let freed = line
                .quantity
                .get()
                .saturating_sub(still_carried(line.item_id));
            if freed > 0 {
                stock.push(StockMove {
                    item: line.item_id,
                    warehouse: Some(before.warehouse_id.clone()),
                    physical: 0,
                    available: i64::from(freed),
                    shortfall: 0,
                    expect_version: None,
                });
            }
        }
    }
    stock.extend(aggregate.into_iter().map(|(item, units)| StockMove {
        item,
        warehouse: None,
        physical: 0,
        available: units,
        shortfall: 0,
        expect_version: None,
    }));
    let change = FulfilmentChange {
        order: Some((order, next_order)),
        shipments: current
            .iter()
            .zip(next)
            .map(|(current, next)| ShipmentWrite {
                current: Some(current),
                next,
            })
            .collect(),
        stock,
        once: None,
    };
    shop.fulfilment.apply(&change).await
}

pub use crate::domain::stock::Drift;

/// What a reconciliation found.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciliation {
    /// Items compared.
    pub items_checked: usize,
    /// Every difference found.
    pub drifts: Vec<Drift>,
    /// Backordered orders tried again (stock may have arrived since).
    pub backorders_retried: usize,
}

/// Correct one item's recorded units on sale by `delta`, conditioned on the `TOTAL` row's
/// version. A sharded item takes a negative correction from shard 0 alone, so the units are
/// first gathered there from its other shards (a move, which leaves the sum as it was); the
/// correction is then made against the version read after the move, and only if the sum still
/// reads as it did. `false`: something moved meanwhile, and the drift is reported only.
async fn repair_drift(
    shop: Shop<'_>,
    item: ItemId,
    seen: &crate::ports::StockTotal,
    delta: i64,
) -> Result<bool, StoreError> {
    let mut version = seen.version;
    if delta < 0 && seen.sale.shards > 1 {
        let units = u32::try_from(-delta).unwrap_or(u32::MAX);
        if !shop.inventory.concentrate(item, 0, units).await? {
            return Ok(false);
        }
        let now = shop.fulfilment.stock(&[item]).await?;
        let total = now.get(&item).map(|s| &s.total);
        match total {
            Some(t) if t.available == seen.available => version = t.version,
            _ => return Ok(false),
        }
    }
    let change = FulfilmentChange {
        stock: vec![StockMove {
            item,
            warehouse: None,
            physical: 0,
            available: delta,
            shortfall: 0,
            expect_version: Some(version),
        }],
        ..Default::default()
    };
    Ok(shop.fulfilment.apply(&change).await? == Applied::Done)
}

/// Recompute every item's aggregated stock from warehouse stock, open holds and unassigned
/// orders; report differences and, when `repair` is set, correct them (each correction
/// conditioned on the row not having moved meanwhile). Also retries backordered orders.
///
/// Run it when the shop is quiet if repairing: a checkout landing between the reads can look
/// like drift for a moment (it is reported, and repaired only when told).
#[tracing::instrument(name = "reconcile", skip_all, fields(repair))]
pub async fn reconcile(
    shop: Shop<'_>,
    sites: &[Warehouse],
    repair: bool,
    now: Timestamp,
) -> Result<Reconciliation, StoreError> {
    let mut report = Reconciliation::default();
    for id in shop.orders.with_status(OrderStatus::Backordered).await? {
        if let Ok(Assignment::Assigned(_)) = assign(shop, sites, id, now).await {
            report.backorders_retried += 1;
        }
    }
    let mut committed: HashMap<ItemId, i64> = HashMap::new();
    // Every hold still held, whatever its expiry (an expired one not yet released still
    // counts: its units are out of the aggregate until the release).
    let far_future = now.plus_millis(100 * 365 * 24 * 3600 * 1000);
    for id in shop.checkouts.due(far_future, 10_000).await? {
        if let Some(checkout) = shop.checkouts.get(id).await? {
            if checkout.state == crate::domain::HoldState::Held {
                for line in &checkout.lines {
                    *committed.entry(line.item_id).or_default() += i64::from(line.quantity.get());
                }
            }
        }
    }
    for status in [OrderStatus::Placed, OrderStatus::Backordered] {
        for id in shop.orders.with_status(status).await? {
            if let Some(order) = shop.orders.get(id).await? {
                if order.status == status {
                    for line in &order.lines {
                        *committed.entry(line.item_id).or_default() +=
                            i64::from(line.quantity.get());
                    }
                }
            }
        }
    }
    let mut page = crate::domain::PageRequest {
        limit: 500,
        cursor: None,
    };
    loop {
        let listing = shop.catalog.scan(&page).await?;
        let ids: Vec<ItemId> = listing.items.iter().map(|i| i.item_id).collect();
        let stock = shop.fulfilment.stock(&ids).await?;
        for id in ids {
            report.items_checked += 1;
            let s = stock.get(&id).cloned().unwrap_or_default();
            let in_warehouses: i64 = s.warehouses.values().map(|w| i64::from(w.available)).sum();
            let expected = in_warehouses - committed.get(&id).copied().unwrap_or(0);
            let recorded = i64::from(s.total.available);
            if expected == recorded {
                continue;
            }
            // Each repair stands alone: one that fails is reported unrepaired (the next run
            // tries again) and the others go on.
            let repaired = repair
                && expected >= 0
                && repair_drift(shop, id, &s.total, expected - recorded)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(item_id = %id, error = %e, "drift not repaired");
                        false
                    });
            tracing::warn!(item_id = %id, recorded, expected, repaired, "stock drift");
            report.drifts.push(Drift {
                item_id: id,
                recorded,
                expected,
                repaired,
            });
        }
        match listing.next_cursor {
            Some(next) => page.cursor = Some(crate::domain::Cursor(next)),
            None => return Ok(report),
        }
    }
}
