//! The one entry point of every function in `functions/`: logging, configuration (failing
//! fast on a missing setting), the SDK clients built once, then the runtime loop handing
//! each invocation to one handler. A function's `main.rs` names its handler and nothing else:
//!
//! ```ignore
//! aisle::http_lambda!(aisle::api::shopping::get_cart);
//! aisle::event_lambda!(aisle::workers::hold_timer);
//! ```

use crate::{App, Config};

/// What a function builds once, at cold start, and keeps for every invocation (leaked on
/// purpose: it lives as long as the process, and handlers borrow it without reference
/// counting).
pub async fn start() -> Result<&'static App, Box<dyn std::error::Error + Send + Sync>> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    let app = App::connect(&config).await;
    Ok(Box::leak(Box::new(app)))
}

/// `main` for an HTTP function: `handler(&App, Request) -> HttpResult` behind API Gateway.
#[macro_export]
macro_rules! http_lambda {
    ($handler:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            let app = $crate::lambda::start().await?;
            lambda_http::run(lambda_http::service_fn(move |req| $handler(app, req))).await
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
