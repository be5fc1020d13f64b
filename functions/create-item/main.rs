//! `create-item` Lambda: POST /v1/seller/items, a seller lists a product.

aisle::http_lambda!(aisle::api::catalog::create_item);
