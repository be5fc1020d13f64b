//! Work that keeps failing: tried again later with a growing wait, and after a bounded
//! number of tries parked where an operator sees it, so one bad record never holds up the
//! rest of a run, nor every run after it.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// Tries before a record is parked (with the waits below: about half an hour of trying).
pub const MAX_TRIES: u32 = 6;

/// The longest wait between two tries, minutes.
const MAX_WAIT_MINUTES: i64 = 16;

/// What is known of one record's failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failures {
    /// Failed tries so far.
    pub tries: u32,
    /// When the last one failed.
    pub last_at: Timestamp,
    /// Why it last failed.
    pub reason: String,
    /// Given up on: an operator has it (until its failure record is removed).
    pub parked: bool,
}

impl Failures {
    /// When it may be tried again: 1, 2, 4, 8 then 16 minutes after the last failure.
    pub fn next_try(&self) -> Timestamp {
        let minutes = 1i64
            .checked_shl(self.tries.saturating_sub(1))
            .unwrap_or(MAX_WAIT_MINUTES)
            .min(MAX_WAIT_MINUTES);
        self.last_at.plus_millis(minutes * 60_000)
    }

    /// Whether a run at `now` tries it.
    pub fn due(&self, now: Timestamp) -> bool {
        !self.parked && self.next_try() <= now
    }

    /// Whether it has failed often enough to be parked.
    pub fn exhausted(&self) -> bool {
        self.tries >= MAX_TRIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_sixteen_minutes_and_the_sixth_failure_parks() {
        let at = Timestamp::from_unix_millis(0);
        let failed = |tries| Failures {
            tries,
            last_at: at,
            reason: "stripe answered 400".into(),
            parked: false,
        };
        let waits: Vec<i64> = (1..=7)
            .map(|t| failed(t).next_try().unix_millis() / 60_000)
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 16, 16]);
        assert!(!failed(1).due(Timestamp::from_unix_millis(59_999)));
        assert!(failed(1).due(Timestamp::from_unix_millis(60_000)));
        assert!(!failed(5).exhausted());
        assert!(failed(MAX_TRIES).exhausted());
        let parked = Failures {
            parked: true,
            ..failed(MAX_TRIES)
        };
        assert!(!parked.due(Timestamp::from_unix_millis(i64::MAX / 2)));
    }
}
