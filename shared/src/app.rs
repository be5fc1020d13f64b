//! The wiring of one function instance: adapters built once at cold start over shared SDK
//! clients, then lent to every invocation by reference.

use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, SdkConfig};

use crate::adapters::dynamo::{
    DynamoCarts, DynamoCatalog, DynamoCheckouts, DynamoFulfilment, DynamoIdentities,
    DynamoInventory, DynamoOrders, DynamoParking, DynamoRequests, DynamoSellerNotices,
    DynamoShopperNotices, DynamoWaitingRoom, DynamoWarehouses, DynamoWatchers, Faults,
    InventoryTables,
};
use crate::adapters::eventbridge::EventBridgePublisher;
use crate::adapters::live_push::ApiGatewayPush;
use crate::adapters::payments::TestPayments;
use crate::adapters::s3_archive::S3OrderArchive;
use crate::adapters::search::{EmbeddedIndex, OpenSearchIndex};
use crate::adapters::ses::SesMailer;
use crate::adapters::sqs::{DeadLetters, SqsQueue, SqsTimer};
use crate::adapters::stripe::StripeAccount;
use crate::config::PaymentSettings;
use crate::config::{Config, SearchBackend};
use crate::domain::DeliveryMap;
use crate::ports::{ChargeOutcome, ChargeRef, ChargeStatus, Payments};
use crate::ports::{Clock, SearchIndex, StoreError, Warehouses};
use crate::usecases::search::QueryCache;
use crate::usecases::Shop;

/// The SDK clients, one per service, shared by every adapter.
#[derive(Debug, Clone)]
pub struct Clients {
    /// DynamoDB.
    pub dynamo: aws_sdk_dynamodb::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// Secrets Manager (the payment provider's keys).
    pub secrets: aws_sdk_secretsmanager::Client,
    /// SES v2 (shoppers' mail).
    pub ses: aws_sdk_sesv2::Client,
    /// S3 (the order archive).
    pub s3: aws_sdk_s3::Client,
    /// Region and credentials for requests signed by hand (OpenSearch).
    pub region: String,
    /// Credentials for signing by hand.
    pub credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    /// The SDK configuration, for clients whose endpoint the app's settings give (the
    /// WebSocket management API).
    pub sdk: SdkConfig,
}

impl Clients {
    /// One client per service over one SDK configuration.
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
            s3: s3_client(sdk, None),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            credentials: sdk.credentials_provider(),
            sdk: sdk.clone(),
        }
    }
}

