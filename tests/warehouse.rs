//! The warehouse side against DynamoDB Local and moto: assignment (single warehouse first,
//! else a split), warehouse messages applied exactly once (twice delivered, out of order,
//! malformed), cancellation and returns, shortfalls, low-stock events and reconciliation.

use crate::helpers;

use std::collections::HashMap;

use aisle::domain::{ItemId, OrderId, OrderStatus, ShipmentState, Timestamp};
use aisle::ports::{Fulfilment, Orders, Warehouses};
use aisle::usecases::fulfilment::{self, Assignment};
use helpers::{
    authorise_return, deliver, listed, message, place_order, received, Call, Caller, Shop,
    WAREHOUSE_A, WAREHOUSE_B,
};
use serde_json::json;

async fn assign(shop: &Shop, order: OrderId) -> Assignment {
    let sites = shop.app.warehouses.list().await.unwrap();
    fulfilment::assign(shop.app.shop(), &sites, order, Timestamp::now())
        .await
        .unwrap()
}

/// (physical, available) of an item at a warehouse, and its aggregated available.
async fn levels(shop: &Shop, item: ItemId) -> (HashMap<String, (u32, u32)>, u32) {
    let stock = shop
        .app
        .fulfilment
        .stock(&[item])
        .await
        .unwrap()
        .remove(&item)
        .unwrap_or_default();
    let per = stock
        .warehouses
        .iter()
        .map(|(w, s)| (w.as_str().to_owned(), (s.physical, s.available)))
        .collect();
    (per, stock.total.available)
}

async fn status(shop: &Shop, order: OrderId) -> OrderStatus {
    shop.app.orders.get(order).await.unwrap().unwrap().status
}

#[tokio::test]
async fn a_single_warehouse_holding_everything_wins_over_a_nearer_split() {
    let shop = Shop::open().await;
    let (a, b) = (listed(&shop, "Anvil").await, listed(&shop, "Bellows").await);
    // Near warehouse A (Bloomington, the shopper's town) has only one of them; far B has both.
    assert!(deliver(
        &shop,
        &[
            received(WAREHOUSE_A, a, 5),
            received(WAREHOUSE_B, a, 5),
            received(WAREHOUSE_B, b, 5)
        ]
    )
    .await
    .is_empty());
    let order = place_order(&shop, &[(a, 1), (b, 1)]).await;
    assert_eq!(
        assign(&shop, order).await,
        Assignment::Assigned(vec![WAREHOUSE_B.try_into().unwrap()])
    );
    let shipments = shop.app.fulfilment.shipments(order).await.unwrap();
    assert_eq!(shipments.len(), 1);
    assert_eq!(status(&shop, order).await, OrderStatus::Processing);
    assert!(shop
        .app
        .orders
        .get(order)
        .await
        .unwrap()
        .unwrap()
        .eta
        .is_some());
    // B's available fell; A's did not; the aggregate was already taken at checkout.
    let (per, total) = levels(&shop, a).await;
    assert_eq!(
        (per[WAREHOUSE_A], per[WAREHOUSE_B], total),
        ((5, 5), (5, 4), 9)
    );
}

#[tokio::test]
async fn an_order_whose_items_sit_in_two_warehouses_becomes_two_warehouse_orders() {
    let shop = Shop::open().await;
    let (a, b) = (listed(&shop, "Anvil").await, listed(&shop, "Bellows").await);
    assert!(deliver(
        &shop,
        &[received(WAREHOUSE_A, a, 2), received(WAREHOUSE_B, b, 2)]
    )
    .await
    .is_empty());
    let order = place_order(&shop, &[(a, 2), (b, 1)]).await;
    let Assignment::Assigned(mut sites) = assign(&shop, order).await else {
        panic!("not assigned")
    };
    sites.sort();
    assert_eq!(
        sites,
        vec![
            WAREHOUSE_A.try_into().unwrap(),
            WAREHOUSE_B.try_into().unwrap()
        ]
    );
    let shipments = shop.app.fulfilment.shipments(order).await.unwrap();
    let by_site: HashMap<&str, u32> = shipments
        .iter()
        .map(|s| {
            (
                s.warehouse_id.as_str(),
                s.lines.iter().map(|l| l.quantity.get()).sum(),
            )
        })
        .collect();
    assert_eq!((by_site[WAREHOUSE_A], by_site[WAREHOUSE_B]), (2, 1));
}

