//! The catalog and seller API against DynamoDB Local: listing, editing, stock receipts,
//! browsing, authorization and the error contract.

use crate::helpers;

use aisle::api::{catalog, stock};
use helpers::{listing, Call, Caller, Shop, WAREHOUSE_A, WAREHOUSE_B};
use serde_json::json;

async fn list_item(shop: &Shop, seller: &Caller, category: &str) -> String {
    helpers::listed_by(shop, seller, "Acme TV", category)
        .await
        .to_string()
}

fn receipt(warehouse: &str, item: &str, quantity: i64) -> Call {
    Call::new(
        "POST /v1/warehouses/{warehouseId}/stock",
        &[("warehouseId", warehouse)],
    )
    .by(&Caller::warehouse(warehouse))
    .json(json!({ "itemId": item, "quantity": quantity }))
}

#[tokio::test]
async fn a_seller_lists_an_item_a_warehouse_receives_seven_and_a_shopper_sees_seven_available() {
    let shop = Shop::open().await;
    let item = list_item(&shop, &Caller::seller(), "tvs").await;

    let before = send!(
        catalog::get_item,
        shop,
        Call::new("GET /v1/items/{itemId}", &[("itemId", &item)])
    );
    assert_eq!(
        before.body["availability"],
        json!({ "available": 0, "inStock": false, "lowStock": false })
    );

    let received = send!(stock::receive_stock, shop, receipt(WAREHOUSE_A, &item, 7));
    assert_eq!(received.status, 200, "{:?}", received.body);
    assert_eq!(
        received.body["levels"],
        json!({ "warehousePhysical": 7, "warehouseAvailable": 7, "itemAvailable": 7 })
    );

    let seen = send!(
        catalog::get_item,
        shop,
        Call::new("GET /v1/items/{itemId}", &[("itemId", &item)]).by(&Caller::shopper())
    );
    assert_eq!(seen.status, 200);
    assert_eq!(
        seen.body["availability"],
        json!({ "available": 7, "inStock": true, "lowStock": false })
    );
    assert_eq!(
        seen.body["price"],
        json!({ "amount": 19999, "currency": "USD" })
    );
    assert_eq!(seen.body["attributes"]["colour"], "black");
}

#[tokio::test]
async fn receipts_in_two_warehouses_add_up_in_the_item_aggregate() {
    let shop = Shop::open().await;
    let item = list_item(&shop, &Caller::seller(), "tvs").await;
    send!(stock::receive_stock, shop, receipt(WAREHOUSE_A, &item, 2));
    let second = send!(stock::receive_stock, shop, receipt(WAREHOUSE_B, &item, 1));
    assert_eq!(
        second.body["levels"],
        json!({ "warehousePhysical": 1, "warehouseAvailable": 1, "itemAvailable": 3 })
    );
    let seen = send!(
        catalog::get_item,
        shop,
        Call::new("GET /v1/items/{itemId}", &[("itemId", &item)])
    );
    assert_eq!(
        seen.body["availability"],
        json!({ "available": 3, "inStock": true, "lowStock": true })
    );
}

