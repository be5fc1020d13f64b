//! Shopper routes: cart, wishlist, checkout and orders. Every route acts on the caller's own
//! records only; another user's checkout or order is answered as not found.

use crate::domain::signal::Signal;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use super::request::{
    fingerprint, idempotency_key, if_match, json_body, page, path, person, query,
};
use super::{finish, json, with_header, ApiError, HttpResult};
use crate::domain::{
    Address, CheckoutId, HoldLine, ItemId, Money, Order, OrderId, OrderStatus, PaymentState,
    StatusChange, Timestamp, ValidationErrors,
};
use crate::usecases::cart::{self, CartView};
use crate::usecases::checkout::{self, CheckoutView, Submitted};
use crate::usecases::orders;
use crate::App;

fn cart_response(view: &CartView) -> Response<Body> {
    with_header(
        json(StatusCode::OK, view),
        header::ETAG,
        format!("\"{}\"", view.version),
    )
}

/// `GET /v1/cart`
pub async fn get_cart(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            Ok(cart_response(&cart::view(app.shop(), &who.user_id).await?))
        }
        .await,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityBody {
    quantity: i64,
}

/// `PUT /v1/cart/items/{itemId}` `{"quantity": n}` (0 removes; optional `If-Match`)
pub async fn put_cart_item(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let item: ItemId = path(&req, "itemId")?;
            let expected = if_match(&req)?;
            let body: QuantityBody = json_body(&req)?;
            let max = i64::from(crate::domain::cart::MAX_LINE_QUANTITY);
            if !(0..=max).contains(&body.quantity) {
                return Err(ValidationErrors::from(crate::domain::FieldError::new(
                    "quantity",
                    format!("must be 0..={max} (0 removes the line)"),
                ))
                .into());
            }
            let view = cart::set_line(
                app.shop(),
                &who.user_id,
                item,
                body.quantity as u32,
                expected,
            )
            .await?;
            if body.quantity > 0 {
                super::signal(
                    app,
                    Signal::Carted {
                        shopper: who.user_id.clone(),
                        item,
                    },
                );
            }
            Ok(cart_response(&view))
        }
        .await,
    )
}

/// `DELETE /v1/cart/items/{itemId}` (optional `If-Match`)
pub async fn delete_cart_item(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let item: ItemId = path(&req, "itemId")?;
            let expected = if_match(&req)?;
            Ok(cart_response(
                &cart::set_line(app.shop(), &who.user_id, item, 0, expected).await?,
            ))
        }
        .await,
    )
}

/// `GET /v1/wishlist`
pub async fn get_wishlist(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            Ok(json(
                StatusCode::OK,
                &cart::wishlist(app.shop(), &who.user_id).await?,
            ))
        }
        .await,
    )
}

/// `PUT /v1/wishlist/items/{itemId}` (no body)
pub async fn put_wishlist_item(app: &App, req: Request) -> HttpResult {
    set_wished(app, req, true).await
}

/// `DELETE /v1/wishlist/items/{itemId}`
pub async fn delete_wishlist_item(app: &App, req: Request) -> HttpResult {
    set_wished(app, req, false).await
}

/// Both wishlist edits: the same idempotent use case, told which way.
async fn set_wished(app: &App, req: Request, wished: bool) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let item: ItemId = path(&req, "itemId")?;
            let list = cart::set_wished(app.shop(), &who.user_id, item, wished).await?;
            if wished {
                super::signal(
                    app,
                    Signal::Wishlisted {
                        shopper: who.user_id.clone(),
                        item,
                    },
                );
            }
            Ok(json(StatusCode::OK, &list))
        }
        .await,
    )
}

/// `POST /v1/wishlist/items/{itemId}/move-to-cart` → the cart
pub async fn move_to_cart(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let item: ItemId = path(&req, "itemId")?;
            Ok(cart_response(
                &cart::move_to_cart(app.shop(), &who.user_id, item).await?,
            ))
        }
        .await,
    )
}

fn required_key(req: &Request) -> Result<String, ApiError> {
    idempotency_key(req)?.ok_or_else(|| {
        ApiError::bad_request(
            "IDEMPOTENCY_KEY_REQUIRED",
            "send an Idempotency-Key header (any unique string per attempt)",
        )
    })
}

/// `POST /v1/checkout` (header `Idempotency-Key`): 201 with the new checkout; a replay of
/// the key answers 201 with that checkout as it is now (410 once TTL removed it).
pub async fn begin_checkout(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let key = required_key(&req)?;
            let begun = match checkout::begin(app.shop(), &who.user_id, &key).await {
                Err(checkout::BeginError::Waiting(ticket)) => {
                    return Ok(waiting(&ticket, app.clock.now()));
                }
                other => other?,
            };
            if begun.replayed {
                tracing::info!(checkout_id = %begun.checkout.checkout_id, "begin replayed");
            }
            Ok(json(
                StatusCode::CREATED,
                &CheckoutView::of(&begun.checkout, app.clock.now()),
            ))
        }
        .await,
    )
}

