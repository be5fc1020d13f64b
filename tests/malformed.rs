//! The error contract: every kind of bad input gets a 4xx with
//! `{"error": {"code", "message"}}`, never a 5xx, and changes nothing.

use crate::helpers;

use aisle::api::{catalog, search, stock};
use helpers::{listing, Call, Caller, Shop, WAREHOUSE_A, WAREHOUSE_B};
use serde_json::json;

#[tokio::test]
async fn thirty_malformed_requests_each_get_a_4xx_json_error_and_change_nothing() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let created = send!(
        catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&seller)
            .json(listing("TV", "tvs"))
    );
    let item = created.body["itemId"].as_str().unwrap().to_owned();
    let create = || Call::new("POST /v1/seller/items", &[]).by(&seller);
    let with = |field: &str, value: serde_json::Value| {
        let mut body = listing("TV", "tvs");
        body[field] = value;
        create().json(body)
    };
    let without = |field: &str| {
        let mut body = listing("TV", "tvs");
        body.as_object_mut().unwrap().remove(field);
        create().json(body)
    };
    let patch = || Call::new("PATCH /v1/seller/items/{itemId}", &[("itemId", &item)]).by(&seller);
    let receive = || {
        Call::new(
            "POST /v1/warehouses/{warehouseId}/stock",
            &[("warehouseId", WAREHOUSE_A)],
        )
        .by(&Caller::warehouse(WAREHOUSE_A))
    };
    let browse = |q: &str| Call::new("GET /v1/items", &[]).query(q);

    // (what is wrong, expected status, the reply)
    let cases = vec![
        (
            "malformed JSON",
            400,
            send!(catalog::create_item, shop, create().raw_body("{\"name\": ")),
        ),
        (
            "JSON that is not an object",
            400,
            send!(catalog::create_item, shop, create().raw_body("[1,2,3]")),
        ),
        (
            "empty body",
            400,
            send!(catalog::create_item, shop, create().raw_body("")),
        ),
        (
            "unknown field",
            400,
            send!(catalog::create_item, shop, with("colour", json!("red"))),
        ),
        (
            "unknown field in price",
            400,
            send!(
                catalog::create_item,
                shop,
                with("price", json!({"amount": 1, "currency": "USD", "tax": 1}))
            ),
        ),
        (
            "wrong type for name",
            400,
            send!(catalog::create_item, shop, with("name", json!(42))),
        ),
        (
            "fractional price",
            400,
            send!(
                catalog::create_item,
                shop,
                with("price", json!({"amount": 19.99, "currency": "USD"}))
            ),
        ),
        (
            "price beyond i64",
            400,
            send!(
                catalog::create_item,
                shop,
                with("price", json!({"amount": 1e30, "currency": "USD"}))
            ),
        ),
        (
            "negative price",
            422,
            send!(
                catalog::create_item,
                shop,
                with("price", json!({"amount": -1, "currency": "USD"}))
            ),
        ),
        (
            "zero price",
            422,
            send!(
                catalog::create_item,
                shop,
                with("price", json!({"amount": 0, "currency": "USD"}))
            ),
        ),
        (
            "unknown currency",
            422,
            send!(
                catalog::create_item,
                shop,
                with("price", json!({"amount": 100, "currency": "XYZ"}))
            ),
        ),
        (
            "lower-case currency",
            422,
            send!(
                catalog::create_item,
                shop,
                with("price", json!({"amount": 100, "currency": "usd"}))
            ),
        ),
        (
            "missing name",
            422,
            send!(catalog::create_item, shop, without("name")),
        ),
        (
            "blank name",
            422,
            send!(catalog::create_item, shop, with("name", json!("   "))),
        ),
        (
            "oversize name",
            422,
            send!(
                catalog::create_item,
                shop,
                with("name", json!("x".repeat(201)))
            ),
        ),
        (
            "oversize description",
            422,
            send!(
                catalog::create_item,
                shop,
                with("description", json!("x".repeat(5001)))
            ),
        ),
        (
            "control characters",
            422,
            send!(
                catalog::create_item,
                shop,
                with("brand", json!("Ac\u{7}me"))
            ),
        ),
        (
            "category not a slug",
            422,
            send!(
                catalog::create_item,
                shop,
                with("category", json!("TVs & More"))
            ),
        ),
        (
            "image URLs typed on a new listing (images are uploaded)",
            422,
            send!(
                catalog::create_item,
                shop,
                with("images", json!(vec!["https://i.test/a.jpg"; 11]))
            ),
        ),
        (
            "a script URL as an image",
            422,
            send!(
                catalog::create_item,
                shop,
                with("images", json!(["javascript:alert(1)"]))
            ),
        ),
        (
            "too many attributes",
            422,
            send!(
                catalog::create_item,
                shop,
                with(
                    "attributes",
                    json!((0..31)
                        .map(|i| (format!("k{i}"), json!("v")))
                        .collect::<serde_json::Map<_, _>>())
                )
            ),
        ),
        (
            "negative threshold",
            422,
            send!(
                catalog::create_item,
                shop,
                with("lowStockThreshold", json!(-1))
            ),
        ),
        (
            "body over 64 KiB",
            413,
            send!(
                catalog::create_item,
                shop,
                create().raw_body(&format!("{{\"name\":\"{}\"}}", "x".repeat(70_000)))
            ),
        ),
        (
            "form-encoded body",
            415,
            send!(
                catalog::create_item,
                shop,
                create()
                    .header("content-type", "application/x-www-form-urlencoded")
                    .raw_body("name=TV")
            ),
        ),
        (
            "empty patch",
            422,
            send!(catalog::update_item, shop, patch().json(json!({}))),
        ),
        (
            "item id not a UUID",
            400,
            send!(
                catalog::update_item,
                shop,
                Call::new("PATCH /v1/seller/items/{itemId}", &[("itemId", "../etc")])
                    .by(&seller)
                    .json(json!({"name": "x"}))
            ),
        ),
        (
            "bad If-Match",
            400,
            send!(
                catalog::update_item,
                shop,
                patch()
                    .header("If-Match", "yesterday")
                    .json(json!({"name": "x"}))
            ),
        ),
        (
            "unknown item",
            404,
            send!(
                catalog::get_item,
                shop,
                Call::new(
                    "GET /v1/items/{itemId}",
                    &[("itemId", &uuid::Uuid::new_v4().to_string())]
                )
            ),
        ),
        (
            "negative quantity",
            422,
            send!(
                stock::receive_stock,
                shop,
                receive().json(json!({"itemId": item, "quantity": -5}))
            ),
        ),
        (
            "zero quantity",
            422,
            send!(
                stock::receive_stock,
                shop,
                receive().json(json!({"itemId": item, "quantity": 0}))
            ),
        ),
        (
            "huge quantity",
            422,
            send!(
                stock::receive_stock,
                shop,
                receive().json(json!({"itemId": item, "quantity": 10_000_000_000i64}))
            ),
        ),
        (
            "quantity as string",
            400,
            send!(
                stock::receive_stock,
                shop,
                receive().json(json!({"itemId": item, "quantity": "5"}))
            ),
        ),
        (
            "missing quantity",
            400,
            send!(
                stock::receive_stock,
                shop,
                receive().json(json!({"itemId": item}))
            ),
        ),
        (
            "bad warehouse id",
            400,
            send!(
                stock::receive_stock,
                shop,
                Call::new(
                    "POST /v1/warehouses/{warehouseId}/stock",
                    &[("warehouseId", "WH A")]
                )
                .by(&Caller::warehouse(WAREHOUSE_A))
                .json(json!({"itemId": item, "quantity": 1}))
            ),
        ),
        (
            "oversize idempotency key",
            400,
            send!(
                stock::receive_stock,
                shop,
                receive()
                    .header("Idempotency-Key", &"k".repeat(129))
                    .json(json!({"itemId": item, "quantity": 1}))
            ),
        ),
        (
            "no token",
            401,
            send!(
                catalog::create_item,
                shop,
                Call::new("POST /v1/seller/items", &[]).json(listing("TV", "tvs"))
            ),
        ),
        (
            "search with minPrice above maxPrice",
            400,
            send!(
                search::search_items,
                shop,
                browse("minPrice=500&maxPrice=100")
            ),
        ),
        (
            "search with an unknown sort",
            400,
            send!(search::search_items, shop, browse("q=tv&sort=cheapest")),
        ),
        (
            "search with a malformed attribute filter",
            400,
            send!(search::search_items, shop, browse("attr.=black")),
        ),
        (
            "search with eleven words",
            400,
            send!(
                search::search_items,
                shop,
                browse("q=a+b+c+d+e+f+g+h+i+j+k")
            ),
        ),
        (
            "browse with limit 0",
            400,
            send!(search::search_items, shop, browse("category=tvs&limit=0")),
        ),
        (
            "browse with limit 1000",
            400,
            send!(
                search::search_items,
                shop,
                browse("category=tvs&limit=1000")
            ),
        ),
        (
            "browse with a forged cursor",
            400,
            send!(
                search::search_items,
                shop,
                browse("category=tvs&cursor=Zm9yZ2Vk")
            ),
        ),
        (
            "browse with an unknown parameter",
            400,
            send!(search::search_items, shop, browse("categroy=tvs")),
        ),
        (
            "browse with a repeated parameter",
            400,
            send!(
                search::search_items,
                shop,
                browse("category=tvs&category=laptops")
            ),
        ),
    ];
    assert!(cases.len() >= 30);
    for (what, status, reply) in &cases {
        assert_eq!(reply.status, *status, "{what}: {:?}", reply.body);
        let error = &reply.body["error"];
        assert!(
            error["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{what}: no error code in {:?}",
            reply.body
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: no message"
        );
        assert_eq!(reply.headers["content-type"], "application/json", "{what}");
    }
    let validation = &cases.iter().find(|c| c.0 == "unknown currency").unwrap().2;
    assert_eq!(validation.body["error"]["details"][0]["field"], "price");

    // Nothing above changed the item or its stock.
    let seen = send!(
        catalog::get_item,
        shop,
        Call::new("GET /v1/items/{itemId}", &[("itemId", &item)])
    );
    assert_eq!(
        (seen.body["name"].as_str(), seen.body["version"].as_u64()),
        (Some("TV"), Some(1))
    );
    assert_eq!(seen.body["availability"]["available"], 0);
    let mine = send!(
        catalog::list_seller_items,
        shop,
        Call::new("GET /v1/seller/items", &[]).by(&seller)
    );
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        1,
        "no rejected listing was stored"
    );
}

