//! `begin-checkout` Lambda: POST /v1/checkout, hold the cart's stock.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::shopping::begin_checkout(&app, req))).await
}
