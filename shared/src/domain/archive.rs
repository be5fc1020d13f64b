//! Order history at any age: which orders may leave the transactional store for the archive,
//! and the one order a shopper's history is listed in, wherever each order lives.
//!
//! An order is archived only once nothing can change it again: it ended (cancelled,
//! refunded, rejected, failed) or it was delivered and its return window closed with no
//! return open; no money is owed on it; and it has been quiet for the configured age.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{Cursor, Order, OrderId, OrderStatus, Timestamp};

/// How long after delivery a shopper may ask to return units (Amazon's usual 30 days).
pub const RETURN_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why an order stays in the transactional store for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// It can still move (paid and not delivered, a return under way, …).
    Live(OrderStatus),
    /// Delivered, and the shopper may still ask to return units until then.
    ReturnWindowOpen(Timestamp),
    /// Returned units are on their way back or wait for a person's decision.
    ReturnOpen,
    /// A refund or void is owed and not yet confirmed by the provider.
    MoneyOwed,
    /// It changed too recently: it may be archived from then on.
    TooRecent(Timestamp),
}

impl Order {
    /// When the order was (last) delivered, from its timeline.
    pub fn delivered_at(&self) -> Option<Timestamp> {
        self.timeline
            .iter()
            .rev()
            .find(|c| c.status == OrderStatus::Delivered)
            .map(|c| c.at)
    }

    /// When the shopper's return window closes: 30 days after delivery (`None` before it).
    pub fn return_window_closes(&self) -> Option<Timestamp> {
        self.delivered_at()
            .map(|at| at.plus_millis(RETURN_WINDOW.as_millis() as i64))
    }

    /// Whether a return may be asked for at `now` (the status allows one and the window is
    /// open).
    pub fn return_window_open(&self, now: Timestamp) -> bool {
        self.status.returnable()
            && self
                .return_window_closes()
                .is_none_or(|closes| now < closes)
    }

    /// Whether the order may move to the archive at `now` after `quiet` without change;
    /// `Err` says why not.
    pub fn archivable(&self, now: Timestamp, quiet: Duration) -> Result<(), Keep> {
        use OrderStatus as S;
        match self.status {
            S::Cancelled | S::Refunded | S::Rejected | S::PaymentFailed => {}
            S::Delivered | S::PartiallyRefunded => {
                let open = self
                    .returns
                    .iter()
                    .any(|r| self.lines.iter().any(|l| r.outstanding(l.item_id) > 0));
                let reviewing = self
                    .reviews
                    .iter()
                    .any(|r| r.state == super::ReviewState::Pending);
                if open || reviewing {
                    return Err(Keep::ReturnOpen);
                }
                match self.return_window_closes() {
                    Some(closes) if now >= closes => {}
                    Some(closes) => return Err(Keep::ReturnWindowOpen(closes)),
                    // Refunded in part before delivery was recorded: cannot be judged.
                    None => return Err(Keep::Live(self.status)),
                }
            }
            other => return Err(Keep::Live(other)),
        }
        if !self.money_due.is_empty() {
            return Err(Keep::MoneyOwed);
        }
        let after = self.updated_at.plus_millis(quiet.as_millis() as i64);
        if now < after {
            return Err(Keep::TooRecent(after));
        }
        Ok(())
    }
}

/// Where an order stands in its shopper's history: newest first, equal times by id (the
/// order both stores list in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPosition {
    /// The order's creation time.
    #[serde(rename = "t")]
    pub created_at: Timestamp,
    /// The order's id.
    #[serde(rename = "o")]
    pub order_id: OrderId,
}

impl HistoryPosition {
    /// The position of `order`.
    pub fn of(order: &Order) -> Self {
        Self {
            created_at: order.created_at,
            order_id: order.order_id,
        }
    }

    /// Whether `order` comes after this position in the history (newest first, then by id).
    pub fn precedes(&self, order: &Order) -> bool {
        order.created_at < self.created_at
            || (order.created_at == self.created_at && order.order_id > self.order_id)
    }

