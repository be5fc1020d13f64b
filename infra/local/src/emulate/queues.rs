//! Delivering SQS messages from moto to a handler the way Lambda's SQS event source mapping
//! does: a batch becomes an `SqsEvent`; messages the handler does not report as failed are
//! deleted; failed ones become visible again after the visibility timeout, and moto's
//! redrive policy moves them to the dead-letter queue after `maxReceiveCount`.

use anyhow::Result;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::json;

/// Receive up to `max` messages (waiting at most `wait_seconds`) as one Lambda event.
/// Returns the event and the receipt handles by message id.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: i32,
    wait_seconds: i32,
) -> Result<Option<(SqsEvent, Vec<(String, String)>)>> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max.clamp(1, 10))
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(None);
    }
    let arn = format!(
        "arn:aws:sqs:us-east-1:{}:{}",
        crate::template::MOTO_ACCOUNT,
        queue_url.rsplit('/').next().unwrap_or("")
    );
    let mut handles = Vec::new();
    let records: Vec<_> = messages
        .iter()
        .map(|m| {
            let id = m.message_id.clone().unwrap_or_default();
            handles.push((id.clone(), m.receipt_handle.clone().unwrap_or_default()));
            let mut attributes: std::collections::HashMap<String, String> = m
                .attributes
                .as_ref()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            // SQS's own record of who sent it, as the IAM proxy in front of moto saw it.
            if let Some(sender) = m
                .message_attributes
                .as_ref()
                .and_then(|a| a.get(crate::iam::SENDER_ATTRIBUTE))
                .and_then(|v| v.string_value.clone())
            {
                attributes.insert("SenderId".into(), sender);
            }
            json!({
                "messageId": id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "md5OfBody": m.md5_of_body,
                "attributes": attributes,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(json!({ "Records": records }))?;
    Ok(Some((event, handles)))
}

/// Delete the messages a handler did not report as failed.
pub async fn settle(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    handles: &[(String, String)],
    response: &SqsBatchResponse,
) -> Result<()> {
    for (id, handle) in handles {
        if response
            .batch_item_failures
            .iter()
            .any(|f| &f.item_identifier == id)
        {
            continue;
        }
        sqs.delete_message()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .send()
            .await?;
    }
    Ok(())
}
