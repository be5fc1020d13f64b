//! `delete-restock-alert` Lambda: DELETE /v1/me/restock-alerts/{itemId}, stop waiting on an item.

aisle::http_lambda!(aisle::api::notifications::delete_restock_alert);
