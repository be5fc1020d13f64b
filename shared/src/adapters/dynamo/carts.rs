//! [`Carts`] on the shoppers table: `(userId, "CART")` and `(userId, "WISHLIST")`, each one
//! record written whole under a version condition, so two devices never lose an update.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys::{user_key, CART, WISHLIST};
use super::{classify, conditional_put, decode, encode, n};
use crate::domain::{Cart, UserId, Wishlist};
use crate::ports::{Carts, StoreError};

/// The shoppers table.
#[derive(Debug, Clone)]
pub struct DynamoCarts {
    client: Client,
    table: String,
}

impl DynamoCarts {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn load<T: DeserializeOwned + Default>(
        &self,
        user: &UserId,
        sk: &str,
    ) -> Result<T, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(user_key(user, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item.map(decode).transpose()?.unwrap_or_default())
    }

    /// Write `value` at `version` if the stored one is still `version - 1` (absent for 1).
    async fn store<T: Serialize>(
        &self,
        user: &UserId,
        sk: &str,
        value: &T,
        version: u64,
    ) -> Result<bool, StoreError> {
        let mut record = encode(value)?;
        record.extend(user_key(user, sk));
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record));
        put = if version <= 1 {
            put.condition_expression("attribute_not_exists(userId)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", n(version - 1))
        };
        conditional_put(put.send().await)
    }
}

#[async_trait]
impl Carts for DynamoCarts {
    async fn cart(&self, user: &UserId) -> Result<Cart, StoreError> {
        self.load(user, CART).await
    }

    async fn save_cart(&self, user: &UserId, cart: &Cart) -> Result<bool, StoreError> {
        self.store(user, CART, cart, cart.version).await
    }

    async fn wishlist(&self, user: &UserId) -> Result<Wishlist, StoreError> {
        self.load(user, WISHLIST).await
    }

    async fn save_wishlist(&self, user: &UserId, wishlist: &Wishlist) -> Result<bool, StoreError> {
        self.store(user, WISHLIST, wishlist, wishlist.version).await
    }
}
