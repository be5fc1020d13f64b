//! [`SellerNotices`] in the shoppers table: a seller's notices live in their own partition
//! (`userId = <seller>`) under `sk = NOTE#<at>#<stockVersion>#<noticeId>`, so one descending `Query` lists
//! them newest first, and a notice expires by TTL after [`KEEP_DAYS`].

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::keys::{notice_sk, NOTICE_PREFIX};
use super::{encode, n, s};
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
        super::keep_once(&self.client, &self.table, record).await
    }

    async fn list(
        &self,
        seller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<SellerNotice>, StoreError> {
        super::users_newest_first(
            &self.client,
            &self.table,
            seller.as_str(),
            NOTICE_PREFIX,
            page,
        )
        .await
    }
}
