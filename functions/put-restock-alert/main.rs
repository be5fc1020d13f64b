//! `put-restock-alert` Lambda: PUT /v1/me/restock-alerts/{itemId}, notify me when a sold-out item is back.

aisle::http_lambda!(aisle::api::notifications::put_restock_alert);