#[tokio::test]
async fn an_order_no_warehouse_can_fill_is_backordered_and_nothing_goes_negative() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 2)])
        .await
        .is_empty());
    let order = place_order(&shop, &[(a, 2)]).await;
    // Warehouse and aggregate disagree: the warehouse lost its units after the checkout.
    assert!(deliver(
        &shop,
        &[message(
            WAREHOUSE_A,
            "StockAdjusted",
            json!({ "itemId": a, "quantity": -2, "reason": "LOSS" })
        )]
    )
    .await
    .is_empty());
    assert_eq!(assign(&shop, order).await, Assignment::Backordered(vec![a]));
    assert_eq!(status(&shop, order).await, OrderStatus::Backordered);
    // Nothing negative: the shelf is empty, the aggregate stays 0, and the 2 units the order
    // counts on stay on the warehouse's books as a recorded shortfall, never promised again.
    let (per, total) = levels(&shop, a).await;
    assert_eq!((per[WAREHOUSE_A], total), ((0, 2), 0));
    // Stock arrives where it was lost: it first makes the shortfall good (2 of 3 units), the
    // third goes on sale; the reconciliation retries backorders.
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 3)])
        .await
        .is_empty());
    assert_eq!(
        levels(&shop, a).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (3, 3))]), 1)
    );
    let report = shop.reconcile(false).await;
    assert_eq!(report.backorders_retried, 1);
    assert_eq!(status(&shop, order).await, OrderStatus::Processing);
}

#[tokio::test]
async fn each_message_type_delivered_twice_is_applied_once() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    let receipt = received(WAREHOUSE_A, a, 10);
    assert!(deliver(&shop, &[receipt.clone(), receipt]).await.is_empty());
    assert_eq!(
        levels(&shop, a).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (10, 10))]), 10)
    );

    let loss = message(
        WAREHOUSE_A,
        "StockAdjusted",
        json!({ "itemId": a, "quantity": -1, "reason": "DAMAGE" }),
    );
    let found = message(
        WAREHOUSE_A,
        "StockAdjusted",
        json!({ "itemId": a, "quantity": 2, "reason": "FOUND" }),
    );
    assert!(deliver(&shop, &[loss.clone(), loss, found.clone(), found])
        .await
        .is_empty());
    assert_eq!(levels(&shop, a).await.1, 11);

    let order = place_order(&shop, &[(a, 3)]).await;
    assert!(matches!(
        assign(&shop, order).await,
        Assignment::Assigned(_)
    ));
    let shipped = message(
        WAREHOUSE_A,
        "WarehouseOrderShipped",
        json!({ "orderId": order, "trackingNumber": "1Z999AA10123456784" }),
    );
    assert!(deliver(&shop, &[shipped.clone(), shipped]).await.is_empty());
    assert_eq!(status(&shop, order).await, OrderStatus::Shipped);
    assert_eq!(
        levels(&shop, a).await.0[WAREHOUSE_A],
        (8, 8),
        "physical falls once, by 3"
    );

    let delivered = message(
        WAREHOUSE_A,
        "WarehouseOrderDelivered",
        json!({ "orderId": order }),
    );
    assert!(deliver(&shop, &[delivered.clone(), delivered])
        .await
        .is_empty());
    assert_eq!(status(&shop, order).await, OrderStatus::Delivered);

    let rma = authorise_return(&shop, order, &[(a, 3)]).await;
    let back = message(
        WAREHOUSE_A,
        "ReturnReceived",
        json!({ "orderId": order, "returnId": rma, "lines": [{ "itemId": a, "quantity": 2 }], "condition": "RESELLABLE" }),
    );
    assert!(deliver(&shop, &[back.clone(), back]).await.is_empty());
    let order_now = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(
        order_now.status,
        OrderStatus::PartiallyRefunded,
        "2 of 3 units back: the third is still the shopper's"
    );
    assert_eq!(
        order_now.payment.refunded,
        2 * order_now.lines[0].unit_price.amount
    );
    let rest = message(
        WAREHOUSE_A,
        "ReturnReceived",
        json!({ "orderId": order, "returnId": rma, "lines": [{ "itemId": a, "quantity": 1 }], "condition": "DAMAGED" }),
    );
    assert!(deliver(&shop, &[rest.clone(), rest]).await.is_empty());
    let order_now = shop.app.orders.get(order).await.unwrap().unwrap();
    assert_eq!(order_now.status, OrderStatus::Refunded, "every unit back");
    assert_eq!(order_now.payment.refunded, order_now.payment.captured);
    assert!(order_now
        .timeline
        .iter()
        .any(|c| c.status == OrderStatus::Returned));
    assert_eq!(
        levels(&shop, a).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (10, 10))]), 10),
        "restocked once"
    );
}

