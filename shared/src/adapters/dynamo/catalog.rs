//! [`Catalog`] on the items table: one record per item keyed by `itemId`, with a `bySeller`
//! index (newest first on `createdAt`). Search and browsing go through the search index.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use std::collections::HashMap;

use super::keys::item_key;
use super::{batch_get, classify, conditional_put, decode, encode, n, newest_first, s};
use crate::domain::{Item, ItemId, Page, PageRequest, UserId};
use crate::ports::{Catalog, StoreError};

/// The items table.
#[derive(Debug, Clone)]
pub struct DynamoCatalog {
    client: Client,
    table: String,
}

impl DynamoCatalog {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl Catalog for DynamoCatalog {
    async fn insert(&self, item: &Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(item)?))
            .condition_expression("attribute_not_exists(itemId)")
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    async fn replace(&self, current: &Item, next: &Item) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(next)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(current.version))
            .send()
            .await;
        conditional_put(result)
    }

    async fn get(&self, id: ItemId) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("itemId", s(id.to_string()))
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.map(decode).transpose()
    }

    async fn get_many(&self, ids: &[ItemId]) -> Result<HashMap<ItemId, Item>, StoreError> {
        let mut unique: Vec<ItemId> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let keys = unique.iter().map(|id| item_key(*id)).collect();
        let rows = batch_get(&self.client, &self.table, keys, false).await?;
        rows.into_iter()
            .map(|r| decode::<Item>(r).map(|i| (i.item_id, i)))
            .collect()
    }

    async fn scan(&self, page: &PageRequest) -> Result<Page<Item>, StoreError> {
        // The cursor is the last item id: the table's whole key.
        let start = match &page.cursor {
            Some(c) => {
                let id = ItemId::try_from(c.0.as_str()).map_err(|_| StoreError::BadCursor)?;
                Some(item_key(id))
            }
            None => None,
        };
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(page.limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Scan", e))?;
        let next_cursor = out
            .last_evaluated_key()
            .and_then(|k| k.get("itemId"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn by_seller(
        &self,
        seller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Item>, StoreError> {
        let partition = ("sellerId", seller.as_str());
        newest_first(
            &self.client,
            &self.table,
            "bySeller",
            "itemId",
            partition,
            None,
            page,
        )
        .await
    }
}
