//! `suggest-items` Lambda: GET /v1/items/suggest?q=, completions as a shopper types (public).

aisle::http_lambda!(aisle::api::recommend::suggest_items);
