//! `live-watch` Lambda: see `aisle::workers::live_watch`.

aisle::event_lambda!(aisle::workers::live_watch);
