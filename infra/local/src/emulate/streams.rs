//! Reading DynamoDB Local's streams the way Lambda's event source mapping reads DynamoDB
//! Streams, and handing records over in the exact shape Lambda delivers.
//!
//! DynamoDB Local marks TTL deletions differently from AWS: its stream record says
//! `eventName: "UNKNOWN_TO_SDK_VERSION"` and carries no `userIdentity`. AWS says `REMOVE`
//! with `userIdentity {type: Service, principalId: dynamodb.amazonaws.com}`, and that is what
//! the template's filters and the functions look for, so [`to_lambda_record`] rewrites it.

use std::collections::HashMap;

use anyhow::{Context, Result};
use aws_lambda_events::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::types::{OperationType, Record, ShardIteratorType};
use serde_json::{json, Value};

/// Reads one table's stream from the start (`TRIM_HORIZON`), shard by shard.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
    region: String,
    /// Shard id → next iterator (`None` once the shard is closed and drained).
    iterators: HashMap<String, Option<String>>,
    /// Shard id → last sequence number delivered, to resume after a lost iterator.
    last: HashMap<String, String>,
}

impl StreamReader {
    /// Open the stream of `table` (which must have one).
    pub async fn open(
        dynamo: &aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
    ) -> Result<Self> {
        let described = dynamo.describe_table().table_name(table).send().await?;
        let arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .with_context(|| format!("table {table} has no stream"))?;
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        Ok(Self {
            client: streams,
            arn,
            region,
            iterators: HashMap::new(),
            last: HashMap::new(),
        })
    }

    /// Pick up shards not seen before.
    async fn discover(&mut self) -> Result<()> {
        let shards = self
            .client
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await?;
        for shard in shards
            .stream_description
            .map(|d| d.shards.unwrap_or_default())
            .unwrap_or_default()
        {
            let Some(id) = shard.shard_id else { continue };
            if self.iterators.contains_key(&id) {
                continue;
            }
            // Resume after the last record delivered if this shard was read before.
            let request = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.arn)
                .shard_id(&id);
            let request = match self.last.get(&id) {
                Some(seq) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let iterator = request.send().await?.shard_iterator;
            self.iterators.insert(id, iterator);
        }
        Ok(())
    }

    /// Every record that arrived since the last poll, in Lambda's shape, oldest first per shard.
    pub async fn poll(&mut self) -> Result<Vec<EventRecord>> {
        self.discover().await?;
        let mut records = Vec::new();
        let shard_ids: Vec<String> = self.iterators.keys().cloned().collect();
        for shard in shard_ids {
            let Some(Some(iterator)) = self.iterators.get(&shard).cloned() else {
                continue;
            };
            let out = match self
                .client
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    // Take a fresh iterator on the next poll (after the last record delivered, or
                    // TRIM_HORIZON). DynamoDB Local needs this: a TRIM_HORIZON iterator taken
                    // while a shard was empty fails with TrimmedDataAccessException once other
                    // tables' writes have moved its global sequence counter on; a fresh one reads
                    // the shard fine. One bad shard never stops the others.
                    let reason =
                        aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
                    self.iterators.remove(&shard);
                    // Stdout, like the gateway's own lines: one stream, so lines never interleave.
                    println!(
                        "{}",
                        serde_json::json!({ "stream": self.arn, "shard": shard, "error": reason })
                    );
                    continue;
                }
            };
            for record in out.records.unwrap_or_default() {
                if let Some(seq) = record
                    .dynamodb
                    .as_ref()
                    .and_then(|c| c.sequence_number.clone())
                {
                    self.last.insert(shard.clone(), seq);
                }
                records.push(to_lambda_record(&record, &self.arn, &self.region)?);
            }
            self.iterators.insert(shard, out.next_shard_iterator);
        }
        Ok(records)
    }
}

fn image(map: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>) -> Value {
    match map {
        Some(m) => serde_json::to_value(serde_dynamo::Item::from(m.clone())).unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// One stream record as Lambda would deliver it (JSON), TTL deletions rewritten to AWS's shape.
pub fn lambda_json(record: &Record, arn: &str, region: &str) -> Value {
    let change = record.dynamodb.as_ref();
    let (event_name, ttl) = match &record.event_name {
        Some(OperationType::Insert) => ("INSERT", false),
        Some(OperationType::Modify) => ("MODIFY", false),
        Some(OperationType::Remove) => ("REMOVE", record.user_identity.is_some()),
        // DynamoDB Local's TTL deletion ("UNKNOWN_TO_SDK_VERSION", no userIdentity).
        _ => ("REMOVE", true),
    };
    let mut event = json!({
        "eventID": record.event_id,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": arn,
        "dynamodb": {
            "ApproximateCreationDateTime": change.and_then(|c| c.approximate_creation_date_time).map(|t| t.secs()).unwrap_or(0),
            "Keys": image(change.and_then(|c| c.keys.as_ref())),
            "NewImage": image(change.and_then(|c| c.new_image.as_ref())),
            "OldImage": image(change.and_then(|c| c.old_image.as_ref())),
            "SequenceNumber": change.and_then(|c| c.sequence_number.clone()),
            "SizeBytes": change.and_then(|c| c.size_bytes).unwrap_or(0),
            "StreamViewType": change.and_then(|c| c.stream_view_type.as_ref()).map(|v| v.as_str().to_owned()),
        },
    });
    if ttl {
        event["userIdentity"] =
            json!({ "type": "Service", "principalId": "dynamodb.amazonaws.com" });
    }
    event
}

/// [`lambda_json`], parsed into the event type the functions receive.
pub fn to_lambda_record(record: &Record, arn: &str, region: &str) -> Result<EventRecord> {
    serde_json::from_value(lambda_json(record, arn, region))
        .context("stream record does not fit Lambda's shape")
}
