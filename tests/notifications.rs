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
            .all(|o| matches!(o, Delivered::Done(_) | Delivered::Later { .. })),
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

/// `who` asks to be told when `item` is back (`PUT /v1/me/restock-alerts/{itemId}`).
async fn watch(shop: &Shop, who: &Caller, item: aisle::domain::ItemId) -> Reply {
    send!(
        aisle::api::notifications::put_restock_alert,
        shop,
        Call::new(
            "PUT /v1/me/restock-alerts/{itemId}",
            &[("itemId", &item.to_string())]
        )
        .by(who)
    )
}

/// `who`'s inbox notices.
async fn inbox(shop: &Shop, who: &Caller) -> Vec<serde_json::Value> {
    let reply = send!(
        aisle::api::notifications::list_notifications,
        shop,
        Call::new("GET /v1/me/notifications", &[]).by(who)
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

/// Record the verified address of `who` as their settings page would.
async fn settings_seen(shop: &Shop, who: &Caller) {
    let read = send!(
        aisle::api::notifications::get_notification_settings,
        shop,
        Call::new("GET /v1/me/notification-settings", &[]).by(who)
    );
    assert_eq!(read.status, 200, "{:?}", read.body);
}

#[tokio::test]
async fn a_restock_is_told_once_to_each_waiting_shopper_with_one_click_unsubscribe_and_their_alerts_end(
) {
    let shop = Shop::open().await;
    let item = listed(&shop, "Restocked teapot").await;
    let waiting: Vec<Caller> = (0..8).map(|_| Caller::shopper()).collect();
    for who in &waiting {
        settings_seen(&shop, who).await;
        let reply = watch(&shop, who, item).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        assert_eq!(reply.body["itemId"], item.to_string());
    }
    // One shopper changes their mind, one turns optional mail off.
    let (cancelled, quiet) = (&waiting[0], &waiting[1]);
    let gone = send!(
        aisle::api::notifications::delete_restock_alert,
        shop,
        Call::new(
            "DELETE /v1/me/restock-alerts/{itemId}",
            &[("itemId", &item.to_string())]
        )
        .by(cancelled)
    );
    assert_eq!(gone.status, 200, "{:?}", gone.body);
    assert_eq!(gone.body["items"].as_array().unwrap().len(), 0);
    let off = send!(
        aisle::api::notifications::put_notification_settings,
        shop,
        Call::new("PUT /v1/me/notification-settings", &[])
            .by(quiet)
            .json(json!({ "backInStockMail": false }))
    );
    assert_eq!(off.status, 200, "{:?}", off.body);

    receive(&shop, WAREHOUSE_A, item, 4).await;
    shop.pump_streams_of(&["StockTable"]).await;
    // ItemRestocked → RestocksToShoppers → the fan-out (as its function, with its grants) →
    // one message per waiting shopper → the notifier.
    assert_eq!(shop.pump_queue("RestockFanOutQueue").await, 1);
    let queued: Vec<String> = shop
        .drain("ShopperNoticesQueue")
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect();
    assert_eq!(
        queued.len(),
        waiting.len() - 1,
        "one per shopper still waiting"
    );
    // Each message delivered twice at once (SQS is at least once): one notice, one mail.
    let notifier = shop.as_function("notify-shoppers").await;
    let runs: Vec<_> = queued
        .iter()
        .chain(queued.iter())
        .map(|body| {
            let (notifier, body) = (notifier.clone(), body.clone());
            tokio::spawn(async move { deliver(&notifier.notifier(), &body).await.unwrap() })
        })
        .collect();
    for run in runs {
        let outcome = run.await.unwrap();
        assert!(
            matches!(outcome, Delivered::Done(_) | Delivered::Later { .. }),
            "{outcome:?}"
        );
    }

    for who in &waiting[2..] {
        let notices = inbox(&shop, who).await;
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0]["kind"], "BACK_IN_STOCK");
        assert_eq!(notices[0]["itemId"], item.to_string());
        let sent = mails(who).await;
        assert_eq!(sent.len(), 1, "one mail each");
        let raw = &sent[0].raw;
        assert!(raw.contains("List-Unsubscribe: <http"), "{raw}");
        assert!(raw.contains("/v1/unsubscribe/"), "{raw}");
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );
        let left = send!(
            aisle::api::notifications::list_restock_alerts,
            shop,
            Call::new("GET /v1/me/restock-alerts", &[]).by(who)
        );
        assert_eq!(
            left.body["items"].as_array().unwrap().len(),
            0,
            "the alert ended once told"
        );
    }
    assert!(
        inbox(&shop, cancelled).await.is_empty(),
        "cancelled: nothing"
    );
    assert!(mails(cancelled).await.is_empty());
    assert_eq!(
        inbox(&shop, quiet).await.len(),
        1,
        "mail off: still a notice"
    );
    assert!(mails(quiet).await.is_empty(), "mail off: no mail");
    assert!(shop.drain("ShopperNoticesDeadLetters").await.is_empty());

    // The fan-out redelivered finds nobody left to tell.
    let fan_out = shop.as_function("fan-out-restocks").await;
    let replay = aisle::usecases::notifications::fan_out::fan_out(
        &fan_out.shopper_notices,
        &fan_out.shopper_notice_queue,
        &aisle::domain::FanOut {
            event_id: inbox(&shop, &waiting[2]).await[0]["noticeId"]
                .as_str()
                .unwrap()
                .to_owned(),
            item_id: item,
            at: shop.now(),
            after: None,
        },
        aisle::usecases::notifications::fan_out::PAGING,
    )
    .await
    .unwrap();
    assert_eq!(
        replay.queued, 0,
        "every told alert ended: nobody left to queue"
    );
}

