//! SQS handlers: the checkout timer, order assignment, warehouse updates and seller notices. Each reports
//! only its failed message ids (`SqsBatchResponse`), so SQS redelivers just those.

use crate::ports::{StoreError, Timer, TimerMessage};
use crate::usecases::checkout::{self, Expiry};

use crate::workers::schedules::RUN_MARGIN;
use crate::App;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};

/// Act on one timer message. `Err` leaves it on the queue for another try.
async fn on_timer(app: &App, body: &str) -> Result<(), StoreError> {
    let message: TimerMessage = match serde_json::from_str(body) {
        Ok(m) => m,
        Err(e) => {
            return app
                .dead_letters
                .park(body, &format!("not a timer message: {e}"))
                .await
        }
    };
    let now = app.clock.now();
    match message {
        TimerMessage::Expire { checkout_id, .. } => {
            if let Expiry::NotDue(wait) = checkout::expire(app.shop(), checkout_id, now).await? {
                // Early (SQS delays are capped at 15 minutes): come back when it is due.
                app.timer
                    .schedule(&message, wait + std::time::Duration::from_secs(1))
                    .await?;
            }
            Ok(())
        }
        TimerMessage::Settle { order_id, .. } => checkout::settle(app.shop(), order_id, now).await,
        TimerMessage::PayDues { order_id, .. } => checkout::pay_dues(app.shop(), order_id).await,
    }
}

/// One message of a batch as a handler sees it.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The message body.
    pub body: String,
    /// How often SQS has delivered this message, this delivery included.
    pub receives: u32,
    /// Who sent it, as SQS tells (`SenderId`: an IAM user id, or `<role id>:<session>`).
    pub sender: Option<String>,
    /// Its receipt handle (to delay its redelivery).
    pub receipt: Option<String>,
}

