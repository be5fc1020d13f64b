//! `reconcile-stock` Lambda: hourly stock reconciliation (schedule; `{"repair": true}` repairs).

use aisle::{workers, App, Config};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|event| workers::reconcile_stock(&app, event))).await
}
