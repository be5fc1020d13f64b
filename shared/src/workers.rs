//! Asynchronous Lambdas: the checkout timer (SQS), the TTL backstop and the event
//! publisher (DynamoDB Streams) and the expiry sweeper (schedule). Each is idempotent: SQS
//! and Streams deliver at least once, and every effect here is gated on state.
//!
//! SQS handlers report only the failed message ids (`SqsBatchResponse`); stream handlers
//! report the first failed sequence number, so the batch is retried from there in order.

use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};

use crate::domain::{Checkout, Order, Timestamp};
use crate::ports::{EventPublisher, StoreError, Timer, TimerMessage};
use crate::usecases::checkout::{self, Expiry};
use crate::usecases::events;
use crate::App;

/// Act on one timer message. `Err` leaves it on the queue for another try.
async fn on_timer(app: &App, body: &str) -> Result<(), StoreError> {
    let message: TimerMessage = match serde_json::from_str(body) {
        Ok(m) => m,
        Err(e) => {
            return app
                .dead_letters
                .park(body, &format!("not a timer message: {e}"))
                .await
        }
    };
    let now = Timestamp::now();
    match message {
        TimerMessage::Expire { checkout_id, .. } => {
            if let Expiry::NotDue(wait) = checkout::expire(app.shop(), checkout_id, now).await? {
                // Early (SQS delays are capped at 15 minutes): come back when it is due.
                app.timer
                    .schedule(&message, wait + std::time::Duration::from_secs(1))
                    .await?;
            }
            Ok(())
        }
        TimerMessage::Settle { order_id, .. } => checkout::settle(app.shop(), order_id, now).await,
    }
}

