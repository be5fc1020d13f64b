//! Races between requests for one checkout or order, run for real: the handlers (or use
//! cases, for the timer's side) run concurrently as tokio tasks against DynamoDB Local, each
//! race at least 50 times with random delays, and each repetition must end in one coherent
//! outcome with exact stock and exact money (the test provider's ledger).
//!
//! Lambda runs many instances of a function at once, so these are the double click, the
//! submit racing a cancel, a replacing checkout or an expiry, and a cancel racing the
//! warehouse side.

use crate::helpers;

use std::time::Duration;

use aisle::api::shopping;
use aisle::domain::{ItemId, OrderStatus};
use aisle::ports::Orders;
use aisle::usecases::checkout;
use helpers::{hold, Call, Caller, Reply, Shop};
use rand::Rng;
use serde_json::json;

const REPETITIONS: usize = 50;

/// A random pause of up to `max_ms`, so the two sides interleave differently each time.
async fn jitter(max_ms: u64) {
    let ms = rand::thread_rng().gen_range(0..=max_ms);
    tokio::time::sleep(Duration::from_micros(ms * 1000)).await;
}

fn submit_call(who: &Caller, checkout: &str, key: &str, token: &str) -> Call {
    Call::new(
        "POST /v1/checkout/{checkoutId}/order",
        &[("checkoutId", checkout)],
    )
    .by(who)
    .header("Idempotency-Key", key)
    .json(json!({
        "paymentToken": token,
        "shippingAddress": helpers::address_json()
    }))
}

async fn submit(shop: &Shop, who: &Caller, checkout: &str, key: &str) -> Reply {
    send!(
        shopping::submit_order,
        shop,
        submit_call(who, checkout, key, "tok_success")
    )
}

async fn cancel_checkout(shop: &Shop, who: &Caller, checkout: &str) -> Reply {
    send!(
        shopping::cancel_checkout,
        shop,
        Call::new(
            "DELETE /v1/checkout/{checkoutId}",
            &[("checkoutId", checkout)]
        )
        .by(who)
    )
}

/// Charges the provider captured for `checkout` (any attempt), and the net money kept.
fn money_for(shop: &Shop, checkout: &str) -> (usize, i64) {
    let ledger = shop.ledger();
    let mine: Vec<_> = ledger
        .charges
        .iter()
        .filter(|(key, c)| key.starts_with(checkout) && c.captured)
        .collect();
    let refunded: i64 = mine.iter().map(|(key, _)| ledger.refunded(key)).sum();
    let captured: i64 = mine.iter().map(|(_, c)| c.amount.amount).sum();
    (mine.len(), captured - refunded)
}

async fn orders_of(shop: &Shop, who: &Caller) -> Vec<aisle::domain::Order> {
    let page = aisle::domain::PageRequest {
        limit: 50,
        cursor: None,
    };
    Orders::for_user(&shop.app.orders, &who.user_id(), None, None, &page)
        .await
        .unwrap()
        .items
}

/// A fresh item with `units` in stock and a shopper holding `wanted` of it.
async fn held(shop: &Shop, units: u32, wanted: u32) -> (ItemId, Caller, String) {
    let item = helpers::seed_item(shop, "Racing widget", units).await;
    let (who, checkout) = hold(shop, &[(item, wanted)]).await;
    (item, who, checkout)
}

async fn cart_lines(shop: &Shop, who: &Caller) -> usize {
    aisle::ports::Carts::cart(&shop.app.carts, &who.user_id())
        .await
        .unwrap()
        .lines
        .len()
}

