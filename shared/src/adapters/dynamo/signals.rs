//! [`SignalCounts`] in the signals table (`pk`, `sk`; the sparse `byCount` index on `gpk`,
//! `n` ranks a counter's subjects):
//!
//! - `pk = <counter key>, sk = <item id or query>`: a count `n`, with `gpk = pk` so the index
//!   serves "the top of this counter" as one query, and a TTL;
//! - `pk = seen#<first counter key>, sk = <subject>#<shopper or delivery>`: counted in
//!   that bucket (written in the same transaction as the counts, so a redelivered signal
//!   counts nothing);
//! - `pk = bought#<shopper>, sk = <item id>`: a purchase, `at`; `sk = #` keeps how many, the
//!   version concurrent orders of one shopper are serialised on;
//! - `pk = co#<item>, sk = <other item>`: shoppers who bought both (`gpk`, `n` as counters);
//! - `pk = searches#<shopper>, sk = <query>`: a recent search, `at`, kept 30 days.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::transact::{TransactFailure, Transactor, Tx};
use super::{classify, n, s, Record};
use crate::domain::signal::Tally;
use crate::domain::{ItemId, Timestamp, UserId};
use crate::ports::{SignalCounts, StoreError};

/// The index ranking each counter's subjects by count.
pub const BY_COUNT: &str = "byCount";
/// Pairs counted per purchase: with the shopper's most recent purchases only, so one
/// purchase is one transaction (DynamoDB takes up to 100 items in one).
pub const PAIRED_PURCHASES: usize = 40;
/// How long a recent search is kept.
const SEARCH_DAYS: i64 = 30;
/// Tries of a purchase whose shopper placed another order at the same moment.
const PURCHASE_TRIES: usize = 8;

/// Signal counters in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoSignals {
    client: aws_sdk_dynamodb::Client,
    table: String,
    tx: Transactor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Marker,
    Counter,
    Head,
    Purchase,
    Pair,
}

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Record {
    Record::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn ttl(at: Timestamp) -> AttributeValue {
    n(at.unix_seconds())
}

impl DynamoSignals {
    /// Over `table` (`faults` and `clock` as every transacting adapter takes them).
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: &str,
        faults: std::sync::Arc<super::Faults>,
        clock: std::sync::Arc<dyn crate::ports::Clock>,
    ) -> Self {
        Self {
            tx: Transactor::new(client.clone(), faults, clock),
            client,
            table: table.to_owned(),
        }
    }

    /// Add one to `pk`/`sk`, keeping it in the ranking index (and, with `expires`, for a while).
    fn increment(&self, pk: &str, sk: &str, expires: Option<Timestamp>) -> TransactWriteItem {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .expression_attribute_values(":g", s(pk))
            .expression_attribute_values(":one", n(1));
        update = match expires {
            Some(at) => update
                .update_expression("SET gpk = :g, #t = :t ADD n :one")
                .expression_attribute_names("#t", "ttl")
                .expression_attribute_values(":t", ttl(at)),
            None => update.update_expression("SET gpk = :g ADD n :one"),
        };
        TransactWriteItem::builder()
            .update(update.build().expect("key, table and expression are set"))
            .build()
    }

    /// Every record of partition `pk` (consistent: a purchase must see the one before it).
    async fn partition(&self, pk: &str) -> Result<Vec<Record>, StoreError> {
        super::every_page(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s(pk))
                .consistent_read(true),
        )
        .await
    }
}

