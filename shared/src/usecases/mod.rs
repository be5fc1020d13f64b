//! Use cases: one function per thing a user can do, written against the ports only.
//! Each has its own error enum; `crate::api::error` is the one place that maps them to HTTP.

pub mod catalog;
pub mod stock;
