//! Who is calling: the authenticated user and the roles their token grants.

use super::{UserId, WarehouseId};

/// The OAuth 2.0 scope a warehouse system's app client is allowed (resource server `aisle`,
/// scope `warehouse`, declared in template.yaml): its client-credentials token carries it.
pub const WAREHOUSE_SCOPE: &str = "aisle/warehouse";

/// A role: sellers by Cognito group membership, warehouse systems by their token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May list products and edit their own.
    Seller,
    /// A warehouse system; acts for exactly one warehouse, the one its identity is bound to.
    Warehouse,
}

impl Role {
    /// The Cognito group that grants this role to a person (sellers), or what the role is
    /// called in messages (warehouses, which no group grants).
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
    /// For warehouse principals: the one warehouse their identity is bound to (looked up by
    /// the route, never taken from the token or the request).
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

/// How a warehouse system proves who it is. Warehouses are systems, not people: over HTTP a
/// Cognito app client of the OAuth 2.0 client-credentials grant, on the updates queue an IAM
/// principal. Which warehouse an identity speaks for is data an operator binds when onboarding
/// the warehouse (never what the sender writes in its message).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MachineIdentity {
    /// A Cognito app client: the `client_id` of its client-credentials access token.
    Client(String),
    /// An IAM principal's unique id: the role id (`AROA…`) of an assumed role, or the user id
    /// (`AIDA…`) of an IAM user. Unique ids are never reused, so a role deleted and made
    /// again under the same name is not the warehouse's identity until bound anew.
    IamPrincipal(String),
}

impl MachineIdentity {
    /// The sender SQS names in a message's `SenderId` attribute: the user id of an IAM user,
    /// or `<role id>:<session name>` for an assumed role; the session name is the caller's
    /// choice, so only the role id identifies it.
    pub fn of_sender(sender_id: &str) -> Option<Self> {
        let principal = sender_id.split(':').next().unwrap_or_default();
        let valid = (16..=128).contains(&principal.len())
            && principal.chars().all(|c| c.is_ascii_alphanumeric());
        valid.then(|| Self::IamPrincipal(principal.to_owned()))
    }

    /// The key its binding is stored under.
    pub fn key(&self) -> String {
        match self {
            Self::Client(id) => format!("client#{id}"),
            Self::IamPrincipal(id) => format!("iam#{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_sender_is_known_by_its_role_id_whatever_the_session_name() {
        let a = MachineIdentity::of_sender("AROAEXAMPLEROLEID1234:i-0abc").unwrap();
        let b = MachineIdentity::of_sender("AROAEXAMPLEROLEID1234:anything-else").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.key(), "iam#AROAEXAMPLEROLEID1234");
        assert_eq!(
            MachineIdentity::of_sender("AIDAEXAMPLEUSERID5678")
                .unwrap()
                .key(),
            "iam#AIDAEXAMPLEUSERID5678"
        );
        assert!(MachineIdentity::of_sender("").is_none());
        assert!(MachineIdentity::of_sender("short:x").is_none());
        assert!(MachineIdentity::of_sender("AROA EXAMPLE ROLE ID:x").is_none());
    }
}
