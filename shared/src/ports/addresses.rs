//! A shopper's saved default shipping address.

use super::StoreError;
use crate::domain::{Address, UserId};
use async_trait::async_trait;

/// Each shopper's default address (search's delivery dates when no ZIP is given).
#[async_trait]
pub trait Addresses: Send + Sync {
    /// The saved address, if any.
    async fn default_address(&self, user: &UserId) -> Result<Option<Address>, StoreError>;
    /// Save (or replace) it.
    async fn save_default_address(
        &self,
        user: &UserId,
        address: &Address,
    ) -> Result<(), StoreError>;
}
