//! [`Clock`]: where use cases get the time. Expiry, payment grace and settlement deadlines are
//! decided against it, so a test can move time forward instead of waiting for it.

use crate::domain::Timestamp;

/// The current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, to the millisecond.
    fn now(&self) -> Timestamp;
}
