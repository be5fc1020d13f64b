//! Checkout holds against DynamoDB Local and moto: contention, expiry by each mechanism,
//! exactly-once release, every payment outcome, events, conflicts, and ownership.
//!
//! On the test payment provider (`Shop::with_test_provider`): these tests call for outcomes
//! on demand (no answer, a late success, an unconfirmed refund) that localstripe cannot
//! produce; the Stripe adapter's handling of each is tested against recorded Stripe answers,
//! and the paths localstripe can produce run on it in `payments.rs` and everywhere else.

use crate::helpers;

use std::time::Duration;

use aisle::api::shopping;
use aisle::domain::{CheckoutId, Timestamp};
use aisle::usecases::checkout;
use helpers::{add_to_cart, begin, eventually, Call, Caller, Reply, Shop};
use serde_json::json;

async fn submit(shop: &Shop, who: &Caller, checkout: &str, token: &str) -> Reply {
    let call = Call::new(
        "POST /v1/checkout/{checkoutId}/order",
        &[("checkoutId", checkout)],
    )
    .by(who)
    .header("Idempotency-Key", &format!("{checkout}-{token}"))
    .json(json!({ "paymentToken": token, "shippingAddress": helpers::address_json() }));
    send!(shopping::submit_order, shop, call)
}

/// A shopper with `quantity` of `item` in the cart and an active checkout for it.
async fn checked_out(shop: &Shop, item: &str, quantity: u32) -> (Caller, String) {
    helpers::hold(shop, &[(item.try_into().unwrap(), quantity)]).await
}

async fn order_of(shop: &Shop, who: &Caller, order: &str) -> Reply {
    send!(
        shopping::get_order,
        shop,
        Call::new("GET /v1/orders/{orderId}", &[("orderId", order)]).by(who)
    )
}

/// Run what Lambda would run on its own (timer messages, stream consumers) until `done`
/// holds or the deadline passes.
async fn run_timer_until<F, Fut>(shop: &Shop, deadline: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        shop.run_async_work().await;
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Move the test clock past `checkout`'s expiry and deliver the settle message the pending
/// submit scheduled for then, as SQS would once its delay is up (the SQS delay itself is
/// exercised, in real time, by the two-hundred-shoppers test below and by the e2e).
async fn at_expiry_the_timer_settles(shop: &Shop, checkout: &str, order: &str) {
    shop.clock.advance_past(shop.hold_expiry(checkout).await);
    let message = aisle::ports::TimerMessage::Settle {
        v: 1,
        order_id: order.try_into().unwrap(),
    };
    assert!(shop.fire_timer(&message).await.is_empty(), "settled");
    shop.pump_streams().await;
}

#[tokio::test]
async fn two_hundred_shoppers_race_for_fifty_units_exactly_fifty_hold_and_expiry_returns_all_fifty()
{
    let shop = Shop::with_hold(Some(Duration::from_secs(3))).await;
    let item = helpers::seed_item(&shop, "Stocked item", 50)
        .await
        .to_string();
    let shoppers: Vec<Caller> = (0..200).map(|_| Caller::shopper()).collect();
    for who in &shoppers {
        assert_eq!(add_to_cart(&shop, who, &item, 1).await.status, 200);
    }

    let mut tasks = tokio::task::JoinSet::new();
    for who in shoppers {
        let (app, call) = (
            shop.app.clone(),
            Call::new("POST /v1/checkout", &[])
                .by(&who)
                .header("Idempotency-Key", "k1"),
        );
        tasks.spawn(async move {
            Reply::from(
                shopping::begin_checkout(&app, call.request())
                    .await
                    .unwrap(),
            )
        });
    }
    let (mut held, mut refused, mut latest_expiry) = (0, 0, String::new());
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        match reply.status {
            201 => {
                held += 1;
                latest_expiry =
                    latest_expiry.max(reply.body["expiresAt"].as_str().unwrap().to_owned());
            }
            409 => {
                assert_eq!(reply.code(), "OUT_OF_STOCK");
                assert_eq!(reply.body["error"]["details"][0]["available"], 0);
                refused += 1;
            }
            other => panic!("unexpected {other}: {:?}", reply.body),
        }
    }
    assert_eq!((held, refused), (50, 150));
    assert_eq!(
        shop.available(&item).await,
        0,
        "all fifty held, none oversold"
    );

    // Expiry: the timer messages come due after 3 s; all stock is back within 60 s of expiry.
    let expiry = Timestamp::try_from(latest_expiry).unwrap();
    let back = run_timer_until(&shop, Duration::from_secs(63), || async {
        shop.available(&item).await == 50
    })
    .await;
    let late_ms = Timestamp::now().unix_millis() - expiry.unix_millis();
    assert!(back, "stock not back within 60 s of expiry");
    assert!(late_ms < 60_000, "released {late_ms} ms after expiry");
    shop.run_async_work().await;
    assert_eq!(shop.available(&item).await, 50, "released exactly once");
}

