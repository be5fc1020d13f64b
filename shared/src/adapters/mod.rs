//! Adapters: the ports implemented on real services. Only this module touches SDK types.

pub mod dynamo;
pub mod eventbridge;
pub mod payments;
pub mod search;
pub mod sqs;
