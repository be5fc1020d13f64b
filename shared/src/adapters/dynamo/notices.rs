//! [`SellerNotices`] in the shoppers table: a seller's notices live in their own partition
//! (`userId = <seller>`) under `sk = NOTE#<at>#<stockVersion>#<noticeId>`, so one descending `Query` lists
//! them newest first, and a notice expires by TTL after [`KEEP_DAYS`].

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::keys::{notice_sk, NOTICE_PREFIX};
use super::{classify, conditional_put, cursor, decode, encode, n, s};
use crate::domain::{Page, PageRequest, SellerNotice, UserId};
use crate::ports::{SellerNotices, StoreError};

/// How long a notice is kept.
pub const KEEP_DAYS: i64 = 90;

/// Seller notices in the shoppers table.
#[derive(Debug, Clone)]
pub struct DynamoSellerNotices {
    client: Client,
    table: String,
}

impl DynamoSellerNotices {
    /// An adapter over `client` on the named table.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl SellerNotices for DynamoSellerNotices {
    async fn keep(&self, notice: &SellerNotice) -> Result<bool, StoreError> {
        let mut record = encode(notice)?;
        record.insert("userId".into(), s(notice.seller_id.as_str()));
        record.insert(
            "sk".into(),
            s(notice_sk(
                notice.at,
                notice.stock_version,
                &notice.notice_id,
            )),
        );
        let expires = notice.at.unix_seconds() + KEEP_DAYS * 24 * 3600;
        record.insert("ttl".into(), n(expires));
        // The key is the event's time and id: a redelivery meets its own record.
        conditional_put(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(record))
                .condition_expression("attribute_not_exists(sk)")
                .send()
                .await,
        )
    }

    async fn list(
        &self,
        seller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<SellerNotice>, StoreError> {
        let start = match &page.cursor {
            Some(c) => {
                let key = cursor::decode(c, &["userId", "sk"], ("userId", seller.as_str()))?;
                let in_listing = key
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk.starts_with(NOTICE_PREFIX));
                if !in_listing {
                    return Err(StoreError::BadCursor);
                }
                Some(key)
            }
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("userId = :u AND begins_with(sk, :p)")
            .expression_attribute_values(":u", s(seller.as_str()))
            .expression_attribute_values(":p", s(NOTICE_PREFIX))
            .scan_index_forward(false)
            .limit(page.limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let next_cursor = cursor::encode(out.last_evaluated_key());
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|mut r| {
                for k in ["userId", "sk", "ttl"] {
                    r.remove(k);
                }
                decode(r)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
