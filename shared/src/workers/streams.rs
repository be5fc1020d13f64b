//! DynamoDB Streams handlers: the TTL backstop, the event publisher and the search indexer.
//! Each reports the first failed sequence number, so the batch is retried from there in order.

use crate::adapters::dynamo::stream;
use crate::domain::Checkout;
use crate::usecases::checkout::{self};
use crate::usecases::events;
use crate::App;
use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};

pub(crate) fn stream_failure(record: &EventRecord) -> DynamoDbEventResponse {
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
        if !stream::is_ttl_removal(record) {
            continue;
        }
        let image: Checkout = match stream::removed_hold(record) {
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

/// `publish-events`: the outbox relay from the orders, holds and stock streams to EventBridge
/// (decoding in the DynamoDB adapter, what each change means in `usecases::events`).
pub async fn publish_events(
    app: &App,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    let records = &event.payload.records;
    let changes: Vec<_> = records.iter().map(stream::decode).collect();
    match events::publish_changes(&app.catalog, &app.inventory, &app.events, &changes).await {
        Ok(()) => Ok(DynamoDbEventResponse::default()),
        Err(first_unpublished) => Ok(stream_failure(&records[first_unpublished])),
    }
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
    let ids: Vec<_> = records.iter().filter_map(stream::item_of).collect();
    if ids.is_empty() {
        return Ok(DynamoDbEventResponse::default());
    }
    let outcome = match app.search.index() {
        Ok(index) => {
            crate::usecases::search::index_items(
                &app.catalog,
                &app.inventory,
                &*app.clock,
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
