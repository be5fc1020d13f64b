//! `TransactWriteItems` with the retry policy every adapter shares.
//!
//! DynamoDB cancels a transaction with `TransactionConflict` when another transaction touches
//! the same item at the same time; that is contention, not a verdict, so it is retried with
//! jittered exponential backoff. A transaction is all-or-nothing, so a retry after a
//! cancellation can never apply anything twice. Other cancellation reasons (a failed
//! condition) are the caller's business and come back as [`TransactFailure::Cancelled`].
//!
//! DynamoDB Local never raises `TransactionConflict`; [`Faults`] lets tests inject it here,
//! at the adapter boundary, to exercise this path.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use rand::Rng;

use super::classify;
use crate::ports::StoreError;

/// How often a conflicted transaction is tried in all.
const ATTEMPTS: u32 = 6;
/// First backoff; doubles per attempt, with full jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(15);

/// Faults to inject into the next transactions (tests only; zero in production).
#[derive(Debug, Default)]
pub struct Faults {
    conflicts: AtomicU32,
    /// Transactions to fail as if the function died before sending them.
    crashes: AtomicU32,
    /// Transactions actually sent to DynamoDB (after injected conflicts are skipped).
    pub sent: AtomicU32,
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

    fn take_conflict(&self) -> bool {
        self.conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn take_crash(&self) -> bool {
        self.crashes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum TransactFailure {
    /// Cancelled: one code per item in request order (`None` where that item was fine).
    Cancelled(Vec<Option<String>>),
    Store(StoreError),
}

/// Sends transactions, retrying conflicts.
#[derive(Debug, Clone)]
pub(crate) struct Transactor {
    client: Client,
    faults: Arc<Faults>,
}

impl Transactor {
    pub(crate) fn new(client: Client, faults: Arc<Faults>) -> Self {
        Self { client, faults }
    }

    pub(crate) async fn write(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send_once(items.clone()).await;
            let conflicted = match &outcome {
                Err(TransactFailure::Cancelled(codes)) => {
                    codes.iter().flatten().any(|c| c == "TransactionConflict")
                }
                Err(TransactFailure::Store(StoreError::Contention(_))) => true,
                _ => false,
            };
            if !conflicted {
                return outcome;
            }
            if attempt >= ATTEMPTS {
                return Err(TransactFailure::Store(StoreError::Contention(format!(
                    "transaction conflicted {attempt} times"
                ))));
            }
            let ceiling = BASE_BACKOFF * 2u32.pow(attempt - 1);
            let pause = rand::thread_rng().gen_range(Duration::ZERO..=ceiling);
            tracing::warn!(
                attempt,
                pause_ms = pause.as_millis() as u64,
                "transaction conflict; retrying"
            );
            tokio::time::sleep(pause).await;
        }
    }

    async fn send_once(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        if self.faults.take_conflict() {
            let codes = items
                .iter()
                .map(|_| Some("TransactionConflict".to_owned()))
                .collect();
            return Err(TransactFailure::Cancelled(codes));
        }
        if self.faults.take_crash() {
            return Err(TransactFailure::Store(StoreError::Unavailable(
                "injected crash before commit".into(),
            )));
        }
        self.faults.sent.fetch_add(1, Ordering::SeqCst);
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
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
                    Err(TransactFailure::Cancelled(codes))
                }
                _ => Err(TransactFailure::Store(classify("TransactWriteItems", e))),
            },
        }
    }
}
