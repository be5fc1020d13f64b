//! `list-notifications` Lambda: GET /v1/me/notifications, the shopper's inbox.

aisle::http_lambda!(aisle::api::notifications::list_notifications);
