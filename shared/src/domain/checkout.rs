//! Checkouts: stock held for one shopper for a few minutes while they pay.
//!
//! A hold is `Held` until exactly one of: it is consumed by an order, released (expiry,
//! cancel, replacement, failed payment). Storage makes that transition with a condition on
//! `state = Held`, so racing mechanisms (timer, TTL stream, sweeper, cancel, submit) act
//! once between them. Reads never trust `state` alone: a `Held` hold past `expires_at` is
//! expired, whether or not anything has released it yet.

use serde::{Deserialize, Serialize};

use super::{CheckoutId, ItemId, Money, OrderId, Quantity, Timestamp, UserId};

/// One held cart line, priced when the hold was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldLine {
    /// The item's id.
    pub item_id: ItemId,
    /// The product name, as listed.
    pub name: String,
    /// How many units.
    pub quantity: Quantity,
    /// The price of one unit, if the item is still listed.
    pub unit_price: Money,
}

/// Where a hold is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoldState {
    /// Stock is held for the shopper.
    Held,
    /// The hold became an order.
    Consumed,
    /// The stock went back on sale.
    Released,
}

/// Why a hold's stock went back on sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReleaseReason {
    /// It ran out of time.
    Expired,
    /// The shopper cancelled it.
    Cancelled,
    /// A newer checkout of the same shopper replaced it.
    Replaced,
    /// Its payment failed for good.
    PaymentFailed,
}

/// A checkout as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkout {
    /// The checkout's id.
    pub checkout_id: CheckoutId,
    /// The shopper's user id (Cognito `sub`).
    pub user_id: UserId,
    /// The lines, one per item.
    pub lines: Vec<HoldLine>,
    /// What it costs in all.
    pub total: Money,
    /// When it was created.
    pub created_at: Timestamp,
    /// When the hold expires; reads after it treat it as expired.
    pub expires_at: Timestamp,
    /// Its state.
    pub state: HoldState,
    /// Why it was released, once it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_reason: Option<ReleaseReason>,
    /// The order this checkout became (set once payment is attempted without a decline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// Declined payment attempts so far (each one publishes `PaymentFailed`).
    #[serde(default)]
    pub declines: u32,
    /// The provider's reason for the last declined attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_decline: Option<String>,
    /// Payment attempts claimed so far; the latest is number `attempts`, and its provider key
    /// is [`Checkout::payment_key`].
    #[serde(default)]
    pub attempts: u32,
    /// The payment attempt in flight, recorded *before* the provider is called: while it is
    /// set, neither a cancel nor a replacing checkout can release the hold, and an expiry
    /// asks the provider what became of it before releasing anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paying: Option<PaymentAttempt>,
    /// For items whose stock is sharded: the shard each item's units were taken from (absent
    /// items came from shard 0, the item's own row). Releases give the units back there.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub stock_shards: std::collections::BTreeMap<ItemId, u16>,
}

/// One payment attempt on a checkout: enough to settle it without the request that made it
/// (a crash between charge and order commit is settled by the expiry sweep from this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAttempt {
    /// The provider's token for the shopper's payment method (never card data).
    pub method: String,
    /// Where it ships.
    pub shipping_address: super::Address,
    /// When the attempt started (the payment grace is counted from it).
    pub started_at: Timestamp,
    /// The provider's id for the attempt's charge, recorded after the charge was opened and
    /// before it was confirmed (absent: never opened, or opened and not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// What a reader should treat the checkout as, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckoutStatus {
    /// Held and not expired: it can be paid.
    Active,
    /// Past its expiry, released or not yet.
    Expired,
    /// Paid: an order was made from it.
    Completed,
    /// Released before expiry (cancelled, replaced, failed).
    Released,
}

impl Checkout {
    /// What the shopper sees at `now` (a hold past `expiresAt` is expired even before release).
    pub fn status(&self, now: Timestamp) -> CheckoutStatus {
        match self.state {
            HoldState::Held if self.expires_at <= now => CheckoutStatus::Expired,
            HoldState::Held => CheckoutStatus::Active,
            HoldState::Consumed => CheckoutStatus::Completed,
            HoldState::Released if self.release_reason == Some(ReleaseReason::Expired) => {
                CheckoutStatus::Expired
            }
            HoldState::Released => CheckoutStatus::Released,
        }
    }

    /// The provider idempotency key of the latest payment attempt: a retried provider call
    /// is the same charge, and a new attempt (after a decline) a new one.
    pub fn payment_key(&self) -> String {
        format!("{}-{}", self.checkout_id, self.attempts)
    }

    /// Units held per item (lines are already one per item; summed defensively).
    pub fn demand(&self) -> Vec<(ItemId, u32)> {
        let mut demand = std::collections::BTreeMap::new();
        for line in &self.lines {
            *demand.entry(line.item_id).or_insert(0) += line.quantity.get();
        }
        demand.into_iter().collect()
    }

    /// The stock shard `item`'s units were taken from (0 unless sharded).
    pub fn shard_of(&self, item: ItemId) -> u16 {
        self.stock_shards.get(&item).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn a_held_checkout_past_its_expiry_reads_as_expired_even_before_release() {
        let now = Timestamp::from_unix_millis(1_000_000);
        let checkout = Checkout {
            checkout_id: CheckoutId::generate(),
            user_id: "u".try_into().unwrap(),
            lines: vec![],
            total: Money {
                amount: 0,
                currency: Currency::Usd,
            },
            created_at: now,
            expires_at: now.plus_millis(1000),
            state: HoldState::Held,
            release_reason: None,
            order_id: None,
            declines: 0,
            last_decline: None,
            attempts: 0,
            paying: None,
            stock_shards: Default::default(),
        };
        assert_eq!(checkout.status(now), CheckoutStatus::Active);
        assert_eq!(
            checkout.status(now.plus_millis(1000)),
            CheckoutStatus::Expired
        );
    }
}
