//! Shopper signals and what is built from them, against DynamoDB Local and moto through each
//! function's IAM grants: the handlers log signals (searches, views, cart and wishlist adds)
//! that `record-signals` counts once per shopper and bucket, however often they repeat or are
//! redelivered; purchases pair up even when one shopper's orders are recorded at the same
//! moment; the rankings, "also bought" and "for you" never show sold-out or unlisted items;
//! suggestions complete brands, categories, names and popular queries within typos.

use std::collections::BTreeSet;

use aisle::domain::signal::{counter_key, Measure, Signal, SignalLine, Window};
use aisle::domain::{ItemId, Timestamp, UserId};
use aisle::lambda::tracing::Instrument;
use aisle::ports::SignalCounts;
use aisle::usecases::recommend::record::record;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

use crate::helpers::{self, Call, Caller, Captured, Reply, Shop};

/// Run `call` through `handler` as its function does, under the JSON log subscriber writing
/// into `logs`.
macro_rules! logged {
    ($logs:expr, $handler:path, $shop:expr, $call:expr) => {{
        let call = &$call;
        let app = $shop.app_for(&call.route_key()).await;
        let request = call.request();
        let _logging = aisle::lambda::tracing::subscriber::set_default($logs.subscriber());
        let span = aisle::lambda::request_span(&request);
        Reply::from(
            $handler(&*app, request)
                .instrument(span)
                .await
                .expect("handlers never fail the invocation"),
        )
    }};
}

