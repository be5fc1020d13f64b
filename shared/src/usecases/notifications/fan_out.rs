//! A restock told to everyone waiting on the item: the shoppers' alerts are read a page at a
//! time from the `byRestockItem` index and one [`RestockNotice`] per shopper is put on the
//! notices queue, where each is delivered on its own ([`super::deliver`]). The stock path
//! only published `ItemRestocked`; this runs on the event, so a hot item with thousands of
//! waiting shoppers costs the checkout nothing.
//!
//! A run stops after [`Paging::pages_per_run`] pages and hands back a cursor; the worker queues the
//! rest as a continuation, so no run outlasts its function however many shoppers wait. A
//! failed run is redelivered and queues some shoppers twice: each delivery is idempotent
//! (the notice and the alert's end are one conditional transaction, the mail is claimed).

use crate::domain::{FanOut, NoticeMessage, RestockNotice};
use crate::ports::{MessageQueue, RestockAlerts, StoreError};

/// How a fan-out reads its shoppers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Shoppers read per page (one `Query`).
    pub page: usize,
    /// Pages per run before the rest is handed to a continuation.
    pub pages_per_run: usize,
}

/// 1,000 shoppers a page, 20 pages a run: 20,000 shoppers (2,000 `SendMessageBatch` calls,
/// 8 at a time) in one run of the fan-out's 60 s.
pub const PAGING: Paging = Paging {
    page: 1_000,
    pages_per_run: 20,
};

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FannedOut {
    /// Messages queued in this run.
    pub queued: usize,
    /// Where the next run goes on, if shoppers are left.
    pub rest: Option<String>,
}

/// Queue a restock notice for each shopper waiting on `job`'s item, from `job.after`.
#[tracing::instrument(name = "fan_out_restock", skip_all, fields(event_id = %job.event_id, item_id = %job.item_id))]
pub async fn fan_out(
    alerts: &dyn RestockAlerts,
    notices: &dyn MessageQueue,
    job: &FanOut,
    paging: Paging,
) -> Result<FannedOut, StoreError> {
    let mut after = job.after.clone();
    let mut queued = 0;
    for _ in 0..paging.pages_per_run.max(1) {
        let page = alerts
            .watchers(job.item_id, after.as_deref(), paging.page)
            .await?;
        let bodies: Vec<String> = page
            .items
            .into_iter()
            .map(|user_id| {
                NoticeMessage::restock_body(&RestockNotice {
                    event_id: job.event_id.clone(),
                    item_id: job.item_id,
                    user_id,
                    at: job.at,
                })
            })
            .collect();
        notices.send_all(&bodies).await?;
        queued += bodies.len();
        after = page.next_cursor;
        if after.is_none() {
            break;
        }
    }
    tracing::info!(queued, more = after.is_some(), "restock fanned out");
    Ok(FannedOut {
        queued,
        rest: after,
    })
}
