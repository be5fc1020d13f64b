//! `put-default-address` Lambda: PUT /v1/me/address, the caller's default shipping address.

aisle::http_lambda!(aisle::api::shopping::put_default_address);
