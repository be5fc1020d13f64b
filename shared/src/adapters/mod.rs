//! Adapters: the ports implemented on real services. Only this module touches SDK types.

pub mod clock;
pub mod dynamo;
pub mod eventbridge;
pub mod http;
pub mod live_push;
pub mod payments;
#[cfg(test)]
pub(crate) mod replay;
pub mod s3_archive;
pub mod s3_images;
pub mod search;
pub mod ses;
pub mod sqs;
pub mod stripe;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ports::StoreError;

/// Error codes that mean "try again later", not "your request is wrong".
const TRANSIENT: [&str; 11] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestThrottled",
    "KMSThrottlingException",
    // S3's (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
    "SlowDown",
    "InternalError",
    "RequestTimeout",
];

/// Turn any SDK failure (DynamoDB, SQS, EventBridge) into a [`StoreError`]; callers first pick out the outcomes they expect
/// (conditional-check failures, cancelled transactions) and hand the rest here.
pub(crate) fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let code = err.code().unwrap_or("").to_owned();
    let message = format!("{operation}: {code} {}", err.message().unwrap_or_default());
    match err {
        SdkError::ServiceError(_) if code == "TransactionConflictException" => {
            StoreError::Contention(message)
        }
        SdkError::ServiceError(_) if TRANSIENT.contains(&code.as_str()) => {
            StoreError::Unavailable(message)
        }
        SdkError::ServiceError(_) => {
            // Validation, resource and permission errors are our bugs (wrong table, bad
            // expression, an unchecked input reaching a key condition, a grant missing from
            // the function's role: `AccessDeniedException`): retrying cannot help, so they
            // are not "unavailable" (500, not 503). Inputs are validated at the edge so none
            // should get here.
            tracing::error!(operation, %code, error = ?err, "unexpected AWS error");
            StoreError::Bug(message)
        }
        // Timeouts, dispatch and response failures: the service may be fine a moment later.
        other => StoreError::Unavailable(format!("{operation}: {other:?}")),
    }
}
