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
