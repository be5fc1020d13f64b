//! The [`Payments`] port on Stripe's PaymentIntents API (form-encoded HTTPS, the project's one
//! TLS stack), and Stripe's webhook signatures.
//!
//! **Capture at once.** A submit creates and confirms one PaymentIntent with
//! `capture_method=automatic`: the order is placed in the same request, so a separate
//! authorise-then-capture step would add a second call that can fail after the order exists,
//! and a hold that outlives the authorisation. Every later change of mind is a refund
//! (`POST /v1/refunds`, full or partial, each with its own idempotency key); a void cancels a
//! PaymentIntent that never took money.
//!
//! **One PaymentIntent per checkout attempt.** The create carries `Idempotency-Key: <charge
//! key>` (checkout and attempt), so a retried submit gets Stripe's first answer back instead
//! of a second charge. The same replay finds the PaymentIntent again when the first answer was
//! lost (a timeout): [`Payments::status`] re-sends the identical create, reads the intent's id
//! from the replayed answer, and fetches its current state. Stripe keeps idempotency keys for
//! at least 24 hours; the settle timer and sweeper ask within minutes, and refunds use the
//! stored PaymentIntent id (the order's payment reference), never a replay.
//!
//! **Errors.** `card_error` (HTTP 402) is a decline with Stripe's `decline_code` or `code` as
//! the reason; `requires_action` (3-D Secure) is [`ChargeOutcome::ActionRequired`] with the
//! client secret the shopper's client needs; 429, 5xx, `idempotency_key_in_use` (409) and
//! connection errors are retried with [`Policy::PROVIDER`] and then count as no answer, as does a
//! timeout; other 4xx answers are our bug (`StoreError::Bug`), never a decline. The API key
//! is sent as a bearer token and never logged or printed (`Debug` omits it).

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;

use crate::domain::{Money, Timestamp};
use crate::ports::{
    ChargeOutcome, ChargeRef, ChargeStatus, HeldCharge, Opened, Payments, ProviderEvent,
    ProviderEventKind, StoreError,
};
use crate::retry::Policy;

/// Stripe's API version this adapter was written and recorded against.
pub const API_VERSION: &str = "2024-06-20";

/// How long one call to Stripe may take before its answer counts as lost.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(4);

/// All tries of one request together, so a payment answers inside the function's 10 s
/// timeout (template.yaml) with time left to record the outcome.
pub const CALL_BUDGET: Duration = Duration::from_secs(7);

/// A Stripe account as the adapter reaches it.
#[derive(Clone)]
pub struct StripePayments {
    base: String,
    api_key: String,
    /// The stack's tag on every PaymentIntent it makes (`metadata[aisle_stack]`).
    stack: String,
    timeout: Duration,
    budget: Duration,
    client: crate::adapters::http::WebClient,
}

impl std::fmt::Debug for StripePayments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("StripePayments")
            .field("base", &self.base)
            .finish()
    }
}

/// One answer from Stripe.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The JSON body (`Null` when it was not JSON).
    pub body: Value,
}

/// A request as it goes out: what the recorded-wire tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query, from `/v1/`.
    pub path: String,
    /// The `Idempotency-Key` header, on every POST.
    pub idempotency_key: Option<String>,
    /// The form body (POST).
    pub form: Vec<(String, String)>,
}

impl Request {
    /// The body, form-encoded as Stripe reads it.
    pub fn encoded(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.form.iter())
            .finish()
    }
}

