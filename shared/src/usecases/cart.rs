//! The cart and the wishlist.

use crate::retry::Policy;
use serde::Serialize;

use super::Shop;
use crate::domain::{Cart, CartRule, ItemId, Money, Quantity, Timestamp, UserId, Wishlist};
use crate::ports::StoreError;

/// A line as the shopper sees it: current price and any problem with it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    /// The item's id.
    pub item_id: ItemId,
    /// The product name, as listed.
    pub name: Option<String>,
    /// How many units.
    pub quantity: u32,
    /// The price of one unit, if the item is still listed.
    pub unit_price: Option<Money>,
    /// Unit price × quantity, if the item is still listed.
    pub line_total: Option<Money>,
    /// Units on sale now.
    pub available: u32,
    /// `SHORT` (fewer available than wanted) or `UNAVAILABLE` (none, or delisted); checkout
    /// will refuse such lines, but they stay in the cart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<&'static str>,
}

/// The cart as the shopper sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    /// The lines, one per item.
    pub lines: Vec<CartLineView>,
    /// One total per currency among the lines (normally one).
    pub totals: Vec<Money>,
    /// Units in all lines.
    pub item_count: u32,
    /// Optimistic-concurrency version, bumped by every write (`If-Match` compares it).
    pub version: u64,
}

/// Why a `Cart` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// No such item.
    #[error("no such item")]
    ItemNotFound,
    /// Only `available` available.
    #[error("only {available} available")]
    InsufficientStock {
        /// Units on sale now.
        available: u32,
    },
    /// The cart's own rules (line count, quantity) refuse it.
    #[error(transparent)]
    Rule(#[from] CartRule),
    /// The cart changed (now version `current`).
    #[error("the cart changed (now version {current})")]
    VersionMismatch {
        /// The cart's version now.
        current: u64,
    },
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The cart with current prices, availability and totals.
#[tracing::instrument(name = "view_cart", skip_all, fields(user_id = %user))]
pub async fn view(shop: Shop<'_>, user: &UserId) -> Result<CartView, StoreError> {
    let cart = shop.carts.cart(user).await?;
    render(shop, &cart).await
}

async fn render(shop: Shop<'_>, cart: &Cart) -> Result<CartView, StoreError> {
    let ids: Vec<ItemId> = cart.lines.keys().copied().collect();
    let items = shop.catalog.get_many(&ids).await?;
    let available = shop.inventory.available(&ids).await?;
    let mut totals: Vec<Money> = Vec::new();
    let lines = cart
        .lines
        .iter()
        .map(|(id, quantity)| {
            let item = items.get(id);
            let available = available.get(id).copied().unwrap_or(0);
            let quantity = quantity.get();
            let line_total = item.map(|i| Money {
                amount: i.price.amount * i64::from(quantity),
                currency: i.price.currency,
            });
            if let Some(line_total) = line_total {
                match totals
                    .iter_mut()
                    .find(|t| t.currency == line_total.currency)
                {
                    Some(t) => t.amount += line_total.amount,
                    None => totals.push(line_total),
                }
            }
            let problem = match (item, available) {
                (None, _) | (_, 0) => Some("UNAVAILABLE"),
                (_, a) if a < quantity => Some("SHORT"),
                _ => None,
            };
            CartLineView {
                item_id: *id,
                name: item.map(|i| i.name.to_string()),
                quantity,
                unit_price: item.map(|i| i.price),
                line_total,
                available,
                problem,
            }
        })
        .collect();
    Ok(CartView {
        lines,
        totals,
        item_count: cart.lines.values().map(|q| q.get()).sum(),
        version: cart.version,
    })
}

/// Set a line's quantity (`0` removes it). With `if_match`, the write applies only to that
/// cart version (412 otherwise); without, a write lost to another device is re-applied to
/// the fresh cart, so no update is ever lost.
#[tracing::instrument(name = "set_line", skip_all, fields(user_id = %user, item_id = %item))]
pub async fn set_line(
    shop: Shop<'_>,
    user: &UserId,
    item: ItemId,
    quantity: u32,
    if_match: Option<u64>,
) -> Result<CartView, CartError> {
    let quantity = match quantity {
        0 => None,
        q => Some(Quantity::try_from(i64::from(q)).map_err(|_| CartRule::LineTooLarge)?),
    };
    if let Some(q) = quantity {
        if shop.catalog.get(item).await?.is_none() {
            return Err(CartError::ItemNotFound);
        }
        let available = shop
            .inventory
            .available(&[item])
            .await?
            .get(&item)
            .copied()
            .unwrap_or(0);
        if available < q.get() {
            return Err(CartError::InsufficientStock { available });
        }
    }
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let mut cart = shop.carts.cart(user).await?;
        if if_match.is_some_and(|v| v != cart.version) {
            return Err(CartError::VersionMismatch {
                current: cart.version,
            });
        }
        cart.set(item, quantity)?;
        cart.version += 1;
        cart.updated_at = Some(shop.clock.now());
        if shop.carts.save_cart(user, &cart).await? {
            return Ok(render(shop, &cart).await?);
        }
        if if_match.is_some() {
            let current = shop.carts.cart(user).await?.version;
            return Err(CartError::VersionMismatch { current });
        }
    }
    Err(StoreError::Contention("cart kept changing".into()).into())
}