#[tokio::test]
async fn a_successful_payment_places_the_order_empties_the_cart_and_publishes_order_placed() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 2).await;
    let placed = submit(&shop, &who, &checkout, "tok_success").await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(placed.body["status"], "PLACED");
    assert_eq!(
        placed.body["total"],
        json!({ "amount": 39998, "currency": "USD" })
    );
    assert!(
        placed.body.get("paymentToken").is_none()
            && !placed.body.to_string().contains("tok_success"),
        "the token is not echoed"
    );
    assert_eq!(shop.available(&item).await, 3, "sold units stay off sale");

    let cart = send!(
        shopping::get_cart,
        shop,
        Call::new("GET /v1/cart", &[]).by(&who)
    );
    assert_eq!(cart.body["lines"], json!([]));

    let retry = submit(&shop, &who, &checkout, "tok_success").await;
    assert_eq!(
        (retry.status, &retry.body["orderId"]),
        (201, &placed.body["orderId"]),
        "a retried submit returns the same order"
    );

    shop.pump_streams().await;
    let events = shop.published().await;
    let placed_events: Vec<_> = events.iter().filter(|(t, _)| t == "OrderPlaced").collect();
    assert_eq!(placed_events.len(), 1, "{events:?}");
    assert_eq!(placed_events[0].1["version"], 1);
    assert_eq!(placed_events[0].1["orderId"], placed.body["orderId"]);
}

#[tokio::test]
async fn a_declined_payment_gets_402_keeps_the_hold_and_another_card_can_pay() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 1)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let declined = submit(&shop, &who, &checkout, "tok_decline_insufficient_funds").await;
    assert_eq!(
        (declined.status, declined.code()),
        (402, "PAYMENT_DECLINED")
    );
    assert_eq!(
        declined.body["error"]["details"]["reason"],
        "insufficient_funds"
    );
    assert_eq!(shop.available(&item).await, 0, "the hold is kept");

    let paid = submit(&shop, &who, &checkout, "tok_success").await;
    assert_eq!(paid.status, 201);
    shop.pump_streams().await;
    let events = shop.published().await;
    assert!(
        events
            .iter()
            .any(|(t, d)| t == "PaymentFailed" && d["reason"] == "insufficient_funds"),
        "{events:?}"
    );
}

#[tokio::test]
async fn no_response_leaves_the_order_pending_and_the_timer_captures_it_at_expiry() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 3)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let pending = submit(&shop, &who, &checkout, "tok_timeout_capture").await;
    assert_eq!(
        (pending.status, pending.body["status"].as_str()),
        (202, Some("PAYMENT_PENDING"))
    );
    let order = pending.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(
        order_of(&shop, &who, &order).await.body["status"],
        "PAYMENT_PENDING"
    );

    at_expiry_the_timer_settles(&shop, &checkout, &order).await;
    assert_eq!(order_of(&shop, &who, &order).await.body["status"], "PLACED");
    assert_eq!(
        shop.available(&item).await,
        2,
        "captured: the held unit became the sale"
    );
}

#[tokio::test]
async fn no_response_then_a_failed_payment_voids_and_returns_the_stock() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 3)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 2).await;
    let pending = submit(&shop, &who, &checkout, "tok_timeout_void").await;
    let order = pending.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(
        shop.available(&item).await,
        1,
        "held while the provider is silent"
    );
    at_expiry_the_timer_settles(&shop, &checkout, &order).await;
    assert_eq!(
        order_of(&shop, &who, &order).await.body["status"],
        "PAYMENT_FAILED"
    );
    assert_eq!(
        order_of(&shop, &who, &order).await.body["payment"],
        "VOIDED"
    );
    assert_eq!(shop.available(&item).await, 3);
}

