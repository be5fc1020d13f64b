//! SQS adapters: the checkout [`Timer`] (delayed messages), a [`MessageQueue`] sent to in
//! batches (with the redelivery delay a consumer sets on a message it will retry), and the
//! dead-letter sender that parks a poison message with the reason it was refused.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;
use aws_sdk_sqs::Client;

use crate::ports::{MessageQueue, StoreError, Timer, TimerMessage};

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

/// Messages per `SendMessageBatch` (SQS's limit).
const BATCH: usize = 10;
/// Batches in flight at once.
const BATCHES_IN_FLIGHT: usize = 8;

/// One SQS queue: sent to in batches, and its messages' redelivery delayed.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    /// The queue at `queue_url`.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Make a received message visible again only after `delay` (at most 12 hours), which
    /// sets when SQS redelivers it once its consumer reports it failed
    /// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
    pub async fn delay(&self, receipt_handle: &str, delay: Duration) -> Result<(), StoreError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(delay.as_secs().min(43_200) as i32)
            .send()
            .await
            .map_err(|e| super::classify("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Put one body on the queue.
    pub async fn send(&self, body: &str) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| super::classify("SendMessage", e))?;
        Ok(())
    }

    async fn send_batch(&self, bodies: &[String]) -> Result<(), StoreError> {
        let mut pending: Vec<(String, &String)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i.to_string(), b))
            .collect();
        // A batch can succeed in part: the failed entries are sent again, a few times.
        for _ in 0..3 {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(*body)
                        .build()
                        .map_err(|e| StoreError::Unavailable(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| super::classify("SendMessageBatch", e))?;
            let failed: std::collections::HashSet<&str> =
                out.failed().iter().map(|f| f.id()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            pending.retain(|(id, _)| failed.contains(id.as_str()));
        }
        Err(StoreError::Unavailable(format!(
            "{} messages of a batch were not taken",
            pending.len()
        )))
    }
}

#[async_trait]
impl MessageQueue for SqsQueue {
    async fn send_all(&self, bodies: &[String]) -> Result<(), StoreError> {
        use futures_util::stream::{self, TryStreamExt};
        stream::iter(bodies.chunks(BATCH).map(Ok))
            .try_for_each_concurrent(BATCHES_IN_FLIGHT, |chunk| self.send_batch(chunk))
            .await
    }
}
