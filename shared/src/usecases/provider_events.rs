//! Provider events (Stripe's webhook): each applied once per event id, through the same
//! settlement steps as the timer and the sweeper, never dropped when it comes early.

use super::Shop;
use crate::domain::CheckoutId;
use crate::ports::{ProviderEvent, ProviderEventKind, Receipt, RequestClaim, StoreError};

/// Why a provider event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ProviderEventError {
    /// The same event is being applied by another instance right now: the provider retries.
    #[error("this event is being applied already")]
    InFlight,
    /// An event id seen before with another body: not the provider's.
    #[error("this event id came before with another body")]
    Reused,
    /// The payment attempt the event is about is not known here yet (an event that
    /// overtook the request that made the charge): not applied, and not acknowledged, so
    /// the provider delivers it again.
    #[error("the payment this event is about is not known here yet")]
    NotYet,
    /// The store or the provider could not be reached: the provider retries.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What applying a provider event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EventOutcome {
    /// The checkout or order it concerns was settled with the provider's word.
    Settled,
    /// Nothing for the shop to do (not its charge, or an event kind it does not act on).
    Ignored,
    /// Applied before: nothing done again.
    AlreadyApplied,
}

/// Apply one provider event (its webhook), once per event id: a payment that succeeded or
/// failed settles its checkout or order through the same steps as the timer and the sweeper
/// ([`crate::usecases::checkout::provider_news`]), so an outcome that arrives by webhook and
/// one found by asking end the same way. Settling is idempotent in itself, so an event
/// redelivered after its record expired changes nothing either. A refund event is
/// acknowledged: the shop's own refunds are confirmed when they are made (the outbox).
/// An event about another stack's charge (an account shared by several stacks or
/// applications; each endpoint receives all of them) is ignored; one about an attempt not
/// known here yet is not acknowledged ([`ProviderEventError::NotYet`]), so it is delivered
/// again and applied once the attempt exists.
#[tracing::instrument(name = "provider_event", skip_all, fields(event_id = %event.id))]
pub async fn provider_event(
    shop: Shop<'_>,
    event: &ProviderEvent,
    fingerprint: &str,
    stack: &str,
) -> Result<EventOutcome, ProviderEventError> {
    if event.stack.as_deref().is_some_and(|theirs| theirs != stack) {
        return Ok(EventOutcome::Ignored);
    }
    let now = shop.clock.now();
    let key = format!("provider-event:{}", event.id);
    match shop.requests.claim(&key, fingerprint, now).await? {
        RequestClaim::Fresh => {}
        RequestClaim::Replay(_) => return Ok(EventOutcome::AlreadyApplied),
        RequestClaim::InFlight => return Err(ProviderEventError::InFlight),
        RequestClaim::Reused => return Err(ProviderEventError::Reused),
    }
    let attempt = event
        .charge_key
        .as_deref()
        .and_then(|key| key.rsplit_once('-'))
        .and_then(|(checkout, attempt)| {
            Some((
                CheckoutId::try_from(checkout).ok()?,
                attempt.parse::<u32>().ok()?,
            ))
        });
    let applied = match (&event.kind, attempt) {
        (ProviderEventKind::Succeeded | ProviderEventKind::Failed, Some((checkout, attempt))) => {
            match super::checkout::provider_news(shop, checkout, attempt, now).await {
                Ok(true) => Ok(EventOutcome::Settled),
                Ok(false) => Err(ProviderEventError::NotYet),
                Err(e) => Err(e.into()),
            }
        }
        _ => Ok(EventOutcome::Ignored),
    };
    match applied {
        Ok(outcome) => {
            tracing::info!(kind = ?event.kind, ?outcome, "provider event applied");
            let receipt = Receipt {
                key,
                fingerprint: fingerprint.to_owned(),
                outcome: serde_json::json!({ "outcome": outcome }),
            };
            shop.requests.finish(&receipt).await?;
            Ok(outcome)
        }
        Err(e) => {
            // Not applied: free the id so the provider's retry applies it.
            if let Err(abandon) = shop.requests.abandon(&key, fingerprint).await {
                tracing::warn!(error = %abandon, "event claim not released; it expires");
            }
            Err(e.into())
        }
    }
}