/// The create request of a charge: a PaymentIntent with the amount and payment method,
/// **not confirmed** (no money moves until [`confirm_intent`]), tagged with the attempt's
/// charge key and the stack that made it (`metadata`, returned on every PaymentIntent, so
/// a search or list finds the attempt's intent without replaying this request). Identical
/// for the first try and its retries inside one call: Stripe refuses a reused key with
/// different parameters (docs.stripe.com/api/idempotent_requests).
pub fn create_intent(charge: &ChargeRef, stack: &str) -> Request {
    let pairs = [
        ("amount", charge.amount.amount.to_string()),
        (
            "currency",
            charge.amount.currency.code().to_ascii_lowercase(),
        ),
        ("payment_method", charge.method.clone()),
        ("payment_method_types[]", "card".to_owned()),
        ("capture_method", "automatic".to_owned()),
        ("metadata[aisle_charge_key]", charge.key.clone()),
        ("metadata[aisle_stack]", stack.to_owned()),
    ];
    Request {
        method: "POST",
        path: "/v1/payment_intents".into(),
        idempotency_key: Some(charge.key.clone()),
        form: pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

/// Confirm the PaymentIntent `id` made for the attempt `key` (takes the money, or answers
/// the decline or the 3-D Secure step); its own idempotency key, so a retried confirm is
/// one confirm (docs.stripe.com/api/payment_intents/confirm).
pub fn confirm_intent(key: &str, id: &str) -> Request {
    Request {
        method: "POST",
        path: format!("/v1/payment_intents/{id}/confirm"),
        idempotency_key: Some(format!("{key}-confirm")),
        form: Vec::new(),
    }
}

/// Find the PaymentIntent of the attempt `key` by its metadata, when its id was never
/// recorded (docs.stripe.com/search#query-fields-for-payment-intents). Stripe's search is
/// eventually consistent (an intent is searchable within about a minute), so "none" is
/// believed only after [`NOT_FOUND_CHECKS`] asks.
pub fn search_intent(key: &str) -> Request {
    let query = format!("metadata['aisle_charge_key']:'{key}'");
    let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
    Request {
        method: "GET",
        path: format!("/v1/payment_intents/search?query={encoded}"),
        idempotency_key: None,
        form: Vec::new(),
    }
}

/// Asks after which a charge that search cannot find is taken as never made: the settle
/// timer asks every 30 s, so this is past Stripe's search lag.
pub const NOT_FOUND_CHECKS: u32 = 3;

/// Fetch one PaymentIntent's current state.
pub fn get_intent(id: &str) -> Request {
    Request {
        method: "GET",
        path: format!("/v1/payment_intents/{id}"),
        idempotency_key: None,
        form: Vec::new(),
    }
}

/// Refund `amount` of a PaymentIntent under the refund's own key.
pub fn create_refund(key: &str, intent: &str, amount: Money) -> Request {
    Request {
        method: "POST",
        path: "/v1/refunds".into(),
        idempotency_key: Some(key.to_owned()),
        form: vec![
            ("payment_intent".into(), intent.to_owned()),
            ("amount".into(), amount.amount.to_string()),
            ("metadata[aisle_refund_key]".into(), key.to_owned()),
        ],
    }
}

/// Cancel a PaymentIntent that took no money.
pub fn cancel_intent(key: &str, id: &str) -> Request {
    Request {
        method: "POST",
        path: format!("/v1/payment_intents/{id}/cancel"),
        idempotency_key: Some(format!("{key}-void")),
        form: Vec::new(),
    }
}

/// Pages of PaymentIntents listed per reconciliation at most (100 per page).
pub const MAX_RECONCILE_PAGES: usize = 100;

/// One page of PaymentIntents created after `since`, each with its latest charge expanded
/// (what it captured and refunded), newest first; `after` pages on
/// (docs.stripe.com/api/payment_intents/list, docs.stripe.com/api/expanding_objects).
pub fn list_intents(since: Timestamp, after: Option<&str>) -> Request {
    let mut path = format!(
        "/v1/payment_intents?limit=100&created%5Bgt%5D={}&expand%5B%5D=data.latest_charge",
        since.unix_seconds()
    );
    if let Some(after) = after {
        path.push_str(&format!("&starting_after={after}"));
    }
    Request {
        method: "GET",
        path,
        idempotency_key: None,
        form: Vec::new(),
    }
}

/// What a charge still holds: captured minus refunded (0 unless it succeeded and captured).
pub fn charge_held(charge: &Value) -> i64 {
    if charge["status"] != "succeeded" || charge["captured"] != true {
        return 0;
    }
    charge["amount"].as_i64().unwrap_or(0) - charge["amount_refunded"].as_i64().unwrap_or(0)
}

/// What a PaymentIntent's state means for the shop.
pub fn intent_status(intent: &Value) -> ChargeStatus {
    let reference = intent["id"].as_str().unwrap_or_default().to_owned();
    match intent["status"].as_str().unwrap_or_default() {
        "succeeded" => ChargeStatus::Captured { reference },
        "canceled" => ChargeStatus::Failed {
            reason: "canceled".into(),
        },
        // A failed attempt leaves the intent waiting for another payment method: for this
        // checkout attempt, no money was taken.
        "requires_payment_method" => ChargeStatus::Failed {
            reason: failure_reason(&intent["last_payment_error"]),
        },
        // Made and never confirmed: the request that made it ended (a function ends within
        // its timeout, before anyone asks), so it never will be. Nothing was taken.
        "requires_confirmation" => ChargeStatus::Failed {
            reason: "never_confirmed".into(),
        },
        // processing, requires_action, requires_capture: not settled.
        _ => ChargeStatus::Unknown,
    }
}

fn failure_reason(error: &Value) -> String {
    error["decline_code"]
        .as_str()
        .or_else(|| error["code"].as_str())
        .unwrap_or("payment_failed")
        .to_owned()
}

/// What the answer to a create means.
pub fn charge_outcome(answer: &Answer) -> Result<ChargeOutcome, StoreError> {
    match answer.status {
        200 => {
            let intent = &answer.body;
            let reference = intent["id"].as_str().unwrap_or_default().to_owned();
            Ok(match intent["status"].as_str().unwrap_or_default() {
                "succeeded" => ChargeOutcome::Approved { reference },
                "requires_action" => ChargeOutcome::ActionRequired {
                    reference,
                    client_secret: intent["client_secret"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                },
                "requires_payment_method" | "canceled" => ChargeOutcome::Declined {
                    reason: failure_reason(&intent["last_payment_error"]),
                },
                // processing: the money's fate comes later (webhook or settle).
                _ => ChargeOutcome::NoResponse,
            })
        }
        402 => Ok(ChargeOutcome::Declined {
            reason: failure_reason(&answer.body["error"]),
        }),
        400 | 404 if unknown_payment_method(answer) => Ok(ChargeOutcome::Declined {
            reason: INVALID_PAYMENT_METHOD.into(),
        }),
        // A confirm that found the intent confirmed already (its first answer was lost):
        // what happened is asked by id later, never guessed.
        400 if answer.body["error"]["code"] == "payment_intent_unexpected_state" => {
            Ok(ChargeOutcome::NoResponse)
        }
        s if retryable(s) => Ok(ChargeOutcome::NoResponse),
        s => Err(rejected(s, &answer.body)),
    }
}

/// Stripe refused the request's payment method (no such PaymentMethod, or not this
/// account's): the shopper's input, answered as a decline, never as our failure.
fn unknown_payment_method(answer: &Answer) -> bool {
    matches!(answer.status, 400 | 404)
        && (answer.body["error"]["param"] == "payment_method"
            || answer.body["error"]["code"] == "resource_missing")
}

fn retryable(status: u16) -> bool {
    status == 429 || status == 409 || status >= 500
}

fn rejected(status: u16, body: &Value) -> StoreError {
    let error = &body["error"];
    StoreError::Bug(format!(
        "stripe answered {status} {}: {}",
        error["type"].as_str().unwrap_or("?"),
        error["message"].as_str().unwrap_or("?")
    ))
}

impl StripePayments {
    /// `base` is `https://api.stripe.com` (or a loopback stand-in); `api_key` a secret key;
    /// `stack` names the stack its PaymentIntents are tagged with.
    pub fn new(base: &str, api_key: &str, stack: &str) -> Result<Self, StoreError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            stack: stack.to_owned(),
            timeout: CALL_TIMEOUT,
            budget: CALL_BUDGET,
            client: crate::adapters::http::web_client()?,
        })
    }

    /// The same account with another per-call timeout and budget (tests of lost answers).
    pub fn with_timeouts(mut self, call: Duration, budget: Duration) -> Self {
        self.timeout = call;
        self.budget = budget;
        self
    }

    /// Send once. `Err` is a call that got no answer (connection failure or timeout).
    async fn send_once(&self, request: &Request, timeout: Duration) -> Result<Answer, String> {
        let body = if request.method == "POST" {
            request.encoded()
        } else {
            String::new()
        };
        let mut builder = http::Request::builder()
            .method(request.method)
            .uri(format!("{}{}", self.base, request.path))
            .header("authorization", format!("Bearer {}", self.api_key))
            .header("stripe-version", API_VERSION)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        let http_request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let call = async {
            let response = self
                .client
                .request(http_request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok(Answer {
                status,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            })
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// Send with retries on what Stripe says is worth retrying (the same idempotency key
    /// each time, so a retry is never a second effect). `Ok` is the last answer Stripe gave;
    /// `Err` means no answer at all.
    pub async fn send(&self, request: &Request) -> Result<Answer, StoreError> {
        let mut last = Err(StoreError::Unavailable("stripe: not called".into()));
        let deadline = tokio::time::Instant::now() + self.budget;
        let mut tries = Policy::PROVIDER.tries();
        while tries.next().await {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match self.send_once(request, self.timeout.min(left)).await {
                Ok(answer) if retryable(answer.status) => {
                    tracing::warn!(status = answer.status, path = %request.path, "stripe asked for a retry");
                    last = Ok(answer);
                }
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    tracing::warn!(error = %e, path = %request.path, "stripe did not answer");
                    last = Err(StoreError::Unavailable(format!(
                        "stripe {}: {e}",
                        request.path
                    )));
                }
            }
        }
        last
    }

    /// The PaymentIntent made for `charge`, as it is now: retrieved by its recorded id, or
    /// found by its charge key in metadata when the id was never recorded. `None`: no
    /// intent was found (never made, or not searchable yet).
    async fn intent(&self, charge: &ChargeRef) -> Result<Option<Value>, StoreError> {
        let answered = |answer: Answer| match answer.status {
            200 => Ok(answer.body),
            s if retryable(s) => Err(StoreError::Unavailable(format!("stripe answered {s}"))),
            s => Err(rejected(s, &answer.body)),
        };
        if let Some(id) = &charge.reference {
            return answered(self.send(&get_intent(id)).await?).map(Some);
        }
        let found = answered(self.send(&search_intent(&charge.key)).await?)?;
        Ok(found["data"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|pi| pi["metadata"]["aisle_charge_key"] == charge.key.as_str())
            })
            .cloned())
    }
}

