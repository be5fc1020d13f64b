//! Seller notices: what a seller is told about their items (low stock, back in stock, units
//! lost while promised, returned units waiting for their decision), kept so
//! `GET /v1/seller/notifications` can list them. Each is read from its typed domain event.

use serde::{Deserialize, Serialize};

use super::event::{Envelope, Event, EventKind, StockAlert};
use super::{ItemId, OrderId, ReviewId, Timestamp, UserId, WarehouseId};

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
    /// Returned units of the seller's item wait for them to accept or refuse
    /// (`POST /v1/seller/orders/{orderId}/return-reviews/{reviewId}`).
    ReturnReview,
    /// A shopper ordered the seller's items (their lines only).
    NewOrder,
    /// An uploaded image was refused (`reason`); nothing of it was published.
    ImageRefused,
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
    /// The warehouse that lost units (shortfalls) or holds returned ones (reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<WarehouseId>,
    /// Units lost while promised (shortfalls), or held for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    /// When the event happened (whole seconds: EventBridge's envelope time).
    pub at: Timestamp,
    /// The item's stock version after the change (stock alerts): orders one item's notices
    /// within the same second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_version: Option<u64>,
    /// The order whose returned units wait (reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// The review to decide (reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_id: Option<ReviewId>,
    /// The seller's own lines of a new order (new orders): never another seller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<super::event::Line>>,
    /// The image refused (image notices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<super::ImageId>,
    /// Why, in words for the seller (image notices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a queued message is not a seller notice (it goes to the dead-letter queue with this).
pub type NotANotice = String;

impl SellerNotice {
    /// A notice of no kind yet about `item` of `seller` at `at`, every detail empty: the
    /// base each kind fills in (`..SellerNotice::about(...)`).
    pub fn about(seller_id: UserId, item_id: ItemId, at: Timestamp) -> Self {
        Self {
            notice_id: String::new(),
            kind: NoticeKind::LowStock,
            seller_id,
            item_id,
            available: None,
            threshold: None,
            warehouse_id: None,
            units: None,
            at,
            stock_version: None,
            order_id: None,
            review_id: None,
            lines: None,
            image_id: None,
            reason: None,
        }
    }

    /// One notice per seller of a new order's items, each with that seller's lines only
    /// (`seller_of` names an item's seller; an item it does not know is left out). The
    /// notice id is the event's and the seller's, so a redelivery keeps nothing twice.
    pub fn new_orders(
        event_id: &str,
        at: Timestamp,
        order: &super::event::OrderChanged,
        seller_of: impl Fn(ItemId) -> Option<UserId>,
    ) -> Vec<SellerNotice> {
        let mut by_seller: std::collections::BTreeMap<String, (UserId, Vec<super::event::Line>)> =
            std::collections::BTreeMap::new();
        for line in &order.lines {
            if let Some(seller) = seller_of(line.item_id) {
                by_seller
                    .entry(seller.as_str().to_owned())
                    .or_insert_with(|| (seller.clone(), Vec::new()))
                    .1
                    .push(line.clone());
            }
        }
        by_seller
            .into_values()
            .map(|(seller, lines)| {
                SellerNotice {
                    notice_id: format!("{event_id}#{seller}"),
                    kind: NoticeKind::NewOrder,
                    units: Some(lines.iter().map(|l| l.quantity.get()).sum()),
                    order_id: Some(order.order_id),
                    ..SellerNotice::about(seller, lines[0].item_id, at)
                }
                .with_lines(lines)
            })
            .collect()
    }

    fn with_lines(mut self, lines: Vec<super::event::Line>) -> Self {
        self.lines = Some(lines);
        self
    }

