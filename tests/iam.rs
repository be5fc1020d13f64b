//! IAM enforced locally (`aisle_local::iam`): a function calling through the proxy is held to
//! its own `Policies` in `template.yaml`, expanded as SAM expands them, and a call the template
//! does not grant fails as it would in AWS.

use std::sync::Arc;

use aisle::api::catalog;
use aisle::App;
use aisle_local::iam::{self, Decision, DecisionLog, Policies};
use aisle_local::{local_clients, local_sdk_config};

use crate::helpers::{self, template, Call, Caller, Reply, Shop};

/// `shop`'s app as the function `binary` runs it: DynamoDB reached through an IAM proxy
/// holding it to `policies`; the proxy's decision log is returned too.
async fn as_function(shop: &Shop, binary: &str, policies: Policies) -> (App, std::path::PathBuf) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let log_path = std::env::temp_dir().join(format!("aisle-iam-{}.jsonl", uuid::Uuid::new_v4()));
    let log = DecisionLog::open(Some(log_path.clone())).unwrap();
    let upstream = aisle_local::endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000);
    tokio::spawn(iam::serve(
        listener,
        upstream,
        Arc::new(policies),
        log,
        true,
        Arc::new(aisle_local::ses_events::MailFeedback::default()),
        Arc::new(aisle_local::s3_uploads::Buckets::default()),
    ));
    let sdk = local_sdk_config().await;
    let mut clients = local_clients(&sdk);
    let named = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(&proxy)
        .app_name(aws_sdk_dynamodb::config::AppName::new(binary.to_owned()).unwrap())
        .build();
    clients.dynamo = aws_sdk_dynamodb::Client::from_conf(named);
    (App::new(&shop.app.config, clients), log_path)
}

fn get_item(item: &str) -> Call {
    Call::new("GET /v1/items/{itemId}", &[("itemId", item)]).by(&Caller::shopper())
}

#[test]
fn sam_policy_templates_expand_to_the_actions_and_arns_sam_gives_them() {
    // The template itself grants DynamoDB by exact statements now; a copy gives
    // MoveToCartFunction SAM's DynamoDBReadPolicy on ItemsTable and on StockTable.
    let mut copy = template().clone();
    for table in ["ItemsTable", "StockTable"] {
        let entry = format!("DynamoDBReadPolicy: {{ TableName: !Ref {table} }}");
        copy.with_policy("MoveToCartFunction", serde_yaml::from_str(&entry).unwrap());
    }
    let policies = Policies::from_template(&copy, "p-").unwrap();
    let arn = |rest: &str| policies.arn("dynamodb", rest);
    assert_eq!(
        policies.decide(
            "move-to-cart",
            "dynamodb:BatchGetItem",
            &arn("table/p-StockTable")
        ),
        Decision::Allowed
    );
    assert_eq!(
        policies.decide(
            "move-to-cart",
            "dynamodb:Query",
            &arn("table/p-ItemsTable/index/bySeller")
        ),
        Decision::Allowed,
        "the policy template's /index/* resource"
    );
    assert_eq!(
        policies.decide(
            "move-to-cart",
            "dynamodb:PutItem",
            &arn("table/p-StockTable")
        ),
        Decision::Denied,
        "a read policy grants no write"
    );
    assert_eq!(
        policies.decide(
            "move-to-cart",
            "dynamodb:GetItem",
            &arn("table/p-OrdersTable")
        ),
        Decision::Denied,
        "nor any other table"
    );
    // GetItemFunction's exact grants: its two reads, and nothing a read policy would add.
    assert_eq!(
        policies.decide("get-item", "dynamodb:GetItem", &arn("table/p-ItemsTable")),
        Decision::Allowed
    );
    assert_eq!(
        policies.decide(
            "get-item",
            "dynamodb:BatchGetItem",
            &arn("table/p-StockTable")
        ),
        Decision::Allowed
    );
    for (action, resource) in [
        ("dynamodb:Scan", "table/p-ItemsTable"),
        ("dynamodb:Query", "table/p-ItemsTable/index/bySeller"),
        ("dynamodb:GetItem", "table/p-StockTable"),
    ] {
        assert_eq!(
            policies.decide("get-item", action, &arn(resource)),
            Decision::Denied,
            "{action} on {resource}"
        );
    }
    // ListOrdersFunction may query its index and nothing else of the table.
    assert_eq!(
        policies.decide(
            "list-orders",
            "dynamodb:Query",
            &arn("table/p-OrdersTable/index/byUser")
        ),
        Decision::Allowed
    );
    assert_eq!(
        policies.decide(
            "list-orders",
            "dynamodb:GetItem",
            &arn("table/p-OrdersTable")
        ),
        Decision::Denied
    );
    assert_eq!(
        policies.decide(
            "not-a-function",
            "dynamodb:PutItem",
            &arn("table/p-StockTable")
        ),
        Decision::Unchecked
    );
}

