//! `browse-items` Lambda: GET /v1/items, browse a category.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::catalog::browse_items(&app, req))).await
}