/// Handle the messages of an SQS batch, `concurrency` at a time, within the function's
/// time (less [`RUN_MARGIN`]); the response names only the messages whose handling failed
/// or was cut off by the deadline, so SQS redelivers just those (the rest are deleted), and
/// a slow provider never times out the whole batch.
async fn each_message<F, Fut>(
    event: LambdaEvent<SqsEvent>,
    concurrency: usize,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(Delivery) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let deadline = crate::batch::budget(event.context.deadline(), RUN_MARGIN);
    let records: Vec<(String, Delivery)> = event
        .payload
        .records
        .into_iter()
        .map(|mut record| {
            let receives = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let delivery = Delivery {
                body: record.body.unwrap_or_default(),
                receives,
                sender: record.attributes.remove("SenderId"),
                receipt: record.receipt_handle.take(),
            };
            (record.message_id.unwrap_or_default(), delivery)
        })
        .collect();
    let handle = &handle;
    let handled = crate::batch::each(records, concurrency, deadline, |(_, delivery)| {
        handle(delivery)
    })
    .await;
    let mut response = SqsBatchResponse::default();
    for ((id, _), outcome) in handled {
        match outcome {
            crate::batch::Handled::Done(()) => continue,
            crate::batch::Handled::Failed(e) => {
                tracing::warn!(message_id = %id, error = %e, "message not handled; SQS will redeliver it");
            }
            crate::batch::Handled::OutOfTime => {
                tracing::warn!(message_id = %id, "no time left for this message; SQS will redeliver it");
            }
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// Timer messages handled at once: each may call the payment provider (up to its call
/// budget), so ten in a row could outlast the function.
pub const TIMER_CONCURRENCY: usize = 5;

/// `hold-timer`: expiry and payment-settlement messages, delayed by SQS.
pub async fn hold_timer(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    Ok(each_message(event, TIMER_CONCURRENCY, |d| async move {
        on_timer(app, &d.body).await
    })
    .await)
}

/// The order an assignment message is about: an EventBridge `OrderPlaced` envelope (as the
/// rule delivers it) or a bare `{"orderId": ...}` (a manual re-drive).
fn order_of(body: &str) -> Result<crate::domain::OrderId, String> {
    use crate::domain::event::{Envelope, Event, EventKind};
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Redrive {
        order_id: crate::domain::OrderId,
    }
    if let Ok(Redrive { order_id }) = serde_json::from_str(body) {
        return Ok(order_id);
    }
    if let Ok(bare) = serde_json::from_str::<serde_json::Value>(body) {
        if bare.get("detail-type").is_none() {
            // Neither an envelope nor a clean re-drive: say what is wrong with the id.
            let raw = bare["detail"]["orderId"]
                .as_str()
                .or_else(|| bare["orderId"].as_str())
                .ok_or("neither an OrderPlaced envelope nor {\"orderId\": ...}")?;
            return crate::domain::OrderId::try_from(raw);
        }
    }
    match Envelope::parse_only(body, &[EventKind::OrderPlaced], "an OrderPlaced event")?.event {
        Event::OrderPlaced(placed) => Ok(placed.order_id),
        other => Err(format!(
            "not an OrderPlaced event: {}",
            other.kind().detail_type()
        )),
    }
}

/// `assign-orders`: `OrderPlaced` events (EventBridge rule → SQS) become warehouse orders.
pub async fn assign_orders(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::usecases::fulfilment::{assign, AssignError};
    // Sites change rarely: one read per batch (a failure fails the batch, which is retried).
    let sites = crate::ports::Warehouses::list(&app.warehouses).await?;
    let sites = &sites;
    let now = app.clock.now();
    Ok(each_message(event, 1, |Delivery { body, .. }| async move {
        let order = match order_of(&body) {
            Ok(order) => order,
            Err(reason) => return app.assignment_dead_letters.park(&body, &reason).await,
        };
        match assign(app.shop(), sites, order, now).await {
            Ok(done) => {
                tracing::info!(order_id = %order, outcome = ?done, "assignment");
                Ok(())
            }
            Err(AssignError::UnknownOrder(o)) => {
                let reason = format!("order {o} does not exist");
                app.assignment_dead_letters.park(&body, &reason).await
            }
            Err(AssignError::Store(e)) => Err(e),
        }
    })
    .await)
}

/// The `maxReceiveCount` of `WarehouseUpdatesQueue` in template.yaml (a test keeps them equal).
pub const WAREHOUSE_UPDATE_RECEIVES: u32 = 10;

/// `apply-warehouse-updates`: what warehouses report, applied once each; invalid messages are
/// parked in the dead-letter queue with the reason, and the queue keeps flowing.
pub async fn apply_warehouse_updates(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::domain::warehouse_update::WarehouseMessage;
    use crate::usecases::fulfilment::{apply_update, UpdateError};
    Ok(each_message(event, 1, |d| async move {
        let (body, receives) = (d.body, d.receives);
        let message = match WarehouseMessage::parse(&body) {
            Ok(message) => message,
            Err(reason) => return app.update_dead_letters.park(&body, &reason).await,
        };
        // Only the warehouse's own identity speaks for it, whatever the body says.
        if let Err(mismatch) = crate::usecases::identities::sender_speaks_for(
            &app.identities,
            d.sender.as_deref(),
            &message.warehouse_id,
        )
        .await?
        {
            return app.update_dead_letters.park(&body, &mismatch.to_string()).await;
        }
        match apply_update(app.shop(), &message, app.clock.now()).await {
            Ok(outcome) => {
                tracing::info!(event_id = %message.event_id, kind = message.update.kind(), warehouse_id = %message.warehouse_id, ?outcome, "warehouse update");
                Ok(())
            }
            Err(UpdateError::Invalid(reason)) => app.update_dead_letters.park(&body, &reason).await,
            // The last delivery before SQS would redrive it without a word: park it here,
            // with the reason, instead.
            Err(UpdateError::NotYet(reason)) if receives >= WAREHOUSE_UPDATE_RECEIVES => {
                let reason = format!("still not applicable after {receives} deliveries: {reason}");
                app.update_dead_letters.park(&body, &reason).await
            }
            Err(UpdateError::NotYet(reason)) => Err(StoreError::Unavailable(reason)),
            Err(UpdateError::Store(e)) => Err(e),
        }
    })
    .await)
}

/// `notify-shoppers` (SQS, fed by the `OrderEventsToShoppers` rule and the restock
/// fan-out): each order event becomes the shopper's inbox notice and mail, once, and so does
/// each shopper's restock ([`crate::usecases::notifications::deliver`]). A message whose mail
/// must wait (another consumer holds it, SES is busy) fails alone, its redelivery delayed by
/// the notifier's backoff (its visibility timeout is set to the wait, with up to a fifth
/// more at random so retries of one burst spread out); one that is neither is parked.
pub async fn notify_shoppers(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::usecases::notifications::{deliver, Delivered};
    Ok(each_message(event, 4, |d| async move {
        match deliver(&app.notifier(), &d.body).await? {
            Delivered::Silent | Delivered::Done(_) => Ok(()),
            Delivered::Later { reason, retry_in } => {
                if let Some(receipt) = &d.receipt {
                    use rand::Rng;
                    let spread = rand::thread_rng().gen_range(0..=retry_in.as_millis() as u64 / 5);
                    let wait = retry_in + std::time::Duration::from_millis(spread);
                    if let Err(e) = app.shopper_notice_queue.delay(receipt, wait).await {
                        // The queue's own visibility timeout still brings it back.
                        tracing::warn!(error = %e, "retry delay not set");
                    }
                }
                Err(StoreError::Unavailable(reason))
            }
            Delivered::Refused(reason) => {
                app.shopper_notice_dead_letters.park(&d.body, &reason).await
            }
        }
    })
    .await)
}

/// `fan-out-restocks` (SQS, fed by the `RestocksToShoppers` rule): each `ItemRestocked`
/// becomes one message per waiting shopper on the notices queue; a fan-out too long for one
/// run continues from a message it puts on its own queue.
pub async fn fan_out_restocks(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::domain::FanOut;
    use crate::usecases::notifications::fan_out::{fan_out, PAGING};
    Ok(each_message(event, 1, |Delivery { body, .. }| async move {
        let job = match FanOut::parse(&body) {
            Ok(job) => job,
            Err(reason) => return app.fan_out_dead_letters.park(&body, &reason).await,
        };
        let done = fan_out(
            &app.shopper_notices,
            &app.shopper_notice_queue,
            &job,
            PAGING,
        )
        .await?;
        if let Some(after) = done.rest {
            app.fan_out_queue.send(&job.continuation(after)).await?;
        }
        Ok(())
    })
    .await)
}

/// `record-mail-feedback` (SQS, fed by the `MailFeedbackToSuppressions` rule on the default
/// bus): SES's bounces and complaints put addresses on the suppression list.
pub async fn record_mail_feedback(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::usecases::notifications::feedback::{record, Feedback};
    let now = app.clock.now();
    Ok(each_message(event, 4, |Delivery { body, .. }| async move {
        match record(&app.shopper_notices, &body, now).await? {
            Feedback::Suppressed(_) => Ok(()),
            Feedback::Ignored(why) => {
                tracing::info!(%why, "mail feedback ignored");
                Ok(())
            }
            Feedback::Refused(reason) => app.feedback_dead_letters.park(&body, &reason).await,
        }
    })
    .await)
}

/// `keep-seller-notices`: stock alerts (EventBridge rule → SQS) kept per seller for
/// `GET /v1/seller/notifications`; a redelivery keeps nothing twice, and a message that is not
/// a seller notice is parked with the reason.
pub async fn keep_seller_notices(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::usecases::notices::{keep, Kept};
    Ok(each_message(event, 1, |Delivery { body, .. }| async move {
        match keep(&app.notices, &app.catalog, &body).await? {
            Kept::New | Kept::Again => Ok(()),
            Kept::Refused(reason) => app.notice_dead_letters.park(&body, &reason).await,
        }
    })
    .await)
}

/// `process-images`: S3's notifications of sellers' uploads (through the image uploads
/// queue), each checked, rendered and listed on its item or refused with a reason (see
/// [`crate::usecases::images::process`]). A message that is not an upload notification is
/// parked with its reason; S3's own `s3:TestEvent` is dropped.
pub async fn process_images(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    use crate::domain::UploadKey;
    use crate::usecases::images::process::process_upload;
    Ok(each_message(event, 2, |Delivery { body, .. }| async move {
        let keys = match upload_keys(&body) {
            Ok(keys) => keys,
            Err(reason) => return app.image_dead_letters.park(&body, &reason).await,
        };
        for key in keys {
            let key = match UploadKey::parse(&key) {
                Ok(key) => key,
                Err(reason) => return app.image_dead_letters.park(&body, &reason).await,
            };
            let outcome = process_upload(
                &app.catalog,
                &app.images,
                &app.notices,
                &app.config.images.base_url,
                key,
                app.clock.now(),
            )
            .await?;
            tracing::info!(item_id = %key.item_id, image_id = %key.image_id, ?outcome, "upload handled");
        }
        Ok(())
    })
    .await)
}

/// The object keys an S3 event notification names (none for `s3:TestEvent`, which S3 sends
/// when the notification is configured). Keys arrive URL-encoded
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
pub fn upload_keys(body: &str) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    // Only what is read here is required of a record (S3's whole structure is typed in
    // `aws_lambda_events::s3`, which refuses a record without, say, `eventTime`).
    #[derive(serde::Deserialize)]
    struct Notification {
        #[serde(rename = "Records")]
        records: Vec<Record>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Record {
        event_name: String,
        s3: Entity,
    }
    #[derive(serde::Deserialize)]
    struct Entity {
        object: Object,
    }
    #[derive(serde::Deserialize)]
    struct Object {
        key: String,
    }
    let notification: Notification =
        serde_json::from_value(value).map_err(|e| format!("not an S3 event notification: {e}"))?;
    Ok(notification
        .records
        .into_iter()
        .filter(|r| r.event_name.starts_with("ObjectCreated:"))
        .map(|r| {
            let plus_as_space = r.s3.object.key.replace('+', " ");
            form_urlencoded::parse(format!("k={plus_as_space}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect())
}

/// Signal log lines recorded at once (each is a few small DynamoDB writes).
const SIGNAL_CONCURRENCY: usize = 8;

/// `record-signals`: the one consumer of shopper signals, fed two ways.
///
/// - The functions' log group's subscription filter (`{ $.fields.message = "signal" }`)
///   invokes it asynchronously with a batch of log lines (`awslogs`, gzip + base64). A line
///   that is not a readable signal is parked with its reason and the rest go on; when the
///   store fails for any, the invocation fails so Lambda retries it, and everything already
///   counted is not counted again (each tally is once per shopper, or per log event).
/// - The `OrderPlacedToSignals` rule's queue (SQS): each `OrderPlaced` is a purchase.
pub async fn record_signals(
    app: &App,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    use crate::domain::signal::SignalLine;
    use crate::usecases::recommend::record::record;
    let (payload, context) = event.into_parts();
    if payload.get("awslogs").is_none() {
        let sqs: SqsEvent = serde_json::from_value(payload)?;
        let response = each_message(LambdaEvent::new(sqs, context), 4, |d| async move {
            match purchase(&d.body) {
                Ok((line, id)) => record(&app.signals, &app.catalog, &line, &id)
                    .await
                    .map(|_| ()),
                Err(reason) => app.signal_dead_letters.park(&d.body, &reason).await,
            }
        })
        .await;
        return Ok(serde_json::to_value(response)?);
    }
    // From text: the type decodes `data` (base64, gzip) from a borrowed string only.
    let raw = payload.to_string();
    let logs: aws_lambda_events::cloudwatch_logs::LogsEvent = match serde_json::from_str(&raw) {
        Ok(logs) => logs,
        Err(e) => {
            let reason = format!("not a CloudWatch Logs batch: {e}");
            app.signal_dead_letters.park(&raw, &reason).await?;
            return Ok(serde_json::Value::Null);
        }
    };
    let entries = logs.aws_logs.data.log_events;
    let deadline = crate::batch::budget(context.deadline(), RUN_MARGIN);
    let handled = crate::batch::each(entries, SIGNAL_CONCURRENCY, deadline, |entry| async move {
        match SignalLine::from_log_message(&entry.message) {
            Ok(Some(line)) => record(&app.signals, &app.catalog, &line, &entry.id)
                .await
                .map(|_| ()),
            Ok(None) => Ok(()),
            Err(reason) => app.signal_dead_letters.park(&entry.message, &reason).await,
        }
    })
    .await;
    let (mut done, mut failed) = (0usize, 0usize);
    for (entry, outcome) in &handled {
        match outcome {
            crate::batch::Handled::Done(()) => done += 1,
            crate::batch::Handled::Failed(e) => {
                failed += 1;
                tracing::warn!(log_event_id = %entry.id, error = %e, "signal not recorded");
            }
            crate::batch::Handled::OutOfTime => failed += 1,
        }
    }
    tracing::info!(done, failed, "signals recorded");
    if failed > 0 {
        // Lambda retries an asynchronous invocation that failed (twice, then the on-failure
        // destination); what was counted this time is not counted again.
        return Err(format!("{failed} of {} signals not recorded", handled.len()).into());
    }
    Ok(serde_json::Value::Null)
}

/// An `OrderPlaced` envelope as a purchase signal, with the event's own id.
fn purchase(body: &str) -> Result<(crate::domain::signal::SignalLine, String), String> {
    use crate::domain::event::{Envelope, Event, EventKind};
    use crate::domain::signal::{Signal, SignalLine};
    let envelope = Envelope::parse_only(body, &[EventKind::OrderPlaced], "an OrderPlaced")?;
    let Event::OrderPlaced(order) = envelope.event else {
        return Err("not an OrderPlaced".into());
    };
    let mut items: Vec<crate::domain::ItemId> = order.lines.iter().map(|l| l.item_id).collect();
    items.sort();
    items.dedup();
    let signal = Signal::Bought {
        shopper: order.user_id,
        items,
    };
    Ok((SignalLine::new(signal, order.at), envelope.event_id))
}
