//! [`EventPublisher`] on EventBridge. `PutEvents` can succeed as a call while failing some
//! entries (`FailedEntryCount`); those entries are sent again with backoff, and if they still
//! fail the whole publish fails, so the caller's retry (a stream or queue redelivery) keeps
//! the event rather than dropping it.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use crate::ports::{DomainEvent, EventPublisher, StoreError};
use crate::retry::Policy;

/// Publishes to one event bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    fn entry(&self, event: &DomainEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(event.source())
            .detail_type(event.detail_type())
            .detail(event.event.detail().to_string())
            .resources(format!("aisle:event:{}", event.id))
            .build()
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError> {
        for batch in events.chunks(10) {
            let mut pending: Vec<&DomainEvent> = batch.iter().collect();
            let mut tries = Policy::THROTTLED.tries();
            while tries.next().await {
                let attempt = tries.made();
                let result = self
                    .client
                    .put_events()
                    .set_entries(Some(pending.iter().map(|e| self.entry(e)).collect()))
                    .send()
                    .await;
                let failed: Vec<&DomainEvent> = match result {
                    Ok(out) if out.failed_entry_count() == 0 => Vec::new(),
                    // Entries answer in request order; an entry with an error code failed.
                    Ok(out) => pending
                        .iter()
                        .zip(out.entries())
                        .filter(|(_, r)| r.error_code().is_some())
                        .map(|(e, _)| *e)
                        .collect(),
                    Err(e) => match super::classify("PutEvents", e) {
                        // Throttling, timeouts: worth another try.
                        StoreError::Unavailable(why) => {
                            tracing::warn!(error = %why, attempt, "PutEvents failed");
                            pending.clone()
                        }
                        // Refused for good (a missing grant, a bus that does not exist).
                        other => return Err(other),
                    },
                };
                if failed.is_empty() {
                    break;
                }
                if attempt == Policy::THROTTLED.attempts {
                    return Err(StoreError::Unavailable(format!(
                        "{} events not accepted by EventBridge",
                        failed.len()
                    )));
                }
                tracing::warn!(
                    failed = failed.len(),
                    attempt,
                    "retrying failed event entries"
                );
                pending = failed;
            }
        }
        for event in events {
            tracing::info!(event_id = %event.id, detail_type = event.detail_type(), "event published");
        }
        Ok(())
    }
}
