//! `get-item` Lambda: GET /v1/items/{itemId}, one product with its availability.

aisle::http_lambda!(aisle::api::catalog::get_item);
