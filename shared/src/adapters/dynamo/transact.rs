//! Every `TransactWriteItems` the adapters send: the builders of the items they keep writing
//! (stock moves on an item's aggregated row, conditional puts and updates, once-only
//! markers), a [`Tx`] that gives each item a name, and the [`Transactor`] that sends it with
//! the retry policy every adapter shares.
//!
//! A cancelled transaction comes back as one reason per item; [`Cancelled`] pairs each reason
//! with the name its item was added under, so callers ask "did the hold's condition fail?"
//! rather than "did item 3 fail?", and adding an item cannot shift another's meaning.
//!
//! DynamoDB cancels a transaction with `TransactionConflict` when another transaction touches
//! the same item at the same time; that is contention, not a verdict, so it is retried through
//! [`Policy::CONFLICTED`] (jittered exponential backoff, an attempt budget). A transaction is
//! all-or-nothing, so a retry after a cancellation can never apply anything twice. Other
//! cancellation reasons (a failed condition) are the caller's business.
//!
//! DynamoDB Local never raises `TransactionConflict`; [`Faults`] lets tests inject it here,
//! at the adapter boundary, to exercise this path.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use super::inventory::build;
use super::keys::shard_key;
use super::{classify, n, s, Record};
use crate::domain::{ItemId, Timestamp};
use crate::ports::Clock;
use crate::ports::StoreError;
use crate::retry::Policy;

/// The cancellation code of an item whose condition did not hold.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// A transaction being built. Each item is added under a name (`N`: usually a small enum of
/// the roles a transaction's items play), which is how a cancellation is read.
#[derive(Debug, Clone)]
pub(crate) struct Tx<N = &'static str> {
    items: Vec<TransactWriteItem>,
    names: Vec<N>,
}

impl<N> Default for Tx<N> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            names: Vec::new(),
        }
    }
}

impl<N> Tx<N> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Add one item under `name`.
    pub(crate) fn add(&mut self, name: N, item: TransactWriteItem) -> &mut Self {
        self.items.push(item);
        self.names.push(name);
        self
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// Why DynamoDB cancelled a transaction: each item's name with its code (`None` where that
/// item was fine).
#[derive(Clone)]
pub(crate) struct Cancelled<N> {
    reasons: Vec<(N, Option<String>)>,
}

impl<N> Cancelled<N> {
    /// The names of the items whose condition failed, in the order they were added.
    pub(crate) fn failed(&self) -> impl Iterator<Item = &N> {
        self.reasons
            .iter()
            .filter(|(_, code)| code.as_deref() == Some(CONDITION_FAILED))
            .map(|(name, _)| name)
    }

    /// Whether the condition of an item named like `name` failed.
    pub(crate) fn failed_on(&self, name: &N) -> bool
    where
        N: PartialEq,
    {
        self.failed().any(|n| n == name)
    }

    /// Whether every reason given is a failed condition (no conflict, no throttling).
    pub(crate) fn only_conditions(&self) -> bool {
        self.reasons
            .iter()
            .filter_map(|(_, code)| code.as_deref())
            .all(|code| code == CONDITION_FAILED)
    }
}

impl<N: fmt::Debug> fmt::Debug for Cancelled<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.reasons
                    .iter()
                    .filter_map(|(name, code)| code.as_ref().map(|c| (name, c))),
            )
            .finish()
    }
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum TransactFailure<N = &'static str> {
    /// Cancelled, for reasons read by item name.
    Cancelled(Cancelled<N>),
    Store(StoreError),
}

impl<N: fmt::Debug> TransactFailure<N> {
    /// A cancellation the caller did not expect, as a store failure naming what failed.
    pub(crate) fn unexpected(cancelled: &Cancelled<N>, what: &str) -> StoreError {
        StoreError::Unavailable(format!("{what} cancelled: {cancelled:?}"))
    }
}

/// Faults to inject into the next transactions (tests only; zero in production).
#[derive(Debug, Default)]
pub struct Faults {
    conflicts: AtomicU32,
    /// Transactions to fail as if the function died before sending them.
    crashes: AtomicU32,
    /// Transactions actually sent to DynamoDB (after injected conflicts are skipped).
    pub sent: AtomicU32,
    /// Conflict one transaction try in this many per million at random (benchmarks: DynamoDB
    /// Local never conflicts, DynamoDB does when transactions overlap on an item).
    conflict_ppm: AtomicU32,
    /// Conflicts injected so far, by count or by rate.
    pub conflicts_injected: AtomicU32,
}

