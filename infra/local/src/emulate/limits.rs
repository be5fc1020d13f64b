//! What AWS refuses, played locally so `make dev` refuses it too:
//!
//! - API Gateway's token buckets: the HTTP API's route and stage throttles, the WebSocket
//!   stage's, and the account's new WebSocket connections a second
//!   (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html,
//!   https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html);
//! - Lambda's per-function limits ([`Runner`]): `ReservedConcurrentExecutions` and `Timeout`.
//!
//! `AISLE_THROTTLES=off` turns the buckets off (benchmarks that measure the functions).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::template::{FunctionLimits, Throttle};

/// New WebSocket connections a second per account and Region, API Gateway's quota for
/// WebSocket APIs (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html,
/// "New connections per second", adjustable). `AISLE_WS_CONNECTS_PER_SECOND` sets another
/// figure (an account with a raised quota).
pub const WEBSOCKET_CONNECTS_PER_SECOND: f64 = 500.0;

/// Whether throttles apply (`AISLE_THROTTLES=off` turns them off).
pub fn throttles_on() -> bool {
    std::env::var("AISLE_THROTTLES").map_or(true, |v| v != "off")
}

/// The account's WebSocket connect rate for this run, as a bucket's throttle (the burst is
/// one second's worth).
pub fn websocket_connects() -> Throttle {
    let rate = std::env::var("AISLE_WS_CONNECTS_PER_SECOND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(WEBSOCKET_CONNECTS_PER_SECOND);
    Throttle { rate, burst: rate }
}

/// One token bucket: starts full (`burst`), refills at `rate` a second, one token a request.
#[derive(Debug, Clone)]
pub struct Bucket {
    throttle: Throttle,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(throttle: Throttle, now: Instant) -> Self {
        Self {
            throttle,
            tokens: throttle.burst,
            at: now,
        }
    }

    /// Take one token at `now`; `false` (throttled) when none is left.
    pub fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.throttle.rate;
        self.tokens = (self.tokens + refill).min(self.throttle.burst);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Token buckets by key (a route key, `$connect`), shared by concurrent requests.
#[derive(Debug, Default)]
pub struct Buckets {
    buckets: Mutex<BTreeMap<String, Bucket>>,
}

impl Buckets {
    /// Take one token from `key`'s bucket (made with `throttle` on first use).
    pub fn take(&self, key: &str, throttle: Throttle) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .entry(key.to_owned())
            .or_insert_with(|| Bucket::new(throttle, now))
            .take(now)
    }
}

/// Who invokes a function, which decides what a reservation's throttle does to it
/// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-sync.html,
/// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// API Gateway, WebSocket routes: a throttled invocation fails at once (429 from Lambda,
    /// which API Gateway answers as 500).
    Synchronous,
    /// Event source mappings and schedules: Lambda's pollers never run more invocations
    /// than the reservation allows; a batch waits for a free one.
    Poller,
}

/// Refused by Lambda: the function's reserved concurrency is all in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled;

impl std::fmt::Display for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TooManyRequestsException: Rate Exceeded (reserved concurrency in use)")
    }
}

impl std::error::Error for Throttled {}

/// The function ran past its timeout: Lambda stops it and reports the invocation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut(pub Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Task timed out after {:.2} seconds",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for TimedOut {}

/// Lambda's limits per function, from the template ([`FunctionLimits`]).
#[derive(Debug, Default)]
pub struct Runner {
    limits: BTreeMap<String, FunctionLimits>,
    reservations: BTreeMap<String, Arc<Semaphore>>,
}

impl Runner {
    /// The limits of every function (by cargo binary).
    pub fn new(limits: BTreeMap<String, FunctionLimits>) -> Self {
        let reservations = limits
            .iter()
            .filter_map(|(binary, l)| {
                Some((
                    binary.clone(),
                    Arc::new(Semaphore::new(l.reserved? as usize)),
                ))
            })
            .collect();
        Self {
            limits,
            reservations,
        }
    }

    /// How long `binary` may run (Lambda's default of 3 s for a function it does not know).
    pub fn timeout(&self, binary: &str) -> Duration {
        self.limits
            .get(binary)
            .map_or(Duration::from_secs(3), |l| l.timeout)
    }

    /// A slot for one invocation of `binary`, held until the invocation ends: none needed
    /// without a reservation; with one, a synchronous caller is refused when all are in use
    /// and a poller waits for one.
    pub async fn slot(
        &self,
        binary: &str,
        caller: Caller,
    ) -> Result<Option<OwnedSemaphorePermit>, Throttled> {
        let Some(reserved) = self.reservations.get(binary) else {
            return Ok(None);
        };
        match caller {
            Caller::Synchronous => reserved
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| Throttled),
            Caller::Poller => reserved
                .clone()
                .acquire_owned()
                .await
                .map(Some)
                .map_err(|_| Throttled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_its_burst_through_then_refills_at_its_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(
            Throttle {
                rate: 10.0,
                burst: 3.0,
            },
            start,
        );
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start), "the burst is spent");
        assert!(
            !bucket.take(start + Duration::from_millis(50)),
            "half a token"
        );
        assert!(
            bucket.take(start + Duration::from_millis(100)),
            "one token back"
        );
        assert!(
            (0..3).all(|_| bucket.take(start + Duration::from_secs(10))),
            "refilled to its burst, no more"
        );
        assert!(!bucket.take(start + Duration::from_secs(10)));
    }

    fn runner(reserved: Option<u32>) -> Runner {
        Runner::new(BTreeMap::from([(
            "f".to_owned(),
            FunctionLimits {
                timeout: Duration::from_secs(5),
                reserved,
            },
        )]))
    }

    #[tokio::test]
    async fn a_reservation_refuses_a_synchronous_call_beyond_it_and_makes_a_poller_wait() {
        let runner = runner(Some(1));
        let held = runner.slot("f", Caller::Synchronous).await.unwrap();
        assert!(held.is_some());
        assert_eq!(
            runner.slot("f", Caller::Synchronous).await.unwrap_err(),
            Throttled
        );
        assert!(
            futures_util::FutureExt::now_or_never(runner.slot("f", Caller::Poller)).is_none(),
            "the poller waits while the slot is held"
        );
        drop(held);
        assert!(runner.slot("f", Caller::Poller).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn without_a_reservation_nothing_is_refused_and_the_timeout_is_the_templates() {
        let runner = runner(None);
        let slots: Vec<_> =
            futures_util::future::join_all((0..100).map(|_| runner.slot("f", Caller::Synchronous)))
                .await;
        assert!(slots.iter().all(|s| matches!(s, Ok(None))));
        assert_eq!(runner.timeout("f"), Duration::from_secs(5));
        assert_eq!(runner.timeout("unknown"), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_reservation_of_zero_refuses_every_call() {
        let runner = runner(Some(0));
        assert_eq!(
            runner.slot("f", Caller::Synchronous).await.unwrap_err(),
            Throttled
        );
    }
}
