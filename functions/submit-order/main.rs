//! `submit-order` Lambda: POST /v1/checkout/{checkoutId}/order, pay and place the order.

aisle::http_lambda!(aisle::api::shopping::submit_order);
