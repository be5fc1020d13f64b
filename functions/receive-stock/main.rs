//! `receive-stock` Lambda: POST /v1/warehouses/{warehouseId}/stock, a warehouse receives units.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::stock::receive_stock(&app, req))).await
}
