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
//! It also answers what the adapter asks and localstripe cannot list:
//!
//! - `GET /v1/payment_intents/search?query=metadata['k']:'v'`, Stripe's search
//!   (docs.stripe.com/search#query-fields-for-payment-intents), over every PaymentIntent
//!   localstripe holds;
//! - `GET /v1/payment_intents?created[gt]=...`, the list filtered by creation time and
//!   newest first, as Stripe lists (docs.stripe.com/api/payment_intents/list).
//!
//! Both read a cache of localstripe's intents (kept current in the background: new intents
//! listed from the newest known, those changed through the proxy or waiting for 3-D Secure
//! read again by id), because localstripe serialises every listed intent anew and a suite's
//! worth of them made each full read take seconds.
//!
//! And, each with the Stripe page that documents it, what Stripe does and localstripe never
//! does, so the tests see the adapter survive it:
//!
//! - **keys are forgotten after 24 hours** (docs.stripe.com/api/idempotent_requests: keys
//!   "are eligible to be removed ... after they're at least 24 hours old"): a saved answer
//!   older than that is gone, and the same key runs anew. Tests age their own keys with the
//!   test clock: `POST /_aisle/age-keys` `prefix=<key prefix>&seconds=<n>`;
//! - **minimum and maximum amounts per currency**
//!   (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts): a PaymentIntent create
//!   below or above them is `400 invalid_request_error` `amount_too_small` /
//!   `amount_too_large` (docs.stripe.com/error-codes), never saved;
//! - **429 and 500 on demand** (docs.stripe.com/rate-limits, docs.stripe.com/error-handling):
//!   `POST /_aisle/faults` `payment_method=<pm>&status=429|500&count=<n>[&of=create|confirm]`
//!   answers the next `n` such requests with that error before they run (a request that
//!   never ran saves no idempotent answer).
//!
//! Keys are scoped by API key, as Stripe scopes them by account. For tests it can also lose
//! answers: `POST /_aisle/lose-answers` with `payment_method=<pm>&count=<n>[&of=create|confirm]`
//! makes the next `n` PaymentIntent creates and/or confirms for that payment method (first
//! tries and replays alike) close the connection unanswered after localstripe acted, as a
//! timeout loses an answer.

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
    /// When it was saved (seconds since the epoch, less any ageing a test asked for).
    saved_at: i64,
}

/// How long Stripe keeps an idempotency key at least (docs.stripe.com/api/idempotent_requests).
const KEY_LIFETIME_SECS: i64 = 24 * 3600;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The fault kinds a test can arm per payment method: which requests they hit.
fn kinds(of: Option<&String>) -> &'static [&'static str] {
    match of.map(String::as_str) {
        Some("create") => &["create"],
        Some("confirm") => &["confirm"],
        _ => &["create", "confirm"],
    }
}

/// Take one of the armed faults for `target`, if any is left.
fn take<T: Clone>(
    armed: &std::sync::Mutex<HashMap<(String, &'static str), (T, u32)>>,
    target: &(String, &'static str),
) -> Option<T> {
    let mut armed = armed.lock().unwrap_or_else(|p| p.into_inner());
    match armed.get_mut(target) {
        Some((fault, n)) if *n > 0 => {
            *n -= 1;
            Some(fault.clone())
        }
        _ => None,
    }
}

/// A create's amount outside Stripe's limits for its currency, as Stripe refuses it.
fn amount_refused(form: &HashMap<String, String>) -> Option<Answer> {
    let amount: i64 = form.get("amount")?.parse().ok()?;
    let currency: aisle::domain::Currency =
        form.get("currency")?.to_ascii_uppercase().parse().ok()?;
    let (min, max) = currency.charge_limits();
    let (code, message) = if amount < min {
        (
            "amount_too_small",
            format!("Amount must be at least {min} {currency} minor units"),
        )
    } else if amount > max {
        (
            "amount_too_large",
            format!("Amount must be no more than {max} {currency} minor units"),
        )
    } else {
        return None;
    };
    let body = serde_json::json!({ "error": {
        "type": "invalid_request_error", "code": code, "param": "amount", "message": message,
    }});
    Some(
        hyper::Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(body.to_string())))
            .unwrap_or_else(|_| plain(500, "response build")),
    )
}