#[tokio::test]
async fn a_function_missing_one_grant_is_denied_as_aws_would_deny_it() {
    let shop = Shop::open().await;
    let item = helpers::seed_item(&shop, "Guarded", 3).await.to_string();

    // As written, the template lets get-item read the stock table.
    let granted = Policies::from_template(template(), &shop.prefix).unwrap();
    let (app, _) = as_function(&shop, "get-item", granted).await;
    let reply = Reply::from(
        catalog::get_item(&app, get_item(&item).request())
            .await
            .unwrap(),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    // A copy of the template without GetItemFunction's read of StockTable (Policies[1]).
    let mut copy = template().clone();
    copy.without_policy("GetItemFunction", 1);
    let policies = Policies::from_template(&copy, &shop.prefix).unwrap();
    let (app, log) = as_function(&shop, "get-item", policies).await;
    let reply = Reply::from(
        catalog::get_item(&app, get_item(&item).request())
            .await
            .unwrap(),
    );
    assert_eq!(
        (reply.status, reply.code()),
        (500, "INTERNAL"),
        "a missing grant is a deployment bug: 500, never a 503 that invites retries: {:?}",
        reply.body
    );
    let decisions = std::fs::read_to_string(log).unwrap();
    assert!(
        decisions.lines().any(|l| l.contains("\"Denied\"")
            && l.contains("StockTable")
            && l.contains("\"function\":\"get-item\"")),
        "the proxy denied get-item's stock read: {decisions}"
    );
}

/// Put one event on the shop's bus, as publish-events would.
async fn put_event(shop: &Shop, source: &str, detail_type: &str, detail: serde_json::Value) {
    let events = local_clients(&local_sdk_config().await).events;
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(aisle_local::template::local_name(&shop.prefix, "EventBus"))
        .source(source)
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build();
    let out = events.put_events().entries(entry).send().await.unwrap();
    assert_eq!(out.failed_entry_count, 0, "{out:?}");
}

#[tokio::test]
async fn a_rule_delivery_the_target_queue_does_not_allow_goes_to_the_dead_letter_queue_with_aws_reason(
) {
    let shop = Shop::open().await;
    let order = uuid::Uuid::new_v4().to_string();
    let placed = serde_json::json!({ "orderId": order });

    // As written, the queue policy lets the rules deliver OrderPlaced to the assignment queue,
    // the shoppers' notices queue, the sellers' notifications queue and the signals' queue.
    put_event(&shop, "aisle.orders", "OrderPlaced", placed.clone()).await;
    let relayed = shop.relay_rules().await;
    assert_eq!((relayed.delivered, relayed.dead_lettered), (4, 0));
    let assigned = shop.drain_with_attributes("AssignmentQueue").await;
    assert_eq!(assigned.len(), 1, "{assigned:?}");
    assert!(assigned[0].0.contains(&order));

    // A copy of the template without the queue policy: EventBridge may not send there.
    let mut copy = template().clone();
    copy.without_resource("EventRulesToQueues");
    let sqs = local_clients(&local_sdk_config().await).sqs;
    let relay = aisle_local::rules::Relay::new(sqs.clone(), &copy, &shop.prefix).unwrap();
    put_event(&shop, "aisle.orders", "OrderPlaced", placed.clone()).await;
    let relayed = relay.relay_once().await.unwrap();
    assert_eq!((relayed.delivered, relayed.dead_lettered), (0, 4));
    assert!(shop
        .drain_with_attributes("AssignmentQueue")
        .await
        .is_empty());
    let kept = shop.drain_with_attributes("EventDeliveryDeadLetters").await;
    assert_eq!(kept.len(), 4, "one per target: {kept:?}");
    let (body, attributes) = kept
        .iter()
        .find(|(_, a)| a["TARGET_ARN"].ends_with("AssignmentQueue"))
        .expect("the assignment queue's delivery");
    assert!(body.contains(&order), "the event itself is kept: {body}");
    assert_eq!(attributes["ERROR_CODE"], "NO_PERMISSIONS");
    assert!(
        attributes["RULE_ARN"].ends_with("OrderPlacedToAssignment"),
        "{attributes:?}"
    );
    assert!(
        attributes["TARGET_ARN"].ends_with("AssignmentQueue"),
        "{attributes:?}"
    );
    assert!(!attributes["ERROR_MESSAGE"].is_empty());

    // A target queue that is gone: NO_RESOURCE, kept the same way.
    sqs.delete_queue()
        .queue_url(shop.queue_url("SellerNotificationsQueue"))
        .send()
        .await
        .unwrap();
    put_event(
        &shop,
        "aisle.stock",
        "LowStock",
        serde_json::json!({ "itemId": uuid::Uuid::new_v4().to_string() }),
    )
    .await;
    let relayed = shop.relay_rules().await;
    assert_eq!((relayed.delivered, relayed.dead_lettered), (0, 1));
    let kept = shop.drain_with_attributes("EventDeliveryDeadLetters").await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1["ERROR_CODE"], "NO_RESOURCE");
    assert!(kept[0].1["TARGET_ARN"].ends_with("SellerNotificationsQueue"));
}

