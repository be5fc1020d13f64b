//! Hot items against DynamoDB Local: stock sharded over several counter rows, units moved
//! between shards when a shopper's shard runs dry, contention raising the shard count, and
//! the waiting room in front of begin-checkout. Shoppers run concurrently as tokio tasks.

use crate::helpers;

use aisle::api::{catalog, shopping};
use aisle::domain::ItemId;
use aisle::ports::Inventory;
use aws_sdk_dynamodb::types::AttributeValue;
use helpers::{receive, Call, Caller, Reply, Shop, WAREHOUSE_A};
use serde_json::json;

/// A seller lists an item and receives `units` of it into warehouse A (all in shard 0).
async fn stocked(shop: &Shop, seller: &Caller, units: u32) -> ItemId {
    let item = helpers::listed_by(shop, seller, "Launch console", "consoles").await;
    receive(shop, WAREHOUSE_A, item, units).await;
    item
}

async fn configure(shop: &Shop, who: &Caller, item: ItemId, body: serde_json::Value) -> Reply {
    send!(
        catalog::configure_sale,
        shop,
        Call::new(
            "PUT /v1/seller/items/{itemId}/sale",
            &[("itemId", &item.to_string())]
        )
        .by(who)
        .json(body)
    )
}

/// A new shopper carts `units` of `item` and begins checkout: the reply, and the shopper.
async fn try_hold(shop: &Shop, item: ItemId, units: u32) -> (Reply, Caller) {
    let who = Caller::shopper();
    begin_as(shop, &who, item, units).await
}

async fn begin_as(shop: &Shop, who: &Caller, item: ItemId, units: u32) -> (Reply, Caller) {
    cart(shop, who, item, units).await;
    (helpers::begin(shop, who).await, who.clone())
}

async fn cart(shop: &Shop, who: &Caller, item: ItemId, units: u32) {
    let added = helpers::add_to_cart(shop, who, item, units).await;
    assert_eq!(added.status, 200, "{:?}", added.body);
}

#[tokio::test]
async fn a_sharded_item_sells_each_unit_once_to_concurrent_shoppers_and_never_says_sold_out_early()
{
    let shop = std::sync::Arc::new(Shop::open().await);
    let seller = Caller::seller();
    let item = stocked(&shop, &seller, 40).await;
    let set = configure(&shop, &seller, item, json!({ "shards": 4 })).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["sale"]["shards"], 4);
    assert_eq!(
        shop.available(&item.to_string()).await,
        40,
        "spreading keeps the sum"
    );

    // 60 shoppers at once for 40 units, spread 10 a shard when it was sharded: a shard that
    // runs dry while others hold units has units moved to it.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let shop = shop.clone();
        tasks.spawn(async move { try_hold(&shop, item, 1).await });
    }
    let (mut held, mut sold_out) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (reply, who) = done.unwrap();
        match reply.status {
            201 => held.push((who, reply.body["checkoutId"].as_str().unwrap().to_owned())),
            409 => {
                assert_eq!(
                    reply.body["error"]["code"], "OUT_OF_STOCK",
                    "{:?}",
                    reply.body
                );
                sold_out += 1;
            }
            other => panic!("unexpected {other}: {:?}", reply.body),
        }
    }
    assert_eq!(held.len(), 40, "every unit sold, none twice");
    assert_eq!(sold_out, 20);
    assert_eq!(shop.available(&item.to_string()).await, 0);
    let stock = shop.app.inventory.stock(&[item]).await.unwrap();
    assert_eq!(stock[&item].total.available, 0, "the sum over all shards");
    assert_eq!(stock[&item].total.sale.shards, 4);

    // Releases give units back to the shard they came from; the sum is what is on sale.
    for (who, checkout) in held.iter().take(5) {
        let cancelled = send!(
            shopping::cancel_checkout,
            shop,
            Call::new(
                "DELETE /v1/checkout/{checkoutId}",
                &[("checkoutId", checkout)]
            )
            .by(who)
        );
        assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    }
    assert_eq!(shop.available(&item.to_string()).await, 5);

    // One shopper wanting all 5 units, now spread over shards: they are gathered, not refused.
    let (reply, _) = try_hold(&shop, item, 5).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(shop.available(&item.to_string()).await, 0);
}

