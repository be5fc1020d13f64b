//! Benchmarks that print figures (never timed tests): begin-checkout throughput and cost
//! ([`checkout`]), a flash sale with and without the waiting room ([`flash`]), cold starts
//! ([`init`]) and search at catalogue scale ([`search`]).

pub mod checkout;
pub mod flash;
pub mod init;
pub mod search;

pub use checkout::*;
