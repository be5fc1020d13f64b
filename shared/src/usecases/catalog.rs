//! Listing, editing and browsing products.

use crate::domain::{
    Availability, Item, ItemId, ItemPatch, NewItem, Page, PageRequest, Principal, Role, Timestamp,
};
use crate::ports::{Catalog, Inventory, StoreError};
use crate::retry::Policy;

/// An item together with what a shopper can buy of it now.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemView {
    /// The item as listed.
    #[serde(flatten)]
    pub item: Item,
    /// What a shopper may know of its stock.
    pub availability: Availability,
    /// When it would arrive at the ZIP a search gave (search results with `zip` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::domain::DeliveryPromise>,
}

/// Why a `CreateItem` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum CreateItemError {
    /// Only sellers may list items.
    #[error("only sellers may list items")]
    NotASeller,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A seller lists a new product, listed at `now`. It starts with no stock: stock enters through warehouses.
#[tracing::instrument(name = "create_item", skip_all, fields(user_id = %who.user_id))]
pub async fn create_item(
    catalog: &impl Catalog,
    who: &Principal,
    new: NewItem,
    now: Timestamp,
) -> Result<ItemView, CreateItemError> {
    if !who.has(Role::Seller) {
        return Err(CreateItemError::NotASeller);
    }
    let item = new.into_item(ItemId::generate(), who.user_id.clone(), now);
    catalog.insert(&item).await?;
    tracing::info!(item_id = %item.item_id, seller_id = %item.seller_id, category = item.category.as_str(), "item listed");
    let availability = Availability::new(0, item.low_stock_threshold);
    Ok(ItemView {
        item,
        availability,
        delivery: None,
    })
}

/// Why a `UpdateItem` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum UpdateItemError {
    /// Only sellers may edit items.
    #[error("only sellers may edit items")]
    NotASeller,
    /// Item not found.
    #[error("item not found")]
    NotFound,
    /// This item belongs to another seller.
    #[error("this item belongs to another seller")]
    NotOwner,
    /// The item changed since version `expected` (now `actual`).
    #[error("the item changed since version {expected} (now {actual})")]
    VersionMismatch {
        /// The version the caller sent in `If-Match`.
        expected: u64,
        /// The item's version now.
        actual: u64,
    },
    /// The edit names an image the item does not have.
    #[error("the item has no image {0}")]
    UnknownImage(crate::domain::ImageId),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A seller edits one of their own products. `expected_version` (from `If-Match`) makes the
/// edit conditional; without it, concurrent edits are still never lost: the read-modify-write
/// is retried on a version race. Images the edit leaves out are deleted from the images
/// bucket after the item no longer lists them.
#[tracing::instrument(name = "update_item", skip_all, fields(user_id = %who.user_id, item_id = %id))]
#[allow(clippy::too_many_arguments)]
pub async fn update_item(
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    images: &impl crate::ports::ImageStore,
    who: &Principal,
    id: ItemId,
    patch: &ItemPatch,
    expected_version: Option<u64>,
    now: Timestamp,
) -> Result<ItemView, UpdateItemError> {
    if !who.has(Role::Seller) {
        return Err(UpdateItemError::NotASeller);
    }
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let current = catalog.get(id).await?.ok_or(UpdateItemError::NotFound)?;
        if current.seller_id != who.user_id {
            return Err(UpdateItemError::NotOwner);
        }
        if let Some(expected) = expected_version.filter(|v| *v != current.version) {
            return Err(UpdateItemError::VersionMismatch {
                expected,
                actual: current.version,
            });
        }
        patch
            .images_known(&current)
            .map_err(UpdateItemError::UnknownImage)?;
        let next = patch.apply(&current, now);
        if catalog.replace(&current, &next).await? {
            tracing::info!(item_id = %id, version = next.version, "item updated");
            let gone: Vec<_> = current
                .images
                .iter()
                .filter(|old| !next.images.iter().any(|i| i.image_id == old.image_id))
                .collect();
            for image in gone {
                // The item no longer lists it; its files go too. A failure leaves unlisted
                // files behind (logged), never a listed image without files.
                if let Err(e) = crate::usecases::images::unpublish(images, id, image).await {
                    tracing::warn!(item_id = %id, image_id = %image.image_id, error = %e, "deleted image's files not removed");
                }
            }
            return view(inventory, next).await.map_err(Into::into);
        }
    }
    Err(StoreError::Contention(format!("item {id} kept changing during update")).into())
}