/// 202 with the shopper's place in line and `Retry-After`: begin checkout again then (with a
/// new `Idempotency-Key` or the same one; nothing was held).
fn waiting(ticket: &crate::domain::Ticket, now: crate::domain::Timestamp) -> Response<Body> {
    let view = crate::domain::TicketView::of(ticket, now);
    let retry = view.estimated_wait_seconds().max(1).to_string();
    with_header(
        json(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "waitingRoom": view }),
        ),
        lambda_http::http::header::RETRY_AFTER,
        retry,
    )
}

/// `DELETE /v1/checkout/{checkoutId}`: release the hold now.
pub async fn cancel_checkout(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let id: CheckoutId = path(&req, "checkoutId")?;
            Ok(json(
                StatusCode::OK,
                &checkout::cancel(app.shop(), &who.user_id, id).await?,
            ))
        }
        .await,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SubmitBody {
    payment_token: String,
    shipping_address: Address,
}

/// An order as the shopper sees it (the payment token stays server-side).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    order_id: OrderId,
    checkout_id: CheckoutId,
    status: OrderStatus,
    lines: Vec<HoldLine>,
    total: Money,
    shipping_address: Address,
    payment: PaymentState,
    timeline: Vec<StatusChange>,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    eta: Option<Timestamp>,
    /// Return authorisations, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    returns: Vec<crate::domain::ReturnAuthorisation>,
    /// Returned units waiting for (or given) a decision.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reviews: Vec<super::returns::ReviewView>,
    /// Units received back and refunded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    returned: Vec<crate::domain::ReturnLine>,
    /// Lines cancelled after placing, with their reason and refund.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cancelled_lines: Vec<crate::domain::CancelledLine>,
    /// What the provider has refunded so far.
    refunded: Money,
    /// The parcels, once warehouses are assigned (order detail only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    shipments: Vec<ShipmentView>,
}

/// One parcel of an order as the shopper sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentView {
    warehouse_id: crate::domain::WarehouseId,
    state: crate::domain::ShipmentState,
    lines: Vec<crate::domain::ShipmentLine>,
    eta: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_number: Option<String>,
}

impl From<crate::domain::WarehouseOrder> for ShipmentView {
    fn from(w: crate::domain::WarehouseOrder) -> Self {
        Self {
            warehouse_id: w.warehouse_id,
            state: w.state,
            lines: w.lines,
            eta: w.eta,
            tracking_number: w.tracking_number,
        }
    }
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        Self {
            order_id: o.order_id,
            checkout_id: o.checkout_id,
            status: o.status,
            lines: o.lines,
            total: o.total,
            shipping_address: o.shipping_address,
            payment: o.payment.state,
            timeline: o.timeline,
            created_at: o.created_at,
            eta: o.eta,
            returns: o.returns,
            reviews: o.reviews.into_iter().map(Into::into).collect(),
            returned: o.returned,
            cancelled_lines: o.cancelled_lines,
            refunded: Money {
                amount: o.payment.refunded,
                currency: o.total.currency,
            },
            shipments: Vec::new(),
        }
    }
}

fn order_response(status: StatusCode, order: Order) -> Response<Body> {
    let location = format!("/v1/orders/{}", order.order_id);
    with_header(
        json(status, &OrderView::from(order)),
        header::LOCATION,
        location,
    )
}

/// 202 for a payment the shopper's client must complete (3-D Secure): the pending order plus
/// `nextAction` with the provider's client secret, which the client hands to Stripe.js
/// (`handleNextAction`); the webhook then settles the order.
fn action_response(order: Order, client_secret: &str) -> Response<Body> {
    let location = format!("/v1/orders/{}", order.order_id);
    let mut body = serde_json::to_value(OrderView::from(order)).unwrap_or_default();
    body["nextAction"] =
        serde_json::json!({ "type": "use_stripe_sdk", "clientSecret": client_secret });
    with_header(
        json(StatusCode::ACCEPTED, &body),
        header::LOCATION,
        location,
    )
}

/// `address` if valid; otherwise each problem recorded under `prefix` + its field.
fn checked_address(
    address: Address,
    prefix: &str,
    errors: &mut ValidationErrors,
) -> Option<Address> {
    match address.validate() {
        Ok(a) => Some(a),
        Err(problems) => {
            for (field, message) in problems {
                errors.0.push(crate::domain::FieldError::new(
                    format!("{prefix}{field}"),
                    message,
                ));
            }
            None
        }
    }
}

/// `PUT /v1/me/address` (an address): the caller's default shipping address, which signed-in
/// search (`GET /v1/me/items`) dates deliveries to when no `zip` is given.
pub async fn put_default_address(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let body: Address = json_body(&req)?;
            let mut errors = ValidationErrors::default();
            let address = checked_address(body, "", &mut errors);
            let address = errors.finish(|| address)?;
            cart::save_default_address(&app.carts, &who.user_id, &address).await?;
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "address": address }),
            ))
        }
        .await,
    )
}

