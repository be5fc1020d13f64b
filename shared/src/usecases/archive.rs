//! Moving orders that will never change again from the orders table to the archive, and a
//! shopper's history read across both.
//!
//! One order moves in four steps, each safe to repeat: (1) copy it to the archive, (2) list
//! it in its shopper's archived history, (3) confirm the archive holds exactly this version,
//! (4) remove it from the table if it is still that version. A run that stops between any two
//! steps leaves the order in the table (and perhaps also in the archive, where reads list it
//! once); the next run finishes the move. An order that changed in between is not removed,
//! and is copied again once it is quiet.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::Shop;
use crate::domain::{
    archive, Cursor, HistoryPosition, Keep, Order, OrderId, OrderStatus, Page, PageRequest,
    Timestamp, UserId,
};
use crate::ports::{OrderArchive, Orders, StoreError};

/// The statuses an order may be archived in (the rest can still move).
const FINAL: [OrderStatus; 6] = [
    OrderStatus::Cancelled,
    OrderStatus::Refunded,
    OrderStatus::Rejected,
    OrderStatus::PaymentFailed,
    OrderStatus::Delivered,
    OrderStatus::PartiallyRefunded,
];

/// How a run went.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveReport {
    /// Orders moved to the archive.
    pub moved: u32,
    /// Orders looked at and kept, by reason.
    pub kept: BTreeMap<&'static str, u32>,
    /// Orders whose move failed (retried next run); the run went on.
    pub failed: u32,
    /// Whether candidates were left for lack of time.
    pub unfinished: bool,
}

/// What happened to one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    /// It is in the archive and no longer in the table.
    Archived,
    /// It stays in the table for now.
    Kept(Keep),
    /// It is not in the table (moved before, by an earlier or a concurrent run).
    Gone,
    /// It changed while it was being copied: kept, copied again when quiet.
    Changed,
}

fn reason(keep: &Keep) -> &'static str {
    match keep {
        Keep::Live(_) => "live",
        Keep::ReturnWindowOpen(_) => "returnWindowOpen",
        Keep::ReturnOpen => "returnOpen",
        Keep::MoneyOwed => "moneyOwed",
        Keep::TooRecent(_) => "tooRecent",
    }
}

/// Move one order, if it may go (see the module docs for the steps).
#[tracing::instrument(name = "archive_order", skip_all, fields(order_id = %id))]
pub async fn move_one(
    orders: &dyn Orders,
    archive: &dyn OrderArchive,
    id: OrderId,
    now: Timestamp,
    quiet: Duration,
) -> Result<Moved, StoreError> {
    let Some(order) = orders.get(id).await? else {
        return Ok(Moved::Gone);
    };
    if let Err(keep) = order.archivable(now, quiet) {
        return Ok(Moved::Kept(keep));
    }
    archive.copy(&order).await?;
    archive.index(&order).await?;
    if !archive.holds(&order).await? {
        return Err(StoreError::Unavailable(format!(
            "the archive copy of order {id} could not be confirmed"
        )));
    }
    if orders.remove(&order).await? {
        tracing::info!(order_id = %id, "order archived");
        Ok(Moved::Archived)
    } else {
        Ok(Moved::Changed)
    }
}

/// Archive what may go: orders in a final status created at least `quiet` ago (an order quiet
/// that long was created before), read `batch` at a time, oldest first, until `deadline`.
/// Orders kept (a return still open, say) do not stop the run from reaching later ones. One
/// order's failure is counted and the run goes on.
#[tracing::instrument(name = "archive_orders", skip_all)]
pub async fn run(
    shop: Shop<'_>,
    quiet: Duration,
    batch: usize,
    deadline: tokio::time::Instant,
) -> Result<ArchiveReport, StoreError> {
    let now = shop.clock.now();
    let before = now.plus_millis(-(quiet.as_millis() as i64));
    let mut report = ArchiveReport::default();
    for status in FINAL {
        let mut page = PageRequest {
            limit: batch as u32,
            cursor: None,
        };
        loop {
            let candidates = shop.orders.created_before(status, before, &page).await?;
            for id in candidates.items {
                if tokio::time::Instant::now() >= deadline {
                    report.unfinished = true;
                    return Ok(report);
                }
                match move_one(shop.orders, shop.archive, id, now, quiet).await {
                    Ok(Moved::Archived) => report.moved += 1,
                    Ok(Moved::Kept(keep)) => *report.kept.entry(reason(&keep)).or_default() += 1,
                    Ok(Moved::Changed) => *report.kept.entry("changed").or_default() += 1,
                    Ok(Moved::Gone) => {}
                    Err(e) => {
                        tracing::warn!(order_id = %id, error = %e, "archiving failed; retried next run");
                        report.failed += 1;
                    }
                }
            }
            match candidates.next_cursor {
                Some(next) => page.cursor = Some(Cursor(next)),
                None => break,
            }
        }
    }
    Ok(report)
}

/// An order by id wherever it lives: the table first (the live copy wins while both hold it),
/// then the archive.
pub async fn find(shop: Shop<'_>, id: OrderId) -> Result<Option<Order>, StoreError> {
    match shop.orders.get(id).await? {
        Some(order) => Ok(Some(order)),
        None => shop.archive.get(id).await,
    }
}

/// A shopper's orders, newest first, optionally within `[from, to]`, from both stores: one
/// page and one cursor, whichever store each order is in.
pub async fn history(
    shop: Shop<'_>,
    user: &UserId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    page: &PageRequest,
) -> Result<Page<Order>, StoreError> {
    let after = page
        .cursor
        .as_ref()
        .map(|c| HistoryPosition::from_cursor(c).ok_or(StoreError::BadCursor))
        .transpose()?;
    // A cursor is the last order of a page of this listing, so within its range: one outside
    // was made for another listing.
    if after.is_some_and(|p| {
        from.is_some_and(|f| p.created_at < f) || to.is_some_and(|t| p.created_at > t)
    }) {
        return Err(StoreError::BadCursor);
    }
    let limit = (page.limit as usize).max(1);
    let newest = match (to, after) {
        (Some(to), Some(p)) => Some(to.min(p.created_at)),
        (to, p) => to.or(p.map(|p| p.created_at)),
    };
    let comes_next = |o: &Order| after.is_none_or(|p| p.precedes(o));
    // The table lists equal creation times in no set order, so it is read past the page's
    // last time before the page is cut.
    let mut live: Vec<Order> = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let request = PageRequest {
            limit: page.limit + 1,
            cursor: cursor.take(),
        };
        let got = shop.orders.for_user(user, from, newest, &request).await?;
        let last_time = got.items.last().map(|o| o.created_at);
        live.extend(got.items.into_iter().filter(|o| comes_next(o)));
        live.sort_by(archive::history_order);
        let settled = live.len() > limit && last_time < Some(live[limit - 1].created_at);
        match got.next_cursor {
            Some(next) if !settled => cursor = Some(Cursor(next)),
            _ => break,
        }
    }
    let archived = shop
        .archive
        .history(user, from, newest, after, limit + 1)
        .await?;
    let (items, next_cursor) = archive::merge_history(live, archived, limit);
    Ok(Page { items, next_cursor })
}
