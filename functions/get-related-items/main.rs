//! `get-related-items` Lambda: GET /v1/items/{itemId}/related, customers who bought this also bought (public).

aisle::http_lambda!(aisle::api::recommend::get_related_items);
