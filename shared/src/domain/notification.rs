//! What shoppers are told, and when: every domain event has a [`Plan`] (a message of some
//! [`MessageKind`], or silence with its reason), the shopper's inbox [`Notice`], their
//! [`NotificationSettings`], and the [`Mail`] that goes out. Rendering lives in
//! [`super::mail`].

use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind};
use super::{ItemId, Money, OrderId, Timestamp, UserId};

/// A message a shopper is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    /// Paid: lines, total, delivery estimate.
    OrderPlaced,
    /// Every parcel left: tracking numbers.
    OrderShipped,
    /// Every parcel arrived.
    OrderDelivered,
    /// Cancelled before it shipped, with the refund.
    OrderCancelled,
    /// One line cancelled, with its refund.
    LineCancelled,
    /// A return was authorised: the label.
    ReturnAuthorised,
    /// Returned units were refunded (some or all).
    RefundIssued,
    /// The payment failed.
    PaymentFailed,
    /// Paid too late, after the hold ended: refunded in full.
    OrderRejected,
    /// A sold-out item the shopper asked about is on sale again (optional mail).
    BackInStock,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [MessageKind; 10] = [
        Self::BackInStock,
        Self::OrderPlaced,
        Self::OrderShipped,
        Self::OrderDelivered,
        Self::OrderCancelled,
        Self::LineCancelled,
        Self::ReturnAuthorised,
        Self::RefundIssued,
        Self::PaymentFailed,
        Self::OrderRejected,
    ];

    /// Whether the shopper may turn it off (and the mail carries a one-click unsubscribe).
    /// Order mail is transactional: it is sent whatever the settings say, as the receipt of
    /// what the shopper did, and carries no unsubscribe (RFC 8058 is for optional mail).
    pub fn optional(self) -> bool {
        matches!(self, Self::BackInStock)
    }
}

/// What an event means for the shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// A notice in their inbox and a mail.
    Message(MessageKind),
    /// Nothing, on purpose (the reason says why).
    Silent(&'static str),
}

/// The plan for every event there is. A `match` with no wildcard: a new event does not
/// compile until it is given a message or a reason to stay silent, and a test checks every
/// order event's choice.
pub fn plan(kind: EventKind) -> Plan {
    use EventKind as K;
    match kind {
        K::OrderPlaced => Plan::Message(MessageKind::OrderPlaced),
        K::OrderShipped => Plan::Message(MessageKind::OrderShipped),
        K::OrderDelivered => Plan::Message(MessageKind::OrderDelivered),
        K::OrderCancelled => Plan::Message(MessageKind::OrderCancelled),
        K::OrderLineCancelled => Plan::Message(MessageKind::LineCancelled),
        K::ReturnAuthorised => Plan::Message(MessageKind::ReturnAuthorised),
        K::OrderRefunded | K::OrderPartiallyRefunded => Plan::Message(MessageKind::RefundIssued),
        K::OrderPaymentFailed => Plan::Message(MessageKind::PaymentFailed),
        K::OrderRejected => Plan::Message(MessageKind::OrderRejected),
        K::OrderProcessing => Plan::Silent(
            "warehouse assignment is internal; the placed mail already gave the estimate",
        ),
        K::OrderBackordered => Plan::Silent(
            "a backorder is retried within the delivery estimate; shipped or cancelled follows",
        ),
        K::ReturnRequested => {
            Plan::Silent("the return authorisation that comes with it is the message")
        }
        K::ReturnHeldForReview => Plan::Silent("the seller decides first; a refund follows"),
        K::CheckoutExpired => Plan::Silent("the shopper saw the hold's clock on the checkout page"),
        K::PaymentFailed => {
            Plan::Silent("the shopper is on the checkout page and sees the decline there")
        }
        K::LowStock | K::BackInStock | K::StockShortfall | K::StockDrift => {
            Plan::Silent("stock events are for sellers and operators")
        }
        K::ItemRestocked => Plan::Silent(
            "a restock reaches the shoppers who asked for it through their restock alerts",
        ),
    }
}