#[tokio::test]
async fn a_double_clicked_submit_charges_once_places_one_order_and_takes_the_stock_once() {
    let shop = Shop::with_test_provider().await;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for rep in 0..REPETITIONS {
        let same_key = rep % 2 == 0;
        // Odd repetitions hold every unit there is: a second take would have nothing to take.
        let (units, wanted) = if rep % 4 < 2 { (5, 2) } else { (2, 2) };
        let (item, who, checkout) = held(&shop, units, wanted).await;
        let (first, second) = if same_key {
            ("click".to_owned(), "click".to_owned())
        } else {
            ("click-1".to_owned(), "click-2".to_owned())
        };
        let (a, b) = tokio::join!(
            async {
                jitter(3).await;
                submit(&shop, &who, &checkout, &first).await
            },
            async {
                jitter(3).await;
                submit(&shop, &who, &checkout, &second).await
            }
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        *outcomes
            .entry(format!(
                "same key {same_key}: {statuses:?} {} {}",
                a.code(),
                b.code()
            ))
            .or_default() += 1;
        assert!(
            matches!(statuses, [201, 201] | [201, 409]),
            "rep {rep}: {} {:?} / {} {:?}",
            a.status,
            a.body,
            b.status,
            b.body
        );
        for reply in [&a, &b] {
            if reply.status == 201 {
                assert_eq!(
                    reply.body["status"], "PLACED",
                    "rep {rep}: {:?}",
                    reply.body
                );
            } else {
                assert!(
                    matches!(
                        reply.code(),
                        "PAYMENT_IN_PROGRESS" | "IDEMPOTENCY_KEY_IN_FLIGHT"
                    ),
                    "rep {rep}: {:?}",
                    reply.body
                );
            }
        }
        if statuses == [201, 201] {
            assert_eq!(
                a.body["orderId"], b.body["orderId"],
                "rep {rep}: the same order"
            );
        }
        let orders = orders_of(&shop, &who).await;
        assert_eq!(orders.len(), 1, "rep {rep}: one order");
        assert_eq!(orders[0].status, OrderStatus::Placed, "rep {rep}");
        assert_eq!(
            shop.available(&item.to_string()).await,
            units - wanted,
            "rep {rep}: stock taken once"
        );
        let (charges, net) = money_for(&shop, &checkout);
        assert_eq!(charges, 1, "rep {rep}: one charge");
        assert_eq!(
            net, orders[0].total.amount,
            "rep {rep}: charged the order's total"
        );
        assert_eq!(
            cart_lines(&shop, &who).await,
            0,
            "rep {rep}: the cart is emptied"
        );
    }
    println!("double-click outcomes over {REPETITIONS} repetitions: {outcomes:#?}");
}

#[tokio::test]
async fn a_submit_racing_a_cancel_ends_one_way_only_and_a_cancelled_checkout_is_never_charged() {
    let shop = Shop::with_test_provider().await;
    let (mut cancel_won, mut submit_won) = (0, 0);
    for rep in 0..REPETITIONS {
        let (item, who, checkout) = held(&shop, 5, 2).await;
        let (paid, cancelled) = tokio::join!(
            async {
                jitter(4).await;
                submit(&shop, &who, &checkout, "pay").await
            },
            async {
                jitter(30).await;
                cancel_checkout(&shop, &who, &checkout).await
            }
        );
        let (charges, net) = money_for(&shop, &checkout);
        if cancelled.status == 200 {
            cancel_won += 1;
            assert_eq!(cancelled.body["status"], "RELEASED", "rep {rep}");
            assert!(
                matches!(paid.status, 409 | 410),
                "rep {rep}: the submit lost: {} {:?}",
                paid.status,
                paid.body
            );
            assert_eq!((charges, net), (0, 0), "rep {rep}: nothing captured");
            assert_eq!(shop.available(&item.to_string()).await, 5, "rep {rep}");
            assert!(
                orders_of(&shop, &who).await.is_empty(),
                "rep {rep}: no order"
            );
        } else {
            submit_won += 1;
            assert_eq!(cancelled.status, 409, "rep {rep}: {:?}", cancelled.body);
            assert_eq!(cancelled.code(), "CHECKOUT_CLOSED", "rep {rep}");
            assert_eq!(paid.status, 201, "rep {rep}: {:?}", paid.body);
            assert_eq!(paid.body["status"], "PLACED");
            assert_eq!(charges, 1, "rep {rep}");
            assert_eq!(shop.available(&item.to_string()).await, 3, "rep {rep}");
            let orders = orders_of(&shop, &who).await;
            assert_eq!(orders.len(), 1, "rep {rep}");
            assert_eq!(net, orders[0].total.amount, "rep {rep}");
            assert!(
                orders[0].timeline.iter().all(|c| c.note.is_none()),
                "rep {rep}: placed directly, never as a late success: {:?}",
                orders[0].timeline
            );
        }
    }
    println!("submit × cancel over {REPETITIONS} repetitions: cancel won {cancel_won}, submit won {submit_won}");
}

#[tokio::test]
async fn a_submit_racing_a_replacing_checkout_never_retakes_stock_for_the_replaced_hold() {
    let shop = Shop::with_test_provider().await;
    let (mut begin_won, mut submit_won) = (0, 0);
    for rep in 0..REPETITIONS {
        let (item, who, checkout) = held(&shop, 5, 2).await;
        let (paid, begun) = tokio::join!(
            async {
                jitter(30).await;
                submit(&shop, &who, &checkout, "pay").await
            },
            async {
                jitter(4).await;
                send!(
                    shopping::begin_checkout,
                    shop,
                    Call::new("POST /v1/checkout", &[])
                        .by(&who)
                        .header("Idempotency-Key", "again")
                )
            }
        );
        let (charges, _) = money_for(&shop, &checkout);
        if begun.status == 201 {
            begin_won += 1;
            assert!(
                matches!(paid.status, 409 | 410),
                "rep {rep}: {:?}",
                paid.body
            );
            assert_eq!(
                charges, 0,
                "rep {rep}: the replaced checkout is never charged"
            );
            assert!(orders_of(&shop, &who).await.is_empty(), "rep {rep}");
            assert_eq!(
                shop.available(&item.to_string()).await,
                3,
                "rep {rep}: only the new hold holds stock"
            );
        } else {
            submit_won += 1;
            assert_eq!(paid.status, 201, "rep {rep}: {:?}", paid.body);
            assert!(
                matches!(begun.status, 409 | 422),
                "rep {rep}: {} {:?}",
                begun.status,
                begun.body
            );
            assert_eq!(charges, 1, "rep {rep}");
            assert_eq!(shop.available(&item.to_string()).await, 3, "rep {rep}");
        }
    }
    println!("submit × replacing begin over {REPETITIONS} repetitions: begin won {begin_won}, submit won {submit_won}");
}

#[tokio::test]
async fn a_submit_racing_the_expiry_either_places_the_order_or_releases_the_hold_never_both() {
    // The submit sets off while, at a random moment, the test clock passes the hold's expiry
    // and the timer's expiry fires at once; then the expiry's re-delivery, after any grace.
    let shop = Shop::with_test_provider().await;
    let (mut placed, mut expired) = (0, 0);
    for rep in 0..REPETITIONS {
        let (item, who, checkout) = held(&shop, 4, 1).await;
        let id = aisle::domain::CheckoutId::try_from(checkout.clone()).unwrap();
        let expiry = shop.hold_expiry(&checkout).await;
        let (paid, _) = tokio::join!(
            async {
                jitter(6).await;
                submit(&shop, &who, &checkout, "pay").await
            },
            async {
                jitter(10).await;
                shop.clock.advance_past(expiry);
                checkout::expire(shop.app.shop(), id, shop.now())
                    .await
                    .unwrap()
            }
        );
        // The expiry's later delivery, after any payment grace: settles whatever is left.
        let later = shop
            .now()
            .plus_millis(checkout::PAYMENT_GRACE.as_millis() as i64 + 1_000);
        checkout::expire(shop.app.shop(), id, later).await.unwrap();
        let (charges, net) = money_for(&shop, &checkout);
        let orders = orders_of(&shop, &who).await;
        let stock = shop.available(&item.to_string()).await;
        if paid.status == 201 {
            placed += 1;
            assert_eq!(orders.len(), 1, "rep {rep}");
            assert!(
                orders[0].status.holds_stock(),
                "rep {rep}: {:?}",
                orders[0].status
            );
            assert_eq!((charges, stock), (1, 3), "rep {rep}");
            assert_eq!(net, orders[0].total.amount, "rep {rep}");
        } else if paid.status == 409 {
            // The test clock jumps the whole hold at once, so the expiry can decide (after
            // the grace, finding no charge yet) while the submit is still running, which in
            // AWS cannot happen (grace 30 s, function timeout 10 s): the payment that lands
            // after it is rejected and refunded in full. Money stays exact either way.
            expired += 1;
            assert_eq!(paid.code(), "ORDER_REJECTED", "rep {rep}: {:?}", paid.body);
            assert_eq!(
                (charges, net, stock),
                (1, 0, 4),
                "rep {rep}: refunded, all back"
            );
            assert!(orders.iter().all(|o| !o.status.holds_stock()), "rep {rep}");
        } else {
            expired += 1;
            assert_eq!(paid.status, 410, "rep {rep}: {:?}", paid.body);
            assert_eq!(
                (charges, net, stock),
                (0, 0, 4),
                "rep {rep}: nothing charged, all back"
            );
            assert!(orders.is_empty(), "rep {rep}");
        }
    }
    println!("submit × expiry over {REPETITIONS} repetitions: placed {placed}, expired {expired}");
}

#[tokio::test]
async fn a_cancel_racing_assignment_and_shipment_leaves_no_mixed_state() {
    use aisle::domain::ShipmentState;
    let shop = Shop::with_test_provider().await;
    let sites = aisle::ports::Warehouses::list(&shop.app.warehouses)
        .await
        .unwrap();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for rep in 0..REPETITIONS {
        let item = helpers::seed_item(&shop, "Racing anvil", 6).await;
        let order_id = helpers::place_order(&shop, &[(item, 2)]).await;
        let order = shop.app.orders.get(order_id).await.unwrap().unwrap();
        let shipped = helpers::message(
            helpers::WAREHOUSE_A,
            "WarehouseOrderShipped",
            json!({ "orderId": order_id, "trackingNumber": format!("1Z{rep:08}") }),
        );
        let (cancelled, _, _) = tokio::join!(
            async {
                jitter(40).await;
                aisle::usecases::orders::cancel(shop.app.shop(), &order.user_id, order_id).await
            },
            async {
                jitter(3).await;
                aisle::usecases::fulfilment::assign(shop.app.shop(), &sites, order_id, shop.now())
                    .await
            },
            async {
                jitter(60).await;
                helpers::deliver(&shop, &[shipped]).await
            }
        );
        let now = shop.app.orders.get(order_id).await.unwrap().unwrap();
        let parcels = aisle::ports::Fulfilment::shipments(&shop.app.fulfilment, order_id)
            .await
            .unwrap();
        let stock = shop.available(&item.to_string()).await;
        *outcomes
            .entry(format!(
                "{:?} / {:?}",
                now.status,
                parcels.iter().map(|p| p.state).collect::<Vec<_>>()
            ))
            .or_default() += 1;
        match now.status {
            OrderStatus::Cancelled => {
                assert!(cancelled.is_ok(), "rep {rep}");
                assert!(
                    parcels.iter().all(|p| p.state == ShipmentState::Cancelled),
                    "rep {rep}: {parcels:?}"
                );
                assert_eq!(stock, 6, "rep {rep}: every unit back once");
                assert_eq!(
                    money_for(&shop, &now.checkout_id.to_string()).1,
                    0,
                    "rep {rep}: refunded"
                );
            }
            status => {
                assert!(
                    cancelled.is_err(),
                    "rep {rep}: {status:?} yet cancel succeeded"
                );
                assert!(
                    matches!(
                        status,
                        OrderStatus::Processing | OrderStatus::Shipped | OrderStatus::Placed
                    ),
                    "rep {rep}: {status:?}"
                );
                assert!(
                    parcels.iter().all(|p| p.state != ShipmentState::Cancelled),
                    "rep {rep}: {parcels:?}"
                );
                assert_eq!(stock, 4, "rep {rep}");
            }
        }
    }
    println!("cancel × assign × ship over {REPETITIONS} repetitions: {outcomes:#?}");
}

#[tokio::test]
async fn a_late_success_after_the_timer_sweeper_and_ttl_race_retakes_the_stock_exactly_once() {
    let shop = Shop::with_test_provider().await;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for rep in 0..REPETITIONS {
        let (item, who, checkout) = held(&shop, 3, 2).await;
        let id = aisle::domain::CheckoutId::try_from(checkout.clone()).unwrap();
        // The provider does not answer; it will say "captured" when asked a second time.
        let pending = send!(
            shopping::submit_order,
            shop,
            submit_call(&who, &checkout, "late", "tok_late_success")
        );
        assert_eq!(pending.status, 202, "rep {rep}: {:?}", pending.body);
        let hold_now = aisle::ports::Checkouts::get(&shop.app.checkouts, id)
            .await
            .unwrap()
            .unwrap();
        let later = hold_now
            .expires_at
            .plus_millis(checkout::PAYMENT_GRACE.as_millis() as i64 + 1_000);
        let s = shop.app.shop();
        // All three expiry mechanisms at once, then two settlements at once.
        let (timer, swept, ttl) = tokio::join!(
            async {
                jitter(3).await;
                checkout::expire(s, id, later).await.unwrap()
            },
            async {
                jitter(3).await;
                checkout::sweep(s, later, helpers::sweep_deadline())
                    .await
                    .unwrap()
                    .released
            },
            async {
                jitter(20).await;
                // What TTL does: the record goes, then the stream consumer acts on its image.
                let deleted = helpers::dynamo()
                    .await
                    .delete_item()
                    .table_name(&shop.app.config.tables.holds)
                    .key(
                        "checkoutId",
                        aws_sdk_dynamodb::types::AttributeValue::S(checkout.clone()),
                    )
                    .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
                    .send()
                    .await
                    .unwrap();
                match deleted.attributes {
                    Some(old) => {
                        let last: aisle::domain::Checkout = serde_dynamo::from_item(old).unwrap();
                        checkout::expired_by_ttl(s, &last).await.unwrap()
                    }
                    None => false,
                }
            }
        );
        let order_id = aisle::domain::Order::id_for(id);
        let (a, b) = tokio::join!(
            async {
                jitter(3).await;
                checkout::settle(s, order_id, later).await
            },
            async {
                jitter(3).await;
                checkout::settle(s, order_id, later).await
            }
        );
        let _ = (a, b);
        // Whatever a lost race left, one more settlement finishes (the timer's redelivery).
        checkout::settle(s, order_id, later).await.unwrap();
        let order = shop.app.orders.get(order_id).await.unwrap().unwrap();
        let (charges, net) = money_for(&shop, &checkout);
        let stock = shop.available(&item.to_string()).await;
        *outcomes
            .entry(format!(
                "{:?} (timer {timer:?}, swept {swept}, ttl {ttl})",
                order.status
            ))
            .or_default() += 1;
        assert_eq!(
            order.status,
            OrderStatus::Placed,
            "rep {rep}: {:?}",
            order.timeline
        );
        assert_eq!((charges, net), (1, order.total.amount), "rep {rep}");
        assert_eq!(stock, 1, "rep {rep}: released once, taken again once");
        assert_eq!(
            cart_lines(&shop, &who).await,
            0,
            "rep {rep}: the late order empties the cart too"
        );
    }
    println!("late success × three expiries over {REPETITIONS} repetitions: {outcomes:#?}");
}
