//! Local tooling for Aisle: everything derives from `template.yaml` ([`template`]), is created
//! on DynamoDB Local and moto ([`resources`]) and filled with demo data ([`seed`]).
//! Used by the `aisle-local` CLI and by the integration tests. By job:
//!
//! - [`emulate`]: the AWS services played locally (gateway, IAM check, queues, streams,
//!   rules, WebSocket, tokens, Stripe proxy, storefront hosting, warehouse simulator);
//! - [`provision`]: the template read, resources created, demo data;
//! - [`bench`]: the benchmarks.

pub mod bench;
pub mod emulate;
pub mod provision;

// The modules by their old flat names, so callers (the CLI, the tests) read as before.
pub use bench::{flash as flash_bench, init as init_bench, search as search_bench};
pub use emulate::{
    gateway, iam, limits, live, log_subscriptions, mailbox, proxy, queues, rules, s3_uploads,
    ses_events, simulator, storefront, streams, stripe_proxy, token,
};
pub use provision::{pictures, products, resources, seed, template};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Default local resource prefix (`aisle-ItemsTable`, ...).
pub const DEFAULT_PREFIX: &str = "aisle-";

/// SDK configuration for local runs: a fixed region and dummy credentials, so nothing probes
/// instance metadata; endpoints come from `AWS_ENDPOINT_URL_*` (set by `infra/scripts/env.sh`)
/// unless given here.
pub async fn local_sdk_config() -> SdkConfig {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "aisle-local",
        ))
        // The SDK's HTTPS client with its trust store loaded on first use (as the functions
        // build it): local tools and tests build many clients and never need TLS.
        .http_client(aisle::adapters::http::https_client())
        .load()
        .await
}

/// Clients for the function `app_name` (its SDK app name, which the IAM proxies read) on the
/// given DynamoDB and moto endpoints (tests: the IAM proxies in front of the stand-ins).
pub fn named_clients(sdk: &SdkConfig, app_name: &str, dynamo: &str, moto: &str) -> aisle::Clients {
    let name = || {
        aws_config::AppName::new(app_name.to_owned()).expect("a function name is a valid app name")
    };
    aisle::Clients {
        dynamo: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .endpoint_url(dynamo)
                .app_name(name())
                .build(),
        ),
        sqs: aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(sdk)
                .endpoint_url(moto)
                .app_name(name())
                .build(),
        ),
        events: aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(sdk)
                .endpoint_url(moto)
                .app_name(name())
                .build(),
        ),
        secrets: aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(sdk)
                .endpoint_url(moto)
                .app_name(name())
                .build(),
        ),
        ses: aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(sdk)
                .endpoint_url(moto)
                .app_name(name())
                .build(),
        ),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .endpoint_url(moto)
                .force_path_style(true)
                .app_name(name())
                .build(),
        ),
        region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
        credentials: sdk.credentials_provider(),
        sdk: sdk.clone(),
    }
}

/// A DynamoDB client on `endpoint`.
pub fn dynamo_client(sdk: &SdkConfig, endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// The SDK configuration of `warehouse`'s system acting as its onboarded IAM role: local
/// credentials named by the role's id ([`iam::warehouse_role_id`]), which the IAM proxy in
/// front of moto reads as the sender SQS would name (`SenderId`).
pub fn warehouse_sdk(warehouse: &str) -> SdkConfig {
    let role = iam::warehouse_role_id(warehouse);
    SdkConfig::builder()
        .region(Region::new(
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        ))
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new(role, "local", None, None, "warehouse"),
        ))
        .build()
}

/// An SQS client on `endpoint`.
pub fn sqs_client(sdk: &SdkConfig, endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// An EventBridge client on `endpoint`.
pub fn events_client(sdk: &SdkConfig, endpoint: &str) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// A Secrets Manager client on `endpoint` (moto).
pub fn secrets_client(sdk: &SdkConfig, endpoint: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// Where the functions reach Stripe locally: `aisle-local stripe-proxy` (Stripe's idempotent
/// replays) in front of localstripe (`AISLE_STRIPE_PORT`, default 8421).
/// The local gateway's HTTP API (`AISLE_PORT`, default 3000): what `API_URL` is locally.
pub fn api_endpoint() -> String {
    let port = std::env::var("AISLE_PORT").unwrap_or_else(|_| "3000".into());
    format!("http://127.0.0.1:{port}")
}

/// The local gateway's WebSocket API (`AISLE_LIVE_PORT`, default 3002): browsers connect
/// to `ws://` on it, and functions post pushes to its management API (`http://`).
pub fn live_endpoint() -> String {
    let port = std::env::var("AISLE_LIVE_PORT").unwrap_or_else(|_| "3002".into());
    format!("http://127.0.0.1:{port}")
}

pub fn stripe_endpoint() -> String {
    let port = std::env::var("AISLE_STRIPE_PORT").unwrap_or_else(|_| "8421".into());
    format!("http://127.0.0.1:{port}")
}

/// The local Stripe keys, stored in moto's Secrets Manager under the template's
/// `StripeSecretName` by `create-resources` (test keys of the local stand-in, not secrets).
pub const LOCAL_STRIPE_API_KEY: &str = "sk_test_aisle_local";
/// The webhook signing secret localstripe signs its deliveries with, locally.
pub const LOCAL_STRIPE_WEBHOOK_SECRET: &str = "whsec_aisle_local";

/// The endpoint for a service: its `AWS_ENDPOINT_URL_<SERVICE>` or the local default port.
pub fn endpoint(service_var: &str, default_port: u16) -> String {
    std::env::var(service_var).unwrap_or_else(|_| format!("http://127.0.0.1:{default_port}"))
}

/// Clients for every service on the local stand-ins: DynamoDB Local and moto.
pub fn local_clients(sdk: &SdkConfig) -> aisle::Clients {
    aisle::Clients {
        dynamo: dynamo_client(sdk, &endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000)),
        sqs: sqs_client(sdk, &endpoint("AWS_ENDPOINT_URL_SQS", 5000)),
        events: events_client(sdk, &endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE", 5000)),
        secrets: secrets_client(sdk, &endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", 5000)),
        ses: aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(sdk)
                .endpoint_url(endpoint("AWS_ENDPOINT_URL_SESV2", 5000))
                .build(),
        ),
        s3: aisle::app::s3_client(sdk, Some(&endpoint("AWS_ENDPOINT_URL_S3", 5000))),
        region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
        credentials: sdk.credentials_provider(),
        sdk: sdk.clone(),
    }
}

/// A DynamoDB Streams client on `endpoint` (DynamoDB Local serves streams on its own port).
pub fn streams_client(sdk: &SdkConfig, endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}
