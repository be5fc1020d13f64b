//! DynamoDB adapters. The table layout they rely on is documented in `infra/DATA_MODEL.md`
//! and declared in `template.yaml`.

mod carts;
mod catalog;
mod checkouts;
mod cursor;
mod fulfilment;
mod identities;
mod inventory;
mod keys;
mod live;
mod notices;
mod orders;
mod parking;
mod requests;
mod restock_alerts;
mod shards;
mod shopper_notices;
pub mod signals;
pub mod stream;
mod transact;
mod waiting_room;
mod warehouses;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub use carts::DynamoCarts;
pub use catalog::DynamoCatalog;
pub use checkouts::DynamoCheckouts;
pub use fulfilment::DynamoFulfilment;
pub use identities::DynamoIdentities;
pub use inventory::{DynamoInventory, InventoryTables};
pub use live::DynamoWatchers;
pub use notices::DynamoSellerNotices;
pub use orders::DynamoOrders;
pub use parking::DynamoParking;
pub use requests::DynamoRequests;
pub use shopper_notices::DynamoShopperNotices;
pub use signals::DynamoSignals;
pub use transact::Faults;
pub use waiting_room::{lanes, DynamoWaitingRoom, LANES};
pub use warehouses::DynamoWarehouses;

use crate::ports::StoreError;

/// A DynamoDB item as the SDK sees it.
pub(crate) type Record = HashMap<String, AttributeValue>;

pub(crate) use super::classify;
use aws_sdk_dynamodb::error::SdkError;

/// Read records by key with `BatchGetItem`, 100 keys a call, following `UnprocessedKeys`
/// with backoff (they mean throttling). Missing records are simply absent.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Record>,
    consistent: bool,
) -> Result<Vec<Record>, StoreError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let mut rows = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        );
        let mut tries = crate::retry::Policy::THROTTLED.tries();
        while let Some(request) = pending.take() {
            if !tries.next().await {
                return Err(StoreError::Unavailable(
                    "BatchGetItem kept leaving keys unprocessed".into(),
                ));
            }
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            if let Some(mut found) = out.responses {
                rows.extend(found.remove(table).unwrap_or_default());
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(table));
        }
    }
    Ok(rows)
}

/// Write with `BatchWriteItem`, 25 requests a call, following `UnprocessedItems` with
/// backoff within the throttling budget (they mean throttling, as unprocessed keys do above).
pub(crate) async fn batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
) -> Result<(), StoreError> {
    for chunk in requests.chunks(25) {
        let mut pending = Some(HashMap::from([(table.to_owned(), chunk.to_vec())]));
        let mut tries = crate::retry::Policy::THROTTLED.tries();
        while let Some(items) = pending.take().filter(|p| !p.is_empty()) {
            if !tries.next().await {
                return Err(StoreError::Unavailable(
                    "BatchWriteItem kept leaving items unprocessed".into(),
                ));
            }
            let out = client
                .batch_write_item()
                .set_request_items(Some(items))
                .send()
                .await
                .map_err(|e| classify("BatchWriteItem", e))?;
            pending = out.unprocessed_items;
        }
    }
    Ok(())
}

/// Write a kept record once: a conditional `PutItem` on its key not existing, so a
/// redelivery (the key is the event's) meets its own record; `false` if it did.
pub(crate) async fn keep_once(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    record: Record,
) -> Result<bool, StoreError> {
    conditional_put(
        client
            .put_item()
            .table_name(table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await,
    )
}

/// A page of one user's records (`userId`) whose sort key (`sk`) starts with `prefix`,
/// newest (greatest key) first, decoded without their keys and TTL: the listings kept per
/// user in the shoppers table (sellers' notices, shoppers' inboxes). A cursor from another
/// user or listing is [`StoreError::BadCursor`].
pub(crate) async fn users_newest_first<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    user: &str,
    prefix: &str,
    page: &crate::domain::PageRequest,
) -> Result<crate::domain::Page<T>, StoreError> {
    let start = match &page.cursor {
        Some(c) => {
            let key = cursor::decode(c, &["userId", "sk"], ("userId", user))?;
            let in_listing = key
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with(prefix));
            if !in_listing {
                return Err(StoreError::BadCursor);
            }
            Some(key)
        }
        None => None,
    };
    let out = client
        .query()
        .table_name(table)
        .key_condition_expression("userId = :u AND begins_with(sk, :p)")
        .expression_attribute_values(":u", s(user))
        .expression_attribute_values(":p", s(prefix))
        .scan_index_forward(false)
        .limit(page.limit as i32)
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| classify("Query", e))?;
    let next_cursor = cursor::encode(out.last_evaluated_key());
    let items = out
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|mut r| {
            for k in ["userId", "sk", "ttl"] {
                r.remove(k);
            }
            decode(r)
        })
        .collect::<Result<_, _>>()?;
    Ok(crate::domain::Page { items, next_cursor })
}

