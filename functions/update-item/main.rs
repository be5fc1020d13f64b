//! `update-item` Lambda: PATCH /v1/seller/items/{itemId}, a seller edits their own product.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::catalog::update_item(&app, req))).await
}
