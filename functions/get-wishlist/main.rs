//! `get-wishlist` Lambda: GET /v1/wishlist, the caller's wishlist.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::shopping::get_wishlist(&app, req))).await
}
