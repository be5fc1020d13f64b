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