impl Faults {
    /// Make the next `n` transactions fail with `TransactionConflict` before reaching DynamoDB.
    pub fn conflict_next(&self, n: u32) {
        self.conflicts.store(n, Ordering::SeqCst);
    }

    /// Make the next `n` transactions fail unsent, as a function that crashed (or lost
    /// DynamoDB) between the steps before and the commit would: the crash windows.
    pub fn crash_next(&self, n: u32) {
        self.crashes.store(n, Ordering::SeqCst);
    }

    /// Conflict `ppm` of every million transaction tries at random from now on.
    pub fn conflict_rate(&self, ppm: u32) {
        self.conflict_ppm.store(ppm, Ordering::SeqCst);
    }

    fn take_conflict(&self) -> bool {
        let counted = self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let ppm = self.conflict_ppm.load(Ordering::Relaxed);
        let random = ppm > 0 && rand::random::<u32>() % 1_000_000 < ppm;
        if counted || random {
            self.conflicts_injected.fetch_add(1, Ordering::Relaxed);
        }
        counted || random
    }

    fn take_crash(&self) -> bool {
        self.crashes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Sends transactions, retrying conflicts; and tells the adapters that use it the time
/// (the use cases' [`Clock`]: record lifetimes and once-only markers are measured on it).
#[derive(Debug, Clone)]
pub(crate) struct Transactor {
    client: Client,
    faults: Arc<Faults>,
    clock: Arc<dyn Clock>,
}

impl Transactor {
    pub(crate) fn new(client: Client, faults: Arc<Faults>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            faults,
            clock,
        }
    }

    /// Now, by the shop's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Commit `tx`, retrying while it only conflicts with other transactions.
    pub(crate) async fn write<N>(&self, tx: Tx<N>) -> Result<(), TransactFailure<N>> {
        let mut tries = Policy::CONFLICTED.tries();
        let mut last = None;
        while tries.next().await {
            match self.send_once(&tx.items).await {
                Ok(()) => return Ok(()),
                Err(Sent::Cancelled(codes)) if conflicted(&codes) => last = Some(codes),
                Err(Sent::Store(StoreError::Contention(_))) => {}
                Err(Sent::Store(e)) => return Err(TransactFailure::Store(e)),
                Err(Sent::Cancelled(codes)) => {
                    return Err(TransactFailure::Cancelled(Cancelled {
                        reasons: tx.names.into_iter().zip(codes).collect(),
                    }))
                }
            }
            tracing::warn!(attempt = tries.made(), ?last, "transaction conflict");
        }
        Err(TransactFailure::Store(StoreError::Contention(format!(
            "transaction conflicted {} times",
            tries.made()
        ))))
    }

    async fn send_once(&self, items: &[TransactWriteItem]) -> Result<(), Sent> {
        if self.faults.take_conflict() {
            let codes = items
                .iter()
                .map(|_| Some("TransactionConflict".to_owned()))
                .collect();
            return Err(Sent::Cancelled(codes));
        }
        if self.faults.take_crash() {
            return Err(Sent::Store(StoreError::Unavailable(
                "injected crash before commit".into(),
            )));
        }
        self.faults.sent.fetch_add(1, Ordering::SeqCst);
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items.to_vec()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let codes = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                        .collect();
                    Err(Sent::Cancelled(codes))
                }
                _ => Err(Sent::Store(classify("TransactWriteItems", e))),
            },
        }
    }
}

/// Whether DynamoDB cancelled for contention, not for a verdict on a condition.
fn conflicted(codes: &[Option<String>]) -> bool {
    codes
        .iter()
        .any(|code| code.as_deref() == Some("TransactionConflict"))
}

/// One send's failure, before names are put to the codes.
enum Sent {
    Cancelled(Vec<Option<String>>),
    Store(StoreError),
}