#[tokio::test]
async fn a_late_success_after_expiry_re_holds_the_stock_when_it_is_still_there() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 3)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let order = submit(&shop, &who, &checkout, "tok_late_success")
        .await
        .body["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    // At expiry the provider still does not know: the hold is released on time...
    assert_eq!(shop.available(&item).await, 2);
    at_expiry_the_timer_settles(&shop, &checkout, &order).await;
    assert_eq!(shop.available(&item).await, 3);
    // ...and when the success arrives, the unit is taken again and the order placed.
    let settled = checkout::settle(
        shop.app.shop(),
        order.as_str().try_into().unwrap(),
        shop.now(),
    )
    .await;
    settled.unwrap();
    let placed = order_of(&shop, &who, &order).await;
    assert_eq!(placed.body["status"], "PLACED", "{:?}", placed.body);
    assert_eq!(shop.available(&item).await, 2);
}

#[tokio::test]
async fn a_late_success_after_the_stock_sold_out_is_refunded_and_rejected() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 1)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let order = submit(&shop, &who, &checkout, "tok_late_success")
        .await
        .body["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    at_expiry_the_timer_settles(&shop, &checkout, &order).await;
    assert_eq!(shop.available(&item).await, 1, "released at expiry");
    // Someone else buys the last unit in the meantime.
    let (rival, rival_checkout) = checked_out(&shop, &item, 1).await;
    assert_eq!(
        submit(&shop, &rival, &rival_checkout, "tok_success")
            .await
            .status,
        201
    );

    checkout::settle(
        shop.app.shop(),
        order.as_str().try_into().unwrap(),
        shop.now(),
    )
    .await
    .unwrap();
    let rejected = order_of(&shop, &who, &order).await;
    assert_eq!(
        (
            rejected.body["status"].as_str(),
            rejected.body["payment"].as_str()
        ),
        (Some("REJECTED"), Some("REFUNDED"))
    );
    assert_eq!(shop.available(&item).await, 0, "never negative");
}

#[tokio::test]
async fn the_sweep_function_releases_an_expired_hold_under_its_own_grants() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Swept item", 2).await.to_string();
    let (_, checkout) = checked_out(&shop, &item, 2).await;
    assert_eq!(shop.available(&item).await, 0);
    shop.clock.advance_past(shop.hold_expiry(&checkout).await);
    let sweeper = shop.as_function("sweep-holds").await;
    let event = lambda_runtime::LambdaEvent::new(serde_json::json!({}), helpers::lambda_context());
    let answer = aisle::workers::sweep_holds(&sweeper, event).await.unwrap();
    assert_eq!(answer["released"], 1, "{answer}");
    assert_eq!(shop.available(&item).await, 2, "back on sale");
}

#[tokio::test]
async fn an_approved_payment_on_an_expired_checkout_is_refused_with_410() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 1)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let expiry = shop.hold_expiry(&checkout).await;
    // The test clock moves past the expiry; nothing waits for it.
    shop.clock.advance_past(expiry);
    // Nothing has released it yet (no timer ran), but a read after expiresAt treats it as expired.
    let reply = submit(&shop, &who, &checkout, "tok_success").await;
    assert_eq!((reply.status, reply.code()), (410, "CHECKOUT_EXPIRED"));
    assert_eq!(
        shop.available(&item).await,
        0,
        "not released by the read itself"
    );
}

#[tokio::test]
async fn the_ttl_stream_releases_a_hold_using_the_record_dynamodb_local_really_emits() {
    let dynamo = helpers::PrivateDynamo::start().await;
    let shop = Shop::on(dynamo.endpoint.clone(), Some(Duration::from_secs(1))).await;
    let item = helpers::seed_item(&shop, "Stocked item", 4)
        .await
        .to_string();
    let (_who, checkout) = checked_out(&shop, &item, 3).await;
    assert_eq!(shop.available(&item).await, 1);
    // No timer, no sweeper: only DynamoDB Local's TTL deletion and its stream record.
    let released = eventually(Duration::from_secs(90), || async {
        shop.pump_streams().await;
        shop.available(&item).await == 4
    })
    .await;
    assert!(released, "TTL deletion did not release the hold");
    {
        use aisle::ports::Checkouts;
        let gone = shop
            .app
            .checkouts
            .get(CheckoutId::try_from(checkout.as_str()).unwrap())
            .await
            .unwrap();
        assert!(gone.is_none(), "the hold record was deleted by TTL");
    }
    shop.pump_timer().await; // the timer arriving afterwards changes nothing
    assert_eq!(shop.available(&item).await, 4);
    assert!(shop
        .published()
        .await
        .iter()
        .any(|(t, d)| t == "CheckoutExpired" && d["checkoutId"] == checkout.as_str()));
}

