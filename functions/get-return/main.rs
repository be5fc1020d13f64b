//! `get-return` Lambda: GET /v1/orders/{orderId}/returns/{returnId}, the shopper's return authorisation.

aisle::http_lambda!(aisle::api::returns::get_return);
