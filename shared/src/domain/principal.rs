//! Who is calling: the authenticated user and the roles their token grants.

use super::{UserId, WarehouseId};

/// A role granted by identity-provider group membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May list products and edit their own.
    Seller,
    /// A warehouse system; acts for exactly one warehouse.
    Warehouse,
}

impl Role {
    /// The Cognito group that grants this role.
    pub fn group(self) -> &'static str {
        match self {
            Self::Seller => "sellers",
            Self::Warehouse => "warehouses",
        }
    }
}

/// The caller of a request, taken from the verified JWT claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The shopper's user id (Cognito `sub`).
    pub user_id: UserId,
    /// The roles the caller's groups grant.
    pub roles: Vec<Role>,
    /// For warehouse principals: the one warehouse they act for (`custom:warehouseId`).
    pub warehouse_id: Option<WarehouseId>,
}

impl Principal {
    /// Whether the caller's groups grant `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether this principal may move stock in `warehouse`.
    pub fn acts_for(&self, warehouse: &WarehouseId) -> bool {
        self.has(Role::Warehouse) && self.warehouse_id.as_ref() == Some(warehouse)
    }
}
