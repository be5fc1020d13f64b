//! Seller notices, kept per seller.

use super::StoreError;
use crate::domain::{Page, PageRequest, SellerNotice, UserId};
use async_trait::async_trait;

/// Each seller's notices.
#[async_trait]
pub trait SellerNotices: Send + Sync {
    /// Keep a notice; `false` if it was kept before (a redelivery).
    async fn keep(&self, notice: &SellerNotice) -> Result<bool, StoreError>;
    /// A seller's notices, newest first.
    async fn list(
        &self,
        seller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<SellerNotice>, StoreError>;
}

/// How a claim on one message of the mail outbox went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailClaim {
    /// This caller may send it now: the `attempt`th try (1-based).
    Mine {
        /// Which try this is.
        attempt: u32,
    },
    /// Another caller holds it (its lease has not run out): try again later.
    Busy,
    /// Settled before (sent, parked or skipped): nothing to do.
    Settled,
}

/// How one message of the outbox ended, or that it waits for another try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// Accepted by the mail service, with its message id.
    Sent(String),
    /// Given up, with the reason (an operator reads it).
    Parked(String),
    /// Not sent on purpose (no verified address, suppressed), with the reason.
    Skipped(String),
    /// Failed for now: released for the next try, with the error.
    Retry(String),
}

/// Shoppers' inboxes, notification settings and the mail outbox, per shopper.
#[async_trait]
pub trait ShopperNotices: Send + Sync {
    /// Keep a notice; `false` if it was kept before (a redelivery).
    async fn keep(&self, user: &UserId, notice: &crate::domain::Notice)
        -> Result<bool, StoreError>;
    /// A shopper's notices, newest first.
    async fn list(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<crate::domain::Notice>, StoreError>;
    /// A shopper's settings (the defaults if they never set any).
    async fn settings(
        &self,
        user: &UserId,
    ) -> Result<crate::domain::NotificationSettings, StoreError>;
    /// Change the preferences a shopper may set (not the address, not the read mark).
    async fn set_preferences(
        &self,
        user: &UserId,
        back_in_stock_mail: bool,
    ) -> Result<(), StoreError>;
    /// Record the verified address mail goes to (only written when it changed).
    async fn remember_email(
        &self,
        user: &UserId,
        email: &crate::domain::EmailAddress,
    ) -> Result<(), StoreError>;
    /// Mark the inbox read up to `at`.
    async fn mark_read(
        &self,
        user: &UserId,
        at: crate::domain::Timestamp,
    ) -> Result<(), StoreError>;
    /// Claim message `key` of the shopper's outbox for `lease_ms` from `now`: the first
    /// caller, or a caller after the holder's lease ran out (it crashed or timed out), gets
    /// it; a caller while it is held or after it settled does not.
    async fn claim_mail(
        &self,
        user: &UserId,
        key: &str,
        now: crate::domain::Timestamp,
        lease_ms: i64,
    ) -> Result<MailClaim, StoreError>;
    /// Record how message `key` ended (or release it for another try).
    async fn finish_mail(
        &self,
        user: &UserId,
        key: &str,
        outcome: &MailOutcome,
        now: crate::domain::Timestamp,
    ) -> Result<(), StoreError>;
}
