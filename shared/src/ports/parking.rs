//! Failure records of work done in runs over many records (the sweeper), and where work
//! given up on is parked.

use std::collections::HashMap;

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Failures, Timestamp};

/// Failure records by work key (`<kind>#<id>`), and the operator's parking place.
#[async_trait]
pub trait Parking: Send + Sync {
    /// The failure records of those `keys` that have one.
    async fn failures(&self, keys: &[String]) -> Result<HashMap<String, Failures>, StoreError>;
    /// Count one more failed try of `key` (atomically: two runs at once count two).
    async fn failed(&self, key: &str, reason: &str, now: Timestamp)
        -> Result<Failures, StoreError>;
    /// Give up on `key`: mark it parked and hand `message` (what re-drives it) to the
    /// operator's dead-letter queue with `reason`.
    async fn park(&self, key: &str, message: &str, reason: &str) -> Result<(), StoreError>;
    /// `key` succeeded after failing: forget its failures.
    async fn cleared(&self, key: &str) -> Result<(), StoreError>;
}