#[tokio::test]
async fn shipped_before_the_assignment_redelivery_is_applied_once_and_the_redelivery_changes_nothing(
) {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 4)])
        .await
        .is_empty());
    let order = place_order(&shop, &[(a, 1)]).await;
    // A shipment report that arrives before its assignment is retried, not dropped.
    let shipped = message(
        WAREHOUSE_A,
        "WarehouseOrderShipped",
        json!({ "orderId": order, "trackingNumber": "TRK-1" }),
    );
    assert_eq!(
        deliver(&shop, &[shipped.clone()]).await,
        vec!["m0".to_owned()]
    );
    assert!(matches!(
        assign(&shop, order).await,
        Assignment::Assigned(_)
    ));
    assert!(deliver(&shop, &[shipped]).await.is_empty());
    let before = levels(&shop, a).await;
    assert_eq!(
        assign(&shop, order).await,
        Assignment::AlreadyHandled(OrderStatus::Shipped)
    );
    assert_eq!(levels(&shop, a).await, before);
    assert_eq!(
        shop.app.fulfilment.shipments(order).await.unwrap()[0].state,
        ShipmentState::Shipped
    );
    // Delivered before shipped would also wait: here it comes after, and lands.
    let delivered = message(
        WAREHOUSE_A,
        "WarehouseOrderDelivered",
        json!({ "orderId": order }),
    );
    assert!(deliver(&shop, &[delivered]).await.is_empty());
    assert_eq!(status(&shop, order).await, OrderStatus::Delivered);
}

#[tokio::test]
async fn a_malformed_message_lands_in_the_dead_letter_queue_with_a_reason_and_the_queue_keeps_flowing(
) {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    for body in [
        "{not json".to_owned(),
        message(
            WAREHOUSE_A,
            "StockAdjusted",
            json!({ "itemId": a, "quantity": 5, "reason": "LOSS" }),
        )
        .to_string(),
        message(
            "wh-nowhere",
            "StockReceived",
            json!({ "itemId": a, "quantity": 1 }),
        )
        .to_string(),
        received(WAREHOUSE_A, a, 6).to_string(),
    ] {
        shop.enqueue("WarehouseUpdatesQueue", &body).await;
    }
    assert_eq!(shop.pump_queue("WarehouseUpdatesQueue").await, 4);
    assert_eq!(
        levels(&shop, a).await.1,
        6,
        "the good message behind them applied"
    );
    let parked = shop.drain("WarehouseUpdatesDeadLetters").await;
    assert_eq!(parked.len(), 3, "{parked:?}");
    let reasons: Vec<String> = parked
        .iter()
        .map(|(_, r)| r.clone().unwrap_or_default())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("not a warehouse message")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("negative")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("SENDER_MISMATCH")),
        "a warehouse no identity is bound to speaks for nobody: {reasons:?}"
    );
}

#[tokio::test]
async fn order_placed_reaches_the_assignment_worker_through_the_rule_and_its_queue() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 1)])
        .await
        .is_empty());
    let order = place_order(&shop, &[(a, 1)]).await;
    shop.pump_streams().await; // publish-events → bus → rule → AssignmentQueue
    let assigned = helpers::eventually(std::time::Duration::from_secs(10), || async {
        shop.pump_queue("AssignmentQueue").await;
        status(&shop, order).await == OrderStatus::Processing
    })
    .await;
    assert!(assigned);
    // A poison message goes to the assignment DLQ with its reason.
    shop.enqueue("AssignmentQueue", r#"{"detail":{"orderId":"not-an-id"}}"#)
        .await;
    shop.pump_queue("AssignmentQueue").await;
    let parked = shop.drain("AssignmentDeadLetters").await;
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].1.as_deref().unwrap_or("").contains("UUID"),
        "{parked:?}"
    );
}

