//! Domain events: one typed definition per event, used by the publisher (the outbox relay
//! builds them from committed changes, `usecases::events`) and by every consumer (which reads
//! them back from the EventBridge envelope with [`Envelope::parse`]).
//!
//! An [`Event`] serialises as the envelope's two fields `{"detail-type": ..., "detail": ...}`;
//! every `detail` carries `"version": 1` ([`DETAIL_VERSION`]) and a consumer refuses any
//! other version instead of guessing. `events/bus/domain-events.schema.json` is the catalogue for
//! consumers outside this code (source, detail schema, who consumes each event inside);
//! a test regenerates it and fails when it is stale.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::returns::{ReturnLine, ReviewCause};
use super::stock::Drift;
use super::{
    CheckoutId, ItemId, Money, OrderId, OrderStatus, Quantity, ReturnId, ReviewId, Timestamp,
    UserId, WarehouseId,
};

/// The schema version of every `detail` this code writes and reads.
pub const DETAIL_VERSION: u32 = 1;

/// `detail.version`: written as [`DETAIL_VERSION`]; reading another version fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Version;

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(DETAIL_VERSION)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let version = u32::deserialize(deserializer)?;
        if version == DETAIL_VERSION {
            Ok(Self)
        } else {
            Err(serde::de::Error::custom(format!(
                "detail.version {version} is not {DETAIL_VERSION}, the version this consumer reads"
            )))
        }
    }
}

/// Units of one item, as events list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// The item.
    pub item_id: ItemId,
    /// How many units.
    pub quantity: Quantity,
}

/// An order's status changed (`OrderPlaced`, `OrderShipped`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderChanged {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The order.
    pub order_id: OrderId,
    /// The shopper.
    pub user_id: UserId,
    /// The checkout it came from.
    pub checkout_id: CheckoutId,
    /// Its status now.
    pub status: OrderStatus,
    /// Its live lines.
    pub lines: Vec<Line>,
    /// What it costs in all.
    pub total: Money,
    /// The first five digits of the shipping ZIP (no more of the address leaves the store).
    pub ship_to_zip: String,
    /// When it changed.
    pub at: Timestamp,
}

/// One line of an order was cancelled before it shipped, and refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineCancelled {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The order.
    pub order_id: OrderId,
    /// The shopper.
    pub user_id: UserId,
    /// The item.
    pub item_id: ItemId,
    /// How many units.
    pub quantity: Quantity,
    /// Why, as the shopper gave it.
    pub reason: String,
    /// What was refunded for it.
    pub refund: Money,
    /// When.
    pub at: Timestamp,
}

/// A shopper was authorised to return units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnAuthorised {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The order.
    pub order_id: OrderId,
    /// The shopper.
    pub user_id: UserId,
    /// The authorisation (the label's barcode).
    pub return_id: ReturnId,
    /// The units authorised.
    pub lines: Vec<ReturnLine>,
    /// The warehouse the parcel goes to.
    pub return_to: WarehouseId,
    /// When.
    pub at: Timestamp,
}

/// Returned units are held for their seller to accept or refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnHeld {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The order.
    pub order_id: OrderId,
    /// The review to decide.
    pub review_id: ReviewId,
    /// The authorisation the parcel named, if any.
    pub return_id: Option<ReturnId>,
    /// The item.
    pub item_id: ItemId,
    /// Its seller, who decides (absent: an operator decides).
    pub seller_id: Option<UserId>,
    /// Where the units are.
    pub warehouse_id: WarehouseId,
    /// How many.
    pub units: Quantity,
    /// Why they wait.
    pub cause: ReviewCause,
    /// When they were held.
    pub at: Timestamp,
}

/// A hold expired and its stock went back on sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutExpired {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The checkout.
    pub checkout_id: CheckoutId,
    /// The shopper.
    pub user_id: UserId,
    /// What it held.
    pub lines: Vec<Line>,
    /// When it was due to end.
    pub expires_at: Timestamp,
}

