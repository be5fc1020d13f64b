//! Typed configuration from the environment, read once at cold start. Missing settings fail
//! the start with every missing name listed, rather than the first request with one.
//! The variable names are the ones `template.yaml` sets in `Globals.Function.Environment`.

use std::time::Duration;

/// Names of the DynamoDB tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// The entries.
    pub items: String,
    /// Stock counters (`STOCK_TABLE`).
    pub stock: String,
    /// Warehouse sites (`WAREHOUSES_TABLE`).
    pub warehouses: String,
    /// Which machine identity speaks for which warehouse (`WAREHOUSE_IDENTITIES_TABLE`).
    pub warehouse_identities: String,
    /// Carts, wishlists, checkout pointers (`SHOPPERS_TABLE`).
    pub shoppers: String,
    /// Checkout holds (`HOLDS_TABLE`).
    pub holds: String,
    /// Orders (`ORDERS_TABLE`).
    pub orders: String,
    /// Warehouse orders (`WAREHOUSE_ORDERS_TABLE`).
    pub warehouse_orders: String,
    /// Idempotency records and once-only markers (`IDEMPOTENCY_TABLE`).
    pub idempotency: String,
    /// Live-stock WebSocket subscriptions (`LIVE_TABLE`).
    pub live: String,
    /// Shopper signal counters, purchases and recent searches (`SIGNALS_TABLE`).
    pub signals: String,
}

/// Where the search index lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchBackend {
    /// The embedded tantivy index in a local directory (`SEARCH_INDEX_DIR`).
    Embedded {
        /// The index directory.
        dir: std::path::PathBuf,
    },
    /// An OpenSearch domain (`OPENSEARCH_ENDPOINT`), written and searched through an alias.
    OpenSearch {
        /// The domain endpoint (`https://...`).
        endpoint: String,
        /// The alias reads and writes go through (`OPENSEARCH_INDEX`).
        alias: String,
    },
}

/// Search settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSettings {
    /// Which index serves search.
    pub backend: SearchBackend,
    /// How long a popular first page may be served from memory (`SEARCH_CACHE_MS`).
    pub cache_ttl: Duration,
}

impl SearchSettings {
    /// OpenSearch when `OPENSEARCH_ENDPOINT` is set, else the embedded index.
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        let backend = match set("OPENSEARCH_ENDPOINT") {
            Some(endpoint) => SearchBackend::OpenSearch {
                endpoint,
                alias: set("OPENSEARCH_INDEX").unwrap_or_else(|| "aisle-items".into()),
            },
            None => SearchBackend::Embedded {
                dir: set("SEARCH_INDEX_DIR")
                    .unwrap_or_else(|| "/tmp/aisle-search".into())
                    .into(),
            },
        };
        let cache_ms = match set("SEARCH_CACHE_MS") {
            None => 1000,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= 60_000)
                .ok_or_else(|| {
                    ConfigError(format!("SEARCH_CACHE_MS must be 0..=60000, got {raw:?}"))
                })?,
        };
        Ok(Self {
            backend,
            cache_ttl: Duration::from_millis(cache_ms),
        })
    }
}

/// Everything a function needs to know about its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The DynamoDB tables.
    pub tables: Tables,
    /// The EventBridge bus domain events go to (`EVENT_BUS_NAME`).
    pub event_bus: String,
    /// The checkout timer queue (delayed expiry and payment-settlement messages).
    pub timer_queue_url: String,
    /// Where refused timer messages are parked with their reason.
    pub timer_dlq_url: String,
    /// Where unusable `OrderPlaced` messages for the assignment worker are parked.
    pub assignment_dlq_url: String,
    /// Where invalid warehouse messages are parked with their reason.
    pub warehouse_updates_dlq_url: String,
    /// Where messages that are not seller notices are parked with their reason.
    pub seller_notices_dlq_url: String,
    /// Where stream records that cannot be read are parked, with their reason (the streams'
    /// failure destination too).
    pub stream_failures_url: String,
    /// Where signal log lines that cannot be read are parked, with their reason (also the
    /// signal consumer's failure destination).
    pub signals_dlq_url: String,
    /// The live-stock WebSocket API's management endpoint (`LIVE_ENDPOINT`,
    /// `https://<api>.execute-api.<region>.amazonaws.com/<stage>`) pushes are posted to.
    pub live_endpoint: String,
    /// How long a checkout holds stock.
    pub hold: Duration,
    /// Search settings.
    pub search: SearchSettings,
    /// Who takes the money.
    pub payments: PaymentSettings,
    /// How long browsers and CDNs may reuse a public answer (catalog, item, search), in
    /// seconds (`CACHE_MAX_AGE_SECONDS`, default 30): short, since availability is live.
    pub cache_max_age: u32,
    /// Shoppers' mail.
    pub mail: MailSettings,
    /// Where orders that will never change again are archived.
    pub archive: ArchiveSettings,
    /// Where product images are uploaded, published and served.
    pub images: ImageSettings,
}

