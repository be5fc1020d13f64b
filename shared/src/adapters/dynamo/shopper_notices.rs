//! [`ShopperNotices`] in the shoppers table, in each shopper's own partition
//! (`userId = <shopper>`):
//!
//! - `sk = INBOX#<at, 13 digits>#<noticeId>`: the inbox, so one descending `Query` lists it
//!   newest first; kept [`KEEP_DAYS`] (TTL);
//! - `sk = NOTIFY#SETTINGS`: preferences, the verified address, the read mark;
//! - `sk = MAIL#<eventId>`: the outbox, one record per message: `state` (`SENDING` with
//!   `leaseUntil`, `SENT` with `messageId`, `PARKED` or `SKIPPED` with `reason`) and
//!   `attempts`; kept [`KEEP_DAYS`] too.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;

use super::{classify, encode, n, s};
use crate::domain::{
    EmailAddress, Notice, NotificationSettings, Page, PageRequest, Timestamp, UserId,
};
use crate::ports::{MailClaim, MailOutcome, ShopperNotices, StoreError};

/// How long notices and outbox records are kept.
pub const KEEP_DAYS: i64 = 180;

const INBOX: &str = "INBOX#";
pub(super) const SETTINGS: &str = "NOTIFY#SETTINGS";
const MAIL: &str = "MAIL#";

/// Shopper notices in the shoppers table.
#[derive(Debug, Clone)]
pub struct DynamoShopperNotices {
    pub(super) client: Client,
    pub(super) table: String,
    /// Transactions (a told restock: the alert's end and its notice together).
    pub(super) transactor: std::sync::Arc<super::transact::Transactor>,
}

impl DynamoShopperNotices {
    /// An adapter over `client` on the named table; `faults` and `clock` as every adapter
    /// that writes transactions takes them.
    pub fn new(
        client: Client,
        table: impl Into<String>,
        faults: std::sync::Arc<super::Faults>,
        clock: std::sync::Arc<dyn crate::ports::Clock>,
    ) -> Self {
        Self {
            transactor: std::sync::Arc::new(super::transact::Transactor::new(
                client.clone(),
                faults,
                clock,
            )),
            client,
            table: table.into(),
        }
    }

    pub(super) fn update(
        &self,
        user: &UserId,
        sk: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("userId", s(user.as_str()))
            .key("sk", s(sk))
    }
}

/// A notice as its inbox record.
pub(super) fn inbox_record(user: &UserId, notice: &Notice) -> Result<super::Record, StoreError> {
    let mut record = encode(notice)?;
    record.insert("userId".into(), s(user.as_str()));
    record.insert(
        "sk".into(),
        s(format!(
            "{INBOX}{:013}#{}",
            notice.at.unix_millis(),
            notice.notice_id
        )),
    );
    record.insert("ttl".into(), expiry(notice.at));
    Ok(record)
}

fn expiry(at: Timestamp) -> AttributeValue {
    n(at.unix_seconds() + KEEP_DAYS * 24 * 3600)
}

#[async_trait]
impl ShopperNotices for DynamoShopperNotices {
    async fn keep(&self, user: &UserId, notice: &Notice) -> Result<bool, StoreError> {
        // The key is the event's time and id: a redelivery meets its own record.
        super::keep_once(&self.client, &self.table, inbox_record(user, notice)?).await
    }

    async fn list(&self, user: &UserId, page: &PageRequest) -> Result<Page<Notice>, StoreError> {
        super::users_newest_first(&self.client, &self.table, user.as_str(), INBOX, page).await
    }

