//! `payment-webhook` Lambda: POST /v1/payments/webhook, the payment provider's signed reports.

aisle::http_lambda!(aisle::api::payments::webhook);
