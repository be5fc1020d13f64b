//! `reconcile-stock` Lambda: hourly stock reconciliation (schedule; `{"repair": true}` repairs).

aisle::event_lambda!(aisle::workers::reconcile_stock);
