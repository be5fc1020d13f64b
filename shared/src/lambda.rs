//! The one entry point of every function in `functions/`: logging, configuration (failing
//! fast on a missing setting), the SDK clients built once, then the runtime loop handing
//! each invocation to one handler. A function's `main.rs` names its handler and nothing else:
//!
//! ```ignore
//! aisle::http_lambda!(aisle::api::shopping::get_cart);
//! aisle::event_lambda!(aisle::workers::hold_timer);
//! ```

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::{App, Config};

#[doc(hidden)]
pub use tracing; // for the macros: functions do not depend on tracing themselves

/// What a function builds once, at cold start, and keeps for every invocation (leaked on
/// purpose: it lives as long as the process, and handlers borrow it without reference
/// counting).
pub async fn start() -> Result<&'static App, Box<dyn std::error::Error + Send + Sync>> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    Ok(Box::leak(Box::new(app)))
}

/// The span every HTTP invocation runs in: the API Gateway request id now, the caller's
/// user id once the handler has read the token. Use cases open their own spans inside it
/// (checkout, order, item ids), so CloudWatch Logs Insights can pull one request's lines:
/// `filter spans.1.apigwRequestId = "<id>"` (README, "Logs"); `spans.0` is the Lambda
/// runtime's own invocation span (`requestId`: the Lambda request id).
pub fn request_span(req: &lambda_http::Request) -> tracing::Span {
    tracing::info_span!(
        "request",
        apigwRequestId = %crate::api::request::request_id(req),
        user_id = tracing::field::Empty
    )
}

/// Each invocation runs until its deadline and no longer, as Lambda runs it: the handler is
/// stopped (its future dropped, so nothing more it would have done happens) and the
/// invocation fails with Lambda's own `Task timed out after N seconds`, after a log line
/// that carries the invocation's span (its ids), which Lambda's own stop never writes
/// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html).
///
/// The deadline is the runtime's (`Lambda-Runtime-Deadline-Ms`, in the invocation's
/// context), less [`Deadline::MARGIN`] to report it. A local runner that sends no real
/// deadline (`cargo lambda watch` sends a fixed moment of 1970) has the template's timeout
/// for each function in `AISLE_LOCAL_TIMEOUTS` (`name=seconds,...`, by
/// `AWS_LAMBDA_FUNCTION_NAME`), written by `aisle-local env`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline {
    /// This function's timeout under a local runner.
    local: Option<Duration>,
}

impl Deadline {
    /// Time kept back from Lambda's deadline to fail the invocation and log it.
    pub const MARGIN: Duration = Duration::from_millis(50);

    /// This function's local timeout, if a local runner set one; a malformed list fails.
    pub fn from_env() -> Result<Self, String> {
        let Ok(list) = std::env::var("AISLE_LOCAL_TIMEOUTS") else {
            return Ok(Self::default());
        };
        let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        Self::parse(&list, &name)
    }

    /// The entry for function `name` in `list` (`name=seconds,...`).
    pub fn parse(list: &str, name: &str) -> Result<Self, String> {
        let mut local = None;
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (function, seconds) = entry
                .split_once('=')
                .ok_or_else(|| format!("AISLE_LOCAL_TIMEOUTS: `{entry}` is not name=seconds"))?;
            let seconds: f64 = seconds
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0)
                .ok_or_else(|| {
                    format!("AISLE_LOCAL_TIMEOUTS: `{entry}` has no positive seconds")
                })?;
            if function == name {
                local = Some(Duration::from_secs_f64(seconds));
            }
        }
        Ok(Self { local })
    }

    /// How long an invocation whose context says `deadline_ms` (milliseconds since the
    /// epoch) may still run at `now`; `None`: no limit known.
    pub fn budget(&self, deadline_ms: u64, now: SystemTime) -> Option<Duration> {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
        match deadline.duration_since(now) {
            Ok(left) => Some(left.saturating_sub(Self::MARGIN)),
            // A deadline already past when the invocation starts is no real deadline.
            Err(_) => self.local,
        }
    }

    /// Run one invocation's `work` within its budget (see [`Deadline`]).
    pub async fn run<T, E>(
        self,
        deadline_ms: u64,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, lambda_runtime::Error>
    where
        E: Into<lambda_runtime::Error>,
    {
        let Some(budget) = self.budget(deadline_ms, SystemTime::now()) else {
            return work.await.map_err(Into::into);
        };
        match tokio::time::timeout(budget, work).await {
            Ok(done) => done.map_err(Into::into),
            Err(_) => {
                let seconds = self.local.unwrap_or(budget).as_secs_f64();
                tracing::error!(
                    timeout_seconds = seconds,
                    "invocation stopped at its deadline"
                );
                Err(format!("Task timed out after {seconds:.2} seconds").into())
            }
        }
    }
}