#[tokio::test]
async fn only_the_items_seller_may_shard_it_and_shards_only_grow() {
    let shop = std::sync::Arc::new(Shop::open().await);
    let seller = Caller::seller();
    let item = stocked(&shop, &seller, 3).await;
    let other = configure(&shop, &Caller::seller(), item, json!({ "shards": 2 })).await;
    assert_eq!(other.status, 403, "{:?}", other.body);
    let shopper = configure(&shop, &Caller::shopper(), item, json!({ "shards": 2 })).await;
    assert_eq!(shopper.status, 403, "{:?}", shopper.body);
    let bad = configure(&shop, &seller, item, json!({ "shards": 33 })).await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    assert_eq!(bad.body["error"]["details"][0]["field"], "shards");
    let fast = configure(
        &shop,
        &seller,
        item,
        json!({ "shards": 1, "admitPerSecond": 301 }),
    )
    .await;
    assert_eq!(fast.status, 422, "{:?}", fast.body);
    assert_eq!(
        configure(&shop, &seller, item, json!({ "shards": 8 }))
            .await
            .status,
        200
    );
    let lower = configure(&shop, &seller, item, json!({ "shards": 2 })).await;
    assert_eq!(lower.status, 409, "{:?}", lower.body);
    assert_eq!(lower.body["error"]["code"], "SHARDS_ONLY_GROW");
    assert_eq!(lower.body["error"]["details"]["currentShards"], 8);
    // Stock received after sharding still counts, and receipts report the sum.
    receive(&shop, WAREHOUSE_A, item, 2).await;
    assert_eq!(shop.available(&item.to_string()).await, 5);
}

