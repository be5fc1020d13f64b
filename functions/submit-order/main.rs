//! `submit-order` Lambda: POST /v1/checkout/{checkoutId}/order, pay and place the order.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::shopping::submit_order(&app, req))).await
}
