//! `search-items` Lambda: GET /v1/items, search and browse the catalogue (public).

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    // Open the index at cold start, not on the first shopper's request.
    app.search.index()?;
    run(service_fn(|req| api::search::search_items(&app, req))).await
}
