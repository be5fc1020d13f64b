//! What warehouses send on the `warehouse-updates` queue: versioned JSON messages, each with an
//! event id that makes it apply exactly once.
//!
//! ```json
//! {"version": 1, "eventId": "7d0c...", "warehouseId": "wh-1000", "type": "StockReceived", "itemId": "...", "quantity": 5}
//! {"version": 1, ..., "type": "StockAdjusted", "itemId": "...", "quantity": -2, "reason": "LOSS"}
//! {"version": 1, ..., "type": "WarehouseOrderShipped", "orderId": "...", "trackingNumber": "1Z999AA10123456784"}
//! {"version": 1, ..., "type": "WarehouseOrderDelivered", "orderId": "..."}
//! {"version": 1, ..., "type": "ReturnReceived", "orderId": "...", "returnId": "...", "lines": [{"itemId": "...", "quantity": 1}], "condition": "RESELLABLE"}
//! ```

use serde::Deserialize;

use super::{ItemId, OrderId, Quantity, ReturnId, ShipmentLine, WarehouseId};

/// The message schema version this code reads.
pub const UPDATE_VERSION: u32 = 1;

/// Why stock was adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdjustReason {
    /// Units found missing.
    Loss,
    /// Units damaged beyond sale.
    Damage,
    /// Units found that were written off.
    Found,
}

/// The state returned goods arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReturnCondition {
    /// Back on sale.
    Resellable,
    /// Written off.
    Damaged,
}

/// One change a warehouse reports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Update {
    /// Units arrived at the warehouse.
    StockReceived {
        /// The item.
        item_id: ItemId,
        /// Units received.
        quantity: Quantity,
    },
    /// A count correction (loss, damage, found).
    StockAdjusted {
        /// The item.
        item_id: ItemId,
        /// Signed: negative for loss and damage, positive for found.
        quantity: i64,
        /// Why the count changed.
        reason: AdjustReason,
    },
    /// The warehouse shipped its part of an order.
    WarehouseOrderShipped {
        /// The order.
        order_id: OrderId,
        /// The carrier's tracking number.
        tracking_number: String,
    },
    /// Its parcel was delivered.
    WarehouseOrderDelivered {
        /// The order.
        order_id: OrderId,
    },
    /// Returned units arrived.
    ReturnReceived {
        /// The order.
        order_id: OrderId,
        /// The return authorisation on the parcel's label (the code the warehouse scanned);
        /// absent for a parcel that came back without one, whose units are held for review.
        #[serde(default)]
        return_id: Option<ReturnId>,
        /// The units returned, per item.
        lines: Vec<ShipmentLine>,
        /// Whether they can be sold again.
        condition: ReturnCondition,
    },
}

impl Update {
    /// The message's `type`, for logs and DLQ reasons.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StockReceived { .. } => "StockReceived",
            Self::StockAdjusted { .. } => "StockAdjusted",
            Self::WarehouseOrderShipped { .. } => "WarehouseOrderShipped",
            Self::WarehouseOrderDelivered { .. } => "WarehouseOrderDelivered",
            Self::ReturnReceived { .. } => "ReturnReceived",
        }
    }
}

/// A whole message: envelope and update.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseMessage {
    /// Optimistic-concurrency version, bumped by every write (`If-Match` compares it).
    pub version: u32,
    /// The warehouse's own id for the message: applied once per id.
    pub event_id: String,
    /// The warehouse's id.
    pub warehouse_id: WarehouseId,
    /// What happened.
    #[serde(flatten)]
    pub update: Update,
}

