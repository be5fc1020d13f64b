//! Warehouse sites.

use super::StoreError;
use async_trait::async_trait;

/// Warehouse sites.
#[async_trait]
pub trait Warehouses: Send + Sync {
    /// Create or replace a site (operators and seeding; idempotent).
    async fn put(&self, warehouse: &crate::domain::Warehouse) -> Result<(), StoreError>;
    /// Read one by id, consistently; `None` if there is none.
    async fn get(
        &self,
        id: &crate::domain::WarehouseId,
    ) -> Result<Option<crate::domain::Warehouse>, StoreError>;
    /// Every site (dozens, not thousands: the assignment worker reads them once per instance).
    async fn list(&self) -> Result<Vec<crate::domain::Warehouse>, StoreError>;
}
