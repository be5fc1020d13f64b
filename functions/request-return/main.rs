//! `request-return` Lambda: POST /v1/orders/{orderId}/returns, ask to return delivered items.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::shopping::request_return(&app, req))).await
}