/// The decline reason for a payment method that is not a Stripe PaymentMethod id.
pub const INVALID_PAYMENT_METHOD: &str = "invalid_payment_method";

/// Whether `method` can be a PaymentMethod id (`pm_` and letters and digits): anything else
/// (a test token, a card number pasted by mistake) is refused before Stripe is called.
pub fn plausible_payment_method(method: &str) -> bool {
    method.strip_prefix("pm_").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 250
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

#[async_trait]
impl Payments for StripePayments {
    async fn open(&self, charge: &ChargeRef) -> Result<Opened, StoreError> {
        if !plausible_payment_method(&charge.method) {
            return Ok(Opened::Declined {
                reason: INVALID_PAYMENT_METHOD.into(),
            });
        }
        let answer = match self.send(&create_intent(charge, &self.stack)).await {
            Ok(answer) => answer,
            Err(StoreError::Unavailable(reason)) => {
                tracing::warn!(%reason, "charge not opened for certain; settled later");
                return Ok(Opened::NoResponse);
            }
            Err(e) => return Err(e),
        };
        match answer.status {
            200 => match answer.body["id"].as_str() {
                Some(id) => Ok(Opened::Ready {
                    reference: id.to_owned(),
                }),
                None => Err(StoreError::Bug(
                    "stripe made an intent without an id".into(),
                )),
            },
            400 | 404 if unknown_payment_method(&answer) => Ok(Opened::Declined {
                reason: INVALID_PAYMENT_METHOD.into(),
            }),
            s if retryable(s) => Ok(Opened::NoResponse),
            s => Err(rejected(s, &answer.body)),
        }
    }

    async fn confirm(&self, charge: &ChargeRef) -> Result<ChargeOutcome, StoreError> {
        let Some(id) = &charge.reference else {
            return Err(StoreError::Bug(format!(
                "confirm {}: the charge's id was not recorded",
                charge.key
            )));
        };
        match self.send(&confirm_intent(&charge.key, id)).await {
            Ok(answer) => charge_outcome(&answer),
            Err(StoreError::Unavailable(reason)) => {
                tracing::warn!(%reason, "confirm unanswered; settled later");
                Ok(ChargeOutcome::NoResponse)
            }
            Err(e) => Err(e),
        }
    }

    async fn status(&self, charge: &ChargeRef, check: u32) -> Result<ChargeStatus, StoreError> {
        if !plausible_payment_method(&charge.method) {
            return Ok(ChargeStatus::Failed {
                reason: INVALID_PAYMENT_METHOD.into(),
            });
        }
        match self.intent(charge).await {
            Ok(Some(intent)) => Ok(intent_status(&intent)),
            Ok(None) if check + 1 >= NOT_FOUND_CHECKS => Ok(ChargeStatus::Failed {
                reason: "no_such_charge".into(),
            }),
            Ok(None) | Err(StoreError::Unavailable(_)) => Ok(ChargeStatus::Unknown),
            Err(e) => Err(e),
        }
    }

    async fn refund(
        &self,
        key: &str,
        _charge: &ChargeRef,
        reference: Option<&str>,
        amount: Money,
    ) -> Result<(), StoreError> {
        let Some(intent) = reference else {
            return Err(StoreError::Bug(format!(
                "refund {key}: the charge has no provider reference"
            )));
        };
        let answer = self.send(&create_refund(key, intent, amount)).await?;
        match answer.status {
            200 => Ok(()),
            // Already refunded in full: what this key asked for is done.
            400 if answer.body["error"]["code"] == "charge_already_refunded" => Ok(()),
            s if retryable(s) => Err(StoreError::Unavailable(format!(
                "stripe refund answered {s}"
            ))),
            s => Err(rejected(s, &answer.body)),
        }
    }

    async fn void(&self, charge: &ChargeRef) -> Result<(), StoreError> {
        if !plausible_payment_method(&charge.method) {
            return Ok(());
        }
        // No intent found: none was made for this attempt (or it is not searchable yet, and
        // then it was never confirmed either: only the request that recorded its id does).
        let Some(intent) = self.intent(charge).await? else {
            return Ok(());
        };
        match intent["status"].as_str().unwrap_or_default() {
            "canceled" => Ok(()),
            "succeeded" => Err(StoreError::Bug(format!(
                "void {}: the payment succeeded; refund it instead",
                charge.key
            ))),
            _ => {
                let id = intent["id"].as_str().unwrap_or_default();
                let answer = self.send(&cancel_intent(&charge.key, id)).await?;
                match answer.status {
                    200 => Ok(()),
                    s if retryable(s) => Err(StoreError::Unavailable(format!(
                        "stripe cancel answered {s}"
                    ))),
                    s => Err(rejected(s, &answer.body)),
                }
            }
        }
    }

    /// One paged list of the PaymentIntents created since `since`, with their latest charge
    /// expanded: 1 call per 100 intents, whatever they hold. Only intents tagged with this
    /// stack count (an account shared with other applications holds theirs too).
    async fn holding_since(&self, since: Timestamp) -> Result<Vec<HeldCharge>, StoreError> {
        let mut held = Vec::new();
        let mut after: Option<String> = None;
        for _page in 0..MAX_RECONCILE_PAGES {
            let answer = self.send(&list_intents(since, after.as_deref())).await?;
            if answer.status != 200 {
                return Err(rejected(answer.status, &answer.body));
            }
            let intents = answer.body["data"].as_array().cloned().unwrap_or_default();
            for intent in &intents {
                if intent["metadata"]["aisle_stack"] != self.stack.as_str() {
                    continue;
                }
                let kept = charge_held(&intent["latest_charge"]);
                if kept <= 0 {
                    continue;
                }
                held.push(HeldCharge {
                    key: intent["metadata"]["aisle_charge_key"]
                        .as_str()
                        .map(str::to_owned),
                    reference: intent["id"].as_str().unwrap_or_default().to_owned(),
                    held: kept,
                    created: Timestamp::from_unix_millis(
                        intent["created"].as_i64().unwrap_or(0) * 1000,
                    ),
                });
            }
            match (answer.body["has_more"] == true, intents.last()) {
                (true, Some(last)) => after = last["id"].as_str().map(str::to_owned),
                _ => return Ok(held),
            }
        }
        tracing::warn!(
            pages = MAX_RECONCILE_PAGES,
            "payment intents listed only in part"
        );
        Ok(held)
    }
}

/// Why a webhook delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header, or one without `t=` and `v1=`.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// No `v1` signature matches the payload under the signing secret.
    #[error("no signature matches the payload")]
    Mismatch,
    /// Signed too long ago (or in the future) to be a fresh delivery: a replay.
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
}

