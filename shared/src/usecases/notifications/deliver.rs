//! One domain event, told to its shopper: an inbox notice and a mail, each exactly once per
//! event however often the event is delivered, and however many consumers get it at once.
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
//! - Throttling and outages are tried again (the queue redelivers) up to [`MAX_ATTEMPTS`],
//!   then the message is parked with its reason; a refusal (bad address) parks it at once.

use crate::domain::event::{Envelope, Event};
use crate::domain::mail::{render, Extras};
use crate::domain::notification::{order_of, plan, Plan};
use crate::domain::{Money, Notice};
use crate::ports::{
    Catalog, Clock, Fulfilment, MailClaim, MailError, MailOutcome, Mailer, Orders, ShopperNotices,
    StoreError,
};

/// How long a claim on a message holds (the notifier's timeout is 30 s).
pub const LEASE_MS: i64 = 60_000;

/// Tries before a message that keeps failing for now is parked.
pub const MAX_ATTEMPTS: u32 = 5;

/// What the notifier reads and writes.
pub struct Notifier<'a> {
    /// Orders (what the mail says).
    pub orders: &'a dyn Orders,
    /// Parcels (tracking numbers).
    pub fulfilment: &'a dyn Fulfilment,
    /// Item names (a cancelled line).
    pub catalog: &'a dyn Catalog,
    /// Inboxes, settings, outbox.
    pub notices: &'a dyn ShopperNotices,
    /// The mail service.
    pub mailer: &'a dyn Mailer,
    /// Now.
    pub clock: &'a dyn Clock,
    /// The storefront's address, for links.
    pub store_url: &'a str,
}

/// What delivering one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Nothing to tell (the plan is silence).
    Silent,
    /// The notice is kept and the mail settled (sent now or before, skipped or parked).
    Done(MailOutcome),
    /// The notice is kept; the mail waits for another try (another consumer holds it, or the
    /// mail service is busy).
    Later(String),
    /// Not an event this consumer can use; the reason goes to the dead-letter queue.
    Refused(String),
}

/// Tell the shopper about the event in the queued EventBridge envelope `body`.
#[tracing::instrument(name = "notify", skip_all, fields(event_id, order_id))]
pub async fn deliver(n: &Notifier<'_>, body: &str) -> Result<Delivered, StoreError> {
    let envelope = match Envelope::parse(body) {
        Ok(e) => e,
        Err(reason) => return Ok(Delivered::Refused(reason)),
    };
    let span = tracing::Span::current();
    span.record("event_id", envelope.event_id.as_str());
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
        order_id,
        title: mail.subject.clone(),
        at: envelope.time,
        refund: extras.refund,
    };
    if n.notices.keep(&user, &notice).await? {
        tracing::info!(kind = ?kind, "notice kept");
    }
    let key = envelope.event_id.as_str();
    let now = n.clock.now();
    let attempt = match n.notices.claim_mail(&user, key, now, LEASE_MS).await? {
        MailClaim::Settled => {
            return Ok(Delivered::Done(MailOutcome::Skipped(
                "settled before".into(),
            )))
        }
        MailClaim::Busy => return Ok(Delivered::Later("another consumer is sending it".into())),
        MailClaim::Mine { attempt } => attempt,
    };
    let settings = n.notices.settings(&user).await?;
    let outcome = match (
        &settings.email,
        kind.optional() && !settings.back_in_stock_mail,
    ) {
        (None, _) => MailOutcome::Skipped("no verified address".into()),
        (Some(_), true) => MailOutcome::Skipped("turned off in settings".into()),
        (Some(to), false) => match n.mailer.send(to, &mail, None).await {
            Ok(id) => MailOutcome::Sent(id),
            Err(MailError::Refused(reason)) => MailOutcome::Parked(reason),
            Err(MailError::Busy(reason)) if attempt >= MAX_ATTEMPTS => {
                MailOutcome::Parked(format!("still failing after {attempt} attempts: {reason}"))
            }
            Err(MailError::Busy(reason)) => MailOutcome::Retry(reason),
        },
    };
    n.notices
        .finish_mail(&user, key, &outcome, n.clock.now())
        .await?;
    tracing::info!(kind = ?kind, attempt, outcome = outcome_name(&outcome), "mail settled");
    Ok(match outcome {
        MailOutcome::Retry(reason) => Delivered::Later(reason),
        other => Delivered::Done(other),
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