#[tokio::test]
async fn timer_sweeper_cancel_and_submit_racing_release_a_hold_exactly_once() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 10)
        .await
        .to_string();
    for _ in 0..5 {
        let (who, checkout) = checked_out(&shop, &item, 2).await;
        let expiry = shop.hold_expiry(&checkout).await;
        shop.clock.advance_past(expiry);
        let id = CheckoutId::try_from(checkout.as_str()).unwrap();
        let app = shop.app.clone();
        let user = who.user_id();
        let now = shop.now();
        let (a, b, c, d) = tokio::join!(
            checkout::expire(app.shop(), id, now),
            checkout::sweep(app.shop(), now, helpers::sweep_deadline()),
            checkout::cancel(app.shop(), &user, id),
            shop.pump_timer(),
        );
        a.unwrap();
        b.unwrap();
        let _ = (c, d);
    }
    assert_eq!(
        shop.available(&item).await,
        10,
        "every hold released once, never twice"
    );
}

#[tokio::test]
async fn begin_checkout_retries_injected_transaction_conflicts_and_holds_once() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let who = Caller::shopper();
    add_to_cart(&shop, &who, &item, 2).await;
    shop.app.faults.conflict_next(3);
    let begun = begin(&shop, &who).await;
    assert_eq!(begun.status, 201, "{:?}", begun.body);
    assert_eq!(
        shop.available(&item).await,
        3,
        "held exactly once after three conflicts"
    );
}

#[tokio::test]
async fn a_second_begin_replaces_the_first_checkout_and_a_replayed_key_returns_the_same_one() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let who = Caller::shopper();
    add_to_cart(&shop, &who, &item, 2).await;
    let call = || {
        Call::new("POST /v1/checkout", &[])
            .by(&who)
            .header("Idempotency-Key", "attempt-1")
    };
    let first = send!(shopping::begin_checkout, shop, call());
    let replay = send!(shopping::begin_checkout, shop, call());
    assert_eq!(
        (first.status, replay.status),
        (201, 201),
        "a replay answers the first response's status"
    );
    assert_eq!(first.body["checkoutId"], replay.body["checkoutId"]);
    assert_eq!(shop.available(&item).await, 3);

    assert_eq!(add_to_cart(&shop, &who, &item, 3).await.status, 200);
    let second = begin(&shop, &who).await;
    assert_eq!(second.status, 201);
    assert_ne!(second.body["checkoutId"], first.body["checkoutId"]);
    assert_eq!(
        shop.available(&item).await,
        2,
        "the first hold (2) was released, the new one holds 3"
    );
    let old = submit(
        &shop,
        &who,
        first.body["checkoutId"].as_str().unwrap(),
        "tok_success",
    )
    .await;
    assert_eq!((old.status, old.code()), (409, "CHECKOUT_CLOSED"));
}

