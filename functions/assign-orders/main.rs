//! `assign-orders` Lambda: assigns placed orders to warehouses (SQS fed by the OrderPlaced rule).

use aisle::{workers, App, Config};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|event| workers::assign_orders(&app, event))).await
}