#[tokio::test]
async fn cancelling_an_assigned_order_restores_warehouse_and_aggregated_stock_exactly_once() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 5)])
        .await
        .is_empty());
    let who_order = place_order(&shop, &[(a, 2)]).await;
    assert!(matches!(
        assign(&shop, who_order).await,
        Assignment::Assigned(_)
    ));
    assert_eq!(
        levels(&shop, a).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (5, 3))]), 3)
    );
    let order = shop.app.orders.get(who_order).await.unwrap().unwrap();
    for _ in 0..2 {
        let cancelled = aisle::usecases::orders::cancel(shop.app.shop(), &order.user_id, who_order)
            .await
            .unwrap();
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
    }
    assert_eq!(
        levels(&shop, a).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (5, 5))]), 5)
    );
    assert_eq!(
        shop.app.fulfilment.shipments(who_order).await.unwrap()[0].state,
        ShipmentState::Cancelled
    );
    // After shipping, cancelling is refused.
    let shipped_order = place_order(&shop, &[(a, 1)]).await;
    assign(&shop, shipped_order).await;
    deliver(
        &shop,
        &[message(
            WAREHOUSE_A,
            "WarehouseOrderShipped",
            json!({ "orderId": shipped_order, "trackingNumber": "TRK-2" }),
        )],
    )
    .await;
    let user = shop
        .app
        .orders
        .get(shipped_order)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    assert!(
        aisle::usecases::orders::cancel(shop.app.shop(), &user, shipped_order)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_loss_of_promised_units_records_a_shortfall_and_flags_the_shipment_instead_of_going_negative(
) {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 3)])
        .await
        .is_empty());
    let order = place_order(&shop, &[(a, 2)]).await;
    assign(&shop, order).await;
    // 3 on the shelf, 2 promised, 1 available: losing 3 leaves a shortfall of 2.
    let loss = message(
        WAREHOUSE_A,
        "StockAdjusted",
        json!({ "itemId": a, "quantity": -3, "reason": "LOSS" }),
    );
    assert!(deliver(&shop, &[loss]).await.is_empty());
    assert_eq!(
        levels(&shop, a).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (0, 0))]), 0)
    );
    let flagged = &shop.app.fulfilment.shipments(order).await.unwrap()[0];
    assert!(
        flagged.flag.as_deref().unwrap_or("").contains("shortfall"),
        "{flagged:?}"
    );
    shop.pump_streams_of(&["StockTable"]).await;
    let events = shop.published().await;
    let shortfall = events
        .iter()
        .find(|(t, _)| t == "StockShortfall")
        .expect("StockShortfall published");
    assert_eq!(shortfall.1["units"], 2);
}

#[tokio::test]
async fn a_resellable_return_restocks_and_refunds_and_a_damaged_one_only_refunds() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 4)])
        .await
        .is_empty());
    for (condition, back_on_shelf) in [("DAMAGED", 0), ("RESELLABLE", 1)] {
        let before = levels(&shop, a).await;
        let order = place_order(&shop, &[(a, 1)]).await;
        assign(&shop, order).await;
        for kind in ["WarehouseOrderShipped", "WarehouseOrderDelivered"] {
            assert!(deliver(
                &shop,
                &[message(
                    WAREHOUSE_A,
                    kind,
                    json!({ "orderId": order, "trackingNumber": "TRK-3" })
                )]
            )
            .await
            .is_empty());
        }
        let rma = authorise_return(&shop, order, &[(a, 1)]).await;
        let back = message(
            WAREHOUSE_A,
            "ReturnReceived",
            json!({ "orderId": order, "returnId": rma, "lines": [{ "itemId": a, "quantity": 1 }], "condition": condition }),
        );
        assert!(deliver(&shop, &[back]).await.is_empty());
        let after = shop.app.orders.get(order).await.unwrap().unwrap();
        assert_eq!(
            (after.status, after.payment.state),
            (OrderStatus::Refunded, aisle::domain::PaymentState::Refunded)
        );
        let (per, total) = levels(&shop, a).await;
        let (p0, a0) = before.0[WAREHOUSE_A];
        assert_eq!(
            (per[WAREHOUSE_A], total),
            (
                (p0 - 1 + back_on_shelf, a0 - 1 + back_on_shelf),
                before.1 - 1 + back_on_shelf
            ),
            "{condition}"
        );
    }
}

#[tokio::test]
async fn low_stock_is_announced_once_per_crossing_and_back_in_stock_on_recovery() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await; // threshold 3
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 5)])
        .await
        .is_empty());
    for _ in 0..4 {
        // 5 → 4 → 3 → 2 (crossing) → 1: one LowStock, not one per write
        deliver(
            &shop,
            &[message(
                WAREHOUSE_A,
                "StockAdjusted",
                json!({ "itemId": a, "quantity": -1, "reason": "LOSS" }),
            )],
        )
        .await;
    }
    deliver(&shop, &[received(WAREHOUSE_A, a, 10)]).await;
    shop.pump_streams_of(&["StockTable"]).await;
    let kinds: Vec<String> = shop
        .published()
        .await
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| t == "LowStock" || t == "BackInStock")
        .collect();
    assert_eq!(kinds, ["LowStock", "BackInStock"]);
    // The rule routes them to the sellers' notifications queue.
    let notified = shop.drain("SellerNotificationsQueue").await;
    assert_eq!(notified.len(), 2, "{notified:?}");
}

