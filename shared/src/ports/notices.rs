//! Seller notices, shoppers' inboxes and mail outbox, restock alerts and the mail
//! suppression list.

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

/// How asking for a restock alert went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Recorded now.
    New,
    /// The shopper had asked before (kept as it was).
    Already,
    /// The shopper has [`crate::domain::notification::MAX_RESTOCK_ALERTS`] already.
    TooMany,
}

/// How ending one shopper's restock alert with its notice went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertEnd {
    /// The alert ended and the notice was kept, in one transaction.
    Ended,
    /// The notice was kept before (a redelivery): the alert ended then.
    ToldBefore,
    /// The shopper had no alert on the item (never asked, or cancelled it).
    NotWaiting,
}

/// Shoppers' "notify me" on sold-out items.
#[async_trait]
pub trait RestockAlerts: Send + Sync {
    /// Start the shopper's alert on `item` (at most `limit` per shopper).
    async fn watch(
        &self,
        user: &UserId,
        item: crate::domain::ItemId,
        now: crate::domain::Timestamp,
        limit: usize,
    ) -> Result<Watched, StoreError>;
    /// Cancel it; `false` if there was none.
    async fn unwatch(&self, user: &UserId, item: crate::domain::ItemId)
        -> Result<bool, StoreError>;
    /// The shopper's alerts, newest first.
    async fn watching(&self, user: &UserId)
        -> Result<Vec<crate::domain::RestockAlert>, StoreError>;
    /// The shoppers waiting on `item`, a page at a time (`after`: the cursor of the last
    /// page).
    async fn watchers(
        &self,
        item: crate::domain::ItemId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserId>, StoreError>;
    /// End the shopper's alert on `item` and keep `notice` in their inbox, both or neither.
    async fn end_with_notice(
        &self,
        user: &UserId,
        item: crate::domain::ItemId,
        notice: &crate::domain::Notice,
    ) -> Result<AlertEnd, StoreError>;
}

/// Addresses mail must not go to: a permanent bounce or a complaint put them here.
#[async_trait]
pub trait Suppressions: Send + Sync {
    /// Why `address` is suppressed, if it is.
    async fn suppressed(
        &self,
        address: &crate::domain::EmailAddress,
    ) -> Result<Option<String>, StoreError>;
    /// Suppress `address` with `reason` (the first reason is kept); `false` if it was
    /// suppressed before.
    async fn suppress(
        &self,
        address: &crate::domain::EmailAddress,
        reason: &str,
        at: crate::domain::Timestamp,
    ) -> Result<bool, StoreError>;
}

/// The one-click unsubscribe of a shopper's optional mail: a token per shopper.
#[async_trait]
pub trait Unsubscribes: Send + Sync {
    /// The shopper's token (made on first use, the same afterwards).
    async fn token(&self, user: &UserId) -> Result<String, StoreError>;
    /// Turn off optional mail for the token's shopper; who it was, `None` for an unknown
    /// token.
    async fn unsubscribe(&self, token: &str) -> Result<Option<UserId>, StoreError>;
}
