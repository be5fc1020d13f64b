//! Orders: what a shopper bought, where it goes, and what happened to it.

use serde::{Deserialize, Serialize};

use super::returns::{ReturnAuthorisation, ReturnLine, ReturnReview};
use super::{Address, CheckoutId, HoldLine, Money, OrderId, Timestamp, UserId};

/// The order life cycle. Stock belongs to the order (counted as sold) in the
/// [`OrderStatus::holds_stock`] states; before that it sits in the checkout's hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// The payment provider did not answer; settled by the checkout timer.
    PaymentPending,
    /// Paid; waiting for warehouse assignment.
    Placed,
    /// Assigned to warehouses, being prepared.
    Processing,
    /// Paid, but no warehouse has the stock yet.
    Backordered,
    /// Every parcel has left its warehouse.
    Shipped,
    /// Every parcel arrived.
    Delivered,
    /// Cancelled before shipping; refunded or voided.
    Cancelled,
    /// Paid too late: the hold had expired and the stock was gone, so it was refunded.
    Rejected,
    /// The payment failed; nothing is owed and no stock is kept.
    PaymentFailed,
    /// The shopper was authorised to return units (nothing refunded yet).
    ReturnRequested,
    /// The returned units arrived at a warehouse.
    Returned,
    /// Returned and refunded.
    Refunded,
    /// Some units came back and were refunded; the rest are still the shopper's and may be
    /// returned later.
    PartiallyRefunded,
}

impl OrderStatus {
    /// Whether the order's units are counted as sold (out of available stock, not in a hold).
    pub fn holds_stock(self) -> bool {
        matches!(
            self,
            Self::Placed
                | Self::Processing
                | Self::Backordered
                | Self::Shipped
                | Self::Delivered
                | Self::ReturnRequested
                | Self::PartiallyRefunded
        )
    }

    /// Whether the shopper may ask to return (some of) what was delivered: also while an
    /// earlier return is open or after one was refunded, for the units they still hold.
    pub fn returnable(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::ReturnRequested | Self::PartiallyRefunded
        )
    }

    /// Whether a shopper may still cancel (nothing has left a warehouse).
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            Self::PaymentPending | Self::Placed | Self::Processing | Self::Backordered
        )
    }

    /// The stable text form (as stored and as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentPending => "PAYMENT_PENDING",
            Self::Placed => "PLACED",
            Self::Processing => "PROCESSING",
            Self::Backordered => "BACKORDERED",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
            Self::Rejected => "REJECTED",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::ReturnRequested => "RETURN_REQUESTED",
            Self::Returned => "RETURNED",
            Self::Refunded => "REFUNDED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
        }
    }
}

/// One entry of an order's status timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    /// Where it stands now.
    pub status: OrderStatus,
    /// When it happened.
    pub at: Timestamp,
    /// Why, in words for the shopper, if there is more to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where the money is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    /// Not yet confirmed by the provider.
    Pending,
    /// The money was taken.
    Captured,
    /// The charge was voided: no money moved.
    Voided,
    /// All captured money went back.
    Refunded,
    /// Part of the captured amount went back (a cancelled line, a partial return).
    PartiallyRefunded,
}

/// The payment behind an order. `method` is the provider's single-use token reference (never
/// card data); the provider is asked about it again when its first answer never came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// Its state.
    pub state: PaymentState,
    /// The payment method as the provider knows it (a token or payment method id; never card data).
    pub method: String,
    /// The provider's reference for the charge, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// How many times a pending payment has been looked up.
    #[serde(default)]
    pub checks: u32,
    /// The provider's idempotency key of the charge (one per checkout attempt). Older
    /// orders were charged under their order id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What the provider captured, in minor units of the order's currency (0 until then).
    #[serde(default)]
    pub captured: i64,
    /// What the provider has confirmed refunding so far.
    #[serde(default)]
    pub refunded: i64,
}

/// Money the shop owes back to the provider's customer, written in the same transaction as
/// the change that owes it (the outbox) and removed only once the provider confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyDue {
    /// The provider's idempotency key: a retry never refunds twice.
    pub key: String,
    /// What kind of entry it is.
    pub kind: DueKind,
    /// Minor units of the order's currency (0 for a void).
    pub amount: i64,
}

/// What a [`MoneyDue`] asks of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DueKind {
    /// Give captured money back.
    Refund,
    /// Cancel a charge that never settled (nothing captured).
    Void,
}

/// A line the shopper cancelled before it shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelledLine {
    /// The item's id.
    pub item_id: super::ItemId,
    /// How many units.
    pub quantity: super::Quantity,
    /// Why, as the caller gave it.
    pub reason: String,
    /// When it happened.
    pub at: Timestamp,
    /// What was refunded for it, minor units.
    pub refund: i64,
}

/// An order as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The order's id.
    pub order_id: OrderId,
    /// The shopper's user id (Cognito `sub`).
    pub user_id: UserId,
    /// The checkout's id.
    pub checkout_id: CheckoutId,
    /// Where it stands now.
    pub status: OrderStatus,
    /// The lines, one per item.
    pub lines: Vec<HoldLine>,
    /// What it costs in all.
    pub total: Money,
    /// Where it ships.
    pub shipping_address: Address,
    /// The payment and what happened to it.
    pub payment: Payment,
    /// Every status it has been in, oldest first.
    pub timeline: Vec<StatusChange>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The estimated delivery date, once warehouses are assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<Timestamp>,
    /// The shopper's return authorisations, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returns: Vec<ReturnAuthorisation>,
    /// Returned units held for a person to decide on, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<ReturnReview>,
    /// Units received back and refunded, per item (against authorisations, and accepted
    /// reviews).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returned: Vec<ReturnLine>,
    /// Lines cancelled after placing (their units went back to stock, their amount back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancelled_lines: Vec<CancelledLine>,
    /// Refunds and voids owed and not yet confirmed by the provider (the payment outbox).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub money_due: Vec<MoneyDue>,
    /// Bumped on every change; every write is conditioned on it.
    pub version: u64,
}