#[tokio::test]
async fn a_seller_reads_their_own_stock_notices_newest_first_each_kept_once() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let created = send!(
        aisle::api::catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&seller)
            .json(helpers::listing("Anvil", "widgets")) // threshold 3
    );
    let a = ItemId::try_from(created.body["itemId"].as_str().unwrap()).unwrap();
    deliver(&shop, &[received(WAREHOUSE_A, a, 3)]).await;
    let loss = |n: i64| {
        message(
            WAREHOUSE_A,
            "StockAdjusted",
            json!({ "itemId": a, "quantity": n, "reason": "LOSS" }),
        )
    };
    deliver(&shop, &[loss(-1)]).await; // 3 → 2: low
    shop.pump_streams_of(&["StockTable"]).await;
    deliver(&shop, &[received(WAREHOUSE_A, a, 5)]).await; // 2 → 7: back
    shop.pump_streams_of(&["StockTable"]).await;
    // Every alert arrives twice (SQS redelivers): each is kept once.
    let bodies: Vec<String> = shop
        .drain("SellerNotificationsQueue")
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    for body in bodies.iter().chain(bodies.iter()) {
        shop.enqueue("SellerNotificationsQueue", body).await;
    }
    // And one message that is no notice at all.
    shop.enqueue(
        "SellerNotificationsQueue",
        "{\"detail-type\":\"OrderPlaced\"}",
    )
    .await;
    assert_eq!(shop.pump_queue("SellerNotificationsQueue").await, 5);
    let parked = shop.drain("SellerNotificationsDeadLetters").await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(parked[0]
        .1
        .as_deref()
        .unwrap_or("")
        .contains("not a seller notice"));

    let list = |who: &Caller, q: &str| {
        let call = Call::new("GET /v1/seller/notifications", &[])
            .by(who)
            .query(q);
        let shop = &shop;
        async move { send!(aisle::api::catalog::list_seller_notifications, shop, call) }
    };
    let mine = list(&seller, "").await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    let kinds: Vec<&str> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["BACK_IN_STOCK", "LOW_STOCK"],
        "newest first, once each"
    );
    assert_eq!(mine.body["items"][1]["available"], 2);
    assert_eq!(mine.body["items"][1]["itemId"], json!(a.to_string()));
    // Paged one at a time, the same two.
    let first = list(&seller, "limit=1").await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = list(&seller, &format!("limit=1&cursor={cursor}")).await;
    assert_eq!(second.body["items"][0]["kind"], "LOW_STOCK");
    // Another seller sees none of them; a shopper is refused; a foreign cursor is a 400.
    let other = Caller::seller();
    assert_eq!(list(&other, "").await.body["items"], json!([]));
    assert_eq!(list(&Caller::shopper(), "").await.status, 403);
    assert_eq!(list(&other, &format!("cursor={cursor}")).await.status, 400);
}

#[tokio::test]
async fn the_reconcile_function_checks_every_item_under_its_own_grants() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 5)])
        .await
        .is_empty());
    let reconciler = shop.as_function("reconcile-stock").await;
    let event =
        lambda_runtime::LambdaEvent::new(json!({ "repair": true }), helpers::lambda_context());
    let answer = aisle::workers::reconcile_stock(&reconciler, event)
        .await
        .unwrap();
    assert!(answer["itemsChecked"].as_u64().unwrap() >= 1, "{answer}");
    assert_eq!(levels(&shop, a).await.1, 5);
}

#[tokio::test]
async fn reconciliation_reports_drift_and_repairs_it_only_when_told() {
    let shop = Shop::open().await;
    let a = listed(&shop, "Anvil").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_A, a, 5)])
        .await
        .is_empty());
    let clean = shop.reconcile(false).await;
    assert!(clean.drifts.is_empty(), "{:?}", clean.drifts);
    // Someone edits the aggregated row by hand.
    helpers::dynamo()
        .await
        .update_item()
        .table_name(aisle_local::template::local_name(
            &shop.prefix,
            "StockTable",
        ))
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ITEM#{a}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("TOTAL".into()),
        )
        .update_expression("SET available = :v")
        .expression_attribute_values(":v", aws_sdk_dynamodb::types::AttributeValue::N("9".into()))
        .send()
        .await
        .unwrap();
    let seen = shop.reconcile(false).await;
    assert_eq!(seen.drifts.len(), 1);
    assert_eq!(
        (
            seen.drifts[0].recorded,
            seen.drifts[0].expected,
            seen.drifts[0].repaired
        ),
        (9, 5, false)
    );
    assert_eq!(levels(&shop, a).await.1, 9, "reported, not repaired");
    let fixed = shop.reconcile(true).await;
    assert!(fixed.drifts[0].repaired);
    assert_eq!(levels(&shop, a).await.1, 5);
}