impl WarehouseMessage {
    /// Parse and validate a message body; the error is the reason recorded in the DLQ.
    pub fn parse(body: &str) -> Result<Self, String> {
        let message: Self =
            serde_json::from_str(body).map_err(|e| format!("not a warehouse message: {e}"))?;
        if message.version != UPDATE_VERSION {
            return Err(format!(
                "unsupported version {} (this consumer reads {UPDATE_VERSION})",
                message.version
            ));
        }
        let id_ok = (1..=128).contains(&message.event_id.len())
            && message.event_id.bytes().all(|b| b.is_ascii_graphic());
        if !id_ok {
            return Err("eventId must be 1-128 visible ASCII characters".into());
        }
        match &message.update {
            Update::StockAdjusted {
                quantity, reason, ..
            } => {
                let sign_ok = match reason {
                    AdjustReason::Found => *quantity > 0,
                    AdjustReason::Loss | AdjustReason::Damage => *quantity < 0,
                };
                if !sign_ok || quantity.unsigned_abs() > Quantity::MAX as u64 {
                    return Err(format!(
                        "StockAdjusted {reason:?} needs a {} quantity of at most {} units",
                        if *reason == AdjustReason::Found {
                            "positive"
                        } else {
                            "negative"
                        },
                        Quantity::MAX
                    ));
                }
            }
            Update::WarehouseOrderShipped {
                tracking_number, ..
            } => {
                let ok = (4..=64).contains(&tracking_number.len())
                    && tracking_number
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !ok {
                    return Err("trackingNumber must be 4-64 characters [A-Za-z0-9-]".into());
                }
            }
            Update::ReturnReceived { lines, .. } if lines.is_empty() || lines.len() > 100 => {
                return Err("ReturnReceived needs 1-100 lines".into());
            }
            _ => {}
        }
        Ok(message)
    }

    /// The item the message is about, for stock messages.
    pub fn item(&self) -> Option<ItemId> {
        match &self.update {
            Update::StockReceived { item_id, .. } | Update::StockAdjusted { item_id, .. } => {
                Some(*item_id)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_type_parses() {
        let item = ItemId::generate();
        let order = OrderId::generate();
        for body in [
            format!(
                r#"{{"version":1,"eventId":"e1","warehouseId":"wh-1000","type":"StockReceived","itemId":"{item}","quantity":5}}"#
            ),
            format!(
                r#"{{"version":1,"eventId":"e2","warehouseId":"wh-1000","type":"StockAdjusted","itemId":"{item}","quantity":-2,"reason":"LOSS"}}"#
            ),
            format!(
                r#"{{"version":1,"eventId":"e3","warehouseId":"wh-1000","type":"WarehouseOrderShipped","orderId":"{order}","trackingNumber":"1Z999AA10123456784"}}"#
            ),
            format!(
                r#"{{"version":1,"eventId":"e4","warehouseId":"wh-1000","type":"WarehouseOrderDelivered","orderId":"{order}"}}"#
            ),
            format!(
                r#"{{"version":1,"eventId":"e5","warehouseId":"wh-1000","type":"ReturnReceived","orderId":"{order}","lines":[{{"itemId":"{item}","quantity":1}}],"condition":"DAMAGED"}}"#
            ),
        ] {
            assert!(WarehouseMessage::parse(&body).is_ok(), "{body}");
        }
    }

    #[test]
    fn malformed_messages_say_why() {
        let item = ItemId::generate();
        for (body, needle) in [
            ("not json".to_owned(), "not a warehouse message"),
            (
                format!(
                    r#"{{"version":2,"eventId":"e","warehouseId":"wh-1","type":"StockReceived","itemId":"{item}","quantity":1}}"#
                ),
                "unsupported version",
            ),
            (
                format!(
                    r#"{{"version":1,"eventId":"e","warehouseId":"wh-1","type":"StockAdjusted","itemId":"{item}","quantity":3,"reason":"LOSS"}}"#
                ),
                "negative",
            ),
            (
                r#"{"version":1,"eventId":"e","warehouseId":"wh-1","type":"Teleported"}"#
                    .to_owned(),
                "unknown variant",
            ),
            (
                format!(
                    r#"{{"version":1,"eventId":"e","warehouseId":"wh-1","type":"StockReceived","itemId":"{item}","quantity":0}}"#
                ),
                "not a warehouse message",
            ),
        ] {
            let reason = WarehouseMessage::parse(&body).unwrap_err();
            assert!(reason.contains(needle), "{body}: {reason}");
        }
    }
}
