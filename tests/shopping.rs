//! Cart, wishlist and order history against DynamoDB Local.

use crate::helpers;

use aisle::api::{catalog, shopping, stock};
use aisle::domain::{OrderId, OrderStatus, Timestamp};
use aisle::ports::{Orders, StockEffect};
use helpers::{listing, Call, Caller, Reply, Shop, WAREHOUSE_A};
use serde_json::json;

fn put_line(who: &Caller, item: &str, quantity: i64) -> Call {
    Call::new("PUT /v1/cart/items/{itemId}", &[("itemId", item)])
        .by(who)
        .json(json!({ "quantity": quantity }))
}

#[tokio::test]
async fn the_cart_shows_current_prices_totals_and_problems_without_blocking() {
    let shop = Shop::open().await;
    let (a, b) = (
        helpers::seed_item(&shop, "Stocked item", 5)
            .await
            .to_string(),
        helpers::seed_item(&shop, "Stocked item", 2)
            .await
            .to_string(),
    );
    let who = Caller::shopper();
    assert_eq!(
        send!(shopping::put_cart_item, shop, put_line(&who, &a, 2)).status,
        200
    );
    let cart = send!(shopping::put_cart_item, shop, put_line(&who, &b, 2));
    assert_eq!(
        cart.body["totals"],
        json!([{ "amount": 79996, "currency": "USD" }])
    );
    assert_eq!(cart.body["itemCount"], 4);

    // The seller changes a price; the cart shows the current one.
    let seller_edit = send!(
        catalog::update_item,
        shop,
        Call::new("PATCH /v1/seller/items/{itemId}", &[("itemId", &a)])
            .by(&Caller::seller())
            .json(json!({ "name": "x" }))
    );
    assert_eq!(seller_edit.status, 403, "only the owner may reprice");
    // Someone else buys one of b: that line is now short, but stays in the cart.
    let rival = Caller::shopper();
    send!(shopping::put_cart_item, shop, put_line(&rival, &b, 1));
    let begun = send!(
        shopping::begin_checkout,
        shop,
        Call::new("POST /v1/checkout", &[])
            .by(&rival)
            .header("Idempotency-Key", "r")
    );
    assert_eq!(begun.status, 201);
    let cart = send!(
        shopping::get_cart,
        shop,
        Call::new("GET /v1/cart", &[]).by(&who)
    );
    let line_b = cart.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["itemId"] == b.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (line_b["problem"].as_str(), line_b["available"].as_u64()),
        (Some("SHORT"), Some(1))
    );
    assert_eq!(
        cart.headers["etag"],
        format!("\"{}\"", cart.body["version"])
    );
}

#[tokio::test]
async fn adding_more_than_is_available_gets_409_with_the_available_quantity() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Stocked item", 3)
        .await
        .to_string();
    let reply = send!(
        shopping::put_cart_item,
        shop,
        put_line(&Caller::shopper(), &item, 4)
    );
    assert_eq!((reply.status, reply.code()), (409, "INSUFFICIENT_STOCK"));
    assert_eq!(reply.body["error"]["details"]["available"], 3);
}

#[tokio::test]
async fn cart_limits_are_clear_4xx_errors() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Stocked item", 50)
        .await
        .to_string();
    let who = Caller::shopper();
    let too_many = send!(shopping::put_cart_item, shop, put_line(&who, &item, 11));
    assert_eq!(too_many.status, 422);
    let negative = send!(shopping::put_cart_item, shop, put_line(&who, &item, -1));
    assert_eq!(negative.status, 422);
    let unknown = send!(
        shopping::put_cart_item,
        shop,
        put_line(&who, &uuid::Uuid::new_v4().to_string(), 1)
    );
    assert_eq!(unknown.status, 404);
    let empty = send!(
        shopping::begin_checkout,
        shop,
        Call::new("POST /v1/checkout", &[])
            .by(&who)
            .header("Idempotency-Key", "e")
    );
    assert_eq!((empty.status, empty.code()), (422, "CART_EMPTY"));
    let keyless = send!(
        shopping::begin_checkout,
        shop,
        Call::new("POST /v1/checkout", &[]).by(&who)
    );
    assert_eq!(
        (keyless.status, keyless.code()),
        (400, "IDEMPOTENCY_KEY_REQUIRED")
    );
}

