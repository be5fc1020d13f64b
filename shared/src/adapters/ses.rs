//! [`Mailer`] on Amazon SES v2 (`SendEmail` with a raw MIME message: a plain-text and an
//! HTML part, and for optional mail RFC 8058's one-click unsubscribe headers). Errors are
//! classified: throttling and outages are [`MailError::Busy`], a refusal (an unverified
//! sender, a bad or suppressed address) is [`MailError::Refused`]
//! (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html#API_SendEmail_Errors).

use async_trait::async_trait;
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::domain::{EmailAddress, Mail};
use crate::ports::{MailError, Mailer, Unsubscribe};

/// Mail through SES v2 from one verified sender.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer sending as `from` (`Aisle <orders@example.com>`), through
    /// `configuration_set` if given (its event destinations report bounces and complaints).
    pub fn new(
        client: aws_sdk_sesv2::Client,
        from: impl Into<String>,
        configuration_set: Option<String>,
    ) -> Self {
        Self {
            client,
            from: from.into(),
            configuration_set,
        }
    }
}

/// The MIME message SES sends.
pub fn mime(
    from: &str,
    to: &EmailAddress,
    mail: &Mail,
    unsubscribe: Option<&Unsubscribe>,
) -> Result<Vec<u8>, MailError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| MailError::Refused(format!("{what}: {e}"));
    let from: Mailbox = from.parse().map_err(|e| bad("sender", &e))?;
    let to: Mailbox = to.as_str().parse().map_err(|e| bad("recipient", &e))?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone());
    if let Some(Unsubscribe(url)) = unsubscribe {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| bad("message", &e))?;
    Ok(message.formatted())
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(
        &self,
        to: &EmailAddress,
        mail: &Mail,
        unsubscribe: Option<&Unsubscribe>,
    ) -> Result<String, MailError> {
        let raw = mime(&self.from, to, mail, unsubscribe)?;
        let raw = RawMessage::builder()
            .data(Blob::new(raw))
            .build()
            .map_err(|e| MailError::Refused(e.to_string()))?;
        let result = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => Err(classify(e)),
        }
    }
}

fn classify(error: SdkError<SendEmailError>) -> MailError {
    match &error {
        SdkError::ServiceError(service) => match service.err() {
            SendEmailError::TooManyRequestsException(_)
            | SendEmailError::LimitExceededException(_) => {
                MailError::Busy(service.err().to_string())
            }
            SendEmailError::MessageRejected(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::AccountSuspendedException(_)
            | SendEmailError::SendingPausedException(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::NotFoundException(_) => MailError::Refused(service.err().to_string()),
            _ if service.raw().status().as_u16() >= 500 => {
                MailError::Busy(service.err().to_string())
            }
            _ => MailError::Refused(service.err().to_string()),
        },
        // Timeouts, connection and dispatch failures: the service may be fine in a moment.
        _ => MailError::Busy(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Mail {
        Mail {
            subject: "Your order".into(),
            text: "Thanks.".into(),
            html: "<p>Thanks.</p>".into(),
        }
    }

    #[test]
    fn a_message_has_a_text_and_an_html_part() {
        let to = EmailAddress::try_from("ada@example.com".to_owned()).unwrap();
        let raw = String::from_utf8(mime("Aisle <orders@aisle.test>", &to, &mail(), None).unwrap())
            .unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        assert!(
            !raw.contains("List-Unsubscribe"),
            "transactional mail has no unsubscribe"
        );
    }

    #[test]
    fn optional_mail_carries_one_click_unsubscribe() {
        let to = EmailAddress::try_from("ada@example.com".to_owned()).unwrap();
        let url = Unsubscribe("https://api.aisle.test/v1/unsubscribe?t=abc".into());
        let raw = String::from_utf8(mime("orders@aisle.test", &to, &mail(), Some(&url)).unwrap())
            .unwrap();
        assert!(
            raw.contains("List-Unsubscribe: <https://api.aisle.test/v1/unsubscribe?t=abc>"),
            "{raw}"
        );
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );
    }
}