/// How long once-only markers and idempotency records are kept.
pub(crate) const MARKER_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// Put `units` back on sale in stock shard `shard` (0: the item's `TOTAL` row; never
/// conditional: returning stock cannot fail).
pub(crate) fn give_back(
    stock_table: &str,
    item: ItemId,
    shard: u16,
    units: u32,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(stock_table)
        .set_key(Some(shard_key(item, shard)))
        .update_expression(if shard == 0 {
            "ADD available :q, stockVersion :one SET itemId = :i"
        } else {
            "ADD available :q, shardVersion :one SET itemId = :i"
        })
        .expression_attribute_values(":q", n(units))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":i", s(item.to_string()))
        .build();
    Ok(TransactWriteItem::builder().update(build(update)?).build())
}

/// Take `units` off sale from stock shard `shard` only if that shard has that many: stock
/// never goes negative (a shard row that does not exist has none).
pub(crate) fn take(
    stock_table: &str,
    item: ItemId,
    shard: u16,
    units: u32,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(stock_table)
        .set_key(Some(shard_key(item, shard)))
        .update_expression(if shard == 0 {
            "SET available = available - :q ADD stockVersion :one"
        } else {
            "SET available = available - :q ADD shardVersion :one"
        })
        .condition_expression("available >= :q")
        .expression_attribute_values(":q", n(units))
        .expression_attribute_values(":one", n(1))
        .build();
    Ok(TransactWriteItem::builder().update(build(update)?).build())
}

/// Expression placeholders as the SDK's builders take them (`None` when there are none).
#[allow(clippy::type_complexity)]
fn placeholders(
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> (
    Option<HashMap<String, String>>,
    Option<HashMap<String, AttributeValue>>,
) {
    let names: HashMap<String, String> = names
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let values: HashMap<String, AttributeValue> =
        values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    (
        (!names.is_empty()).then_some(names),
        (!values.is_empty()).then_some(values),
    )
}

/// Put a record, optionally under a condition with its own placeholders.
pub(crate) fn put(
    table: &str,
    record: Record,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let (names, values) = placeholders(names, values);
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(record))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values);
    Ok(TransactWriteItem::builder()
        .put(build(put.build())?)
        .build())
}

/// Update a record: `expression` with its placeholders, under `condition`.
pub(crate) fn update(
    table: &str,
    key: Record,
    expression: &str,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let (names, values) = placeholders(names, values);
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values);
    Ok(TransactWriteItem::builder()
        .update(build(update.build())?)
        .build())
}

/// Check a condition on a record without writing it.
pub(crate) fn check(
    table: &str,
    key: Record,
    condition: &str,
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let (_, values) = placeholders(&[], values);
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition)
        .set_expression_attribute_values(values);
    Ok(TransactWriteItem::builder()
        .condition_check(build(check.build())?)
        .build())
}

/// Delete a record unconditionally.
pub(crate) fn delete(table: &str, key: Record) -> Result<TransactWriteItem, StoreError> {
    delete_if(table, key, None)
}

/// Delete a record, under `condition` if given.
pub(crate) fn delete_if(
    table: &str,
    key: Record,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .delete(build(
            Delete::builder()
                .table_name(table)
                .set_key(Some(key))
                .set_condition_expression(condition.map(str::to_owned))
                .build(),
        )?)
        .build())
}

/// A record in the idempotency table that can be written once only: the gate that makes an
/// effect (a release, a message) happen exactly once however often it is attempted.
pub(crate) fn once(
    idempotency_table: &str,
    key: &str,
    value: &str,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let expires = now.unix_seconds() + MARKER_TTL_SECONDS;
    let record = HashMap::from([
        ("key".to_owned(), s(key)),
        ("value".to_owned(), s(value)),
        ("ttl".to_owned(), n(expires)),
    ]);
    // A record past its own expiry counts as absent even before TTL deletes it (TTL only
    // promises deletion within days).
    put(
        idempotency_table,
        record,
        Some("attribute_not_exists(#k) OR #ttl < :now"),
        &[("#k", "key"), ("#ttl", "ttl")],
        vec![(":now", n(now.unix_seconds()))],
    )
}

/// Record the answer of an idempotent request in the same transaction as its effect, on
/// the record its claim created (the same fingerprint).
pub(crate) fn receipt(
    idempotency_table: &str,
    receipt: &crate::ports::Receipt,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    put(
        idempotency_table,
        super::requests::done_record(receipt, now),
        Some("attribute_not_exists(#k) OR fingerprint = :fp"),
        &[("#k", "key")],
        vec![(":fp", s(&receipt.fingerprint))],
    )
}
