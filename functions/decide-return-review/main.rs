//! `decide-return-review` Lambda: POST /v1/seller/orders/{orderId}/return-reviews/{reviewId}, a seller accepts or refuses returned units held for review.

aisle::http_lambda!(aisle::api::returns::decide_return_review);
