//! `live-connect` Lambda: see `aisle::workers::live_connect`.

aisle::event_lambda!(aisle::workers::live_connect);