#[derive(Default)]
struct State {
    /// Per (API key, idempotency key): the slot whose lock is held while the first request
    /// with that key runs.
    keys: std::sync::Mutex<HashMap<String, Arc<Mutex<Option<Saved>>>>>,
    /// (Payment method id, `create` or `confirm`) → answers still to lose.
    lose: std::sync::Mutex<HashMap<(String, &'static str), ((), u32)>>,
    /// (Payment method id, `create` or `confirm`) → (status to answer, how many more).
    statuses: std::sync::Mutex<HashMap<(String, &'static str), (u16, u32)>>,
    /// PaymentIntent id → its payment method, from the creates that passed through (a
    /// confirm names only the intent).
    methods: std::sync::Mutex<HashMap<String, String>>,
    /// The intents as last read, for search and the time-filtered list.
    intents: Mutex<IntentCache>,
    /// Intents changed through the proxy since the cache last looked.
    changed: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The last API key seen, which the background catch-up reads with.
    account: std::sync::Mutex<Option<String>>,
}

/// How often the intent cache catches up with localstripe in the background, so a search
/// or list finds it warm (each catch-up reads only what is new or may have changed).
const CACHE_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// Serve on `listener`, forwarding to localstripe at `upstream`.
pub async fn serve(listener: TcpListener, upstream: String) {
    let client = forwarder();
    let state = Arc::new(State::default());
    {
        let (client, upstream, state) = (client.clone(), upstream.clone(), state.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CACHE_REFRESH).await;
                let account = state
                    .account
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                if let Some(account) = account {
                    let _ = all_intents(&client, &upstream, &account, &state).await;
                }
            }
        });
    }
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
    stripe_error_of(status, "idempotency_error", code, message)
}

/// An error answered as Stripe shapes errors (docs.stripe.com/api/errors).
fn stripe_error_of(status: u16, kind: &str, code: &str, message: &str) -> Answer {
    let body = serde_json::json!({
        "error": { "type": kind, "code": code, "message": message }
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
        let mut lose = state.lose.lock().unwrap_or_else(|p| p.into_inner());
        for kind in kinds(f.get("of")) {
            lose.insert((pm.clone(), *kind), ((), n));
        }
        return Some(plain(200, "armed"));
    }
    if path == "/_aisle/faults" {
        let f = form(&body);
        let (Some(pm), Some(status), Some(n)) = (
            f.get("payment_method"),
            f.get("status").and_then(|s| s.parse::<u16>().ok()),
            f.get("count").and_then(|n| n.parse::<u32>().ok()),
        ) else {
            return Some(plain(400, "payment_method, status and count"));
        };
        if !matches!(status, 429 | 500) {
            return Some(plain(400, "status 429 or 500"));
        }
        let mut statuses = state.statuses.lock().unwrap_or_else(|p| p.into_inner());
        for kind in kinds(f.get("of")) {
            statuses.insert((pm.clone(), *kind), (status, n));
        }
        return Some(plain(200, "armed"));
    }
    if path == "/_aisle/age-keys" {
        let f = form(&body);
        let (Some(prefix), Some(seconds)) = (
            f.get("prefix"),
            f.get("seconds").and_then(|s| s.parse::<i64>().ok()),
        ) else {
            return Some(plain(400, "prefix and seconds"));
        };
        let slots: Vec<_> = state
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(k, _)| {
                k.split_once('\n')
                    .is_some_and(|(_, key)| key.starts_with(prefix.as_str()))
            })
            .map(|(_, slot)| slot.clone())
            .collect();
        let mut aged = 0;
        for slot in slots {
            if let Some(saved) = slot.lock().await.as_mut() {
                saved.saved_at -= seconds;
                aged += 1;
            }
        }
        return Some(plain(200, &format!("aged {aged}")));
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if parts.method == http::Method::GET && path.starts_with("/v1/payment_intents") {
        let query: HashMap<String, String> = form(parts.uri.query().unwrap_or_default().as_bytes());
        let account = header("authorization").unwrap_or_default();
        if path == "/v1/payment_intents/search" {
            return Some(search_intents(client, upstream, &account, &query, state).await);
        }
        if path == "/v1/payment_intents" && query.contains_key("created[gt]") {
            return Some(list_intents_since(client, upstream, &account, &query, state).await);
        }
    }
    note_change(state, &parts.method, &path, &body);
    if let Some(account) = header("authorization") {
        *state.account.lock().unwrap_or_else(|p| p.into_inner()) = Some(account);
    }
    let confirmed = path
        .strip_prefix("/v1/payment_intents/")
        .and_then(|rest| rest.strip_suffix("/confirm"));
    // The (payment method, kind) a create or confirm is about, for the faults armed on it.
    let target = || {
        if parts.method != http::Method::POST {
            return None;
        }
        match confirmed {
            _ if path == "/v1/payment_intents" => form(&body)
                .remove("payment_method")
                .map(|pm| (pm, "create")),
            Some(id) => state
                .methods
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
                .cloned()
                .map(|pm| (pm, "confirm")),
            None => None,
        }
    };
    let lose_this = || target().is_some_and(|t| take(&state.lose, &t).is_some());
    if let Some(status) = target().and_then(|t| take(&state.statuses, &t)) {
        return Some(match status {
            429 => stripe_error_of(
                429,
                "invalid_request_error",
                "rate_limit",
                "Too many requests hit the API too quickly.",
            ),
            _ => stripe_error_of(500, "api_error", "api_error", "An unknown error occurred."),
        });
    }
    if parts.method == http::Method::POST && path == "/v1/payment_intents" {
        if let Some(refused) = amount_refused(&form(&body)) {
            return Some(refused);
        }
    }
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
    // Past its lifetime a key is forgotten: the request runs as a new one.
    if saved
        .as_ref()
        .is_some_and(|earlier| now_secs() - earlier.saved_at > KEY_LIFETIME_SECS)
    {
        *saved = None;
    }
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
        if path == "/v1/payment_intents" {
            let made: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if let (Some(id), Some(pm)) = (made["id"].as_str(), made["payment_method"].as_str()) {
                state
                    .methods
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_owned(), pm.to_owned());
            }
        }
        *saved = Some(Saved {
            fingerprint,
            status,
            content_type,
            body: bytes.clone(),
            saved_at: now_secs(),
        });
        return (!lost)
            .then(|| hyper::Response::from_parts(head, http_body_util::Full::new(bytes)));
    }
    (!lost).then_some(answer)
}

