//! `hold-ttl-expired` Lambda: DynamoDB Streams, release holds deleted by TTL (the backstop).

use aisle::{workers, App, Config};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|event| workers::hold_ttl_expired(&app, event))).await
}
