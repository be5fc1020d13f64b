//! Every key format the DynamoDB adapter writes or parses, in one place (the tables
//! themselves are described in `infra/DATA_MODEL.md`). A format is built and read back
//! here only, so a change to one cannot leave a stale copy elsewhere.

use std::collections::HashMap;

use super::{s, Record};
use crate::domain::{CheckoutId, ItemId, OrderId, UserId, WarehouseId};

// --- stock table: `pk = ITEM#<itemId>`, `sk = TOTAL | WH#<warehouseId>` ---

/// The sort key of an item's aggregated row (the count shoppers buy from).
pub(crate) const TOTAL: &str = "TOTAL";

/// The partition key of every stock row of `item`.
pub(crate) fn item_pk(item: ItemId) -> String {
    format!("ITEM#{item}")
}

/// The sort key of one warehouse's row of an item.
pub(crate) fn warehouse_sk(warehouse: &WarehouseId) -> String {
    format!("WH#{warehouse}")
}

/// The item of a stock row's partition key (`ITEM#<id>`), the inverse of [`item_pk`].
pub(crate) fn item_of_pk(pk: &str) -> Option<ItemId> {
    ItemId::try_from(pk.strip_prefix("ITEM#")?).ok()
}

/// The warehouse of a warehouse row's sort key (`WH#<id>`), the inverse of [`warehouse_sk`].
pub(crate) fn warehouse_of_sk(sk: &str) -> Option<&str> {
    sk.strip_prefix("WH#")
}

/// The sort key of an item's extra stock shards (see [`shard_key`]).
pub(crate) const SHARD: &str = "SHARD";

/// The key of stock shard `shard` of `item`. Shard 0 is the item's `TOTAL` row itself (what
/// receipts, losses and repairs write); shards 1.. are rows `ITEM#<id>#S<k>` / `SHARD` with
/// partition keys of their own, so a hot item's holds spread over partitions.
pub(crate) fn shard_key(item: ItemId, shard: u16) -> Record {
    if shard == 0 {
        total_key(item)
    } else {
        stock_key(format!("ITEM#{item}#S{shard}"), SHARD.into())
    }
}

/// The item and shard number of an extra shard's partition key, the inverse of [`shard_key`].
pub(crate) fn shard_of_pk(pk: &str) -> Option<(ItemId, u16)> {
    let (item, shard) = pk.strip_prefix("ITEM#")?.split_once("#S")?;
    Some((ItemId::try_from(item).ok()?, shard.parse().ok()?))
}

