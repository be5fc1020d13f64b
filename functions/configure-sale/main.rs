//! `configure-sale` Lambda: PUT /v1/seller/items/{itemId}/sale, a seller shards an item's
//! stock and opens its waiting room for a launch.

aisle::http_lambda!(aisle::api::catalog::configure_sale);
