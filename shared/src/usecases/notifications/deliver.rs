//! One domain event, told to its shopper: an inbox notice and a mail, each exactly once per
//! event however often the event is delivered, and however many consumers get it at once.
//! The same for one shopper's restock ([`RestockNotice`], queued by the fan-out): the notice
//! is kept and the shopper's alert ended in one transaction, so an alert is told once.
//!
//! - The notice is keyed by the event's id (a conditional write: a redelivery meets its own
//!   record).
//! - The mail goes through the shopper's outbox, keyed by the event's id too: a sender first
//!   claims the message with a lease (a conditional write), sends, then records the service's
//!   message id. A second consumer finds it claimed (`Busy`: tried again later) or settled
//!   (nothing to do). SES takes no idempotency key
//!   (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html), so the one
//!   window left is a sender that stops between SES accepting and the record: its lease runs
//!   out and the next try sends again. The lease ([`LEASE_MS`]) is longer than the function's
//!   timeout, so a slow sender is never overtaken while it runs.
//! - Throttling and outages are tried again up to [`MAX_ATTEMPTS`], each after a longer wait
//!   ([`backoff`]: the queue redelivers the message then), then the message is parked with
//!   its reason; a refusal (bad address) parks it at once.
//! - An address on the suppression list (a permanent bounce or a complaint came back for it)
//!   is not sent to, whatever the kind.
//! - Optional mail (back in stock) carries RFC 8058's one-click unsubscribe, pointing at the
//!   API's `POST /v1/unsubscribe/{token}`; order mail never does.

use std::time::Duration;

use crate::domain::event::{Envelope, Event};
use crate::domain::mail::{render, render_back_in_stock, Extras};
use crate::domain::notification::{order_of, plan, Plan};
use crate::domain::{Mail, MessageKind, Money, Notice, NoticeMessage, RestockNotice, UserId};
use crate::ports::{
    AlertEnd, Catalog, Clock, Fulfilment, Inventory, MailClaim, MailError, MailOutcome, Mailer,
    Orders, RestockAlerts, ShopperNotices, StoreError, Suppressions, Unsubscribe, Unsubscribes,
};

/// How long a claim on a message holds (the notifier's timeout is 30 s).
pub const LEASE_MS: i64 = 60_000;

/// Tries before a message that keeps failing for now is parked.
pub const MAX_ATTEMPTS: u32 = 5;

/// How long to wait before try `attempt + 1` after try `attempt` failed for now: 30 s,
/// doubling, at most 15 minutes (so the five tries span about 7.5 minutes, within SES's
/// throttling windows of a second and a day alike without hammering it).
pub fn backoff(attempt: u32) -> Duration {
    let seconds = 30u64.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    Duration::from_secs(seconds.min(900))
}

/// What the notifier reads and writes.
pub struct Notifier<'a> {
    /// Orders (what the mail says).
    pub orders: &'a dyn Orders,
    /// Parcels (tracking numbers).
    pub fulfilment: &'a dyn Fulfilment,
    /// Item names (a cancelled line, a restock).
    pub catalog: &'a dyn Catalog,
    /// Units on sale (a restock that sold out again is not told).
    pub inventory: &'a dyn Inventory,
    /// Inboxes, settings, outbox.
    pub notices: &'a dyn ShopperNotices,
    /// Restock alerts.
    pub alerts: &'a dyn RestockAlerts,
    /// Addresses not to send to.
    pub suppressions: &'a dyn Suppressions,
    /// One-click unsubscribe tokens.
    pub unsubscribes: &'a dyn Unsubscribes,
    /// The mail service.
    pub mailer: &'a dyn Mailer,
    /// Now.
    pub clock: &'a dyn Clock,
    /// The storefront's address, for links.
    pub store_url: &'a str,
    /// The API's address, for the one-click unsubscribe (optional mail is parked without it).
    pub api_url: Option<&'a str>,
}

/// What delivering one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Nothing to tell (the plan is silence, or the shopper no longer waits).
    Silent,
    /// The notice is kept and the mail settled (sent now or before, skipped or parked).
    Done(MailOutcome),
    /// The notice is kept; the mail waits for another try after `retry_in` (another
    /// consumer holds it, or the mail service is busy).
    Later {
        /// Why.
        reason: String,
        /// When to try again.
        retry_in: Duration,
    },
    /// Not a message this consumer can use; the reason goes to the dead-letter queue.
    Refused(String),
}

