//! `get-my-recommendations` Lambda: GET /v1/me/recommendations, for the signed-in shopper.

aisle::http_lambda!(aisle::api::recommend::get_my_recommendations);
