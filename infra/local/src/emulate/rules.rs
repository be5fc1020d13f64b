//! EventBridge rule deliveries to SQS targets, made the way AWS makes them. moto matches the
//! rule's pattern and puts each match on the rule's staging queue (its one moto target);
//! this relay then delivers it to every target the template names:
//!
//! - the target queue's own policy must let `events.amazonaws.com` send to it for this rule
//!   (`aws:SourceArn`), or the delivery fails with `NO_PERMISSIONS`;
//! - a target queue that does not exist fails with `NO_RESOURCE`;
//! - such a failure is not retried (AWS sends these to the dead-letter queue at once): the
//!   event goes to the target's `DeadLetterConfig` queue with the attributes AWS sets
//!   (`RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`), or is dropped with a log line
//!   when the target has none;
//! - any other failure (moto unreachable) leaves the event on the staging queue, to be tried
//!   again when it becomes visible, as EventBridge retries within its retry policy.
//!
//! A staged event is deleted only after every target took it or its dead-letter queue did,
//! so a crash in between delivers it again: at least once, as EventBridge.

use anyhow::Result;
use aws_sdk_sqs::types::MessageAttributeValue;
use serde_json::json;

use crate::iam::QueuePolicies;
use crate::template::{local_name, queue_url, Template};

/// One target of a rule, with local names.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    arn: String,
    dead_letters: Option<String>,
}

/// One rule: where moto stages its matches, and its targets.
#[derive(Debug, Clone)]
struct Route {
    rule: String,
    rule_arn: String,
    staging: String,
    targets: Vec<Target>,
}

/// What one pass delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relayed {
    /// Deliveries a target queue took.
    pub delivered: usize,
    /// Deliveries that failed and went to the target's dead-letter queue.
    pub dead_lettered: usize,
    /// Deliveries that failed with no dead-letter queue to keep them (dropped, as AWS does).
    pub dropped: usize,
}

/// The template's rules, delivered from their staging queues to their targets.
#[derive(Debug, Clone)]
pub struct Relay {
    sqs: aws_sdk_sqs::Client,
    routes: Vec<Route>,
    policies: QueuePolicies,
}

fn text(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type and value are set")
}

impl Relay {
    /// The relay for `template`'s rules (resources named with `prefix`).
    pub fn new(sqs: aws_sdk_sqs::Client, template: &Template, prefix: &str) -> Result<Self> {
        let policies = QueuePolicies::from_template(template, prefix)?;
        let routes = template
            .rules
            .iter()
            .map(|rule| Route {
                rule: rule.logical_id.clone(),
                rule_arn: policies.rule_arn(template, prefix, &rule.logical_id),
                staging: queue_url(prefix, &rule.staging_queue()),
                targets: rule
                    .targets
                    .iter()
                    .map(|t| Target {
                        url: queue_url(prefix, &t.queue),
                        arn: policies.arn("sqs", &local_name(prefix, &t.queue)),
                        dead_letters: t.dead_letters.as_deref().map(|d| queue_url(prefix, d)),
                    })
                    .collect(),
            })
            .collect();
        Ok(Self {
            sqs,
            routes,
            policies,
        })
    }

    /// Deliver everything staged now (no waiting), rule by rule.
    pub async fn relay_once(&self) -> Result<Relayed> {
        let mut total = Relayed::default();
        for route in &self.routes {
            while let Some(r) = self.relay_batch(route, 0).await? {
                total.delivered += r.delivered;
                total.dead_lettered += r.dead_lettered;
                total.dropped += r.dropped;
            }
        }
        Ok(total)
    }

    /// Deliver forever, one long-polling task per rule (the local gateway starts this).
    pub fn spawn(self) {
        let relay = std::sync::Arc::new(self);
        for index in 0..relay.routes.len() {
            let relay = relay.clone();
            tokio::spawn(async move {
                let route = &relay.routes[index];
                loop {
                    if let Err(e) = relay.relay_batch(route, 10).await {
                        eprintln!(
                            "{}",
                            json!({ "gateway": "rule", "rule": route.rule, "error": format!("{e:#}") })
                        );
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            });
        }
    }

    /// One batch from a rule's staging queue; `None` when nothing was staged.
    async fn relay_batch(&self, route: &Route, wait_seconds: i32) -> Result<Option<Relayed>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&route.staging)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(None);
        }
        let mut relayed = Relayed::default();
        for message in messages {
            let body = message.body.clone().unwrap_or_default();
            let mut settled = true;
            for target in &route.targets {
                match self.deliver(route, target, &body).await {
                    Ok(()) => relayed.delivered += 1,
                    Err(Failure::Final { code, message }) => {
                        println!(
                            "{}",
                            json!({ "gateway": "rule", "rule": route.rule, "target": target.arn, "errorCode": code, "error": message })
                        );
                        match &target.dead_letters {
                            Some(dlq) => {
                                self.sqs
                                    .send_message()
                                    .queue_url(dlq)
                                    .message_body(&body)
                                    .message_attributes("RULE_ARN", text(&route.rule_arn))
                                    .message_attributes("TARGET_ARN", text(&target.arn))
                                    .message_attributes("ERROR_CODE", text(code))
                                    .message_attributes("ERROR_MESSAGE", text(&message))
                                    .send()
                                    .await?;
                                relayed.dead_lettered += 1;
                            }
                            None => relayed.dropped += 1,
                        }
                    }
                    Err(Failure::Retry(e)) => {
                        eprintln!(
                            "{}",
                            json!({ "gateway": "rule", "rule": route.rule, "target": target.arn, "retry": format!("{e:#}") })
                        );
                        settled = false;
                    }
                }
            }
            if settled {
                if let Some(handle) = message.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&route.staging)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
        }
        Ok(Some(relayed))
    }

    async fn deliver(&self, route: &Route, target: &Target, body: &str) -> Result<(), Failure> {
        if !self.policies.allows(
            "events.amazonaws.com",
            "sqs:SendMessage",
            &target.url,
            &target.arn,
            &route.rule_arn,
        ) {
            return Err(Failure::Final {
                code: "NO_PERMISSIONS",
                message: format!(
                    "the policy of {} does not let events.amazonaws.com send messages from {}",
                    target.arn, route.rule_arn
                ),
            });
        }
        match self
            .sqs
            .send_message()
            .queue_url(&target.url)
            .message_body(body)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist()) =>
            {
                Err(Failure::Final {
                    code: "NO_RESOURCE",
                    message: format!("{} does not exist", target.arn),
                })
            }
            Err(e) => Err(Failure::Retry(e.into())),
        }
    }
}

enum Failure {
    /// Not worth retrying (AWS sends these to the dead-letter queue at once).
    Final { code: &'static str, message: String },
    /// Try again later.
    Retry(anyhow::Error),
}