/// What the proxy knows of localstripe's PaymentIntents, so search and the time-filtered
/// list do not re-read every intent on every call: localstripe serialises each listed
/// intent anew (about 5 ms apiece), and a suite's worth of intents made a full read
/// outlast the adapter's per-call deadline.
#[derive(Default)]
struct IntentCache {
    /// Every intent localstripe holds, in its list order (oldest first).
    order: Vec<String>,
    /// Each intent as last read.
    objects: HashMap<String, serde_json::Value>,
    /// Intents a request through this proxy may have changed since they were read.
    stale: std::collections::HashSet<String>,
}

/// Whether an intent read once can be kept as read until a request through this proxy
/// changes it (a confirm, cancel, update or refund marks it stale): all but those waiting
/// for 3-D Secure, which the shopper (a test) completes at localstripe directly, and those
/// still processing.
fn settled(intent: &serde_json::Value) -> bool {
    !matches!(
        intent["status"].as_str(),
        Some("requires_action" | "processing")
    )
}

/// Mark the intent a POST through the proxy is about as stale (a confirm, cancel or update
/// by path; a refund by its `payment_intent`).
fn note_change(state: &State, method: &http::Method, path: &str, body: &[u8]) {
    if method != http::Method::POST {
        return;
    }
    let id = match path.strip_prefix("/v1/payment_intents/") {
        Some(rest) => rest.split('/').next().map(str::to_owned),
        None if path == "/v1/refunds" => form(body).remove("payment_intent"),
        None => None,
    };
    if let Some(id) = id {
        state
            .changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
    }
}

async fn get_json(
    client: &Forwarder,
    uri: String,
    account: &str,
) -> Result<(u16, serde_json::Value), Answer> {
    let request = hyper::Request::builder()
        .method("GET")
        .uri(uri)
        .header("authorization", account)
        .body(http_body_util::Full::new(Bytes::new()))
        .map_err(|_| plain(500, "request build"))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| plain(502, &format!("localstripe: {e}")))?;
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
}