/// How far a signature's timestamp may be from now (Stripe's libraries use 300 s).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Check a `Stripe-Signature` header (`t=<unix>,v1=<hex hmac>[,v1=...]`) against the raw
/// payload: HMAC-SHA256 of `"<t>.<payload>"` under the endpoint's signing secret, compared in
/// constant time, with the timestamp within [`SIGNATURE_TOLERANCE_SECS`] of `now`.
pub fn verify_signature(
    header: &str,
    payload: &[u8],
    secret: &str,
    now_unix: i64,
) -> Result<(), SignatureError> {
    use hmac::{KeyInit, Mac};
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s.to_owned()),
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else {
        return Err(SignatureError::Malformed);
    };
    let matches = signatures.iter().any(|s| {
        let Some(expected) = decode_hex(s) else {
            return false;
        };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac.verify_slice(&expected).is_ok()
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now_unix - t).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Sign `payload` as Stripe does (tests and the local webhook tooling).
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Read a Stripe event into what the shop acts on. `None` when it is not a Stripe event.
pub fn parse_event(payload: &[u8]) -> Option<ProviderEvent> {
    let event: Value = serde_json::from_slice(payload).ok()?;
    let id = event["id"].as_str()?.to_owned();
    let kind = match event["type"].as_str()? {
        "payment_intent.succeeded" => ProviderEventKind::Succeeded,
        "payment_intent.payment_failed" | "payment_intent.canceled" => ProviderEventKind::Failed,
        "charge.refunded" => ProviderEventKind::Refunded,
        other => ProviderEventKind::Other(other.to_owned()),
    };
    let object = &event["data"]["object"];
    let metadata = |name: &str| object["metadata"][name].as_str().map(str::to_owned);
    Some(ProviderEvent {
        id,
        kind,
        charge_key: metadata("aisle_charge_key"),
        stack: metadata("aisle_stack"),
    })
}

/// What the Stripe secret holds (Secrets Manager, JSON).
#[derive(Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StripeSecret {
    api_key: String,
    webhook_secret: String,
}

