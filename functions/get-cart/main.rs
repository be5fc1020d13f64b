//! `get-cart` Lambda: GET /v1/cart, the caller's cart with prices and problems.

aisle::http_lambda!(aisle::api::shopping::get_cart);
