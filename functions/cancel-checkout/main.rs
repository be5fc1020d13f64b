//! `cancel-checkout` Lambda: DELETE /v1/checkout/{checkoutId}, release a hold.

aisle::http_lambda!(aisle::api::shopping::cancel_checkout);
