//! Checkout holds and the payment attempts recorded on them.

use super::orders::Transition;
use super::requests::Receipt;
use super::StoreError;
use crate::domain::{ItemId, UserId};
use async_trait::async_trait;

/// Why a hold was not taken.
#[derive(Debug, thiserror::Error)]
pub enum HoldRefused {
    /// These items had fewer units than the checkout needs.
    #[error("out of stock")]
    Short(Vec<ItemId>),
    /// Another checkout for the same user was started at the same moment, or the previous
    /// one changed since it was read.
    #[error("another checkout was started concurrently")]
    Concurrent,
    /// This idempotency key already began that checkout.
    #[error("replay")]
    Replay(crate::domain::CheckoutId),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The checkout a new one replaces, and why its stock goes back.
#[derive(Debug, Clone, Copy)]
pub struct Replacing<'a> {
    /// The user's latest checkout pointer as read (the hold is conditioned on it).
    pub pointer: crate::domain::CheckoutId,
    /// The previous checkout if it still holds stock: released in the same transaction.
    pub held: Option<(&'a crate::domain::Checkout, crate::domain::ReleaseReason)>,
}

/// The outcome of claiming a checkout for a payment attempt.
#[derive(Debug)]
pub enum PaymentClaim {
    /// The attempt is recorded on the hold (`paying`): the caller may call the provider.
    Claimed(crate::domain::Checkout),
    /// Not claimable: the record as it is (absent, someone else's, over, or already paying).
    Refused(Option<crate::domain::Checkout>),
}

/// Checkout holds. Every state change of a hold is conditioned on it still being `HELD`
/// (and on the payment attempt the caller saw) and moves stock in the same transaction, so
/// each hold is consumed or released once.
#[async_trait]
pub trait Checkouts: Send + Sync {
    /// Take stock for every line, store the checkout and make it the user's active one,
    /// releasing the checkout it replaces in the same transaction; all or nothing. The
    /// cart it was made from must still be at `cart_version` (an order that emptied it
    /// meanwhile makes this `Concurrent`).
    async fn hold(
        &self,
        checkout: &crate::domain::Checkout,
        replacing: Option<Replacing<'_>>,
        cart_version: u64,
        idempotency_key: &str,
    ) -> Result<(), HoldRefused>;
    /// Read one by id, consistently; `None` if there is none.
    async fn get(
        &self,
        id: crate::domain::CheckoutId,
    ) -> Result<Option<crate::domain::Checkout>, StoreError>;
    /// The checkout an earlier begin with this idempotency key created, if any (a record
    /// past its own expiry counts as none).
    async fn begun_with(
        &self,
        user: &UserId,
        idempotency_key: &str,
    ) -> Result<Option<crate::domain::CheckoutId>, StoreError>;
    /// The checkout the user most recently began, if any (it may be over).
    async fn latest(&self, user: &UserId) -> Result<Option<crate::domain::CheckoutId>, StoreError>;
    /// Record payment attempt `attempt` on `id` if it is the user's, held, not expired at
    /// `now` and not paying already; one conditional write answering the record either way.
    async fn claim_payment(
        &self,
        id: crate::domain::CheckoutId,
        user: &UserId,
        attempt: &crate::domain::PaymentAttempt,
        now: crate::domain::Timestamp,
    ) -> Result<PaymentClaim, StoreError>;
    /// Record the provider's id for the charge of the attempt in flight on `checkout`
    /// (before it is confirmed); `Ok(false)` if that attempt is no longer in flight.
    async fn record_reference(
        &self,
        checkout: &crate::domain::Checkout,
        reference: &str,
    ) -> Result<bool, StoreError>;
    /// Put the held stock back on sale, once: `Ok(true)` only for the call that did it.
    /// Conditioned on the payment attempt `checkout` shows (none, or that one); `now` is
    /// when it was released.
    async fn release(
        &self,
        checkout: &crate::domain::Checkout,
        reason: crate::domain::ReleaseReason,
        now: crate::domain::Timestamp,
    ) -> Result<bool, StoreError>;
    /// The TTL path: the hold record is already deleted; release from its last image, once.
    async fn release_deleted(&self, checkout: &crate::domain::Checkout)
        -> Result<bool, StoreError>;
    /// The attempt in flight was declined: count it and end it (the hold stays), recording
    /// the request's answer.
    async fn record_decline(
        &self,
        checkout: &crate::domain::Checkout,
        reason: &str,
        receipt: Option<&Receipt>,
    ) -> Result<bool, StoreError>;
    /// Turn the hold into `order` (new, or replacing a pending one at `pending_version`):
    /// hold consumed, order stored, cart emptied, answer recorded. `Ok(false)` if the hold
    /// was no longer held by this attempt.
    async fn complete(
        &self,
        checkout: &crate::domain::Checkout,
        order: &crate::domain::Order,
        pending_version: Option<u64>,
        receipt: Option<&Receipt>,
    ) -> Result<bool, StoreError>;
    /// Payment outcome unknown: store `order` (pending) and link it to the still-held hold.
    async fn park(
        &self,
        checkout: &crate::domain::Checkout,
        order: &crate::domain::Order,
        receipt: Option<&Receipt>,
    ) -> Result<bool, StoreError>;
    /// A payment confirmed after its hold *expired*: replace the pending `current` order by
    /// `placed`, taking its units again (only if all are there) and emptying the cart.
    async fn place_late(
        &self,
        current: &crate::domain::Order,
        placed: &crate::domain::Order,
    ) -> Result<Transition, StoreError>;
    /// Held checkouts whose time is up, oldest first.
    async fn due(
        &self,
        now: crate::domain::Timestamp,
        limit: u32,
    ) -> Result<Vec<crate::domain::CheckoutId>, StoreError>;
}
