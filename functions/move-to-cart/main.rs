//! `move-to-cart` Lambda: POST /v1/wishlist/items/{itemId}/move-to-cart, wishlist to cart.

aisle::http_lambda!(aisle::api::shopping::move_to_cart);