/// A Stripe account whose keys live in Secrets Manager: read once per instance, on first
/// use (so functions that never move money never read it), then kept for the instance's
/// life. Nothing of the secret is logged; `Debug` shows only the secret's name.
pub struct StripeAccount {
    secrets: aws_sdk_secretsmanager::Client,
    secret_name: String,
    api_base: String,
    stack: String,
    ready: tokio::sync::OnceCell<(StripePayments, String)>,
}

impl std::fmt::Debug for StripeAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeAccount")
            .field("secret_name", &self.secret_name)
            .field("api_base", &self.api_base)
            .finish()
    }
}

impl StripeAccount {
    /// The account behind `secret_name`, reached at `api_base`, used by the stack `stack`.
    pub fn new(
        secrets: aws_sdk_secretsmanager::Client,
        secret_name: &str,
        api_base: &str,
        stack: &str,
    ) -> Self {
        Self {
            secrets,
            secret_name: secret_name.to_owned(),
            api_base: api_base.to_owned(),
            stack: stack.to_owned(),
            ready: tokio::sync::OnceCell::new(),
        }
    }

    async fn ready(&self) -> Result<&(StripePayments, String), StoreError> {
        self.ready
            .get_or_try_init(|| async {
                let answer = self
                    .secrets
                    .get_secret_value()
                    .secret_id(&self.secret_name)
                    .send()
                    .await
                    .map_err(|e| super::classify("secretsmanager GetSecretValue", e))?;
                let secret: StripeSecret = answer
                    .secret_string()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .ok_or_else(|| {
                        StoreError::Bug(format!(
                            "secret {} is not JSON {{\"apiKey\", \"webhookSecret\"}}",
                            self.secret_name
                        ))
                    })?;
                let payments = StripePayments::new(&self.api_base, &secret.api_key, &self.stack)?;
                tracing::info!(secret = %self.secret_name, "stripe keys loaded");
                Ok((payments, secret.webhook_secret))
            })
            .await
    }

