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
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

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
        let mut response = super::json(self.status, &json!({ "error": error }));
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
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "corrupt record");
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
            UpdateItemError::Store(e) => e.into(),
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
