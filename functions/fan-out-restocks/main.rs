//! `fan-out-restocks` Lambda: SQS, each restock queued as one message per waiting shopper.

aisle::event_lambda!(aisle::workers::fan_out_restocks);