/// The lines a subscription filter `{ $.fields.message = "signal" }` would pass on.
fn signal_lines(logs: &Captured) -> Vec<String> {
    let filter =
        aisle_local::log_subscriptions::LogFilter::parse(r#"{ $.fields.message = "signal" }"#)
            .unwrap();
    logs.lines()
        .into_iter()
        .filter(|l| filter.matches(l))
        .collect()
}

/// Deliver `lines` to `record-signals` as CloudWatch Logs does (one batch, ids `e0`, `e1`...).
async fn deliver_logs(shop: &Shop, lines: &[String]) -> Result<(), String> {
    let batch: Vec<aisle_local::log_subscriptions::LogLine> = lines
        .iter()
        .enumerate()
        .map(|(i, message)| aisle_local::log_subscriptions::LogLine {
            id: format!("e{i}"),
            timestamp: 1,
            message: message.clone(),
        })
        .collect();
    let payload =
        aisle_local::log_subscriptions::event("/aws/lambda/local", "Signals", &batch).unwrap();
    let app = shop.as_function("record-signals").await;
    aisle::workers::record_signals(&app, LambdaEvent::new(payload, helpers::lambda_context()))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The current bucket of one overall counter, highest first.
async fn counted(shop: &Shop, measure: Measure, window: Window) -> Vec<(String, u64)> {
    let key = counter_key(measure, &window.bucket(shop.now()), None);
    shop.app.signals.top(&key, 10).await.unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemId"].as_str().unwrap().to_owned())
        .collect()
}

fn view(item: ItemId) -> Call {
    Call::new(
        "GET /v1/me/items/{itemId}",
        &[("itemId", &item.to_string())],
    )
}

#[tokio::test]
async fn views_cart_and_wishlist_adds_are_logged_and_counted_once_per_shopper_even_when_redelivered(
) {
    let shop = Shop::open().await;
    let x = helpers::seed_item(&shop, "Counted kettle", 5).await;
    let y = helpers::seed_item(&shop, "Counted toaster", 5).await;
    let (ann, bob) = (Caller::shopper(), Caller::shopper());
    let logs = Captured::default();
    // Ann looks at x three times and puts it in her cart; Bob wishes for x and looks at y.
    for _ in 0..3 {
        let reply = logged!(logs, aisle::api::catalog::get_item, shop, view(x).by(&ann));
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let cart = Call::new("PUT /v1/cart/items/{itemId}", &[("itemId", &x.to_string())])
        .by(&ann)
        .json(json!({ "quantity": 1 }));
    assert_eq!(
        logged!(logs, aisle::api::shopping::put_cart_item, shop, cart).status,
        200
    );
    let wish = Call::new(
        "PUT /v1/wishlist/items/{itemId}",
        &[("itemId", &x.to_string())],
    )
    .by(&bob);
    assert_eq!(
        logged!(logs, aisle::api::shopping::put_wishlist_item, shop, wish).status,
        200
    );
    assert_eq!(
        logged!(logs, aisle::api::catalog::get_item, shop, view(y).by(&bob)).status,
        200
    );
    // The public item route cannot tell who looks: no signal.
    let public = Call::new("GET /v1/items/{itemId}", &[("itemId", &x.to_string())]);
    assert_eq!(
        logged!(logs, aisle::api::catalog::get_item, shop, public).status,
        200
    );

    let lines = signal_lines(&logs);
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let signals: Vec<Signal> = lines
        .iter()
        .map(|l| SignalLine::from_log_message(l).unwrap().unwrap().signal)
        .collect();
    assert_eq!(
        signals[3],
        Signal::Carted {
            shopper: ann.user_id(),
            item: x
        }
    );

    deliver_logs(&shop, &lines).await.unwrap();
    // CloudWatch Logs (or Lambda's retry) delivering the same batch again changes nothing.
    deliver_logs(&shop, &lines).await.unwrap();

    let ranked = send!(
        aisle::api::recommend::get_recommendations,
        shop,
        Call::new("GET /v1/recommendations", &[]).query("window=hour")
    );
    assert_eq!(ranked.status, 200, "{:?}", ranked.body);
    assert_eq!(ids(&ranked.body["popular"]), [x.to_string(), y.to_string()]);
    assert_eq!(ids(&ranked.body["wishlisted"]), [x.to_string()]);
    // Two shoppers, not five signals.
    let top = counted(&shop, Measure::Interest, Window::Hour).await;
    assert_eq!(top[0], (x.to_string(), 2));
    // Per category too (both are "widgets").
    let widgets = send!(
        aisle::api::recommend::get_recommendations,
        shop,
        Call::new("GET /v1/recommendations", &[]).query("category=widgets&window=day&limit=1")
    );
    assert_eq!(ids(&widgets.body["popular"]), [x.to_string()]);
    let other = send!(
        aisle::api::recommend::get_recommendations,
        shop,
        Call::new("GET /v1/recommendations", &[]).query("category=tvs")
    );
    assert!(ids(&other.body["popular"]).is_empty());
    let bad = send!(
        aisle::api::recommend::get_recommendations,
        shop,
        Call::new("GET /v1/recommendations", &[]).query("window=week&limit=0")
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["error"]["details"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn searches_are_logged_with_their_result_count_and_zero_result_queries_are_counted_for_the_operator(
) {
    let shop = Shop::open().await;
    helpers::seed_item(&shop, "Findable lamp", 2).await;
    shop.pump_index().await;
    let logs = Captured::default();
    let search = |q: &str| Call::new("GET /v1/items", &[]).query(&format!("q={q}"));
    assert_eq!(
        logged!(
            logs,
            aisle::api::search::search_items,
            shop,
            search("findable")
        )
        .status,
        200
    );
    for _ in 0..2 {
        let reply = logged!(
            logs,
            aisle::api::search::search_items,
            shop,
            search("zyzzyva")
        );
        assert_eq!(reply.status, 200);
    }
    // Browsing without words is not a search.
    logged!(
        logs,
        aisle::api::search::search_items,
        shop,
        Call::new("GET /v1/items", &[])
    );
    let lines = signal_lines(&logs);
    let signals: Vec<Signal> = lines
        .iter()
        .map(|l| SignalLine::from_log_message(l).unwrap().unwrap().signal)
        .collect();
    assert_eq!(
        signals,
        [
            Signal::Searched {
                shopper: None,
                query: "findable".into(),
                results: 1
            },
            Signal::Searched {
                shopper: None,
                query: "zyzzyva".into(),
                results: 0
            },
            Signal::Searched {
                shopper: None,
                query: "zyzzyva".into(),
                results: 0
            },
        ]
    );
    assert!(
        lines.iter().all(|l| !l.contains("@")),
        "no mail address in a signal"
    );
    deliver_logs(&shop, &lines).await.unwrap();
    deliver_logs(&shop, &lines).await.unwrap();
    let zero = counted(&shop, Measure::ZeroResults, Window::Day).await;
    // Anonymous zero-result searches count each time, each log event once.
    assert_eq!(zero, [("zyzzyva".to_owned(), 2)]);
}

#[tokio::test]
async fn a_line_that_is_not_a_signal_is_parked_with_its_reason_and_the_rest_of_the_batch_counts() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Parked neighbour", 2).await;
    let shopper = UserId::try_from("poison-test-shopper").unwrap();
    let good = SignalLine::new(
        Signal::Viewed {
            shopper: shopper.clone(),
            item,
        },
        shop.now(),
    );
    let line = |signal: String| {
        json!({ "level": "INFO", "fields": { "message": "signal", "signal": signal } }).to_string()
    };
    let lines = vec![
        line("{\"version\":1,\"kind\":\"nonsense\"}".into()),
        line(serde_json::to_string(&good).unwrap()),
    ];
    deliver_logs(&shop, &lines).await.unwrap();
    let parked = shop.drain("SignalsDeadLetters").await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(
        parked[0]
            .1
            .as_deref()
            .unwrap_or("")
            .contains("not a signal"),
        "{parked:?}"
    );
    let top = counted(&shop, Measure::Interest, Window::Day).await;
    assert_eq!(top, [(item.to_string(), 1)]);
}

/// `shopper` bought `items` (recorded as `record-signals` records an `OrderPlaced`).
async fn bought(shop: &Shop, shopper: &UserId, items: &[ItemId], at: Timestamp, id: &str) {
    let app = shop.as_function("record-signals").await;
    let line = SignalLine::new(
        Signal::Bought {
            shopper: shopper.clone(),
            items: items.to_vec(),
        },
        at,
    );
    record(&app.signals, &app.catalog, &line, id).await.unwrap();
}

#[tokio::test]
async fn orders_of_one_shopper_recorded_at_the_same_moment_still_pair_every_item_once() {
    let shop = Shop::open().await;
    let (a, b, c) = (ItemId::generate(), ItemId::generate(), ItemId::generate());
    let shoppers: Vec<UserId> = (0..6)
        .map(|i| UserId::try_from(format!("pair-{i}-{}", uuid::Uuid::new_v4())).unwrap())
        .collect();
    let now = shop.now();
    // Each shopper's three orders land at once (three record-signals instances).
    let (one, two, three) = ([a], [b], [c]);
    futures_util::future::join_all(shoppers.iter().map(|s| async {
        tokio::join!(
            bought(&shop, s, &one, now, "o1"),
            bought(&shop, s, &two, now, "o2"),
            bought(&shop, s, &three, now, "o3"),
        );
    }))
    .await;
    // And once more, as a redelivery.
    bought(&shop, &shoppers[0], &[a, b, c], now, "again").await;
    for (item, others) in [(a, [b, c]), (b, [a, c]), (c, [a, b])] {
        let with: BTreeSet<(ItemId, u64)> = shop
            .app
            .signals
            .bought_with(item, 10)
            .await
            .unwrap()
            .into_iter()
            .collect();
        let expected: BTreeSet<(ItemId, u64)> = others.iter().map(|o| (*o, 6)).collect();
        assert_eq!(with, expected, "pairs of {item}");
    }
}

#[tokio::test]
async fn also_bought_and_for_you_never_show_sold_out_unlisted_or_already_bought_items() {
    let shop = Shop::open().await;
    let a = helpers::seed_item(&shop, "Anchor item", 5).await;
    let b = helpers::seed_item(&shop, "Best companion", 5).await;
    let c = helpers::seed_item(&shop, "Second companion", 5).await;
    let sold_out = helpers::listed(&shop, "Sold-out companion").await;
    let unlisted = ItemId::generate();
    let now = shop.now();
    let people: Vec<Caller> = (0..6).map(|_| Caller::shopper()).collect();
    for (i, (who, with)) in people
        .iter()
        .zip([b, b, b, c, sold_out, unlisted])
        .enumerate()
    {
        bought(&shop, &who.user_id(), &[a, with], now, &format!("o{i}")).await;
    }
    let related = send!(
        aisle::api::recommend::get_related_items,
        shop,
        Call::new(
            "GET /v1/items/{itemId}/related",
            &[("itemId", &a.to_string())]
        )
    );
    assert_eq!(related.status, 200, "{:?}", related.body);
    assert_eq!(
        ids(&related.body["alsoBought"]),
        [b.to_string(), c.to_string()]
    );

    // The shopper who bought a and c: b (bought with a by three) first; never a or c.
    let mine = send!(
        aisle::api::recommend::get_my_recommendations,
        shop,
        Call::new("GET /v1/me/recommendations", &[]).by(&people[3])
    );
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    let for_you = ids(&mine.body["forYou"]);
    assert_eq!(for_you.first(), Some(&b.to_string()), "{for_you:?}");
    for never in [a, c, sold_out, unlisted] {
        assert!(!for_you.contains(&never.to_string()), "{for_you:?}");
    }
    // Private: no token, no list; a warehouse system is not a shopper.
    let anonymous = send!(
        aisle::api::recommend::get_my_recommendations,
        shop,
        Call::new("GET /v1/me/recommendations", &[])
    );
    assert_eq!(anonymous.status, 401);
    let machine = send!(
        aisle::api::recommend::get_my_recommendations,
        shop,
        Call::new("GET /v1/me/recommendations", &[]).by(&Caller::warehouse(helpers::WAREHOUSE_A))
    );
    assert_eq!(machine.status, 403);
}

#[tokio::test]
async fn a_placed_order_reaches_the_signal_consumer_through_its_queue() {
    let shop = Shop::with_test_provider().await;
    let a = helpers::seed_item(&shop, "Queued purchase one", 3).await;
    let b = helpers::seed_item(&shop, "Queued purchase two", 3).await;
    helpers::place_order(&shop, &[(a, 1), (b, 1)]).await;
    shop.run_async_work().await;
    assert!(shop.pump_queue("SignalOrdersQueue").await >= 1);
    let with = shop.app.signals.bought_with(a, 10).await.unwrap();
    assert_eq!(with, [(b, 1)]);
}

/// List `name` by `brand` in `category` with stock, as a seller does.
async fn stocked(shop: &Shop, name: &str, brand: &str, category: &str) -> ItemId {
    let mut body = helpers::listing(name, category);
    body["brand"] = json!(brand);
    let created = send!(
        aisle::api::catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&Caller::seller())
            .json(body)
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = ItemId::try_from(created.body["itemId"].as_str().unwrap()).unwrap();
    helpers::receive(shop, helpers::WAREHOUSE_A, id, 3).await;
    id
}

fn suggest(q: &str) -> Call {
    Call::new("GET /v1/items/suggest", &[]).query(&format!("q={q}"))
}

fn texts(reply: &Reply) -> Vec<(String, String)> {
    reply.body["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["text"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn suggestions_complete_popular_queries_brands_categories_and_names_within_typos() {
    let shop = Shop::open().await;
    stocked(&shop, "Galaxy QLED 55", "Samsung", "tvs").await;
    stocked(&shop, "Soundbar Mini", "Samsung", "audio").await;
    stocked(&shop, "Bravia 65", "Sony", "tvs").await;
    shop.pump_index().await;
    // Two shoppers searched for "samsung tv" today and found something.
    let app = shop.as_function("record-signals").await;
    for (i, who) in ["s1", "s2"].iter().enumerate() {
        let line = SignalLine::new(
            Signal::Searched {
                shopper: Some(UserId::try_from(*who).unwrap()),
                query: "samsung tv".into(),
                results: 1,
            },
            shop.now(),
        );
        record(&app.signals, &app.catalog, &line, &format!("q{i}"))
            .await
            .unwrap();
    }

    let exact = send!(aisle::api::recommend::suggest_items, shop, suggest("Sams"));
    assert_eq!(exact.status, 200, "{:?}", exact.body);
    assert_eq!(
        texts(&exact),
        [
            ("samsung tv".to_owned(), "query".to_owned()),
            ("samsung".to_owned(), "brand".to_owned()),
        ]
    );
    // Two letters swapped, and a category and names.
    let typo = send!(
        aisle::api::recommend::suggest_items,
        shop,
        suggest("samsnug")
    );
    assert!(texts(&typo).contains(&("samsung".to_owned(), "brand".to_owned())));
    let names = send!(
        aisle::api::recommend::suggest_items,
        shop,
        suggest("galxy%20q")
    );
    assert_eq!(
        texts(&names),
        [("galaxy qled 55".to_owned(), "item".to_owned())]
    );
    let category = send!(aisle::api::recommend::suggest_items, shop, suggest("tv"));
    assert!(texts(&category).contains(&("tvs".to_owned(), "category".to_owned())));
    let nothing = send!(
        aisle::api::recommend::suggest_items,
        shop,
        suggest("qqqqqqqq")
    );
    assert_eq!(nothing.status, 200);
    assert!(texts(&nothing).is_empty());
    let bad = send!(aisle::api::recommend::suggest_items, shop, suggest("%20"));
    assert_eq!(bad.status, 400);
}