#[tokio::test]
async fn reconciliation_repairs_a_sharded_item_whose_surplus_sits_outside_shard_zero() {
    let shop = std::sync::Arc::new(Shop::open().await);
    let seller = Caller::seller();
    let item = stocked(&shop, &seller, 8).await;
    let sharded = configure(&shop, &seller, item, json!({ "shards": 4 })).await;
    assert_eq!(sharded.status, 200, "{:?}", sharded.body);
    // Someone adds 5 units to shard 2 by hand: 13 on sale, 8 in the warehouse. Shard 0 holds
    // 2 of them, so the correction of −5 can only land after units are gathered into it.
    helpers::dynamo()
        .await
        .update_item()
        .table_name(aisle_local::template::local_name(
            &shop.prefix,
            "StockTable",
        ))
        .key("pk", AttributeValue::S(format!("ITEM#{item}#S2")))
        .key("sk", AttributeValue::S("SHARD".into()))
        .update_expression("SET available = available + :v")
        .expression_attribute_values(":v", AttributeValue::N("5".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(shop.available(&item.to_string()).await, 13);
    let seen = shop.reconcile(false).await;
    let drift = seen.drifts.iter().find(|d| d.item_id == item).unwrap();
    assert_eq!(
        (drift.recorded, drift.expected, drift.repaired),
        (13, 8, false)
    );
    let fixed = shop.reconcile(true).await;
    let drift = fixed.drifts.iter().find(|d| d.item_id == item).unwrap();
    assert!(drift.repaired, "{drift:?}");
    assert_eq!(shop.available(&item.to_string()).await, 8);
    let again = shop.reconcile(false).await;
    assert!(
        again.drifts.iter().all(|d| d.item_id != item),
        "{:?}",
        again.drifts
    );
    // All 8 still sell, from every shard.
    let (reply, _) = try_hold(&shop, item, 8).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(shop.available(&item.to_string()).await, 0);
}

#[tokio::test]
async fn contention_that_outlasts_the_retries_raises_the_items_shard_count() {
    let shop = std::sync::Arc::new(Shop::open().await);
    let seller = Caller::seller();
    let item = stocked(&shop, &seller, 10).await;
    // Every try of the hold conflicts (the transactor's budget is 6); the raise after it is
    // the seventh transaction and goes through.
    shop.app.faults.conflict_next(6);
    let (reply, _) = try_hold(&shop, item, 1).await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    let sales = shop.app.inventory.stock(&[item]).await.unwrap();
    assert_eq!(sales[&item].total.sale.shards, 2, "raised from 1 to 2");
    assert_eq!(sales[&item].total.available, 10, "nothing was taken");
    let (reply, _) = try_hold(&shop, item, 1).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

#[tokio::test]
async fn the_waiting_room_admits_in_arrival_order_at_its_rate_and_answers_sold_out_at_once() {
    let shop = std::sync::Arc::new(Shop::open().await);
    let seller = Caller::seller();
    let item = stocked(&shop, &seller, 2).await;
    let set = configure(
        &shop,
        &seller,
        item,
        json!({ "shards": 1, "waitingRoom": true, "admitPerSecond": 1 }),
    )
    .await;
    assert_eq!(set.status, 200, "{:?}", set.body);

    // The first arrival on an idle room is admitted at once.
    let (first, _) = try_hold(&shop, item, 1).await;
    assert_eq!(first.status, 201, "{:?}", first.body);

    // The next shoppers queue: 202, a ticket, Retry-After, their place and wait.
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let (reply, who) = try_hold(&shop, item, 1).await;
        assert_eq!(reply.status, 202, "{:?}", reply.body);
        let ticket = reply.body["waitingRoom"].clone();
        assert_eq!(ticket["state"], "WAITING");
        assert!(
            reply.headers.contains_key("retry-after"),
            "{:?}",
            reply.headers
        );
        waiting.push((who, ticket));
    }
    let waits: Vec<u64> = waiting
        .iter()
        .map(|(_, t)| t["estimatedWaitSeconds"].as_u64().unwrap())
        .collect();
    assert!(
        waits.windows(2).all(|w| w[0] <= w[1]),
        "later arrivals wait longer: {waits:?}"
    );
    assert!(waits[0] >= 1, "{waits:?}");

    // Asking again (a double click, a refresh) keeps the same place (the last in line, who
    // waits about 3 s at one admission a second).
    let (last, ticket) = &waiting[2];
    let (again, _) = begin_as(&shop, last, item, 1).await;
    assert_eq!(again.status, 202, "{:?}", again.body);
    assert_eq!(again.body["waitingRoom"]["ticketId"], ticket["ticketId"]);

    // Their turn comes (the test clock moves): admitted and held.
    shop.clock
        .advance(std::time::Duration::from_secs(waits[2] + 1));
    let (admitted, _) = begin_as(&shop, last, item, 1).await;
    assert_eq!(admitted.status, 201, "{:?}", admitted.body);

    // Sold out now: everyone else is told so at once, whatever their ticket says.
    for (who, _) in &waiting[..2] {
        let reply = helpers::begin(&shop, who).await;
        assert_eq!(reply.status, 409, "{:?}", reply.body);
        assert_eq!(reply.body["error"]["code"], "OUT_OF_STOCK");
    }
    let late = send!(
        shopping::put_cart_item,
        shop,
        Call::new(
            "PUT /v1/cart/items/{itemId}",
            &[("itemId", &item.to_string())]
        )
        .by(&Caller::shopper())
        .json(json!({ "quantity": 1 }))
    );
    assert_eq!(late.status, 409, "a new arrival does not queue for nothing");
}

#[tokio::test]
async fn a_sharded_items_search_flag_and_stock_alerts_follow_the_sum_of_its_shards() {
    let shop = std::sync::Arc::new(Shop::open().await);
    let seller = Caller::seller();
    let item = stocked(&shop, &seller, 4).await;
    assert_eq!(
        configure(&shop, &seller, item, json!({ "shards": 4 }))
            .await
            .status,
        200
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let shop = shop.clone();
        tasks.spawn(async move { try_hold(&shop, item, 1).await.0.status });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
    shop.pump_streams().await;
    shop.pump_index().await;
    let events = shop.published().await;
    let low: Vec<_> = events
        .iter()
        .filter(|(kind, d)| kind == "LowStock" && d["itemId"] == item.to_string())
        .collect();
    assert_eq!(
        low.len(),
        1,
        "one alert for one crossing of the threshold (3): {events:?}"
    );
    assert_eq!(low[0].1["sellerId"], seller.user_id().to_string());
    let mut q = aisle::domain::SearchQuery::all();
    q.in_stock_only = true;
    let index = shop.app.search.index().unwrap();
    let hits = index.search(&q).await.unwrap().hits;
    assert!(
        hits.iter().all(|h| h.doc.item.item_id != item),
        "search shows it out of stock once every shard is empty"
    );
    q.in_stock_only = false;
    let all = index.search(&q).await.unwrap().hits;
    assert!(
        all.iter().any(|h| h.doc.item.item_id == item),
        "but still lists it"
    );
}

#[tokio::test]
async fn a_closed_connection_stops_watching_every_item_it_watched() {
    use aisle::ports::{ConnectionId, Watchers};
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let (first, second) = (
        stocked(&shop, &seller, 1).await,
        stocked(&shop, &seller, 1).await,
    );
    let gone = ConnectionId::try_from("conn-gone=").unwrap();
    let staying = ConnectionId::try_from("conn-staying=").unwrap();
    shop.app
        .watchers
        .watch(&gone, &[first, second], None)
        .await
        .unwrap();
    shop.app
        .watchers
        .watch(&staying, &[first], None)
        .await
        .unwrap();
    let watchers = |item| {
        let shop = &shop;
        async move {
            let mut ids: Vec<String> = shop
                .app
                .watchers
                .watching(item)
                .await
                .unwrap()
                .into_iter()
                .map(|w| w.connection.to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(watchers(first).await, ["conn-gone=", "conn-staying="]);
    shop.app.watchers.forget(&gone).await.unwrap();
    assert_eq!(watchers(first).await, ["conn-staying="]);
    assert!(
        watchers(second).await.is_empty(),
        "nothing is left under the second item"
    );
    shop.app.watchers.forget(&gone).await.unwrap();
    assert_eq!(
        watchers(first).await,
        ["conn-staying="],
        "forgetting twice changes nothing"
    );
}
