//! `assign-orders` Lambda: assigns placed orders to warehouses (SQS fed by the OrderPlaced rule).

aisle::event_lambda!(aisle::workers::assign_orders);
