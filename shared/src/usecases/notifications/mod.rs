//! Shoppers' notifications: order mail and inbox notices from the domain events
//! ([`deliver`]), restock alerts ([`alerts`], told through [`fan_out`]), the suppression
//! list fed by SES's reports ([`feedback`]), the inbox and the settings a shopper reads and
//! sets.

pub mod alerts;
pub mod deliver;
pub mod fan_out;
pub mod feedback;

use crate::domain::{
    EmailAddress, Notice, NotificationSettings, Page, PageRequest, Timestamp, UserId,
};
use crate::ports::{ShopperNotices, StoreError};

pub use deliver::{backoff, deliver, Delivered, Notifier};

/// What a shopper sees of their inbox: notices newest first and how many of this page they
/// have not seen.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbox {
    /// This page's notices.
    pub items: Vec<InboxNotice>,
    /// The cursor of the next page, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One notice with whether the shopper has seen it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboxNotice {
    /// The notice.
    #[serde(flatten)]
    pub notice: Notice,
    /// Whether it came after the shopper last opened the inbox.
    pub unread: bool,
}

/// A shopper's inbox, newest first, each notice marked unread if it came after the read
/// mark (reading changes nothing: the mark moves only when the shopper says so,
/// [`set_preferences`]).
#[tracing::instrument(name = "list_notifications", skip_all, fields(user_id = %user))]
pub async fn inbox(
    notices: &dyn ShopperNotices,
    user: &UserId,
    page: &PageRequest,
) -> Result<Inbox, StoreError> {
    let settings = notices.settings(user).await?;
    let Page { items, next_cursor } = notices.list(user, page).await?;
    let items = items
        .into_iter()
        .map(|notice| InboxNotice {
            unread: settings.read_up_to.is_none_or(|seen| notice.at > seen),
            notice,
        })
        .collect();
    Ok(Inbox { items, next_cursor })
}

/// A shopper's settings, recording the verified address their token carries (if any) so
/// mail can reach them.
#[tracing::instrument(name = "notification_settings", skip_all, fields(user_id = %user))]
pub async fn settings(
    notices: &dyn ShopperNotices,
    user: &UserId,
    verified: Option<&EmailAddress>,
) -> Result<NotificationSettings, StoreError> {
    let mut current = notices.settings(user).await?;
    if let Some(email) = verified {
        if current.email.as_ref() != Some(email) {
            notices.remember_email(user, email).await?;
            current.email = Some(email.clone());
        }
    }
    Ok(current)
}

/// What a shopper asks to change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Optional mail on or off (unchanged if `None`).
    pub back_in_stock_mail: Option<bool>,
    /// Mark everything up to `now` read.
    pub mark_read: bool,
}

/// Change what a shopper may change (optional mail, the read mark), then answer the
/// settings as stored.
#[tracing::instrument(name = "set_notification_settings", skip_all, fields(user_id = %user))]
pub async fn set_preferences(
    notices: &dyn ShopperNotices,
    user: &UserId,
    verified: Option<&EmailAddress>,
    changes: Changes,
    now: Timestamp,
) -> Result<NotificationSettings, StoreError> {
    if let Some(on) = changes.back_in_stock_mail {
        notices.set_preferences(user, on).await?;
    }
    if changes.mark_read {
        notices.mark_read(user, now).await?;
    }
    settings(notices, user, verified).await
}
