//! `live-disconnect` Lambda: see `aisle::workers::live_disconnect`.

aisle::event_lambda!(aisle::workers::live_disconnect);