/// Product images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSettings {
    /// Sellers' uploads (`UPLOADS_BUCKET`).
    pub uploads_bucket: String,
    /// Published renditions (`IMAGES_BUCKET`).
    pub images_bucket: String,
    /// Where the CDN serves the images bucket (`IMAGES_URL`, the storefront's distribution:
    /// a rendition is `<IMAGES_URL>/images/<itemId>/<imageId>-<width>.<ext>`).
    pub base_url: String,
    /// Where notifications that are not uploads are parked (`IMAGE_UPLOADS_DLQ_URL`).
    pub dead_letters_url: String,
}

/// How shoppers' mail is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The sender (`MAIL_FROM`, an SES-verified identity's address, with a display name).
    pub from: String,
    /// The SES configuration set whose event destinations report bounces and complaints
    /// (`SES_CONFIGURATION_SET`, optional).
    pub configuration_set: Option<String>,
    /// The storefront's address, for links in mail (`STORE_URL`).
    pub store_url: String,
    /// Where messages the notifier cannot use are parked (`SHOPPER_NOTICES_DLQ_URL`).
    pub dead_letters_url: String,
    /// The notices queue, where the restock fan-out puts one message per shopper
    /// (`SHOPPER_NOTICES_QUEUE_URL`) and the notifier delays what it retries.
    pub queue_url: String,
    /// The restock fan-out's queue, where a long fan-out continues
    /// (`RESTOCK_FANOUT_QUEUE_URL`).
    pub fan_out_queue_url: String,
    /// Where fan-out messages that are not restocks are parked (`RESTOCK_FANOUT_DLQ_URL`).
    pub fan_out_dead_letters_url: String,
    /// Where SES reports that cannot be read are parked (`MAIL_FEEDBACK_DLQ_URL`).
    pub feedback_dead_letters_url: String,
    /// The API's own address, for the one-click unsubscribe in optional mail (`API_URL`;
    /// set on the notifier only: an HTTP function cannot name its own API in CloudFormation
    /// without a cycle).
    pub api_url: Option<String>,
}

/// The order archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSettings {
    /// The S3 bucket (`ARCHIVE_BUCKET`).
    pub bucket: String,
    /// How long an order in a final state stays unchanged before it moves
    /// (`ARCHIVE_AFTER_DAYS`, default 90; `ARCHIVE_AFTER_SECONDS` overrides it in local runs).
    pub quiet: Duration,
}

impl ArchiveSettings {
    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        bucket: String,
    ) -> Result<Self, ConfigError> {
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        let number = |name: &str, max: u64| -> Result<Option<u64>, ConfigError> {
            set(name)
                .map(|raw| {
                    raw.parse::<u64>()
                        .ok()
                        .filter(|v| *v <= max)
                        .ok_or_else(|| {
                            ConfigError(format!("{name} must be 0..={max}, got {raw:?}"))
                        })
                })
                .transpose()
        };
        let quiet = match number("ARCHIVE_AFTER_SECONDS", 10 * 365 * 86_400)? {
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::from_secs(number("ARCHIVE_AFTER_DAYS", 3650)?.unwrap_or(90) * 86_400),
        };
        Ok(Self { bucket, quiet })
    }
}

