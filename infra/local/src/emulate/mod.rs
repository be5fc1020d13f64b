//! The AWS services `make dev` and the tests run against, played locally from `template.yaml`:
//! the HTTP API gateway with its JWT authorizer and the Lambda runner ([`gateway`]), what AWS
//! refuses (throttles, reserved concurrency, timeouts: [`limits`]), the IAM
//! check in front of DynamoDB Local and moto ([`iam`], over the plain [`proxy`]), the SQS,
//! DynamoDB Streams and EventBridge deliveries Lambda and EventBridge would make ([`queues`],
//! [`streams`], [`rules`]), the WebSocket API ([`live`]), what SES sent ([`mailbox`]), Cognito's tokens ([`token`]),
//! Stripe's behaviours localstripe lacks ([`stripe_proxy`]), the storefront's static hosting
//! ([`storefront`]) and a warehouse's own system ([`simulator`]).

pub mod gateway;
pub mod iam;
pub mod limits;
pub mod live;
pub mod log_subscriptions;
pub mod mailbox;
pub mod proxy;
pub mod queues;
pub mod rules;
pub mod s3_uploads;
pub mod ses_events;
pub mod simulator;
pub mod storefront;
pub mod streams;
pub mod stripe_proxy;
pub mod token;