/// Handle each message of an SQS batch in turn; the response names only the messages whose
/// handling failed, so SQS redelivers just those (the rest are deleted).
async fn each_message<F, Fut>(event: LambdaEvent<SqsEvent>, handle: F) -> SqsBatchResponse
where
    F: Fn(String, u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.unwrap_or_default();
        // How often SQS has delivered this message, this delivery included.
        let receives = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if let Err(e) = handle(record.body.unwrap_or_default(), receives).await {
            tracing::warn!(message_id = %id, error = %e, "message not handled; SQS will redeliver it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// `hold-timer`: expiry and payment-settlement messages, delayed by SQS.
pub async fn hold_timer(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    Ok(each_message(event, |body, _| async move { on_timer(app, &body).await }).await)
}

/// Whether a stream record is DynamoDB's own TTL deletion (not a delete by the application).
pub fn is_ttl_removal(record: &EventRecord) -> bool {
    record.event_name == "REMOVE"
        && record
            .user_identity
            .as_ref()
            .is_some_and(|u| u.principal_id == "dynamodb.amazonaws.com")
}

fn stream_failure(record: &EventRecord) -> DynamoDbEventResponse {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = record.change.sequence_number.clone();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures.push(failure);
    response
}

/// `hold-ttl-expired`: the backstop. The template's filter passes only TTL deletions; the
/// check is repeated here so the function is safe under any mapping.
pub async fn hold_ttl_expired(
    app: &App,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    for record in &event.payload.records {
        if !is_ttl_removal(record) {
            continue;
        }
        let image: Checkout = match serde_dynamo::from_item(record.change.old_image.clone()) {
            Ok(c) => c,
            Err(e) => {
                // Not retryable: a retry reads the same bytes. Logged for the operator.
                tracing::error!(event_id = %record.event_id, error = %e, "hold image does not parse; skipped");
                continue;
            }
        };
        if let Err(e) = checkout::expired_by_ttl(app.shop(), &image).await {
            tracing::warn!(checkout_id = %image.checkout_id, error = %e, "TTL release failed; will retry");
            return Ok(stream_failure(record));
        }
    }
    Ok(DynamoDbEventResponse::default())
}

/// `sweep-holds`: every minute, release held checkouts whose time is up (the timer's
/// safety net: within 60 seconds of expiry even if a timer message was lost).
pub async fn sweep_holds(
    app: &App,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let released = checkout::sweep(app.shop(), Timestamp::now()).await?;
    tracing::info!(released, "sweep done");
    Ok(serde_json::json!({ "released": released }))
}

fn image<T: serde::de::DeserializeOwned>(item: &serde_dynamo::Item) -> Option<T> {
    if item.is_empty() {
        return None;
    }
    serde_dynamo::from_item(item.clone()).ok()
}

/// The domain events one stream record stands for.
pub fn events_of(record: &EventRecord) -> Vec<crate::ports::DomainEvent> {
    let change = &record.change;
    let keyed = |name: &str| change.keys.get(name).is_some();
    if keyed("orderId") && !keyed("warehouseId") {
        events::from_order_change(
            image::<Order>(&change.old_image).as_ref(),
            image::<Order>(&change.new_image).as_ref(),
        )
    } else if keyed("checkoutId") {
        events::from_checkout_change(
            image::<Checkout>(&change.old_image).as_ref(),
            image::<Checkout>(&change.new_image).as_ref(),
        )
    } else {
        vec![]
    }
}

/// A stock row's counters as a stream image shows them.
fn stock_image(item: &serde_dynamo::Item) -> events::StockImage {
    let number = |name: &str| match item.get(name) {
        Some(serde_dynamo::AttributeValue::N(raw)) => raw.parse::<u64>().unwrap_or(0),
        _ => 0,
    };
    events::StockImage {
        available: number("available") as u32,
        shortfall: number("shortfall") as u32,
        version: number("stockVersion"),
    }
}

/// Events of one stock-table record: low-stock crossings on aggregated rows (thresholds
/// from `sellers`: item → (seller, threshold)), shortfalls on warehouse rows.
fn stock_events_of(
    record: &EventRecord,
    sellers: &std::collections::HashMap<crate::domain::ItemId, (crate::domain::UserId, u32)>,
) -> Vec<crate::ports::DomainEvent> {
    let Some(item) = item_of(record) else {
        return vec![];
    };
    let sk = match record.change.keys.get("sk") {
        Some(serde_dynamo::AttributeValue::S(sk)) => sk.clone(),
        _ => return vec![],
    };
    let (old, new) = (
        stock_image(&record.change.old_image),
        stock_image(&record.change.new_image),
    );
    match sk.strip_prefix("WH#") {
        Some(warehouse) => events::from_warehouse_row_change(item, warehouse, old, new),
        // A first receipt creates the row: that is new stock, not a recovery.
        None if record.change.old_image.is_empty() => vec![],
        None => match sellers.get(&item) {
            Some((seller, threshold)) => {
                events::from_total_change(item, seller, *threshold, old, new)
            }
            None => vec![],
        },
    }
}

/// `publish-events`: the outbox relay from the orders, holds and stock streams to EventBridge.
pub async fn publish_events(
    app: &App,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    let records = &event.payload.records;
    // Thresholds of the items whose aggregated stock moved, in one batch read.
    let totals: Vec<crate::domain::ItemId> = records
        .iter()
        .filter(|r| matches!(r.change.keys.get("sk"), Some(serde_dynamo::AttributeValue::S(sk)) if sk == "TOTAL"))
        .filter_map(item_of)
        .collect();
    let sellers = if totals.is_empty() {
        Default::default()
    } else {
        match crate::ports::Catalog::get_many(&app.catalog, &totals).await {
            Ok(items) => items
                .into_values()
                .map(|i| (i.item_id, (i.seller_id, i.low_stock_threshold)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading thresholds failed; the stream will redeliver");
                return Ok(stream_failure(&records[0]));
            }
        }
    };
    for record in records {
        let found = if record.change.keys.contains_key("sk") {
            stock_events_of(record, &sellers)
        } else {
            events_of(record)
        };
        if found.is_empty() {
            continue;
        }
        if let Err(e) = app.events.publish(&found).await {
            tracing::warn!(event_id = %record.event_id, error = %e, "publishing failed; the stream will redeliver");
            return Ok(stream_failure(record));
        }
    }
    Ok(DynamoDbEventResponse::default())
}

/// The item a catalogue or stock stream record is about: `itemId` on the items table,
/// `pk = ITEM#<id>` on the stock table.
pub fn item_of(record: &EventRecord) -> Option<crate::domain::ItemId> {
    let keys = &record.change.keys;
    let text = |name: &str| match keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let raw = text("itemId").or_else(|| text("pk")?.strip_prefix("ITEM#").map(str::to_owned))?;
    crate::domain::ItemId::try_from(raw.as_str()).ok()
}

/// `index-items`: keep the search index current from the items and stock streams.
///
/// The batch is reduced to the set of items it touches and indexed in one pass (current
/// state, versioned merge), so a redelivered batch rewrites nothing. On failure the whole
/// batch is retried from its first record.
pub async fn index_items(
    app: &App,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    let records = &event.payload.records;
    let ids: Vec<_> = records.iter().filter_map(item_of).collect();
    if ids.is_empty() {
        return Ok(DynamoDbEventResponse::default());
    }
    let outcome = match app.search.index() {
        Ok(index) => {
            crate::usecases::search::index_items(
                &app.catalog,
                &app.inventory,
                index,
                crate::ports::IndexTarget::Live,
                &ids,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(report) => {
            tracing::info!(
                records = records.len(),
                items = ids.len(),
                changed = report.changed,
                removed = report.removed,
                "indexed"
            );
            Ok(DynamoDbEventResponse::default())
        }
        Err(e) => {
            tracing::warn!(error = %e, "indexing failed; the stream will redeliver");
            Ok(stream_failure(&records[0]))
        }
    }
}

/// `rebuild-search-index`: a full rebuild with an alias switch (see
/// [`crate::usecases::search::rebuild`]); answers what it did.
pub async fn rebuild_search_index(
    app: &App,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let report =
        crate::usecases::search::rebuild(&app.catalog, &app.inventory, app.search.index()?).await?;
    Ok(serde_json::json!({
        "generation": report.generation,
        "indexed": report.indexed,
        "caughtUp": report.caught_up,
    }))
}

/// The order an assignment message is about: an EventBridge `OrderPlaced` envelope (as the
/// rule delivers it) or a bare `{"orderId": ...}` (a manual re-drive).
fn order_of(body: &str) -> Result<crate::domain::OrderId, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let raw = value["detail"]["orderId"]
        .as_str()
        .or_else(|| value["orderId"].as_str())
        .ok_or("no detail.orderId")?;
    crate::domain::OrderId::try_from(raw)
}

/// `assign-orders`: `OrderPlaced` events (EventBridge rule → SQS) become warehouse orders.
pub async fn assign_orders(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::usecases::fulfilment::{assign, AssignError};
    // Sites change rarely: one read per batch (a failure fails the batch, which is retried).
    let sites = crate::ports::Warehouses::list(&app.warehouses).await?;
    let sites = &sites;
    let now = Timestamp::now();
    Ok(each_message(event, |body, _| async move {
        let order = match order_of(&body) {
            Ok(order) => order,
            Err(reason) => return app.assignment_dead_letters.park(&body, &reason).await,
        };
        match assign(app.shop(), sites, order, now).await {
            Ok(done) => {
                tracing::info!(order_id = %order, outcome = ?done, "assignment");
                Ok(())
            }
            Err(AssignError::UnknownOrder(o)) => {
                let reason = format!("order {o} does not exist");
                app.assignment_dead_letters.park(&body, &reason).await
            }
            Err(AssignError::Store(e)) => Err(e),
        }
    })
    .await)
}

/// The `maxReceiveCount` of `WarehouseUpdatesQueue` in template.yaml (a test keeps them equal).
pub const WAREHOUSE_UPDATE_RECEIVES: u32 = 10;

/// `apply-warehouse-updates`: what warehouses report, applied once each; invalid messages are
/// parked in the dead-letter queue with the reason, and the queue keeps flowing.
pub async fn apply_warehouse_updates(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::domain::warehouse_update::WarehouseMessage;
    use crate::usecases::fulfilment::{apply_update, UpdateError};
    Ok(each_message(event, |body, receives| async move {
        let message = match WarehouseMessage::parse(&body) {
            Ok(message) => message,
            Err(reason) => return app.update_dead_letters.park(&body, &reason).await,
        };
        match apply_update(app.shop(), &message, Timestamp::now()).await {
            Ok(outcome) => {
                tracing::info!(event_id = %message.event_id, kind = message.update.kind(), warehouse_id = %message.warehouse_id, ?outcome, "warehouse update");
                Ok(())
            }
            Err(UpdateError::Invalid(reason)) => app.update_dead_letters.park(&body, &reason).await,
            // The last delivery before SQS would redrive it without a word: park it here,
            // with the reason, instead.
            Err(UpdateError::NotYet(reason)) if receives >= WAREHOUSE_UPDATE_RECEIVES => {
                let reason = format!("still not applicable after {receives} deliveries: {reason}");
                app.update_dead_letters.park(&body, &reason).await
            }
            Err(UpdateError::NotYet(reason)) => Err(StoreError::Unavailable(reason)),
            Err(UpdateError::Store(e)) => Err(e),
        }
    })
    .await)
}

/// `reconcile-stock`: hourly. Recomputes aggregated stock, reports drift as a `StockDrift`
/// event and a CloudWatch metric (embedded metric format), repairs only with
/// `{"repair": true}` in the invocation payload.
pub async fn reconcile_stock(
    app: &App,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let repair = event.payload["repair"].as_bool().unwrap_or(false);
    let sites = crate::ports::Warehouses::list(&app.warehouses).await?;
    let now = Timestamp::now();
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
    if !report.drifts.is_empty() {
        let event = crate::ports::DomainEvent {
            id: format!("reconcile/{}", now.unix_millis()),
            source: "aisle.stock",
            detail_type: "StockDrift",
            detail: serde_json::json!({
                "version": events::DETAIL_VERSION,
                "repaired": repair,
                "drifts": report.drifts,
            }),
        };
        app.events.publish(&[event]).await?;
    }
    Ok(serde_json::to_value(&report)?)
}
