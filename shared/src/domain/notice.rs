//! Seller notices: what a seller is told about their items' stock (low stock, back in stock,
//! units lost while promised), kept so `GET /v1/seller/notifications` can list them.

use serde::{Deserialize, Serialize};

use super::{ItemId, Timestamp, UserId, WarehouseId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeKind {
    /// Units on sale fell below the item's low-stock threshold.
    LowStock,
    /// Units on sale climbed back to the threshold.
    BackInStock,
    /// A warehouse lost units that were already promised to shoppers.
    StockShortfall,
}

impl NoticeKind {
    /// The domain event (EventBridge `detail-type`) this notice stands for.
    pub fn of_event(detail_type: &str) -> Option<Self> {
        match detail_type {
            "LowStock" => Some(Self::LowStock),
            "BackInStock" => Some(Self::BackInStock),
            "StockShortfall" => Some(Self::StockShortfall),
            _ => None,
        }
    }
}

/// One notice to one seller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerNotice {
    /// The domain event's id: the same event delivered twice is one notice.
    pub notice_id: String,
    /// What happened.
    pub kind: NoticeKind,
    /// The seller told.
    pub seller_id: UserId,
    /// The item it is about.
    pub item_id: ItemId,
    /// Units on sale after the change (stock alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<u32>,
    /// The item's low-stock threshold (stock alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// The warehouse that lost units (shortfalls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<WarehouseId>,
    /// Units lost while promised (shortfalls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    /// When the event happened (whole seconds: EventBridge's envelope time).
    pub at: Timestamp,
    /// The item's stock version after the change (stock alerts): orders one item's notices
    /// within the same second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_version: Option<u64>,
}

/// Why a queued message is not a seller notice (it goes to the dead-letter queue with this).
pub type NotANotice = String;

impl SellerNotice {
    /// Read a notice from the EventBridge envelope the rule puts on the queue.
    pub fn from_envelope(body: &str) -> Result<Self, NotANotice> {
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
        let detail_type = v["detail-type"].as_str().ok_or("no detail-type")?;
        let kind = NoticeKind::of_event(detail_type)
            .ok_or_else(|| format!("not a seller notice: {detail_type}"))?;
        // The publisher names the domain event in `resources` (stable across republishes,
        // unlike EventBridge's own `id`).
        let notice_id = v["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str()?.strip_prefix("aisle:event:"))
            .next()
            .ok_or("no aisle:event: resource")?
            .to_owned();
        let at = Timestamp::try_from(v["time"].as_str().ok_or("no time")?.to_owned())?;
        let d = &v["detail"];
        let text = |name: &str| d[name].as_str().ok_or(format!("no detail.{name}"));
        let count = |name: &str| d[name].as_u64().and_then(|n| u32::try_from(n).ok());
        Ok(Self {
            notice_id,
            kind,
            seller_id: UserId::try_from(text("sellerId")?)?,
            item_id: ItemId::try_from(text("itemId")?)?,
            available: count("available"),
            threshold: count("threshold"),
            warehouse_id: d["warehouseId"]
                .as_str()
                .map(WarehouseId::try_from)
                .transpose()?,
            units: count("units"),
            at,
            stock_version: d["stockVersion"].as_u64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(detail_type: &str, detail: serde_json::Value) -> String {
        json!({
            "version": "0", "id": "eb-1", "detail-type": detail_type, "source": "aisle.stock",
            "time": "2026-12-01T10:00:00Z", "resources": ["aisle:event:stock/x/LowStock/7"],
            "detail": detail
        })
        .to_string()
    }

    #[test]
    fn a_low_stock_event_becomes_a_notice_named_by_the_domain_event() {
        let item = "5f0c6a52-4c1e-4c57-9d51-0b8f1f1c2a01";
        let notice = SellerNotice::from_envelope(&envelope(
            "LowStock",
            json!({ "version": 1, "itemId": item, "sellerId": "seller-1", "available": 2, "threshold": 3 }),
        ))
        .unwrap();
        assert_eq!(notice.notice_id, "stock/x/LowStock/7");
        assert_eq!(notice.kind, NoticeKind::LowStock);
        assert_eq!((notice.available, notice.threshold), (Some(2), Some(3)));
    }

    #[test]
    fn other_messages_are_refused_with_a_reason() {
        assert!(SellerNotice::from_envelope("{")
            .unwrap_err()
            .contains("not JSON"));
        assert!(
            SellerNotice::from_envelope(&envelope("OrderPlaced", json!({})))
                .unwrap_err()
                .contains("not a seller notice")
        );
        assert!(
            SellerNotice::from_envelope(&envelope("LowStock", json!({ "itemId": "x" }))).is_err()
        );
    }
}
