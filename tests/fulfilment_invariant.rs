//! A randomized run of the warehouse side (fixed seed, printed; `AISLE_SEED` replays) of at
//! least 2,000 steps mixing receipts, losses and finds, holds and their release, orders,
//! assignments, shipments, deliveries, cancels, returns and redelivered messages. After every
//! step, for every item:
//! - per warehouse: physical = received − lost − shipped + restocked returns;
//! - aggregated = Σ warehouse available − held − placed-but-unassigned.

use crate::helpers;

use std::collections::HashMap;

use aisle::domain::{Checkout, ItemId, Order, OrderId, OrderStatus, ShipmentState, Timestamp};
use aisle::ports::{Fulfilment, Orders, Warehouses};
use aisle::usecases::{fulfilment, orders};
use helpers::{
    authorise_return, deliver, dynamo, hold, listed, message, place_order, received, scan, Call,
    Caller, Shop,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const STEPS: usize = 2_000;
const WAREHOUSES: [&str; 2] = [helpers::WAREHOUSE_A, helpers::WAREHOUSE_B];

/// What the test itself counts, per (item, warehouse).
#[derive(Debug, Default, Clone, Copy)]
struct Ledger {
    received: i64,
    lost: i64,
    shipped: i64,
    restocked: i64,
}

async fn check(
    shop: &Shop,
    client: &aws_sdk_dynamodb::Client,
    items: &[ItemId],
    ledger: &HashMap<(ItemId, &str), Ledger>,
) -> Result<(), String> {
    let tables = &shop.app.config.tables;
    let holds: Vec<Checkout> = scan(client, &tables.holds, "state", &["HELD"]).await;
    let unassigned: Vec<Order> =
        scan(client, &tables.orders, "status", &["PLACED", "BACKORDERED"]).await;
    let stock = shop
        .app
        .fulfilment
        .stock(items)
        .await
        .map_err(|e| e.to_string())?;
    for item in items {
        let s = stock.get(item).cloned().unwrap_or_default();
        for w in WAREHOUSES {
            let l = ledger.get(&(*item, w)).copied().unwrap_or_default();
            let expected = l.received - l.lost - l.shipped + l.restocked;
            let physical = s
                .warehouses
                .get(&w.try_into().unwrap())
                .map_or(0, |r| i64::from(r.physical));
            if physical != expected {
                return Err(format!(
                    "{item} at {w}: physical {physical}, ledger {expected} ({l:?})"
                ));
            }
        }
        let units = |lines: &mut dyn Iterator<Item = (ItemId, u32)>| -> i64 {
            lines
                .filter(|(i, _)| i == item)
                .map(|(_, q)| i64::from(q))
                .sum()
        };
        let held = units(
            &mut holds
                .iter()
                .flat_map(|c| c.lines.iter().map(|l| (l.item_id, l.quantity.get()))),
        );
        let waiting = units(
            &mut unassigned
                .iter()
                .flat_map(|o| o.lines.iter().map(|l| (l.item_id, l.quantity.get()))),
        );
        let in_warehouses: i64 = s.warehouses.values().map(|r| i64::from(r.available)).sum();
        let aggregated = i64::from(s.total.available);
        if aggregated != in_warehouses - held - waiting {
            return Err(format!(
                "{item}: aggregated {aggregated} != Σ available {in_warehouses} − held {held} − unassigned {waiting}"
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_random_warehouse_steps_keep_physical_and_aggregated_stock_exact() {
    let seed: u64 = std::env::var("AISLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261122);
    println!("fulfilment invariant: seed {seed} (AISLE_SEED={seed} replays), {STEPS} steps");
    let mut rng = StdRng::seed_from_u64(seed);
    let shop = Shop::open().await;
    let client = dynamo().await;
    let mut items = Vec::new();
    for i in 0..3 {
        items.push(listed(&shop, &format!("Part {i}")).await);
    }
    let sites = shop.app.warehouses.list().await.unwrap();
    let mut ledger: HashMap<(ItemId, &str), Ledger> = HashMap::new();
    let mut orders_placed: Vec<OrderId> = Vec::new();
    let mut holds: Vec<(Caller, String)> = Vec::new();
    let mut sent: Vec<Value> = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();

    // Steps that find nothing to do are drawn again: STEPS counts steps that acted.
    let mut step = 0;
    while step < STEPS {
        let item = *items.choose(&mut rng).unwrap();
        let w = *WAREHOUSES.choose(&mut rng).unwrap();
        let roll = rng.gen_range(0..100);
        let kind = match roll {
            0..=9 => {
                let q = rng.gen_range(1..=6);
                let body = received(w, item, q);
                assert!(deliver(&shop, &[body.clone()]).await.is_empty());
                ledger.entry((item, w)).or_default().received += i64::from(q);
                sent.push(body);
                "receive"
            }
            10..=15 => {
                let physical = shop.app.fulfilment.stock(&[item]).await.unwrap()[&item]
                    .warehouses
                    .get(&w.try_into().unwrap())
                    .map_or(0, |r| r.physical);
                if physical == 0 {
                    continue;
                }
                let q = rng.gen_range(1..=physical.min(3));
                let reason = if rng.gen_bool(0.5) { "LOSS" } else { "DAMAGE" };
                let body = message(
                    w,
                    "StockAdjusted",
                    json!({ "itemId": item, "quantity": -i64::from(q), "reason": reason }),
                );
                assert!(deliver(&shop, &[body.clone()]).await.is_empty());
                ledger.entry((item, w)).or_default().lost += i64::from(q);
                sent.push(body);
                "loss"
            }
            16..=18 => {
                let q = rng.gen_range(1..=2);
                let body = message(
                    w,
                    "StockAdjusted",
                    json!({ "itemId": item, "quantity": q, "reason": "FOUND" }),
                );
                assert!(deliver(&shop, &[body.clone()]).await.is_empty());
                ledger.entry((item, w)).or_default().received += q;
                sent.push(body);
                "found"
            }
            19..=30 => {
                let available = shop.available(&item.to_string()).await;
                if available == 0 {
                    continue;
                }
                let q = rng.gen_range(1..=available.min(3));
                orders_placed.push(place_order(&shop, &[(item, q)]).await);
                "order"
            }
            31..=34 => {
                let available = shop.available(&item.to_string()).await;
                if available == 0 {
                    continue;
                }
                holds.push(hold(&shop, &[(item, 1)]).await);
                "hold"
            }
            35..=37 => {
                if holds.is_empty() {
                    continue;
                }
                let (who, checkout) = holds.swap_remove(rng.gen_range(0..holds.len()));
                let released = send!(
                    aisle::api::shopping::cancel_checkout,
                    shop,
                    Call::new(
                        "DELETE /v1/checkout/{checkoutId}",
                        &[("checkoutId", &checkout)]
                    )
                    .by(&who)
                );
                assert!(released.status < 300, "{:?}", released.body);
                "release"
            }
            38..=49 => {
                let Some(order) = orders_placed.choose(&mut rng).copied() else {
                    continue;
                };
                fulfilment::assign(shop.app.shop(), &sites, order, Timestamp::now())
                    .await
                    .unwrap();
                "assign"
            }
            50..=65 | 66..=77 => {
                let shipping = roll <= 65;
                let from = if shipping {
                    ShipmentState::Assigned
                } else {
                    ShipmentState::Shipped
                };
                // A few random orders, the first with a shipment in the right state.
                let mut found = None;
                for _ in 0..4 {
                    let Some(order) = orders_placed.choose(&mut rng).copied() else {
                        break;
                    };
                    let shipments = shop.app.fulfilment.shipments(order).await.unwrap();
                    if let Some(wo) = shipments.into_iter().find(|s| s.state == from) {
                        found = Some((order, wo));
                        break;
                    }
                }
                let Some((order, wo)) = found else { continue };
                let wo = &wo;
                let kind = if shipping {
                    "WarehouseOrderShipped"
                } else {
                    "WarehouseOrderDelivered"
                };
                let body = message(
                    wo.warehouse_id.as_str(),
                    kind,
                    json!({ "orderId": order, "trackingNumber": format!("TRK-{step}") }),
                );
                let failed = deliver(&shop, &[body.clone()]).await;
                assert!(failed.is_empty(), "{kind} for {order} was retried");
                let after = shop.app.fulfilment.shipments(order).await.unwrap();
                let moved = after
                    .iter()
                    .any(|s| s.warehouse_id == wo.warehouse_id && s.state != from);
                if shipping && moved {
                    let site: &str = WAREHOUSES
                        .iter()
                        .find(|x| **x == wo.warehouse_id.as_str())
                        .unwrap();
                    for line in &wo.lines {
                        ledger.entry((line.item_id, site)).or_default().shipped +=
                            i64::from(line.quantity.get());
                    }
                }
                sent.push(body);
                if shipping {
                    "ship"
                } else {
                    "deliver"
                }
            }
            78..=83 => {
                let Some(order) = orders_placed.choose(&mut rng).copied() else {
                    continue;
                };
                let user = shop.app.orders.get(order).await.unwrap().unwrap().user_id;
                let _ = orders::cancel(shop.app.shop(), &user, order).await;
                "cancel"
            }
            84..=91 => {
                let mut delivered = None;
                for _ in 0..4 {
                    let Some(order) = orders_placed.choose(&mut rng).copied() else {
                        break;
                    };
                    if shop.app.orders.get(order).await.unwrap().unwrap().status
                        == OrderStatus::Delivered
                    {
                        delivered = Some(order);
                        break;
                    }
                }
                let Some(order) = delivered else { continue };
                let wo = shop
                    .app
                    .fulfilment
                    .shipments(order)
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|s| s.state == ShipmentState::Delivered)
                    .unwrap();
                let line = wo.lines[0];
                let resellable = rng.gen_bool(0.6);
                let rma =
                    authorise_return(&shop, order, &[(line.item_id, line.quantity.get())]).await;
                let body = message(
                    wo.warehouse_id.as_str(),
                    "ReturnReceived",
                    json!({
                        "orderId": order, "returnId": rma,
                        "lines": [{ "itemId": line.item_id, "quantity": line.quantity }],
                        "condition": if resellable { "RESELLABLE" } else { "DAMAGED" }
                    }),
                );
                assert!(deliver(&shop, &[body.clone()]).await.is_empty());
                if resellable {
                    let site: &str = WAREHOUSES
                        .iter()
                        .find(|x| **x == wo.warehouse_id.as_str())
                        .unwrap();
                    ledger.entry((line.item_id, site)).or_default().restocked +=
                        i64::from(line.quantity.get());
                }
                sent.push(body);
                "return"
            }
            _ => {
                // Redeliver an earlier message (same event id): it must change nothing.
                let Some(body) = sent.choose(&mut rng).cloned() else {
                    continue;
                };
                assert!(deliver(&shop, &[body]).await.is_empty());
                "redeliver"
            }
        };
        *counts.entry(kind).or_default() += 1;
        step += 1;
        if let Err(violation) = check(&shop, &client, &items, &ledger).await {
            panic!("step {step} ({kind}), seed {seed}: {violation}");
        }
    }
    let mut summary: Vec<_> = counts.into_iter().collect();
    summary.sort_by(|a, b| b.1.cmp(&a.1));
    println!("fulfilment invariant: steps by kind {summary:?}");
}
