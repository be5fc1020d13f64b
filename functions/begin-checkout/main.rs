//! `begin-checkout` Lambda: POST /v1/checkout, hold the cart's stock.

aisle::http_lambda!(aisle::api::shopping::begin_checkout);
