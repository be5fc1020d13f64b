//! The one place where failures become HTTP: every use-case error maps here to a status, a
//! stable machine-readable `code` and a human `message`, rendered as
//! `{"error": {"code", "message", "details"}}`.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

use crate::domain::ValidationErrors;
use crate::ports::{ReceiptRejected, StoreError};
use crate::usecases::catalog::{CreateItemError, GetItemError, SellerItemsError, UpdateItemError};
use crate::usecases::stock::ReceiveStockError;

/// An error response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// Where it stands now.
    pub status: StatusCode,
    /// The stable error code clients switch on.
    pub code: &'static str,
    /// The message, in words.
    pub message: String,
    /// Extra machine-readable details (fields at fault, lines sold out, ...).
    pub details: Value,
}

impl ApiError {
    /// An error answer with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// The same answer with `details` attached.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Query parameters that do not parse: 400 `INVALID_QUERY_PARAMETER`, each one named in
    /// `details` (a body that does not validate is 422 `VALIDATION_FAILED`, below).
    pub fn invalid_query(errors: ValidationErrors) -> Self {
        Self::bad_request(
            "INVALID_QUERY_PARAMETER",
            "one or more query parameters are invalid",
        )
        .with_details(json!(errors.0))
    }

    /// A response that could not be rendered: our bug, answered in the error contract.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        )
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// Render, logging server-side failures loudly and client mistakes quietly.
    pub fn into_response(self) -> Response<Body> {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), code = self.code, message = %self.message, "request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), code = self.code, message = %self.message, "request refused");
        }
        let mut error = json!({ "code": self.code, "message": self.message });
        if !self.details.is_null() {
            error["details"] = self.details;
        }
        // A `Value` always serialises: no way back into `json`'s own error path.
        let body = serde_json::to_vec(&json!({ "error": error })).unwrap_or_default();
        let mut response = super::json_bytes(self.status, body);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "one or more fields are invalid",
        )
        .with_details(json!(errors.0))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::BadCursor => {
                Self::bad_request("INVALID_CURSOR", "cursor is not valid for this listing")
            }
            StoreError::Unavailable(detail) | StoreError::Contention(detail) => {
                tracing::warn!(%detail, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "temporarily unavailable; retry shortly",
                )
            }
            StoreError::Corrupt(detail) | StoreError::Bug(detail) => {
                tracing::error!(%detail, "internal store error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "internal error",
                )
            }
        }
    }
}

impl From<CreateItemError> for ApiError {
    fn from(error: CreateItemError) -> Self {
        match error {
            CreateItemError::NotASeller => Self::forbidden(error.to_string()),
            CreateItemError::Store(e) => e.into(),
        }
    }
}