/// An S3 client, on `endpoint` if given. A local endpoint (`AWS_ENDPOINT_URL_S3`, or one
/// given here) is addressed path-style (`host/bucket/key`): a bucket name cannot be a
/// subdomain of `127.0.0.1`.
pub fn s3_client(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let local = endpoint.is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let mut config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(local);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The payment provider a function was configured with (`PAYMENT_PROVIDER`).
#[derive(Debug, Clone)]
pub enum PaymentProvider {
    /// Stripe, keys from Secrets Manager.
    Stripe(Arc<StripeAccount>),
    /// The test provider (chosen explicitly; tests read its ledger).
    Test(TestPayments),
}

impl PaymentProvider {
    /// The test provider, if that is the one configured.
    pub fn test(&self) -> Option<&TestPayments> {
        match self {
            Self::Test(test) => Some(test),
            Self::Stripe(_) => None,
        }
    }

    /// The webhook signing secret (Stripe only).
    pub async fn webhook_secret(&self) -> Result<String, StoreError> {
        match self {
            Self::Stripe(account) => account.webhook_secret().await.map(str::to_owned),
            Self::Test(_) => Err(StoreError::Bug(
                "the test payment provider has no webhooks".into(),
            )),
        }
    }

    fn inner(&self) -> &dyn Payments {
        match self {
            Self::Stripe(account) => account.as_ref(),
            Self::Test(test) => test,
        }
    }
}

#[async_trait::async_trait]
impl Payments for PaymentProvider {
    async fn open(&self, charge: &ChargeRef) -> Result<crate::ports::Opened, StoreError> {
        self.inner().open(charge).await
    }
    async fn confirm(&self, charge: &ChargeRef) -> Result<ChargeOutcome, StoreError> {
        self.inner().confirm(charge).await
    }
    async fn status(&self, charge: &ChargeRef, check: u32) -> Result<ChargeStatus, StoreError> {
        self.inner().status(charge, check).await
    }
    async fn refund(
        &self,
        key: &str,
        charge: &ChargeRef,
        reference: Option<&str>,
        amount: crate::domain::Money,
    ) -> Result<(), StoreError> {
        self.inner().refund(key, charge, reference, amount).await
    }
    async fn void(&self, charge: &ChargeRef) -> Result<(), StoreError> {
        self.inner().void(charge).await
    }
    async fn holding_since(
        &self,
        since: crate::domain::Timestamp,
    ) -> Result<Vec<crate::ports::HeldCharge>, StoreError> {
        self.inner().holding_since(since).await
    }
}

/// The search index, opened on first use (most functions never search).
#[derive(Clone)]
pub struct SearchHandle {
    config: Config,
    region: String,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    /// The function's name, as its SDK clients give it (the local IAM check reads it).
    app_name: Option<String>,
    opened: Arc<OnceLock<Result<Arc<dyn SearchIndex>, String>>>,
}

impl std::fmt::Debug for SearchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchHandle")
            .field("backend", &self.config.search.backend)
            .finish()
    }
}

impl SearchHandle {
    /// The configured backend.
    pub fn index(&self) -> Result<&dyn SearchIndex, StoreError> {
        let opened = self.opened.get_or_init(|| {
            let index: Arc<dyn SearchIndex> = match &self.config.search.backend {
                SearchBackend::Embedded { dir } => {
                    Arc::new(EmbeddedIndex::open(dir.clone()).map_err(|e| e.to_string())?)
                }
                SearchBackend::OpenSearch { endpoint, alias } => Arc::new(
                    OpenSearchIndex::new(endpoint, alias, &self.region, self.credentials.clone())
                        .map_err(|e| e.to_string())?
                        .with_app_name(self.app_name.as_deref()),
                ),
            };
            Ok(index)
        });
        match opened {
            Ok(index) => Ok(index.as_ref()),
            Err(e) => Err(StoreError::Unavailable(e.clone())),
        }
    }
}