/// A stock row's key.
pub(crate) fn stock_key(pk: String, sk: String) -> Record {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// The key of an item's aggregated row.
pub(crate) fn total_key(item: ItemId) -> Record {
    stock_key(item_pk(item), TOTAL.into())
}

// --- shoppers table: `userId`, `sk = CART | WISHLIST | CHECKOUT` ---

/// The sort key of a user's cart.
pub(crate) const CART: &str = "CART";
/// The sort key of a user's wishlist.
pub(crate) const WISHLIST: &str = "WISHLIST";
/// The sort key of a shopper's saved default address.
pub(crate) const DEFAULT_ADDRESS: &str = "ADDRESS";
/// The sort key of a user's latest-checkout pointer.
pub(crate) const CHECKOUT_POINTER: &str = "CHECKOUT";

/// A shopper record's key.
pub(crate) fn user_key(user: &UserId, sk: &str) -> Record {
    HashMap::from([
        ("userId".to_owned(), s(user.as_str())),
        ("sk".to_owned(), s(sk)),
    ])
}

// --- single-attribute keys ---

/// A hold's key in the holds table.
pub(crate) fn hold_key(id: CheckoutId) -> Record {
    HashMap::from([("checkoutId".to_owned(), s(id.to_string()))])
}

/// An order's key in the orders table.
pub(crate) fn order_key(id: OrderId) -> Record {
    HashMap::from([("orderId".to_owned(), s(id.to_string()))])
}

/// An item's key in the items table.
pub(crate) fn item_key(id: ItemId) -> Record {
    HashMap::from([("itemId".to_owned(), s(id.to_string()))])
}

/// A warehouse's key in the warehouses table.
pub(crate) fn warehouse_key(id: &WarehouseId) -> Record {
    HashMap::from([("warehouseId".to_owned(), s(id.as_str()))])
}

/// A record's key in the idempotency table.
pub(crate) fn idempotency_key(key: &str) -> Record {
    HashMap::from([("key".to_owned(), s(key))])
}

// --- sparse index values ---

/// `heldShard` of a hold still held: the `byExpiry` partition the sweeper reads.
pub(crate) const HELD_SHARD: &str = "HELD";
/// Where a hold moves in the `byExpiry` index once it is over. Kept in the index rather than
/// dropped from it: DynamoDB Local's TTL never deletes an item that is absent from a sparse
/// index, which would silently disable the TTL backstop locally.
pub(crate) const CLOSED_SHARD: &str = "CLOSED";
/// `paymentDue` of an order that owes money (the `byPaymentDue` index).
pub(crate) const PAYMENT_DUE: &str = "DUE";

// --- idempotency-table records, one prefix per effect ---

/// The idempotency record of a begin: scoped to the user, so keys never collide across users.
pub(crate) fn begin_key(user: &UserId, idempotency_key: &str) -> String {
    format!("checkout#{user}#{idempotency_key}")
}

/// The once-only marker of a hold's release: a hold gives its stock back once.
pub(crate) fn release_marker(checkout: CheckoutId) -> String {
    format!("release#{checkout}")
}

/// The once-only marker of a fulfilment effect (a warehouse message, a stream record).
pub(crate) fn once_marker(key: &str) -> String {
    format!("once#{key}")
}

/// The idempotency record of a warehouse's stock receipt, scoped to the warehouse.
pub(crate) fn receipt_key(warehouse: &WarehouseId, idempotency_key: &str) -> String {
    format!("receive#{warehouse}#{idempotency_key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_keys_parse_back_to_what_built_them() {
        let item = ItemId::generate();
        let warehouse = WarehouseId::try_from("wh-1000").unwrap();
        assert_eq!(item_of_pk(&item_pk(item)), Some(item));
        assert_eq!(warehouse_of_sk(&warehouse_sk(&warehouse)), Some("wh-1000"));
        assert_eq!(item_of_pk("ORDER#x"), None);
        assert_eq!(warehouse_of_sk(TOTAL), None);
        let shard = shard_key(item, 3);
        let pk = shard["pk"].as_s().unwrap();
        assert_eq!(shard_of_pk(pk), Some((item, 3)));
        assert_eq!(shard_of_pk(&item_pk(item)), None);
        assert_eq!(
            item_of_pk(pk),
            None,
            "a shard is not the item's own partition"
        );
        assert_eq!(shard_key(item, 0), total_key(item));
    }
}

// --- seller notices, in the shoppers table: `userId = <seller>`, `sk = NOTE#<at>#<noticeId>` ---

/// The sort-key prefix of a seller's notices.
pub(crate) const NOTICE_PREFIX: &str = "NOTE#";

/// A notice's sort key: its time, then the item's stock version (one item's alerts within a
/// second), then its id, so a descending query is newest first.
pub(crate) fn notice_sk(
    at: crate::domain::Timestamp,
    stock_version: Option<u64>,
    notice_id: &str,
) -> String {
    format!(
        "{NOTICE_PREFIX}{at}#{:020}#{notice_id}",
        stock_version.unwrap_or(0)
    )
}

// --- waiting rooms: lane counters in the stock table, tickets in the shoppers table ---

/// The key of one lane of `item`'s waiting room (`ROOM#<id>#L<lane>` / `ROOM`): arrivals are
/// spread over lanes so that numbering them is no single hot row either.
pub(crate) fn room_lane_key(item: ItemId, lane: u16) -> Record {
    stock_key(format!("ROOM#{item}#L{lane}"), "ROOM".into())
}

/// The sort key of a shopper's ticket for `item`.
pub(crate) fn ticket_sk(item: ItemId) -> String {
    format!("TICKET#{item}")
}

// --- live watches: `pk = ITEM#<itemId>`, `sk = <connectionId>` per watch, and
// `pk = CONN#<connectionId>`, `sk = CONN` listing what one connection watches ---

/// One watch: `connection` watching `item` (a `Query` on the item's key lists its watchers).
pub(crate) fn watch_key(item: ItemId, connection: &crate::ports::ConnectionId) -> Record {
    stock_key(item_pk(item), connection.as_str().to_owned())
}

/// The row listing the items `connection` watches.
pub(crate) fn connection_key(connection: &crate::ports::ConnectionId) -> Record {
    stock_key(format!("CONN#{connection}"), "CONN".into())
}