#[tokio::test]
async fn a_cart_refuses_its_98th_distinct_line() {
    let shop = Shop::open().await;
    let who = Caller::shopper();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..98 {
        let app = shop.app.clone();
        let call = Call::new("POST /v1/seller/items", &[])
            .by(&Caller::seller())
            .json(listing("Cable", "cables"));
        tasks.spawn(async move {
            Reply::from(catalog::create_item(&app, call.request()).await.unwrap()).body["itemId"]
                .as_str()
                .unwrap()
                .to_owned()
        });
    }
    let mut items = Vec::new();
    while let Some(id) = tasks.join_next().await {
        let id = id.unwrap();
        let receipt = Call::new(
            "POST /v1/warehouses/{warehouseId}/stock",
            &[("warehouseId", WAREHOUSE_A)],
        )
        .by(&Caller::warehouse(WAREHOUSE_A))
        .json(json!({ "itemId": id, "quantity": 1 }));
        send!(stock::receive_stock, shop, receipt);
        items.push(id);
    }
    for item in &items[..97] {
        assert_eq!(
            send!(shopping::put_cart_item, shop, put_line(&who, item, 1)).status,
            200
        );
    }
    let full = send!(shopping::put_cart_item, shop, put_line(&who, &items[97], 1));
    assert_eq!((full.status, full.code()), (422, "CART_FULL"));
}

