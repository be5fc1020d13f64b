//! Stream records that do not decode: parked in the stream failure queue with their reason,
//! never read as a deletion, another event or a zero, and the rest of the batch goes on.

use crate::helpers;

use aisle_local::template::local_name;
use aws_sdk_dynamodb::types::AttributeValue;
use helpers::Shop;

/// Overwrite one attribute of a stored record with something its reader cannot decode, as a
/// bad migration or a hand edit would.
async fn corrupt(
    shop: &Shop,
    table: &str,
    key: &[(&str, &str)],
    attribute: &str,
    value: AttributeValue,
) {
    let mut update = helpers::dynamo()
        .await
        .update_item()
        .table_name(local_name(&shop.prefix, table))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(":v", value);
    for (name, text) in key {
        update = update.key(*name, AttributeValue::S((*text).to_owned()));
    }
    update.send().await.unwrap();
}

#[tokio::test]
async fn a_malformed_hold_order_or_stock_row_is_parked_with_its_reason_and_the_healthy_ones_around_it_are_published(
) {
    let shop = Shop::open().await;
    let spoiled = helpers::seed_item(&shop, "Spoiled counter", 5).await;
    let fine = helpers::seed_item(&shop, "Fine item", 5).await;
    let before = helpers::place_order(&shop, &[(fine, 1)]).await;
    let (_, held) = helpers::hold(&shop, &[(fine, 1)]).await;
    shop.pump_streams_of(&["HoldsTable", "OrdersTable", "StockTable"])
        .await;
    shop.relay_rules().await;
    let earlier = shop.published().await;
    assert!(earlier
        .iter()
        .any(|(t, d)| t == "OrderPlaced" && d["orderId"] == before.to_string()));
    shop.drain("StreamFailures").await;

    // A held hold whose new image does not decode (the old code read it as deleted and
    // announced CheckoutExpired), an order likewise, and a stock counter that is no number.
    corrupt(
        &shop,
        "HoldsTable",
        &[("checkoutId", &held)],
        "lines",
        AttributeValue::S("melted".into()),
    )
    .await;
    corrupt(
        &shop,
        "OrdersTable",
        &[("orderId", &before.to_string())],
        "lines",
        AttributeValue::N("3".into()),
    )
    .await;
    let pk = format!("ITEM#{spoiled}");
    corrupt(
        &shop,
        "StockTable",
        &[("pk", &pk), ("sk", "TOTAL")],
        "available",
        AttributeValue::S("plenty".into()),
    )
    .await;
    // ...between healthy changes on the same streams.
    let after = helpers::place_order(&shop, &[(fine, 1)]).await;
    shop.pump_streams_of(&["HoldsTable", "OrdersTable", "StockTable"])
        .await;
    shop.relay_rules().await;

    let events = shop.published().await;
    let kinds: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        events
            .iter()
            .any(|(t, d)| t == "OrderPlaced" && d["orderId"] == after.to_string()),
        "the healthy order after the bad records is published: {kinds:?}"
    );
    assert!(
        !kinds.contains(&"CheckoutExpired"),
        "no false expiry: {kinds:?}"
    );
    assert!(
        events
            .iter()
            .all(|(_, d)| d["orderId"] != before.to_string()),
        "nothing is announced for the unreadable order: {events:?}"
    );
    assert!(
        events
            .iter()
            .all(|(_, d)| d["itemId"] != spoiled.to_string()),
        "no stock event from an unreadable counter: {events:?}"
    );

    let parked = shop.drain("StreamFailures").await;
    let reasons: Vec<String> = parked.iter().filter_map(|(_, r)| r.clone()).collect();
    let hold_parked = parked.iter().any(|(body, reason)| {
        body.contains(&held)
            && reason
                .as_deref()
                .is_some_and(|r| r.starts_with("new image does not decode"))
    });
    let order_parked = parked.iter().any(|(body, reason)| {
        body.contains(&before.to_string())
            && reason
                .as_deref()
                .is_some_and(|r| r.starts_with("new image does not decode"))
    });
    let stock_parked = parked.iter().any(|(body, reason)| {
        body.contains(&pk)
            && reason
                .as_deref()
                .is_some_and(|r| r.contains("counter available"))
    });
    assert!(
        hold_parked && order_parked && stock_parked,
        "each bad record parked with its reason: {reasons:?}"
    );
    assert!(
        parked
            .iter()
            .all(|(body, _)| !body.contains(&after.to_string())),
        "no healthy record is parked: {reasons:?}"
    );
}