/// The order an event is about and its shopper, if it is a shopper's order event.
pub fn order_of(event: &Event) -> Option<(OrderId, UserId)> {
    match event {
        Event::OrderPlaced(c)
        | Event::OrderProcessing(c)
        | Event::OrderBackordered(c)
        | Event::OrderShipped(c)
        | Event::OrderDelivered(c)
        | Event::OrderCancelled(c)
        | Event::OrderRejected(c)
        | Event::OrderPaymentFailed(c)
        | Event::ReturnRequested(c)
        | Event::OrderRefunded(c)
        | Event::OrderPartiallyRefunded(c) => Some((c.order_id, c.user_id.clone())),
        Event::OrderLineCancelled(c) => Some((c.order_id, c.user_id.clone())),
        Event::ReturnAuthorised(r) => Some((r.order_id, r.user_id.clone())),
        _ => None,
    }
}

/// One notice in a shopper's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// The domain event's id: the same event delivered twice is one notice.
    pub notice_id: String,
    /// What it says.
    pub kind: MessageKind,
    /// The order it is about (order messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// The item it is about (back in stock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<ItemId>,
    /// One line, as the mail's subject.
    pub title: String,
    /// When the event happened.
    pub at: Timestamp,
    /// A refund it reports, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Money>,
}

/// A shopper's "notify me" on a sold-out item: one message when it is on sale again, then
/// it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestockAlert {
    /// The item.
    pub item_id: ItemId,
    /// When the shopper asked.
    pub since: Timestamp,
}

/// At most this many restock alerts per shopper (a wishlist is capped too).
pub const MAX_RESTOCK_ALERTS: usize = 100;

/// One restock told to one shopper: what the fan-out puts on the notices queue for each
/// shopper waiting on the item (typed once for the fan-out and the notifier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestockNotice {
    /// The `ItemRestocked` event's id (the notice's and the mail's key).
    pub event_id: String,
    /// The item.
    pub item_id: ItemId,
    /// The shopper.
    pub user_id: UserId,
    /// When it came back.
    pub at: Timestamp,
}

/// A message on the shoppers' notices queue: an order event (as its rule delivers it) or
/// one shopper's restock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeMessage {
    /// An EventBridge envelope.
    Event(super::event::Envelope),
    /// A restock for one shopper.
    Restock(RestockNotice),
}

impl NoticeMessage {
    /// Read a queued body; the reason when it is neither.
    pub fn parse(body: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Wrapped {
            restock: RestockNotice,
        }
        if let Ok(Wrapped { restock }) = serde_json::from_str(body) {
            return Ok(Self::Restock(restock));
        }
        super::event::Envelope::parse(body).map(Self::Event)
    }

    /// The body of a restock message.
    pub fn restock_body(notice: &RestockNotice) -> String {
        serde_json::json!({ "restock": notice }).to_string()
    }
}

/// Where the restock fan-out of one event has got to: the event, and the last shopper
/// already queued (the fan-out goes on from there in another run when one run's time is
/// not enough).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FanOut {
    /// The `ItemRestocked` event's id.
    pub event_id: String,
    /// The item.
    pub item_id: ItemId,
    /// When it came back.
    pub at: Timestamp,
    /// The cursor after the last shopper queued; `None` from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl FanOut {
    /// Read a fan-out queue body: an `ItemRestocked` envelope (as its rule delivers it) or
    /// a continuation.
    pub fn parse(body: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Wrapped {
            fan_out: FanOut,
        }
        if let Ok(Wrapped { fan_out }) = serde_json::from_str(body) {
            return Ok(fan_out);
        }
        let envelope = super::event::Envelope::parse_only(
            body,
            &[EventKind::ItemRestocked],
            "an ItemRestocked event",
        )?;
        match envelope.event {
            Event::ItemRestocked(r) => Ok(Self {
                event_id: envelope.event_id,
                item_id: r.item_id,
                at: envelope.time,
                after: None,
            }),
            other => Err(format!("not ItemRestocked: {}", other.kind().detail_type())),
        }
    }

    /// The body that continues this fan-out from `after`.
    pub fn continuation(&self, after: String) -> String {
        let next = Self {
            after: Some(after),
            ..self.clone()
        };
        serde_json::json!({ "fanOut": next }).to_string()
    }
}

