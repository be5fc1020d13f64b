//! What moto's SES sent: every raw message it accepted, read from moto's own record of them
//! (`/moto-api/data.json`, `ses.RawMessage`), so tests and the dev mailbox see exactly the
//! MIME a shopper's mail client would get.

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::Serialize;

/// The domain of a sender as SES reads `From` (`Aisle <orders@aisle.example>` or a bare
/// address): the identity SES checks it against.
pub fn sender_domain(from: &str) -> Option<&str> {
    let address = from
        .rsplit_once('<')
        .map_or(from, |(_, rest)| rest.trim_end_matches('>'));
    address.rsplit_once('@').map(|(_, domain)| domain.trim())
}

/// One message SES accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// SES's message id.
    pub id: String,
    /// The envelope's recipients.
    pub to: Vec<String>,
    /// The MIME message.
    pub raw: String,
}

/// A message as a mail client shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Read {
    /// SES's message id.
    pub id: String,
    /// The recipients.
    pub to: Vec<String>,
    /// `From`.
    pub from: String,
    /// `Subject`.
    pub subject: String,
    /// The plain-text part, decoded.
    pub text: String,
    /// The HTML part, decoded.
    pub html: String,
    /// `List-Unsubscribe`, if the message has one (optional mail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_unsubscribe: Option<String>,
}

impl Sent {
    /// Its parts decoded (quoted-printable, base64, RFC 2047 headers), as a client reads it.
    pub fn read(&self) -> Read {
        let parsed = mail_parser::MessageParser::default().parse(self.raw.as_bytes());
        let header = |name: &str| {
            parsed
                .as_ref()
                .and_then(|m| m.header_raw(name))
                .map(|v| v.trim().to_owned())
        };
        Read {
            id: self.id.clone(),
            to: self.to.clone(),
            from: header("From").unwrap_or_default(),
            subject: parsed
                .as_ref()
                .and_then(|m| m.subject())
                .unwrap_or_default()
                .to_owned(),
            text: parsed
                .as_ref()
                .and_then(|m| m.body_text(0))
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            html: parsed
                .as_ref()
                .and_then(|m| m.body_html(0))
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            list_unsubscribe: header("List-Unsubscribe"),
        }
    }
}

/// Every message moto's SES has sent, oldest first.
pub async fn sent() -> Result<Vec<Sent>> {
    let url = format!(
        "{}/moto-api/data.json",
        crate::endpoint("AWS_ENDPOINT_URL_SESV2", 5000)
    );
    let request = hyper::Request::get(&url).body(Full::new(Bytes::new()))?;
    let response = crate::proxy::forwarder()
        .request(request)
        .await
        .with_context(|| format!("moto at {url}"))?;
    let bytes = response.into_body().collect().await?.to_bytes();
    let data: serde_json::Value = serde_json::from_slice(&bytes).context("moto's data.json")?;
    let messages = data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(messages
        .into_iter()
        .map(|m| {
            let mut to: Vec<String> = m["destinations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect();
            // moto lists a recipient once per header it appears in.
            to.dedup();
            Sent {
                id: m["id"].as_str().unwrap_or_default().to_owned(),
                to,
                raw: m["raw_data"].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_senders_domain_is_read_with_or_without_a_display_name() {
        assert_eq!(
            super::sender_domain("Aisle <orders@aisle.example>"),
            Some("aisle.example")
        );
        assert_eq!(
            super::sender_domain("orders@aisle.example"),
            Some("aisle.example")
        );
        assert_eq!(super::sender_domain("nobody"), None);
    }
}

/// The messages sent to `address`.
pub async fn sent_to(address: &str) -> Result<Vec<Sent>> {
    Ok(sent()
        .await?
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .collect())
}
