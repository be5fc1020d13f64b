//! [`Warehouses`] on the warehouses table, one record per site keyed by `warehouseId`.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::{classify, decode, encode, s};
use crate::domain::{Warehouse, WarehouseId};
use crate::ports::{StoreError, Warehouses};

/// The warehouses table.
#[derive(Debug, Clone)]
pub struct DynamoWarehouses {
    client: Client,
    table: String,
}

impl DynamoWarehouses {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl Warehouses for DynamoWarehouses {
    async fn put(&self, warehouse: &Warehouse) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(warehouse)?))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    async fn get(&self, id: &WarehouseId) -> Result<Option<Warehouse>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("warehouseId", s(id.as_str()))
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.map(decode).transpose()
    }

    async fn list(&self) -> Result<Vec<Warehouse>, StoreError> {
        let records = super::every_scanned(self.client.scan().table_name(&self.table)).await?;
        let mut sites = records
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<Warehouse>, _>>()?;
        sites.sort_by(|a, b| a.warehouse_id.cmp(&b.warehouse_id));
        Ok(sites)
    }
}
