//! Carts and wishlists.

use super::StoreError;
use crate::domain::UserId;
use async_trait::async_trait;

/// Carts and wishlists, each one record per user with a version for optimistic concurrency.
#[async_trait]
pub trait Carts: Send + Sync {
    /// The user's cart (empty if none).
    async fn cart(&self, user: &UserId) -> Result<crate::domain::Cart, StoreError>;
    /// Store `cart` (whose version the caller has bumped) if the stored version is still
    /// `cart.version - 1`; `Ok(false)` if another device wrote first.
    async fn save_cart(
        &self,
        user: &UserId,
        cart: &crate::domain::Cart,
    ) -> Result<bool, StoreError>;
    /// The user's wishlist (empty if none).
    async fn wishlist(&self, user: &UserId) -> Result<crate::domain::Wishlist, StoreError>;
    /// As [`Carts::save_cart`], for the wishlist.
    async fn save_wishlist(
        &self,
        user: &UserId,
        wishlist: &crate::domain::Wishlist,
    ) -> Result<bool, StoreError>;
}
