//! `delete-cart-item` Lambda: DELETE /v1/cart/items/{itemId}, remove a cart line.

aisle::http_lambda!(aisle::api::shopping::delete_cart_item);