/// What a new order is made of: its checkout's lines and total, where it ships, and the
/// payment as it stands when the order is written.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The checkout it comes from (its id derives the order's: [`Order::id_for`]).
    pub checkout_id: CheckoutId,
    /// The shopper.
    pub user_id: UserId,
    /// The lines, one per item.
    pub lines: Vec<HoldLine>,
    /// What it costs in all.
    pub total: Money,
    /// Where it ships.
    pub shipping_address: Address,
    /// Its first status (`PLACED`, or `PAYMENT_PENDING` while the provider has not answered).
    pub status: OrderStatus,
    /// The payment as it stands.
    pub payment: Payment,
}

impl Order {
    /// The one way an order comes to be: at version 1, its timeline starting at `status`.
    pub fn new(new: NewOrder, now: Timestamp) -> Order {
        Order {
            order_id: Order::id_for(new.checkout_id),
            user_id: new.user_id,
            checkout_id: new.checkout_id,
            status: new.status,
            lines: new.lines,
            total: new.total,
            shipping_address: new.shipping_address,
            payment: new.payment,
            timeline: vec![StatusChange {
                status: new.status,
                at: now,
                note: None,
            }],
            created_at: now,
            updated_at: now,
            eta: None,
            returns: Vec::new(),
            reviews: Vec::new(),
            returned: Vec::new(),
            cancelled_lines: Vec::new(),
            money_due: Vec::new(),
            version: 1,
        }
    }

    /// The order after moving to `status` (timeline appended, version bumped).
    pub fn moved_to(&self, status: OrderStatus, now: Timestamp, note: Option<String>) -> Order {
        let mut next = self.clone();
        next.status = status;
        next.timeline.push(StatusChange {
            status,
            at: now,
            note,
        });
        next.updated_at = now;
        next.version += 1;
        next
    }

    /// Units of `item` received back so far.
    pub fn returned_units(&self, item: super::ItemId) -> u32 {
        super::returns::units_of(&self.returned, item)
    }

    /// Units of `item` on the order's live lines.
    pub fn ordered_units(&self, item: super::ItemId) -> u32 {
        self.lines
            .iter()
            .filter(|l| l.item_id == item)
            .map(|l| l.quantity.get())
            .sum()
    }

    /// Units of `item` authorised for return and not arrived yet.
    pub fn outstanding_units(&self, item: super::ItemId) -> u32 {
        self.returns.iter().map(|r| r.outstanding(item)).sum()
    }

    /// Units of `item` the shopper still holds and may ask to return: neither back nor
    /// already authorised.
    pub fn returnable_units(&self, item: super::ItemId) -> u32 {
        self.ordered_units(item)
            .saturating_sub(self.returned_units(item))
            .saturating_sub(self.outstanding_units(item))
    }

    /// The authorisation `id`, if it is this order's.
    pub fn return_auth(&self, id: super::ReturnId) -> Option<&ReturnAuthorisation> {
        self.returns.iter().find(|r| r.return_id == id)
    }

    /// The status after returned units were refunded: `REFUNDED` (through `RETURNED`) once
    /// every unit is back, `PARTIALLY_REFUNDED` before that.
    pub fn after_refunded_return(&self, now: Timestamp, note: String) -> Order {
        if self.kept_value() == 0 {
            self.moved_to(OrderStatus::Returned, now, Some(note))
                .moved_to(
                    OrderStatus::Refunded,
                    now,
                    Some("every unit came back and was refunded".into()),
                )
        } else {
            self.moved_to(OrderStatus::PartiallyRefunded, now, Some(note))
        }
    }

    /// What the shopper keeps and has paid for: live lines minus returned units, in minor
    /// units. Σ captured − Σ refunded over all orders equals Σ of this over the orders that
    /// own stock or shipped it (the randomized test checks it).
    pub fn kept_value(&self) -> i64 {
        let kept = self.lines.iter().map(|l| {
            let units = l
                .quantity
                .get()
                .saturating_sub(self.returned_units(l.item_id));
            l.unit_price.times(units).amount
        });
        super::Money::sum(self.total.currency, kept).amount
    }

    /// Owe `due` back (the outbox entry), unless an entry with its key is owed or was paid.
    pub fn owe(&mut self, due: MoneyDue) {
        if !self.money_due.iter().any(|d| d.key == due.key) {
            self.money_due.push(due);
        }
    }

    /// The provider key the order's charge was made under.
    pub fn charge_key(&self) -> String {
        self.payment
            .key
            .clone()
            .unwrap_or_else(|| self.order_id.to_string())
    }

    /// The order id a checkout becomes: derived, so a retried submit can only ever create
    /// one order per checkout.
    pub fn id_for(checkout: CheckoutId) -> OrderId {
        OrderId::derived_from(&checkout.to_string())
    }
}
