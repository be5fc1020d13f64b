//! `rebuild-search-index` Lambda: builds a fresh index generation from the catalogue and
//! switches searches to it (run by hand: `sam remote invoke RebuildSearchIndexFunction`).

aisle::event_lambda!(aisle::workers::rebuild_search_index);
