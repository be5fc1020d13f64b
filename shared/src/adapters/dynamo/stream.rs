//! DynamoDB stream records, as Lambda delivers them, decoded into [`Change`]s: the table
//! keys (`orderId`, `checkoutId`, `ITEM#…`/`TOTAL`/`WH#…`) and image attributes stay here.

use aws_lambda_events::dynamodb::EventRecord;
use serde_dynamo::{AttributeValue, Item};

use super::keys::{item_of_pk, shard_of_pk, warehouse_of_sk, SHARD, TOTAL};
use crate::domain::{Checkout, ItemId, Order};
use crate::ports::{Change, StockImage};

/// Whether a stream record is DynamoDB's own TTL deletion (not a delete by the application).
pub fn is_ttl_removal(record: &EventRecord) -> bool {
    record.event_name == "REMOVE"
        && record
            .user_identity
            .as_ref()
            .is_some_and(|u| u.principal_id == "dynamodb.amazonaws.com")
}

/// The hold a deletion removed (its last image).
pub fn removed_hold(record: &EventRecord) -> Result<Checkout, String> {
    serde_dynamo::from_item(record.change.old_image.clone()).map_err(|e| e.to_string())
}

fn image<T: serde::de::DeserializeOwned>(item: &Item) -> Option<T> {
    if item.is_empty() {
        return None;
    }
    serde_dynamo::from_item(item.clone()).ok()
}

fn key_text<'a>(record: &'a EventRecord, name: &str) -> Option<&'a str> {
    match record.change.keys.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A stock row's counters as a stream image shows them.
fn stock_image(item: &Item) -> StockImage {
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(raw)) => raw.parse::<u64>().unwrap_or(0),
        _ => 0,
    };
    StockImage {
        available: number("available") as u32,
        shortfall: number("shortfall") as u32,
        version: number("stockVersion"),
        shards: number("shards").max(1) as u16,
    }
}

/// The item a catalogue or stock stream record is about: `itemId` on the items table,
/// `pk = ITEM#<id>` on the stock table.
pub fn item_of(record: &EventRecord) -> Option<ItemId> {
    match key_text(record, "itemId") {
        Some(raw) => ItemId::try_from(raw).ok(),
        None => {
            let pk = key_text(record, "pk")?;
            item_of_pk(pk).or_else(|| shard_of_pk(pk).map(|(item, _)| item))
        }
    }
}

/// What one record of the orders, holds, stock or items stream changed.
pub fn decode(record: &EventRecord) -> Change {
    let change = &record.change;
    let keyed = |name: &str| change.keys.contains_key(name);
    if let Some(sk) = key_text(record, "sk") {
        let Some(item) = item_of(record) else {
            return Change::Other;
        };
        let (old, new) = (
            stock_image(&change.old_image),
            stock_image(&change.new_image),
        );
        return match warehouse_of_sk(sk) {
            Some(warehouse) => Change::StockWarehouse {
                item,
                warehouse: warehouse.to_owned(),
                old,
                new,
            },
            None if sk == TOTAL => Change::StockTotal {
                item,
                old,
                new,
                created: change.old_image.is_empty(),
            },
            None if sk == SHARD => Change::StockShard { item, old, new },
            None => Change::Other,
        };
    }
    if keyed("orderId") && !keyed("warehouseId") {
        Change::Order {
            old: image::<Order>(&change.old_image),
            new: image::<Order>(&change.new_image),
        }
    } else if keyed("checkoutId") {
        Change::Hold {
            old: image::<Checkout>(&change.old_image),
            new: image::<Checkout>(&change.new_image),
        }
    } else if keyed("itemId") {
        item_of(record).map_or(Change::Other, Change::Item)
    } else {
        Change::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        keys: serde_json::Value,
        old: serde_json::Value,
        new: serde_json::Value,
    ) -> EventRecord {
        serde_json::from_value(serde_json::json!({
            "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": keys, "OldImage": old, "NewImage": new,
                "SequenceNumber": "100", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"
        }))
        .unwrap()
    }

    const ITEM: &str = "3f1d2c4b-5a69-4e7f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn stock_rows_decode_to_their_item_and_counters_and_a_first_write_is_marked_created() {
        let keys =
            serde_json::json!({ "pk": { "S": format!("ITEM#{ITEM}") }, "sk": { "S": "TOTAL" } });
        let total = record(
            keys.clone(),
            serde_json::json!({ "available": { "N": "3" }, "stockVersion": { "N": "7" } }),
            serde_json::json!({ "available": { "N": "2" }, "stockVersion": { "N": "8" } }),
        );
        let item = ItemId::try_from(ITEM).unwrap();
        match decode(&total) {
            Change::StockTotal {
                item: i,
                old,
                new,
                created,
            } => {
                assert_eq!(
                    (i, old.available, new.available, new.version, created),
                    (item, 3, 2, 8, false)
                );
            }
            other => panic!("{other:?}"),
        }
        let first = record(
            keys,
            serde_json::json!({}),
            serde_json::json!({ "available": { "N": "5" } }),
        );
        assert!(matches!(
            decode(&first),
            Change::StockTotal { created: true, .. }
        ));
        let row = record(
            serde_json::json!({ "pk": { "S": format!("ITEM#{ITEM}") }, "sk": { "S": "WH#wh-1000" } }),
            serde_json::json!({ "shortfall": { "N": "0" } }),
            serde_json::json!({ "shortfall": { "N": "2" } }),
        );
        match decode(&row) {
            Change::StockWarehouse { warehouse, new, .. } => {
                assert_eq!((warehouse.as_str(), new.shortfall), ("wh-1000", 2))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(item_of(&row), Some(item));
    }

    #[test]
    fn a_parcel_record_is_not_an_order_change_and_unknown_keys_are_other() {
        let parcel = record(
            serde_json::json!({ "orderId": { "S": "o" }, "warehouseId": { "S": "w" } }),
            serde_json::json!({}),
            serde_json::json!({}),
        );
        assert_eq!(decode(&parcel), Change::Other);
        let odd = record(
            serde_json::json!({ "x": { "S": "y" } }),
            serde_json::json!({}),
            serde_json::json!({}),
        );
        assert_eq!(decode(&odd), Change::Other);
    }
}
