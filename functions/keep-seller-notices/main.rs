//! `keep-seller-notices` Lambda: SQS, stock alerts kept per seller.

aisle::event_lambda!(aisle::workers::keep_seller_notices);