/// The deadline of an event invocation (milliseconds since the epoch).
pub fn deadline_of<E>(event: &lambda_runtime::LambdaEvent<E>) -> u64 {
    event.context.deadline
}

/// The deadline of an HTTP invocation (milliseconds since the epoch; 0 without a context).
pub fn http_deadline_of(req: &lambda_http::Request) -> u64 {
    use lambda_http::RequestExt;
    req.lambda_context_ref().map_or(0, |c| c.deadline)
}

/// `main` for an HTTP function: `handler(&App, Request) -> HttpResult` behind API Gateway.
#[macro_export]
macro_rules! http_lambda {
    ($handler:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            let app = $crate::lambda::start().await?;
            let deadline = $crate::lambda::Deadline::from_env()?;
            lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
                let span = $crate::lambda::request_span(&req);
                let due = $crate::lambda::http_deadline_of(&req);
                $crate::lambda::tracing::Instrument::instrument(
                    deadline.run(due, $handler(app, req)),
                    span,
                )
            }))
            .await
        }
    };
}

/// `main` for an event function (SQS, streams, schedules): `handler(&App, LambdaEvent<E>)`.
#[macro_export]
macro_rules! event_lambda {
    ($handler:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            let app = $crate::lambda::start().await?;
            let deadline = $crate::lambda::Deadline::from_env()?;
            lambda_runtime::run(lambda_runtime::service_fn(move |event| {
                let due = $crate::lambda::deadline_of(&event);
                deadline.run(due, $handler(app, event))
            }))
            .await
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_deadline_leaves_the_time_to_it_less_the_margin() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let due = 1_800_000_000_000 + 10_000;
        assert_eq!(
            Deadline::default().budget(due, now),
            Some(Duration::from_secs(10) - Deadline::MARGIN)
        );
    }

    #[test]
    fn a_deadline_in_the_past_falls_back_to_the_local_timeout() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // What cargo lambda watch sends.
        assert_eq!(Deadline::default().budget(600_000, now), None);
        let local = Deadline::parse("get-item=10, index-items=300", "index-items").unwrap();
        assert_eq!(local.budget(600_000, now), Some(Duration::from_secs(300)));
        assert_eq!(
            Deadline::parse("get-item=10", "other").unwrap(),
            Deadline::default()
        );
    }

    #[test]
    fn a_malformed_timeout_list_fails_at_start() {
        assert!(Deadline::parse("get-item", "get-item").is_err());
        assert!(Deadline::parse("get-item=soon", "get-item").is_err());
        assert!(Deadline::parse("get-item=0", "get-item").is_err());
    }

    #[tokio::test]
    async fn work_past_its_deadline_is_stopped_and_fails_as_lambda_reports_it() {
        let deadline = Deadline::parse("f=0.05", "f").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&str>();
        let work = async move {
            tx.send("started").unwrap();
            std::future::pending::<()>().await;
            tx.send("finished").unwrap();
            Ok::<(), lambda_runtime::Error>(())
        };
        let error = deadline.run(0, work).await.unwrap_err();
        assert_eq!(error.to_string(), "Task timed out after 0.05 seconds");
        assert_eq!(rx.recv().await, Some("started"));
        assert_eq!(
            rx.recv().await,
            None,
            "the work was dropped, never finished"
        );
    }

    #[tokio::test]
    async fn work_within_its_deadline_answers_as_it_would() {
        let deadline = Deadline::parse("f=5", "f").unwrap();
        let answer = deadline
            .run(0, async { Ok::<_, lambda_runtime::Error>(7) })
            .await;
        assert_eq!(answer.unwrap(), 7);
        let failed = deadline
            .run(0, async {
                Err::<(), _>(lambda_runtime::Error::from("boom"))
            })
            .await;
        assert_eq!(failed.unwrap_err().to_string(), "boom");
    }
}
