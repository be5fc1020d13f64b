//! Benchmarks that print figures (never timed tests): begin-checkout throughput and cost
//! ([`checkout`]), a flash sale with and without the waiting room ([`flash`]), cold starts
//! ([`init`]), search at catalogue scale ([`search`]), product image renditions
//! ([`images`]) and recommendation quality ([`recommend`]).

pub mod checkout;
pub mod flash;
pub mod images;
pub mod init;
pub mod recommend;
pub mod search;

pub use checkout::*;
