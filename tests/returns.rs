//! Returns as records, over HTTP and the warehouse queue against DynamoDB Local and moto: a
//! request gives an authorisation with a label; what a warehouse reports against it is
//! refunded once whatever it repeats; what goes beyond it (or comes without one) waits for
//! the seller, who accepts or refuses; concurrent requests and decisions pay once.

use crate::helpers;

use aisle::api::returns as api;
use aisle::domain::{ItemId, OrderId, OrderStatus, Timestamp};
use aisle::ports::{Fulfilment, Orders, Warehouses};
use helpers::{
    deliver, listed_by, message, place_order, received, Call, Caller, Shop, WAREHOUSE_A,
};
use serde_json::json;

/// An order of `units` of one item of `seller`'s, shipped from and delivered by warehouse A.
pub(crate) async fn delivered(
    shop: &Shop,
    seller: &Caller,
    units: u32,
) -> (Caller, OrderId, ItemId) {
    let item = listed_by(shop, seller, "Kettle", "kitchen").await;
    assert!(deliver(shop, &[received(WAREHOUSE_A, item, 5)])
        .await
        .is_empty());
    let order = place_order(shop, &[(item, units)]).await;
    let sites = shop.app.warehouses.list().await.unwrap();
    aisle::usecases::fulfilment::assign(shop.app.shop(), &sites, order, Timestamp::now())
        .await
        .unwrap();
    for (kind, fields) in [
        (
            "WarehouseOrderShipped",
            json!({ "orderId": order, "trackingNumber": "1Z999AA1" }),
        ),
        ("WarehouseOrderDelivered", json!({ "orderId": order })),
    ] {
        let failed = deliver(shop, &[message(WAREHOUSE_A, kind, fields)]).await;
        let parked = shop.drain("WarehouseUpdatesDeadLetters").await;
        assert!(
            failed.is_empty() && parked.is_empty(),
            "{kind}: {failed:?} {parked:?}"
        );
    }
    let user = shop.app.orders.get(order).await.unwrap().unwrap().user_id;
    (Caller::Shopper(user.to_string()), order, item)
}

fn ask(who: &Caller, order: OrderId, item: ItemId, units: u32, reason: &str) -> Call {
    Call::new(
        "POST /v1/orders/{orderId}/returns",
        &[("orderId", &order.to_string())],
    )
    .by(who)
    .json(json!({ "lines": [{ "itemId": item, "quantity": units }], "reason": reason }))
}

fn returned(order: OrderId, rma: Option<&str>, item: ItemId, units: u32) -> serde_json::Value {
    let mut fields = json!({ "orderId": order, "lines": [{ "itemId": item, "quantity": units }], "condition": "RESELLABLE" });
    if let Some(rma) = rma {
        fields["returnId"] = rma.into();
    }
    message(WAREHOUSE_A, "ReturnReceived", fields)
}

fn decide(who: &Caller, order: OrderId, review: &str, decision: &str) -> Call {
    Call::new(
        "POST /v1/seller/orders/{orderId}/return-reviews/{reviewId}",
        &[("orderId", &order.to_string()), ("reviewId", review)],
    )
    .by(who)
    .json(json!({ "decision": decision }))
}

/// Units of `item` on sale at warehouse A (physical, available).
async fn at_a(shop: &Shop, item: ItemId) -> (u32, u32) {
    let stock = shop.app.fulfilment.stock(&[item]).await.unwrap();
    let row = stock[&item].warehouses[&WAREHOUSE_A.try_into().unwrap()];
    (row.physical, row.available)
}

