//! `delete-wishlist-item` Lambda: DELETE /v1/wishlist/items/{itemId}, stop wishing.

use aisle::{api, App, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|req| {
        api::shopping::delete_wishlist_item(&app, req)
    }))
    .await
}
