//! `archive-orders` Lambda: daily, move orders that will never change again to S3.

aisle::event_lambda!(aisle::workers::archive_orders);