#[tokio::test]
async fn a_long_fan_out_continues_in_later_runs_and_queues_each_waiting_shopper_once() {
    use aisle::usecases::notifications::fan_out::{fan_out, Paging};
    let shop = Shop::open().await;
    let item = listed(&shop, "Hot console").await;
    // Pages of 100 and two pages a run: 450 shoppers take three runs (moto's SQS slows with
    // every message a queue holds, so the test stays small; the paging is what it checks).
    let waiting = 450;
    let alerts = Arc::new(shop.app.shopper_notices.clone());
    let now = shop.now();
    let writes: Vec<_> = (0..waiting)
        .map(|i| {
            let alerts = alerts.clone();
            tokio::spawn(async move {
                let user = aisle::domain::UserId::try_from(format!("fan-{i:05}")).unwrap();
                aisle::ports::RestockAlerts::watch(&*alerts, &user, item, now, 100)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for w in writes {
        assert_eq!(w.await.unwrap(), aisle::ports::Watched::New);
    }
    let function = shop.as_function("fan-out-restocks").await;
    let paging = Paging {
        page: 100,
        pages_per_run: 2,
    };
    let mut job = aisle::domain::FanOut {
        event_id: format!("stock/{item}/ItemRestocked/1"),
        item_id: item,
        at: now,
        after: None,
    };
    let mut runs = Vec::new();
    loop {
        let done = fan_out(
            &function.shopper_notices,
            &function.shopper_notice_queue,
            &job,
            paging,
        )
        .await
        .unwrap();
        runs.push(done.queued);
        match done.rest {
            // What the worker queues for the next run, read back as the next run would.
            Some(after) => job = aisle::domain::FanOut::parse(&job.continuation(after)).unwrap(),
            None => break,
        }
    }
    assert_eq!(runs, [200, 200, 50]);
    let queued = shop.drain("ShopperNoticesQueue").await;
    let users: std::collections::BTreeSet<String> = queued
        .iter()
        .map(
            |(body, _)| match aisle::domain::NoticeMessage::parse(body).unwrap() {
                aisle::domain::NoticeMessage::Restock(r) => r.user_id.to_string(),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(queued.len(), waiting, "one message per waiting shopper");
    assert_eq!(users.len(), waiting, "and no shopper twice");
}

#[tokio::test]
async fn notify_me_is_for_sold_out_items_and_asking_twice_is_one_alert() {
    let shop = Shop::open().await;
    let who = Caller::shopper();
    let in_stock = seed_item(&shop, "Plenty of mugs", 3).await;
    let refused = watch(&shop, &who, in_stock).await;
    assert_eq!((refused.status, refused.code()), (409, "IN_STOCK"));
    let sold_out = listed(&shop, "Rare mug").await;
    let first = watch(&shop, &who, sold_out).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let second = watch(&shop, &who, sold_out).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["created"], false);
    assert_eq!(second.body["since"], first.body["since"]);
    let unknown = watch(&shop, &who, aisle::domain::ItemId::derived_from("nope")).await;
    assert_eq!(unknown.status, 404);
    let mine = send!(
        aisle::api::notifications::list_restock_alerts,
        shop,
        Call::new("GET /v1/me/restock-alerts", &[]).by(&who)
    );
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    let theirs = send!(
        aisle::api::notifications::list_restock_alerts,
        shop,
        Call::new("GET /v1/me/restock-alerts", &[]).by(&Caller::shopper())
    );
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn one_click_unsubscribe_turns_optional_mail_off_and_a_made_up_token_is_not_found() {
    let shop = Shop::open().await;
    let who = Caller::shopper();
    let token = aisle::ports::Unsubscribes::token(&shop.app.shopper_notices, &who.user_id())
        .await
        .unwrap();
    let same = aisle::ports::Unsubscribes::token(&shop.app.shopper_notices, &who.user_id())
        .await
        .unwrap();
    assert_eq!(token, same, "one token per shopper");
    for _ in 0..2 {
        let reply = send!(
            aisle::api::notifications::unsubscribe,
            shop,
            Call::new("POST /v1/unsubscribe/{token}", &[("token", &token)])
                .header("content-type", "application/x-www-form-urlencoded")
                .raw_body("List-Unsubscribe=One-Click")
        );
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["unsubscribed"], true);
    }
    let settings =
        aisle::ports::ShopperNotices::settings(&shop.app.shopper_notices, &who.user_id())
            .await
            .unwrap();
    assert!(!settings.back_in_stock_mail);
    let made_up = "A".repeat(43);
    let reply = send!(
        aisle::api::notifications::unsubscribe,
        shop,
        Call::new("POST /v1/unsubscribe/{token}", &[("token", &made_up)])
    );
    assert_eq!(reply.status, 404, "{:?}", reply.body);
    let malformed = send!(
        aisle::api::notifications::unsubscribe,
        shop,
        Call::new("POST /v1/unsubscribe/{token}", &[("token", "short")])
    );
    assert_eq!(malformed.status, 400, "{:?}", malformed.body);
}

#[tokio::test]
async fn a_hard_bounce_puts_the_address_on_the_suppression_list_and_later_mail_to_it_is_skipped() {
    let shop = Shop::open().await;
    let (who, _, body) = placed(&shop).await;
    let bouncing =
        aisle::domain::EmailAddress::try_from(aisle_local::ses_events::BOUNCE.to_owned()).unwrap();
    aisle::ports::ShopperNotices::remember_email(
        &shop.app.shopper_notices,
        &who.user_id(),
        &bouncing,
    )
    .await
    .unwrap();
    let notifier = shop.as_function("notify-shoppers").await;
    let first = deliver(&notifier.notifier(), &body).await.unwrap();
    assert!(
        matches!(first, Delivered::Done(MailOutcome::Sent(_))),
        "{first:?}"
    );
    // SES's bounce → the default bus → MailFeedbackToSuppressions → the feedback queue →
    // record-mail-feedback, with its grants.
    assert_eq!(shop.pump_queue("MailFeedbackQueue").await, 1);
    assert!(shop.drain("MailFeedbackDeadLetters").await.is_empty());
    let reason = aisle::ports::Suppressions::suppressed(&shop.app.shopper_notices, &bouncing)
        .await
        .unwrap();
    assert!(reason.unwrap().contains("permanent bounce"));
    // A later message (another event) to the same address is not sent.
    let later = body.replace("aisle:event:", "aisle:event:later-");
    let second = deliver(&notifier.notifier(), &later).await.unwrap();
    match second {
        Delivered::Done(MailOutcome::Skipped(why)) => {
            assert!(why.contains("suppression list"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_mail_that_must_wait_fails_alone_and_the_notifier_sets_when_sqs_brings_it_back() {
    use aisle::usecases::notifications::deliver::LEASE_MS;
    let shop = Shop::open().await;
    let (who, _, body) = placed(&shop).await;
    let event_id = aisle::domain::event::Envelope::parse(&body)
        .unwrap()
        .event_id;
    // Another consumer is sending this mail (its lease holds).
    let held = aisle::ports::ShopperNotices::claim_mail(
        &shop.app.shopper_notices,
        &who.user_id(),
        &event_id,
        shop.now(),
        LEASE_MS,
    )
    .await
    .unwrap();
    assert_eq!(held, aisle::ports::MailClaim::Mine { attempt: 1 });
    let url = shop.queue_url("ShopperNoticesQueue");
    shop.sqs
        .send_message()
        .queue_url(&url)
        .message_body(&body)
        .send()
        .await
        .unwrap();
    let (event, _) = aisle_local::queues::receive(&shop.sqs, &url, 10, 1)
        .await
        .unwrap()
        .expect("the message is on the queue");
    let notifier = shop.as_function("notify-shoppers").await;
    let response = aisle::workers::notify_shoppers(
        &notifier,
        lambda_runtime::LambdaEvent::new(event, lambda_context()),
    )
    .await
    .unwrap();
    assert_eq!(response.batch_item_failures.len(), 1, "it waits, alone");
    assert!(
        mails(&who).await.is_empty(),
        "nothing sent while another holds it"
    );

    // The delay itself, as the notifier's grants allow it on the notices queue: a message
    // delayed by one second is back long before the queue's own 180 s.
    shop.sqs
        .send_message()
        .queue_url(&url)
        .message_body("probe")
        .send()
        .await
        .unwrap();
    let (event, handles) = aisle_local::queues::receive(&shop.sqs, &url, 10, 1)
        .await
        .unwrap()
        .expect("the probe is on the queue");
    assert_eq!(event.records[0].body.as_deref(), Some("probe"));
    notifier
        .shopper_notice_queue
        .delay(&handles[0].1, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut back = false;
    while std::time::Instant::now() < deadline && !back {
        if let Some((event, _)) = aisle_local::queues::receive(&shop.sqs, &url, 10, 2)
            .await
            .unwrap()
        {
            back = event
                .records
                .iter()
                .any(|r| r.body.as_deref() == Some("probe"));
        }
    }
    assert!(back, "the delayed message came back after its delay");
}

#[tokio::test]
async fn an_unreadable_ses_report_is_parked_with_its_reason_and_the_rest_of_its_batch_is_recorded()
{
    let shop = Shop::open().await;
    let bounce = json!({
        "source": "aws.ses",
        "detail-type": "Email Bounced",
        "detail": {
            "eventType": "Bounce",
            "mail": { "messageId": "m-1" },
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "NoEmail",
                "bouncedRecipients": [
                    { "emailAddress": "gone@shoppers.test" },
                    { "emailAddress": "not an address" }
                ]
            }
        }
    })
    .to_string();
    let transient = bounce.replace("Permanent", "Transient");
    let function = shop.as_function("record-mail-feedback").await;
    let batch = sqs_batch(&[
        "{\"source\": \"aws.ses\", \"detail\": {\"eventType\": \"Bounce\"}}".to_owned(),
        bounce,
        transient,
    ]);
    let response = aisle::workers::record_mail_feedback(&function, batch)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let parked = shop.drain("MailFeedbackDeadLetters").await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(
        parked[0]
            .1
            .as_deref()
            .unwrap_or_default()
            .contains("Bounce"),
        "{parked:?}"
    );
    let gone = aisle::domain::EmailAddress::try_from("Gone@Shoppers.test".to_owned()).unwrap();
    let reason = aisle::ports::Suppressions::suppressed(&shop.app.shopper_notices, &gone)
        .await
        .unwrap();
    assert_eq!(
        reason.as_deref(),
        Some("permanent bounce (NoEmail)"),
        "suppressed, whatever the case of the address"
    );
}

#[tokio::test]
async fn a_fan_out_message_that_is_no_restock_is_parked_and_the_rest_of_its_batch_goes_on() {
    let shop = Shop::open().await;
    let item = listed(&shop, "Parked teapot").await;
    let who = Caller::shopper();
    assert_eq!(watch(&shop, &who, item).await.status, 201);
    let job = aisle::domain::FanOut {
        event_id: format!("stock/{item}/ItemRestocked/9"),
        item_id: item,
        at: shop.now(),
        after: None,
    };
    let function = shop.as_function("fan-out-restocks").await;
    let batch = sqs_batch(&[
        "{\"detail-type\": \"OrderPlaced\"}".to_owned(),
        json!({ "fanOut": job }).to_string(),
    ]);
    let response = aisle::workers::fan_out_restocks(&function, batch)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(shop.drain("RestockFanOutDeadLetters").await.len(), 1);
    let queued = shop.drain("ShopperNoticesQueue").await;
    assert_eq!(
        queued.len(),
        1,
        "the good message beside it fanned out: {queued:?}"
    );
}