/// Why a `GetItem` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum GetItemError {
    /// Item not found.
    #[error("item not found")]
    NotFound,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One product with its availability.
#[tracing::instrument(name = "get_item", skip_all, fields(item_id = %id))]
pub async fn get_item(
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    id: ItemId,
) -> Result<ItemView, GetItemError> {
    let item = catalog.get(id).await?.ok_or(GetItemError::NotFound)?;
    Ok(view(inventory, item).await?)
}

/// Why a seller's own listing (their items, their notices) was refused or failed; each maps
/// to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum SellerItemsError {
    /// Only sellers have a product list and notices.
    #[error("only sellers have products and notices")]
    NotASeller,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The caller's own products, newest first.
#[tracing::instrument(name = "seller_items", skip_all, fields(user_id = %who.user_id))]
pub async fn seller_items(
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    who: &Principal,
    page: &PageRequest,
) -> Result<Page<ItemView>, SellerItemsError> {
    seller_only(who)?;
    Ok(with_availability(inventory, catalog.by_seller(&who.user_id, page).await?).await?)
}

/// The refusal every seller listing (items, notices) gives a caller who is not a seller.
pub(crate) fn seller_only(who: &Principal) -> Result<(), SellerItemsError> {
    if who.has(Role::Seller) {
        Ok(())
    } else {
        Err(SellerItemsError::NotASeller)
    }
}

async fn view(inventory: &impl Inventory, item: Item) -> Result<ItemView, StoreError> {
    let available = inventory.available(&[item.item_id]).await?;
    let availability = Availability::new(
        available.get(&item.item_id).copied().unwrap_or(0),
        item.low_stock_threshold,
    );
    Ok(ItemView {
        item,
        availability,
        delivery: None,
    })
}

async fn with_availability(
    inventory: &impl Inventory,
    page: Page<Item>,
) -> Result<Page<ItemView>, StoreError> {
    let ids: Vec<ItemId> = page.items.iter().map(|i| i.item_id).collect();
    let available = inventory.available(&ids).await?;
    let items = page
        .items
        .into_iter()
        .map(|item| {
            let availability = Availability::new(
                available.get(&item.item_id).copied().unwrap_or(0),
                item.low_stock_threshold,
            );
            ItemView {
                item,
                availability,
                delivery: None,
            }
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Why a `ConfigureSale` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureSaleError {
    /// Only sellers sell items.
    #[error("only sellers may change how an item is sold")]
    NotASeller,
    /// Item not found.
    #[error("item not found")]
    NotFound,
    /// This item belongs to another seller.
    #[error("this item belongs to another seller")]
    NotOwner,
    /// Shards only grow (a hold gives its units back to the shard it took them from).
    #[error("an item's stock shards can only be raised (it has {0})")]
    ShardsOnlyGrow(u16),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A seller changes how one of their items is sold: its stock shards (for a launch that
/// expects more holds a second than one row takes) and its waiting room.
#[tracing::instrument(name = "configure_sale", skip_all, fields(item_id = %id, user_id = %who.user_id))]
pub async fn configure_sale(
    catalog: &impl Catalog,
    inventory: &impl Inventory,
    who: &Principal,
    id: ItemId,
    settings: crate::domain::SaleSettings,
) -> Result<crate::domain::SaleSettings, ConfigureSaleError> {
    if !who.has(Role::Seller) {
        return Err(ConfigureSaleError::NotASeller);
    }
    let item = catalog.get(id).await?.ok_or(ConfigureSaleError::NotFound)?;
    if item.seller_id != who.user_id {
        return Err(ConfigureSaleError::NotOwner);
    }
    if !inventory.configure_sale(id, settings).await? {
        let current = inventory.sales(&[id]).await?;
        return Err(ConfigureSaleError::ShardsOnlyGrow(
            current.get(&id).map_or(1, |s| s.shards),
        ));
    }
    Ok(settings)
}
