//! [`OrderArchive`] on an S3 bucket. The layout (README "Order history"):
//!
//! - `orders/<orderId>.json`: the order as the API shows it, one JSON object on one line
//!   (the Glue table `archived_orders` reads this prefix; Athena queries it);
//! - `shoppers/<userId>/<13-digit inverted creation millis>-<orderId>`: an empty object per
//!   order, so listing a shopper's prefix walks their history newest first (S3 lists keys in
//!   ascending UTF-8 order), equal times by id.
//!
//! Writes are idempotent: the copy is a conditional `PutObject` (`If-None-Match: *`), so an
//! order already archived is not written again, and a copy that differs (the order changed
//! between two runs) is replaced in place
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::classify;
use crate::domain::{HistoryPosition, Order, OrderId, Timestamp, UserId};
use crate::ports::{OrderArchive, StoreError};

/// Millisecond times up to the year 2286 fit in 13 digits; inverted, later sorts first.
const LATEST_MILLIS: i64 = 9_999_999_999_999;

/// The archive bucket.
#[derive(Debug, Clone)]
pub struct S3OrderArchive {
    client: Client,
    bucket: String,
}

impl S3OrderArchive {
    /// An archive in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// The key of an order's archive copy.
pub fn order_key(id: OrderId) -> String {
    format!("orders/{id}.json")
}

/// Where a shopper's archived history is listed.
fn history_prefix(user: &UserId) -> String {
    format!("shoppers/{user}/")
}

/// The time part of a history key: later times sort first.
fn inverted(at: Timestamp) -> String {
    format!(
        "{:013}",
        LATEST_MILLIS - at.unix_millis().clamp(0, LATEST_MILLIS)
    )
}

/// The history entry of an order.
pub fn history_key(user: &UserId, position: HistoryPosition) -> String {
    format!(
        "{}{}-{}",
        history_prefix(user),
        inverted(position.created_at),
        position.order_id
    )
}

/// The position a history key names, if it is one.
fn position_of(key: &str, prefix: &str) -> Option<HistoryPosition> {
    let (time, id) = key.strip_prefix(prefix)?.split_once('-')?;
    let millis = LATEST_MILLIS - time.parse::<i64>().ok()?;
    Some(HistoryPosition {
        created_at: Timestamp::from_unix_millis(millis),
        order_id: OrderId::try_from(id).ok()?,
    })
}

/// The archive's form of an order: the order's own JSON on one line.
fn body(order: &Order) -> Result<Vec<u8>, StoreError> {
    let mut bytes = serde_json::to_vec(order).map_err(|e| StoreError::Bug(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Whether an S3 failure is "no such key" (a HEAD answers a bare 404, without a code); the
/// image adapter's reads use it too.
pub(crate) fn missing<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(err.code(), Some("NoSuchKey" | "NotFound"))
        || err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 404)
}

impl S3OrderArchive {
    async fn read(&self, id: OrderId) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(order_key(id))
            .send()
            .await
        {
            Ok(out) => {
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("GetObject body: {e}")))?;
                Ok(Some(bytes.to_vec()))
            }
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(classify("GetObject", e)),
        }
    }

    async fn put(&self, key: String, bytes: Vec<u8>, only_new: bool) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        let put = if only_new {
            put.if_none_match("*")
        } else {
            put
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("PreconditionFailed") => Ok(false),
            Err(e) => Err(classify("PutObject", e)),
        }
    }
}

#[async_trait]
impl OrderArchive for S3OrderArchive {
    async fn copy(&self, order: &Order) -> Result<(), StoreError> {
        let bytes = body(order)?;
        if self
            .put(order_key(order.order_id), bytes.clone(), true)
            .await?
        {
            return Ok(());
        }
        // Already archived: leave an identical copy alone, replace one that differs.
        if self.read(order.order_id).await?.as_deref() != Some(&bytes[..]) {
            self.put(order_key(order.order_id), bytes, false).await?;
        }
        Ok(())
    }

    async fn index(&self, order: &Order) -> Result<(), StoreError> {
        let key = history_key(&order.user_id, HistoryPosition::of(order));
        self.put(key, Vec::new(), true).await.map(|_| ())
    }

    async fn holds(&self, order: &Order) -> Result<bool, StoreError> {
        if self.read(order.order_id).await?.as_deref() != Some(&body(order)?[..]) {
            return Ok(false);
        }
        let key = history_key(&order.user_id, HistoryPosition::of(order));
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if missing(&e) => Ok(false),
            Err(e) => Err(classify("HeadObject", e)),
        }
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.read(id)
            .await?
            .map(|bytes| {
                serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Corrupt(format!("archived order {id}: {e}")))
            })
            .transpose()
    }

    async fn history(
        &self,
        user: &UserId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        after: Option<HistoryPosition>,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError> {
        let prefix = history_prefix(user);
        // Start after the later of the cursor's entry and the newest time asked for (a bare
        // time sorts before every entry of that millisecond).
        let start = [
            after.map(|p| history_key(user, p)),
            to.map(|t| format!("{prefix}{}", inverted(t))),
        ]
        .into_iter()
        .flatten()
        .max();
        let mut found = Vec::new();
        let mut token = None;
        'pages: loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_start_after(if token.is_none() { start.clone() } else { None })
                .set_continuation_token(token.take())
                .max_keys(limit.clamp(1, 1000) as i32)
                .send()
                .await
                .map_err(|e| classify("ListObjectsV2", e))?;
            for object in out.contents() {
                let Some(position) = object.key().and_then(|k| position_of(k, &prefix)) else {
                    continue;
                };
                if from.is_some_and(|f| position.created_at < f) || found.len() == limit {
                    break 'pages;
                }
                found.push(position.order_id);
            }
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        let reads = found.iter().map(|id| self.get(*id));
        let orders = futures_util::future::try_join_all(reads).await?;
        // An entry whose copy is gone cannot be shown; the copy is written first, so only a
        // hand-deleted object does this.
        Ok(orders.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keys_sort_newest_first_then_by_id() {
        let user = UserId::try_from("shopper-1".to_owned()).unwrap();
        let at = |ms| Timestamp::from_unix_millis(ms);
        let id = |s: &str| OrderId::try_from(s).unwrap();
        let a = "00000000-0000-4000-8000-000000000001";
        let b = "00000000-0000-4000-8000-000000000002";
        let mut keys = vec![
            history_key(
                &user,
                HistoryPosition {
                    created_at: at(1_000),
                    order_id: id(a),
                },
            ),
            history_key(
                &user,
                HistoryPosition {
                    created_at: at(2_000),
                    order_id: id(b),
                },
            ),
            history_key(
                &user,
                HistoryPosition {
                    created_at: at(2_000),
                    order_id: id(a),
                },
            ),
        ];
        keys.sort();
        let positions: Vec<_> = keys
            .iter()
            .map(|k| position_of(k, &history_prefix(&user)).unwrap())
            .collect();
        assert_eq!(
            positions
                .iter()
                .map(|p| (p.created_at.unix_millis(), p.order_id.to_string()))
                .collect::<Vec<_>>(),
            vec![
                (2_000, a.to_owned()),
                (2_000, b.to_owned()),
                (1_000, a.to_owned())
            ]
        );
    }
}
