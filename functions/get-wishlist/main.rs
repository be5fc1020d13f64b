//! `get-wishlist` Lambda: GET /v1/wishlist, the caller's wishlist.

aisle::http_lambda!(aisle::api::shopping::get_wishlist);