#[tokio::test]
async fn cancelling_a_checkout_releases_its_stock_once() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 2)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 2).await;
    let cancel = || {
        Call::new(
            "DELETE /v1/checkout/{checkoutId}",
            &[("checkoutId", &checkout)],
        )
        .by(&who)
    };
    assert_eq!(
        send!(shopping::cancel_checkout, shop, cancel()).body["status"],
        "RELEASED"
    );
    assert_eq!(send!(shopping::cancel_checkout, shop, cancel()).status, 200);
    assert_eq!(shop.available(&item).await, 2);
    // Past its hold time a repeated cancel still answers what happened, not "expired": the
    // released record is kept a day longer than the hold would have lasted.
    let expiry = shop.hold_expiry(&checkout).await;
    shop.clock.advance_past(expiry);
    let again = send!(shopping::cancel_checkout, shop, cancel());
    assert_eq!(
        (again.status, again.body["status"].as_str()),
        (200, Some("RELEASED")),
        "{:?}",
        again.body
    );
    let record = helpers::dynamo()
        .await
        .get_item()
        .table_name(aisle_local::template::local_name(
            &shop.prefix,
            "HoldsTable",
        ))
        .key(
            "checkoutId",
            aws_sdk_dynamodb::types::AttributeValue::S(checkout.clone()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let ttl: i64 = record["ttl"].as_n().unwrap().parse().unwrap();
    assert!(
        ttl >= expiry.unix_seconds() + 24 * 3600,
        "TTL keeps the cancelled record a day past its hold time"
    );
}

#[tokio::test]
async fn another_users_token_gets_404_on_your_checkout_and_orders_and_sees_only_its_own_cart() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let (me, checkout) = checked_out(&shop, &item, 1).await;
    let intruder = Caller::shopper();
    let other_cancel = send!(
        shopping::cancel_checkout,
        shop,
        Call::new(
            "DELETE /v1/checkout/{checkoutId}",
            &[("checkoutId", &checkout)]
        )
        .by(&intruder)
    );
    assert_eq!(other_cancel.status, 404);
    assert_eq!(
        submit(&shop, &intruder, &checkout, "tok_success")
            .await
            .status,
        404
    );
    let order = submit(&shop, &me, &checkout, "tok_success").await.body["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(order_of(&shop, &intruder, &order).await.status, 404);
    let other_cancel_order = send!(
        shopping::cancel_order,
        shop,
        Call::new("POST /v1/orders/{orderId}/cancel", &[("orderId", &order)]).by(&intruder)
    );
    assert_eq!(other_cancel_order.status, 404);
    let their_orders = send!(
        shopping::list_orders,
        shop,
        Call::new("GET /v1/orders", &[]).by(&intruder)
    );
    assert_eq!(their_orders.body["items"], json!([]));
    add_to_cart(&shop, &me, &item, 1).await;
    let their_cart = send!(
        shopping::get_cart,
        shop,
        Call::new("GET /v1/cart", &[]).by(&intruder)
    );
    assert_eq!(
        their_cart.body["lines"],
        json!([]),
        "a cart is always the caller's own"
    );
    assert_eq!(order_of(&shop, &me, &order).await.status, 200);
}

fn submit_with(who: &Caller, checkout: &str, key: &str, token: &str) -> Call {
    Call::new(
        "POST /v1/checkout/{checkoutId}/order",
        &[("checkoutId", checkout)],
    )
    .by(who)
    .header("Idempotency-Key", key)
    .json(json!({ "paymentToken": token, "shippingAddress": helpers::address_json() }))
}

/// Money the provider kept for `checkout`: captured minus refunded, over its attempts.
fn kept(shop: &Shop, checkout: &str) -> i64 {
    let ledger = shop.ledger();
    ledger
        .charges
        .iter()
        .filter(|(key, c)| key.starts_with(checkout) && c.captured)
        .map(|(key, c)| c.amount.amount - ledger.refunded(key))
        .sum()
}

#[tokio::test]
async fn a_submit_key_replays_its_first_answer_and_refuses_another_body() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let declined = submit_with(&who, &checkout, "k-1", "tok_decline_card_declined");
    let first = send!(shopping::submit_order, shop, declined);
    assert_eq!(first.status, 402);
    let again = send!(
        shopping::submit_order,
        shop,
        submit_with(&who, &checkout, "k-1", "tok_decline_card_declined")
    );
    assert_eq!(
        (again.status, again.body.clone()),
        (402, first.body),
        "the first answer, status included"
    );
    let other_card = send!(
        shopping::submit_order,
        shop,
        submit_with(&who, &checkout, "k-1", "tok_success")
    );
    assert_eq!(other_card.status, 422, "{:?}", other_card.body);
    assert_eq!(other_card.code(), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        kept(&shop, &checkout),
        0,
        "nothing charged under a reused key"
    );

    let paid = send!(
        shopping::submit_order,
        shop,
        submit_with(&who, &checkout, "k-2", "tok_success")
    );
    assert_eq!(
        paid.status, 201,
        "a new key with another card pays: {:?}",
        paid.body
    );
    let replay = send!(
        shopping::submit_order,
        shop,
        submit_with(&who, &checkout, "k-2", "tok_success")
    );
    assert_eq!((replay.status, &replay.body), (201, &paid.body));
    assert_eq!(
        kept(&shop, &checkout),
        paid.body["total"]["amount"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn an_idempotency_record_in_flight_answers_409_and_an_expired_record_counts_as_absent() {
    use aisle::ports::{RequestClaim, Requests};
    let shop = Shop::with_test_provider().await;
    let requests = &shop.app.requests;
    let now = Timestamp::now();
    assert_eq!(
        requests.claim("t#u#k", "fp", now).await.unwrap(),
        RequestClaim::Fresh
    );
    assert_eq!(
        requests.claim("t#u#k", "fp", now).await.unwrap(),
        RequestClaim::InFlight
    );
    assert_eq!(
        requests.claim("t#u#k", "other", now).await.unwrap(),
        RequestClaim::Reused
    );
    // A lease that ran out (its request died): the retry takes over, once.
    let later = now.plus_millis(120_000);
    assert_eq!(
        requests.claim("t#u#k", "fp", later).await.unwrap(),
        RequestClaim::Fresh
    );
    assert_eq!(
        requests.claim("t#u#k", "fp", later).await.unwrap(),
        RequestClaim::InFlight
    );
    let done = aisle::ports::Receipt {
        key: "t#u#k".into(),
        fingerprint: "fp".into(),
        outcome: json!({ "answer": 1 }),
    };
    requests.finish(&done).await.unwrap();
    assert_eq!(
        requests.claim("t#u#k", "fp", later).await.unwrap(),
        RequestClaim::Replay(json!({ "answer": 1 }))
    );
    // Past its own expiry the record is gone, whether or not TTL has deleted it yet.
    let next_month = now.plus_millis(31 * 24 * 3600 * 1000);
    assert_eq!(
        requests.claim("t#u#k", "new", next_month).await.unwrap(),
        RequestClaim::Fresh
    );
}

#[tokio::test]
async fn a_begin_key_whose_hold_ttl_deleted_answers_410_not_409() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let who = Caller::shopper();
    add_to_cart(&shop, &who, &item, 1).await;
    let call = || {
        Call::new("POST /v1/checkout", &[])
            .by(&who)
            .header("Idempotency-Key", "begin-once")
    };
    let first = send!(shopping::begin_checkout, shop, call());
    assert_eq!(first.status, 201);
    // What TTL does after the expiry: the hold record disappears.
    helpers::dynamo()
        .await
        .delete_item()
        .table_name(&shop.app.config.tables.holds)
        .key(
            "checkoutId",
            aws_sdk_dynamodb::types::AttributeValue::S(
                first.body["checkoutId"].as_str().unwrap().into(),
            ),
        )
        .send()
        .await
        .unwrap();
    let replay = send!(shopping::begin_checkout, shop, call());
    assert_eq!(replay.status, 410, "{:?}", replay.body);
    assert_eq!(replay.code(), "CHECKOUT_EXPIRED");
}

#[tokio::test]
async fn a_crash_between_charge_and_commit_is_found_and_settled_by_the_sweep() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 2).await;
    // The order commit fails as if the function died right after the provider charged.
    shop.app.faults.crash_next(1);
    let crashed = send!(
        shopping::submit_order,
        shop,
        submit_with(&who, &checkout, "pay", "tok_success")
    );
    assert_eq!(crashed.status, 503, "{:?}", crashed.body);
    let id = CheckoutId::try_from(checkout.clone()).unwrap();
    let hold = aisle::ports::Checkouts::get(&shop.app.checkouts, id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        hold.paying.is_some(),
        "the attempt was recorded before the charge"
    );
    assert_eq!(kept(&shop, &checkout), 39_998, "the provider did charge");

    let retry = send!(
        shopping::submit_order,
        shop,
        submit_with(&who, &checkout, "pay", "tok_success")
    );
    assert_eq!(retry.code(), "PAYMENT_IN_PROGRESS", "{:?}", retry.body);
    let cancel = send!(
        shopping::cancel_checkout,
        shop,
        Call::new(
            "DELETE /v1/checkout/{checkoutId}",
            &[("checkoutId", &checkout)]
        )
        .by(&who)
    );
    assert_eq!(
        cancel.code(),
        "CHECKOUT_CLOSED",
        "the charge decides, not a cancel"
    );

    let after_expiry = hold
        .expires_at
        .plus_millis(checkout::PAYMENT_GRACE.as_millis() as i64 + 1);
    assert_eq!(
        checkout::sweep(
            shop.as_function("sweep-holds").await.shop(),
            after_expiry,
            helpers::sweep_deadline()
        )
        .await
        .unwrap()
        .released,
        1
    );
    let settled = send!(
        shopping::submit_order,
        shop,
        submit_with(&who, &checkout, "pay", "tok_success")
    );
    assert_eq!(settled.status, 201, "{:?}", settled.body);
    assert_eq!(settled.body["status"], "PLACED");
    assert_eq!(shop.available(&item).await, 3, "taken once");
    assert_eq!(kept(&shop, &checkout), 39_998, "charged once");
    let cart = send!(
        shopping::get_cart,
        shop,
        Call::new("GET /v1/cart", &[]).by(&who)
    );
    assert_eq!(
        cart.body["lines"].as_array().map_or(0, Vec::len),
        0,
        "cart emptied"
    );
}

