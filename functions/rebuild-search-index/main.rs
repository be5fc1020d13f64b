//! `rebuild-search-index` Lambda: builds a fresh index generation from the catalogue and
//! switches searches to it (run by hand: `sam remote invoke RebuildSearchIndexFunction`).

use aisle::{workers, App, Config};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aisle::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    run(service_fn(|event| {
        workers::rebuild_search_index(&app, event)
    }))
    .await
}
