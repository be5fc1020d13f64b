//! [`RestockAlerts`], [`Suppressions`] and [`Unsubscribes`] in the shoppers table, beside
//! the inbox and outbox ([`super::DynamoShopperNotices`]):
//!
//! - `userId = <shopper>, sk = RESTOCK#<itemId>`: a "notify me", with `since` and
//!   `restockItem` (the `byRestockItem` index: the shoppers waiting on one item, for the
//!   fan-out);
//! - `userId = SUPPRESSED#<sha-256 of the address>, sk = MAIL`: an address mail must not go
//!   to, with the reason (the address itself is not stored: only a bounce or complaint that
//!   names it again can find it);
//! - `userId = UNSUBSCRIBE#<token>, sk = TOKEN`: whose one-click unsubscribe token it is
//!   (the token is also on the shopper's settings record, `unsubscribeToken`).

use async_trait::async_trait;

use super::keys::user_key;
use super::shopper_notices::{inbox_record, SETTINGS};
use super::transact::{self, TransactFailure, Tx};
use super::{classify, cursor, n, s, DynamoShopperNotices};
use crate::domain::{Cursor, EmailAddress, ItemId, Notice, Page, RestockAlert, Timestamp, UserId};
use crate::ports::{AlertEnd, RestockAlerts, StoreError, Suppressions, Unsubscribes, Watched};

const RESTOCK: &str = "RESTOCK#";
/// The index of alerts by item (`restockItem`, `userId`).
pub const BY_RESTOCK_ITEM: &str = "byRestockItem";

fn alert_key(user: &UserId, item: ItemId) -> super::Record {
    user_key(user, &format!("{RESTOCK}{item}"))
}

fn suppression_key(address: &EmailAddress) -> super::Record {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(address.normalised().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    std::collections::HashMap::from([
        ("userId".to_owned(), s(format!("SUPPRESSED#{hex}"))),
        ("sk".to_owned(), s("MAIL")),
    ])
}

fn token_key(token: &str) -> super::Record {
    std::collections::HashMap::from([
        ("userId".to_owned(), s(format!("UNSUBSCRIBE#{token}"))),
        ("sk".to_owned(), s("TOKEN")),
    ])
}

/// The parts of this adapter's transactions, by which a cancellation is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The shopper's restock alert (ended).
    Alert,
    /// The inbox notice (kept once).
    Notice,
    /// The settings record's unsubscribe token (set once).
    Settings,
    /// The token's owner record (written once).
    Owner,
}

#[async_trait]
impl RestockAlerts for DynamoShopperNotices {
    async fn watch(
        &self,
        user: &UserId,
        item: ItemId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Watched, StoreError> {
        let existing = self.watching(user).await?;
        if existing.iter().any(|a| a.item_id == item) {
            return Ok(Watched::Already);
        }
        // A soft cap: two requests at once may pass it by one each, which costs nothing.
        if existing.len() >= limit {
            return Ok(Watched::TooMany);
        }
        let mut record = alert_key(user, item);
        record.insert("since".into(), n(now.unix_millis()));
        record.insert("restockItem".into(), s(item.to_string()));
        let put = super::conditional_put(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(record))
                .condition_expression("attribute_not_exists(sk)")
                .send()
                .await,
        )?;
        Ok(if put { Watched::New } else { Watched::Already })
    }

    async fn unwatch(&self, user: &UserId, item: ItemId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(alert_key(user, item)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(out.attributes.is_some())
    }

    async fn watching(&self, user: &UserId) -> Result<Vec<RestockAlert>, StoreError> {
        let records = super::every_page(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("userId = :u AND begins_with(sk, :p)")
                .expression_attribute_values(":u", s(user.as_str()))
                .expression_attribute_values(":p", s(RESTOCK))
                .consistent_read(true),
        )
        .await?;
        let mut alerts = Vec::with_capacity(records.len());
        for record in &records {
            let item = record
                .get("restockItem")
                .and_then(|v| v.as_s().ok())
                .and_then(|v| ItemId::try_from(v.as_str()).ok());
            let since = record
                .get("since")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .map(Timestamp::from_unix_millis);
            match (item, since) {
                (Some(item_id), Some(since)) => alerts.push(RestockAlert { item_id, since }),
                _ => return Err(StoreError::Corrupt("restock alert record".into())),
            }
        }
        alerts.sort_by_key(|a| std::cmp::Reverse(a.since));
        Ok(alerts)
    }

    async fn watchers(
        &self,
        item: ItemId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserId>, StoreError> {
        let item_text = item.to_string();
        let start = match after {
            Some(c) => Some(cursor::decode(
                &Cursor(c.to_owned()),
                &["restockItem", "userId", "sk"],
                ("restockItem", &item_text),
            )?),
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_RESTOCK_ITEM)
            .key_condition_expression("restockItem = :i")
            .expression_attribute_values(":i", s(&item_text))
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let items = out
            .items()
            .iter()
            .filter_map(|r| r.get("userId")?.as_s().ok())
            .map(|u| UserId::try_from(u.as_str()).map_err(StoreError::Corrupt))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: cursor::encode(out.last_evaluated_key()),
        })
    }

