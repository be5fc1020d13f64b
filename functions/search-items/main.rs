//! `search-items` Lambda: GET /v1/items, search and browse the catalogue (public).

aisle::http_lambda!(aisle::api::search::search_items);
