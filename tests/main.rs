//! Aisle's integration suite, one binary: every module drives the real handlers and use cases
//! against DynamoDB Local and moto (started by `make test`), with the shared fixtures in
//! [`helpers`]. One binary links the SDK once; `cargo test --test suite <module>::` runs one
//! area, e.g. `cargo test --test suite invariant::`.

#[macro_use]
mod helpers;

mod archive;
mod catalog;
mod checkout;
mod events;
mod fixtures;
mod fulfilment_invariant;
mod hot_items;
mod iam;
mod images;
mod invariant;
mod malformed;
mod notifications;
mod payments;
mod races;
mod returns;
mod search;
mod shopping;
mod signals;
mod streams;
mod template;
mod warehouse;