/// Σ captured − Σ refunded by the provider for one order's checkout.
fn kept(shop: &Shop, order: &aisle::domain::Order) -> i64 {
    let ledger = shop.ledger();
    let prefix = order.checkout_id.to_string();
    ledger
        .charges
        .iter()
        .filter(|(key, c)| key.starts_with(&prefix) && c.captured)
        .map(|(key, c)| c.amount.amount - ledger.refunded(key))
        .sum()
}

#[tokio::test]
async fn cancelling_one_line_of_an_assigned_order_shrinks_its_parcel_returns_its_units_once_and_refunds_it(
) {
    let shop = Shop::with_test_provider().await; // reads the provider ledger
    let a = listed(&shop, "Anvil").await;
    let b = listed(&shop, "Bellows").await;
    assert!(deliver(
        &shop,
        &[received(WAREHOUSE_A, a, 5), received(WAREHOUSE_A, b, 5)]
    )
    .await
    .is_empty());
    let id = place_order(&shop, &[(a, 2), (b, 1)]).await;
    assert!(matches!(assign(&shop, id).await, Assignment::Assigned(_)));
    let order = shop.app.orders.get(id).await.unwrap().unwrap();
    let price = order.lines[0].unit_price.amount;
    assert_eq!(kept(&shop, &order), 3 * price);
    let who = helpers::Caller::Shopper(order.user_id.to_string());
    let cancel_b = || {
        helpers::Call::new(
            "POST /v1/orders/{orderId}/lines/{itemId}/cancel",
            &[("orderId", &id.to_string()), ("itemId", &b.to_string())],
        )
        .by(&who)
        .json(json!({ "reason": "ordered by mistake" }))
    };
    for _ in 0..2 {
        let reply = send!(aisle::api::shopping::cancel_order_line, shop, cancel_b());
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["status"], "PROCESSING");
        assert_eq!(reply.body["lines"].as_array().unwrap().len(), 1);
        assert_eq!(reply.body["total"]["amount"], 2 * price);
    }
    assert_eq!(
        kept(&shop, &order),
        2 * price,
        "the line's amount refunded, once"
    );
    assert_eq!(
        levels(&shop, b).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (5, 5))]), 5),
        "its units back at the warehouse and in the aggregate, once"
    );
    let parcels = shop.app.fulfilment.shipments(id).await.unwrap();
    assert_eq!(parcels.len(), 1);
    assert_eq!(parcels[0].state, ShipmentState::Assigned);
    assert_eq!(
        (parcels[0].units_of(a), parcels[0].units_of(b)),
        (2, 0),
        "the parcel shrank"
    );
    shop.pump_streams().await;
    let published = shop.published().await;
    assert!(
        published
            .iter()
            .any(|(kind, detail)| kind == "OrderLineCancelled"
                && detail["itemId"] == json!(b)
                && detail["reason"] == "ordered by mistake"),
        "{published:?}"
    );
    // Someone else's order is not found; an item not in the order is not found.
    let stranger = helpers::Caller::shopper();
    let theirs = send!(
        aisle::api::shopping::cancel_order_line,
        shop,
        helpers::Call::new(
            "POST /v1/orders/{orderId}/lines/{itemId}/cancel",
            &[("orderId", &id.to_string()), ("itemId", &b.to_string())],
        )
        .by(&stranger)
        .json(json!({ "reason": "x" }))
    );
    assert_eq!(theirs.status, 404);

    // The last line: the whole order is cancelled.
    let last = aisle::usecases::orders::cancel_line(
        shop.app.shop(),
        &order.user_id,
        id,
        a,
        "changed my mind".into(),
    )
    .await
    .unwrap();
    assert_eq!(last.status, OrderStatus::Cancelled);
    assert_eq!(kept(&shop, &order), 0);
    assert_eq!(levels(&shop, a).await.1, 5);
    let parcels = shop.app.fulfilment.shipments(id).await.unwrap();
    assert_eq!(parcels[0].state, ShipmentState::Cancelled);
}

