//! Payments through the Stripe adapter against localstripe (behind `aisle-local stripe-proxy`,
//! which adds Stripe's idempotent replays): each test is a shop with `PAYMENT_PROVIDER=stripe`
//! whose functions read their keys from moto's Secrets Manager through their own IAM grants.
//! What localstripe lacks (decline codes, rate limits, Stripe's event envelope) is tested at
//! the wire in `shared/src/adapters/stripe.rs`.

use crate::helpers;

use aisle::adapters::stripe;
use aisle::domain::CheckoutId;
use aisle::ports::{Checkouts, Clock};
use aisle::usecases::checkout;
use helpers::stripe as st;
use helpers::{Call, Caller, Shop};
use serde_json::{json, Value};

async fn submit(shop: &Shop, who: &Caller, checkout: &str, pm: &str, key: &str) -> helpers::Reply {
    send!(
        aisle::api::shopping::submit_order,
        shop,
        Call::new(
            "POST /v1/checkout/{checkoutId}/order",
            &[("checkoutId", checkout)]
        )
        .by(who)
        .header("Idempotency-Key", key)
        .json(json!({ "paymentToken": pm, "shippingAddress": helpers::address_json() }))
    )
}

async fn order(shop: &Shop, who: &Caller, id: &str) -> Value {
    let got = send!(
        aisle::api::shopping::get_order,
        shop,
        Call::new("GET /v1/orders/{orderId}", &[("orderId", id)]).by(who)
    );
    assert_eq!(got.status, 200, "{:?}", got.body);
    got.body
}

/// The charge key of a checkout's attempt `n` (what the adapter sends as Idempotency-Key).
fn key_of(checkout: &str, attempt: u32) -> String {
    format!("{checkout}-{attempt}")
}

/// Deliver a Stripe event for `intent` to the webhook, signed as Stripe signs it.
async fn webhook(
    shop: &Shop,
    id: &str,
    kind: &str,
    charge_key: &str,
    signed_at: i64,
    secret: &str,
) -> helpers::Reply {
    let metadata = json!({ "aisle_charge_key": charge_key });
    webhook_with(shop, id, kind, metadata, signed_at, secret).await
}

/// [`webhook`] for a PaymentIntent with this `metadata`.
async fn webhook_with(
    shop: &Shop,
    id: &str,
    kind: &str,
    metadata: Value,
    signed_at: i64,
    secret: &str,
) -> helpers::Reply {
    let payload = json!({
        "id": id, "object": "event", "type": kind, "created": signed_at,
        "data": { "object": { "object": "payment_intent", "metadata": metadata } }
    })
    .to_string();
    let signature = stripe::sign(payload.as_bytes(), secret, signed_at);
    send!(
        aisle::api::payments::webhook,
        shop,
        Call::new("POST /v1/payments/webhook", &[])
            .header("Stripe-Signature", &signature)
            .raw_body(&payload)
    )
}