#[tokio::test]
async fn concurrent_edits_from_two_devices_never_lose_an_update_and_stale_if_match_gets_412() {
    let shop = Shop::open().await;
    let items: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(
                helpers::seed_item(&shop, "Stocked item", 5)
                    .await
                    .to_string(),
            );
        }
        v
    };
    let who = Caller::shopper();
    let mut tasks = tokio::task::JoinSet::new();
    for item in &items {
        let (app, call) = (shop.app.clone(), put_line(&who, item, 1));
        tasks.spawn(async move {
            shopping::put_cart_item(&app, call.request())
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let cart = send!(
        shopping::get_cart,
        shop,
        Call::new("GET /v1/cart", &[]).by(&who)
    );
    assert_eq!(
        cart.body["lines"].as_array().unwrap().len(),
        8,
        "every concurrent add kept"
    );
    let version = cart.body["version"].as_u64().unwrap();

    let stale = send!(
        shopping::put_cart_item,
        shop,
        put_line(&who, &items[0], 2).header("If-Match", &format!("\"{}\"", version - 1))
    );
    assert_eq!((stale.status, stale.code()), (412, "VERSION_MISMATCH"));
    let fresh = send!(
        shopping::put_cart_item,
        shop,
        put_line(&who, &items[0], 2).header("If-Match", &format!("\"{version}\""))
    );
    assert_eq!(fresh.status, 200);
    let removed = send!(
        shopping::delete_cart_item,
        shop,
        Call::new("DELETE /v1/cart/items/{itemId}", &[("itemId", &items[1])]).by(&who)
    );
    assert_eq!(removed.body["lines"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn a_wished_item_moves_to_the_cart_and_leaves_the_wishlist() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Stocked item", 2)
        .await
        .to_string();
    let who = Caller::shopper();
    let wished = send!(
        shopping::put_wishlist_item,
        shop,
        Call::new("PUT /v1/wishlist/items/{itemId}", &[("itemId", &item)]).by(&who)
    );
    assert_eq!(wished.body["items"][0]["available"], 2);
    let again = send!(
        shopping::put_wishlist_item,
        shop,
        Call::new("PUT /v1/wishlist/items/{itemId}", &[("itemId", &item)]).by(&who)
    );
    assert_eq!(
        again.body["items"].as_array().unwrap().len(),
        1,
        "idempotent"
    );
    let cart = send!(
        shopping::move_to_cart,
        shop,
        Call::new(
            "POST /v1/wishlist/items/{itemId}/move-to-cart",
            &[("itemId", &item)]
        )
        .by(&who)
    );
    assert_eq!(cart.body["lines"][0]["quantity"], 1);
    let list = send!(
        shopping::get_wishlist,
        shop,
        Call::new("GET /v1/wishlist", &[]).by(&who)
    );
    assert_eq!(list.body["items"], json!([]));
    let not_listed = send!(
        shopping::move_to_cart,
        shop,
        Call::new(
            "POST /v1/wishlist/items/{itemId}/move-to-cart",
            &[("itemId", &item)]
        )
        .by(&who)
    );
    assert_eq!(not_listed.status, 404);
}

async fn place_order(shop: &Shop, who: &Caller, item: &str) -> String {
    send!(shopping::put_cart_item, shop, put_line(who, item, 1));
    let begun = send!(
        shopping::begin_checkout,
        shop,
        Call::new("POST /v1/checkout", &[])
            .by(who)
            .header("Idempotency-Key", &uuid::Uuid::new_v4().to_string())
    );
    let checkout = begun.body["checkoutId"].as_str().unwrap().to_owned();
    let address = json!({ "name": "Grace Hopper", "line1": "1 Navy Way", "city": "Arlington", "state": "VA", "zip": "22202-1234", "country": "US" });
    let token = shop.pay_token("tok_success").await;
    let placed = send!(
        shopping::submit_order,
        shop,
        Call::new(
            "POST /v1/checkout/{checkoutId}/order",
            &[("checkoutId", &checkout)]
        )
        .by(who)
        .header("Idempotency-Key", &format!("pay-{checkout}"))
        .json(json!({ "paymentToken": token, "shippingAddress": address }))
    );
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    placed.body["orderId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn order_history_pages_of_ten_over_thirty_five_orders_return_each_once_newest_first() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Stocked item", 40)
        .await
        .to_string();
    let who = Caller::shopper();
    let mut placed = Vec::new();
    for _ in 0..35 {
        placed.push(place_order(&shop, &who, &item).await);
    }
    let (mut seen, mut cursor, mut times) = (Vec::new(), None::<String>, Vec::new());
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=10&cursor={c}"),
            None => "limit=10".into(),
        };
        let page = send!(
            shopping::list_orders,
            shop,
            Call::new("GET /v1/orders", &[]).by(&who).query(&query)
        );
        assert_eq!(page.status, 200, "{:?}", page.body);
        for order in page.body["items"].as_array().unwrap() {
            seen.push(order["orderId"].as_str().unwrap().to_owned());
            times.push(order["createdAt"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 35);
    placed.reverse();
    assert_eq!(seen, placed, "newest first, each once");
    assert!(times.windows(2).all(|w| w[0] >= w[1]));

    let from = &times[9];
    let ranged = send!(
        shopping::list_orders,
        shop,
        Call::new("GET /v1/orders", &[])
            .by(&who)
            .query(&format!("limit=100&to={from}"))
    );
    assert_eq!(
        ranged.body["items"].as_array().unwrap().len(),
        26,
        "to= is inclusive of the 10th newest"
    );
    let bad = send!(
        shopping::list_orders,
        shop,
        Call::new("GET /v1/orders", &[])
            .by(&who)
            .query("from=yesterday")
    );
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn cancelling_an_order_returns_its_stock_once_and_publishes_order_cancelled() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Stocked item", 3)
        .await
        .to_string();
    let who = Caller::shopper();
    let order = place_order(&shop, &who, &item).await;
    assert_eq!(shop.available(&item).await, 2);
    let cancel = || Call::new("POST /v1/orders/{orderId}/cancel", &[("orderId", &order)]).by(&who);
    let first = send!(shopping::cancel_order, shop, cancel());
    assert_eq!(
        (
            first.body["status"].as_str(),
            first.body["payment"].as_str()
        ),
        (Some("CANCELLED"), Some("REFUNDED"))
    );
    let second = send!(shopping::cancel_order, shop, cancel());
    assert_eq!(second.status, 200);
    assert_eq!(shop.available(&item).await, 3, "returned exactly once");
    shop.pump_streams().await;
    let events = shop.published().await;
    assert_eq!(
        events.iter().filter(|(t, _)| t == "OrderCancelled").count(),
        1,
        "{events:?}"
    );
}

#[tokio::test]
async fn returns_are_accepted_only_after_delivery_and_only_for_ordered_items() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Stocked item", 3)
        .await
        .to_string();
    let who = Caller::shopper();
    let order = place_order(&shop, &who, &item).await;
    let ask = |lines: serde_json::Value| {
        Call::new("POST /v1/orders/{orderId}/returns", &[("orderId", &order)])
            .by(&who)
            .json(json!({ "lines": lines, "reason": "too loud" }))
    };
    let early = send!(
        aisle::api::returns::request_return,
        shop,
        ask(json!([{ "itemId": item, "quantity": 1 }]))
    );
    assert_eq!((early.status, early.code()), (409, "NOT_RETURNABLE"));

    // Delivered (the warehouse side moves orders there; here the port does it directly).
    let id = OrderId::try_from(order.as_str()).unwrap();
    let current = shop.app.orders.get(id).await.unwrap().unwrap();
    let delivered = current.moved_to(OrderStatus::Delivered, Timestamp::now(), None);
    shop.app
        .orders
        .transition(&current, &delivered, StockEffect::None)
        .await
        .unwrap();

    let too_many = send!(
        aisle::api::returns::request_return,
        shop,
        ask(json!([{ "itemId": item, "quantity": 2 }]))
    );
    assert_eq!(too_many.status, 422);
    let elsewhere = send!(
        aisle::api::returns::request_return,
        shop,
        ask(json!([{ "itemId": uuid::Uuid::new_v4(), "quantity": 1 }]))
    );
    assert_eq!(
        (elsewhere.status, elsewhere.code()),
        (422, "INVALID_RETURN"),
        "an item the order does not have: {:?}",
        elsewhere.body
    );
    // Authorising a return of what was delivered is in `returns::`, with the parcels a
    // real delivery leaves behind.
}

#[tokio::test]
async fn submit_refuses_bad_addresses_naming_each_field() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Stocked item", 3)
        .await
        .to_string();
    let who = Caller::shopper();
    send!(shopping::put_cart_item, shop, put_line(&who, &item, 1));
    let begun = send!(
        shopping::begin_checkout,
        shop,
        Call::new("POST /v1/checkout", &[])
            .by(&who)
            .header("Idempotency-Key", "a")
    );
    let checkout = begun.body["checkoutId"].as_str().unwrap().to_owned();
    let bad = json!({ "name": "", "line1": "1 Main St", "city": "Springfield", "state": "ZZ", "zip": "1234", "country": "CA" });
    let token = shop.pay_token("tok_success").await;
    let reply = send!(
        shopping::submit_order,
        shop,
        Call::new(
            "POST /v1/checkout/{checkoutId}/order",
            &[("checkoutId", &checkout)]
        )
        .by(&who)
        .header("Idempotency-Key", "p")
        .json(json!({ "paymentToken": token, "shippingAddress": bad }))
    );
    assert_eq!(reply.status, 422);
    let fields: Vec<&str> = reply.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "shippingAddress.name",
            "shippingAddress.state",
            "shippingAddress.zip",
            "shippingAddress.country"
        ]
    );
    assert_eq!(shop.available(&item).await, 2, "the hold is untouched");
}

#[tokio::test]
async fn a_submits_log_lines_carry_the_api_gateway_request_id_the_user_and_the_checkout_id() {
    use aisle::lambda::tracing::Instrument;
    let shop = Shop::with_test_provider().await;
    let item = helpers::seed_item(&shop, "Logged item", 2).await;
    let (who, checkout) = helpers::hold(&shop, &[(item, 1)]).await;
    let call = Call::new(
        "POST /v1/checkout/{checkoutId}/order",
        &[("checkoutId", &checkout)],
    )
    .by(&who)
    .header("Idempotency-Key", "logged-submit")
    .json(json!({ "paymentToken": "tok_success", "shippingAddress": helpers::address_json() }));
    let captured = helpers::Captured::default();
    let subscriber = captured.subscriber();
    // As `http_lambda!` runs a handler: inside the request's span, under the JSON subscriber.
    let app = shop.app_for(&call.route_key()).await;
    let request = call.request();
    let reply = {
        let _logging = aisle::lambda::tracing::subscriber::set_default(subscriber);
        let span = aisle::lambda::request_span(&request);
        shopping::submit_order(&app, request).instrument(span).await
    };
    assert_eq!(Reply::from(reply.unwrap()).status, 201);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    let in_submit: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["name"] == "submit"))
        })
        .collect();
    assert!(!in_submit.is_empty(), "the submit logged: {text}");
    for line in &in_submit {
        let spans = line["spans"].as_array().unwrap();
        assert_eq!(spans[0]["name"], "request", "{line}");
        assert_eq!(spans[0]["apigwRequestId"], call.request_id(), "{line}");
        assert_eq!(spans[0]["user_id"], who.user_id().to_string(), "{line}");
        let submit = spans.iter().find(|s| s["name"] == "submit").unwrap();
        assert_eq!(submit["checkout_id"], checkout, "{line}");
    }
    assert!(
        !text.contains("tok_success") && !text.contains("340 W Market"),
        "no payment token or address in the logs: {text}"
    );
}

#[tokio::test]
async fn a_systems_client_credentials_token_is_refused_on_a_shoppers_routes_before_the_body() {
    let shop = Shop::open().await;
    let system = Caller::warehouse(WAREHOUSE_A);
    let cart = send!(
        shopping::get_cart,
        shop,
        Call::new("GET /v1/cart", &[]).by(&system)
    );
    assert_eq!(
        (cart.status, cart.code()),
        (403, "FORBIDDEN"),
        "{:?}",
        cart.body
    );
    let put = send!(
        shopping::put_cart_item,
        shop,
        Call::new("PUT /v1/cart/items/{itemId}", &[("itemId", "not-an-id")])
            .by(&system)
            .raw_body("{\"quantity\": ")
    );
    assert_eq!(
        (put.status, put.code()),
        (403, "FORBIDDEN"),
        "{:?}",
        put.body
    );
}
