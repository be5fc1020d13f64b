//! `cancel-order-line` Lambda: POST /v1/orders/{orderId}/lines/{itemId}/cancel, cancel one
//! product of an order before it ships.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| {
        api::shopping::cancel_order_line(&app, req)
    }))
    .await
}