/// `POST /v1/checkout/{checkoutId}/order` `{paymentToken, shippingAddress}` (header
/// `Idempotency-Key`): 201 placed, 202 payment pending (with `nextAction` when the shopper
/// must authenticate), 402 declined (hold kept).
pub async fn submit_order(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let id: CheckoutId = path(&req, "checkoutId")?;
            let key = required_key(&req)?;
            // Where this order's mail goes: the address the shopper's token verified, kept
            // before the order exists so its first mail finds it. Mail is not worth failing
            // an order for: a store error here is logged and the order goes ahead.
            if let Some(email) = super::request::verified_email(&req) {
                let kept = crate::usecases::notifications::settings(
                    &app.shopper_notices,
                    &who.user_id,
                    Some(&email),
                )
                .await;
                if let Err(e) = kept {
                    tracing::warn!(error = %e, "could not record the shopper's mail address");
                }
            }
            let fingerprint = fingerprint(&[id.to_string().as_bytes(), req.body().as_ref()]);
            let body: SubmitBody = json_body(&req)?;
            let mut errors = ValidationErrors::default();
            let token = body.payment_token.trim().to_owned();
            if token.is_empty() || token.len() > 200 || !token.bytes().all(|b| b.is_ascii_graphic())
            {
                errors.0.push(crate::domain::FieldError::new(
                    "paymentToken",
                    "must be the provider's token (1-200 visible characters)",
                ));
            }
            let address = checked_address(body.shipping_address, "shippingAddress.", &mut errors);
            let address = errors.finish(|| address)?;
            let request = checkout::PaymentRequest {
                idempotency_key: key,
                fingerprint,
                payment_token: token,
                shipping_address: address,
            };
            Ok(
                match checkout::submit(app.shop(), &who.user_id, id, request).await? {
                    Submitted::Placed(order) => order_response(StatusCode::CREATED, order),
                    Submitted::Pending(order) => order_response(StatusCode::ACCEPTED, order),
                    Submitted::ActionRequired {
                        order,
                        client_secret,
                    } => action_response(order, &client_secret),
                },
            )
        }
        .await,
    )
}

/// `GET /v1/orders?limit=&cursor=&from=&to=` newest first
pub async fn list_orders(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let query = query(&req, &["limit", "cursor", "from", "to"])?;
            let page = page(&query)?;
            let mut errors = ValidationErrors::default();
            let mut time = |name: &str| {
                let raw = query.get(name)?;
                errors.check(name, Timestamp::try_from(raw.clone()))
            };
            let (from, to) = (time("from"), time("to"));
            if let (Some(from), Some(to)) = (from, to) {
                if from > to {
                    errors.0.push(crate::domain::FieldError::new(
                        "from",
                        "must not be later than to",
                    ));
                }
            }
            if !errors.0.is_empty() {
                return Err(ApiError::invalid_query(errors));
            }
            let listing = orders::list(app.shop(), &who.user_id, from, to, &page).await?;
            let items: Vec<OrderView> = listing.items.into_iter().map(OrderView::from).collect();
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "items": items, "nextCursor": listing.next_cursor }),
            ))
        }
        .await,
    )
}

/// `GET /v1/orders/{orderId}`
pub async fn get_order(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let id: OrderId = path(&req, "orderId")?;
            let order = orders::get(app.shop(), &who.user_id, id).await?;
            let shipments = crate::ports::Fulfilment::shipments(&app.fulfilment, id)
                .await
                .map_err(crate::usecases::orders::OrderError::from)?;
            let mut view = OrderView::from(order);
            view.shipments = shipments.into_iter().map(ShipmentView::from).collect();
            Ok(json(StatusCode::OK, &view))
        }
        .await,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineCancelBody {
    reason: String,
}

/// `POST /v1/orders/{orderId}/lines/{itemId}/cancel` `{reason}`: cancel one product of an
/// order before it ships (its amount is refunded).
pub async fn cancel_order_line(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let id: OrderId = path(&req, "orderId")?;
            let item: ItemId = path(&req, "itemId")?;
            let body: LineCancelBody = json_body(&req)?;
            let reason = crate::domain::Text::<500>::try_from(body.reason)
                .map_err(|m| ValidationErrors::from(crate::domain::FieldError::new("reason", m)))?;
            let order =
                orders::cancel_line(app.shop(), &who.user_id, id, item, reason.to_string()).await?;
            Ok(order_response(StatusCode::OK, order))
        }
        .await,
    )
}

/// `POST /v1/orders/{orderId}/cancel`
pub async fn cancel_order(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = person(&req)?;
            let id: OrderId = path(&req, "orderId")?;
            Ok(order_response(
                StatusCode::OK,
                orders::cancel(app.shop(), &who.user_id, id).await?,
            ))
        }
        .await,
    )
}
