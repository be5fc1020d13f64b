//! `notify-shoppers` Lambda: SQS, each order event told to its shopper (inbox notice and mail, once).

aisle::event_lambda!(aisle::workers::notify_shoppers);
