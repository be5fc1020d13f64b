//! DynamoDB Streams handlers: the TTL backstop, the event publisher and the search indexer.
//! Each reports the first failed sequence number, so the batch is retried from there in order.

use crate::domain::{Checkout, Order};
use crate::ports::EventPublisher;
use crate::usecases::checkout::{self};
use crate::usecases::events;
use crate::App;
use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};

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
