//! `aisle-local stripe-proxy`: what the functions see as Stripe locally. localstripe (a
//! stateful fake Stripe server) does the payments; this proxy in front of it adds the one
//! Stripe behaviour the shop relies on that localstripe lacks, **idempotent requests**, as
//! Stripe documents them (docs.stripe.com/api/idempotent_requests):
//!
//! - a POST with an `Idempotency-Key` that Stripe began executing has its answer saved
//!   (status and body, a 402 decline included) and a later POST with the same key and the
//!   same parameters gets that answer again (`Idempotent-Replayed: true`), without a second
//!   effect;
//! - the same key with other parameters is `400 idempotency_error`;
//! - a key whose first request is still running answers `409 idempotency_error`
//!   (`idempotency_key_in_use`);
//! - answers that mean the request never ran (400 validation, 401, 409, 429) are not saved.
//!
//! Keys are scoped by API key, as Stripe scopes them by account. For tests it can also lose
//! answers: `POST /_aisle/lose-answers` with `payment_method=<pm>&count=<n>` makes the next
//! `n` PaymentIntent creates for that payment method (first tries and replays alike) close
//! the connection unanswered after localstripe acted, as a timeout loses an answer.

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Bytes;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::proxy::{forward, forwarder, plain, Answer, Forwarder};

/// A saved answer and the request it answered.
struct Saved {
    fingerprint: String,
    status: u16,
    content_type: String,
    body: Bytes,
}

#[derive(Default)]
struct State {
    /// Per (API key, idempotency key): the slot whose lock is held while the first request
    /// with that key runs.
    keys: std::sync::Mutex<HashMap<String, Arc<Mutex<Option<Saved>>>>>,
    /// Payment method id → answers still to lose.
    lose: std::sync::Mutex<HashMap<String, u32>>,
}

/// Serve on `listener`, forwarding to localstripe at `upstream`.
pub async fn serve(listener: TcpListener, upstream: String) {
    let client = forwarder();
    let state = Arc::new(State::default());
    crate::proxy::serve(listener, move |parts, body| {
        let (client, upstream, state) = (client.clone(), upstream.clone(), state.clone());
        async move { handle(parts, body, &client, &upstream, &state).await }
    })
    .await
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn stripe_error(status: u16, code: &str, message: &str) -> Answer {
    let body = serde_json::json!({
        "error": { "type": "idempotency_error", "code": code, "message": message }
    });
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| plain(500, "response build"))
}

async fn handle(
    parts: http::request::Parts,
    body: Bytes,
    client: &Forwarder,
    upstream: &str,
    state: &State,
) -> Option<Answer> {
    let path = parts.uri.path().to_owned();
    if path == "/_aisle/lose-answers" {
        let f = form(&body);
        let (Some(pm), Some(n)) = (f.get("payment_method"), f.get("count")) else {
            return Some(plain(400, "payment_method and count"));
        };
        let n = n.parse().unwrap_or(1);
        state
            .lose
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pm.clone(), n);
        return Some(plain(200, "armed"));
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let lose_this = || {
        if parts.method != http::Method::POST || path != "/v1/payment_intents" {
            return false;
        }
        let Some(pm) = form(&body).remove("payment_method") else {
            return false;
        };
        let mut lose = state.lose.lock().unwrap_or_else(|p| p.into_inner());
        match lose.get_mut(&pm) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    let key = match (
        parts.method == http::Method::POST,
        header("idempotency-key"),
    ) {
        (true, Some(key)) => key,
        _ => {
            let lost = lose_this();
            let answer = forward(client, upstream, &parts, body).await;
            return (!lost).then_some(answer);
        }
    };
    let account = header("authorization").unwrap_or_default();
    let slot = {
        let mut keys = state.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.entry(format!("{account}\n{key}")).or_default().clone()
    };
    let fingerprint = {
        let mut digest = Sha256::new();
        digest.update(parts.method.as_str());
        digest.update(path.as_bytes());
        digest.update(&body);
        digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let Ok(mut saved) = slot.try_lock() else {
        return Some(stripe_error(
            409,
            "idempotency_key_in_use",
            "There is currently another in-progress request using this Idempotent Key.",
        ));
    };
    if let Some(earlier) = saved.as_ref() {
        if earlier.fingerprint != fingerprint {
            return Some(stripe_error(
                400,
                "idempotency_key_reused",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ));
        }
        if lose_this() {
            return None;
        }
        return Some(
            hyper::Response::builder()
                .status(earlier.status)
                .header("content-type", earlier.content_type.clone())
                .header("idempotent-replayed", "true")
                .body(http_body_util::Full::new(earlier.body.clone()))
                .unwrap_or_else(|_| plain(500, "response build")),
        );
    }
    let lost = lose_this();
    let answer = forward(client, upstream, &parts, body).await;
    let status = answer.status().as_u16();
    if !matches!(status, 400 | 401 | 409 | 429) {
        let content_type = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let (head, body) = answer.into_parts();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        *saved = Some(Saved {
            fingerprint,
            status,
            content_type,
            body: bytes.clone(),
        });
        return (!lost)
            .then(|| hyper::Response::from_parts(head, http_body_util::Full::new(bytes)));
    }
    (!lost).then_some(answer)
}
