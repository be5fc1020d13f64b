//! `update-item` Lambda: PATCH /v1/seller/items/{itemId}, a seller edits their own product.

aisle::http_lambda!(aisle::api::catalog::update_item);
