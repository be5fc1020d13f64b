//! Order history at any age, against DynamoDB Local and moto's S3: orders that will never
//! change again move to the archive bucket, reads answer them as before (one listing, one
//! cursor, wherever each order lives), a move stopped between any two of its steps loses
//! nothing and is finished by the next run, and nothing is archived twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aisle::domain::{
    HistoryPosition, Order, OrderId, OrderStatus, Page, PageRequest, Timestamp, UserId,
};
use aisle::ports::{OrderArchive, Orders, StockEffect, StoreError, Transition};
use aisle::usecases::archive::{self, Moved};
use async_trait::async_trait;
use helpers::{Call, Caller, Shop};

use crate::helpers;

const DAY: Duration = Duration::from_secs(86_400);

fn get_order(who: &Caller, id: OrderId) -> Call {
    Call::new("GET /v1/orders/{orderId}", &[("orderId", &id.to_string())]).by(who)
}

fn list_orders(who: &Caller, query: &str) -> Call {
    Call::new("GET /v1/orders", &[]).by(who).query(query)
}

/// Every order `who` sees, page by page at `limit` a page (following the cursor).
async fn every_page(shop: &Shop, who: &Caller, limit: u32, extra: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut query = format!("limit={limit}{extra}");
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        let page = send!(
            aisle::api::shopping::list_orders,
            shop,
            list_orders(who, &query)
        );
        assert_eq!(page.status, 200, "{:?}", page.body);
        for order in page.body["items"].as_array().unwrap() {
            seen.push(order["orderId"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("the listing never ended")
}

/// A cancelled order of one kettle, by a fresh shopper.
async fn cancelled(shop: &Shop) -> (Caller, OrderId) {
    let seller = Caller::seller();
    let item = helpers::listed_by(shop, &seller, "Kettle", "kitchen").await;
    assert!(
        helpers::deliver(shop, &[helpers::received(helpers::WAREHOUSE_A, item, 5)])
            .await
            .is_empty()
    );
    let order = helpers::place_order(shop, &[(item, 1)]).await;
    let user = shop.app.orders.get(order).await.unwrap().unwrap().user_id;
    let who = Caller::Shopper(user.to_string());
    let done = send!(
        aisle::api::shopping::cancel_order,
        shop,
        Call::new(
            "POST /v1/orders/{orderId}/cancel",
            &[("orderId", &order.to_string())]
        )
        .by(&who)
    );
    assert_eq!(done.status, 200, "{:?}", done.body);
    shop.run_async_work().await;
    (who, order)
}

/// Run the archiver as its function runs it (held to its IAM grants).
async fn archive_run(shop: &Shop) -> archive::ArchiveReport {
    archive_run_after(shop, shop.config.archive.quiet).await
}

/// [`archive_run`] with orders archived after `quiet` instead of the template's 90 days.
async fn archive_run_after(shop: &Shop, quiet: Duration) -> archive::ArchiveReport {
    archive_run_with(shop, quiet, 500).await
}

/// [`archive_run_after`] reading candidates `batch` at a time.
async fn archive_run_with(shop: &Shop, quiet: Duration, batch: usize) -> archive::ArchiveReport {
    let app = shop.as_function("archive-orders").await;
    archive::run(app.shop(), quiet, batch, helpers::sweep_deadline())
        .await
        .unwrap()
}

#[tokio::test]
async fn orders_that_must_stay_do_not_keep_later_ones_from_the_archive() {
    let shop = Shop::with_test_provider().await;
    let user = Caller::shopper().user_id();
    let base = shop.now();
    // The three oldest owe money (they stay); the two after them may go.
    let mut made = Vec::new();
    for minute in 0..5i64 {
        let mut order = stored_cancelled(&user, base.plus_millis(minute * 60_000));
        if minute < 3 {
            order.money_due.push(aisle::domain::MoneyDue {
                key: format!("owed-{minute}"),
                kind: aisle::domain::DueKind::Refund,
                amount: 1,
            });
        }
        assert!(shop.app.orders.create(&order).await.unwrap());
        made.push(order.order_id);
    }
    shop.clock.advance(shop.config.archive.quiet + DAY);
    // Read one candidate at a time: the run pages past the three that stay.
    let report = archive_run_with(&shop, shop.config.archive.quiet, 1).await;
    assert_eq!(report.moved, 2, "{report:?}");
    assert_eq!(report.kept.get("moneyOwed"), Some(&3), "{report:?}");
    for (i, id) in made.iter().enumerate() {
        assert_eq!(
            shop.app.orders.get(*id).await.unwrap().is_some(),
            i < 3,
            "order {i}"
        );
    }
}

#[tokio::test]
async fn a_cancelled_order_moves_to_the_archive_once_quiet_and_reads_exactly_as_before() {
    let shop = Shop::with_test_provider().await;
    let (who, order) = cancelled(&shop).await;
    let before = send!(
        aisle::api::shopping::get_order,
        shop,
        get_order(&who, order)
    );
    assert_eq!(before.status, 200);
    let listed_before = send!(
        aisle::api::shopping::list_orders,
        shop,
        list_orders(&who, "")
    );

    // Not yet: it changed too recently.
    let early = archive_run(&shop).await;
    assert_eq!(early.moved, 0, "{early:?}");
    assert!(shop.app.orders.get(order).await.unwrap().is_some());

    shop.clock.advance(shop.config.archive.quiet + DAY);
    let report = archive_run(&shop).await;
    assert_eq!((report.moved, report.failed), (1, 0), "{report:?}");
    assert!(
        shop.app.orders.get(order).await.unwrap().is_none(),
        "gone from the table"
    );
    assert!(
        shop.app.archive.get(order).await.unwrap().is_some(),
        "in the bucket"
    );

    let after = send!(
        aisle::api::shopping::get_order,
        shop,
        get_order(&who, order)
    );
    assert_eq!(after.status, 200);
    assert_eq!(after.body, before.body, "the same answer from the archive");
    let listed_after = send!(
        aisle::api::shopping::list_orders,
        shop,
        list_orders(&who, "")
    );
    assert_eq!(listed_after.body, listed_before.body);
    // Someone else's archived order is as absent as before.
    let stranger = send!(
        aisle::api::shopping::get_order,
        shop,
        get_order(&Caller::shopper(), order)
    );
    assert_eq!(stranger.status, 404);
    // Read-only: cancelling again is still the no-op it was.
    let again = send!(
        aisle::api::shopping::cancel_order,
        shop,
        Call::new(
            "POST /v1/orders/{orderId}/cancel",
            &[("orderId", &order.to_string())]
        )
        .by(&who)
    );
    assert_eq!(again.status, 200, "{:?}", again.body);
    // A second run finds nothing to do.
    let idle = archive_run(&shop).await;
    assert_eq!((idle.moved, idle.failed), (0, 0), "{idle:?}");
}

#[tokio::test]
async fn a_delivered_order_stays_until_its_return_window_closes_and_returns_close_with_it() {
    let shop = Shop::with_test_provider().await;
    let seller = Caller::seller();
    let (who, order, item) = crate::returns::delivered(&shop, &seller, 1).await;
    // An archiver set to a day's quiet still leaves it while the window is open.
    shop.clock.advance(aisle::domain::RETURN_WINDOW - DAY);
    let report = archive_run_after(&shop, DAY).await;
    assert_eq!(report.moved, 0, "{report:?}");
    assert_eq!(report.kept.get("returnWindowOpen"), Some(&1), "{report:?}");

    shop.clock.advance(DAY * 2);
    let late = send!(
        aisle::api::returns::request_return,
        shop,
        Call::new(
            "POST /v1/orders/{orderId}/returns",
            &[("orderId", &order.to_string())]
        )
        .by(&who)
        .json(
            serde_json::json!({ "lines": [{ "itemId": item, "quantity": 1 }], "reason": "late" })
        )
    );
    assert_eq!(
        (late.status, late.code()),
        (409, "RETURN_WINDOW_CLOSED"),
        "{:?}",
        late.body
    );
    shop.clock.advance(shop.config.archive.quiet);
    let report = archive_run(&shop).await;
    assert_eq!(report.moved, 1, "{report:?}");
    let read = send!(
        aisle::api::shopping::get_order,
        shop,
        get_order(&who, order)
    );
    assert_eq!(
        (read.status, read.body["status"].as_str()),
        (200, Some("DELIVERED"))
    );
}

#[tokio::test]
async fn an_order_that_can_still_change_is_never_archived() {
    let shop = Shop::with_test_provider().await;
    let seller = Caller::seller();
    let item = helpers::listed_by(&shop, &seller, "Kettle", "kitchen").await;
    assert!(
        helpers::deliver(&shop, &[helpers::received(helpers::WAREHOUSE_A, item, 5)])
            .await
            .is_empty()
    );
    let placed = helpers::place_order(&shop, &[(item, 1)]).await;
    // Cancelled, but the refund is not confirmed: money is owed.
    let (_, owing) = cancelled(&shop).await;
    let mut stored = shop.app.orders.get(owing).await.unwrap().unwrap();
    let mut next = stored.moved_to(OrderStatus::Cancelled, shop.now(), None);
    next.money_due.push(aisle::domain::MoneyDue {
        key: "held-back".into(),
        kind: aisle::domain::DueKind::Refund,
        amount: 1,
    });
    assert_eq!(
        shop.app
            .orders
            .transition(&stored, &next, StockEffect::None)
            .await
            .unwrap(),
        Transition::Done
    );
    stored = next;
    shop.clock.advance(DAY * 3650);
    let report = archive_run(&shop).await;
    assert_eq!(report.moved, 0, "{report:?}");
    assert_eq!(report.kept.get("moneyOwed"), Some(&1), "{report:?}");
    assert!(shop.app.orders.get(placed).await.unwrap().is_some());
    assert_eq!(shop.app.orders.get(owing).await.unwrap(), Some(stored));
    assert!(shop.app.archive.get(owing).await.unwrap().is_none());
}

/// The real ports with failures injected: the `fail_at`-th step of a move fails once (0:
/// none), and every copy of the `poisoned` order fails (a record that cannot be written).
struct Faulty<'a> {
    orders: &'a dyn Orders,
    archive: &'a dyn OrderArchive,
    fail_at: usize,
    poisoned: Option<OrderId>,
    step: AtomicUsize,
}

impl Faulty<'_> {
    fn step(&self) -> Result<(), StoreError> {
        if self.step.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Err(StoreError::Unavailable(format!(
                "injected at step {}",
                self.fail_at
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl OrderArchive for Faulty<'_> {
    async fn copy(&self, order: &Order) -> Result<(), StoreError> {
        self.step()?;
        if self.poisoned == Some(order.order_id) {
            return Err(StoreError::Bug(
                "injected: this order cannot be written".into(),
            ));
        }
        self.archive.copy(order).await
    }
    async fn index(&self, order: &Order) -> Result<(), StoreError> {
        self.step()?;
        self.archive.index(order).await
    }
    async fn holds(&self, order: &Order) -> Result<bool, StoreError> {
        self.step()?;
        self.archive.holds(order).await
    }
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.archive.get(id).await
    }
    async fn history(
        &self,
        user: &UserId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        after: Option<HistoryPosition>,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError> {
        self.archive.history(user, from, to, after, limit).await
    }
}

#[async_trait]
impl Orders for Faulty<'_> {
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.orders.get(id).await
    }
    async fn for_user(
        &self,
        user: &UserId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        page: &PageRequest,
    ) -> Result<Page<Order>, StoreError> {
        self.orders.for_user(user, from, to, page).await
    }
    async fn create(&self, order: &Order) -> Result<bool, StoreError> {
        self.orders.create(order).await
    }
    async fn with_status(&self, status: OrderStatus) -> Result<Vec<OrderId>, StoreError> {
        self.orders.with_status(status).await
    }
    async fn created_before(
        &self,
        status: OrderStatus,
        before: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<OrderId>, StoreError> {
        self.orders.created_before(status, before, page).await
    }
    async fn remove(&self, order: &Order) -> Result<bool, StoreError> {
        self.step()?;
        self.orders.remove(order).await
    }
    async fn owing(&self, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        self.orders.owing(limit).await
    }
    async fn transition(
        &self,
        current: &Order,
        next: &Order,
        effect: StockEffect,
    ) -> Result<Transition, StoreError> {
        self.orders.transition(current, next, effect).await
    }
}

#[tokio::test]
async fn a_move_stopped_between_any_two_steps_loses_nothing_and_the_next_run_finishes_it_once() {
    let shop = Shop::with_test_provider().await;
    // Steps: 1 copy, 2 history entry, 3 confirmation, 4 removal from the table.
    for fail_at in 1..=4 {
        let (who, order) = cancelled(&shop).await;
        let before = send!(
            aisle::api::shopping::get_order,
            shop,
            get_order(&who, order)
        );
        shop.clock.advance(shop.config.archive.quiet + DAY);
        let faulty = Faulty {
            orders: &shop.app.orders,
            archive: &shop.app.archive,
            fail_at,
            poisoned: None,
            step: AtomicUsize::new(0),
        };
        let now = shop.now();
        let quiet = shop.config.archive.quiet;
        let failed = archive::move_one(&faulty, &faulty, order, now, quiet).await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "step {fail_at}: {failed:?}"
        );
        // In between: still there, once, as before.
        assert!(
            shop.app.orders.get(order).await.unwrap().is_some(),
            "step {fail_at}"
        );
        let read = send!(
            aisle::api::shopping::get_order,
            shop,
            get_order(&who, order)
        );
        assert_eq!(read.body, before.body, "step {fail_at}");
        assert_eq!(
            every_page(&shop, &who, 1, "").await,
            vec![order.to_string()],
            "step {fail_at}"
        );
        // The next run finishes the move; a copy already made is not written again (the
        // bucket is versioned, as the template makes it: a second write is a second version).
        let moved = archive::move_one(&shop.app.orders, &shop.app.archive, order, now, quiet).await;
        assert_eq!(moved.unwrap(), Moved::Archived, "step {fail_at}");
        assert!(shop.app.orders.get(order).await.unwrap().is_none());
        assert_eq!(
            versions(&shop, order, &who.user_id()).await,
            2,
            "step {fail_at}: one copy, one history entry"
        );
        let read = send!(
            aisle::api::shopping::get_order,
            shop,
            get_order(&who, order)
        );
        assert_eq!(read.body, before.body, "step {fail_at}");
        assert_eq!(
            every_page(&shop, &who, 1, "").await,
            vec![order.to_string()],
            "step {fail_at}"
        );
        // And a run after that finds it gone.
        let again = archive::move_one(&shop.app.orders, &shop.app.archive, order, now, quiet).await;
        assert_eq!(again.unwrap(), Moved::Gone);
    }
}

/// How many object versions the archive holds for `order` (its copy and its history entry,
/// every version of each).
async fn versions(shop: &Shop, order: OrderId, user: &UserId) -> usize {
    let sdk = aisle_local::local_sdk_config().await;
    let s3 = aisle::app::s3_client(
        &sdk,
        Some(&aisle_local::endpoint("AWS_ENDPOINT_URL_S3", 5000)),
    );
    let mut count = 0;
    for prefix in [
        aisle::adapters::s3_archive::order_key(order),
        format!("shoppers/{user}/"),
    ] {
        let listed = s3
            .list_object_versions()
            .bucket(&shop.config.archive.bucket)
            .prefix(&prefix)
            .send()
            .await
            .unwrap();
        count += listed
            .versions()
            .iter()
            .filter(|v| {
                v.key().is_some_and(|k| {
                    k.ends_with(&format!("{order}.json")) || k.ends_with(&order.to_string())
                })
            })
            .count();
    }
    count
}

#[tokio::test]
async fn one_order_that_cannot_be_archived_fails_alone_and_the_run_moves_the_rest() {
    let shop = Shop::with_test_provider().await;
    let user = Caller::shopper().user_id();
    let base = shop.now();
    let mut made = Vec::new();
    for minute in 0..3i64 {
        let order = stored_cancelled(&user, base.plus_millis(minute * 60_000));
        assert!(shop.app.orders.create(&order).await.unwrap());
        made.push(order.order_id);
    }
    shop.clock.advance(shop.config.archive.quiet + DAY);
    let app = shop.as_function("archive-orders").await;
    let failing = Faulty {
        orders: &app.orders,
        archive: &app.archive,
        fail_at: 0,
        poisoned: Some(made[0]),
        step: AtomicUsize::new(0),
    };
    let mut ports = app.shop();
    ports.archive = &failing;
    let report = archive::run(
        ports,
        shop.config.archive.quiet,
        500,
        helpers::sweep_deadline(),
    )
    .await
    .unwrap();
    assert_eq!((report.moved, report.failed), (2, 1), "{report:?}");
    assert!(
        shop.app.orders.get(made[0]).await.unwrap().is_some(),
        "kept, to be retried"
    );
    assert!(
        shop.app.orders.get(made[2]).await.unwrap().is_none(),
        "the one after it moved"
    );
    // Once it can be written, the next run moves it.
    let report = archive_run(&shop).await;
    assert_eq!((report.moved, report.failed), (1, 0), "{report:?}");
}

#[tokio::test]
async fn two_archivers_at_once_move_each_order_once() {
    let shop = Shop::with_test_provider().await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(cancelled(&shop).await.1);
    }
    shop.clock.advance(shop.config.archive.quiet + DAY);
    let (a, b) = tokio::join!(archive_run(&shop), archive_run(&shop));
    assert_eq!((a.failed, b.failed), (0, 0), "{a:?} {b:?}");
    assert_eq!(a.moved + b.moved, 4, "{a:?} {b:?}");
    for order in orders {
        assert!(shop.app.orders.get(order).await.unwrap().is_none());
        assert!(shop.app.archive.get(order).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn one_history_pages_across_the_table_and_the_archive_with_one_cursor() {
    let shop = Shop::with_test_provider().await;
    let who = Caller::shopper();
    let user = who.user_id();
    // Nine orders a day apart, the first five old enough to archive, two at the same instant.
    let base = shop.now();
    let mut made = Vec::new();
    for day in 0..9i64 {
        let day = if day == 4 { 3 } else { day };
        let order = stored_cancelled(&user, base.plus_millis(day * 86_400_000));
        assert!(shop.app.orders.create(&order).await.unwrap());
        made.push(order);
    }
    shop.clock.advance_past(base.plus_millis(5 * 86_400_000));
    shop.clock.advance(shop.config.archive.quiet);
    let report = archive_run(&shop).await;
    assert!(report.moved >= 4, "{report:?}");

    let mut newest_first = made.clone();
    newest_first.sort_by(aisle::domain::archive::history_order);
    let expected: Vec<String> = newest_first
        .iter()
        .map(|o| o.order_id.to_string())
        .collect();
    for limit in [1, 2, 4, 20] {
        assert_eq!(
            every_page(&shop, &who, limit, "").await,
            expected,
            "limit {limit}"
        );
    }
    // From/to bound the creation time, inclusive, across both stores.
    let (from, to) = (made[2].created_at, made[6].created_at);
    let within: Vec<String> = newest_first
        .iter()
        .filter(|o| o.created_at >= from && o.created_at <= to)
        .map(|o| o.order_id.to_string())
        .collect();
    let range = format!("&from={from}&to={to}");
    assert_eq!(every_page(&shop, &who, 2, &range).await, within);
    // A cursor that is not one of ours is refused.
    let bad = send!(
        aisle::api::shopping::list_orders,
        shop,
        list_orders(&who, "cursor=bm9wZQ")
    );
    assert_eq!(bad.status, 400, "{:?}", bad.body);
}

/// An order of `user`'s whose payment failed at `at` (nothing owed, nothing to change).
fn stored_cancelled(user: &UserId, at: Timestamp) -> Order {
    use aisle::domain::{CheckoutId, Currency, HoldLine, Money, NewOrder, Payment, PaymentState};
    let total = Money {
        amount: 1_999,
        currency: Currency::Usd,
    };
    Order::new(
        NewOrder {
            checkout_id: CheckoutId::try_from(uuid::Uuid::new_v4().to_string()).unwrap(),
            user_id: user.clone(),
            lines: vec![HoldLine {
                item_id: aisle::domain::ItemId::try_from(uuid::Uuid::new_v4().to_string()).unwrap(),
                name: "Mug".into(),
                quantity: aisle::domain::Quantity::try_from(1i64).unwrap(),
                unit_price: total,
            }],
            total,
            shipping_address: helpers::address(),
            status: OrderStatus::PaymentFailed,
            payment: Payment {
                state: PaymentState::Voided,
                method: "pm_card_visa".into(),
                reference: None,
                checks: 0,
                key: None,
                captured: 0,
                refunded: 0,
            },
        },
        at,
    )
}
