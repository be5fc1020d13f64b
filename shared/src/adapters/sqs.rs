//! SQS adapters: the checkout [`Timer`] (delayed messages) and the dead-letter sender that
//! parks a poison message with the reason it was refused.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;
use aws_sdk_sqs::Client;

use crate::ports::{StoreError, Timer, TimerMessage};

/// SQS allows at most 15 minutes of delay; longer waits are re-scheduled by the consumer.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// A [`Timer`] on an SQS queue with per-message delay.
#[derive(Debug, Clone)]
pub struct SqsTimer {
    client: Client,
    queue_url: String,
}

impl SqsTimer {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl Timer for SqsTimer {
    async fn schedule(&self, message: &TimerMessage, delay: Duration) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay.min(MAX_DELAY).as_secs() as i32)
            .send()
            .await
            .map_err(|e| super::classify("SendMessage", e))?;
        Ok(())
    }
}

/// Sends refused messages to a dead-letter queue with a `reason` attribute, so an operator
/// sees why without digging through logs.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    client: Client,
    queue_url: String,
}

impl DeadLetters {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Send `body` to the dead-letter queue with `reason` as a message attribute.
    pub async fn park(&self, body: &str, reason: &str) -> Result<(), StoreError> {
        let reason_attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason.chars().take(1000).collect::<String>())
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("reason", reason_attr)
            .send()
            .await
            .map_err(|e| super::classify("SendMessage (DLQ)", e))?;
        tracing::warn!(reason, "message parked in the dead-letter queue");
        Ok(())
    }
}
