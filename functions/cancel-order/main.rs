//! `cancel-order` Lambda: POST /v1/orders/{orderId}/cancel, cancel before shipping.

aisle::http_lambda!(aisle::api::shopping::cancel_order);
