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

/// A record's image: `None` when the record has none (a creation's old image, a deletion's
/// new one), an error when it has one that does not decode. The two must never be confused:
/// an unreadable hold read as "gone" would announce a false `CheckoutExpired`.
fn image<T: serde::de::DeserializeOwned>(item: &Item, side: &str) -> Result<Option<T>, String> {
    if item.is_empty() {
        return Ok(None);
    }
    serde_dynamo::from_item(item.clone())
        .map(Some)
        .map_err(|e| format!("{side} image does not decode: {e}"))
}

fn key_text<'a>(record: &'a EventRecord, name: &str) -> Option<&'a str> {
    match record.change.keys.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A stock row's counters as a stream image shows them. A counter the row does not have yet
/// is 0 (rows gain `shortfall` and `shards` only when first needed); one that is there but is
/// not a number in range is an error, never 0.
fn stock_image(item: &Item, side: &str) -> Result<StockImage, String> {
    fn number<T: TryFrom<u64>>(item: &Item, side: &str, name: &str) -> Result<T, String> {
        let bad = |raw: &dyn std::fmt::Debug| {
            format!("{side} image: counter {name} is not a count in range: {raw:?}")
        };
        match item.get(name) {
            None => T::try_from(0).map_err(|_| bad(&0)),
            Some(AttributeValue::N(raw)) => raw
                .parse::<u64>()
                .ok()
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| bad(raw)),
            Some(other) => Err(bad(other)),
        }
    }
    Ok(StockImage {
        available: number(item, side, "available")?,
        shortfall: number(item, side, "shortfall")?,
        version: number(item, side, "stockVersion")?,
        shards: number::<u16>(item, side, "shards")?.max(1),
    })
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

/// What one record of the orders, holds, stock or items stream changed, or why it cannot be
/// read (the reason an operator finds with the parked record).
pub fn decode(record: &EventRecord) -> Result<Change, String> {
    let change = &record.change;
    let keyed = |name: &str| change.keys.contains_key(name);
    if let Some(sk) = key_text(record, "sk") {
        let Some(item) = item_of(record) else {
            return Err(format!(
                "stock row key names no item: {:?}",
                key_text(record, "pk")
            ));
        };
        let (old, new) = (
            stock_image(&change.old_image, "old")?,
            stock_image(&change.new_image, "new")?,
        );
        return Ok(match warehouse_of_sk(sk) {
            Some(warehouse) => Change::StockWarehouse {
                item,
                warehouse: crate::domain::WarehouseId::try_from(warehouse)
                    .map_err(|e| format!("stock row {sk}: {e}"))?,
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
        });
    }
    Ok(if keyed("orderId") && !keyed("warehouseId") {
        Change::Order {
            old: image::<Order>(&change.old_image, "old")?,
            new: image::<Order>(&change.new_image, "new")?,
        }
    } else if keyed("checkoutId") {
        Change::Hold {
            old: image::<Checkout>(&change.old_image, "old")?,
            new: image::<Checkout>(&change.new_image, "new")?,
        }
    } else if keyed("itemId") {
        Change::Item(item_of(record).ok_or_else(|| {
            format!(
                "item key is not an item id: {:?}",
                key_text(record, "itemId")
            )
        })?)
    } else {
        Change::Other
    })
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
        match decode(&total).unwrap() {
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
            decode(&first).unwrap(),
            Change::StockTotal { created: true, .. }
        ));
        let row = record(
            serde_json::json!({ "pk": { "S": format!("ITEM#{ITEM}") }, "sk": { "S": "WH#wh-1000" } }),
            serde_json::json!({ "shortfall": { "N": "0" } }),
            serde_json::json!({ "shortfall": { "N": "2" } }),
        );
        match decode(&row).unwrap() {
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
        assert_eq!(decode(&parcel), Ok(Change::Other));
        let odd = record(
            serde_json::json!({ "x": { "S": "y" } }),
            serde_json::json!({}),
            serde_json::json!({}),
        );
        assert_eq!(decode(&odd), Ok(Change::Other));
    }

    #[test]
    fn an_image_that_does_not_decode_is_an_error_never_a_deletion_or_a_zero() {
        let hold = record(
            serde_json::json!({ "checkoutId": { "S": "c" } }),
            serde_json::json!({ "checkoutId": { "S": "c" }, "state": { "N": "7" } }),
            serde_json::json!({}),
        );
        let reason = decode(&hold).unwrap_err();
        assert!(reason.starts_with("old image does not decode"), "{reason}");
        let order = record(
            serde_json::json!({ "orderId": { "S": "o" } }),
            serde_json::json!({}),
            serde_json::json!({ "orderId": { "BOOL": true } }),
        );
        assert!(decode(&order).unwrap_err().starts_with("new image"));
        let keys =
            serde_json::json!({ "pk": { "S": format!("ITEM#{ITEM}") }, "sk": { "S": "TOTAL" } });
        for bad in [
            serde_json::json!({ "available": { "N": "lots" } }),
            serde_json::json!({ "available": { "N": "-1" } }),
            serde_json::json!({ "available": { "S": "3" } }),
            serde_json::json!({ "available": { "N": "4294967296" } }),
        ] {
            let stock = record(keys.clone(), serde_json::json!({}), bad.clone());
            let reason = decode(&stock).unwrap_err();
            assert!(reason.contains("counter available"), "{bad}: {reason}");
        }
        let bad_item = record(
            serde_json::json!({ "itemId": { "S": "not-an-id" } }),
            serde_json::json!({}),
            serde_json::json!({}),
        );
        assert!(decode(&bad_item).is_err());
    }
}