    /// The PaymentIntents client.
    pub async fn payments(&self) -> Result<&StripePayments, StoreError> {
        Ok(&self.ready().await?.0)
    }

    /// The webhook endpoint's signing secret.
    pub async fn webhook_secret(&self) -> Result<&str, StoreError> {
        Ok(&self.ready().await?.1)
    }
}

#[async_trait]
impl Payments for StripeAccount {
    async fn open(&self, charge: &ChargeRef) -> Result<Opened, StoreError> {
        self.payments().await?.open(charge).await
    }

    async fn confirm(&self, charge: &ChargeRef) -> Result<ChargeOutcome, StoreError> {
        self.payments().await?.confirm(charge).await
    }

    async fn status(&self, charge: &ChargeRef, check: u32) -> Result<ChargeStatus, StoreError> {
        self.payments().await?.status(charge, check).await
    }

    async fn refund(
        &self,
        key: &str,
        charge: &ChargeRef,
        reference: Option<&str>,
        amount: Money,
    ) -> Result<(), StoreError> {
        self.payments()
            .await?
            .refund(key, charge, reference, amount)
            .await
    }

    async fn void(&self, charge: &ChargeRef) -> Result<(), StoreError> {
        self.payments().await?.void(charge).await
    }

    async fn holding_since(&self, since: Timestamp) -> Result<Vec<HeldCharge>, StoreError> {
        self.payments().await?.holding_since(since).await
    }
}

#[cfg(test)]
mod tests {
    //! The wire, against Stripe's documented answers (`recorded/stripe/`, see its README):
    //! the exact requests, what each answer means, the transport's retries and lost answers
    //! against a loopback server, and webhook signatures.

    use super::*;
    use crate::adapters::replay::{replay, replay_or_drop};
    use crate::domain::Currency;
    use serde_json::json;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/adapters/recorded/stripe");

