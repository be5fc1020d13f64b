//! [`Clock`] implementations: the system's, and one a test can move forward.
//!
//! The test clock runs with the system clock plus an offset rather than standing still:
//! DynamoDB Local, SQS delays and TTL keep real time, and a clock that stood still would
//! make everything they do look instantaneous. Moving it forward is how a test reaches a
//! hold's expiry or a payment's deadline without waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::domain::Timestamp;
use crate::ports::Clock;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The system clock shifted by an offset that only grows (tests).
#[derive(Debug, Default)]
pub struct TestClock {
    offset_ms: AtomicI64,
}

impl TestClock {
    /// A clock showing the system time until moved.
    pub fn new() -> Self {
        Self::default()
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Move the clock forward to just after `at`, if it is not there already.
    pub fn advance_past(&self, at: Timestamp) {
        let ahead = at.unix_millis() + 1 - self.now().unix_millis();
        if ahead > 0 {
            self.offset_ms.fetch_add(ahead, Ordering::SeqCst);
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::now().plus_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_moves_forward_when_told_and_never_back() {
        let clock = TestClock::new();
        let start = clock.now();
        clock.advance(Duration::from_secs(60));
        assert!(clock.now().unix_millis() >= start.unix_millis() + 60_000);
        let later = clock.now().plus_millis(5_000);
        clock.advance_past(later);
        assert!(clock.now() > later);
        let now = clock.now();
        clock.advance_past(start);
        assert!(clock.now() >= now, "advancing to the past changes nothing");
    }
}
