//! `index-items` Lambda: keeps the search index current from the items and stock streams.

aisle::event_lambda!(aisle::workers::index_items);
