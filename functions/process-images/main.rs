//! `process-images` Lambda: S3 notifications of sellers' uploads (SQS); each checked, rendered and listed, or refused with a reason.

aisle::event_lambda!(aisle::workers::process_images);
