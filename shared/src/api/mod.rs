//! The HTTP edge: API Gateway (HTTP API, payload v2) requests in, JSON responses out.
//! Each handler parses its input into domain types, calls one use case and renders the
//! outcome. Expected failures are `Ok` responses with a 4xx/5xx status; an `Err` from a
//! handler would be a Lambda invocation failure, which API Gateway turns into a bare 500, so
//! handlers never return one.

pub mod catalog;
pub mod error;
pub mod payments;
pub mod request;
pub mod search;
pub mod shopping;
pub mod stock;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

pub use error::ApiError;

/// What every HTTP Lambda returns.
pub type HttpResult = Result<Response<Body>, lambda_http::Error>;

/// Close a handler: render an [`ApiError`] as its JSON response.
pub(crate) fn finish(outcome: Result<Response<Body>, ApiError>) -> HttpResult {
    Ok(outcome.unwrap_or_else(ApiError::into_response))
}

/// A JSON response; a body that cannot be serialised is a 500 in the error contract.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(e) => ApiError::internal(format!("response not serialisable: {e}")).into_response(),
    }
}

/// A response with these JSON bytes.
pub(crate) fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::Binary(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Add a header whose value we built ourselves (ids, versions: always valid header text).
pub(crate) fn with_header(
    mut response: Response<Body>,
    name: header::HeaderName,
    value: String,
) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, value);
    }
    response
}
