//! Shoppers' notifications against DynamoDB Local and moto's SES: order events become one
//! inbox notice and one mail each, however often and however concurrently they arrive.

use std::sync::Arc;

use aisle::ports::MailOutcome;
use aisle::usecases::notifications::{deliver, Delivered};
use serde_json::json;

use crate::helpers::*;

/// The address a test shopper's token verifies (see `Caller::claims`).
fn address_of(who: &Caller) -> String {
    format!("{}@shoppers.test", who.user_id())
}

/// The shopper's order mails: what moto's SES sent to them.
async fn mails(who: &Caller) -> Vec<aisle_local::mailbox::Sent> {
    aisle_local::mailbox::sent_to(&address_of(who))
        .await
        .unwrap()
}

/// An order placed by a new shopper, and its `OrderPlaced` envelope as the shoppers'
/// notices queue receives it (relay → bus → rule → queue).
async fn placed(shop: &Shop) -> (Caller, aisle::domain::OrderId, String) {
    let item = seed_item(shop, "Notified kettle", 3).await;
    let (who, checkout) = hold(shop, &[(item, 1)]).await;
    let token = shop.pay_token("tok_success").await;
    let reply = send!(
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
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let order = aisle::domain::OrderId::try_from(reply.body["orderId"].as_str().unwrap()).unwrap();
    shop.pump_streams().await;
    let bodies: Vec<String> = shop
        .drain("ShopperNoticesQueue")
        .await
        .into_iter()
        .map(|(body, _)| body)
        .filter(|b| b.contains(&order.to_string()) && b.contains("\"OrderPlaced\""))
        .collect();
    assert_eq!(
        bodies.len(),
        1,
        "one OrderPlaced for the order reached the queue"
    );
    (who, order, bodies[0].clone())
}

#[tokio::test]
async fn a_placed_order_is_mailed_to_its_shopper_once_in_text_and_html_with_an_inbox_notice() {
    let shop = Shop::open().await;
    let (who, order, body) = placed(&shop).await;
    let notifier = shop.as_function("notify-shoppers").await;
    for _ in 0..3 {
        let delivered = deliver(&notifier.notifier(), &body).await.unwrap();
        assert!(matches!(delivered, Delivered::Done(_)), "{delivered:?}");
    }
    let sent = mails(&who).await;
    assert_eq!(sent.len(), 1, "three deliveries, one mail");
    let raw = &sent[0].raw;
    assert!(
        raw.contains("multipart/alternative") && raw.contains("text/html"),
        "{raw}"
    );
    assert!(
        raw.contains(&order.to_string()[..8]),
        "the mail names the order: {raw}"
    );
    assert!(
        !raw.contains("List-Unsubscribe"),
        "order mail is transactional"
    );

    let inbox = send!(
        aisle::api::notifications::list_notifications,
        shop,
        Call::new("GET /v1/me/notifications", &[]).by(&who)
    );
    assert_eq!(inbox.status, 200, "{:?}", inbox.body);
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{:?}", inbox.body);
    assert_eq!(items[0]["kind"], "ORDER_PLACED");
    assert_eq!(items[0]["orderId"], order.to_string());
    assert_eq!(items[0]["unread"], true);
    shop.clock.advance(std::time::Duration::from_secs(1));
    let read = send!(
        aisle::api::notifications::put_notification_settings,
        shop,
        Call::new("PUT /v1/me/notification-settings", &[])
            .by(&who)
            .json(json!({ "markRead": true }))
    );
    assert_eq!(read.status, 200, "{:?}", read.body);
    let again = send!(
        aisle::api::notifications::list_notifications,
        shop,
        Call::new("GET /v1/me/notifications", &[]).by(&who)
    );
    assert_eq!(again.body["items"][0]["unread"], false, "marked read");

    let stranger = send!(
        aisle::api::notifications::list_notifications,
        shop,
        Call::new("GET /v1/me/notifications", &[]).by(&Caller::shopper())
    );
    assert_eq!(
        stranger.body["items"].as_array().unwrap().len(),
        0,
        "another shopper sees none"
    );
}

#[tokio::test]
async fn the_same_event_delivered_to_several_consumers_at_once_sends_one_mail() {
    let shop = Shop::open().await;
    let (who, _, body) = placed(&shop).await;
    let notifier = shop.as_function("notify-shoppers").await;
    let body = Arc::new(body);
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let (notifier, body) = (notifier.clone(), body.clone());
            tokio::spawn(async move { deliver(&notifier.notifier(), &body).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await.unwrap());
    }
    let sent_now = outcomes
        .iter()
        .filter(|o| matches!(o, Delivered::Done(MailOutcome::Sent(_))))
        .count();
    assert_eq!(sent_now, 1, "exactly one consumer sent it: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Delivered::Done(_) | Delivered::Later(_))),
        "{outcomes:?}"
    );
    // The ones told "later" come back (SQS redelivers them) and find it settled.
    let late = deliver(&notifier.notifier(), &body).await.unwrap();
    assert!(
        matches!(late, Delivered::Done(MailOutcome::Skipped(_))),
        "{late:?}"
    );
    assert_eq!(
        mails(&who).await.len(),
        1,
        "one mail in the shopper's inbox"
    );
}

#[tokio::test]
async fn order_events_flow_from_the_outbox_to_mail_through_the_queue_and_its_grants() {
    let shop = Shop::open().await;
    let item = seed_item(&shop, "Queued kettle", 2).await;
    let order = place_order(&shop, &[(item, 1)]).await;
    shop.pump_streams().await;
    // notify-shoppers as its function runs it: the IAM proxies hold it to its grants
    // (orders, items, shoppers, ses:SendEmail).
    assert!(shop.pump_queue("ShopperNoticesQueue").await >= 1);
    let stored = aisle::ports::Orders::get(&shop.app.orders, order)
        .await
        .unwrap()
        .unwrap();
    let address = format!("{}@shoppers.test", stored.user_id);
    let sent = aisle_local::mailbox::sent_to(&address).await.unwrap();
    assert_eq!(sent.len(), 1, "the placed mail went out through the queue");
    assert!(shop.drain("ShopperNoticesDeadLetters").await.is_empty());
}

#[tokio::test]
async fn a_message_that_is_no_order_event_is_parked_with_its_reason_and_the_batch_goes_on() {
    let shop = Shop::open().await;
    let (who, _, body) = placed(&shop).await;
    let notifier = shop.as_function("notify-shoppers").await;
    let batch = sqs_batch(&["not an event".to_owned(), body]);
    let response = aisle::workers::notify_shoppers(&notifier, batch)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let parked = shop.drain("ShopperNoticesDeadLetters").await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(
        parked[0]
            .1
            .as_deref()
            .unwrap_or_default()
            .contains("not JSON"),
        "{parked:?}"
    );
    assert_eq!(
        mails(&who).await.len(),
        1,
        "the good message beside it was mailed"
    );
}

#[tokio::test]
async fn settings_show_the_verified_address_and_order_mail_cannot_be_turned_off() {
    let shop = Shop::open().await;
    let who = Caller::shopper();
    let read = send!(
        aisle::api::notifications::get_notification_settings,
        shop,
        Call::new("GET /v1/me/notification-settings", &[]).by(&who)
    );
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(read.body["email"], address_of(&who));
    assert_eq!(read.body["orderMail"], true);
    assert_eq!(read.body["backInStockMail"], true);
    let off = send!(
        aisle::api::notifications::put_notification_settings,
        shop,
        Call::new("PUT /v1/me/notification-settings", &[])
            .by(&who)
            .json(json!({ "backInStockMail": false }))
    );
    assert_eq!(off.status, 200, "{:?}", off.body);
    assert_eq!(off.body["backInStockMail"], false);
    let refused = send!(
        aisle::api::notifications::put_notification_settings,
        shop,
        Call::new("PUT /v1/me/notification-settings", &[])
            .by(&who)
            .json(json!({ "backInStockMail": true, "orderMail": false }))
    );
    assert_eq!(
        (refused.status, refused.code()),
        (422, "ORDER_MAIL_REQUIRED")
    );
    let unknown = send!(
        aisle::api::notifications::put_notification_settings,
        shop,
        Call::new("PUT /v1/me/notification-settings", &[])
            .by(&who)
            .json(json!({ "backInStockMail": true, "email": "someone@else.test" }))
    );
    assert_eq!(
        unknown.status, 400,
        "the address is never taken from a body"
    );
}

#[tokio::test]
async fn each_seller_hears_of_a_new_order_with_their_own_lines_only() {
    let shop = Shop::open().await;
    let (ann, bob) = (Caller::seller(), Caller::seller());
    let lamp = listed_by(&shop, &ann, "Ann's lamp", "lighting").await;
    let rug = listed_by(&shop, &bob, "Bob's rug", "floors").await;
    for item in [lamp, rug] {
        receive(&shop, WAREHOUSE_A, item, 3).await;
    }
    let order = place_order(&shop, &[(lamp, 2), (rug, 1)]).await;
    shop.pump_streams().await;
    // keep-seller-notices as its function runs it (it reads the items to find their sellers).
    shop.pump_queue("SellerNotificationsQueue").await;
    shop.pump_queue("SellerNotificationsQueue").await;
    for (seller, mine, theirs, units) in [(&ann, lamp, rug, 2), (&bob, rug, lamp, 1)] {
        let notices = send!(
            aisle::api::catalog::list_seller_notifications,
            shop,
            Call::new("GET /v1/seller/notifications", &[]).by(seller)
        );
        let new_orders: Vec<_> = notices.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "NEW_ORDER")
            .collect();
        assert_eq!(new_orders.len(), 1, "{:?}", notices.body);
        let notice = new_orders[0];
        assert_eq!(notice["orderId"], order.to_string());
        let lines = notice["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "their lines only: {notice}");
        assert_eq!(lines[0]["itemId"], mine.to_string());
        assert_eq!(lines[0]["quantity"], units);
        assert!(
            !notice.to_string().contains(&theirs.to_string()),
            "nothing of the other seller's"
        );
    }
}
