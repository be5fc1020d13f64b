//! Adapters: the ports implemented on real services. Only this module touches SDK types.

pub mod clock;
pub mod dynamo;
pub mod eventbridge;
pub mod http;
pub mod payments;
pub mod search;
pub mod sqs;
