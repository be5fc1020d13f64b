//! `delete-wishlist-item` Lambda: DELETE /v1/wishlist/items/{itemId}, stop wishing.

aisle::http_lambda!(aisle::api::shopping::delete_wishlist_item);