    fn recorded(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}/{name}")).unwrap()
    }

    fn json_of(name: &str) -> Value {
        serde_json::from_slice(&recorded(name)).unwrap()
    }

    fn charge() -> ChargeRef {
        ChargeRef {
            key: "3f1c2a4e-8b7d-4c61-9e0f-2a5b6c7d8e9f-1".into(),
            method: "pm_1PpRQS2eZvKYlo2Cm3nTuvWx".into(),
            amount: Money {
                amount: 39998,
                currency: Currency::Usd,
            },
            reference: None,
        }
    }

    /// The same charge once its PaymentIntent's id was recorded.
    fn recorded_charge(id: &str) -> ChargeRef {
        ChargeRef {
            reference: Some(id.into()),
            ..charge()
        }
    }

    fn fast(url: &str) -> StripePayments {
        StripePayments::new(url, "sk_test_recorded", "aisle-test")
            .unwrap()
            .with_timeouts(Duration::from_millis(500), Duration::from_secs(3))
    }

    #[test]
    fn a_charge_is_one_intent_made_unconfirmed_under_the_attempt_key_then_confirmed_by_id() {
        let request = create_intent(&charge(), "aisle-test");
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/payment_intents");
        assert_eq!(
            request.idempotency_key.as_deref(),
            Some(charge().key.as_str())
        );
        assert_eq!(
            request.encoded(),
            "amount=39998&currency=usd&payment_method=pm_1PpRQS2eZvKYlo2Cm3nTuvWx\
             &payment_method_types%5B%5D=card&capture_method=automatic\
             &metadata%5Baisle_charge_key%5D=3f1c2a4e-8b7d-4c61-9e0f-2a5b6c7d8e9f-1\
             &metadata%5Baisle_stack%5D=aisle-test"
        );
        let confirm = confirm_intent(&charge().key, "pi_1");
        assert_eq!(confirm.path, "/v1/payment_intents/pi_1/confirm");
        assert_eq!(
            confirm.idempotency_key.as_deref(),
            Some("3f1c2a4e-8b7d-4c61-9e0f-2a5b6c7d8e9f-1-confirm")
        );
        assert!(confirm.form.is_empty());
        // Found again by its metadata, never by sending the create again.
        assert_eq!(
            search_intent(&charge().key).path,
            "/v1/payment_intents/search?query=metadata%5B%27aisle_charge_key%27%5D%3A\
             %273f1c2a4e-8b7d-4c61-9e0f-2a5b6c7d8e9f-1%27"
        );
        assert_eq!(search_intent(&charge().key).method, "GET");
        let refund = create_refund(
            "k-refund",
            "pi_1",
            Money {
                amount: 500,
                currency: Currency::Usd,
            },
        );
        assert_eq!(
            refund.encoded(),
            "payment_intent=pi_1&amount=500&metadata%5Baisle_refund_key%5D=k-refund"
        );
        assert_eq!(refund.idempotency_key.as_deref(), Some("k-refund"));
        assert_eq!(
            cancel_intent("k", "pi_1").path,
            "/v1/payment_intents/pi_1/cancel"
        );
    }

    #[test]
    fn each_documented_answer_means_one_outcome() {
        let answer = |status, name: &str| Answer {
            status,
            body: json_of(name),
        };
        assert_eq!(
            charge_outcome(&answer(200, "pi-succeeded.json")).unwrap(),
            ChargeOutcome::Approved {
                reference: "pi_3PpRQT2eZvKYlo2C1aKm9Xyz".into()
            }
        );
        assert_eq!(
            charge_outcome(&answer(200, "pi-requires-action.json")).unwrap(),
            ChargeOutcome::ActionRequired {
                reference: "pi_3PpRQT2eZvKYlo2C0bAct10n".into(),
                client_secret: "pi_3PpRQT2eZvKYlo2C0bAct10n_secret_9XyZab".into()
            }
        );
        // The issuer's reason, not just "card_declined".
        assert_eq!(
            charge_outcome(&answer(402, "error-card-declined.json")).unwrap(),
            ChargeOutcome::Declined {
                reason: "insufficient_funds".into()
            }
        );
        assert_eq!(
            charge_outcome(&answer(429, "error-rate-limit.json")).unwrap(),
            ChargeOutcome::NoResponse
        );
        assert_eq!(
            charge_outcome(&answer(409, "error-idempotency-key-in-use.json")).unwrap(),
            ChargeOutcome::NoResponse
        );
        // A payment method that does not exist is the shopper's input: a decline.
        assert_eq!(
            charge_outcome(&answer(400, "error-no-such-payment-method.json")).unwrap(),
            ChargeOutcome::Declined {
                reason: INVALID_PAYMENT_METHOD.into()
            }
        );
        // Any other request Stripe refuses as malformed is our bug, never a decline.
        assert!(matches!(
            charge_outcome(&Answer {
                status: 400,
                body: json!({"error": {"type": "invalid_request_error", "code": "parameter_unknown", "param": "colour"}})
            }),
            Err(StoreError::Bug(_))
        ));
        assert!(plausible_payment_method("pm_1PpRQS2eZvKYlo2Cm3nTuvWx"));
        for bad in [
            "tok_success",
            "pm_",
            "4242424242424242",
            "pm_a b",
            "pm_x&amount=1",
        ] {
            assert!(!plausible_payment_method(bad), "{bad}");
        }
        assert_eq!(
            intent_status(&json_of("pi-succeeded.json")),
            ChargeStatus::Captured {
                reference: "pi_3PpRQT2eZvKYlo2C1aKm9Xyz".into()
            }
        );
        assert_eq!(
            intent_status(&json_of("pi-requires-action.json")),
            ChargeStatus::Unknown
        );
        // Made and never confirmed: no money was taken, and none will be.
        assert_eq!(
            intent_status(&json_of("pi-requires-confirmation.json")),
            ChargeStatus::Failed {
                reason: "never_confirmed".into()
            }
        );
        assert_eq!(
            charge_outcome(&Answer {
                status: 400,
                body: json!({"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}})
            })
            .unwrap(),
            ChargeOutcome::NoResponse
        );
        assert_eq!(
            intent_status(&json_of("error-card-declined.json")["error"]["payment_intent"]),
            ChargeStatus::Failed {
                reason: "insufficient_funds".into()
            }
        );
    }

    #[tokio::test]
    async fn a_rate_limited_open_is_retried_with_the_same_key_and_the_confirm_goes_by_id() {
        let (url, seen) = replay(vec![
            (429, recorded("error-rate-limit.json")),
            (200, recorded("pi-requires-confirmation.json")),
            (200, recorded("pi-succeeded.json")),
        ])
        .await;
        let stripe = fast(&url);
        let opened = stripe.open(&charge()).await.unwrap();
        assert_eq!(
            opened,
            Opened::Ready {
                reference: "pi_3PpRQT2eZvKYlo2C1aKm9Xyz".into()
            }
        );
        let outcome = stripe
            .confirm(&recorded_charge("pi_3PpRQT2eZvKYlo2C1aKm9Xyz"))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            ChargeOutcome::Approved {
                reference: "pi_3PpRQT2eZvKYlo2C1aKm9Xyz".into()
            }
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for (method, path, body, auth, key) in seen[..2].iter() {
            assert_eq!(
                (method.as_str(), path.as_str()),
                ("POST", "/v1/payment_intents")
            );
            assert_eq!(body, &create_intent(&charge(), "aisle-test").encoded());
            assert_eq!(auth, "Bearer sk_test_recorded");
            assert_eq!(key, &charge().key, "every try carries the attempt's key");
        }
        assert_eq!(
            seen[2].1,
            "/v1/payment_intents/pi_3PpRQT2eZvKYlo2C1aKm9Xyz/confirm"
        );
    }

    #[tokio::test]
    async fn a_lost_open_is_no_response_and_the_intent_is_found_by_search_never_made_again() {
        // The open's answers are all lost; asked later, the intent is found by the attempt's
        // key in its metadata: no second create goes out, whatever Stripe still remembers.
        let found = json!({
            "object": "search_result",
            "data": [json_of("pi-succeeded.json")],
            "has_more": false,
        });
        let (url, seen) = replay_or_drop(vec![
            None,
            None,
            None,
            Some((200, serde_json::to_vec(&found).unwrap())),
        ])
        .await;
        let stripe = fast(&url);
        assert_eq!(stripe.open(&charge()).await.unwrap(), Opened::NoResponse);
        assert_eq!(
            stripe.status(&charge(), 0).await.unwrap(),
            ChargeStatus::Captured {
                reference: "pi_3PpRQT2eZvKYlo2C1aKm9Xyz".into()
            }
        );
        let seen = seen.lock().unwrap();
        let paths: Vec<&str> = seen.iter().map(|s| s.1.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/v1/payment_intents",
                "/v1/payment_intents",
                "/v1/payment_intents",
                "/v1/payment_intents/search",
            ]
        );
        assert_eq!(seen[3].0, "GET");
    }

    #[tokio::test]
    async fn an_intent_search_cannot_find_is_unknown_until_past_the_search_lag() {
        let none = json!({"object": "search_result", "data": [], "has_more": false});
        let body = serde_json::to_vec(&none).unwrap();
        let (url, _) = replay(vec![(200, body.clone()), (200, body.clone()), (200, body)]).await;
        let stripe = fast(&url);
        assert_eq!(
            stripe.status(&charge(), 0).await.unwrap(),
            ChargeStatus::Unknown
        );
        assert_eq!(
            stripe
                .status(&charge(), NOT_FOUND_CHECKS - 1)
                .await
                .unwrap(),
            ChargeStatus::Failed {
                reason: "no_such_charge".into()
            }
        );
        // And a void of a charge never made has nothing to cancel.
        stripe.void(&charge()).await.unwrap();
    }

    #[tokio::test]
    async fn a_declined_charge_asked_again_is_retrieved_by_id_and_failed_with_the_issuers_reason() {
        let declined = json_of("error-card-declined.json");
        let (url, seen) = replay(vec![(
            200,
            serde_json::to_vec(&declined["error"]["payment_intent"]).unwrap(),
        )])
        .await;
        let id = declined["error"]["payment_intent"]["id"].as_str().unwrap();
        assert_eq!(
            fast(&url).status(&recorded_charge(id), 0).await.unwrap(),
            ChargeStatus::Failed {
                reason: "insufficient_funds".into()
            }
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].0, "GET");
        assert_eq!(seen[0].1, format!("/v1/payment_intents/{id}"));
    }

    #[tokio::test]
    async fn refunds_use_the_stored_intent_never_a_replay() {
        let (url, seen) = replay(vec![(200, recorded("refund.json"))]).await;
        let half = Money {
            amount: 19999,
            currency: Currency::Usd,
        };
        fast(&url)
            .refund(
                "k-line-1",
                &charge(),
                Some("pi_3PpRQT2eZvKYlo2C1aKm9Xyz"),
                half,
            )
            .await
            .unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1, "/v1/refunds");
        assert_eq!(seen[0].4, "k-line-1");
        assert!(seen[0]
            .2
            .contains("payment_intent=pi_3PpRQT2eZvKYlo2C1aKm9Xyz"));
        assert!(matches!(
            fast(&url).refund("k", &charge(), None, half).await,
            Err(StoreError::Bug(_))
        ));
    }

    #[test]
    fn a_webhook_is_accepted_only_signed_with_the_secret_and_fresh() {
        let payload = recorded("event-payment-intent-succeeded.json");
        let t = 1_796_130_005;
        let header = sign(&payload, "whsec_test", t);
        assert_eq!(
            verify_signature(&header, &payload, "whsec_test", t + 10),
            Ok(())
        );
        // A second v1 (a secret being rolled) may match instead.
        let rolled = format!(
            "t={t},v1={},{}",
            "00".repeat(32),
            header.split_once(',').unwrap().1
        );
        assert_eq!(verify_signature(&rolled, &payload, "whsec_test", t), Ok(()));
        assert_eq!(
            verify_signature(&header, &payload, "whsec_other", t),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = payload.clone();
        tampered[20] ^= 1;
        assert_eq!(
            verify_signature(&header, &tampered, "whsec_test", t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(
                &header,
                &payload,
                "whsec_test",
                t + SIGNATURE_TOLERANCE_SECS + 1
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature("v1=abc", &payload, "whsec_test", t),
            Err(SignatureError::Malformed)
        );
        let event = parse_event(&payload).unwrap();
        assert_eq!(event.id, "evt_3PpRQT2eZvKYlo2C1Ev3nt01");
        assert_eq!(event.kind, ProviderEventKind::Succeeded);
        assert_eq!(
            event.charge_key.as_deref(),
            Some("3f1c2a4e-8b7d-4c61-9e0f-2a5b6c7d8e9f-1")
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let stripe =
            StripePayments::new("https://api.stripe.com", "sk_live_secret", "aisle-test").unwrap();
        assert!(!format!("{stripe:?}").contains("sk_live"));
    }
}