/// A wishlist entry with the item's current price and availability.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WishlistEntry {
    /// The item's id.
    pub item_id: ItemId,
    /// When it was added.
    pub added_at: Timestamp,
    /// The product name, as listed.
    pub name: Option<String>,
    /// The current unit price.
    pub price: Option<Money>,
    /// Units on sale now.
    pub available: u32,
}

/// The wishlist as the shopper sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WishlistView {
    /// The entries.
    pub items: Vec<WishlistEntry>,
    /// Optimistic-concurrency version, bumped by every write (`If-Match` compares it).
    pub version: u64,
}

/// Why a `Wishlist` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum WishlistError {
    /// No such item.
    #[error("no such item")]
    ItemNotFound,
    #[error(
        "a wishlist holds at most {} items",
        crate::domain::cart::MAX_WISHLIST_ITEMS
    )]
    /// The wishlist is full.
    Full,
    /// That item is not on the wishlist.
    #[error("that item is not on the wishlist")]
    NotListed,
    /// A cart rule refused the move to the cart.
    #[error(transparent)]
    Cart(#[from] CartError),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The user's wishlist with current prices and availability.
#[tracing::instrument(name = "view_wishlist", skip_all, fields(user_id = %user))]
pub async fn wishlist(shop: Shop<'_>, user: &UserId) -> Result<WishlistView, StoreError> {
    let list = shop.carts.wishlist(user).await?;
    render_wishlist(shop, &list).await
}

async fn render_wishlist(shop: Shop<'_>, list: &Wishlist) -> Result<WishlistView, StoreError> {
    let ids: Vec<ItemId> = list.items.keys().copied().collect();
    let items = shop.catalog.get_many(&ids).await?;
    let available = shop.inventory.available(&ids).await?;
    let entries = list
        .items
        .iter()
        .map(|(id, added_at)| WishlistEntry {
            item_id: *id,
            added_at: *added_at,
            name: items.get(id).map(|i| i.name.to_string()),
            price: items.get(id).map(|i| i.price),
            available: available.get(id).copied().unwrap_or(0),
        })
        .collect();
    Ok(WishlistView {
        items: entries,
        version: list.version,
    })
}

/// Add (`true`) or remove (`false`) an item; both are idempotent.
#[tracing::instrument(name = "set_wished", skip_all, fields(user_id = %user, item_id = %item))]
pub async fn set_wished(
    shop: Shop<'_>,
    user: &UserId,
    item: ItemId,
    wished: bool,
) -> Result<WishlistView, WishlistError> {
    if wished && shop.catalog.get(item).await?.is_none() {
        return Err(WishlistError::ItemNotFound);
    }
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let mut list = shop.carts.wishlist(user).await?;
        let changed = if wished {
            if !list.items.contains_key(&item)
                && list.items.len() >= crate::domain::cart::MAX_WISHLIST_ITEMS
            {
                return Err(WishlistError::Full);
            }
            list.items.insert(item, shop.clock.now()).is_none()
        } else {
            list.items.remove(&item).is_some()
        };
        if !changed {
            return Ok(render_wishlist(shop, &list).await?);
        }
        list.version += 1;
        if shop.carts.save_wishlist(user, &list).await? {
            return Ok(render_wishlist(shop, &list).await?);
        }
    }
    Err(StoreError::Contention("wishlist kept changing".into()).into())
}

/// Move a wished item to the cart (one unit, or keep the cart's quantity if already there),
/// then take it off the wishlist. Returns the cart.
#[tracing::instrument(name = "move_to_cart", skip_all, fields(user_id = %user))]
pub async fn move_to_cart(
    shop: Shop<'_>,
    user: &UserId,
    item: ItemId,
) -> Result<CartView, WishlistError> {
    if !shop.carts.wishlist(user).await?.items.contains_key(&item) {
        return Err(WishlistError::NotListed);
    }
    let in_cart = shop
        .carts
        .cart(user)
        .await?
        .lines
        .get(&item)
        .map(|q| q.get())
        .unwrap_or(0);
    let cart = set_line(shop, user, item, in_cart.max(1), None).await?;
    set_wished(shop, user, item, false).await?;
    Ok(cart)
}

/// Keep `address` as `user`'s default shipping address (the last one saved wins); search
/// uses its ZIP for delivery dates and checkout offers it.
#[tracing::instrument(name = "save_default_address", skip_all, fields(user_id = %user))]
pub async fn save_default_address(
    addresses: &dyn crate::ports::Addresses,
    user: &UserId,
    address: &crate::domain::Address,
) -> Result<(), StoreError> {
    addresses.save_default_address(user, address).await
}