#[tokio::test]
async fn a_crash_after_recording_the_attempt_but_before_the_charge_releases_uncharged() {
    // A 1 s hold, so that just after its expiry the attempt is still younger than the grace.
    let shop = Shop::with_hold(Some(Duration::from_secs(1))).await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 2).await;
    let id = CheckoutId::try_from(checkout.clone()).unwrap();
    let attempt = aisle::domain::PaymentAttempt {
        method: "tok_success".into(),
        shipping_address: helpers::address(),
        started_at: shop.now(),
        reference: None,
    };
    // A submit that recorded its attempt and died before calling the provider.
    let claimed = aisle::ports::Checkouts::claim_payment(
        &shop.app.checkouts,
        id,
        &who.user_id(),
        &attempt,
        shop.now(),
    )
    .await
    .unwrap();
    let aisle::ports::PaymentClaim::Claimed(hold) = claimed else {
        panic!("claimable")
    };
    assert_eq!(shop.available(&item).await, 3);
    let early = checkout::sweep(
        shop.as_function("sweep-holds").await.shop(),
        hold.expires_at.plus_millis(1),
        helpers::sweep_deadline(),
    )
    .await
    .unwrap()
    .released;
    assert_eq!(
        early, 0,
        "an attempt younger than the payment grace is left alone"
    );
    let after = hold
        .expires_at
        .plus_millis(checkout::PAYMENT_GRACE.as_millis() as i64 + 1);
    assert_eq!(
        checkout::sweep(
            shop.as_function("sweep-holds").await.shop(),
            after,
            helpers::sweep_deadline()
        )
        .await
        .unwrap()
        .released,
        1
    );
    assert_eq!(shop.available(&item).await, 5, "released");
    assert_eq!(kept(&shop, &checkout), 0, "never charged");
}

