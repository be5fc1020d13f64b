//! `list-seller-items` Lambda: GET /v1/seller/items, a seller's own products.

aisle::http_lambda!(aisle::api::catalog::list_seller_items);