/// Which payment provider takes the money (`PAYMENT_PROVIDER`, required: the test provider
/// is never a default, so a stack takes real money unless its deployer chose otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentSettings {
    /// Stripe PaymentIntents (`PAYMENT_PROVIDER=stripe`).
    Stripe {
        /// `STRIPE_API_BASE` (default `https://api.stripe.com`).
        api_base: String,
        /// `STRIPE_SECRET_NAME`: the Secrets Manager secret with the API key and the
        /// webhook signing secret.
        secret_name: String,
        /// `STACK_NAME`: the tag on every PaymentIntent this stack makes, so its
        /// reconciliation counts only its own on an account shared with other applications.
        stack: String,
    },
    /// The test provider (`PAYMENT_PROVIDER=test`): tokens decide the outcome, no money moves.
    Test,
}

impl PaymentSettings {
    /// The tag this stack's charges carry (`STACK_NAME`; none for the test provider).
    pub fn stack(&self) -> &str {
        match self {
            Self::Stripe { stack, .. } => stack,
            Self::Test => "",
        }
    }

    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        match set("PAYMENT_PROVIDER").as_deref() {
            Some("stripe") => Ok(Self::Stripe {
                api_base: set("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com".into()),
                secret_name: set("STRIPE_SECRET_NAME").ok_or_else(|| {
                    ConfigError("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_NAME".into())
                })?,
                stack: set("STACK_NAME").ok_or_else(|| {
                    ConfigError("PAYMENT_PROVIDER=stripe needs STACK_NAME".into())
                })?,
            }),
            Some("test") => Ok(Self::Test),
            Some(other) => Err(ConfigError(format!(
                "PAYMENT_PROVIDER must be stripe or test, got {other:?}"
            ))),
            None => Err(ConfigError(
                "PAYMENT_PROVIDER is not set (stripe, or test for a stack that takes no money)"
                    .into(),
            )),
        }
    }
}

