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

/// `hold-timer`: expiry and payment-settlement messages, delayed by SQS.
pub async fn hold_timer(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        if let Err(e) = on_timer(app, body).await {
            tracing::warn!(message_id = %id, error = %e, "timer message failed; will retry");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
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

/// `publish-events`: the outbox relay from the orders and holds streams to EventBridge.
pub async fn publish_events(
    app: &App,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    for record in &event.payload.records {
        let found = events_of(record);
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