#[tokio::test]
async fn a_resent_report_is_refunded_once_and_the_unit_the_shopper_kept_stays_returnable() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let (shopper, order, item) = delivered(&shop, &seller, 2).await;
    let price = shop.app.orders.get(order).await.unwrap().unwrap().lines[0]
        .unit_price
        .amount;

    let asked = send!(
        api::request_return,
        shop,
        ask(&shopper, order, item, 1, "too small")
    );
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    let rma = asked.body["returnId"].as_str().unwrap().to_owned();
    assert_eq!(
        asked.body["label"]["barcode"],
        rma.as_str(),
        "the label names it"
    );
    assert_eq!(asked.body["label"]["returnTo"], WAREHOUSE_A);
    assert_eq!(asked.body["state"], "AUTHORISED");
    assert_eq!(
        asked.headers["location"],
        format!("/v1/orders/{order}/returns/{rma}").as_str()
    );
    let read = |who: &Caller| {
        Call::new(
            "GET /v1/orders/{orderId}/returns/{returnId}",
            &[("orderId", &order.to_string()), ("returnId", &rma)],
        )
        .by(who)
    };
    let mine = send!(api::get_return, shop, read(&shopper));
    assert_eq!((mine.status, &mine.body["returnId"]), (200, &json!(rma)));
    let theirs = send!(api::get_return, shop, read(&Caller::shopper()));
    assert_eq!(theirs.status, 404, "another shopper's return is not there");

    // The warehouse's own system sends the same fact twice, under two event ids.
    let once = returned(order, Some(&rma), item, 1);
    let again = returned(order, Some(&rma), item, 1);
    assert!(deliver(&shop, &[once, again]).await.is_empty());
    let now = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(now.status, OrderStatus::PartiallyRefunded);
    assert_eq!(now.payment.refunded, price, "refunded once");
    assert_eq!(now.returned_units(item), 1);
    assert_eq!(
        at_a(&shop, item).await,
        (4, 4),
        "restocked once (5 in, 2 out, 1 back)"
    );
    assert_eq!(now.reviews.len(), 1, "the repeat waits for a person");
    assert_eq!(now.reviews[0].units.get(), 1);

    let rest = send!(
        api::request_return,
        shop,
        ask(&shopper, order, item, 1, "the other one too")
    );
    assert_eq!(
        rest.status, 201,
        "the unit still held is returnable: {:?}",
        rest.body
    );
    let more = send!(
        api::request_return,
        shop,
        ask(&shopper, order, item, 1, "and another")
    );
    assert_eq!(
        (more.status, more.code()),
        (422, "INVALID_RETURN"),
        "nothing left to authorise"
    );
}

#[tokio::test]
async fn units_beyond_the_authorisation_wait_for_their_seller_who_alone_decides_once() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let (shopper, order, item) = delivered(&shop, &seller, 2).await;
    let price = shop.app.orders.get(order).await.unwrap().unwrap().lines[0]
        .unit_price
        .amount;
    let asked = send!(
        api::request_return,
        shop,
        ask(&shopper, order, item, 1, "too loud")
    );
    let rma = asked.body["returnId"].as_str().unwrap().to_owned();
    assert!(deliver(&shop, &[returned(order, Some(&rma), item, 2)])
        .await
        .is_empty());
    let now = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(now.payment.refunded, price, "only the authorised unit");
    assert_eq!(
        at_a(&shop, item).await,
        (4, 4),
        "only the authorised unit is back on sale"
    );
    let review = now.reviews[0].review_id.to_string();

    // The seller hears of it: the event reaches their notices.
    shop.pump_streams().await;
    shop.pump_queue("SellerNotificationsQueue").await;
    let notices = send!(
        aisle::api::catalog::list_seller_notifications,
        shop,
        Call::new("GET /v1/seller/notifications", &[]).by(&seller)
    );
    assert!(
        notices.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "RETURN_REVIEW"
                && n["reviewId"] == review.as_str()
                && n["orderId"] == order.to_string().as_str()),
        "{:?}",
        notices.body
    );

    let by_shopper = send!(
        api::decide_return_review,
        shop,
        decide(&shopper, order, &review, "ACCEPT")
    );
    assert_eq!(by_shopper.status, 403);
    let by_other = send!(
        api::decide_return_review,
        shop,
        decide(&Caller::seller(), order, &review, "ACCEPT")
    );
    assert_eq!(by_other.status, 404, "another seller's review is not there");
    let accepted = send!(
        api::decide_return_review,
        shop,
        decide(&seller, order, &review, "ACCEPT")
    );
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_eq!(accepted.body["state"], "ACCEPTED");
    assert_eq!(accepted.body["refund"], price);
    let again = send!(
        api::decide_return_review,
        shop,
        decide(&seller, order, &review, "ACCEPT")
    );
    assert_eq!(
        (again.status, &again.body["state"]),
        (200, &json!("ACCEPTED"))
    );
    let turned = send!(
        api::decide_return_review,
        shop,
        decide(&seller, order, &review, "REFUSE")
    );
    assert_eq!((turned.status, turned.code()), (409, "ALREADY_DECIDED"));

    let done = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(done.status, OrderStatus::Refunded);
    assert_eq!(done.payment.refunded, 2 * price, "each unit refunded once");
    assert_eq!(
        at_a(&shop, item).await,
        (5, 5),
        "the accepted unit is back on sale"
    );
}