    /// Read a notice from the EventBridge envelope the rule puts on the queue.
    pub fn from_envelope(body: &str) -> Result<Self, NotANotice> {
        let Envelope {
            event_id,
            time,
            event,
        } = Envelope::parse_only(
            body,
            &[
                EventKind::LowStock,
                EventKind::BackInStock,
                EventKind::StockShortfall,
                EventKind::ReturnHeldForReview,
            ],
            "a seller notice",
        )?;
        let notice = |kind, seller_id, item_id| SellerNotice {
            notice_id: event_id.clone(),
            kind,
            ..SellerNotice::about(seller_id, item_id, time)
        };
        let alert = |kind, a: StockAlert| SellerNotice {
            available: Some(a.available),
            threshold: Some(a.threshold),
            stock_version: Some(a.stock_version),
            ..notice(kind, a.seller_id, a.item_id)
        };
        Ok(match event {
            Event::LowStock(a) => alert(NoticeKind::LowStock, a),
            Event::BackInStock(a) => alert(NoticeKind::BackInStock, a),
            Event::StockShortfall(s) => SellerNotice {
                warehouse_id: Some(s.warehouse_id),
                units: Some(s.units),
                ..notice(
                    NoticeKind::StockShortfall,
                    s.seller_id.ok_or("no detail.sellerId")?,
                    s.item_id,
                )
            },
            Event::ReturnHeldForReview(r) => SellerNotice {
                warehouse_id: Some(r.warehouse_id),
                units: Some(r.units.get()),
                order_id: Some(r.order_id),
                review_id: Some(r.review_id),
                ..notice(
                    NoticeKind::ReturnReview,
                    r.seller_id
                        .ok_or("no detail.sellerId: an operator decides")?,
                    r.item_id,
                )
            },
            other => {
                return Err(format!(
                    "not a seller notice: {}",
                    other.kind().detail_type()
                ))
            }
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
            json!({ "version": 1, "itemId": item, "sellerId": "seller-1", "available": 2, "threshold": 3, "stockVersion": 7 }),
        ))
        .unwrap();
        assert_eq!(notice.notice_id, "stock/x/LowStock/7");
        assert_eq!(notice.kind, NoticeKind::LowStock);
        assert_eq!((notice.available, notice.threshold), (Some(2), Some(3)));
    }

    #[test]
    fn returned_units_held_for_review_become_a_notice_naming_the_order_and_review() {
        let held = super::super::event::samples()
            .into_iter()
            .find(|e| matches!(e, Event::ReturnHeldForReview(_)))
            .unwrap();
        let notice =
            SellerNotice::from_envelope(&envelope("ReturnHeldForReview", held.detail())).unwrap();
        assert_eq!(notice.kind, NoticeKind::ReturnReview);
        assert!(notice.order_id.is_some() && notice.review_id.is_some());
        assert_eq!(notice.units, Some(1));
    }

    #[test]
    fn a_new_order_tells_each_seller_of_their_own_lines_only() {
        let Some(Event::OrderPlaced(mut order)) = super::super::event::samples().into_iter().next()
        else {
            panic!("the first sample is OrderPlaced");
        };
        let (a, b, c) = (
            ItemId::derived_from("a"),
            ItemId::derived_from("b"),
            ItemId::derived_from("c"),
        );
        let two = crate::domain::Quantity::try_from(2i64).unwrap();
        order.lines = [a, b, c]
            .into_iter()
            .map(|item_id| super::super::event::Line {
                item_id,
                quantity: two,
            })
            .collect();
        let seller = |item: ItemId| {
            let name = if item == b {
                "seller-2"
            } else if item == c {
                return None;
            } else {
                "seller-1"
            };
            Some(UserId::try_from(name).unwrap())
        };
        let notices = SellerNotice::new_orders("ev-1", order.at, &order, seller);
        assert_eq!(
            notices.len(),
            2,
            "one per seller; an unknown item is left out"
        );
        let first = &notices[0];
        assert_eq!(first.seller_id.as_str(), "seller-1");
        assert_eq!(first.notice_id, "ev-1#seller-1");
        assert_eq!(first.lines.as_ref().unwrap().len(), 1);
        assert_eq!(first.lines.as_ref().unwrap()[0].item_id, a);
        assert_eq!(notices[1].lines.as_ref().unwrap()[0].item_id, b);
        assert_eq!(first.kind, NoticeKind::NewOrder);
    }

    #[test]
    fn other_messages_are_refused_with_a_reason() {
        assert!(SellerNotice::from_envelope("{")
            .unwrap_err()
            .contains("not JSON"));
        let expired = super::super::event::samples()
            .into_iter()
            .find(|e| matches!(e, Event::CheckoutExpired(_)))
            .unwrap();
        assert!(
            SellerNotice::from_envelope(&envelope("CheckoutExpired", expired.detail()))
                .unwrap_err()
                .contains("not a seller notice: CheckoutExpired")
        );
        assert!(
            SellerNotice::from_envelope(&envelope("LowStock", json!({ "itemId": "x" }))).is_err()
        );
    }
}
