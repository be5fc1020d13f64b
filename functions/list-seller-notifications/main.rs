//! `list-seller-notifications` Lambda: GET /v1/seller/notifications, a seller's stock notices.

aisle::http_lambda!(aisle::api::catalog::list_seller_notifications);