    async fn end_with_notice(
        &self,
        user: &UserId,
        item: ItemId,
        notice: &Notice,
    ) -> Result<AlertEnd, StoreError> {
        let mut tx = Tx::new();
        tx.add(
            Part::Alert,
            transact::delete_if(
                &self.table,
                alert_key(user, item),
                Some("attribute_exists(sk)"),
            )?,
        );
        tx.add(
            Part::Notice,
            transact::put(
                &self.table,
                inbox_record(user, notice)?,
                Some("attribute_not_exists(sk)"),
                &[],
                vec![],
            )?,
        );
        match self.transactor.write(tx).await {
            Ok(()) => Ok(AlertEnd::Ended),
            // The notice is there: this event was told before (the alert ended then, or is
            // a new one the shopper asked for since, which stays).
            Err(TransactFailure::Cancelled(why)) if why.failed_on(&Part::Notice) => {
                Ok(AlertEnd::ToldBefore)
            }
            Err(TransactFailure::Cancelled(why)) if why.failed_on(&Part::Alert) => {
                Ok(AlertEnd::NotWaiting)
            }
            Err(TransactFailure::Cancelled(why)) => {
                Err(TransactFailure::unexpected(&why, "a restock notice"))
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }
}

#[async_trait]
impl Suppressions for DynamoShopperNotices {
    async fn suppressed(&self, address: &EmailAddress) -> Result<Option<String>, StoreError> {
        super::read_string(
            &self.client,
            &self.table,
            suppression_key(address),
            "reason",
        )
        .await
    }

    async fn suppress(
        &self,
        address: &EmailAddress,
        reason: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut record = suppression_key(address);
        record.insert("reason".into(), s(reason));
        record.insert("at".into(), n(at.unix_millis()));
        super::keep_once(&self.client, &self.table, record).await
    }
}

#[async_trait]
impl Unsubscribes for DynamoShopperNotices {
    async fn token(&self, user: &UserId) -> Result<String, StoreError> {
        let settings = user_key(user, SETTINGS);
        for _ in 0..3 {
            if let Some(token) = super::read_string(
                &self.client,
                &self.table,
                settings.clone(),
                "unsubscribeToken",
            )
            .await?
            {
                return Ok(token);
            }
            let token = new_token();
            let mut owner = token_key(&token);
            owner.insert("owner".into(), s(user.as_str()));
            let mut tx = Tx::new();
            tx.add(
                Part::Settings,
                transact::update(
                    &self.table,
                    settings.clone(),
                    "SET unsubscribeToken = :t",
                    Some("attribute_not_exists(unsubscribeToken)"),
                    &[],
                    vec![(":t", s(&token))],
                )?,
            );
            tx.add(
                Part::Owner,
                transact::put(
                    &self.table,
                    owner,
                    Some("attribute_not_exists(sk)"),
                    &[],
                    vec![],
                )?,
            );
            match self.transactor.write(tx).await {
                Ok(()) => return Ok(token),
                // Another delivery made the shopper's token first: read it.
                Err(TransactFailure::Cancelled(why)) if why.only_conditions() => continue,
                Err(TransactFailure::Cancelled(why)) => {
                    return Err(TransactFailure::unexpected(&why, "an unsubscribe token"))
                }
                Err(TransactFailure::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Contention(
            "the unsubscribe token kept changing".into(),
        ))
    }

    async fn unsubscribe(&self, token: &str) -> Result<Option<UserId>, StoreError> {
        let Some(owner) =
            super::read_string(&self.client, &self.table, token_key(token), "owner").await?
        else {
            return Ok(None);
        };
        let user = UserId::try_from(owner.as_str()).map_err(StoreError::Corrupt)?;
        crate::ports::ShopperNotices::set_preferences(self, &user, false).await?;
        Ok(Some(user))
    }
}

/// 256 random bits, base64url: a token nobody can guess.
fn new_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
