//! Use cases: one function per thing a user can do, written against the ports only.
//! Each has its own error enum; `crate::api::error` is the one place that maps them to HTTP.

pub mod archive;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod events;
pub mod fulfilment;
pub mod identities;
pub mod images;
pub mod live;
pub mod notices;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod provider_events;
pub mod recommend;
pub mod returns;
pub mod search;
pub mod shop;
pub mod stock;

pub use shop::Shop;
