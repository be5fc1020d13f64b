//! `get-item` Lambda: GET /v1/items/{itemId}, one product with its availability.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::catalog::get_item(&app, req))).await
}