/// Tell the shopper what the queued `body` says: an EventBridge envelope of an order event,
/// or one shopper's restock.
pub async fn deliver(n: &Notifier<'_>, body: &str) -> Result<Delivered, StoreError> {
    match NoticeMessage::parse(body) {
        Ok(NoticeMessage::Event(envelope)) => order_event(n, envelope).await,
        Ok(NoticeMessage::Restock(restock)) => restocked(n, restock).await,
        Err(reason) => Ok(Delivered::Refused(reason)),
    }
}

#[tracing::instrument(name = "notify", skip_all, fields(event_id = %envelope.event_id, order_id))]
async fn order_event(n: &Notifier<'_>, envelope: Envelope) -> Result<Delivered, StoreError> {
    let span = tracing::Span::current();
    let Plan::Message(kind) = plan(envelope.event.kind()) else {
        return Ok(Delivered::Silent);
    };
    let Some((order_id, user)) = order_of(&envelope.event) else {
        return Ok(Delivered::Refused(format!(
            "{:?} names no order",
            envelope.event.kind()
        )));
    };
    span.record("order_id", tracing::field::display(order_id));
    let Some(order) = n.orders.get(order_id).await? else {
        return Ok(Delivered::Refused(format!(
            "order {order_id} does not exist"
        )));
    };
    if order.user_id != user {
        return Ok(Delivered::Refused(format!(
            "order {order_id} is not the event's shopper's"
        )));
    }
    let extras = extras(n, &envelope.event, &order).await?;
    let mail = render(kind, &order, &extras, n.store_url);
    let notice = Notice {
        notice_id: envelope.event_id.clone(),
        kind,
        order_id: Some(order_id),
        item_id: None,
        title: mail.subject.clone(),
        at: envelope.time,
        refund: extras.refund,
    };
    if n.notices.keep(&user, &notice).await? {
        tracing::info!(kind = ?kind, "notice kept");
    }
    send_mail(n, &user, &envelope.event_id, kind, |_| mail).await
}

#[tracing::instrument(name = "notify_restock", skip_all, fields(event_id = %r.event_id, item_id = %r.item_id, user_id = %r.user_id))]
async fn restocked(n: &Notifier<'_>, r: RestockNotice) -> Result<Delivered, StoreError> {
    let Some(item) = n.catalog.get(r.item_id).await? else {
        // Delisted since: nothing to buy, nothing to wait for.
        n.alerts.unwatch(&r.user_id, r.item_id).await?;
        return Ok(Delivered::Silent);
    };
    let available = n
        .inventory
        .available(&[r.item_id])
        .await?
        .get(&r.item_id)
        .copied()
        .unwrap_or(0);
    if available == 0 {
        // Sold out again before this shopper was told: the alert stays for the next restock
        // (telling them now would send them to a sold-out page).
        tracing::info!("sold out again before the notice; the alert stays");
        return Ok(Delivered::Silent);
    }
    let kind = MessageKind::BackInStock;
    let notice = Notice {
        notice_id: r.event_id.clone(),
        kind,
        order_id: None,
        item_id: Some(r.item_id),
        title: format!("Back in stock: {}", item.name),
        at: r.at,
        refund: None,
    };
    match n
        .alerts
        .end_with_notice(&r.user_id, r.item_id, &notice)
        .await?
    {
        AlertEnd::Ended => tracing::info!("alert ended, notice kept"),
        AlertEnd::ToldBefore => {}
        AlertEnd::NotWaiting => return Ok(Delivered::Silent),
    }
    let store = n.store_url.trim_end_matches('/');
    send_mail(n, &r.user_id, &r.event_id, kind, |token| {
        let page = format!("{store}/#/unsubscribe?token={}", token.unwrap_or_default());
        render_back_in_stock(item.name.as_str(), item.item_id, item.price, store, &page)
    })
    .await
}

/// Send message `key` of the shopper's outbox once: claim it, check where it may go, write
/// it (`compose` gets the shopper's unsubscribe token for optional mail), send, record.
async fn send_mail(
    n: &Notifier<'_>,
    user: &UserId,
    key: &str,
    kind: MessageKind,
    compose: impl FnOnce(Option<&str>) -> Mail,
) -> Result<Delivered, StoreError> {
    let now = n.clock.now();
    let attempt = match n.notices.claim_mail(user, key, now, LEASE_MS).await? {
        MailClaim::Settled => {
            return Ok(Delivered::Done(MailOutcome::Skipped(
                "settled before".into(),
            )))
        }
        MailClaim::Busy => {
            return Ok(Delivered::Later {
                reason: "another consumer is sending it".into(),
                retry_in: Duration::from_millis(LEASE_MS as u64),
            })
        }
        MailClaim::Mine { attempt } => attempt,
    };
    let outcome = mail_outcome(n, user, kind, attempt, compose).await?;
    n.notices
        .finish_mail(user, key, &outcome, n.clock.now())
        .await?;
    tracing::info!(kind = ?kind, attempt, outcome = outcome_name(&outcome), "mail settled");
    Ok(match outcome {
        MailOutcome::Retry(reason) => Delivered::Later {
            reason,
            retry_in: backoff(attempt),
        },
        other => Delivered::Done(other),
    })
}

