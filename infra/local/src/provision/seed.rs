//! Demo data: the warehouse sites shipped in `infra/data/warehouses.json`.

use aisle::domain::Warehouse;
use aisle::ports::Warehouses;
use anyhow::{Context, Result};

/// The shipped warehouse sites.
pub fn warehouse_sites() -> Result<Vec<Warehouse>> {
    let path = crate::template::repo_root().join("infra/data/warehouses.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).context("warehouses.json")
}

/// Put every shipped site (idempotent: a put replaces the same record).
pub async fn seed_warehouses(warehouses: &impl Warehouses) -> Result<usize> {
    let sites = warehouse_sites()?;
    for site in &sites {
        warehouses.put(site).await?;
    }
    Ok(sites.len())
}

/// Onboard `warehouse`'s system locally, as `infra/scripts/onboard-warehouse.sh` does in AWS:
/// bind its app client (client-credentials grant) and its IAM role to it. Returns the client
/// id and the role id. Idempotent; a warehouse that is not a seeded site is refused.
pub async fn onboard_warehouse(
    app: &aisle::App,
    warehouse: &str,
) -> anyhow::Result<(String, String)> {
    use aisle::domain::{MachineIdentity, WarehouseId};
    use aisle::ports::{WarehouseIdentities, Warehouses};
    let id = WarehouseId::try_from(warehouse).map_err(anyhow::Error::msg)?;
    if app.warehouses.get(&id).await?.is_none() {
        anyhow::bail!("no warehouse site {warehouse} (seed the sites first: make seed)");
    }
    let client = crate::token::warehouse_client(warehouse);
    let role = crate::iam::warehouse_role_id(warehouse);
    app.identities
        .bind(&MachineIdentity::Client(client.clone()), &id)
        .await?;
    app.identities
        .bind(&MachineIdentity::IamPrincipal(role.clone()), &id)
        .await?;
    Ok((client, role))
}