    /// The opaque cursor of the page that starts after this position.
    pub fn cursor(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The position a cursor names; `None` if it is not one of ours.
    pub fn from_cursor(cursor: &Cursor) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor.0.as_bytes()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The history order: newest first, equal times by id ascending (an id's order is its text's,
/// the order S3 lists the archive's keys in).
pub fn history_order(a: &Order, b: &Order) -> std::cmp::Ordering {
    b.created_at
        .cmp(&a.created_at)
        .then_with(|| a.order_id.cmp(&b.order_id))
}

/// One page of a shopper's history from the live and the archived orders (each newest first,
/// each starting after the cursor): merged, an order found in both (archived, not yet removed)
/// listed once as the live copy, cut at `limit`, with the cursor of the next page if more
/// remain.
pub fn merge_history(
    live: Vec<Order>,
    archived: Vec<Order>,
    limit: usize,
) -> (Vec<Order>, Option<String>) {
    let mut all = live;
    for order in archived {
        if !all.iter().any(|o| o.order_id == order.order_id) {
            all.push(order);
        }
    }
    all.sort_by(history_order);
    let more = all.len() > limit;
    all.truncate(limit);
    let next = if more {
        all.last().map(|o| HistoryPosition::of(o).cursor())
    } else {
        None
    };
    (all, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{DueKind, MoneyDue};

    /// An order now in `status`, last changed (and, if delivered, delivered) at `at`.
    fn order_in(status: OrderStatus, at: Timestamp) -> Order {
        let order: Order = serde_json::from_value(serde_json::json!({
            "orderId": uuid::Uuid::new_v4().to_string(),
            "userId": "shopper-1",
            "checkoutId": uuid::Uuid::new_v4().to_string(),
            "status": "PLACED",
            "lines": [{"itemId": uuid::Uuid::new_v4().to_string(), "name": "Kettle",
                       "quantity": 1, "unitPrice": {"amount": 2500, "currency": "USD"}}],
            "total": {"amount": 2500, "currency": "USD"},
            "shippingAddress": {"name": "A", "line1": "1 Main St", "city": "Austin",
                                "state": "TX", "zip": "78701", "country": "US"},
            "payment": {"state": "CAPTURED", "method": "pm_card_visa"},
            "timeline": [{"status": "PLACED", "at": at.to_string()}],
            "createdAt": at.to_string(),
            "updatedAt": at.to_string(),
            "version": 1
        }))
        .expect("an order");
        order.moved_to(status, at, None)
    }

    const DAY: i64 = 24 * 3600 * 1000;
    const QUIET: Duration = Duration::from_secs(7 * 24 * 3600);

    fn at(days: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_780_000_000_000 + days * DAY)
    }

    #[test]
    fn a_cancelled_order_is_archived_once_it_has_been_quiet_long_enough() {
        let order = order_in(OrderStatus::Cancelled, at(0));
        assert_eq!(order.archivable(at(6), QUIET), Err(Keep::TooRecent(at(7))));
        assert_eq!(order.archivable(at(7), QUIET), Ok(()));
    }

    #[test]
    fn a_delivered_order_waits_for_its_return_window_to_close() {
        let order = order_in(OrderStatus::Delivered, at(0));
        assert_eq!(
            order.archivable(at(29), QUIET),
            Err(Keep::ReturnWindowOpen(at(30)))
        );
        assert!(order.return_window_open(at(29)));
        assert!(!order.return_window_open(at(30)));
        assert_eq!(order.archivable(at(30), QUIET), Ok(()));
    }

    #[test]
    fn an_order_that_owes_money_or_can_still_move_is_never_archived() {
        let mut owing = order_in(OrderStatus::Refunded, at(0));
        owing.money_due.push(MoneyDue {
            key: "k".into(),
            kind: DueKind::Refund,
            amount: 100,
        });
        assert_eq!(owing.archivable(at(400), QUIET), Err(Keep::MoneyOwed));
        for status in [
            OrderStatus::PaymentPending,
            OrderStatus::Placed,
            OrderStatus::Processing,
            OrderStatus::Backordered,
            OrderStatus::Shipped,
            OrderStatus::ReturnRequested,
            OrderStatus::Returned,
        ] {
            let order = order_in(status, at(0));
            assert_eq!(order.archivable(at(400), QUIET), Err(Keep::Live(status)));
        }
    }

    #[test]
    fn the_history_lists_newest_first_and_an_order_in_both_stores_once() {
        let mut a = order_in(OrderStatus::Cancelled, at(3));
        a.created_at = at(3);
        let mut b = order_in(OrderStatus::Cancelled, at(2));
        b.created_at = at(2);
        let mut c = order_in(OrderStatus::Cancelled, at(1));
        c.created_at = at(1);
        let (page, next) = merge_history(vec![a.clone(), c.clone()], vec![b.clone(), c.clone()], 2);
        assert_eq!(
            page.iter().map(|o| o.order_id).collect::<Vec<_>>(),
            vec![a.order_id, b.order_id]
        );
        let position = HistoryPosition::from_cursor(&Cursor(next.expect("more"))).unwrap();
        assert_eq!(position, HistoryPosition::of(&b));
        assert!(position.precedes(&c) && !position.precedes(&a) && !position.precedes(&b));
        let (last, none) = merge_history(vec![c.clone()], vec![c.clone()], 2);
        assert_eq!(last.len(), 1);
        assert_eq!(none, None);
    }

    #[test]
    fn a_cursor_that_is_not_ours_is_refused() {
        assert_eq!(HistoryPosition::from_cursor(&Cursor("nope".into())), None);
        assert_eq!(
            HistoryPosition::from_cursor(&Cursor(URL_SAFE_NO_PAD.encode(b"{\"t\":1}"))),
            None
        );
    }
}