/// A payment attempt on a checkout was declined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDeclined {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The checkout.
    pub checkout_id: CheckoutId,
    /// The shopper.
    pub user_id: UserId,
    /// Which attempt (1-based).
    pub attempt: u32,
    /// The provider's reason, if it gave one.
    pub reason: Option<String>,
    /// What was to be paid.
    pub total: Money,
}

/// A sold-out item has units on sale again (`ItemRestocked`): what shoppers' stock alerts
/// wait for, whatever the seller's low-stock threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restocked {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The item.
    pub item_id: ItemId,
    /// Units on sale now (more than 0).
    pub available: u32,
    /// The aggregated row's version (or the sharded item's announcement number).
    pub stock_version: u64,
}

/// An item's units on sale crossed its low-stock threshold (`LowStock`, `BackInStock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockAlert {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The item.
    pub item_id: ItemId,
    /// Its seller.
    pub seller_id: UserId,
    /// Units on sale now.
    pub available: u32,
    /// The item's threshold.
    pub threshold: u32,
    /// The aggregated row's version: orders one item's alerts within a second (the
    /// envelope's time has whole seconds only).
    pub stock_version: u64,
}

/// A warehouse lost units that were already promised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shortfall {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// The item.
    pub item_id: ItemId,
    /// The warehouse.
    pub warehouse_id: WarehouseId,
    /// The item's seller, when known.
    pub seller_id: Option<UserId>,
    /// Units lost while promised.
    pub units: u32,
}

/// A reconciliation found aggregated stock that did not match the warehouses' rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockDrift {
    /// Always [`DETAIL_VERSION`].
    pub version: Version,
    /// Whether the run was told to repair.
    pub repaired: bool,
    /// Every difference found.
    pub drifts: Vec<Drift>,
}

