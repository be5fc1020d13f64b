//! `record-mail-feedback` Lambda: SQS, SES bounces and complaints put addresses on the suppression list.

aisle::event_lambda!(aisle::workers::record_mail_feedback);
