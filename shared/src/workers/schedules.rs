//! Scheduled and on-demand handlers: the expiry sweeper, reconciliation, search rebuild.

use crate::ports::EventPublisher;
use crate::usecases::checkout::{self};
use crate::usecases::events;
use crate::App;
use lambda_runtime::{Error, LambdaEvent};

/// What a run keeps back from its function's timeout to record outcomes and answer.
pub const RUN_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

/// `sweep-holds`: every minute, release held checkouts whose time is up (the timer's
/// safety net: within 60 seconds of expiry even if a timer message was lost), settle
/// overdue pending payments and pay out owed refunds, within the function's time.
pub async fn sweep_holds(
    app: &App,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let deadline = crate::batch::budget(event.context.deadline(), RUN_MARGIN);
    let report = checkout::sweep(app.shop(), app.clock.now(), deadline).await?;
    // Embedded metric format: CloudWatch turns this line into the SweepParked metric.
    println!(
        "{}",
        serde_json::json!({
            "_aws": { "Timestamp": app.clock.now().unix_millis(), "CloudWatchMetrics": [{
                "Namespace": "Aisle", "Dimensions": [[]],
                "Metrics": [{ "Name": "SweepParked", "Unit": "Count" },
                            { "Name": "SweepFailed", "Unit": "Count" }]
            }]},
            "SweepParked": report.parked,
            "SweepFailed": report.failed,
        })
    );
    Ok(serde_json::to_value(&report)?)
}

/// `archive-orders`: daily, move orders that will never change again (a final status, no
/// money owed, the return window closed, quiet for `ARCHIVE_AFTER_DAYS`) from the orders table
/// to the archive bucket, within the function's time; answers what it did. A run that stops
/// part-way is finished by the next one.
pub async fn archive_orders(
    app: &App,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let deadline = crate::batch::budget(event.context.deadline(), RUN_MARGIN);
    let report =
        crate::usecases::archive::run(app.shop(), app.config.archive.quiet, 500, deadline).await?;
    // Embedded metric format: CloudWatch turns this line into the OrdersArchived metrics.
    println!(
        "{}",
        serde_json::json!({
            "_aws": { "Timestamp": app.clock.now().unix_millis(), "CloudWatchMetrics": [{
                "Namespace": "Aisle", "Dimensions": [[]],
                "Metrics": [{ "Name": "OrdersArchived", "Unit": "Count" },
                            { "Name": "OrdersArchiveFailed", "Unit": "Count" }]
            }]},
            "OrdersArchived": report.moved,
            "OrdersArchiveFailed": report.failed,
        })
    );
    Ok(serde_json::to_value(&report)?)
}

/// `rebuild-search-index`: a full rebuild with an alias switch (see
/// [`crate::usecases::search::rebuild`]); answers what it did.
pub async fn rebuild_search_index(
    app: &App,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let report = crate::usecases::search::rebuild(
        &app.catalog,
        &app.inventory,
        &*app.clock,
        app.search.index()?,
    )
    .await?;
    Ok(serde_json::json!({
        "generation": report.generation,
        "indexed": report.indexed,
        "caughtUp": report.caught_up,
    }))
}

/// `reconcile-stock`: hourly. Recomputes aggregated stock, reports drift as a `StockDrift`
/// event and a CloudWatch metric (embedded metric format), repairs only with
/// `{"repair": true}` in the invocation payload; lists stray payments (money the provider
/// holds that no order owns) with a `StrayPayments` metric.
pub async fn reconcile_stock(
    app: &App,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let repair = event.payload["repair"].as_bool().unwrap_or(false);
    let sites = crate::ports::Warehouses::list(&app.warehouses).await?;
    let now = app.clock.now();
    let report = crate::usecases::fulfilment::reconcile(app.shop(), &sites, repair, now).await?;
    // Embedded metric format: CloudWatch turns this log line into the StockDrift metric.
    println!(
        "{}",
        serde_json::json!({
            "_aws": { "Timestamp": now.unix_millis(), "CloudWatchMetrics": [{
                "Namespace": "Aisle", "Dimensions": [[]],
                "Metrics": [{ "Name": "StockDriftItems", "Unit": "Count" }]
            }]},
            "StockDriftItems": report.drifts.len(),
        })
    );
    if let Some(event) = events::stock_drift(&report, repair, now) {
        app.events.publish(&[event]).await?;
    }
    // Money the provider holds that no order owns, over the last day (Stripe keeps an
    // idempotency key 24 hours; an hourly run with a 25-hour window overlaps itself).
    let since = now.plus_millis(-25 * 3_600_000);
    let strays = crate::usecases::payments::strays(app.shop(), since).await?;
    println!(
        "{}",
        serde_json::json!({
            "_aws": { "Timestamp": now.unix_millis(), "CloudWatchMetrics": [{
                "Namespace": "Aisle", "Dimensions": [[]],
                "Metrics": [{ "Name": "StrayPayments", "Unit": "Count" }]
            }]},
            "StrayPayments": strays.len(),
        })
    );
    let mut answer = serde_json::to_value(&report)?;
    answer["strayPayments"] = serde_json::to_value(&strays)?;
    Ok(answer)
}
