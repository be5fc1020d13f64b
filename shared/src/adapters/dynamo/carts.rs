//! [`Carts`] on the shoppers table: `(userId, "CART")` and `(userId, "WISHLIST")`, each one
//! record written whole under a version condition, so two devices never lose an update; and
//! [`Addresses`]: `(userId, "ADDRESS")`, the last one saved wins.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys::{user_key, CART, DEFAULT_ADDRESS, WISHLIST};
use super::{classify, conditional_put, decode, encode, n};
use crate::domain::{Address, Cart, UserId, Wishlist};
use crate::ports::{Addresses, Carts, StoreError};

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

/// The stored form of a default address (nested, so the record's keys stay apart from it).
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedAddress {
    address: Address,
}

#[async_trait]
impl Addresses for DynamoCarts {
    async fn default_address(&self, user: &UserId) -> Result<Option<Address>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(user_key(user, DEFAULT_ADDRESS)))
            .projection_expression("address")
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out
            .item
            .map(decode::<SavedAddress>)
            .transpose()?
            .map(|s| s.address))
    }

    async fn save_default_address(
        &self,
        user: &UserId,
        address: &Address,
    ) -> Result<(), StoreError> {
        let mut record = encode(&SavedAddress {
            address: address.clone(),
        })?;
        record.extend(user_key(user, DEFAULT_ADDRESS));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }
}
