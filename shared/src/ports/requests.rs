//! Idempotency records of requests (`Idempotency-Key`).

use super::StoreError;
use async_trait::async_trait;

/// The recorded answer to an idempotent request, written in the same transaction as the
/// effect it reports where there is one, so a request is never done without its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The idempotency record's key (scoped by route and user).
    pub key: String,
    /// A digest of the request (route, path, body): a reused key with another body differs.
    pub fingerprint: String,
    /// What the use case answered, as JSON of its own choosing.
    pub outcome: serde_json::Value,
}

/// What an idempotency key says about a request that arrives with it.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestClaim {
    /// New (or its earlier record expired): this request may act; it is now in flight.
    Fresh,
    /// Done before with the same request: answer this outcome again.
    Replay(serde_json::Value),
    /// The first request with this key is still running.
    InFlight,
    /// The key was used for a different request.
    Reused,
}

/// Idempotency records of requests (the `Idempotency-Key` header).
#[async_trait]
pub trait Requests: Send + Sync {
    /// Claim `key` for a request with `fingerprint` (expired records count as absent).
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: crate::domain::Timestamp,
    ) -> Result<RequestClaim, StoreError>;
    /// Record the answer of a request whose effect had no transaction of its own.
    async fn finish(&self, receipt: &Receipt) -> Result<(), StoreError>;
    /// Forget an in-flight claim whose request ended without a final answer (a retry runs).
    async fn abandon(&self, key: &str, fingerprint: &str) -> Result<(), StoreError>;
}