/// Every PaymentIntent localstripe holds (it lists oldest first, 100 a page), as it stands
/// now: the intents new since the last call are listed from the newest one known; those
/// changed through the proxy, or not settled, are read again by id (16 at a time).
async fn all_intents(
    client: &Forwarder,
    upstream: &str,
    account: &str,
    state: &State,
) -> Result<Vec<serde_json::Value>, Answer> {
    use futures_util::StreamExt;
    let mut cache = state.intents.lock().await;
    let changed: Vec<String> = state
        .changed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain()
        .collect();
    cache.stale.extend(changed);
    let mut restarted = false;
    loop {
        let mut uri = format!("{upstream}/v1/payment_intents?limit=100");
        if let Some(after) = cache.order.last() {
            uri.push_str(&format!("&starting_after={after}"));
        }
        let (status, page) = get_json(client, uri, account).await?;
        if status != 200 {
            // localstripe restarted and forgot the intent listed after: read all again.
            if restarted || cache.order.is_empty() {
                return Err(plain(502, &format!("localstripe list: {status} {page}")));
            }
            *cache = IntentCache::default();
            restarted = true;
            continue;
        }
        let data = page["data"].as_array().cloned().unwrap_or_default();
        for intent in &data {
            if let Some(id) = intent["id"].as_str() {
                if !cache.objects.contains_key(id) {
                    cache.order.push(id.to_owned());
                }
                cache.objects.insert(id.to_owned(), intent.clone());
                cache.stale.remove(id);
            }
        }
        if page["has_more"] != true || data.is_empty() {
            break;
        }
    }
    let again: Vec<String> = cache
        .order
        .iter()
        .filter(|id| cache.stale.contains(*id) || !settled(&cache.objects[*id]))
        .cloned()
        .collect();
    let read: Vec<Result<(u16, serde_json::Value), Answer>> = futures_util::stream::iter(
        again
            .iter()
            .map(|id| format!("{upstream}/v1/payment_intents/{id}"))
            .collect::<Vec<String>>()
            .into_iter()
            .map(|uri| get_json(client, uri, account)),
    )
    .buffered(16)
    .collect()
    .await;
    for (id, answer) in again.iter().zip(read) {
        let (status, intent) = answer?;
        if status != 200 {
            return Err(plain(502, &format!("localstripe get {id}: {status}")));
        }
        cache.objects.insert(id.clone(), intent);
        cache.stale.remove(id);
    }
    Ok(cache
        .order
        .iter()
        .map(|id| cache.objects[id].clone())
        .collect())
}

fn json_answer(body: serde_json::Value) -> Answer {
    hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| plain(500, "response build"))
}

/// Stripe's search for the one query form the adapter sends: `metadata['<key>']:'<value>'`.
async fn search_intents(
    client: &Forwarder,
    upstream: &str,
    account: &str,
    query: &HashMap<String, String>,
    state: &State,
) -> Answer {
    let q = query.get("query").map(String::as_str).unwrap_or_default();
    let parsed = q
        .strip_prefix("metadata['")
        .and_then(|rest| rest.split_once("']:'"))
        .and_then(|(key, value)| Some((key, value.strip_suffix('\'')?)));
    let Some((key, value)) = parsed else {
        return stripe_error_of(
            400,
            "invalid_request_error",
            "parameter_invalid_string",
            "this stand-in searches only metadata['key']:'value'",
        );
    };
    match all_intents(client, upstream, account, state).await {
        Ok(all) => {
            let data: Vec<_> = all
                .into_iter()
                .filter(|pi| pi["metadata"][key] == value)
                .collect();
            json_answer(serde_json::json!({
                "object": "search_result", "url": "/v1/payment_intents/search",
                "has_more": false, "next_page": null, "data": data,
            }))
        }
        Err(answer) => answer,
    }
}

/// The list filtered by `created[gt]`, newest first, paged by `limit` and `starting_after`.
async fn list_intents_since(
    client: &Forwarder,
    upstream: &str,
    account: &str,
    query: &HashMap<String, String>,
    state: &State,
) -> Answer {
    let since: i64 = query
        .get("created[gt]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    match all_intents(client, upstream, account, state).await {
        Ok(all) => {
            let mut matching: Vec<_> = all
                .into_iter()
                .filter(|pi| pi["created"].as_i64().unwrap_or(0) > since)
                .collect();
            matching.reverse();
            let start = query
                .get("starting_after")
                .and_then(|after| matching.iter().position(|pi| pi["id"] == after.as_str()))
                .map_or(0, |at| at + 1);
            let page: Vec<_> = matching.iter().skip(start).take(limit).cloned().collect();
            let has_more = matching.len() > start + page.len();
            json_answer(serde_json::json!({
                "object": "list", "url": "/v1/payment_intents",
                "has_more": has_more, "data": page,
            }))
        }
        Err(answer) => answer,
    }
}
