//! `request-return` Lambda: POST /v1/orders/{orderId}/returns, ask to return delivered items.

aisle::http_lambda!(aisle::api::returns::request_return);
