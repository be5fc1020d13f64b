//! `move-to-cart` Lambda: POST /v1/wishlist/items/{itemId}/move-to-cart, wishlist to cart.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::shopping::move_to_cart(&app, req))).await
}
