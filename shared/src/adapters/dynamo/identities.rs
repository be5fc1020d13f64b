//! [`WarehouseIdentities`] on the warehouse identities table: one record per machine identity
//! (`identity` = `client#<client id>` or `iam#<unique id>`), naming its `warehouseId`.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::{classify, s};
use crate::domain::{MachineIdentity, WarehouseId};
use crate::ports::{StoreError, WarehouseIdentities};

/// The warehouse identities table.
#[derive(Debug, Clone)]
pub struct DynamoIdentities {
    client: Client,
    table: String,
}

impl DynamoIdentities {
    /// An adapter over `client` on the named table.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl WarehouseIdentities for DynamoIdentities {
    async fn warehouse_of(
        &self,
        identity: &MachineIdentity,
    ) -> Result<Option<WarehouseId>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("identity", s(&identity.key()))
            // A binding just made or revoked counts at once.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        match item.get("warehouseId") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(raw)) => {
                WarehouseId::try_from(raw.as_str())
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("identity {}: {e}", identity.key())))
            }
            _ => Err(StoreError::Corrupt(format!(
                "identity {} names no warehouse",
                identity.key()
            ))),
        }
    }

    async fn bind(
        &self,
        identity: &MachineIdentity,
        warehouse: &WarehouseId,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("identity", s(&identity.key()))
            .item("warehouseId", s(warehouse.as_str()))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }
}