/// What becomes of one claimed message: skipped (no address, turned off, suppressed), sent,
/// parked, or to be tried again.
async fn mail_outcome(
    n: &Notifier<'_>,
    user: &UserId,
    kind: MessageKind,
    attempt: u32,
    compose: impl FnOnce(Option<&str>) -> Mail,
) -> Result<MailOutcome, StoreError> {
    let settings = n.notices.settings(user).await?;
    let Some(to) = &settings.email else {
        return Ok(MailOutcome::Skipped("no verified address".into()));
    };
    if kind.optional() && !settings.back_in_stock_mail {
        return Ok(MailOutcome::Skipped("turned off in settings".into()));
    }
    if let Some(reason) = n.suppressions.suppressed(to).await? {
        return Ok(MailOutcome::Skipped(format!(
            "address on the suppression list: {reason}"
        )));
    }
    let (mail, unsubscribe) = if kind.optional() {
        let Some(api) = n.api_url else {
            return Ok(MailOutcome::Parked(
                "optional mail needs its one-click unsubscribe and API_URL is not set".into(),
            ));
        };
        let token = n.unsubscribes.token(user).await?;
        let url = format!("{}/v1/unsubscribe/{token}", api.trim_end_matches('/'));
        (compose(Some(&token)), Some(Unsubscribe(url)))
    } else {
        (compose(None), None)
    };
    Ok(match n.mailer.send(to, &mail, unsubscribe.as_ref()).await {
        Ok(id) => MailOutcome::Sent(id),
        Err(MailError::Refused(reason)) => MailOutcome::Parked(reason),
        Err(MailError::Busy(reason)) if attempt >= MAX_ATTEMPTS => {
            MailOutcome::Parked(format!("still failing after {attempt} attempts: {reason}"))
        }
        Err(MailError::Busy(reason)) => MailOutcome::Retry(reason),
    })
}

fn outcome_name(outcome: &MailOutcome) -> &'static str {
    match outcome {
        MailOutcome::Sent(_) => "sent",
        MailOutcome::Parked(_) => "parked",
        MailOutcome::Skipped(_) => "skipped",
        MailOutcome::Retry(_) => "retry",
    }
}

/// What the event adds to the order: tracking, refunds, the cancelled line, the label.
async fn extras(
    n: &Notifier<'_>,
    event: &Event,
    order: &crate::domain::Order,
) -> Result<Extras, StoreError> {
    let currency = order.total.currency;
    Ok(match event {
        Event::OrderShipped(_) => Extras {
            tracking: n
                .fulfilment
                .shipments(order.order_id)
                .await?
                .into_iter()
                .filter_map(|s| s.tracking_number)
                .collect(),
            ..Extras::default()
        },
        Event::OrderCancelled(c) => Extras {
            refund: Some(c.total),
            ..Extras::default()
        },
        Event::OrderLineCancelled(c) => {
            let name = n
                .catalog
                .get(c.item_id)
                .await?
                .map(|item| item.name.to_string())
                .unwrap_or_else(|| format!("item {}", c.item_id));
            Extras {
                refund: Some(c.refund),
                line: Some((name, c.quantity.get())),
                ..Extras::default()
            }
        }
        Event::OrderRefunded(_) | Event::OrderPartiallyRefunded(_) => Extras {
            refund: Some(Money {
                amount: order.payment.refunded,
                currency,
            }),
            ..Extras::default()
        },
        Event::ReturnAuthorised(r) => Extras {
            return_label: Some((r.return_id.to_string(), r.return_to.to_string())),
            ..Extras::default()
        },
        _ => Extras::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_retry_waits_twice_as_long_up_to_fifteen_minutes() {
        let waits: Vec<u64> = (1..=7).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(backoff(0).as_secs(), 30);
        assert_eq!(backoff(u32::MAX).as_secs(), 900);
    }
}
