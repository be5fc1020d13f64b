//! `apply-warehouse-updates` Lambda: applies what warehouses report on the warehouse-updates queue (SQS).

use aisle::{workers, App, Config};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|event| {
        workers::apply_warehouse_updates(&app, event)
    }))
    .await
}
