//! `cancel-order-line` Lambda: POST /v1/orders/{orderId}/lines/{itemId}/cancel, cancel one
//! product of an order before it ships.

aisle::http_lambda!(aisle::api::shopping::cancel_order_line);
