//! `get-recommendations` Lambda: GET /v1/recommendations, popular now and most wishlisted (public).

aisle::http_lambda!(aisle::api::recommend::get_recommendations);