/// Adapters for every port, ready to use.
#[derive(Debug, Clone)]
pub struct App {
    /// The settings this function started with.
    pub config: Config,
    /// Items.
    pub catalog: DynamoCatalog,
    /// Sellable stock.
    pub inventory: DynamoInventory,
    /// Warehouse sites.
    pub warehouses: DynamoWarehouses,
    /// Which machine identity speaks for which warehouse.
    pub identities: DynamoIdentities,
    /// Carts and wishlists.
    pub carts: DynamoCarts,
    /// Checkout holds.
    pub checkouts: DynamoCheckouts,
    /// Orders.
    pub orders: DynamoOrders,
    /// Orders that will never change again, moved out of `orders`.
    pub archive: S3OrderArchive,
    /// Sellers' image uploads and the published renditions.
    pub images: crate::adapters::s3_images::S3Images,
    /// Warehouse orders and per-warehouse stock.
    pub fulfilment: DynamoFulfilment,
    /// The payment provider.
    pub payments: PaymentProvider,
    /// Idempotency records of requests.
    pub requests: DynamoRequests,
    /// The hold-expiry timer queue.
    pub timer: SqsTimer,
    /// The sweeper's failure records and parking place (the timer's dead-letter queue).
    pub parking: DynamoParking,
    /// Parked hold-timer messages.
    pub dead_letters: DeadLetters,
    /// Parked `OrderPlaced` messages the assignment worker cannot use.
    pub assignment_dead_letters: DeadLetters,
    /// Parked invalid warehouse messages.
    pub update_dead_letters: DeadLetters,
    /// Parked messages that are not seller notices.
    pub notice_dead_letters: DeadLetters,
    /// Parked image-upload notifications that name no upload.
    pub image_dead_letters: DeadLetters,
    /// Parked stream records that do not decode (the streams' failure destination).
    pub stream_dead_letters: DeadLetters,
    /// Sellers' notices.
    pub notices: DynamoSellerNotices,
    /// Shoppers' inboxes, notification settings and mail outbox.
    pub shopper_notices: DynamoShopperNotices,
    /// Shoppers' mail.
    pub mailer: SesMailer,
    /// Parked messages the shoppers' notifier cannot use.
    pub shopper_notice_dead_letters: DeadLetters,
    /// The shoppers' notices queue (restock messages in, retries delayed).
    pub shopper_notice_queue: SqsQueue,
    /// The restock fan-out's own queue (continuations).
    pub fan_out_queue: SqsQueue,
    /// Parked fan-out messages that are not restocks.
    pub fan_out_dead_letters: DeadLetters,
    /// Parked SES reports that cannot be read.
    pub feedback_dead_letters: DeadLetters,
    /// Hot items' waiting rooms.
    pub waiting_room: DynamoWaitingRoom,
    /// Who watches which item's live stock.
    pub watchers: DynamoWatchers,
    /// Pushes to WebSocket connections.
    pub live_push: ApiGatewayPush,
    /// Domain events onto the bus.
    pub events: EventBridgePublisher,
    /// Shopper signal counters (recommendations, suggestions, the zero-result report).
    pub signals: crate::adapters::dynamo::DynamoSignals,
    /// Parked signal lines and orders the signal consumer cannot read.
    pub signal_dead_letters: DeadLetters,
    /// Popular queries for suggestions, kept for a minute.
    pub popular_queries: Arc<crate::usecases::recommend::suggest::PopularQueries>,
    /// Fault injection for tests; inert unless a test arms it.
    pub faults: Arc<Faults>,
    /// The search index, opened on first use.
    pub search: SearchHandle,
    /// First pages of popular queries, kept for `SEARCH_CACHE_MS`.
    pub search_cache: Arc<QueryCache>,
    /// The time use cases and adapters see (the system clock; tests build the app
    /// [`App::with_clock`] a `TestClock`).
    pub clock: Arc<dyn Clock>,
    /// Warehouse reach by ZIP area for search's delivery promise, read on first use.
    pub delivery: DeliverySites,
}

/// The warehouse sites, read once per instance and again after [`DeliverySites::REFRESH`]
/// (sites are added by operators, rarely), with the per-ZIP-area reach built from them.
#[derive(Debug, Default, Clone)]
pub struct DeliverySites {
    loaded: Arc<tokio::sync::Mutex<Option<(std::time::Instant, Arc<DeliveryMap>)>>>,
}

impl DeliverySites {
    /// How long one read of the sites is used.
    pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(600);

    /// The map, reading the sites if this instance has none or an old copy.
    pub async fn get(&self, warehouses: &dyn Warehouses) -> Result<Arc<DeliveryMap>, StoreError> {
        let mut loaded = self.loaded.lock().await;
        if let Some((at, map)) = loaded.as_ref() {
            if at.elapsed() < Self::REFRESH {
                return Ok(map.clone());
            }
        }
        let map = Arc::new(DeliveryMap::new(warehouses.list().await?));
        *loaded = Some((std::time::Instant::now(), map.clone()));
        Ok(map)
    }
}

