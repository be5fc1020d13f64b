//! `hold-timer` Lambda: SQS, delayed checkout expiry and payment settlement.

aisle::event_lambda!(aisle::workers::hold_timer);