/// Declares the events: the [`Event`] enum (one variant per `detail-type`, each with its
/// typed detail), and [`EventKind`], the list a test walks to check every event has a schema
/// entry and its consumers' rules.
macro_rules! events {
    ($( $(#[$doc:meta])* $name:ident($detail:ty) from $source:literal; )*) => {
        /// A domain event: its `detail-type` and typed `detail`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "detail-type", content = "detail")]
        pub enum Event {
            $( $(#[$doc])* $name($detail), )*
        }

        /// Which event, without its detail.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $( $(#[$doc])* $name, )*
        }

        impl EventKind {
            /// Every event there is.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$name),*];

            /// Its EventBridge `detail-type`.
            pub fn detail_type(self) -> &'static str {
                match self { $( Self::$name => stringify!($name), )* }
            }

            /// Its EventBridge `source`.
            pub fn source(self) -> &'static str {
                match self { $( Self::$name => $source, )* }
            }
        }

        impl Event {
            /// Which event it is.
            pub fn kind(&self) -> EventKind {
                match self { $( Self::$name(_) => EventKind::$name, )* }
            }
        }
    };
}

events! {
    /// Paid; waiting for warehouse assignment.
    OrderPlaced(OrderChanged) from "aisle.orders";
    /// Assigned to warehouses.
    OrderProcessing(OrderChanged) from "aisle.orders";
    /// Paid, but no warehouse has the stock yet.
    OrderBackordered(OrderChanged) from "aisle.orders";
    /// Every parcel left its warehouse.
    OrderShipped(OrderChanged) from "aisle.orders";
    /// Every parcel arrived.
    OrderDelivered(OrderChanged) from "aisle.orders";
    /// Cancelled before shipping.
    OrderCancelled(OrderChanged) from "aisle.orders";
    /// Paid too late: refunded.
    OrderRejected(OrderChanged) from "aisle.orders";
    /// The payment failed.
    OrderPaymentFailed(OrderChanged) from "aisle.orders";
    /// The order entered `RETURN_REQUESTED`.
    ReturnRequested(OrderChanged) from "aisle.orders";
    /// Every unit came back and was refunded.
    OrderRefunded(OrderChanged) from "aisle.orders";
    /// Some units came back and were refunded (one event per refund).
    OrderPartiallyRefunded(OrderChanged) from "aisle.orders";
    /// One line was cancelled before it shipped.
    OrderLineCancelled(LineCancelled) from "aisle.orders";
    /// A return was authorised.
    ReturnAuthorised(ReturnAuthorised) from "aisle.orders";
    /// Returned units wait for their seller's decision.
    ReturnHeldForReview(ReturnHeld) from "aisle.orders";
    /// A hold expired.
    CheckoutExpired(CheckoutExpired) from "aisle.checkout";
    /// A payment attempt was declined.
    PaymentFailed(PaymentDeclined) from "aisle.checkout";
    /// Units on sale fell below the threshold.
    LowStock(StockAlert) from "aisle.stock";
    /// Units on sale climbed back.
    BackInStock(StockAlert) from "aisle.stock";
    /// A sold-out item is on sale again.
    ItemRestocked(Restocked) from "aisle.stock";
    /// Units lost while promised.
    StockShortfall(Shortfall) from "aisle.stock";
    /// Aggregated stock disagreed with the warehouses.
    StockDrift(StockDrift) from "aisle.stock";
}

impl EventKind {
    /// The functions in `template.yaml` that consume it (through an EventBridge rule to
    /// their queue); empty for events published for consumers outside this code. A test
    /// checks the template's rules against this list, both ways.
    pub fn consumers(self) -> &'static [&'static str] {
        match self {
            Self::OrderPlaced => &[
                "AssignOrdersFunction",
                "NotifyShoppersFunction",
                "KeepSellerNoticesFunction",
                "RecordSignalsFunction",
            ],
            Self::OrderShipped
            | Self::OrderDelivered
            | Self::OrderCancelled
            | Self::OrderLineCancelled
            | Self::ReturnAuthorised
            | Self::OrderRefunded
            | Self::OrderPartiallyRefunded
            | Self::OrderPaymentFailed
            | Self::OrderRejected => &["NotifyShoppersFunction"],
            Self::LowStock
            | Self::BackInStock
            | Self::StockShortfall
            | Self::ReturnHeldForReview => &["KeepSellerNoticesFunction"],
            Self::ItemRestocked => &["FanOutRestocksFunction"],
            Self::OrderProcessing
            | Self::OrderBackordered
            | Self::ReturnRequested
            | Self::CheckoutExpired
            | Self::PaymentFailed
            | Self::StockDrift => &[],
        }
    }
}

impl Event {
    /// The `detail` as JSON (what goes into `PutEvents`).
    pub fn detail(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(mut both) => both["detail"].take(),
            // Every detail is plain data with string keys: it always serialises.
            Err(_) => serde_json::Value::Null,
        }
    }
}

/// An event as a consumer receives it from an EventBridge rule (the whole envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The domain event's own id (the publisher puts it in `resources` as
    /// `aisle:event:<id>`; stable across republishes, unlike EventBridge's `id`).
    pub event_id: String,
    /// When it happened (the envelope's `time`: whole seconds).
    pub time: Timestamp,
    /// The event.
    pub event: Event,
}

impl Envelope {
    /// Read an envelope; the reason when it is not one of ours (unknown type, other
    /// version, a field missing or malformed).
    pub fn parse(body: &str) -> Result<Self, String> {
        Self::parse_if(body, None)
    }

    /// [`Envelope::parse`] for a consumer of some events only: an envelope of another
    /// `detail-type` is refused as `not <what>: <detail-type>` before anything else is read.
    pub fn parse_only(body: &str, kinds: &[EventKind], what: &str) -> Result<Self, String> {
        Self::parse_if(body, Some((kinds, what)))
    }

