//! `apply-warehouse-updates` Lambda: applies what warehouses report on the warehouse-updates queue (SQS).

aisle::event_lambda!(aisle::workers::apply_warehouse_updates);
