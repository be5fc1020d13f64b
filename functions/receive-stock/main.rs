//! `receive-stock` Lambda: POST /v1/warehouses/{warehouseId}/stock, a warehouse receives units.

aisle::http_lambda!(aisle::api::stock::receive_stock);
