//! `unsubscribe` Lambda: POST /v1/unsubscribe/{token}, one-click unsubscribe from optional mail (RFC 8058).

aisle::http_lambda!(aisle::api::notifications::unsubscribe);
