//! Handler tests on the `events/*.json` fixtures: real API Gateway HTTP API (payload 2.0)
//! events, as `cargo lambda invoke --data-file` also sends them. Run against an empty shop,
//! each fixture must reach its handler and get the answer an empty shop gives.

use crate::helpers;

use aisle::api::{catalog, search, shopping, stock};
use aisle::App;
use helpers::{Reply, Shop};

async fn dispatch(app: &App, route: &str, request: lambda_http::Request) -> Reply {
    let response = match route {
        "POST /v1/seller/items" => catalog::create_item(app, request).await,
        "PATCH /v1/seller/items/{itemId}" => catalog::update_item(app, request).await,
        "GET /v1/seller/items" => catalog::list_seller_items(app, request).await,
        "GET /v1/items/{itemId}" => catalog::get_item(app, request).await,
        "GET /v1/items" => search::search_items(app, request).await,
        "POST /v1/warehouses/{warehouseId}/stock" => stock::receive_stock(app, request).await,
        "GET /v1/cart" => shopping::get_cart(app, request).await,
        "PUT /v1/cart/items/{itemId}" => shopping::put_cart_item(app, request).await,
        "POST /v1/checkout" => shopping::begin_checkout(app, request).await,
        "POST /v1/checkout/{checkoutId}/order" => shopping::submit_order(app, request).await,
        "GET /v1/orders" => shopping::list_orders(app, request).await,
        other => panic!("fixture for unknown route {other}"),
    };
    Reply::from(response.expect("handlers never fail the invocation"))
}

#[tokio::test]
async fn every_event_fixture_reaches_its_handler_and_gets_the_empty_shop_answer() {
    let shop = Shop::open().await;
    bind_fixture_warehouse(&shop).await;
    let expected = [
        ("create-item.json", 201),
        ("update-item.json", 404),
        ("list-seller-items.json", 200),
        ("get-item.json", 404),
        ("search-items.json", 200),
        ("receive-stock.json", 404),
        ("get-cart.json", 200),
        ("put-cart-item.json", 404),
        ("begin-checkout.json", 422),
        ("submit-order.json", 404),
        ("list-orders.json", 200),
    ];
    let dir = aisle_local::template::repo_root().join("events");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    found.sort();
    let mut listed: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "every fixture has an expectation here");
    for (file, status) in expected {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let reply = dispatch(&shop.app, event["routeKey"].as_str().unwrap(), request).await;
        assert_eq!(reply.status, status, "{file}: {:?}", reply.body);
    }
}

/// The SQS fixtures (`events/sqs/`, as Lambda's SQS mapping delivers them; usable with
/// `cargo lambda invoke --data-file`): against an empty shop, messages that can never apply
/// are parked with a reason (not failed), one that may apply later is reported as the only
/// failure of its batch.
#[tokio::test]
async fn sqs_fixtures_reach_their_workers_and_report_only_retryable_failures() {
    let shop = Shop::open().await;
    bind_fixture_warehouse(&shop).await;
    let dir = aisle_local::template::repo_root().join("events/sqs");
    let event = |file: &str| -> lambda_runtime::LambdaEvent<aws_lambda_events::sqs::SqsEvent> {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        lambda_runtime::LambdaEvent::new(
            serde_json::from_str(&text).unwrap(),
            helpers::lambda_context(),
        )
    };
    let failed = |r: aws_lambda_events::sqs::SqsBatchResponse| -> Vec<String> {
        r.batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    };

    let updates =
        aisle::workers::apply_warehouse_updates(&shop.app, event("apply-warehouse-updates.json"))
            .await
            .unwrap();
    assert!(
        failed(updates).is_empty(),
        "nothing in this batch can ever apply: all parked, none retried"
    );
    let parked = shop.drain("WarehouseUpdatesDeadLetters").await;
    assert_eq!(
        parked.len(),
        3,
        "unknown item, malformed JSON, shipped for an order that does not exist: {parked:?}"
    );
    assert!(
        parked.iter().all(|(_, reason)| reason.is_some()),
        "each with its reason: {parked:?}"
    );
    assert!(parked
        .iter()
        .any(|(_, r)| r.as_deref().unwrap_or("").contains("no such order")));

    let placed = aisle::workers::assign_orders(&shop.app, event("assign-orders.json"))
        .await
        .unwrap();
    assert!(failed(placed).is_empty());
    let parked = shop.drain("AssignmentDeadLetters").await;
    assert!(
        parked[0]
            .1
            .as_deref()
            .unwrap_or("")
            .contains("does not exist"),
        "{parked:?}"
    );
}

/// The fixtures' warehouse system (client `aisle-local-wh-wh-1000`, role of wh-1000) bound to
/// wh-1000, a site the empty shop does not have: its calls get past who-is-calling and meet
/// the empty shop.
async fn bind_fixture_warehouse(shop: &Shop) {
    use aisle::domain::MachineIdentity;
    use aisle::ports::WarehouseIdentities;
    let wh = aisle::domain::WarehouseId::try_from("wh-1000").unwrap();
    for identity in [
        MachineIdentity::Client(aisle_local::token::warehouse_client("wh-1000")),
        MachineIdentity::IamPrincipal(aisle_local::iam::warehouse_role_id("wh-1000")),
    ] {
        shop.app.identities.bind(&identity, &wh).await.unwrap();
    }
}
