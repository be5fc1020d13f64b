//! The payment provider.

use super::StoreError;
use crate::domain::Money;
use async_trait::async_trait;

/// One charge as the shop names it to the provider: the idempotency key of one checkout
/// attempt, the payment method the shopper's client obtained (a token or payment method id,
/// never card data), the amount, and the provider's own id for it once the shop recorded one.
///
/// Status, void and refund act on `reference` when it is known; without it (a crash between
/// the provider creating the charge and the shop recording its id) the provider finds the
/// charge by the key it carries in its metadata, **never by replaying the create**: a
/// provider keeps idempotency keys only for a while (Stripe: at least 24 hours), and a
/// replay after that would be a second charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRef {
    /// The provider idempotency key (`<checkoutId>-<attempt>`; older orders: the order id).
    pub key: String,
    /// The payment method as the provider knows it.
    pub method: String,
    /// What is charged.
    pub amount: Money,
    /// The provider's id for the charge (Stripe: the PaymentIntent id), once recorded.
    pub reference: Option<String>,
}

impl ChargeRef {
    /// The charge of a checkout's current payment attempt.
    pub fn of_attempt(checkout: &crate::domain::Checkout, method: &str) -> Self {
        Self {
            key: checkout.payment_key(),
            method: method.to_owned(),
            amount: checkout.total,
            reference: checkout
                .paying
                .as_ref()
                .and_then(|attempt| attempt.reference.clone()),
        }
    }

    /// The charge an order was paid (or is being paid) with.
    pub fn of_order(order: &crate::domain::Order) -> Self {
        Self {
            key: order.charge_key(),
            method: order.payment.method.clone(),
            amount: order.total,
            reference: order.payment.reference.clone(),
        }
    }
}

/// The provider's answer to opening a charge (made, not yet confirmed: no money moves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The charge exists under this provider id; record it, then confirm.
    Ready {
        /// The provider's id for the charge.
        reference: String,
    },
    /// The provider refused to make it (an unknown payment method): a decline.
    Declined {
        /// The reason, for the shopper.
        reason: String,
    },
    /// No answer: it may exist; it is found by its key later, and never confirmed.
    NoResponse,
}

/// The payment provider's first answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The charge went through.
    Approved {
        /// The provider's reference for it.
        reference: String,
    },
    /// The provider refused the charge.
    Declined {
        /// The provider's reason, for the shopper.
        reason: String,
    },
    /// The shopper's client must act (3-D Secure) before the provider decides; the outcome
    /// arrives later (webhook, or the settle timer asking).
    ActionRequired {
        /// The provider's reference for the charge.
        reference: String,
        /// What the shopper's client needs to act (Stripe's PaymentIntent client secret);
        /// answered to the shopper once, never stored or logged.
        client_secret: String,
    },
    /// Timed out: the charge may or may not have happened; ask again later.
    NoResponse,
}

/// What the provider says about an earlier charge when asked again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeStatus {
    /// The money was taken.
    Captured {
        /// The provider's reference for the charge.
        reference: String,
    },
    /// No money was taken.
    Failed {
        /// The provider's reason.
        reason: String,
    },
    /// The provider does not know (yet): ask again later.
    Unknown,
}

/// The payment provider.
#[async_trait]
pub trait Payments: Send + Sync {
    /// Make the charge for `charge.amount` with `charge.method` without taking money yet;
    /// `charge.key` makes retries of this one request safe. The only call that creates a
    /// charge: the shop records the answered reference before it [`Payments::confirm`]s.
    async fn open(&self, charge: &ChargeRef) -> Result<Opened, StoreError>;
    /// Take the money of a charge opened before (`charge.reference` is set).
    async fn confirm(&self, charge: &ChargeRef) -> Result<ChargeOutcome, StoreError>;
    /// Ask again about `charge` (`check` counts the asks so far): by its reference, or found
    /// by its key when the reference was never recorded.
    async fn status(&self, charge: &ChargeRef, check: u32) -> Result<ChargeStatus, StoreError>;
    /// Refund `amount` of `charge`, captured under the provider's `reference`; `key` is the
    /// refund's own idempotency key, so a retried refund pays back once.
    async fn refund(
        &self,
        key: &str,
        charge: &ChargeRef,
        reference: Option<&str>,
        amount: Money,
    ) -> Result<(), StoreError>;
    /// Cancel a charge that never took money (found as [`Payments::status`] finds it).
    async fn void(&self, charge: &ChargeRef) -> Result<(), StoreError>;
    /// Every charge created after `since` that still holds money (captured minus refunded
    /// above zero), for reconciliation: what the provider holds, whoever made it.
    async fn holding_since(
        &self,
        since: crate::domain::Timestamp,
    ) -> Result<Vec<HeldCharge>, StoreError>;
}

/// A charge the provider holds money for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldCharge {
    /// The charge key it was created under, when it has one of the shop's.
    pub key: Option<String>,
    /// The provider's reference (Stripe: the PaymentIntent id).
    pub reference: String,
    /// Captured minus refunded, minor units.
    pub held: i64,
    /// When the provider created it.
    pub created: crate::domain::Timestamp,
}

/// What the provider reports about a charge on its own (a webhook), as far as the shop
/// acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's event id: each is applied once.
    pub id: String,
    /// What happened.
    pub kind: ProviderEventKind,
    /// The charge key the shop created the charge under, when the charge is the shop's.
    pub charge_key: Option<String>,
    /// The stack that made the charge (its tag), when one did.
    pub stack: Option<String>,
}

/// The kinds of provider event the shop tells apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEventKind {
    /// The charge took the money (`payment_intent.succeeded`).
    Succeeded,
    /// The charge failed or was cancelled (`payment_intent.payment_failed`, `.canceled`).
    Failed,
    /// Money went back (`charge.refunded`).
    Refunded,
    /// Anything else, by the provider's name for it: acknowledged, not acted on.
    Other(String),
}