/// Configuration: `0`.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Read the process environment; every missing or malformed setting is named in the error.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Build from any variable source (the process environment, or a test's map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut missing = Vec::new();
        let mut var = |name: &str| {
            get(name).filter(|v| !v.is_empty()).unwrap_or_else(|| {
                missing.push(name.to_owned());
                String::new()
            })
        };
        let tables = Tables {
            items: var("ITEMS_TABLE"),
            stock: var("STOCK_TABLE"),
            warehouses: var("WAREHOUSES_TABLE"),
            warehouse_identities: var("WAREHOUSE_IDENTITIES_TABLE"),
            shoppers: var("SHOPPERS_TABLE"),
            holds: var("HOLDS_TABLE"),
            orders: var("ORDERS_TABLE"),
            warehouse_orders: var("WAREHOUSE_ORDERS_TABLE"),
            idempotency: var("IDEMPOTENCY_TABLE"),
            live: var("LIVE_TABLE"),
            signals: var("SIGNALS_TABLE"),
        };
        let live_endpoint = var("LIVE_ENDPOINT");
        let event_bus = var("EVENT_BUS_NAME");
        let timer_queue_url = var("TIMER_QUEUE_URL");
        let timer_dlq_url = var("TIMER_DLQ_URL");
        let assignment_dlq_url = var("ASSIGNMENT_DLQ_URL");
        let warehouse_updates_dlq_url = var("WAREHOUSE_UPDATES_DLQ_URL");
        let seller_notices_dlq_url = var("SELLER_NOTIFICATIONS_DLQ_URL");
        let stream_failures_url = var("STREAM_FAILURES_URL");
        let signals_dlq_url = var("SIGNALS_DLQ_URL");
        let mail = MailSettings {
            from: var("MAIL_FROM"),
            configuration_set: get("SES_CONFIGURATION_SET").filter(|v| !v.is_empty()),
            store_url: var("STORE_URL"),
            dead_letters_url: var("SHOPPER_NOTICES_DLQ_URL"),
            queue_url: var("SHOPPER_NOTICES_QUEUE_URL"),
            fan_out_queue_url: var("RESTOCK_FANOUT_QUEUE_URL"),
            fan_out_dead_letters_url: var("RESTOCK_FANOUT_DLQ_URL"),
            feedback_dead_letters_url: var("MAIL_FEEDBACK_DLQ_URL"),
            api_url: get("API_URL").filter(|v| !v.is_empty()),
        };
        let archive_bucket = var("ARCHIVE_BUCKET");
        let images = ImageSettings {
            uploads_bucket: var("UPLOADS_BUCKET"),
            images_bucket: var("IMAGES_BUCKET"),
            base_url: var("IMAGES_URL"),
            dead_letters_url: var("IMAGE_UPLOADS_DLQ_URL"),
        };
        if !missing.is_empty() {
            return Err(ConfigError(format!(
                "missing environment variables: {}",
                missing.join(", ")
            )));
        }
        let hold_minutes = match get("HOLD_MINUTES") {
            None => 10,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|m| (1..=60).contains(m))
                .ok_or_else(|| ConfigError(format!("HOLD_MINUTES must be 1..=60, got {raw:?}")))?,
        };
        // HOLD_SECONDS (local runs and demos only) overrides the minutes.
        let hold = match get("HOLD_SECONDS")
            .map(|raw| raw.parse::<u64>().ok().filter(|s| (1..=3600).contains(s)))
        {
            Some(Some(seconds)) => Duration::from_secs(seconds),
            Some(None) => return Err(ConfigError("HOLD_SECONDS must be 1..=3600".into())),
            None => Duration::from_secs(hold_minutes * 60),
        };
        let search = SearchSettings::from_lookup(&get)?;
        let payments = PaymentSettings::from_lookup(&get)?;
        let archive = ArchiveSettings::from_lookup(&get, archive_bucket)?;
        let cache_max_age = match get("CACHE_MAX_AGE_SECONDS").filter(|v| !v.is_empty()) {
            None => 30,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|s| *s <= 3600)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "CACHE_MAX_AGE_SECONDS must be 0..=3600, got {raw:?}"
                    ))
                })?,
        };
        Ok(Self {
            tables,
            event_bus,
            timer_queue_url,
            timer_dlq_url,
            assignment_dlq_url,
            warehouse_updates_dlq_url,
            seller_notices_dlq_url,
            stream_failures_url,
            signals_dlq_url,
            mail,
            live_endpoint,
            hold,
            search,
            payments,
            cache_max_age,
            archive,
            images,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(extra: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            extra
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| name.ends_with("_TABLE").then(|| "t".into()))
                .or_else(|| name.ends_with("_URL").then(|| "u".into()))
                .or_else(|| (name == "EVENT_BUS_NAME").then(|| "b".into()))
                .or_else(|| (name == "ARCHIVE_BUCKET").then(|| "archive".into()))
                .or_else(|| name.ends_with("_BUCKET").then(|| "bucket".into()))
                .or_else(|| (name == "LIVE_ENDPOINT").then(|| "http://127.0.0.1:1".into()))
                .or_else(|| (name == "MAIL_FROM").then(|| "Aisle <orders@aisle.test>".into()))
        }
    }

    #[test]
    fn the_test_provider_is_never_a_default_and_stripe_needs_its_secret() {
        let err = Config::from_lookup(with(&[])).unwrap_err().to_string();
        assert!(err.contains("PAYMENT_PROVIDER is not set"), "{err}");
        let err = Config::from_lookup(with(&[("PAYMENT_PROVIDER", "stripe")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("STRIPE_SECRET_NAME"), "{err}");
        let err = Config::from_lookup(with(&[("PAYMENT_PROVIDER", "free")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("stripe or test"), "{err}");
        let stripe = Config::from_lookup(with(&[
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_SECRET_NAME", "aisle/stripe"),
            ("STACK_NAME", "aisle-prod"),
        ]))
        .unwrap();
        assert_eq!(
            stripe.payments,
            PaymentSettings::Stripe {
                api_base: "https://api.stripe.com".into(),
                secret_name: "aisle/stripe".into(),
                stack: "aisle-prod".into(),
            }
        );
        let test = Config::from_lookup(with(&[("PAYMENT_PROVIDER", "test")])).unwrap();
        assert_eq!(test.payments, PaymentSettings::Test);
    }

    #[test]
    fn from_lookup_names_every_missing_variable() {
        let err = Config::from_lookup(|_| None).unwrap_err().to_string();
        assert!(
            err.contains("ITEMS_TABLE") && err.contains("EVENT_BUS_NAME"),
            "{err}"
        );
    }
}