#[tokio::test]
async fn a_refund_the_provider_did_not_confirm_stays_owed_and_the_sweeper_pays_it_once() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let paid = submit(&shop, &who, &checkout, "tok_success").await;
    assert_eq!(paid.status, 201);
    let order = paid.body["orderId"].as_str().unwrap().to_owned();
    shop.test_payments().fail_next_refunds(1);
    let cancelled = send!(
        shopping::cancel_order,
        shop,
        Call::new("POST /v1/orders/{orderId}/cancel", &[("orderId", &order)]).by(&who)
    );
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["status"], "CANCELLED");
    assert_eq!(
        cancelled.body["payment"], "CAPTURED",
        "not refunded yet: {:?}",
        cancelled.body
    );
    assert_eq!(kept(&shop, &checkout), 19_999);
    assert_eq!(
        shop.available(&item).await,
        5,
        "the stock is back regardless"
    );

    for _ in 0..2 {
        checkout::sweep(
            shop.as_function("sweep-holds").await.shop(),
            shop.now(),
            helpers::sweep_deadline(),
        )
        .await
        .unwrap();
    }
    assert_eq!(kept(&shop, &checkout), 0, "refunded by the sweeper, once");
    let now = order_of(&shop, &who, &order).await;
    assert_eq!(now.body["payment"], "REFUNDED");
    let owing = aisle::ports::Orders::owing(&shop.app.orders, 10)
        .await
        .unwrap();
    assert!(owing.is_empty(), "nothing owed any more: {owing:?}");
}

