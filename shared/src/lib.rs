//! Aisle: the store's domain, use cases, ports and adapters. Every Lambda in `functions/` is
//! a thin shell over this crate: it builds an [`App`] once and hands requests to [`api`].
//!
//! Layers, inside out: [`domain`] (types valid by construction) → [`usecases`] (one function
//! per user action, against [`ports`]) → [`adapters`] (DynamoDB, ...) and [`api`] (HTTP).

#![deny(missing_docs)]

pub mod adapters;
pub mod api;
pub mod app;
pub mod batch;
pub mod config;
pub mod domain;
pub mod lambda;
pub mod ports;
pub mod retry;
pub mod telemetry;
pub mod usecases;
pub mod workers;

pub use app::{App, Clients, PaymentProvider};
pub use config::Config;