#[tokio::test]
async fn cancelling_a_line_of_an_unassigned_order_gives_its_units_back_to_the_aggregate() {
    let shop = Shop::with_test_provider().await; // reads the provider ledger
    let a = listed(&shop, "Anvil").await;
    let b = listed(&shop, "Bellows").await;
    deliver(
        &shop,
        &[received(WAREHOUSE_A, a, 3), received(WAREHOUSE_A, b, 3)],
    )
    .await;
    let id = place_order(&shop, &[(a, 1), (b, 2)]).await;
    let order = shop.app.orders.get(id).await.unwrap().unwrap();
    let next = aisle::usecases::orders::cancel_line(
        shop.app.shop(),
        &order.user_id,
        id,
        b,
        "too many".into(),
    )
    .await
    .unwrap();
    assert_eq!(next.status, OrderStatus::Placed);
    assert_eq!(levels(&shop, b).await.1, 3);
    assert_eq!(levels(&shop, a).await.1, 2);
    assert_eq!(kept(&shop, &order), order.lines[0].unit_price.amount);
    // Assignment then ships only what is left.
    assert!(matches!(assign(&shop, id).await, Assignment::Assigned(_)));
    let parcels = shop.app.fulfilment.shipments(id).await.unwrap();
    assert_eq!((parcels[0].units_of(a), parcels[0].units_of(b)), (1, 0));
    assert_eq!(
        levels(&shop, b).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (3, 3))]), 3)
    );
}

#[tokio::test]
async fn a_partial_return_leaves_the_rest_returnable_and_the_rest_comes_back_later_end_to_end() {
    let shop = Shop::with_test_provider().await; // reads the provider ledger
    let a = listed(&shop, "Anvil").await;
    deliver(&shop, &[received(WAREHOUSE_A, a, 5)]).await;
    let id = place_order(&shop, &[(a, 3)]).await;
    assign(&shop, id).await;
    for kind in ["WarehouseOrderShipped", "WarehouseOrderDelivered"] {
        let fields = json!({ "orderId": id, "trackingNumber": "TRK-9" });
        assert!(deliver(&shop, &[message(WAREHOUSE_A, kind, fields)])
            .await
            .is_empty());
    }
    let order = shop.app.orders.get(id).await.unwrap().unwrap();
    let price = order.lines[0].unit_price.amount;
    let ask = |units: u32| {
        aisle::usecases::returns::request(
            shop.app.shop(),
            &order.user_id,
            id,
            vec![aisle::domain::ReturnLine {
                item_id: a,
                quantity: aisle::domain::Quantity::try_from(i64::from(units)).unwrap(),
            }],
            format!("too heavy ({units})"),
            None,
        )
    };
    let first = ask(1).await.unwrap().authorisation.return_id;
    assert_eq!(status(&shop, id).await, OrderStatus::ReturnRequested);
    let one_back = message(
        WAREHOUSE_A,
        "ReturnReceived",
        json!({ "orderId": id, "returnId": first, "lines": [{ "itemId": a, "quantity": 1 }], "condition": "RESELLABLE" }),
    );
    assert!(deliver(&shop, &[one_back]).await.is_empty());
    assert_eq!(status(&shop, id).await, OrderStatus::PartiallyRefunded);
    assert_eq!(kept(&shop, &order), 2 * price);

    assert!(ask(3).await.is_err(), "only 2 units are left to return");
    let second = ask(2).await.unwrap().authorisation.return_id;
    assert_eq!(status(&shop, id).await, OrderStatus::ReturnRequested);
    let rest_back = message(
        WAREHOUSE_A,
        "ReturnReceived",
        json!({ "orderId": id, "returnId": second, "lines": [{ "itemId": a, "quantity": 2 }], "condition": "RESELLABLE" }),
    );
    assert!(deliver(&shop, &[rest_back.clone(), rest_back])
        .await
        .is_empty());
    let done = shop.app.orders.get(id).await.unwrap().unwrap();
    assert_eq!(done.status, OrderStatus::Refunded);
    assert_eq!(done.payment.state, aisle::domain::PaymentState::Refunded);
    assert_eq!(kept(&shop, &order), 0, "every unit refunded once");
    assert_eq!(
        levels(&shop, a).await,
        (HashMap::from([(WAREHOUSE_A.to_owned(), (5, 5))]), 5),
        "all three restocked"
    );
    let late = message(
        WAREHOUSE_A,
        "ReturnReceived",
        json!({ "orderId": id, "lines": [{ "itemId": a, "quantity": 1 }], "condition": "RESELLABLE" }),
    );
    deliver(&shop, &[late]).await;
    assert_eq!(
        kept(&shop, &order),
        0,
        "nothing refunded past what was paid"
    );
}

