//! Small builders for the transaction items the adapters keep writing: stock moves on an
//! item's aggregated row, conditional puts, once-only markers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::inventory::{build, item_pk, stock_key, TOTAL};
use super::{n, s, Record};
use crate::domain::{ItemId, Timestamp};
use crate::ports::StoreError;

/// How long once-only markers and idempotency records are kept.
pub(crate) const MARKER_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// Put `units` back on sale (never conditional: returning stock cannot fail).
pub(crate) fn give_back(
    stock_table: &str,
    item: ItemId,
    units: u32,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(stock_table)
        .set_key(Some(stock_key(item_pk(item), TOTAL.into())))
        .update_expression("ADD available :q, stockVersion :one SET itemId = :i")
        .expression_attribute_values(":q", n(units))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":i", s(item.to_string()))
        .build();
    Ok(TransactWriteItem::builder().update(build(update)?).build())
}

/// Take `units` off sale only if that many are available: stock never goes negative.
pub(crate) fn take(
    stock_table: &str,
    item: ItemId,
    units: u32,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(stock_table)
        .set_key(Some(stock_key(item_pk(item), TOTAL.into())))
        .update_expression("SET available = available - :q ADD stockVersion :one")
        .condition_expression("available >= :q")
        .expression_attribute_values(":q", n(units))
        .expression_attribute_values(":one", n(1))
        .build();
    Ok(TransactWriteItem::builder().update(build(update)?).build())
}

/// Put a record, optionally under a condition with its own placeholders.
pub(crate) fn put(
    table: &str,
    record: Record,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut put = Put::builder()
        .table_name(table)
        .set_item(Some(record))
        .set_condition_expression(condition.map(str::to_owned));
    for (k, v) in names {
        put = put.expression_attribute_names(*k, *v);
    }
    for (k, v) in values {
        put = put.expression_attribute_values(k, v);
    }
    Ok(TransactWriteItem::builder()
        .put(build(put.build())?)
        .build())
}

/// Update a record: `expression` with its placeholders, under `condition`.
pub(crate) fn update(
    table: &str,
    key: Record,
    expression: &str,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_owned));
    for (k, v) in names {
        update = update.expression_attribute_names(*k, *v);
    }
    for (k, v) in values {
        update = update.expression_attribute_values(k, v);
    }
    Ok(TransactWriteItem::builder()
        .update(build(update.build())?)
        .build())
}

/// Delete a record unconditionally.
pub(crate) fn delete(table: &str, key: Record) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .delete(build(
            Delete::builder()
                .table_name(table)
                .set_key(Some(key))
                .build(),
        )?)
        .build())
}

/// A record in the idempotency table that can be written once only: the gate that makes an
/// effect (a release, a message) happen exactly once however often it is attempted.
pub(crate) fn once(
    idempotency_table: &str,
    key: &str,
    value: &str,
) -> Result<TransactWriteItem, StoreError> {
    let expires = Timestamp::now().unix_seconds() + MARKER_TTL_SECONDS;
    let record = HashMap::from([
        ("key".to_owned(), s(key)),
        ("value".to_owned(), s(value)),
        ("ttl".to_owned(), n(expires)),
    ]);
    // A record past its own expiry counts as absent even before TTL deletes it (TTL only
    // promises deletion within days).
    put(
        idempotency_table,
        record,
        Some("attribute_not_exists(#k) OR #ttl < :now"),
        &[("#k", "key"), ("#ttl", "ttl")],
        vec![(":now", n(Timestamp::now().unix_seconds()))],
    )
}

/// Record the answer of an idempotent request in the same transaction as its effect, on
/// the record its claim created (the same fingerprint).
pub(crate) fn receipt(
    idempotency_table: &str,
    receipt: &crate::ports::Receipt,
) -> Result<TransactWriteItem, StoreError> {
    put(
        idempotency_table,
        super::requests::done_record(receipt),
        Some("attribute_not_exists(#k) OR fingerprint = :fp"),
        &[("#k", "key")],
        vec![(":fp", s(&receipt.fingerprint))],
    )
}
