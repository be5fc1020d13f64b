//! `get-notification-settings` Lambda: GET /v1/me/notification-settings.

aisle::http_lambda!(aisle::api::notifications::get_notification_settings);