#[tokio::test]
async fn order_listing_bounds_and_cursors_from_outside_the_range_are_400_never_503() {
    let shop = Shop::with_test_provider().await;
    let who = Caller::shopper();
    let list = |query: &str| Call::new("GET /v1/orders", &[]).by(&who).query(query);
    let reversed = send!(
        shopping::list_orders,
        shop,
        list("from=2026-12-01T00:00:00Z&to=2026-01-01T00:00:00Z")
    );
    assert_eq!(reversed.status, 400, "{:?}", reversed.body);
    assert_eq!(reversed.body["error"]["details"][0]["field"], "from");
    let far = send!(
        shopping::list_orders,
        shop,
        list("from=9999-06-01T00:00:00Z")
    );
    assert_eq!(far.status, 200, "{:?}", far.body);
    assert_eq!(far.body["items"], json!([]));
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    for _ in 0..3 {
        let (_, checkout) = {
            assert_eq!(add_to_cart(&shop, &who, &item, 1).await.status, 200);
            let begun = begin(&shop, &who).await;
            (
                who.clone(),
                begun.body["checkoutId"].as_str().unwrap().to_owned(),
            )
        };
        assert_eq!(
            submit(&shop, &who, &checkout, "tok_success").await.status,
            201
        );
    }
    let page = send!(shopping::list_orders, shop, list("limit=1"));
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();
    let outside = send!(
        shopping::list_orders,
        shop,
        list(&format!(
            "limit=1&from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z&cursor={cursor}"
        ))
    );
    assert_eq!(outside.status, 400, "{:?}", outside.body);
    assert_eq!(outside.code(), "INVALID_CURSOR");
    let huge = send!(
        aisle::api::search::search_items,
        shop,
        Call::new("GET /v1/items", &[]).query("maxPrice=99999999999999999999")
    );
    assert_eq!(huge.status, 400, "{:?}", huge.body);
    let big = send!(
        aisle::api::search::search_items,
        shop,
        Call::new("GET /v1/items", &[]).query("minPrice=9223372036854775807")
    );
    assert_eq!(
        big.status, 200,
        "a bound past every price selects nothing: {:?}",
        big.body
    );
}

#[tokio::test]
async fn a_pending_payment_whose_settle_message_was_lost_is_settled_by_the_sweeper() {
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Stocked item", 5)
        .await
        .to_string();
    let (who, checkout) = checked_out(&shop, &item, 1).await;
    let pending = submit(&shop, &who, &checkout, "tok_late_success").await;
    assert_eq!(pending.status, 202);
    let id = CheckoutId::try_from(checkout.clone()).unwrap();
    let hold = aisle::ports::Checkouts::get(&shop.app.checkouts, id)
        .await
        .unwrap()
        .unwrap();
    // The expiry releases the hold and asks once ("unknown"); its settle message is lost.
    let at_expiry = hold.expires_at.plus_millis(1);
    checkout::expire(shop.app.shop(), id, at_expiry)
        .await
        .unwrap();
    let order = pending.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(
        order_of(&shop, &who, &order).await.body["status"],
        "PAYMENT_PENDING"
    );
    let overdue = at_expiry.plus_millis(2 * checkout::SETTLE_RETRY.as_millis() as i64 + 1);
    checkout::sweep(
        shop.as_function("sweep-holds").await.shop(),
        overdue,
        helpers::sweep_deadline(),
    )
    .await
    .unwrap();
    let settled = order_of(&shop, &who, &order).await;
    assert_eq!(settled.body["status"], "PLACED", "{:?}", settled.body);
    assert_eq!(kept(&shop, &checkout), 19_999);
    assert_eq!(shop.available(&item).await, 4);
}

#[tokio::test]
async fn a_total_stripe_could_never_charge_is_refused_at_checkout_before_anything_is_held_and_at_listing(
) {
    let shop = Shop::with_test_provider().await;
    let seller = helpers::Caller::seller();
    let mut cheap = helpers::listing("Penny sweet", "sweets");
    cheap["price"]["amount"] = json!(1);
    let created = send!(
        aisle::api::catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&seller)
            .json(cheap)
    );
    assert_eq!(
        created.status, 201,
        "a cent is a price: several make a charge"
    );
    let item = aisle::domain::ItemId::try_from(created.body["itemId"].as_str().unwrap()).unwrap();
    helpers::receive(&shop, helpers::WAREHOUSE_A, item, 5).await;
    let who = helpers::Caller::shopper();
    assert_eq!(helpers::add_to_cart(&shop, &who, item, 3).await.status, 200);
    let begun = helpers::begin(&shop, &who).await;
    assert_eq!(
        (begun.status, begun.code()),
        (422, "AMOUNT_NOT_CHARGEABLE"),
        "{:?}",
        begun.body
    );
    assert_eq!(begun.body["error"]["details"]["minimum"], 50);
    assert_eq!(shop.available(&item.to_string()).await, 5, "nothing held");
    // A price above the largest charge (eight digits) could never be paid: refused.
    let mut dear = helpers::listing("Gold TV", "tvs");
    dear["price"]["amount"] = json!(100_000_000);
    let refused = send!(
        aisle::api::catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&seller)
            .json(dear)
    );
    assert_eq!(refused.status, 422, "{:?}", refused.body);
}
