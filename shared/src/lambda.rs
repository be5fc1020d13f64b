//! The one entry point of every function in `functions/`: logging, configuration (failing
//! fast on a missing setting), the SDK clients built once, then the runtime loop handing
//! each invocation to one handler. A function's `main.rs` names its handler and nothing else:
//!
//! ```ignore
//! aisle::http_lambda!(aisle::api::shopping::get_cart);
//! aisle::event_lambda!(aisle::workers::hold_timer);
//! ```

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

/// `main` for an HTTP function: `handler(&App, Request) -> HttpResult` behind API Gateway.
#[macro_export]
macro_rules! http_lambda {
    ($handler:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            let app = $crate::lambda::start().await?;
            lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
                let span = $crate::lambda::request_span(&req);
                $crate::lambda::tracing::Instrument::instrument($handler(app, req), span)
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
            lambda_runtime::run(lambda_runtime::service_fn(move |event| {
                $handler(app, event)
            }))
            .await
        }
    };
}
