//! Shared by every module of the integration suite, by area:
//!
//! - [`shop`]: a fresh set of the template's tables on DynamoDB Local per test (a unique
//!   prefix, so tests run in parallel without seeing each other's data), the queues, bus and
//!   streams on moto and DynamoDB Local, and the pumps that run the async side;
//! - [`http`]: API Gateway v2 requests built the way the HTTP API delivers them, and replies;
//! - [`fixtures`]: one way to make each thing a test needs (a listing, a stocked item, a
//!   hold, a placed order, warehouse messages).
//!
//! DynamoDB Local must be running (`make stack-up`, or `make test` which starts it);
//! its endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB` (default `http://127.0.0.1:8000`).

#![allow(dead_code)] // not every helper is used by every module yet

// First: its `send!` macro is used by the fixtures and by every test module after it.
#[macro_use]
pub mod http;
pub mod fixtures;
pub mod shop;
pub mod stripe;

pub use fixtures::*;
pub use http::*;
pub use shop::*;