/// The outcome of a conditional `PutItem`: `Ok(false)` when its condition failed (someone
/// else wrote first), a classified error for anything else.
pub(crate) fn conditional_put<O>(
    result: Result<O, SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>>,
) -> Result<bool, StoreError> {
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(PutItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(classify("PutItem", e)),
    }
}

/// One page of an index partition, newest first by `createdAt` (optionally only within
/// `[from, to]`), continuing from the page's cursor. `table_key` is the table's own key
/// attribute, which DynamoDB puts in an index's `LastEvaluatedKey` too.
pub(crate) async fn newest_first<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    index: &str,
    table_key: &str,
    partition: (&str, &str),
    range: Option<(String, String)>,
    page: &crate::domain::PageRequest,
) -> Result<crate::domain::Page<T>, StoreError> {
    let start = match &page.cursor {
        Some(c) => Some(cursor::decode(
            c,
            &[table_key, partition.0, "createdAt"],
            partition,
        )?),
        None => None,
    };
    if let Some((from, to)) = &range {
        if from > to {
            // An empty range: DynamoDB would reject BETWEEN with reversed bounds.
            return Ok(crate::domain::Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        // A cursor from outside the range is not a position in this listing (DynamoDB
        // rejects such an ExclusiveStartKey as a validation error).
        let at = start
            .as_ref()
            .and_then(|k| k.get("createdAt"))
            .and_then(|v| v.as_s().ok());
        if at.is_some_and(|at| at < from || at > to) {
            return Err(StoreError::BadCursor);
        }
    }
    let mut query = client
        .query()
        .table_name(table)
        .index_name(index)
        .expression_attribute_names("#p", partition.0)
        .expression_attribute_values(":p", s(partition.1))
        .scan_index_forward(false)
        .limit(page.limit as i32)
        .set_exclusive_start_key(start);
    query = match range {
        // Timestamps are fixed-width text, so BETWEEN on the sort key is a time range.
        Some((from, to)) => query
            .key_condition_expression("#p = :p AND createdAt BETWEEN :from AND :to")
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to)),
        None => query.key_condition_expression("#p = :p"),
    };
    let out = query.send().await.map_err(|e| classify("Query", e))?;
    let next_cursor = cursor::encode(out.last_evaluated_key());
    let items = out
        .items
        .unwrap_or_default()
        .into_iter()
        .map(decode)
        .collect::<Result<_, _>>()?;
    Ok(crate::domain::Page { items, next_cursor })
}

/// Every record a `Query` matches, page after page (the SDK's own paginator follows
/// `LastEvaluatedKey`): for listings that are small by design (one shopper's alerts, one
/// item's live watchers or stock rows, one signals partition) and are wanted whole.
pub(crate) async fn every_page(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Record>, StoreError> {
    query
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| classify("Query", e))
}

/// Every record of a table, page after page, as [`every_page`] reads a query's: for tables
/// that are small by design (the warehouses).
pub(crate) async fn every_scanned(
    scan: aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder,
) -> Result<Vec<Record>, StoreError> {
    scan.into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| classify("Scan", e))
}

/// The record at `key`, read strongly consistent; `None` if absent.
pub(crate) async fn read_record(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Record,
) -> Result<Option<Record>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| classify("GetItem", e))?;
    Ok(out.item)
}

/// One string attribute of the record at `key`, read strongly consistent (pointers,
/// idempotency records); `None` if the record or the attribute is absent.
pub(crate) async fn read_string(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Record,
    attribute: &str,
) -> Result<Option<String>, StoreError> {
    Ok(read_record(client, table, key)
        .await?
        .and_then(|mut r| r.remove(attribute))
        .and_then(|v| v.as_s().ok().cloned()))
}

/// Decode a stored record into a domain value.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(record: Record) -> Result<T, StoreError> {
    serde_dynamo::from_item(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Encode a domain value as a record.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Record, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A monotonically growing counter attribute (absent = 0).
pub(crate) fn counter(record: &Record, name: &str) -> Result<u64, StoreError> {
    match record.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(raw)) => raw
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{name} = {raw}"))),
        Some(other) => Err(StoreError::Corrupt(format!("{name} = {other:?}"))),
    }
}

/// Read a numeric attribute as u32; absent counts as zero, a malformed one is corruption.
pub(crate) fn number(record: &Record, name: &str) -> Result<u32, StoreError> {
    match record.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(raw)) => {
            let value: i64 = raw
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("{name} = {raw}")))?;
            u32::try_from(value.max(0)).map_err(|_| StoreError::Corrupt(format!("{name} = {raw}")))
        }
        Some(other) => Err(StoreError::Corrupt(format!("{name} = {other:?}"))),
    }
}
