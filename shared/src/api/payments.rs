//! `POST /v1/payments/webhook`: the payment provider's own reports (Stripe webhooks). No JWT:
//! the `Stripe-Signature` header is the credential, checked against the endpoint's signing
//! secret with a timestamp tolerance before anything is read; each event id is applied once.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde_json::json;

use super::{finish, json, ApiError, HttpResult};
use crate::adapters::stripe;
use crate::usecases::provider_events;
use crate::App;

/// The webhook: 200 once an event is applied (or was before, or is not one the shop acts
/// on); 400 for a missing or wrong signature or a body that is no event; 409 while the same
/// event is being applied elsewhere and 503 when the store is unreachable (the provider
/// retries both).
pub async fn webhook(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let signature = req
                .headers()
                .get("stripe-signature")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "SIGNATURE_INVALID",
                        "the Stripe-Signature header is missing",
                    )
                })?
                .to_owned();
            let payload: &[u8] = match req.body() {
                Body::Text(text) => text.as_bytes(),
                Body::Binary(bytes) => bytes,
                _ => &[],
            };
            let secret = app.payments.webhook_secret().await?;
            stripe::verify_signature(&signature, payload, &secret, app.clock.now().unix_seconds())
                .map_err(|e| ApiError::bad_request("SIGNATURE_INVALID", e.to_string()))?;
            let event = stripe::parse_event(payload).ok_or_else(|| {
                ApiError::bad_request("EVENT_INVALID", "the body is not a Stripe event")
            })?;
            let fingerprint = super::request::fingerprint(&[payload]);
            let stack = app.config.payments.stack();
            let outcome =
                provider_events::provider_event(app.shop(), &event, &fingerprint, stack).await?;
            Ok(json(
                StatusCode::OK,
                &json!({ "received": true, "outcome": outcome }),
            ))
        }
        .await,
    )
}