impl From<UpdateItemError> for ApiError {
    fn from(error: UpdateItemError) -> Self {
        match error {
            UpdateItemError::NotASeller | UpdateItemError::NotOwner => {
                Self::forbidden(error.to_string())
            }
            UpdateItemError::NotFound => Self::not_found(error.to_string()),
            UpdateItemError::VersionMismatch { actual, .. } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "VERSION_MISMATCH",
                error.to_string(),
            )
            .with_details(json!({ "currentVersion": actual })),
            UpdateItemError::UnknownImage(_) => {
                Self::from(ValidationErrors(vec![crate::domain::FieldError::new(
                    "images",
                    error.to_string(),
                )]))
            }
            UpdateItemError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::images::upload::BeginUploadError> for ApiError {
    fn from(error: crate::usecases::images::upload::BeginUploadError) -> Self {
        use crate::usecases::images::upload::BeginUploadError as E;
        match error {
            E::NotASeller | E::NotOwner => Self::forbidden(error.to_string()),
            E::NotFound => Self::not_found(error.to_string()),
            E::Full(_) => Self::new(StatusCode::CONFLICT, "TOO_MANY_IMAGES", error.to_string()),
            E::Store(e) => e.into(),
        }
    }
}

impl From<GetItemError> for ApiError {
    fn from(error: GetItemError) -> Self {
        match error {
            GetItemError::NotFound => Self::not_found(error.to_string()),
            GetItemError::Store(e) => e.into(),
        }
    }
}

impl From<SellerItemsError> for ApiError {
    fn from(error: SellerItemsError) -> Self {
        match error {
            SellerItemsError::NotASeller => Self::forbidden(error.to_string()),
            SellerItemsError::Store(e) => e.into(),
        }
    }
}

impl From<ReceiveStockError> for ApiError {
    fn from(error: ReceiveStockError) -> Self {
        match error {
            ReceiveStockError::NotThisWarehouse => Self::forbidden(error.to_string()),
            ReceiveStockError::Rejected(ReceiptRejected::UnknownItem) => {
                Self::not_found("no such item")
            }
            ReceiveStockError::Rejected(ReceiptRejected::UnknownWarehouse) => {
                Self::not_found("no such warehouse")
            }
            ReceiveStockError::Rejected(ReceiptRejected::KeyReused) => Self::new(
                StatusCode::CONFLICT,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was already used for a different request",
            ),
            ReceiveStockError::Rejected(ReceiptRejected::Store(e)) => e.into(),
        }
    }
}

impl From<crate::usecases::cart::CartError> for ApiError {
    fn from(error: crate::usecases::cart::CartError) -> Self {
        use crate::domain::CartRule;
        use crate::usecases::cart::CartError;
        match error {
            CartError::ItemNotFound => Self::not_found("no such item"),
            CartError::InsufficientStock { available } => Self::new(
                StatusCode::CONFLICT,
                "INSUFFICIENT_STOCK",
                error.to_string(),
            )
            .with_details(json!({ "available": available })),
            CartError::Rule(CartRule::TooManyLines) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "CART_FULL",
                error.to_string(),
            ),
            CartError::Rule(CartRule::LineTooLarge) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "QUANTITY_TOO_LARGE",
                error.to_string(),
            ),
            CartError::VersionMismatch { current } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "VERSION_MISMATCH",
                error.to_string(),
            )
            .with_details(json!({ "currentVersion": current })),
            CartError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::cart::WishlistError> for ApiError {
    fn from(error: crate::usecases::cart::WishlistError) -> Self {
        use crate::usecases::cart::WishlistError;
        match error {
            WishlistError::ItemNotFound => Self::not_found("no such item"),
            WishlistError::NotListed => Self::not_found(error.to_string()),
            WishlistError::Full => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "WISHLIST_FULL",
                error.to_string(),
            ),
            WishlistError::Cart(e) => e.into(),
            WishlistError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::checkout::BeginError> for ApiError {
    fn from(error: crate::usecases::checkout::BeginError) -> Self {
        use crate::usecases::checkout::BeginError;
        match error {
            BeginError::CartEmpty => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "CART_EMPTY",
                error.to_string(),
            ),
            BeginError::MixedCurrencies => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "MIXED_CURRENCIES",
                error.to_string(),
            ),
            BeginError::NotChargeable { total, min, max } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "AMOUNT_NOT_CHARGEABLE",
                format!(
                    "one card payment in {} must be {min}..={max} minor units; this cart's total is {}",
                    total.currency, total.amount
                ),
            )
            .with_details(json!({ "total": total, "minimum": min, "maximum": max })),
            BeginError::OutOfStock(ref short) => Self::new(
                StatusCode::CONFLICT,
                "OUT_OF_STOCK",
                "some items are out of stock; nothing was held",
            )
            .with_details(json!(short)),
            BeginError::Concurrent => Self::new(
                StatusCode::CONFLICT,
                "CHECKOUT_IN_PROGRESS",
                error.to_string(),
            ),
            BeginError::PaymentInProgress => Self::new(
                StatusCode::CONFLICT,
                "PAYMENT_IN_PROGRESS",
                error.to_string(),
            ),
            BeginError::Expired => Self::new(
                StatusCode::GONE,
                "CHECKOUT_EXPIRED",
                "the checkout this Idempotency-Key began has expired; begin checkout again with a new key",
            ),
            // Not an error to the shopper: `api::shopping` answers it 202 before it gets here.
            BeginError::Waiting(_) => Self::internal("a waiting-room ticket reached the error mapping"),
            BeginError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::checkout::CheckoutError> for ApiError {
    fn from(error: crate::usecases::checkout::CheckoutError) -> Self {
        use crate::domain::CheckoutStatus;
        use crate::usecases::checkout::CheckoutError;
        match error {
            CheckoutError::NotFound => Self::not_found("checkout not found"),
            CheckoutError::NotActive(CheckoutStatus::Expired) => {
                Self::new(StatusCode::GONE, "CHECKOUT_EXPIRED", "the hold expired; begin checkout again")
            }
            CheckoutError::NotActive(status) => Self::new(StatusCode::CONFLICT, "CHECKOUT_CLOSED", "this checkout is no longer active")
                .with_details(json!({ "status": status })),
            CheckoutError::Declined(ref reason) => {
                Self::new(StatusCode::PAYMENT_REQUIRED, "PAYMENT_DECLINED", "the payment was declined; the hold is kept, try another card")
                    .with_details(json!({ "reason": reason }))
            }
            CheckoutError::RejectedLate(ref order) => Self::new(StatusCode::CONFLICT, "ORDER_REJECTED", error.to_string())
                .with_details(json!({ "orderId": order.order_id, "status": order.status, "payment": order.payment.state })),
            CheckoutError::Closed => Self::new(StatusCode::CONFLICT, "CHECKOUT_CLOSED", error.to_string()),
            CheckoutError::PaymentInProgress => Self::new(StatusCode::CONFLICT, "PAYMENT_IN_PROGRESS", error.to_string()),
            CheckoutError::KeyInFlight => Self::new(StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_FLIGHT", error.to_string()),
            CheckoutError::KeyReused => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED", error.to_string()),
            CheckoutError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::orders::OrderError> for ApiError {
    fn from(error: crate::usecases::orders::OrderError) -> Self {
        use crate::usecases::orders::OrderError;
        match error {
            OrderError::NotFound => Self::not_found("order not found"),
            OrderError::NotCancellable(_) => {
                Self::new(StatusCode::CONFLICT, "NOT_CANCELLABLE", error.to_string())
            }
            OrderError::NotReturnable(_) => {
                Self::new(StatusCode::CONFLICT, "NOT_RETURNABLE", error.to_string())
            }
            OrderError::InvalidReturn(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_RETURN",
                error.to_string(),
            ),
            OrderError::LineNotFound => Self::not_found("the order has no line for this item"),
            OrderError::PaymentUnsettled => {
                Self::new(StatusCode::CONFLICT, "PAYMENT_UNSETTLED", error.to_string())
            }
            OrderError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::returns::ReturnError> for ApiError {
    fn from(error: crate::usecases::returns::ReturnError) -> Self {
        use crate::usecases::returns::ReturnError;
        match error {
            ReturnError::NotFound => Self::not_found(error.to_string()),
            ReturnError::NotReturnable(_) => {
                Self::new(StatusCode::CONFLICT, "NOT_RETURNABLE", error.to_string())
            }
            ReturnError::WindowClosed(_) => Self::new(
                StatusCode::CONFLICT,
                "RETURN_WINDOW_CLOSED",
                error.to_string(),
            ),
            ReturnError::Invalid(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_RETURN",
                error.to_string(),
            ),
            ReturnError::KeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                error.to_string(),
            ),
            ReturnError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::returns::ReviewError> for ApiError {
    fn from(error: crate::usecases::returns::ReviewError) -> Self {
        use crate::usecases::returns::ReviewError;
        match error {
            ReviewError::NotASeller => Self::forbidden(error.to_string()),
            ReviewError::NotFound => Self::not_found(error.to_string()),
            ReviewError::AlreadyDecided(_) => {
                Self::new(StatusCode::CONFLICT, "ALREADY_DECIDED", error.to_string())
            }
            ReviewError::TooMany { acceptable } => {
                Self::new(StatusCode::CONFLICT, "NOTHING_TO_REFUND", error.to_string())
                    .with_details(json!({ "acceptable": acceptable }))
            }
            ReviewError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::provider_events::ProviderEventError> for ApiError {
    fn from(error: crate::usecases::provider_events::ProviderEventError) -> Self {
        use crate::usecases::provider_events::ProviderEventError;
        match error {
            ProviderEventError::InFlight => Self::new(
                StatusCode::CONFLICT,
                "EVENT_IN_FLIGHT",
                "this event is being applied; retry later",
            ),
            // Any answer but 2xx makes Stripe deliver the event again, with backoff, for up
            // to three days (docs.stripe.com/webhooks#retries): it is applied once known.
            ProviderEventError::NotYet => Self::new(
                StatusCode::CONFLICT,
                "EVENT_NOT_YET_APPLICABLE",
                error.to_string(),
            ),
            ProviderEventError::Reused => Self::bad_request(
                "EVENT_REUSED",
                "this event id came before with another body",
            ),
            ProviderEventError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::catalog::ConfigureSaleError> for ApiError {
    fn from(error: crate::usecases::catalog::ConfigureSaleError) -> Self {
        use crate::usecases::catalog::ConfigureSaleError;
        match error {
            ConfigureSaleError::NotASeller | ConfigureSaleError::NotOwner => {
                Self::forbidden(error.to_string())
            }
            ConfigureSaleError::NotFound => Self::not_found(error.to_string()),
            ConfigureSaleError::ShardsOnlyGrow(current) => {
                Self::new(StatusCode::CONFLICT, "SHARDS_ONLY_GROW", error.to_string())
                    .with_details(json!({ "currentShards": current }))
            }
            ConfigureSaleError::Store(e) => e.into(),
        }
    }
}

impl From<crate::usecases::notifications::alerts::WatchError> for ApiError {
    fn from(error: crate::usecases::notifications::alerts::WatchError) -> Self {
        use crate::usecases::notifications::alerts::WatchError;
        match error {
            WatchError::UnknownItem(_) => Self::not_found(error.to_string()),
            WatchError::InStock { available, .. } => {
                Self::new(StatusCode::CONFLICT, "IN_STOCK", error.to_string())
                    .with_details(json!({ "available": available }))
            }
            WatchError::TooMany => {
                Self::new(StatusCode::CONFLICT, "TOO_MANY_ALERTS", error.to_string())
            }
            WatchError::Store(e) => e.into(),
        }
    }
}