#[tokio::test]
async fn concurrent_receipts_are_all_counted() {
    let shop = Shop::open().await;
    let item = list_item(&shop, &Caller::seller(), "tvs").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let (app, call) = (shop.app.clone(), receipt(WAREHOUSE_A, &item, 2));
        tasks.spawn(async move {
            stock::receive_stock(&app, call.request())
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let seen = send!(
        catalog::get_item,
        shop,
        Call::new("GET /v1/items/{itemId}", &[("itemId", &item)])
    );
    assert_eq!(seen.body["availability"]["available"], 50);
}

#[tokio::test]
async fn a_second_sellers_patch_gets_403_and_leaves_the_item_unchanged() {
    let shop = Shop::open().await;
    let owner = Caller::seller();
    let item = list_item(&shop, &owner, "tvs").await;
    let patch = || {
        Call::new("PATCH /v1/seller/items/{itemId}", &[("itemId", &item)])
            .json(json!({ "name": "Hijacked" }))
    };

    let reply = send!(catalog::update_item, shop, patch().by(&Caller::seller()));
    assert_eq!((reply.status, reply.code()), (403, "FORBIDDEN"));

    let own = send!(
        catalog::update_item,
        shop,
        patch()
            .by(&owner)
            .json(json!({ "name": "Acme TV 2", "price": { "amount": 17999, "currency": "USD" } }))
    );
    assert_eq!(own.status, 200, "{:?}", own.body);
    assert_eq!(
        (own.body["name"].as_str(), own.body["version"].as_u64()),
        (Some("Acme TV 2"), Some(2))
    );
    assert_eq!(
        own.body["brand"], "Acme",
        "fields not in the patch are kept"
    );
}

#[tokio::test]
async fn a_shoppers_requests_to_seller_routes_get_403() {
    let shop = Shop::open().await;
    let shopper = Caller::shopper();
    let item = list_item(&shop, &Caller::seller(), "tvs").await;
    let create = send!(
        catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&shopper)
            .json(listing("X", "tvs"))
    );
    assert_eq!(create.status, 403);
    let edit = send!(
        catalog::update_item,
        shop,
        Call::new("PATCH /v1/seller/items/{itemId}", &[("itemId", &item)])
            .by(&shopper)
            .json(json!({ "name": "X" }))
    );
    assert_eq!(edit.status, 403);
    let mine = send!(
        catalog::list_seller_items,
        shop,
        Call::new("GET /v1/seller/items", &[]).by(&shopper)
    );
    assert_eq!(mine.status, 403);
    let stock = send!(
        stock::receive_stock,
        shop,
        receipt(WAREHOUSE_A, &item, 1).by(&shopper)
    );
    assert_eq!(stock.status, 403);
}

#[tokio::test]
async fn a_warehouse_cannot_receive_stock_into_another_warehouse() {
    let shop = Shop::open().await;
    let item = list_item(&shop, &Caller::seller(), "tvs").await;
    let reply = send!(
        stock::receive_stock,
        shop,
        receipt(WAREHOUSE_A, &item, 1).by(&Caller::warehouse(WAREHOUSE_B))
    );
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn receipts_for_unknown_items_get_404_for_a_warehouse_nobody_speaks_for_403_and_change_nothing(
) {
    let shop = Shop::open().await;
    let item = list_item(&shop, &Caller::seller(), "tvs").await;
    let unknown_item = send!(
        stock::receive_stock,
        shop,
        receipt(WAREHOUSE_A, &uuid::Uuid::new_v4().to_string(), 1)
    );
    assert_eq!(
        (
            unknown_item.status,
            unknown_item.body["error"]["message"].as_str()
        ),
        (404, Some("no such item"))
    );
    // No app client is bound to a warehouse that does not exist: refused before the body.
    let unknown_site = send!(stock::receive_stock, shop, receipt("wh-nowhere", &item, 1));
    assert_eq!(
        (unknown_site.status, unknown_site.code()),
        (403, "FORBIDDEN")
    );
    let seen = send!(
        catalog::get_item,
        shop,
        Call::new("GET /v1/items/{itemId}", &[("itemId", &item)])
    );
    assert_eq!(seen.body["availability"]["available"], 0);
}

#[tokio::test]
async fn a_repeated_receipt_with_the_same_idempotency_key_is_applied_once() {
    let shop = Shop::open().await;
    let item = list_item(&shop, &Caller::seller(), "tvs").await;
    let first = send!(
        stock::receive_stock,
        shop,
        receipt(WAREHOUSE_A, &item, 4).header("Idempotency-Key", "delivery-1")
    );
    let again = send!(
        stock::receive_stock,
        shop,
        receipt(WAREHOUSE_A, &item, 4).header("Idempotency-Key", "delivery-1")
    );
    assert_eq!(
        (
            first.body["replayed"].as_bool(),
            again.body["replayed"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(again.body["levels"]["itemAvailable"], 4);

    let reused = send!(
        stock::receive_stock,
        shop,
        receipt(WAREHOUSE_A, &item, 5).header("Idempotency-Key", "delivery-1")
    );
    assert_eq!(
        (reused.status, reused.code()),
        (409, "IDEMPOTENCY_KEY_REUSED")
    );
}

#[tokio::test]
async fn a_receipt_retries_injected_transaction_conflicts_and_applies_once() {
    let shop = Shop::open().await;
    let item = list_item(&shop, &Caller::seller(), "tvs").await;
    let sent_before = shop
        .app
        .faults
        .sent
        .load(std::sync::atomic::Ordering::SeqCst);
    shop.app.faults.conflict_next(3);
    let reply = send!(stock::receive_stock, shop, receipt(WAREHOUSE_A, &item, 5));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["levels"]["itemAvailable"], 5,
        "three conflicts, then one commit: applied exactly once"
    );
    assert_eq!(
        shop.app
            .faults
            .sent
            .load(std::sync::atomic::Ordering::SeqCst)
            - sent_before,
        1
    );

    shop.app.faults.conflict_next(100);
    let exhausted = send!(stock::receive_stock, shop, receipt(WAREHOUSE_A, &item, 5));
    assert_eq!((exhausted.status, exhausted.code()), (503, "UNAVAILABLE"));
    shop.app.faults.conflict_next(0);
    let seen = send!(
        catalog::get_item,
        shop,
        Call::new("GET /v1/items/{itemId}", &[("itemId", &item)])
    );
    assert_eq!(seen.body["availability"]["available"], 5);
}

#[tokio::test]
async fn a_patch_with_a_stale_if_match_gets_412() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let item = list_item(&shop, &seller, "tvs").await;
    let patch = |etag: &str| {
        Call::new("PATCH /v1/seller/items/{itemId}", &[("itemId", &item)])
            .by(&seller)
            .header("If-Match", etag)
            .json(json!({ "brand": "Zeta" }))
    };
    assert_eq!(
        send!(catalog::update_item, shop, patch("\"1\"")).status,
        200
    );
    let stale = send!(catalog::update_item, shop, patch("\"1\""));
    assert_eq!(
        (
            stale.status,
            stale.body["error"]["details"]["currentVersion"].as_u64()
        ),
        (412, Some(2))
    );
}

#[tokio::test]
async fn a_seller_lists_only_their_own_items() {
    let shop = Shop::open().await;
    let (me, other) = (Caller::seller(), Caller::seller());
    let mine = list_item(&shop, &me, "tvs").await;
    list_item(&shop, &other, "tvs").await;
    let reply = send!(
        catalog::list_seller_items,
        shop,
        Call::new("GET /v1/seller/items", &[]).by(&me)
    );
    let ids: Vec<_> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![mine]);
}

#[tokio::test]
async fn a_public_item_is_cacheable_revalidates_with_304_and_changes_its_etag_with_stock() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let item = list_item(&shop, &seller, "widgets").await;
    let get = |etag: Option<String>| {
        let mut call = Call::new("GET /v1/items/{itemId}", &[("itemId", &item)]);
        if let Some(etag) = etag {
            call = call.header("If-None-Match", &etag);
        }
        call
    };
    let first = send!(catalog::get_item, shop, get(None));
    assert_eq!(first.status, 200);
    let header = |reply: &helpers::Reply, name: &str| {
        reply
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(&first, "cache-control").as_deref(),
        Some("public, max-age=30")
    );
    let etag = header(&first, "etag").expect("an ETag");
    let again = send!(catalog::get_item, shop, get(Some(etag.clone())));
    assert_eq!(again.status, 304, "{:?}", again.body);
    assert_eq!(again.body, serde_json::Value::Null, "no body");
    assert_eq!(header(&again, "etag"), Some(etag.clone()));
    // Stock arrives: same item version, other availability, so another representation.
    let received = send!(stock::receive_stock, shop, receipt(WAREHOUSE_A, &item, 2));
    assert_eq!(received.status, 200);
    let changed = send!(catalog::get_item, shop, get(Some(etag.clone())));
    assert_eq!(changed.status, 200);
    assert_ne!(header(&changed, "etag"), Some(etag));
    // The ETag still conditions a seller's edit on the item's version.
    let edited = send!(
        catalog::update_item,
        shop,
        Call::new("PATCH /v1/seller/items/{itemId}", &[("itemId", &item)])
            .by(&seller)
            .header("If-Match", &header(&changed, "etag").unwrap())
            .json(json!({ "name": "Cached TV 2" }))
    );
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(
        header(&edited, "cache-control").as_deref(),
        Some("private, no-store")
    );
}

#[tokio::test]
async fn one_callers_answers_and_errors_are_never_cached() {
    let shop = Shop::open().await;
    let cart = send!(
        aisle::api::shopping::get_cart,
        shop,
        Call::new("GET /v1/cart", &[]).by(&Caller::shopper())
    );
    assert_eq!(cart.status, 200);
    assert_eq!(
        cart.headers.get("cache-control").unwrap(),
        "private, no-store"
    );
    let missing = send!(
        catalog::get_item,
        shop,
        Call::new(
            "GET /v1/items/{itemId}",
            &[("itemId", &uuid::Uuid::new_v4().to_string())]
        )
    );
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.headers.get("cache-control").unwrap(),
        "private, no-store"
    );
}
