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

/// Which warehouse each machine identity speaks for: bindings an operator makes when
/// onboarding a warehouse (`aisle-local onboard-warehouse`, `infra/scripts/onboard-warehouse.sh`).
#[async_trait]
pub trait WarehouseIdentities: Send + Sync {
    /// The warehouse `identity` is bound to, read consistently; `None` if it is bound to none.
    async fn warehouse_of(
        &self,
        identity: &crate::domain::MachineIdentity,
    ) -> Result<Option<crate::domain::WarehouseId>, StoreError>;
    /// Bind `identity` to `warehouse` (replacing an earlier binding; idempotent).
    async fn bind(
        &self,
        identity: &crate::domain::MachineIdentity,
        warehouse: &crate::domain::WarehouseId,
    ) -> Result<(), StoreError>;
}
