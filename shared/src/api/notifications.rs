//! A shopper's inbox and notification settings: `GET /v1/me/notifications`,
//! `GET` and `PUT /v1/me/notification-settings`.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

use super::error::ApiError;
use super::request::{json_body, page, person, query, verified_email};
use super::{finish, json, HttpResult};
use crate::usecases::notifications;
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
