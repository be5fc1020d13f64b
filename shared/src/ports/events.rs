//! Domain events for the event bus.

use super::StoreError;
use async_trait::async_trait;

/// A domain event for the event bus: a deterministic id (consumers dedupe on it), a type
/// and a versioned JSON detail.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DomainEvent {
    pub id: String,
    pub source: &'static str,
    pub detail_type: &'static str,
    pub detail: serde_json::Value,
}

/// Publishes domain events; a failed entry is retried, never silently dropped.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError>;
}
