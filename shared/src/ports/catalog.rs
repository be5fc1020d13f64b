//! The product catalog port.

use super::StoreError;
use crate::domain::{Item, ItemId, Page, PageRequest, UserId};
use async_trait::async_trait;
use std::collections::HashMap;

/// The product catalog.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Store a new item; ids are fresh UUIDs, so this never overwrites.
    async fn insert(&self, item: &Item) -> Result<(), StoreError>;
    /// Replace `current` with `next` only if the stored version is still `current.version`.
    /// `Ok(false)` means someone else changed it first.
    async fn replace(&self, current: &Item, next: &Item) -> Result<bool, StoreError>;
    /// Read one by id, consistently; `None` if there is none.
    async fn get(&self, id: ItemId) -> Result<Option<Item>, StoreError>;
    /// Several items in one round trip; unknown ids are absent from the answer.
    async fn get_many(&self, ids: &[ItemId]) -> Result<HashMap<ItemId, Item>, StoreError>;
    /// Every item, in no particular order, a page at a time (the search index rebuild).
    async fn scan(&self, page: &PageRequest) -> Result<Page<Item>, StoreError>;
    /// One seller's items, newest first.
    async fn by_seller(
        &self,
        seller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Item>, StoreError>;
}
