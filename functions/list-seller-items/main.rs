//! `list-seller-items` Lambda: GET /v1/seller/items, a seller's own products.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::catalog::list_seller_items(&app, req))).await
}
