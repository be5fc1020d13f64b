//! What SES reports back about a message, as far as its mailbox simulator promises it
//! (https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator):
//! a message to `bounce@simulator.amazonses.com` comes back as a hard bounce, one to
//! `complaint@simulator.amazonses.com` as a complaint. moto's SES accepts every message and
//! reports nothing, so the IAM proxy in front of it asks this module, after each accepted
//! `SendEmail`, which event SES would publish: one for a simulator address, sent through a
//! configuration set that the template gives an EventBridge destination for that event type
//! (SES publishes to the default bus only). The event is SES's record
//! (https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html)
//! as the `detail` of an `aws.ses` event (`Email Bounced`, `Email Complaint Received`).

use serde_json::{json, Value as Json};

use crate::template::Template;

/// The simulator's hard-bounce address.
pub const BOUNCE: &str = "bounce@simulator.amazonses.com";
/// The simulator's complaint address.
pub const COMPLAINT: &str = "complaint@simulator.amazonses.com";

/// The template's configuration sets that publish to EventBridge, with the event types.
#[derive(Debug, Clone, Default)]
pub struct MailFeedback {
    /// (configuration set's logical id, lowercase event types).
    destinations: Vec<(String, Vec<String>)>,
}

impl MailFeedback {
    /// Every enabled `AWS::SES::ConfigurationSetEventDestination` with an
    /// `EventBridgeDestination` whose condition holds.
    pub fn from_template(template: &Template) -> Self {
        let mut destinations = Vec::new();
        for id in template.resources_of_type("AWS::SES::ConfigurationSetEventDestination") {
            if !template.resource_condition_holds(&id) {
                continue;
            }
            let Some(props) = template.resource_properties(&id) else {
                continue;
            };
            let Some(set) = props
                .get("ConfigurationSetName")
                .and_then(crate::template::reference)
            else {
                continue;
            };
            let destination = props.get("EventDestination");
            let enabled = destination
                .and_then(|d| d.get("Enabled"))
                .and_then(serde_yaml::Value::as_bool)
                .unwrap_or(false);
            let to_bus = destination.is_some_and(|d| d.get("EventBridgeDestination").is_some());
            if !enabled || !to_bus {
                continue;
            }
            let types = destination
                .and_then(|d| d.get("MatchingEventTypes"))
                .and_then(serde_yaml::Value::as_sequence)
                .map(|list| {
                    list.iter()
                        .filter_map(serde_yaml::Value::as_str)
                        .map(str::to_lowercase)
                        .collect()
                })
                .unwrap_or_default();
            destinations.push((set.to_owned(), types));
        }
        Self { destinations }
    }

    /// The `PutEvents` body SES would send after accepting the SES v2 `SendEmail` request
    /// `request` as message `message_id`, if it would send one.
    pub fn event_for(&self, request: &Json, message_id: &str, now: &str) -> Option<Json> {
        let set = request["ConfigurationSetName"].as_str()?;
        let types = &self
            .destinations
            .iter()
            .find(|(logical, _)| set.ends_with(logical.as_str()))?
            .1;
        let to: Vec<&str> = request["Destination"]["ToAddresses"]
            .as_array()?
            .iter()
            .filter_map(Json::as_str)
            .collect();
        let mail = json!({
            "timestamp": now,
            "source": request["FromEmailAddress"],
            "messageId": message_id,
            "destination": to,
            "tags": { "ses:configuration-set": [set] },
        });
        let (detail_type, detail) = if to.contains(&BOUNCE) && types.iter().any(|t| t == "bounce") {
            (
                "Email Bounced",
                json!({
                    "eventType": "Bounce",
                    "mail": mail,
                    "bounce": {
                        "bounceType": "Permanent",
                        "bounceSubType": "General",
                        "bouncedRecipients": [{
                            "emailAddress": BOUNCE,
                            "action": "failed",
                            "status": "5.1.1",
                            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                        }],
                        "timestamp": now,
                        "feedbackId": format!("{message_id}-bounce"),
                    },
                }),
            )
        } else if to.contains(&COMPLAINT) && types.iter().any(|t| t == "complaint") {
            (
                "Email Complaint Received",
                json!({
                    "eventType": "Complaint",
                    "mail": mail,
                    "complaint": {
                        "complainedRecipients": [{ "emailAddress": COMPLAINT }],
                        "complaintFeedbackType": "abuse",
                        "timestamp": now,
                        "feedbackId": format!("{message_id}-complaint"),
                    },
                }),
            )
        } else {
            return None;
        };
        Some(json!({
            "Entries": [{
                "Source": "aws.ses",
                "DetailType": detail_type,
                "Detail": detail.to_string(),
                "EventBusName": "default",
            }]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feedback() -> MailFeedback {
        MailFeedback::from_template(&Template::load_repo().unwrap())
    }

    fn send(to: &str, set: Option<&str>) -> Json {
        json!({
            "FromEmailAddress": "Aisle <orders@aisle.example>",
            "Destination": { "ToAddresses": [to] },
            "ConfigurationSetName": set,
        })
    }

    #[test]
    fn the_templates_configuration_set_reports_bounces_and_complaints() {
        let f = feedback();
        let bounce = f
            .event_for(
                &send(BOUNCE, Some("t1-MailConfigurationSet")),
                "m-1",
                "2026-01-01T00:00:00Z",
            )
            .unwrap();
        assert_eq!(bounce["Entries"][0]["DetailType"], "Email Bounced");
        let detail: Json =
            serde_json::from_str(bounce["Entries"][0]["Detail"].as_str().unwrap()).unwrap();
        assert_eq!(detail["bounce"]["bounceType"], "Permanent");
        let complaint = f
            .event_for(
                &send(COMPLAINT, Some("t1-MailConfigurationSet")),
                "m-2",
                "2026-01-01T00:00:00Z",
            )
            .unwrap();
        assert_eq!(
            complaint["Entries"][0]["DetailType"],
            "Email Complaint Received"
        );
    }

    #[test]
    fn ordinary_mail_and_mail_without_a_configuration_set_report_nothing() {
        let f = feedback();
        let now = "2026-01-01T00:00:00Z";
        assert!(f
            .event_for(
                &send("ada@example.com", Some("t1-MailConfigurationSet")),
                "m",
                now
            )
            .is_none());
        assert!(f.event_for(&send(BOUNCE, None), "m", now).is_none());
        assert!(f
            .event_for(&send(BOUNCE, Some("another-set")), "m", now)
            .is_none());
    }
}