#[tokio::test]
async fn a_parcel_without_an_authorisation_is_held_and_a_refusal_refunds_nothing() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let (_, order, item) = delivered(&shop, &seller, 1).await;
    assert!(deliver(&shop, &[returned(order, None, item, 1)])
        .await
        .is_empty());
    let now = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(
        now.status,
        OrderStatus::Delivered,
        "nothing refunded, nothing changes state"
    );
    assert_eq!(now.payment.refunded, 0);
    assert_eq!(
        at_a(&shop, item).await,
        (4, 4),
        "held units are not on sale"
    );
    let review = &now.reviews[0];
    assert_eq!(review.cause, aisle::domain::ReviewCause::NoAuthorisation);
    let refused = send!(
        api::decide_return_review,
        shop,
        decide(&seller, order, &review.review_id.to_string(), "REFUSE")
    );
    assert_eq!(
        (refused.status, &refused.body["state"]),
        (200, &json!("REFUSED"))
    );
    let after = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.payment.refunded),
        (OrderStatus::Delivered, 0)
    );
}

#[tokio::test]
async fn two_requests_racing_for_the_last_unit_authorise_it_once() {
    let shop = Shop::open().await;
    let (shopper, order, item) = delivered(&shop, &Caller::seller(), 1).await;
    let (a, b) = tokio::join!(
        async {
            send!(
                api::request_return,
                shop,
                ask(&shopper, order, item, 1, "first tab")
            )
        },
        async {
            send!(
                api::request_return,
                shop,
                ask(&shopper, order, item, 1, "second tab")
            )
        },
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 422], "{:?} / {:?}", a.body, b.body);
    let now = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(now.returns.len(), 1);
}

#[tokio::test]
async fn a_retried_request_with_its_idempotency_key_answers_the_authorisation_it_made() {
    let shop = Shop::open().await;
    let (shopper, order, item) = delivered(&shop, &Caller::seller(), 2).await;
    let first = send!(
        api::request_return,
        shop,
        ask(&shopper, order, item, 1, "too small").header("Idempotency-Key", "ret-1")
    );
    let retry = send!(
        api::request_return,
        shop,
        ask(&shopper, order, item, 1, "too small").header("Idempotency-Key", "ret-1")
    );
    assert_eq!((first.status, retry.status), (201, 200));
    assert_eq!(first.body["returnId"], retry.body["returnId"]);
    let other = send!(
        api::request_return,
        shop,
        ask(&shopper, order, item, 1, "something else").header("Idempotency-Key", "ret-1")
    );
    assert_eq!(
        (other.status, other.code()),
        (422, "IDEMPOTENCY_KEY_REUSED")
    );
    assert_eq!(
        shop.app
            .orders
            .get(order)
            .await
            .unwrap()
            .unwrap()
            .returns
            .len(),
        1
    );
}

#[tokio::test]
async fn a_seller_accepting_twice_at_once_refunds_once() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let (_, order, item) = delivered(&shop, &seller, 1).await;
    assert!(deliver(&shop, &[returned(order, None, item, 1)])
        .await
        .is_empty());
    let review = shop.app.orders.get(order).await.unwrap().unwrap().reviews[0]
        .review_id
        .to_string();
    let (a, b) = tokio::join!(
        async {
            send!(
                api::decide_return_review,
                shop,
                decide(&seller, order, &review, "ACCEPT")
            )
        },
        async {
            send!(
                api::decide_return_review,
                shop,
                decide(&seller, order, &review, "ACCEPT")
            )
        },
    );
    assert_eq!(
        (a.status, b.status),
        (200, 200),
        "{:?} / {:?}",
        a.body,
        b.body
    );
    let done = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(
        done.payment.refunded, done.payment.captured,
        "refunded once, in full"
    );
    assert_eq!(done.status, OrderStatus::Refunded);
    assert_eq!(at_a(&shop, item).await, (5, 5), "restocked once");
}
