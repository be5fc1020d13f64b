//! The HTTP edge: API Gateway (HTTP API, payload v2) requests in, JSON responses out.
//! Each handler parses its input into domain types, calls one use case and renders the
//! outcome. Expected failures are `Ok` responses with a 4xx/5xx status; an `Err` from a
//! handler would be a Lambda invocation failure, which API Gateway turns into a bare 500, so
//! handlers never return one.

pub mod catalog;
pub mod error;
pub mod notifications;
pub mod payments;
pub mod recommend;
pub mod request;
pub mod returns;
pub mod search;
pub mod shopping;
pub mod stock;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

pub use error::ApiError;

/// Note what a shopper did (a log line the signal consumer reads; the answer never waits on
/// it, see `domain::signal`).
pub(crate) fn signal(app: &crate::App, signal: crate::domain::signal::Signal) {
    crate::domain::signal::SignalLine::new(signal, app.clock.now()).emit();
}

/// What every HTTP Lambda returns.
pub type HttpResult = Result<Response<Body>, lambda_http::Error>;

/// Close a handler: render an [`ApiError`] as its JSON response. Whatever did not say it
/// may be cached ([`public`]) is `Cache-Control: private, no-store`: carts, checkouts,
/// orders, seller and warehouse answers, and every error, are one caller's and current.
pub(crate) fn finish(outcome: Result<Response<Body>, ApiError>) -> HttpResult {
    let mut response = outcome.unwrap_or_else(ApiError::into_response);
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    Ok(response)
}

/// A public answer (catalog, item, search) made cacheable: `Cache-Control: public,
/// max-age=<max_age>` and an `ETag` from a digest of the body (after the item version when
/// the answer has one, so `If-Match` keeps working), and `304 Not Modified` with no body when
/// the request's `If-None-Match` names that ETag. Only 200s are cacheable.
pub(crate) fn public(
    req: &lambda_http::Request,
    response: Response<Body>,
    max_age: u32,
) -> Response<Body> {
    if response.status() != StatusCode::OK {
        return response;
    }
    let digest = {
        let body: &[u8] = match response.body() {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        request::fingerprint(&[body])[..20].to_owned()
    };
    let etag = match response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        Some(version) => format!("\"{}-{digest}\"", version.trim_matches('"')),
        None => format!("\"{digest}\""),
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',').any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
            })
        });
    let mut response = if matches {
        let mut not_modified = Response::new(Body::Empty);
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified
    } else {
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    response
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
