//! `get-order` Lambda: GET /v1/orders/{orderId}, one order with its timeline.

aisle::http_lambda!(aisle::api::shopping::get_order);
