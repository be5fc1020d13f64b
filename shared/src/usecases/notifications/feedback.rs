//! What SES reports back about sent mail (a configuration set's event destination publishes
//! to EventBridge's default bus, `source: aws.ses`): a permanent bounce or a complaint puts
//! each address it names on the suppression list, which every later send checks
//! ([`super::deliver`]). A transient bounce (a full mailbox) suppresses nothing: SES has
//! already retried it, and the next message may well arrive.
//!
//! The event's `detail` is SES's event record
//! (https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html):
//! `eventType` `Bounce` with `bounce.bounceType` and `bounce.bouncedRecipients[].emailAddress`,
//! or `Complaint` with `complaint.complainedRecipients[].emailAddress`.

use serde::Deserialize;

use crate::domain::{EmailAddress, Timestamp};
use crate::ports::{StoreError, Suppressions};

/// What one SES event meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Addresses put on the list now (those listed before are not counted).
    Suppressed(usize),
    /// Nothing to suppress (a transient bounce, another event type), with why.
    Ignored(String),
    /// Not an SES event this consumer can read: the reason, for the dead-letter queue.
    Refused(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_type: Option<String>,
    /// Without event publishing SES names it `notificationType`.
    notification_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    bounced_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// Record what the queued EventBridge event `body` (from SES) says.
#[tracing::instrument(name = "mail_feedback", skip_all)]
pub async fn record(
    suppressions: &dyn Suppressions,
    body: &str,
    now: Timestamp,
) -> Result<Feedback, StoreError> {
    let envelope: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Ok(Feedback::Refused(format!("not JSON: {e}"))),
    };
    if envelope["source"] != "aws.ses" {
        return Ok(Feedback::Refused(
            "not an SES event (source is not aws.ses)".into(),
        ));
    }
    let record: Record = match serde_json::from_value(envelope["detail"].clone()) {
        Ok(r) => r,
        Err(e) => return Ok(Feedback::Refused(format!("not an SES event record: {e}"))),
    };
    let kind = record
        .event_type
        .or(record.notification_type)
        .unwrap_or_default();
    let (addresses, reason) = match (kind.as_str(), record.bounce, record.complaint) {
        ("Bounce", Some(b), _) if b.bounce_type == "Permanent" => (
            b.bounced_recipients,
            format!(
                "permanent bounce ({})",
                b.bounce_sub_type.as_deref().unwrap_or("General")
            ),
        ),
        ("Bounce", Some(b), _) => {
            return Ok(Feedback::Ignored(format!(
                "{} bounce: the address may work later",
                b.bounce_type
            )))
        }
        ("Complaint", _, Some(c)) => (
            c.complained_recipients,
            format!(
                "complaint ({})",
                c.complaint_feedback_type.as_deref().unwrap_or("not given")
            ),
        ),
        ("Bounce" | "Complaint", _, _) => {
            return Ok(Feedback::Refused(format!(
                "a {kind} event without its {kind} object"
            )))
        }
        (other, _, _) => return Ok(Feedback::Ignored(format!("{other:?} suppresses nothing"))),
    };
    let mut added = 0;
    for recipient in addresses {
        // An address SES names but we could never have sent to is skipped, not refused: the
        // rest of the event still counts.
        let Ok(address) = EmailAddress::try_from(recipient.email_address) else {
            tracing::warn!("an SES recipient is not a mail address; skipped");
            continue;
        };
        if suppressions.suppress(&address, &reason, now).await? {
            added += 1;
        }
    }
    tracing::info!(added, %reason, "mail feedback recorded");
    Ok(Feedback::Suppressed(added))
}
