//! Sending mail (Amazon SES locally and in AWS).

use async_trait::async_trait;

use crate::domain::{EmailAddress, Mail};

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The service is throttling or unavailable: try again later.
    #[error("mail service busy: {0}")]
    Busy(String),
    /// Refused for good (a bad or suppressed address, an unverified sender): do not retry.
    #[error("mail refused: {0}")]
    Refused(String),
}

/// One-click unsubscribe for an optional message (RFC 8058): the URL the
/// `List-Unsubscribe` header names, which takes a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe(pub String);

/// A mail service.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Send `mail` to `to`; the service's message id.
    async fn send(
        &self,
        to: &EmailAddress,
        mail: &Mail,
        unsubscribe: Option<&Unsubscribe>,
    ) -> Result<String, MailError>;
}
