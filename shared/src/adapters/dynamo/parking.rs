//! [`Parking`] on the idempotency table (one record per failing work key, `retry#<key>`,
//! kept 30 days) and the timer's dead-letter queue (where the TimerDeadLetters alarm tells
//! an operator). A failure is counted with one `UpdateItem ... ADD tries`, so two sweeper
//! runs that overlap count both of their failures.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::Client;

use super::{batch_get, classify, n, s, Record};
use crate::adapters::sqs::DeadLetters;
use crate::domain::{Failures, Timestamp};
use crate::ports::{Parking, StoreError};

/// How long a failure record is kept after its last failure (parked ones too: an
/// operator has a month to look before the sweeper would try again).
const KEPT_SECONDS: i64 = 30 * 24 * 3600;

/// Failure records in DynamoDB, parked work in a dead-letter queue.
#[derive(Debug, Clone)]
pub struct DynamoParking {
    client: Client,
    table: String,
    dead_letters: DeadLetters,
}

fn key_of(work: &str) -> Record {
    HashMap::from([("key".to_owned(), s(format!("retry#{work}")))])
}

fn failures_of(record: &Record) -> Result<Failures, StoreError> {
    let text = |name: &str| {
        record
            .get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("failure record without {name}")))
    };
    Ok(Failures {
        tries: super::number(record, "tries")?,
        last_at: Timestamp::try_from(text("lastAt")?)
            .map_err(|e| StoreError::Corrupt(format!("failure record lastAt: {e}")))?,
        reason: text("reason")?,
        parked: record
            .get("parked")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
    })
}

impl DynamoParking {
    /// Failure records in `table` (the idempotency table); parked work to `dead_letters`.
    pub fn new(client: Client, table: impl Into<String>, dead_letters: DeadLetters) -> Self {
        Self {
            client,
            table: table.into(),
            dead_letters,
        }
    }
}

#[async_trait]
impl Parking for DynamoParking {
    async fn failures(&self, keys: &[String]) -> Result<HashMap<String, Failures>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = batch_get(
            &self.client,
            &self.table,
            keys.iter().map(|k| key_of(k)).collect(),
            true,
        )
        .await?;
        rows.iter()
            .map(|row| {
                let key = row
                    .get("key")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|k| k.strip_prefix("retry#"))
                    .unwrap_or_default()
                    .to_owned();
                Ok((key, failures_of(row)?))
            })
            .collect()
    }

    async fn failed(
        &self,
        key: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<Failures, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .update_expression("ADD tries :one SET lastAt = :now, reason = :why, #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":why", s(reason.chars().take(1000).collect::<String>()))
            .expression_attribute_values(":ttl", n(now.unix_seconds() + KEPT_SECONDS))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        failures_of(&out.attributes.unwrap_or_default())
    }

    async fn park(&self, key: &str, message: &str, reason: &str) -> Result<(), StoreError> {
        // The message first: a crash between the two leaves the record unparked, so the
        // next run parks it again (a duplicate notice, never a lost one).
        self.dead_letters.park(message, reason).await?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .update_expression("SET parked = :yes")
            .expression_attribute_values(
                ":yes",
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            )
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    async fn cleared(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }
}