impl App {
    /// Load AWS settings the standard way (region, `AWS_ENDPOINT_URL_*`), with credentials from
    /// the environment when it has them and the shared HTTPS client ([`crate::adapters::http`]).
    pub async fn connect(config: &Config) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(crate::adapters::http::https_client());
        // The function's name as the SDK app name (`app/<name>` in the user agent): harmless
        // in AWS, and how the local IAM check (`infra/local/src/emulate/iam.rs`) knows who calls.
        if let Some(name) = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .and_then(|n| aws_config::AppName::new(n).ok())
        {
            loader = loader.app_name(name);
        }
        // Lambda hands every function its role's credentials in the environment; reading them
        // there directly skips building the rest of the default chain (web identity, SSO,
        // profiles, IMDS), which a function never uses and which costs init time.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        let sdk = loader.load().await;
        Self::new(config, Clients::from_sdk(&sdk))
    }

    /// Build over clients made elsewhere (tests point them at DynamoDB Local and moto).
    pub fn new(config: &Config, clients: Clients) -> Self {
        Self::with_faults(config, clients, Arc::new(Faults::default()))
    }

    /// [`App::new`] sharing `faults` with other apps: tests that act as several functions at
    /// once arm a fault once for all of them.
    pub fn with_faults(config: &Config, clients: Clients, faults: Arc<Faults>) -> Self {
        Self::with_clock(
            config,
            clients,
            faults,
            Arc::new(crate::adapters::clock::SystemClock),
        )
    }

    /// [`App::with_faults`] whose use cases and adapters all read the time from `clock` (tests
    /// pass a `TestClock`): the one source of time.
    pub fn with_clock(
        config: &Config,
        clients: Clients,
        faults: Arc<Faults>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let Clients {
            dynamo,
            sqs,
            events,
            secrets,
            ses,
            s3,
            region,
            credentials,
            sdk,
        } = clients;
        let t = &config.tables;
        let app_name = dynamo.config().app_name().map(|n| n.to_string());
        Self {
            config: config.clone(),
            catalog: DynamoCatalog::new(dynamo.clone(), &t.items),
            inventory: DynamoInventory::new(
                dynamo.clone(),
                InventoryTables {
                    stock: t.stock.clone(),
                    items: t.items.clone(),
                    warehouses: t.warehouses.clone(),
                    idempotency: t.idempotency.clone(),
                },
                faults.clone(),
                clock.clone(),
            ),
            warehouses: DynamoWarehouses::new(dynamo.clone(), &t.warehouses),
            identities: DynamoIdentities::new(dynamo.clone(), &t.warehouse_identities),
            carts: DynamoCarts::new(dynamo.clone(), &t.shoppers),
            checkouts: DynamoCheckouts::new(
                dynamo.clone(),
                t.clone(),
                faults.clone(),
                clock.clone(),
            ),
            fulfilment: DynamoFulfilment::new(
                dynamo.clone(),
                t.clone(),
                faults.clone(),
                clock.clone(),
            ),
            orders: DynamoOrders::new(
                dynamo.clone(),
                &t.orders,
                &t.stock,
                faults.clone(),
                clock.clone(),
            ),
            archive: S3OrderArchive::new(s3.clone(), &config.archive.bucket),
            images: crate::adapters::s3_images::S3Images::new(
                s3,
                &config.images.uploads_bucket,
                &config.images.images_bucket,
                &region,
                credentials.clone(),
            ),
            payments: match &config.payments {
                PaymentSettings::Stripe {
                    api_base,
                    secret_name,
                    stack,
                } => PaymentProvider::Stripe(Arc::new(StripeAccount::new(
                    secrets,
                    secret_name,
                    api_base,
                    stack,
                ))),
                PaymentSettings::Test => PaymentProvider::Test(TestPayments::default()),
            },
            requests: DynamoRequests::new(dynamo.clone(), &t.idempotency, clock.clone()),
            parking: DynamoParking::new(
                dynamo.clone(),
                &t.idempotency,
                DeadLetters::new(sqs.clone(), &config.timer_dlq_url),
            ),
            timer: SqsTimer::new(sqs.clone(), &config.timer_queue_url),
            assignment_dead_letters: DeadLetters::new(sqs.clone(), &config.assignment_dlq_url),
            update_dead_letters: DeadLetters::new(sqs.clone(), &config.warehouse_updates_dlq_url),
            notice_dead_letters: DeadLetters::new(sqs.clone(), &config.seller_notices_dlq_url),
            image_dead_letters: DeadLetters::new(sqs.clone(), &config.images.dead_letters_url),
            stream_dead_letters: DeadLetters::new(sqs.clone(), &config.stream_failures_url),
            notices: DynamoSellerNotices::new(dynamo.clone(), &t.shoppers),
            shopper_notices: DynamoShopperNotices::new(
                dynamo.clone(),
                &t.shoppers,
                faults.clone(),
                clock.clone(),
            ),
            mailer: SesMailer::new(
                ses,
                &config.mail.from,
                config.mail.configuration_set.clone(),
            ),
            shopper_notice_dead_letters: DeadLetters::new(
                sqs.clone(),
                &config.mail.dead_letters_url,
            ),
            shopper_notice_queue: SqsQueue::new(sqs.clone(), &config.mail.queue_url),
            fan_out_queue: SqsQueue::new(sqs.clone(), &config.mail.fan_out_queue_url),
            fan_out_dead_letters: DeadLetters::new(
                sqs.clone(),
                &config.mail.fan_out_dead_letters_url,
            ),
            feedback_dead_letters: DeadLetters::new(
                sqs.clone(),
                &config.mail.feedback_dead_letters_url,
            ),
            waiting_room: DynamoWaitingRoom::new(dynamo.clone(), &t.stock, &t.shoppers, &t.live),
            watchers: DynamoWatchers::new(dynamo.clone(), &t.live, clock.clone()),
            live_push: ApiGatewayPush::new(&sdk, &config.live_endpoint),
            dead_letters: DeadLetters::new(sqs.clone(), &config.timer_dlq_url),
            events: EventBridgePublisher::new(events, &config.event_bus),
            signals: crate::adapters::dynamo::DynamoSignals::new(
                dynamo.clone(),
                &t.signals,
                faults.clone(),
                clock.clone(),
            ),
            signal_dead_letters: DeadLetters::new(sqs, &config.signals_dlq_url),
            popular_queries: Arc::default(),
            faults,
            search: SearchHandle {
                config: config.clone(),
                region,
                credentials,
                app_name,
                opened: Arc::new(OnceLock::new()),
            },
            search_cache: Arc::new(QueryCache::new(config.search.cache_ttl, 512)),
            clock,
            delivery: DeliverySites::default(),
        }
    }

    /// The ports the shoppers' notifier needs, borrowed from this app.
    pub fn notifier(&self) -> crate::usecases::notifications::Notifier<'_> {
        crate::usecases::notifications::Notifier {
            orders: &self.orders,
            fulfilment: &self.fulfilment,
            catalog: &self.catalog,
            inventory: &self.inventory,
            notices: &self.shopper_notices,
            alerts: &self.shopper_notices,
            suppressions: &self.shopper_notices,
            unsubscribes: &self.shopper_notices,
            mailer: &self.mailer,
            clock: self.clock.as_ref(),
            store_url: &self.config.mail.store_url,
            api_url: self.config.mail.api_url.as_deref(),
        }
    }

    /// The ports the live-stock use cases need, borrowed from this app.
    pub fn live(&self) -> crate::usecases::live::Live<'_> {
        crate::usecases::live::Live {
            watchers: &self.watchers,
            inventory: &self.inventory,
            room: &self.waiting_room,
            push: &self.live_push,
        }
    }

    /// The ports the shopping use cases need, borrowed from this app.
    pub fn shop(&self) -> Shop<'_> {
        Shop {
            catalog: &self.catalog,
            inventory: &self.inventory,
            carts: &self.carts,
            checkouts: &self.checkouts,
            orders: &self.orders,
            archive: &self.archive,
            fulfilment: &self.fulfilment,
            warehouses: &self.warehouses,
            payments: &self.payments,
            requests: &self.requests,
            timer: &self.timer,
            parking: &self.parking,
            waiting_room: &self.waiting_room,
            clock: self.clock.as_ref(),
            hold: self.config.hold,
        }
    }
}
