//! `put-cart-item` Lambda: PUT /v1/cart/items/{itemId}, set a cart line's quantity.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| api::shopping::put_cart_item(&app, req))).await
}
