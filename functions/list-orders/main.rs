//! `list-orders` Lambda: GET /v1/orders, the caller's orders, newest first.

aisle::http_lambda!(aisle::api::shopping::list_orders);
