//! `hold-ttl-expired` Lambda: DynamoDB Streams, release holds deleted by TTL (the backstop).

aisle::event_lambda!(aisle::workers::hold_ttl_expired);