#[tokio::test]
async fn one_alert_taken_by_two_consumers_at_once_is_kept_once() {
    // SQS can hand one message to two instances (a visibility timeout running out mid-way).
    use aisle::usecases::notices::{keep, Kept};
    let shop = Shop::open().await;
    let app = shop.as_function("keep-seller-notices").await;
    let item = ItemId::try_from("5f0c6a52-4c1e-4c57-9d51-0b8f1f1c2a01").unwrap();
    let body = json!({
        "version": "0", "id": "eb-1", "detail-type": "LowStock", "source": "aisle.stock",
        "time": "2026-12-01T10:00:00Z", "resources": [format!("aisle:event:stock/{item}/LowStock/7")],
        "detail": { "version": 1, "itemId": item, "sellerId": "seller-twice", "available": 2, "threshold": 3, "stockVersion": 7 }
    })
    .to_string();
    let (first, second) = tokio::join!(
        keep(&app.notices, &app.catalog, &body),
        keep(&app.notices, &app.catalog, &body)
    );
    let mut outcomes = vec![first.unwrap(), second.unwrap()];
    outcomes.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(outcomes, [Kept::Again, Kept::New]);
    let seller = Caller::Seller("seller-twice".into());
    let listed = send!(
        aisle::api::catalog::list_seller_notifications,
        shop,
        Call::new("GET /v1/seller/notifications", &[]).by(&seller)
    );
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn warehouse_a_speaking_for_b_is_refused_over_http_and_parked_from_the_queue_and_b_is_untouched(
) {
    let shop = Shop::open().await;
    let a = listed(&shop, "Held by B").await;
    assert!(deliver(&shop, &[received(WAREHOUSE_B, a, 5)])
        .await
        .is_empty());
    let order = place_order(&shop, &[(a, 1)]).await;
    assert!(matches!(
        assign(&shop, order).await,
        Assignment::Assigned(_)
    ));
    let before = (levels(&shop, a).await, status(&shop, order).await);

    // Over HTTP: A's client-credentials token on B's route. 403 before the body is read.
    let as_a = send!(
        aisle::api::stock::receive_stock,
        shop,
        helpers::Call::new(
            "POST /v1/warehouses/{warehouseId}/stock",
            &[("warehouseId", WAREHOUSE_B)],
        )
        .by(&helpers::Caller::warehouse(WAREHOUSE_A))
        .json(json!({ "itemId": a, "quantity": 5 }))
    );
    assert_eq!((as_a.status, as_a.code()), (403, "FORBIDDEN"));
    // A person (even a seller) is never a warehouse, whatever their token says.
    let person = send!(
        aisle::api::stock::receive_stock,
        shop,
        helpers::Call::new(
            "POST /v1/warehouses/{warehouseId}/stock",
            &[("warehouseId", WAREHOUSE_B)],
        )
        .by(&helpers::Caller::seller())
        .json(json!({ "itemId": a, "quantity": 5 }))
    );
    assert_eq!(person.status, 403);

    // Over the queue: A's own role sends messages naming B (a receipt and a shipment).
    for body in [
        received(WAREHOUSE_B, a, 5),
        message(
            WAREHOUSE_B,
            "WarehouseOrderShipped",
            json!({ "orderId": order, "trackingNumber": "1ZFORGED0000000001" }),
        ),
    ] {
        shop.send_as_warehouse(WAREHOUSE_A, &body.to_string()).await;
    }
    assert_eq!(shop.pump_queue("WarehouseUpdatesQueue").await, 2);
    let parked = shop.drain("WarehouseUpdatesDeadLetters").await;
    assert_eq!(parked.len(), 2, "{parked:?}");
    assert!(
        parked
            .iter()
            .all(|(_, r)| r.as_deref().unwrap_or("").starts_with("SENDER_MISMATCH")),
        "{parked:?}"
    );

    assert_eq!(
        (levels(&shop, a).await, status(&shop, order).await),
        before,
        "B's stock and parcels are as they were"
    );
    let shipments = shop.app.fulfilment.shipments(order).await.unwrap();
    assert!(shipments.iter().all(|s| s.state != ShipmentState::Shipped));

    // And B's own role is believed.
    shop.send_as_warehouse(WAREHOUSE_B, &received(WAREHOUSE_B, a, 1).to_string())
        .await;
    assert_eq!(shop.pump_queue("WarehouseUpdatesQueue").await, 1);
    assert_eq!(levels(&shop, a).await.1, before.0 .1 + 1);
}
