//! `push-live-stock` Lambda: see `aisle::workers::push_live_stock`.

aisle::event_lambda!(aisle::workers::push_live_stock);
