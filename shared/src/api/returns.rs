//! Return routes: a shopper asks to return units and reads the authorisation; the seller of
//! returned units held for review accepts or refuses them.

use lambda_http::http::{header, StatusCode};
use lambda_http::Request;
use serde::{Deserialize, Serialize};

use super::request::{idempotency_key, json_body, path, person, principal_with};
use super::{finish, json, with_header, HttpResult};
use crate::domain::{
    ItemId, OrderId, Quantity, ReturnId, ReturnLine, ReturnReview, ReviewCause, ReviewDecision,
    ReviewId, ReviewState, Role, Timestamp, ValidationErrors, WarehouseId,
};
use crate::usecases::returns;
use crate::App;

/// Returned units held for review, as the shopper and the seller see them (who decided is
/// kept on the record, not shown).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    review_id: ReviewId,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_id: Option<ReturnId>,
    item_id: ItemId,
    warehouse_id: WarehouseId,
    units: Quantity,
    condition: crate::domain::warehouse_update::ReturnCondition,
    cause: ReviewCause,
    state: ReviewState,
    held_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    decided_at: Option<Timestamp>,
    refund: i64,
}

impl From<ReturnReview> for ReviewView {
    fn from(r: ReturnReview) -> Self {
        Self {
            review_id: r.review_id,
            return_id: r.return_id,
            item_id: r.item_id,
            warehouse_id: r.warehouse_id,
            units: r.units,
            condition: r.condition,
            cause: r.cause,
            state: r.state,
            held_at: r.held_at,
            decided_at: r.decided_at,
            refund: r.refund,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReturnBody {
    lines: Vec<ReturnLineBody>,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReturnLineBody {
    item_id: String,
    quantity: i64,
}

/// `POST /v1/orders/{orderId}/returns` `{lines: [{itemId, quantity}], reason}`: 201 with the
/// return authorisation (its id, lines and label) and its `Location`; 200 with the same one
/// when a retry finds it made.
pub async fn request_return(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let id: OrderId = path(&req, "orderId")?;
            let key = idempotency_key(&req)?;
            let body: ReturnBody = json_body(&req)?;
            let mut errors = ValidationErrors::default();
            let lines: Vec<Option<ReturnLine>> = body
                .lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    let item_id =
                        errors.check(&format!("lines[{i}].itemId"), ItemId::try_from(l.item_id));
                    let quantity = errors.check(
                        &format!("lines[{i}].quantity"),
                        Quantity::try_from(l.quantity),
                    );
                    Some(ReturnLine {
                        item_id: item_id?,
                        quantity: quantity?,
                    })
                })
                .collect();
            let reason = errors.check("reason", crate::domain::Text::<500>::try_from(body.reason));
            let (lines, reason) = errors
                .finish(|| Some((lines.into_iter().collect::<Option<Vec<_>>>()?, reason?)))?;
            let made = returns::request(
                app.shop(),
                &who.user_id,
                id,
                lines,
                reason.to_string(),
                key.as_deref(),
            )
            .await?;
            let status = if made.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let location = format!("/v1/orders/{id}/returns/{}", made.authorisation.return_id);
            Ok(with_header(
                json(status, &made.authorisation),
                header::LOCATION,
                location,
            ))
        }
        .await,
    )
}

/// `GET /v1/orders/{orderId}/returns/{returnId}`: the caller's own return authorisation.
pub async fn get_return(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let order: OrderId = path(&req, "orderId")?;
            let id: ReturnId = path(&req, "returnId")?;
            let found = returns::get(app.shop(), &who.user_id, order, id).await?;
            Ok(json(StatusCode::OK, &found))
        }
        .await,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DecisionBody {
    decision: ReviewDecision,
}

/// `POST /v1/seller/orders/{orderId}/return-reviews/{reviewId}` `{decision: ACCEPT|REFUSE}`:
/// the seller of the held item decides (sellers only, checked before the body is read).
pub async fn decide_return_review(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = principal_with(&req, Role::Seller)?;
            let order: OrderId = path(&req, "orderId")?;
            let id: ReviewId = path(&req, "reviewId")?;
            let body: DecisionBody = json_body(&req)?;
            let decided = returns::decide(app.shop(), &who, order, id, body.decision).await?;
            Ok(json(StatusCode::OK, &ReviewView::from(decided)))
        }
        .await,
    )
}
