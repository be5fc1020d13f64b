//! The payment provider.

use super::StoreError;
use async_trait::async_trait;

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
    /// Charge `amount` with the single-use `method` token. `key` makes retries safe.
    async fn charge(
        &self,
        key: &str,
        method: &str,
        amount: crate::domain::Money,
    ) -> Result<ChargeOutcome, StoreError>;
    /// Ask again about the charge made under `key` (`check` counts the asks so far).
    async fn status(&self, key: &str, method: &str, check: u32)
        -> Result<ChargeStatus, StoreError>;
    /// Refund `amount` of the charge made under `charge_key`; `key` is the refund's own
    /// idempotency key, so a retried refund pays back once.
    async fn refund(
        &self,
        key: &str,
        charge_key: &str,
        amount: crate::domain::Money,
    ) -> Result<(), StoreError>;
    /// Cancel an authorization that never settled.
    async fn void(&self, key: &str) -> Result<(), StoreError>;
}
