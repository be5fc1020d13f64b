//! A shopper's inbox and notification settings (`GET /v1/me/notifications`, `GET` and
//! `PUT /v1/me/notification-settings`), their restock alerts (`GET /v1/me/restock-alerts`,
//! `PUT` and `DELETE /v1/me/restock-alerts/{itemId}`), and the one-click unsubscribe of
//! optional mail (`POST /v1/unsubscribe/{token}`, RFC 8058).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

use super::error::ApiError;
use super::request::{json_body, page, path, person, query, verified_email};
use super::{finish, json, HttpResult};
use crate::usecases::notifications;
use crate::usecases::notifications::alerts;
use crate::App;

/// `GET /v1/me/notifications?limit=&cursor=`: the shopper's notices, newest first, each with
/// `unread` (after the read mark; reading moves nothing).
pub async fn list_notifications(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let page = page(&query(&req, &["limit", "cursor"])?)?;
            let inbox = notifications::inbox(&app.shopper_notices, &who.user_id, &page).await?;
            Ok(json(StatusCode::OK, &inbox))
        }
        .await,
    )
}

/// `GET /v1/me/notification-settings`: what the shopper is sent and where (the address
/// their token verified is recorded here, so mail can reach them).
pub async fn get_notification_settings(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let email = verified_email(&req);
            let settings =
                notifications::settings(&app.shopper_notices, &who.user_id, email.as_ref()).await?;
            Ok(json(StatusCode::OK, &settings))
        }
        .await,
    )
}

/// What a shopper may change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Preferences {
    /// Optional mail: back in stock.
    #[serde(default)]
    back_in_stock_mail: Option<bool>,
    /// `true`: everything in the inbox up to now is read.
    #[serde(default)]
    mark_read: bool,
    /// Order mail is transactional: only `true` is accepted (so a client that sends the
    /// whole settings object back is not refused).
    #[serde(default)]
    order_mail: Option<bool>,
}

/// `PUT /v1/me/notification-settings` `{"backInStockMail"?: bool, "markRead"?: true}`: 200
/// with the settings.
pub async fn put_notification_settings(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let wanted: Preferences = json_body(&req)?;
            if wanted.order_mail == Some(false) {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ORDER_MAIL_REQUIRED",
                    "order mail is the receipt of what you did (placed, shipped, refunded) and cannot be turned off",
                ));
            }
            let email = verified_email(&req);
            let changes = notifications::Changes {
                back_in_stock_mail: wanted.back_in_stock_mail,
                mark_read: wanted.mark_read,
            };
            let settings = notifications::set_preferences(
                &app.shopper_notices,
                &who.user_id,
                email.as_ref(),
                changes,
                app.clock.now(),
            )
            .await?;
            Ok(json(StatusCode::OK, &settings))
        }
        .await,
    )
}

/// `GET /v1/me/restock-alerts`: the items the shopper waits on, newest first.
pub async fn list_restock_alerts(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let items = alerts::watching(&app.shopper_notices, &who.user_id).await?;
            Ok(json(StatusCode::OK, &serde_json::json!({ "items": items })))
        }
        .await,
    )
}

/// `PUT /v1/me/restock-alerts/{itemId}`: "notify me" on a sold-out item: 201 when started,
/// 200 when the shopper had asked before (a retried request changes nothing), 409
/// `IN_STOCK` when it is on sale now.
pub async fn put_restock_alert(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let item: crate::domain::ItemId = path(&req, "itemId")?;
            // The restock mail needs the address the shopper's token verified: recorded here
            // too, for a shopper who has not ordered yet.
            let email = verified_email(&req);
            notifications::settings(&app.shopper_notices, &who.user_id, email.as_ref()).await?;
            let watching = alerts::watch(
                &app.shopper_notices,
                &app.catalog,
                &app.inventory,
                &who.user_id,
                item,
                app.clock.now(),
            )
            .await?;
            let status = if watching.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json(status, &watching))
        }
        .await,
    )
}

/// `DELETE /v1/me/restock-alerts/{itemId}`: 200 with the alerts left, whether or not there
/// was one on the item (a retried request answers the same).
pub async fn delete_restock_alert(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let item: crate::domain::ItemId = path(&req, "itemId")?;
            alerts::unwatch(&app.shopper_notices, &who.user_id, item).await?;
            let items = alerts::watching(&app.shopper_notices, &who.user_id).await?;
            Ok(json(StatusCode::OK, &serde_json::json!({ "items": items })))
        }
        .await,
    )
}

/// An unsubscribe token as the notifier makes them: 32 random bytes, base64url (43
/// characters). Anything else is refused before the store is asked.
struct UnsubscribeToken(String);

impl TryFrom<String> for UnsubscribeToken {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let ok = text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(text))
        } else {
            Err("not an unsubscribe token".into())
        }
    }
}

/// `POST /v1/unsubscribe/{token}` (no sign-in: the token is the authority, as RFC 8058's
/// one-click POST from a mail client carries nothing else): the token's shopper gets no
/// more optional mail. 200 `{"unsubscribed": true}`, again on a repeat; 404 for a token
/// nobody holds. The body (`List-Unsubscribe=One-Click`) is not read.
pub async fn unsubscribe(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let UnsubscribeToken(token) = path(&req, "token")?;
            if !alerts::unsubscribe(&app.shopper_notices, &token).await? {
                return Err(ApiError::not_found("no such unsubscribe link"));
            }
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "unsubscribed": true, "kinds": ["BACK_IN_STOCK"] }),
            ))
        }
        .await,
    )
}