#[tokio::test]
async fn a_caller_without_the_role_gets_403_before_any_field_of_a_bad_body_is_judged() {
    let shop = Shop::open().await;
    let item = helpers::listed(&shop, "Guarded").await.to_string();
    let bad = json!({ "name": 42, "price": "free", "shards": -1, "quantity": "lots" });
    let sellers_only = |caller: &Caller| {
        vec![
            (
                "POST /v1/seller/items",
                Call::new("POST /v1/seller/items", &[])
                    .by(caller)
                    .json(bad.clone()),
            ),
            (
                "PATCH /v1/seller/items/{itemId}",
                Call::new(
                    "PATCH /v1/seller/items/{itemId}",
                    &[("itemId", "not-an-id")],
                )
                .by(caller)
                .json(bad.clone()),
            ),
            (
                "PUT /v1/seller/items/{itemId}/sale",
                Call::new("PUT /v1/seller/items/{itemId}/sale", &[("itemId", &item)])
                    .by(caller)
                    .json(bad.clone()),
            ),
            (
                "GET /v1/seller/items",
                Call::new("GET /v1/seller/items", &[])
                    .by(caller)
                    .query("limit=0&cursor=%%"),
            ),
            (
                "GET /v1/seller/notifications",
                Call::new("GET /v1/seller/notifications", &[])
                    .by(caller)
                    .query("limit=-1"),
            ),
            (
                "POST /v1/seller/orders/{orderId}/return-reviews/{reviewId}",
                Call::new(
                    "POST /v1/seller/orders/{orderId}/return-reviews/{reviewId}",
                    &[("orderId", "not-an-id"), ("reviewId", "nor-this")],
                )
                .by(caller)
                .json(bad.clone()),
            ),
        ]
    };
    let mut refused = 0;
    for caller in [Caller::shopper(), Caller::warehouse(WAREHOUSE_A)] {
        for (route, call) in sellers_only(&caller) {
            let reply = match route {
                "POST /v1/seller/items" => send!(catalog::create_item, shop, call),
                "PATCH /v1/seller/items/{itemId}" => send!(catalog::update_item, shop, call),
                "PUT /v1/seller/items/{itemId}/sale" => send!(catalog::configure_sale, shop, call),
                "GET /v1/seller/items" => send!(catalog::list_seller_items, shop, call),
                "GET /v1/seller/notifications" => {
                    send!(catalog::list_seller_notifications, shop, call)
                }
                _ => send!(aisle::api::returns::decide_return_review, shop, call),
            };
            assert_eq!(
                (reply.status, reply.code()),
                (403, "FORBIDDEN"),
                "{route} as {caller:?}: {:?}",
                reply.body
            );
            refused += 1;
        }
    }
    for caller in [
        Caller::shopper(),
        Caller::seller(),
        Caller::warehouse(WAREHOUSE_B),
    ] {
        let reply = send!(
            stock::receive_stock,
            shop,
            Call::new(
                "POST /v1/warehouses/{warehouseId}/stock",
                &[("warehouseId", WAREHOUSE_A)]
            )
            .by(&caller)
            .raw_body("{\"itemId\": ")
        );
        assert_eq!(
            (reply.status, reply.code()),
            (403, "FORBIDDEN"),
            "as {caller:?}: {:?}",
            reply.body
        );
        refused += 1;
    }
    assert_eq!(refused, 15);
}
