//! [`Requests`] on the idempotency table: one record per `Idempotency-Key` (scoped by route
//! and user), `IN_FLIGHT` while its request runs and `DONE` with the answer after.
//!
//! A claim is one conditional `PutItem` that answers the existing record when it fails
//! (`ReturnValuesOnConditionCheckFailure`), so a fresh request costs a single round trip.
//! An in-flight record carries a lease: a request that crashed does not block its key
//! forever, and a record past its own expiry counts as absent before TTL removes it.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use aws_sdk_dynamodb::Client;

use super::transact::MARKER_TTL_SECONDS;
use super::{classify, n, s, Record};
use crate::domain::Timestamp;
use crate::ports::{Clock, Receipt, RequestClaim, Requests, StoreError};

/// How long an in-flight claim keeps its key from others: longer than any request runs.
const LEASE_MILLIS: i64 = 60_000;
const IN_FLIGHT: &str = "IN_FLIGHT";
const DONE: &str = "DONE";

/// Idempotency records in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoRequests {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoRequests {
    /// An adapter over `client` on the named table, reading the time from `clock`.
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    async fn put_claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        condition: &str,
        values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
    ) -> Result<Option<Record>, StoreError> {
        let record = HashMap::from([
            ("key".to_owned(), s(key)),
            ("fingerprint".to_owned(), s(fingerprint)),
            ("state".to_owned(), s(IN_FLIGHT)),
            ("leaseUntil".to_owned(), n(now.unix_millis() + LEASE_MILLIS)),
            ("ttl".to_owned(), n(now.unix_seconds() + MARKER_TTL_SECONDS)),
        ]);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression(condition)
            .expression_attribute_names("#k", "key")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if condition.contains("#ttl") {
            put = put.expression_attribute_names("#ttl", "ttl");
        }
        for (k, v) in values {
            put = put.expression_attribute_values(k, v);
        }
        match put.send().await {
            Ok(_) => Ok(None),
            Err(e) => {
                if let Some(PutItemError::ConditionalCheckFailedException(failed)) =
                    e.as_service_error()
                {
                    return Ok(Some(failed.item.clone().unwrap_or_default()));
                }
                Err(classify("PutItem", e))
            }
        }
    }
}

/// The `DONE` record of a receipt (also written inside the effect's own transaction).
pub(crate) fn done_record(receipt: &Receipt, now: Timestamp) -> Record {
    HashMap::from([
        ("key".to_owned(), s(&receipt.key)),
        ("fingerprint".to_owned(), s(&receipt.fingerprint)),
        ("state".to_owned(), s(DONE)),
        ("outcome".to_owned(), s(receipt.outcome.to_string())),
        ("ttl".to_owned(), n(now.unix_seconds() + MARKER_TTL_SECONDS)),
    ])
}

fn text(record: &Record, name: &str) -> String {
    record
        .get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl Requests for DynamoRequests {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<RequestClaim, StoreError> {
        let fresh = "attribute_not_exists(#k) OR #ttl < :now";
        let Some(old) = self
            .put_claim(
                key,
                fingerprint,
                now,
                fresh,
                vec![(":now", n(now.unix_seconds()))],
            )
            .await?
        else {
            return Ok(RequestClaim::Fresh);
        };
        if text(&old, "fingerprint") != fingerprint {
            return Ok(RequestClaim::Reused);
        }
        if text(&old, "state") == DONE {
            let outcome = serde_json::from_str(&text(&old, "outcome"))
                .map_err(|e| StoreError::Corrupt(format!("idempotency outcome: {e}")))?;
            return Ok(RequestClaim::Replay(outcome));
        }
        let lease = super::counter(&old, "leaseUntil")? as i64;
        if lease >= now.unix_millis() {
            return Ok(RequestClaim::InFlight);
        }
        // The request that claimed it stopped without an answer: take over its lease, once.
        let take_over = "fingerprint = :fp AND #state = :inflight AND leaseUntil = :lease";
        let retaken = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                ("key".to_owned(), s(key)),
                ("fingerprint".to_owned(), s(fingerprint)),
                ("state".to_owned(), s(IN_FLIGHT)),
                ("leaseUntil".to_owned(), n(now.unix_millis() + LEASE_MILLIS)),
                ("ttl".to_owned(), n(now.unix_seconds() + MARKER_TTL_SECONDS)),
            ])))
            .condition_expression(take_over)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":fp", s(fingerprint))
            .expression_attribute_values(":inflight", s(IN_FLIGHT))
            .expression_attribute_values(":lease", n(lease))
            .send()
            .await;
        Ok(match super::conditional_put(retaken)? {
            true => RequestClaim::Fresh,
            false => RequestClaim::InFlight,
        })
    }

    async fn finish(&self, receipt: &Receipt) -> Result<(), StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(done_record(receipt, self.clock.now())))
            .condition_expression("attribute_not_exists(#k) OR fingerprint = :fp")
            .expression_attribute_names("#k", "key")
            .expression_attribute_values(":fp", s(&receipt.fingerprint))
            .send()
            .await;
        super::conditional_put(out).map(|_| ())
    }

    async fn abandon(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("key", s(key))
            .condition_expression("fingerprint = :fp AND #state = :inflight")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":fp", s(fingerprint))
            .expression_attribute_values(":inflight", s(IN_FLIGHT))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("DeleteItem", e)),
        }
    }
}