    fn parse_if(body: &str, only: Option<(&[EventKind], &str)>) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
        let kind = value["detail-type"]
            .as_str()
            .ok_or("no detail-type")?
            .to_owned();
        if let Some((kinds, what)) = only {
            if !kinds.iter().any(|k| k.detail_type() == kind) {
                return Err(format!("not {what}: {kind}"));
            }
        }
        let event_id = value["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str()?.strip_prefix("aisle:event:"))
            .next()
            .ok_or("no aisle:event: resource")?
            .to_owned();
        let time = Timestamp::try_from(value["time"].as_str().ok_or("no time")?.to_owned())?;
        let event = Event::deserialize(&value).map_err(|e| format!("{kind}: {e}"))?;
        Ok(Self {
            event_id,
            time,
            event,
        })
    }
}

/// One event of every kind, every optional field filled: the schema catalogue is generated
/// from these, and the round-trip tests use them.
pub fn samples() -> Vec<Event> {
    let order = OrderId::derived_from("sample");
    let item = ItemId::derived_from("sample");
    let user = UserId::try_from("shopper-1").unwrap_or_else(|_| unreachable!());
    let seller = UserId::try_from("seller-1").unwrap_or_else(|_| unreachable!());
    let warehouse = WarehouseId::try_from("wh-1000").unwrap_or_else(|_| unreachable!());
    let at = Timestamp::from_unix_millis(1_780_000_000_000);
    let one = Quantity::try_from(1i64).unwrap_or_else(|_| unreachable!());
    let money = Money {
        amount: 1999,
        currency: super::Currency::try_from("USD".to_owned()).unwrap_or_else(|_| unreachable!()),
    };
    let line = Line {
        item_id: item,
        quantity: one,
    };
    let changed = |status| OrderChanged {
        version: Version,
        order_id: order,
        user_id: user.clone(),
        checkout_id: CheckoutId::derived_from("sample"),
        status,
        lines: vec![line.clone()],
        total: money,
        ship_to_zip: "10001".into(),
        at,
    };
    let alert = StockAlert {
        version: Version,
        item_id: item,
        seller_id: seller.clone(),
        available: 2,
        threshold: 3,
        stock_version: 7,
    };
    EventKind::ALL
        .iter()
        .map(|kind| match kind {
            EventKind::OrderPlaced => Event::OrderPlaced(changed(OrderStatus::Placed)),
            EventKind::OrderProcessing => Event::OrderProcessing(changed(OrderStatus::Processing)),
            EventKind::OrderBackordered => {
                Event::OrderBackordered(changed(OrderStatus::Backordered))
            }
            EventKind::OrderShipped => Event::OrderShipped(changed(OrderStatus::Shipped)),
            EventKind::OrderDelivered => Event::OrderDelivered(changed(OrderStatus::Delivered)),
            EventKind::OrderCancelled => Event::OrderCancelled(changed(OrderStatus::Cancelled)),
            EventKind::OrderRejected => Event::OrderRejected(changed(OrderStatus::Rejected)),
            EventKind::OrderPaymentFailed => {
                Event::OrderPaymentFailed(changed(OrderStatus::PaymentFailed))
            }
            EventKind::ReturnRequested => {
                Event::ReturnRequested(changed(OrderStatus::ReturnRequested))
            }
            EventKind::OrderRefunded => Event::OrderRefunded(changed(OrderStatus::Refunded)),
            EventKind::OrderPartiallyRefunded => {
                Event::OrderPartiallyRefunded(changed(OrderStatus::PartiallyRefunded))
            }
            EventKind::OrderLineCancelled => Event::OrderLineCancelled(LineCancelled {
                version: Version,
                order_id: order,
                user_id: user.clone(),
                item_id: item,
                quantity: one,
                reason: "ordered by mistake".into(),
                refund: money,
                at,
            }),
            EventKind::ReturnAuthorised => Event::ReturnAuthorised(ReturnAuthorised {
                version: Version,
                order_id: order,
                user_id: user.clone(),
                return_id: ReturnId::derived_from("sample"),
                lines: vec![ReturnLine {
                    item_id: item,
                    quantity: one,
                }],
                return_to: warehouse.clone(),
                at,
            }),
            EventKind::ReturnHeldForReview => Event::ReturnHeldForReview(ReturnHeld {
                version: Version,
                order_id: order,
                review_id: ReviewId::derived_from("sample"),
                return_id: Some(ReturnId::derived_from("sample")),
                item_id: item,
                seller_id: Some(seller.clone()),
                warehouse_id: warehouse.clone(),
                units: one,
                cause: ReviewCause::BeyondAuthorisation,
                at,
            }),
            EventKind::CheckoutExpired => Event::CheckoutExpired(CheckoutExpired {
                version: Version,
                checkout_id: CheckoutId::derived_from("sample"),
                user_id: user.clone(),
                lines: vec![line.clone()],
                expires_at: at,
            }),
            EventKind::PaymentFailed => Event::PaymentFailed(PaymentDeclined {
                version: Version,
                checkout_id: CheckoutId::derived_from("sample"),
                user_id: user.clone(),
                attempt: 1,
                reason: Some("card_declined".into()),
                total: money,
            }),
            EventKind::LowStock => Event::LowStock(alert.clone()),
            EventKind::BackInStock => Event::BackInStock(alert.clone()),
            EventKind::ItemRestocked => Event::ItemRestocked(Restocked {
                version: Version,
                item_id: item,
                available: 3,
                stock_version: 7,
            }),
            EventKind::StockShortfall => Event::StockShortfall(Shortfall {
                version: Version,
                item_id: item,
                warehouse_id: warehouse.clone(),
                seller_id: Some(seller.clone()),
                units: 1,
            }),
            EventKind::StockDrift => Event::StockDrift(StockDrift {
                version: Version,
                repaired: false,
                drifts: vec![Drift {
                    item_id: item,
                    recorded: 3,
                    expected: 2,
                    repaired: false,
                }],
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(event: &Event) -> String {
        let mut value = serde_json::to_value(event).unwrap();
        value["version"] = "0".into();
        value["id"] = "eb-1".into();
        value["source"] = event.kind().source().into();
        value["time"] = "2026-12-01T10:00:00Z".into();
        value["resources"] = serde_json::json!(["aisle:event:x/1"]);
        value.to_string()
    }

    #[test]
    fn every_event_reads_back_as_the_consumer_receives_it() {
        let samples = samples();
        assert_eq!(samples.len(), EventKind::ALL.len());
        for (event, kind) in samples.iter().zip(EventKind::ALL) {
            assert_eq!(event.kind(), *kind);
            let read = Envelope::parse(&envelope(event)).unwrap();
            assert_eq!(&read.event, event);
            assert_eq!(read.event_id, "x/1");
            assert_eq!(event.detail()["version"], DETAIL_VERSION);
        }
    }

    #[test]
    fn a_detail_of_another_version_is_refused_with_the_reason() {
        let event = &samples()[0];
        let mut value: serde_json::Value = serde_json::from_str(&envelope(event)).unwrap();
        value["detail"]["version"] = 2.into();
        let refused = Envelope::parse(&value.to_string()).unwrap_err();
        assert!(refused.contains("detail.version 2"), "{refused}");
    }

    #[test]
    fn an_unknown_type_or_a_missing_field_is_refused_with_the_reason() {
        let event = &samples()[0];
        let mut value: serde_json::Value = serde_json::from_str(&envelope(event)).unwrap();
        value["detail-type"] = "OrderTeleported".into();
        assert!(Envelope::parse(&value.to_string())
            .unwrap_err()
            .contains("OrderTeleported"));
        let mut value: serde_json::Value = serde_json::from_str(&envelope(event)).unwrap();
        value["detail"].as_object_mut().unwrap().remove("orderId");
        assert!(Envelope::parse(&value.to_string())
            .unwrap_err()
            .contains("orderId"));
    }
}