    async fn settings(&self, user: &UserId) -> Result<NotificationSettings, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("userId", s(user.as_str()))
            .key("sk", s(SETTINGS))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(mut record) = out.item else {
            return Ok(NotificationSettings::default());
        };
        record.remove("userId");
        record.remove("sk");
        let mut settings = NotificationSettings::default();
        if let Some(AttributeValue::Bool(b)) = record.get("backInStockMail") {
            settings.back_in_stock_mail = *b;
        }
        if let Some(AttributeValue::S(e)) = record.get("email") {
            settings.email = EmailAddress::try_from(e.clone()).ok();
        }
        if let Some(AttributeValue::N(at)) = record.get("readUpTo") {
            settings.read_up_to = at.parse().ok().map(Timestamp::from_unix_millis);
        }
        Ok(settings)
    }

    async fn set_preferences(
        &self,
        user: &UserId,
        back_in_stock_mail: bool,
    ) -> Result<(), StoreError> {
        self.update(user, SETTINGS)
            .update_expression("SET backInStockMail = :b")
            .expression_attribute_values(":b", AttributeValue::Bool(back_in_stock_mail))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    async fn remember_email(&self, user: &UserId, email: &EmailAddress) -> Result<(), StoreError> {
        self.update(user, SETTINGS)
            .update_expression("SET email = :e")
            .expression_attribute_values(":e", s(email.as_str()))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    async fn mark_read(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        // Only forward: two tabs opening the inbox never move the mark back.
        let result = self
            .update(user, SETTINGS)
            .update_expression("SET readUpTo = :at")
            .condition_expression("attribute_not_exists(readUpTo) OR readUpTo < :at")
            .expression_attribute_values(":at", n(at.unix_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn claim_mail(
        &self,
        user: &UserId,
        key: &str,
        now: Timestamp,
        lease_ms: i64,
    ) -> Result<MailClaim, StoreError> {
        let sk = format!("{MAIL}{key}");
        let result = self
            .update(user, &sk)
            .update_expression(
                "SET #state = :sending, leaseUntil = :until, #ttl = :ttl ADD attempts :one",
            )
            // New, or left SENDING by a holder whose lease ran out.
            .condition_expression(
                "attribute_not_exists(sk) OR (#state = :sending AND leaseUntil < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":sending", s("SENDING"))
            .expression_attribute_values(":until", n(now.unix_millis() + lease_ms))
            .expression_attribute_values(":now", n(now.unix_millis()))
            .expression_attribute_values(":ttl", expiry(now))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let attempt = out
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get("attempts"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Ok(MailClaim::Mine { attempt })
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("userId", s(user.as_str()))
                    .key("sk", s(&sk))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| classify("GetItem", e))?;
                let state = out
                    .item
                    .as_ref()
                    .and_then(|i| i.get("state"))
                    .and_then(|v| v.as_s().ok())
                    .cloned();
                Ok(match state.as_deref() {
                    Some("SENDING") => MailClaim::Busy,
                    _ => MailClaim::Settled,
                })
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn finish_mail(
        &self,
        user: &UserId,
        key: &str,
        outcome: &MailOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sk = format!("{MAIL}{key}");
        let update = self
            .update(user, &sk)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":at", n(now.unix_millis()));
        let update = match outcome {
            MailOutcome::Sent(id) => update
                .update_expression(
                    "SET #state = :s, messageId = :id, settledAt = :at REMOVE leaseUntil",
                )
                .expression_attribute_values(":s", s("SENT"))
                .expression_attribute_values(":id", s(id)),
            MailOutcome::Parked(reason) | MailOutcome::Skipped(reason) => {
                let state = if matches!(outcome, MailOutcome::Parked(_)) {
                    "PARKED"
                } else {
                    "SKIPPED"
                };
                update
                    .update_expression(
                        "SET #state = :s, reason = :r, settledAt = :at REMOVE leaseUntil",
                    )
                    .expression_attribute_values(":s", s(state))
                    .expression_attribute_values(":r", s(reason))
            }
            // Released: the next delivery may claim it at once.
            MailOutcome::Retry(error) => update
                .update_expression("SET leaseUntil = :at, lastError = :r")
                .expression_attribute_values(":r", s(error)),
        };
        update.send().await.map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }
}
