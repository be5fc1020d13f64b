//! `list-restock-alerts` Lambda: GET /v1/me/restock-alerts, the items the shopper waits on.

aisle::http_lambda!(aisle::api::notifications::list_restock_alerts);
