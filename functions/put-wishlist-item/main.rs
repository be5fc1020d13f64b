//! `put-wishlist-item` Lambda: PUT /v1/wishlist/items/{itemId}, wish for an item.

aisle::http_lambda!(aisle::api::shopping::put_wishlist_item);
