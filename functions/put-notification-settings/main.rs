//! `put-notification-settings` Lambda: PUT /v1/me/notification-settings.

aisle::http_lambda!(aisle::api::notifications::put_notification_settings);
