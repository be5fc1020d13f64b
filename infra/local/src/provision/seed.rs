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

/// The seller the demo products belong to: sign in to the storefront as seller
/// `demo-seller` to edit them.
pub const DEMO_SELLER: &str = "dev-demo-seller";

/// How many demo products `make seed` lists.
pub const DEMO_PRODUCTS: usize = 36;

/// List [`DEMO_PRODUCTS`] products of [`DEMO_SELLER`] (the synthetic catalogue's first ones),
/// each with a picture drawn for it ([`crate::pictures`]) published as the image worker
/// publishes an upload's renditions, and stock at the warehouse sites the catalogue gives it.
/// Idempotent: a product listed before is left as it is. Returns how many were listed now.
pub async fn seed_products(app: &aisle::App) -> Result<usize> {
    use aisle::domain::{ImageId, Quantity, StockReceipt, UploadKey};
    use aisle::ports::{Catalog, Inventory};
    use aisle::usecases::images::render;
    let mut listed = 0;
    for doc in crate::products::generate(DEMO_PRODUCTS, 7) {
        let mut item = doc.item;
        if app.catalog.get(item.item_id).await?.is_some() {
            continue;
        }
        item.seller_id = DEMO_SELLER.try_into().map_err(anyhow::Error::msg)?;
        let key = UploadKey {
            item_id: item.item_id,
            image_id: ImageId::derived_from(&item.item_id.to_string()),
        };
        let picture = crate::pictures::jpeg(&crate::pictures::product(
            item.category.as_str(),
            item.name.as_str(),
            1200,
            900,
        ));
        let rendered = render(&picture).map_err(|e| anyhow::anyhow!("{e}"))?;
        let image = aisle::usecases::images::process::publish(
            &app.images,
            &app.config.images.base_url,
            key,
            &rendered,
        )
        .await?;
        item.images = vec![image];
        app.catalog.insert(&item).await?;
        for site in &doc.sites {
            let receipt = StockReceipt {
                warehouse_id: site.clone(),
                item_id: item.item_id,
                quantity: Quantity::try_from(20).map_err(anyhow::Error::msg)?,
            };
            let once = format!("seed-{}-{site}", item.item_id);
            app.inventory.receive(&receipt, Some(&once)).await?;
        }
        listed += 1;
    }
    Ok(listed)
}
