//! DynamoDB Streams handlers: the TTL backstop, the event publisher (which also indexes stock
//! changes: a stream has at most two readers) and the search indexer.
//! Each reports the first failed sequence number, so the batch is retried from there in order.

use crate::adapters::dynamo::stream;
use crate::domain::{Checkout, ItemId};
use crate::ports::{Change, StoreError};
use crate::usecases::checkout::{self};
use crate::usecases::events;
use crate::App;
use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};

/// Park a stream record that cannot be read in the stream failure queue, the record itself as
/// the body and `reason` as its attribute: a retry would read the same bytes, so it is set
/// aside for an operator and the rest of the batch goes on. Never read as something else.
async fn park_record(app: &App, record: &EventRecord, reason: &str) -> Result<(), ()> {
    tracing::error!(event_id = %record.event_id, reason, "stream record does not decode; parked");
    let body = serde_json::to_string(record).unwrap_or_else(|e| {
        format!(
            "{{\"eventID\":{:?},\"unserialisable\":{:?}}}",
            record.event_id,
            e.to_string()
        )
    });
    app.stream_dead_letters
        .park(&body, reason)
        .await
        .map_err(|e| tracing::warn!(error = %e, "parking failed; the stream will redeliver"))
}

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
                if park_record(app, record, &format!("removed hold does not decode: {e}"))
                    .await
                    .is_err()
                {
                    return Ok(stream_failure(record));
                }
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
    let mut changes = Vec::with_capacity(records.len());
    // A record that does not decode is parked and stands as a change that tells nothing;
    // if it cannot even be parked, the batch ends before it and the stream redelivers it.
    let mut unparked = None;
    for (i, record) in records.iter().enumerate() {
        match stream::decode(record) {
            Ok(change) => changes.push(change),
            Err(reason) => {
                if park_record(app, record, &reason).await.is_err() {
                    unparked = Some(i);
                    break;
                }
                changes.push(Change::Other);
            }
        }
    }
    let published =
        match events::publish_changes(&app.catalog, &app.inventory, &app.events, &changes).await {
            Ok(()) => unparked,
            Err(first_unpublished) => Some(first_unpublished),
        };
    let decoded = unparked.unwrap_or(records.len()).min(changes.len());
    let indexed = index_stock_changes(app, &records[..decoded], &changes[..decoded]).await;
    // The stream is retried from the earlier of the two failures (both passes are idempotent:
    // events carry deterministic ids, the index merges current state).
    Ok(match (published, indexed) {
        (Some(a), Some(b)) => stream_failure(&records[a.min(b)]),
        (Some(i), None) | (None, Some(i)) => stream_failure(&records[i]),
        (None, None) => DynamoDbEventResponse::default(),
    })
}

/// The search index's share of the stock stream: `publish-events` is the stock stream's
/// durable reader (push-live-stock is the other), and DynamoDB Streams documents at most two
/// readers per shard, so the indexer does not read it too. Records whose change is an
/// item's stock (its total, a shard, a warehouse row) are indexed as `index-items` would;
/// returns the position of the record to retry from, if any.
async fn index_stock_changes(
    app: &App,
    records: &[EventRecord],
    changes: &[Change],
) -> Option<usize> {
    let stock: Vec<(usize, EventRecord)> = records
        .iter()
        .zip(changes)
        .enumerate()
        .filter(|(_, (_, c))| {
            matches!(
                c,
                Change::StockTotal { .. }
                    | Change::StockShard { .. }
                    | Change::StockWarehouse { .. }
            )
        })
        .map(|(i, (r, _))| (i, r.clone()))
        .collect();
    if stock.is_empty() {
        return None;
    }
    let only: Vec<EventRecord> = stock.iter().map(|(_, r)| r.clone()).collect();
    let response = index_records(app, &only).await;
    let failed = response.batch_item_failures.first()?;
    stock
        .iter()
        .find(|(_, r)| r.change.sequence_number == failed.item_identifier)
        .map(|(i, _)| *i)
}

/// Index the items `records` touch (see [`per_item`]).
async fn index_records(app: &App, records: &[EventRecord]) -> DynamoDbEventResponse {
    per_item(app, records, "indexing", |ids| async move {
        let index = app.search.index()?;
        let report = crate::usecases::search::index_items(
            &app.catalog,
            &app.inventory,
            &*app.clock,
            index,
            crate::ports::IndexTarget::Live,
            &ids,
        )
        .await?;
        tracing::info!(
            records = records.len(),
            items = ids.len(),
            changed = report.changed,
            removed = report.removed,
            "indexed"
        );
        Ok(())
    })
    .await
}

/// Run `pass` over the items a batch of item or stock records touches, each item once.
///
/// The whole set is tried in one pass first. If that fails, each item is tried on its own, in
/// the order of its first record: an item the pass refuses for good (a corrupt row, a
/// document the index rejects) has its records parked with the reason and the rest go on;
/// one that fails for now is reported as the failed record, so the stream retries from
/// exactly there (passes read current state, so redoing later items is harmless). A record
/// whose key names no item is parked too.
pub(crate) async fn per_item<F, Fut>(
    app: &App,
    records: &[EventRecord],
    what: &str,
    pass: F,
) -> DynamoDbEventResponse
where
    F: Fn(Vec<ItemId>) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    // Items in the order of their first record, each with the positions of its records.
    let mut items: Vec<(ItemId, Vec<usize>)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match stream::item_of(record) {
            Some(id) => match items.iter_mut().find(|(known, _)| *known == id) {
                Some((_, at)) => at.push(i),
                None => items.push((id, vec![i])),
            },
            None => {
                let reason = format!("record key names no item: {:?}", record.change.keys);
                if park_record(app, record, &reason).await.is_err() {
                    return stream_failure(record);
                }
            }
        }
    }
    if items.is_empty() {
        return DynamoDbEventResponse::default();
    }
    let e = match pass(items.iter().map(|(id, _)| *id).collect()).await {
        Ok(()) => return DynamoDbEventResponse::default(),
        Err(e) => e,
    };
    tracing::warn!(error = %e, what, "batch pass failed; item by item");
    for (id, at) in &items {
        match pass(vec![*id]).await {
            Ok(()) => {}
            Err(e @ (StoreError::Bug(_) | StoreError::Corrupt(_))) => {
                let reason = format!("{what}: item {id}: {e}");
                for &i in at {
                    if park_record(app, &records[i], &reason).await.is_err() {
                        return stream_failure(&records[at[0]]);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(item_id = %id, error = %e, what, "failed; the stream will redeliver from this item");
                return stream_failure(&records[at[0]]);
            }
        }
    }
    DynamoDbEventResponse::default()
}

/// `index-items`: keep the search index current from the items stream (the stock stream's
/// share is indexed by `publish-events`, see `index_stock_changes`).
///
/// The batch is reduced to the set of items it touches and indexed in one pass (current
/// state, versioned merge), so a redelivered batch rewrites nothing; a failing pass falls
/// back to one item at a time ([`per_item`]), so one bad document fails alone.
pub async fn index_items(
    app: &App,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    Ok(index_records(app, &event.payload.records).await)
}
