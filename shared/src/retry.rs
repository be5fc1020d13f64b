//! The one retry policy: jittered exponential backoff within an attempt budget, for work
//! that failed for a reason worth another try (a lost optimistic write, a conflicted
//! transaction, throttling, entries a batch call left unprocessed). Whether an outcome is
//! worth another try is the caller's call; how often and how long to wait is decided here,
//! by one of the named [`Policy`] budgets.

use std::time::Duration;

use rand::Rng;

/// How often to try and how long to pause between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The ceiling of the first pause; it doubles per try ("full jitter": the pause is drawn
    /// uniformly below the ceiling, so racing writers spread out instead of colliding again).
    pub base: Duration,
    /// No pause is longer than this.
    pub cap: Duration,
}

impl Policy {
    /// `attempts` tries, pauses from `base` doubling, capped at one second.
    pub const fn new(attempts: u32, base: Duration) -> Self {
        Self {
            attempts,
            base,
            cap: Duration::from_secs(1),
        }
    }

    /// A read-modify-write that lost to a concurrent writer (its condition on the version it
    /// read failed): read again and re-apply. Generous, since a shopper's double click or a
    /// dozen devices on one cart must all land.
    pub const OPTIMISTIC: Policy = Policy::new(12, Duration::from_millis(5));

    /// A transaction DynamoDB cancelled for `TransactionConflict`.
    pub const CONFLICTED: Policy = Policy::new(6, Duration::from_millis(15));

    /// A throttled or partly processed AWS call (unprocessed keys, failed event entries).
    pub const THROTTLED: Policy = Policy::new(6, Duration::from_millis(40));

    /// A payment provider that asked for a retry (429, 5xx, a key in use) or did not answer:
    /// few tries, longer pauses (Stripe recommends exponential backoff), all under the
    /// function's timeout together with the per-call timeout.
    pub const PROVIDER: Policy = Policy::new(3, Duration::from_millis(250));

    /// The pause before try number `attempt` (1 is the first retry).
    pub fn pause(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        rand::thread_rng().gen_range(Duration::ZERO..=ceiling)
    }
}

/// The tries a [`Policy`] allows, counted: `while tries.next().await { ... }` runs the body
/// once at once, then again after each jittered pause, until the budget is spent. The body
/// decides what is worth another try (`continue`) and returns when it has its answer; the code
/// after the loop is what an exhausted budget means (contention, unavailability).
#[derive(Debug)]
pub struct Tries {
    policy: Policy,
    made: u32,
}

impl Policy {
    /// A fresh budget of tries.
    pub fn tries(self) -> Tries {
        Tries {
            policy: self,
            made: 0,
        }
    }
}

impl Tries {
    /// Whether another try is allowed; pauses first unless this is the first.
    pub async fn next(&mut self) -> bool {
        if self.made >= self.policy.attempts {
            return false;
        }
        if self.made > 0 {
            let pause = self.policy.pause(self.made);
            tracing::debug!(
                attempt = self.made + 1,
                pause_ms = pause.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(pause).await;
        }
        self.made += 1;
        true
    }

    /// Tries made so far.
    pub fn made(&self) -> u32 {
        self.made
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_under_a_ceiling_that_doubles_up_to_the_cap() {
        let policy = Policy::new(10, Duration::from_millis(10));
        for _ in 0..200 {
            assert!(policy.pause(1) <= Duration::from_millis(10));
            assert!(policy.pause(3) <= Duration::from_millis(40));
            assert!(policy.pause(30) <= Duration::from_secs(1));
        }
    }

    #[tokio::test]
    async fn tries_stop_at_the_budget() {
        let mut tries = Policy::new(4, Duration::from_micros(1)).tries();
        let mut ran = 0;
        while tries.next().await {
            ran += 1;
        }
        assert_eq!((ran, tries.made()), (4, 4));
        assert!(!tries.next().await, "a spent budget stays spent");
    }
}