/// A shopper's notification preferences and the address mail goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSettings {
    /// Order mail (placed, shipped, ...): transactional, so it cannot be turned off; shown
    /// so the storefront can say so.
    pub order_mail: bool,
    /// Mail when a wished-for item is back in stock (optional).
    pub back_in_stock_mail: bool,
    /// The address mail goes to: the one Cognito verified (the token's `email` with
    /// `email_verified`), recorded when the shopper orders or reads these settings. Never
    /// set from a request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    /// When the shopper last opened their inbox (notices after it are unread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_up_to: Option<Timestamp>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            order_mail: true,
            back_in_stock_mail: true,
            email: None,
            read_up_to: None,
        }
    }
}

/// A mail address as Cognito verified it: one `@`, no spaces or control characters, at most
/// 254 characters (RFC 5321's path limit). Its text is personal data: never logged.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let text = text.trim().to_owned();
        let valid = text.len() <= 254
            && text.matches('@').count() == 1
            && !text.starts_with('@')
            && !text.ends_with('@')
            && !text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',');
        if valid {
            Ok(Self(text))
        } else {
            Err("not a mail address".into())
        }
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

impl EmailAddress {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as a suppression list keys it: the domain is case-insensitive
    /// (RFC 5321 §2.4) and so, in practice, is every mailbox a bounce names.
    pub fn normalised(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A rendered message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_event_has_a_message_or_says_why_it_is_silent() {
        let mut sent = std::collections::BTreeSet::new();
        for kind in EventKind::ALL {
            match plan(*kind) {
                Plan::Message(message) => {
                    assert_eq!(kind.source(), "aisle.orders", "{kind:?} mails a shopper");
                    sent.insert(format!("{message:?}"));
                }
                Plan::Silent(reason) => assert!(reason.len() > 10, "{kind:?}: say why"),
            }
        }
        // Every order message kind is sent by some event: none is written and never used
        // (the one optional kind is sent by the restock alerts).
        let order_kinds = MessageKind::ALL.iter().filter(|k| !k.optional()).count();
        assert_eq!(sent.len(), order_kinds, "{sent:?}");
    }

    #[test]
    fn every_sample_order_event_names_its_order_and_shopper() {
        for event in crate::domain::event::samples() {
            let kind = event.kind();
            if matches!(plan(kind), Plan::Message(_)) {
                assert!(order_of(&event).is_some(), "{kind:?}");
            }
        }
    }

    #[test]
    fn a_queued_restock_and_an_order_event_are_told_apart() {
        let notice = RestockNotice {
            event_id: "stock/x/ItemRestocked/3".into(),
            item_id: ItemId::derived_from("x"),
            user_id: UserId::try_from("shopper-1").unwrap(),
            at: Timestamp::from_unix_millis(1_000),
        };
        let body = NoticeMessage::restock_body(&notice);
        assert_eq!(
            NoticeMessage::parse(&body).unwrap(),
            NoticeMessage::Restock(notice)
        );
        assert!(NoticeMessage::parse("{\"restock\": {}}").is_err());
        assert!(NoticeMessage::parse("not json").is_err());
    }

    #[test]
    fn a_fan_out_continues_from_where_it_stopped() {
        let start = FanOut {
            event_id: "e-1".into(),
            item_id: ItemId::derived_from("x"),
            at: Timestamp::from_unix_millis(5_000),
            after: None,
        };
        let next = FanOut::parse(&start.continuation("cursor-9".into())).unwrap();
        assert_eq!(next.after.as_deref(), Some("cursor-9"));
        assert_eq!(next.event_id, "e-1");
        assert!(FanOut::parse("{}").is_err());
    }

    #[test]
    fn addresses_are_parsed_once_and_never_printed() {
        let address = EmailAddress::try_from("ada@example.com".to_owned()).unwrap();
        assert_eq!(address.as_str(), "ada@example.com");
        assert!(!format!("{address:?}").contains("ada"));
        for bad in [
            "",
            "ada",
            "@x",
            "a@b@c",
            "ada @x.com",
            "ada@x.com\r\nBcc: y@z",
        ] {
            assert!(EmailAddress::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }
}
