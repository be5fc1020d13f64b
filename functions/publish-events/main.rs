//! `publish-events` Lambda: DynamoDB Streams, publish domain events from order and hold changes.

aisle::event_lambda!(aisle::workers::publish_events);