#[test]
fn the_search_role_may_only_search_and_the_indexers_may_write() {
    // As the template grants OpenSearch (`es:ESHttp*` on paths of the domain): the public
    // search reads `aisle-items/_search` and nothing else; the indexer and the rebuild write.
    let policies = Policies::from_template(template(), "p-").unwrap();
    let domain = |path: &str| policies.arn("es", &format!("domain/aisle-search/{path}"));
    let search = |action: &str, path: &str| policies.decide("search-items", action, &domain(path));
    assert_eq!(
        search("es:ESHttpPost", "aisle-items/_search"),
        Decision::Allowed
    );
    for (action, path) in [
        ("es:ESHttpPost", "_bulk"),
        ("es:ESHttpPost", "aisle-items/_update/x"),
        ("es:ESHttpPut", "aisle-items-g1"),
        ("es:ESHttpPost", "_aliases"),
        ("es:ESHttpDelete", "aisle-items-g1"),
        ("es:ESHttpGet", "aisle-items/_doc/x"),
    ] {
        assert_eq!(search(action, path), Decision::Denied, "{action} {path}");
    }
    assert_eq!(
        policies.decide("index-items", "es:ESHttpPost", &domain("_bulk")),
        Decision::Allowed
    );
    for (action, path) in [
        ("es:ESHttpPut", "aisle-items-g1"),
        ("es:ESHttpPost", "aisle-items-g1/_refresh"),
        ("es:ESHttpPost", "_aliases"),
        ("es:ESHttpDelete", "aisle-items-g0"),
    ] {
        assert_eq!(
            policies.decide("rebuild-search-index", action, &domain(path)),
            Decision::Allowed,
            "{action} {path}"
        );
    }
}

/// `shop`'s app as the function `binary` runs it, with S3 reached through an IAM proxy in
/// front of moto holding it to `policies`.
async fn with_s3_as(shop: &Shop, binary: &str, policies: Policies) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(iam::serve(
        listener,
        aisle_local::endpoint("AWS_ENDPOINT_URL_S3", 5000),
        Arc::new(policies),
        DecisionLog::open(None).unwrap(),
        true,
        Arc::new(aisle_local::ses_events::MailFeedback::default()),
        Arc::new(aisle_local::s3_uploads::Buckets::default()),
    ));
    let sdk = local_sdk_config().await;
    let mut clients = local_clients(&sdk);
    clients.s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url(&proxy)
            .force_path_style(true)
            .app_name(aws_sdk_s3::config::AppName::new(binary.to_owned()).unwrap())
            .build(),
    );
    App::new(&shop.app.config, clients)
}

#[tokio::test]
async fn without_list_bucket_a_missing_archived_order_is_s3s_403_as_in_aws() {
    let shop = Shop::with_test_provider().await;
    let who = Caller::shopper();
    let missing = uuid::Uuid::new_v4().to_string();
    let ask = || Call::new("GET /v1/orders/{orderId}", &[("orderId", &missing)]).by(&who);

    // As written: GetObject on orders/* and ListBucket, so S3 says 404 and so does the API.
    let granted = Policies::from_template(template(), &shop.prefix).unwrap();
    let app = with_s3_as(&shop, "get-order", granted).await;
    let reply = Reply::from(
        aisle::api::shopping::get_order(&app, ask().request())
            .await
            .unwrap(),
    );
    assert_eq!(reply.status, 404, "{:?}", reply.body);

    // Without the ListBucket statement (Policies[2]) S3 answers a missing key with 403: the
    // local proxy plays it, so the missing grant shows here as it would in AWS (a 500).
    let mut copy = template().clone();
    copy.without_policy("GetOrderFunction", 2);
    let policies = Policies::from_template(&copy, &shop.prefix).unwrap();
    let app = with_s3_as(&shop, "get-order", policies).await;
    let reply = Reply::from(
        aisle::api::shopping::get_order(&app, ask().request())
            .await
            .unwrap(),
    );
    assert_eq!(
        (reply.status, reply.code()),
        (500, "INTERNAL"),
        "{:?}",
        reply.body
    );
}