fn text<'a>(record: &'a Record, name: &str) -> Option<&'a str> {
    record
        .get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn number(record: &Record, name: &str) -> Option<i64> {
    record
        .get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// The items of a `bought#<shopper>` partition, most recently bought first (the `#` head is
/// not an item and is left out).
fn newest_first(records: &[Record]) -> Vec<ItemId> {
    let mut bought: Vec<(i64, ItemId)> = records
        .iter()
        .filter_map(|r| {
            let id = ItemId::try_from(text(r, "sk")?).ok()?;
            Some((number(r, "at").unwrap_or(0), id))
        })
        .collect();
    bought.sort_by(|a, b| b.cmp(a));
    bought.into_iter().map(|(_, id)| id).collect()
}

#[async_trait]
impl SignalCounts for DynamoSignals {
    async fn tally(&self, tally: &Tally) -> Result<bool, StoreError> {
        let Some(first) = tally.counters.first() else {
            return Ok(false);
        };
        let mut tx = Tx::new();
        let mut marker = key(
            format!("seen#{first}"),
            format!("{}#{}", tally.subject, tally.once_per),
        );
        marker.insert("ttl".into(), ttl(tally.expires));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("item and table are set");
        tx.add(Part::Marker, TransactWriteItem::builder().put(put).build());
        for counter in &tally.counters {
            tx.add(
                Part::Counter,
                self.increment(counter, &tally.subject, Some(tally.expires)),
            );
        }
        match self.tx.write(tx).await {
            Ok(()) => Ok(true),
            Err(TransactFailure::Cancelled(c)) if c.failed_on(&Part::Marker) => Ok(false),
            Err(TransactFailure::Cancelled(c)) => Err(TransactFailure::unexpected(&c, "tally")),
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    async fn top(&self, counter: &str, limit: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_COUNT)
            .key_condition_expression("gpk = :g")
            .expression_attribute_values(":g", s(counter))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        Ok(page
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|r| Some((text(r, "sk")?.to_owned(), number(r, "n")?.max(0) as u64)))
            .collect())
    }

    async fn record_purchase(
        &self,
        shopper: &UserId,
        item: ItemId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let pk = format!("bought#{shopper}");
        for _ in 0..PURCHASE_TRIES {
            let records = self.partition(&pk).await?;
            let seen = records
                .iter()
                .find(|r| text(r, "sk") == Some("#"))
                .and_then(|r| number(r, "n"));
            let mut earlier = newest_first(&records);
            if earlier.contains(&item) {
                return Ok(false);
            }
            earlier.truncate(PAIRED_PURCHASES);

            let mut tx = Tx::new();
            // The shopper's purchase count is the version: two orders of one shopper recorded
            // at once would each miss the other's items, so the second one to commit fails
            // here, reads again and pairs with the first.
            let head = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(&pk, "#")))
                .update_expression("SET n = :next")
                .expression_attribute_values(":next", n(seen.unwrap_or(0) + 1));
            let head = match seen {
                Some(count) => head
                    .condition_expression("n = :seen")
                    .expression_attribute_values(":seen", n(count)),
                None => head.condition_expression("attribute_not_exists(pk)"),
            };
            tx.add(
                Part::Head,
                TransactWriteItem::builder()
                    .update(head.build().expect("key, table and expression are set"))
                    .build(),
            );
            let mut purchase = key(&pk, item.to_string());
            purchase.insert("at".into(), n(at.unix_millis()));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(purchase))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("item and table are set");
            tx.add(
                Part::Purchase,
                TransactWriteItem::builder().put(put).build(),
            );
            for other in &earlier {
                tx.add(
                    Part::Pair,
                    self.increment(&format!("co#{item}"), &other.to_string(), None),
                );
                tx.add(
                    Part::Pair,
                    self.increment(&format!("co#{other}"), &item.to_string(), None),
                );
            }
            match self.tx.write(tx).await {
                Ok(()) => return Ok(true),
                Err(TransactFailure::Cancelled(c))
                    if c.failed_on(&Part::Head) || c.failed_on(&Part::Purchase) =>
                {
                    continue
                }
                Err(TransactFailure::Cancelled(c)) => {
                    return Err(TransactFailure::unexpected(&c, "purchase"))
                }
                Err(TransactFailure::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Contention(format!(
            "purchase not recorded after {PURCHASE_TRIES} tries"
        )))
    }

    async fn purchases(&self, shopper: &UserId, limit: usize) -> Result<Vec<ItemId>, StoreError> {
        let mut bought = newest_first(&self.partition(&format!("bought#{shopper}")).await?);
        bought.truncate(limit);
        Ok(bought)
    }

    async fn bought_with(
        &self,
        item: ItemId,
        limit: usize,
    ) -> Result<Vec<(ItemId, u64)>, StoreError> {
        Ok(self
            .top(&format!("co#{item}"), limit)
            .await?
            .into_iter()
            .filter_map(|(id, count)| Some((ItemId::try_from(id.as_str()).ok()?, count)))
            .collect())
    }

    async fn remember_search(
        &self,
        shopper: &UserId,
        query: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut record = key(format!("searches#{shopper}"), query);
        record.insert("at".into(), n(at.unix_millis()));
        record.insert("ttl".into(), ttl(at.plus_millis(SEARCH_DAYS * 86_400_000)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    async fn recent_searches(
        &self,
        shopper: &UserId,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut searches: Vec<(i64, String)> = self
            .partition(&format!("searches#{shopper}"))
            .await?
            .iter()
            .filter_map(|r| Some((number(r, "at").unwrap_or(0), text(r, "sk")?.to_owned())))
            .collect();
        searches.sort_by(|a, b| b.cmp(a));
        Ok(searches.into_iter().take(limit).map(|(_, q)| q).collect())
    }
}
