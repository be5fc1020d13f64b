//! `put-cart-item` Lambda: PUT /v1/cart/items/{itemId}, set a cart line's quantity.

aisle::http_lambda!(aisle::api::shopping::put_cart_item);