#[tokio::test]
async fn a_card_payment_places_the_order_and_every_retry_answers_the_same_single_charge() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe TV", 3).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 2)]).await;
    let pm = st::payment_method(st::CARD_OK).await;
    let first = submit(&shop, &who, &checkout, &pm, "click").await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["payment"], "CAPTURED");
    let again = submit(&shop, &who, &checkout, &pm, "click").await;
    let other_key = submit(&shop, &who, &checkout, &pm, "second-tab").await;
    assert_eq!(again.body["orderId"], first.body["orderId"]);
    assert_eq!(other_key.body["orderId"], first.body["orderId"]);
    let intents = st::intents_for(&key_of(&checkout, 1)).await;
    assert_eq!(
        intents.len(),
        1,
        "one PaymentIntent for the attempt: {intents:?}"
    );
    assert_eq!(intents[0]["status"], "succeeded");
    assert_eq!(
        st::kept_by(&intents[0]),
        first.body["total"]["amount"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn a_declined_card_is_402_with_the_reason_the_hold_is_kept_and_another_card_pays() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe kettle", 1).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let declined = submit(
        &shop,
        &who,
        &checkout,
        &st::payment_method(st::CARD_DECLINED).await,
        "k1",
    )
    .await;
    assert_eq!(declined.status, 402, "{:?}", declined.body);
    assert_eq!(declined.code(), "PAYMENT_DECLINED");
    assert_eq!(declined.body["error"]["details"]["reason"], "card_declined");
    assert_eq!(
        shop.available(&item.to_string()).await,
        0,
        "the hold is kept"
    );
    let paid = submit(
        &shop,
        &who,
        &checkout,
        &st::payment_method(st::CARD_OK).await,
        "k2",
    )
    .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    assert_eq!(
        st::kept(&key_of(&checkout, 1)).await,
        0,
        "the declined attempt took nothing"
    );
    assert_eq!(
        st::kept(&key_of(&checkout, 2)).await,
        paid.body["total"]["amount"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn cancelling_a_line_and_then_the_order_refunds_each_part_once_at_stripe() {
    let shop = Shop::with_stripe().await;
    let tv = helpers::seed_item(&shop, "Stripe TV", 2).await;
    let cable = helpers::seed_item(&shop, "Stripe cable", 2).await;
    let (who, checkout) = helpers::hold(&shop, &[(tv, 1), (cable, 2)]).await;
    let placed = submit(
        &shop,
        &who,
        &checkout,
        &st::payment_method(st::CARD_OK).await,
        "pay",
    )
    .await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let order_id = placed.body["orderId"].as_str().unwrap().to_owned();
    let total = placed.body["total"]["amount"].as_i64().unwrap();
    let key = key_of(&checkout, 1);
    let line = send!(
        aisle::api::shopping::cancel_order_line,
        shop,
        Call::new(
            "POST /v1/orders/{orderId}/lines/{itemId}/cancel",
            &[("orderId", &order_id), ("itemId", &cable.to_string())]
        )
        .by(&who)
        .json(json!({ "reason": "ordered twice" }))
    );
    assert_eq!(line.status, 200, "{:?}", line.body);
    let after_line = st::kept(&key).await;
    assert!(
        after_line > 0 && after_line < total,
        "a partial refund: kept {after_line} of {total}"
    );
    let refunded = order(&shop, &who, &order_id).await["refunded"]["amount"]
        .as_i64()
        .unwrap();
    assert_eq!(
        after_line,
        total - refunded,
        "Stripe kept what the order still owns"
    );
    let cancelled = send!(
        aisle::api::shopping::cancel_order,
        shop,
        Call::new(
            "POST /v1/orders/{orderId}/cancel",
            &[("orderId", &order_id)]
        )
        .by(&who)
    );
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(st::kept(&key).await, 0, "everything went back");
    let refunds = st::intents_for(&key).await[0]["latest_charge"]["refunds"]["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(refunds, 2, "one refund per change, none repeated");
}

#[tokio::test]
async fn a_card_that_needs_3ds_answers_202_with_next_action_and_the_signed_webhook_places_the_order(
) {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe blender", 1).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let pending = submit(
        &shop,
        &who,
        &checkout,
        &st::payment_method(st::CARD_3DS).await,
        "pay",
    )
    .await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    assert_eq!(pending.body["status"], "PAYMENT_PENDING");
    assert_eq!(pending.body["nextAction"]["type"], "use_stripe_sdk");
    let secret = pending.body["nextAction"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let order_id = pending.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(
        shop.available(&item.to_string()).await,
        0,
        "the hold is kept while the shopper acts"
    );
    let key = key_of(&checkout, 1);
    let intent = st::intents_for(&key).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    st::authenticate(&intent, &secret, true).await;

    let now = shop.clock.now().unix_seconds();
    let whsec = aisle_local::LOCAL_STRIPE_WEBHOOK_SECRET;
    let forged = webhook(
        &shop,
        "evt_forged",
        "payment_intent.succeeded",
        &key,
        now,
        "whsec_wrong",
    )
    .await;
    assert_eq!((forged.status, forged.code()), (400, "SIGNATURE_INVALID"));
    let stale = webhook(
        &shop,
        "evt_old",
        "payment_intent.succeeded",
        &key,
        now - 3600,
        whsec,
    )
    .await;
    assert_eq!((stale.status, stale.code()), (400, "SIGNATURE_INVALID"));
    assert_eq!(
        order(&shop, &who, &order_id).await["status"],
        "PAYMENT_PENDING",
        "refused deliveries change nothing"
    );

    let event = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let applied = webhook(&shop, &event, "payment_intent.succeeded", &key, now, whsec).await;
    assert_eq!(applied.status, 200, "{:?}", applied.body);
    assert_eq!(applied.body["outcome"], "settled");
    let placed = order(&shop, &who, &order_id).await;
    assert_eq!(placed["status"], "PLACED", "{placed}");
    assert_eq!(placed["payment"], "CAPTURED");
    let redelivered = webhook(&shop, &event, "payment_intent.succeeded", &key, now, whsec).await;
    assert_eq!(redelivered.body["outcome"], "alreadyApplied");
    assert_eq!(
        st::kept(&key).await,
        placed["total"]["amount"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn a_lost_answer_leaves_the_order_pending_and_the_expiry_settles_it_on_the_one_charge() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe lamp", 1).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let pm = st::payment_method(st::CARD_OK).await;
    // The intent is made and its id recorded; every try of the confirm reaches Stripe
    // (localstripe) but no answer comes back.
    st::lose_answers_of(&pm, 10, "confirm").await;
    let pending = submit(&shop, &who, &checkout, &pm, "pay").await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    assert!(pending.body.get("nextAction").is_none());
    let order_id = pending.body["orderId"].as_str().unwrap().to_owned();
    st::lose_answers(&pm, 0).await;
    // A day passes: Stripe has forgotten the attempt's idempotency keys, so only the recorded
    // id can find the intent (a replayed create would now be a second charge).
    st::age_keys(&checkout, 25 * 3600).await;
    // The hold ends: the timer asks Stripe for the intent by its recorded id.
    let id = CheckoutId::try_from(checkout.as_str()).unwrap();
    let held = shop.app.checkouts.get(id).await.unwrap().unwrap();
    shop.clock.advance_past(held.expires_at);
    let expired = checkout::expire(shop.app.shop(), id, shop.clock.now())
        .await
        .unwrap();
    assert_eq!(expired, checkout::Expiry::Completed);
    let placed = order(&shop, &who, &order_id).await;
    assert_eq!(placed["status"], "PLACED", "{placed}");
    let key = key_of(&checkout, 1);
    assert_eq!(
        st::intents_for(&key).await.len(),
        1,
        "retries and the replay made no second charge"
    );
    assert_eq!(
        st::kept(&key).await,
        placed["total"]["amount"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn a_lost_create_is_found_by_search_never_made_again_and_never_confirmed() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe clock", 1).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let pm = st::payment_method(st::CARD_OK).await;
    // The create reaches Stripe, but its id never reaches the shop: it is never confirmed.
    st::lose_answers_of(&pm, 10, "create").await;
    let pending = submit(&shop, &who, &checkout, &pm, "pay").await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    let order_id = pending.body["orderId"].as_str().unwrap().to_owned();
    st::lose_answers(&pm, 0).await;
    let id = CheckoutId::try_from(checkout.as_str()).unwrap();
    let held = shop.app.checkouts.get(id).await.unwrap().unwrap();
    assert_eq!(held.paying.unwrap().reference, None, "no id was recorded");
    st::age_keys(&checkout, 25 * 3600).await;
    shop.clock.advance_past(held.expires_at);
    shop.clock.advance(checkout::PAYMENT_GRACE);
    let expired = checkout::expire(shop.app.shop(), id, shop.clock.now())
        .await
        .unwrap();
    assert_eq!(expired, checkout::Expiry::Released);
    let failed = order(&shop, &who, &order_id).await;
    assert_eq!(failed["status"], "PAYMENT_FAILED", "{failed}");
    let key = key_of(&checkout, 1);
    let intents = st::intents_for(&key).await;
    assert_eq!(intents.len(), 1, "found by search, never created again");
    assert_eq!(
        intents[0]["status"], "canceled",
        "the unconfirmed intent is cancelled"
    );
    assert_eq!(st::kept(&key).await, 0, "no money moved");
    assert_eq!(shop.available(&item.to_string()).await, 1, "back on sale");
}

#[tokio::test]
async fn reconciliation_lists_money_at_stripe_that_no_order_owns_and_only_that() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe radio", 1).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let placed = submit(
        &shop,
        &who,
        &checkout,
        &st::payment_method(st::CARD_OK).await,
        "pay",
    )
    .await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let ours = st::intents_for(&key_of(&checkout, 1)).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Charges made at Stripe behind the shop's back: one under a key of a checkout that
    // never became an order, one under no key of the shop's.
    let mut stray_ids = Vec::new();
    // And one by another application on the same account (no tag of this stack's): never
    // this stack's stray.
    let stack = shop.prefix.trim_end_matches('-').to_owned();
    let mut other_ids = Vec::new();
    for (key, tagged) in [
        (Some(format!("{}-1", uuid::Uuid::new_v4())), true),
        (None, true),
        (Some(format!("{}-1", uuid::Uuid::new_v4())), false),
    ] {
        let pm = st::payment_method(st::CARD_OK).await;
        let mut form = vec![
            ("amount", "1234"),
            ("currency", "usd"),
            ("payment_method", pm.as_str()),
            ("confirm", "true"),
        ];
        if let Some(key) = key.as_deref() {
            form.push(("metadata[aisle_charge_key]", key));
        }
        if tagged {
            form.push(("metadata[aisle_stack]", stack.as_str()));
        }
        let (status, pi) = st::call(
            "POST",
            &format!("{}/v1/payment_intents", st::localstripe()),
            &form,
        )
        .await;
        assert_eq!(
            (status, pi["status"].as_str()),
            (200, Some("succeeded")),
            "{pi}"
        );
        let id = pi["id"].as_str().unwrap().to_owned();
        if tagged {
            stray_ids.push(id);
        } else {
            other_ids.push(id);
        }
    }
    let since = shop.clock.now().plus_millis(-3_600_000);
    // Too fresh to judge: a submit may still be writing its order.
    let fresh = aisle::usecases::payments::strays(shop.app.shop(), since)
        .await
        .unwrap();
    assert!(!fresh
        .iter()
        .any(|s| stray_ids.contains(&s.charge.reference)));
    shop.clock
        .advance(aisle::usecases::payments::STRAY_GRACE + std::time::Duration::from_secs(60));
    let strays = aisle::usecases::payments::strays(shop.app.shop(), since)
        .await
        .unwrap();
    let listed: Vec<&str> = strays.iter().map(|s| s.charge.reference.as_str()).collect();
    for id in &stray_ids {
        assert!(listed.contains(&id.as_str()), "{id} listed: {strays:?}");
    }
    assert!(
        !listed.contains(&ours.as_str()),
        "the order's own charge is no stray"
    );
    assert!(
        !listed.contains(&other_ids[0].as_str()),
        "another application's charge is not this stack's to judge"
    );
    let no_order = strays
        .iter()
        .find(|s| s.charge.reference == stray_ids[0])
        .unwrap();
    assert!(no_order.why.contains("has no order"), "{}", no_order.why);
    assert_eq!(no_order.charge.held, 1234);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_delivered_twice_at_once_racing_the_hold_expiry_places_the_order_once() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe drone", 2).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let pending = submit(
        &shop,
        &who,
        &checkout,
        &st::payment_method(st::CARD_3DS).await,
        "pay",
    )
    .await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    let order_id = pending.body["orderId"].as_str().unwrap().to_owned();
    let secret = pending.body["nextAction"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = key_of(&checkout, 1);
    let intent = st::intents_for(&key).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    st::authenticate(&intent, &secret, true).await;

    // Stripe retries a delivery it thinks failed, so two instances may get one event at once,
    // while the hold's timer fires too.
    let now = shop.clock.now().unix_seconds();
    let whsec = aisle_local::LOCAL_STRIPE_WEBHOOK_SECRET;
    let event = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let id = CheckoutId::try_from(checkout.as_str()).unwrap();
    let expires = shop
        .app
        .checkouts
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .expires_at;
    let expiry_at = expires.plus_millis(1);
    let timer_app = shop.as_function("hold-timer").await;
    let (a, b, timer) = tokio::join!(
        webhook(&shop, &event, "payment_intent.succeeded", &key, now, whsec),
        webhook(&shop, &event, "payment_intent.succeeded", &key, now, whsec),
        checkout::expire(timer_app.shop(), id, expiry_at),
    );
    for reply in [&a, &b] {
        assert!(
            reply.status == 200 || (reply.status == 409 && reply.code() == "EVENT_IN_FLIGHT"),
            "{} {:?}",
            reply.status,
            reply.body
        );
    }
    timer.unwrap();
    let placed = order(&shop, &who, &order_id).await;
    assert_eq!(placed["status"], "PLACED", "{placed}");
    assert_eq!(st::intents_for(&key).await.len(), 1);
    assert_eq!(
        st::kept(&key).await,
        placed["total"]["amount"].as_i64().unwrap(),
        "charged once, kept once"
    );
    assert_eq!(
        shop.available(&item.to_string()).await,
        1,
        "the unit was taken once"
    );
    // A redelivery later changes nothing.
    let again = webhook(&shop, &event, "payment_intent.succeeded", &key, now, whsec).await;
    assert_eq!(again.body["outcome"], "alreadyApplied");
}

/// An order made directly in the store (what a crashed or stuck request leaves behind),
/// paid under `reference` with `method`, in `status`.
async fn stored_order(
    shop: &Shop,
    item: aisle::domain::ItemId,
    status: aisle::domain::OrderStatus,
    method: &str,
    reference: Option<&str>,
) -> aisle::domain::Order {
    use aisle::domain::{Currency, HoldLine, Money, NewOrder, Order, Payment, PaymentState};
    let checkout_id = CheckoutId::try_from(uuid::Uuid::new_v4().to_string()).unwrap();
    let total = Money {
        amount: 2_500,
        currency: Currency::Usd,
    };
    let order = Order::new(
        NewOrder {
            checkout_id,
            user_id: helpers::Caller::shopper().user_id(),
            lines: vec![HoldLine {
                item_id: item,
                name: "Stored".into(),
                quantity: aisle::domain::Quantity::try_from(1i64).unwrap(),
                unit_price: total,
            }],
            total,
            shipping_address: helpers::address(),
            status,
            payment: Payment {
                state: if status == aisle::domain::OrderStatus::PaymentPending {
                    PaymentState::Pending
                } else {
                    PaymentState::Captured
                },
                method: method.into(),
                reference: reference.map(str::to_owned),
                checks: 0,
                key: Some(format!("{checkout_id}-1")),
                captured: if status == aisle::domain::OrderStatus::PaymentPending {
                    0
                } else {
                    total.amount
                },
                refunded: 0,
            },
        },
        shop.now(),
    );
    order
}

#[tokio::test]
async fn poisoned_records_fail_alone_the_healthy_ones_settle_in_the_same_sweep_and_the_poisoned_are_parked(
) {
    use aisle::domain::{DueKind, MoneyDue, OrderStatus};
    use aisle::ports::Orders;
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Swept item", 10).await;
    let sweeper = shop.as_function("sweep-holds").await;
    // In front: a hold whose recorded PaymentIntent Stripe does not know (every status ask
    // is refused), a pending order and an owed refund likewise. Behind them, healthy ones.
    let (who, poisoned_hold) = helpers::hold(&shop, &[(item, 1)]).await;
    let id = CheckoutId::try_from(poisoned_hold.as_str()).unwrap();
    let attempt = aisle::domain::PaymentAttempt {
        method: st::payment_method(st::CARD_OK).await,
        shipping_address: helpers::address(),
        started_at: shop.now(),
        reference: None,
    };
    let aisle::ports::PaymentClaim::Claimed(claimed) = shop
        .app
        .checkouts
        .claim_payment(id, &who.user_id(), &attempt, shop.now())
        .await
        .unwrap()
    else {
        panic!("claimable")
    };
    assert!(shop
        .app
        .checkouts
        .record_reference(&claimed, "pi_poisonedHold")
        .await
        .unwrap());
    let poisoned_pending = stored_order(
        &shop,
        item,
        OrderStatus::PaymentPending,
        "pm_poisoned",
        Some("pi_poisonedPending"),
    )
    .await;
    shop.app.orders.create(&poisoned_pending).await.unwrap();
    let mut poisoned_refund = stored_order(
        &shop,
        item,
        OrderStatus::Cancelled,
        "pm_x",
        Some("pi_poisonedRefund"),
    )
    .await;
    poisoned_refund.owe(MoneyDue {
        key: format!("{}-refund", poisoned_refund.charge_key()),
        kind: DueKind::Refund,
        amount: 2_500,
    });
    shop.app.orders.create(&poisoned_refund).await.unwrap();

    let (_, healthy_hold) = helpers::hold(&shop, &[(item, 2)]).await;
    // A pending order whose payment method was never one Stripe could charge: settled as
    // failed, its void owed and paid out at once.
    let healthy_pending =
        stored_order(&shop, item, OrderStatus::PaymentPending, "tok_never", None).await;
    shop.app.orders.create(&healthy_pending).await.unwrap();
    let mut healthy_void =
        stored_order(&shop, item, OrderStatus::PaymentFailed, "tok_never", None).await;
    healthy_void.owe(MoneyDue {
        key: format!("{}-void", healthy_void.charge_key()),
        kind: DueKind::Void,
        amount: 0,
    });
    shop.app.orders.create(&healthy_void).await.unwrap();
    assert_eq!(shop.available(&item.to_string()).await, 7);

    let mut now = shop
        .hold_expiry(&healthy_hold)
        .await
        .plus_millis(checkout::PAYMENT_GRACE.as_millis() as i64 + 60_000);
    let first = checkout::sweep(sweeper.shop(), now, helpers::sweep_deadline())
        .await
        .unwrap();
    println!("first sweep: {first:?}");
    assert_eq!(first.released, 1, "the healthy hold: {first:?}");
    assert_eq!(first.settled, 1, "the healthy pending order: {first:?}");
    assert!(first.paid_out >= 1, "the healthy void: {first:?}");
    assert_eq!(
        first.failed, 3,
        "each poisoned record failed alone: {first:?}"
    );
    assert_eq!(
        shop.available(&item.to_string()).await,
        9,
        "healthy hold released"
    );
    let pending = shop
        .app
        .orders
        .get(healthy_pending.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.status, OrderStatus::PaymentFailed);
    assert!(pending.money_due.is_empty(), "its void paid out");
    let void = shop
        .app
        .orders
        .get(healthy_void.order_id)
        .await
        .unwrap()
        .unwrap();
    assert!(void.money_due.is_empty(), "the healthy void paid out");

    // The poisoned ones are tried again after growing waits, then parked for an operator.
    let mut parked = 0;
    for run in 2..=aisle::domain::parking::MAX_TRIES {
        let early = checkout::sweep(sweeper.shop(), now, helpers::sweep_deadline())
            .await
            .unwrap();
        assert_eq!(
            (early.failed, early.waiting),
            (0, 3),
            "run {run} waits: {early:?}"
        );
        now = now.plus_millis(16 * 60_000 + 1);
        let report = checkout::sweep(sweeper.shop(), now, helpers::sweep_deadline())
            .await
            .unwrap();
        assert_eq!(report.failed, 3, "run {run}: {report:?}");
        parked += report.parked;
    }
    assert_eq!(
        parked,
        3,
        "all three parked after {} tries",
        aisle::domain::parking::MAX_TRIES
    );
    let later = checkout::sweep(
        sweeper.shop(),
        now.plus_millis(3_600_000),
        helpers::sweep_deadline(),
    )
    .await
    .unwrap();
    assert_eq!(
        (later.failed, later.waiting),
        (0, 3),
        "parked ones are left alone: {later:?}"
    );
    let dead = shop.drain("TimerDeadLetters").await;
    assert_eq!(dead.len(), 3, "{dead:?}");
    // Each parked as the timer message that re-drives it once the cause is fixed.
    let mut kinds: Vec<&str> = dead
        .iter()
        .map(|(body, _)| match serde_json::from_str(body).unwrap() {
            aisle::ports::TimerMessage::Expire { .. } => "expire",
            aisle::ports::TimerMessage::Settle { .. } => "settle",
            aisle::ports::TimerMessage::PayDues { .. } => "payDues",
        })
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["expire", "payDues", "settle"]);
    for (body, reason) in &dead {
        let message: aisle::ports::TimerMessage = serde_json::from_str(body).unwrap();
        let reason = reason.clone().unwrap_or_default();
        // Stripe's refusal for a status ask; what is still owed for a refund.
        assert!(
            reason.contains("stripe answered 404") || reason.contains("still owed"),
            "{message:?}: {reason}"
        );
    }
    // Nothing of the poisoned ones was lost: the hold still holds, the orders still owe.
    assert_eq!(shop.available(&item.to_string()).await, 9);
    let refund = shop
        .app
        .orders
        .get(poisoned_refund.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refund.money_due.len(), 1, "still owed, for the operator");
}

#[tokio::test]
async fn every_request_the_adapter_sends_is_one_stripes_own_api_description_accepts() {
    use aisle::domain::{Currency, Money};
    use aisle::ports::ChargeRef;
    // stripe-mock validates each request against Stripe's OpenAPI description and refuses
    // a parameter, value or path Stripe would refuse.
    let mock =
        stripe::StripePayments::new(&st::stripe_mock(), "sk_test_123", "aisle-test").unwrap();
    let usd = |amount| Money {
        amount,
        currency: Currency::Usd,
    };
    let charge = ChargeRef {
        key: format!("{}-1", uuid::Uuid::new_v4()),
        method: "pm_card_visa".into(),
        amount: usd(2_500),
        reference: None,
    };
    let since = aisle::domain::Timestamp::from_unix_millis(1_796_000_000_000);
    let requests = [
        stripe::create_intent(&charge, "aisle-test"),
        stripe::confirm_intent(&charge.key, "pi_123"),
        stripe::get_intent("pi_123"),
        stripe::search_intent(&charge.key),
        stripe::list_intents(since, None),
        stripe::list_intents(since, Some("pi_123")),
        stripe::cancel_intent(&charge.key, "pi_123"),
        stripe::create_refund("k-refund", "pi_123", usd(500)),
    ];
    for request in &requests {
        let answer = mock.send(request).await.unwrap();
        assert_eq!(
            answer.status, 200,
            "{} {} {:?}: {}",
            request.method, request.path, request.form, answer.body
        );
    }
    // And the check can fail: a parameter Stripe does not know is refused.
    let mut unknown = stripe::create_intent(&charge, "aisle-test");
    unknown.form.push(("colour".into(), "red".into()));
    assert_eq!(mock.send(&unknown).await.unwrap().status, 400);
}

#[tokio::test]
async fn rate_limits_are_retried_under_the_same_key_and_a_failing_confirm_never_takes_money() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe kettle", 2).await;
    // Two 429s on the create: retried under the same key within the call's budget.
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let pm = st::payment_method(st::CARD_OK).await;
    st::fault(&pm, 429, 2, "create").await;
    let placed = submit(&shop, &who, &checkout, &pm, "pay").await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(st::intents_for(&key_of(&checkout, 1)).await.len(), 1);
    // Stripe failing every confirm (500): the order waits, and as the confirm never ran, the
    // expiry finds the intent unconfirmed, cancels it and gives the stock back.
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let pm = st::payment_method(st::CARD_OK).await;
    st::fault(&pm, 500, 10, "confirm").await;
    let pending = submit(&shop, &who, &checkout, &pm, "pay").await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    let order_id = pending.body["orderId"].as_str().unwrap().to_owned();
    st::fault(&pm, 500, 0, "confirm").await;
    let id = CheckoutId::try_from(checkout.as_str()).unwrap();
    shop.clock.advance_past(shop.hold_expiry(&checkout).await);
    shop.clock.advance(checkout::PAYMENT_GRACE);
    let expired = checkout::expire(shop.app.shop(), id, shop.clock.now())
        .await
        .unwrap();
    assert_eq!(expired, checkout::Expiry::Released);
    assert_eq!(
        order(&shop, &who, &order_id).await["status"],
        "PAYMENT_FAILED"
    );
    let key = key_of(&checkout, 1);
    assert_eq!(st::intents_for(&key).await[0]["status"], "canceled");
    assert_eq!(st::kept(&key).await, 0);
    assert_eq!(shop.available(&item.to_string()).await, 1);
}

#[tokio::test]
async fn an_amount_stripe_refuses_is_our_error_never_a_lost_answer() {
    use aisle::domain::{Currency, Money};
    use aisle::ports::{ChargeRef, Payments, StoreError};
    let stripe = stripe::StripePayments::new(&st::proxy(), st::KEY, "aisle-test").unwrap();
    let charge = |amount| ChargeRef {
        key: format!("{}-1", uuid::Uuid::new_v4()),
        method: String::new(),
        amount: Money {
            amount,
            currency: Currency::Usd,
        },
        reference: None,
    };
    for amount in [10, 100_000_000] {
        let mut too = charge(amount);
        too.method = st::payment_method(st::CARD_OK).await;
        let refused = stripe.open(&too).await;
        assert!(
            matches!(&refused, Err(StoreError::Bug(why)) if why.contains("400")),
            "{amount}: {refused:?}"
        );
        assert!(st::intents_for(&too.key).await.is_empty(), "nothing made");
    }
}

#[tokio::test]
async fn a_webhook_that_overtakes_its_payment_is_kept_and_applied_once_the_attempt_exists() {
    let shop = Shop::with_stripe().await;
    let item = helpers::seed_item(&shop, "Stripe toaster", 1).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let key = key_of(&checkout, 1);
    let now = shop.clock.now().unix_seconds();
    let whsec = aisle_local::LOCAL_STRIPE_WEBHOOK_SECRET;
    let event = format!("evt_{}", uuid::Uuid::new_v4().simple());
    // Delivered before the attempt exists: not acknowledged, so Stripe delivers it again.
    let early = webhook(&shop, &event, "payment_intent.succeeded", &key, now, whsec).await;
    assert_eq!(
        (early.status, early.code()),
        (409, "EVENT_NOT_YET_APPLICABLE"),
        "{:?}",
        early.body
    );
    // Another stack's charge on the same account: acknowledged and left alone.
    let theirs = webhook_with(
        &shop,
        &format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        json!({ "aisle_charge_key": key, "aisle_stack": "someone-else" }),
        now,
        whsec,
    )
    .await;
    assert_eq!(
        (theirs.status, &theirs.body["outcome"]),
        (200, &json!("ignored"))
    );
    // The payment happens (3-D Secure, so the order waits for the news).
    let pending = submit(
        &shop,
        &who,
        &checkout,
        &st::payment_method(st::CARD_3DS).await,
        "pay",
    )
    .await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    let secret = pending.body["nextAction"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let order_id = pending.body["orderId"].as_str().unwrap().to_owned();
    let intent = st::intents_for(&key).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    st::authenticate(&intent, &secret, true).await;
    // Stripe's redelivery of the same event is applied now, once.
    let later = webhook(&shop, &event, "payment_intent.succeeded", &key, now, whsec).await;
    assert_eq!(
        (later.status, &later.body["outcome"]),
        (200, &json!("settled"))
    );
    assert_eq!(order(&shop, &who, &order_id).await["status"], "PLACED");
    // A stale failure event arriving after the success changes nothing: the shop asks
    // Stripe for the truth, whatever order the events come in.
    let stale = webhook(
        &shop,
        &format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "payment_intent.payment_failed",
        &key,
        now,
        whsec,
    )
    .await;
    assert_eq!(stale.status, 200, "{:?}", stale.body);
    assert_eq!(order(&shop, &who, &order_id).await["status"], "PLACED");
}
