//! `record-signals` Lambda: shopper signals (log lines through a subscription filter, OrderPlaced through SQS) counted for recommendations and suggestions.

aisle::event_lambda!(aisle::workers::record_signals);
