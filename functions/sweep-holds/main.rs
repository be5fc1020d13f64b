//! `sweep-holds` Lambda: every minute, release holds whose time is up.

aisle::event_lambda!(aisle::workers::sweep_holds);
