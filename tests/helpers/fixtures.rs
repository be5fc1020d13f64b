//! One way to make each fixture: listings, stocked items, holds, orders, warehouse messages.

use aisle::domain::ItemId;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

use super::*;

/// A valid listing body.
pub fn listing(name: &str, category: &str) -> Value {
    json!({
        "name": name,
        "description": "A test product.",
        "category": category,
        "brand": "Acme",
        "price": { "amount": 19999, "currency": "USD" },
        "attributes": { "colour": "black", "size": "55in" },
        "lowStockThreshold": 3
    })
}

/// List an item ([`listed`]) and receive `units` of it into warehouse A: the stocked-item
/// fixture.
pub async fn seed_item(shop: &Shop, name: &str, units: u32) -> ItemId {
    let item = listed(shop, name).await;
    receive(shop, WAREHOUSE_A, item, units).await;
    item
}

/// Receive `units` of `item` into `warehouse`, as that warehouse.
pub async fn receive(shop: &Shop, warehouse: &str, item: ItemId, units: u32) {
    let receipt = Call::new(
        "POST /v1/warehouses/{warehouseId}/stock",
        &[("warehouseId", warehouse)],
    )
    .by(&Caller::warehouse(warehouse))
    .json(json!({ "itemId": item.to_string(), "quantity": units }));
    let reply = Reply::from(
        aisle::api::stock::receive_stock(&shop.app, receipt.request())
            .await
            .unwrap(),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

/// A submit's request paying with `token` under a fresh idempotency key.
pub fn pay(token: &str) -> aisle::usecases::checkout::PaymentRequest {
    let key = uuid::Uuid::new_v4().to_string();
    aisle::usecases::checkout::PaymentRequest {
        fingerprint: format!("{key}/{token}"),
        idempotency_key: key,
        payment_token: token.to_owned(),
        shipping_address: address(),
    }
}

/// A valid US shipping address, as a request body's `shippingAddress`.
pub fn address_json() -> Value {
    json!({ "name": "Ada Lovelace", "line1": "340 W Market", "city": "Bloomington", "state": "MN", "zip": "55425", "country": "US" })
}

/// The same address ([`address_json`]) as the domain type.
pub fn address() -> aisle::domain::Address {
    serde_json::from_value(address_json()).unwrap()
}

/// Every record of `table` whose `field` is one of `values` (filtered server-side: only the
/// records that count are decoded).
pub async fn scan<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    field: &str,
    values: &[&str],
) -> Vec<T> {
    let mut out = Vec::new();
    let mut start = None;
    let placeholders: Vec<String> = (0..values.len()).map(|i| format!(":v{i}")).collect();
    loop {
        let mut request = client
            .scan()
            .table_name(table)
            .filter_expression(format!("#f IN ({})", placeholders.join(", ")))
            .expression_attribute_names("#f", field)
            .set_exclusive_start_key(start);
        for (p, v) in placeholders.iter().zip(values) {
            request = request.expression_attribute_values(
                p,
                aws_sdk_dynamodb::types::AttributeValue::S((*v).to_owned()),
            );
        }
        let page = request.send().await.unwrap();
        out.extend(
            page.items
                .unwrap_or_default()
                .into_iter()
                .map(|i| serde_dynamo::from_item(i).unwrap()),
        );
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

// ---------------------------------------------------------------- the warehouse side

/// An item listed by a new seller ([`listed_by`]) in "widgets".
pub async fn listed(shop: &Shop, name: &str) -> ItemId {
    listed_by(shop, &Caller::seller(), name, "widgets").await
}

/// An item `seller` listed ([`listing`]), with no stock yet: the listed-item fixture.
pub async fn listed_by(shop: &Shop, seller: &Caller, name: &str, category: &str) -> ItemId {
    let created = send!(
        aisle::api::catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(seller)
            .json(listing(name, category))
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    ItemId::try_from(created.body["itemId"].as_str().unwrap()).unwrap()
}

/// `bodies` as one SQS batch, as Lambda's SQS mapping hands it over (message ids `m0`, `m1`, ...).
pub fn sqs_batch(bodies: &[String]) -> LambdaEvent<aws_lambda_events::sqs::SqsEvent> {
    sqs_batch_from(bodies, |_| None)
}

/// [`sqs_batch`] with each message's `SenderId` as SQS sets it (`sender` of its body).
pub fn sqs_batch_from(
    bodies: &[String],
    sender: impl Fn(&str) -> Option<String>,
) -> LambdaEvent<aws_lambda_events::sqs::SqsEvent> {
    let records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut m = aws_lambda_events::sqs::SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(body.clone());
            if let Some(id) = sender(body) {
                m.attributes.insert("SenderId".into(), id);
            }
            m
        })
        .collect();
    let mut event = aws_lambda_events::sqs::SqsEvent::default();
    event.records = records;
    LambdaEvent::new(event, super::shop::lambda_context())
}

/// The `SenderId` SQS gives a message sent by `warehouse`'s onboarded IAM role.
pub fn sent_by(warehouse: &str) -> String {
    format!(
        "{}:warehouse-system",
        aisle_local::iam::warehouse_role_id(warehouse)
    )
}

/// Hand messages to the warehouse-updates consumer as one SQS batch, each sent by the
/// warehouse it names; the failed message ids.
pub async fn deliver(shop: &Shop, bodies: &[Value]) -> Vec<String> {
    let bodies: Vec<String> = bodies.iter().map(Value::to_string).collect();
    let named = |body: &str| {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|b| b["warehouseId"].as_str().map(sent_by))
    };
    let response =
        aisle::workers::apply_warehouse_updates(&shop.app, sqs_batch_from(&bodies, named))
            .await
            .unwrap();
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

pub fn message(warehouse: &str, kind: &str, fields: Value) -> Value {
    let mut body = json!({ "version": 1, "eventId": uuid::Uuid::new_v4().to_string(), "warehouseId": warehouse, "type": kind });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    body
}

pub fn received(warehouse: &str, item: ItemId, units: u32) -> Value {
    message(
        warehouse,
        "StockReceived",
        json!({ "itemId": item, "quantity": units }),
    )
}

/// A new shopper carts `lines` and begins checkout: the units are held. Returns the
/// shopper and the checkout id.
pub async fn hold(shop: &Shop, lines: &[(ItemId, u32)]) -> (Caller, String) {
    let who = Caller::shopper();
    for (item, units) in lines {
        let added = add_to_cart(shop, &who, item, *units).await;
        assert_eq!(added.status, 200, "{:?}", added.body);
    }
    let begun = begin(shop, &who).await;
    assert_eq!(begun.status, 201, "{:?}", begun.body);
    (who, begun.body["checkoutId"].as_str().unwrap().to_owned())
}

/// `who` sets `item`'s line in the cart to `units` (`PUT /v1/cart/items/{itemId}`).
pub async fn add_to_cart(
    shop: &Shop,
    who: &Caller,
    item: impl std::fmt::Display,
    units: u32,
) -> Reply {
    send!(
        aisle::api::shopping::put_cart_item,
        shop,
        Call::new(
            "PUT /v1/cart/items/{itemId}",
            &[("itemId", &item.to_string())]
        )
        .by(who)
        .json(json!({ "quantity": units }))
    )
}

/// `who` begins checkout of the cart under a fresh `Idempotency-Key`.
pub async fn begin(shop: &Shop, who: &Caller) -> Reply {
    send!(
        aisle::api::shopping::begin_checkout,
        shop,
        Call::new("POST /v1/checkout", &[])
            .by(who)
            .header("Idempotency-Key", &uuid::Uuid::new_v4().to_string())
    )
}

/// A shopper orders `lines` (paid, `PLACED`).
pub async fn place_order(shop: &Shop, lines: &[(ItemId, u32)]) -> aisle::domain::OrderId {
    let (who, checkout) = hold(shop, lines).await;
    let token = shop.pay_token("tok_success").await;
    let placed = send!(
        aisle::api::shopping::submit_order,
        shop,
        Call::new(
            "POST /v1/checkout/{checkoutId}/order",
            &[("checkoutId", &checkout)]
        )
        .by(&who)
        .header("Idempotency-Key", &format!("{checkout}-pay"))
        .json(json!({ "paymentToken": token, "shippingAddress": address_json() }))
    );
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    aisle::domain::OrderId::try_from(placed.body["orderId"].as_str().unwrap()).unwrap()
}

/// The order's shopper is authorised to return `lines` (`returns::request`, as the
/// `request-return` function): the return id a warehouse names in `ReturnReceived`.
pub async fn authorise_return(
    shop: &Shop,
    order: aisle::domain::OrderId,
    lines: &[(ItemId, u32)],
) -> aisle::domain::ReturnId {
    let user = aisle::ports::Orders::get(&shop.app.orders, order)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    let lines = lines
        .iter()
        .map(|(item, units)| aisle::domain::ReturnLine {
            item_id: *item,
            quantity: aisle::domain::Quantity::try_from(i64::from(*units)).unwrap(),
        })
        .collect();
    let app = shop.app_for("POST /v1/orders/{orderId}/returns").await;
    aisle::usecases::returns::request(
        app.shop(),
        &user,
        order,
        lines,
        "not as expected".into(),
        None,
    )
    .await
    .unwrap()
    .authorisation
    .return_id
}
