//! What a shopper's client and an operator do at Stripe directly, here against localstripe
//! (`make test` starts it; `AISLE_LOCALSTRIPE_PORT`, default 8420) and the proxy in front of
//! it that the functions use (`AISLE_STRIPE_PORT`, default 8421).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;

/// The API key localstripe is called with (any `sk_` key is accepted; the same one the
/// functions read from the local secret, so idempotency keys share one account).
pub const KEY: &str = aisle_local::LOCAL_STRIPE_API_KEY;

/// Cards with a fixed behaviour at localstripe (Stripe's own test numbers).
pub const CARD_OK: &str = "4242424242424242";
/// Declined when charged (`card_declined`).
pub const CARD_DECLINED: &str = "4000000000000341";
/// Needs 3-D Secure before it is charged (`requires_action`).
pub const CARD_3DS: &str = "4000002500003155";

fn base(var: &str, default: u16) -> String {
    let port = std::env::var(var).unwrap_or_else(|_| default.to_string());
    format!("http://127.0.0.1:{port}")
}

/// localstripe itself.
pub fn localstripe() -> String {
    base("AISLE_LOCALSTRIPE_PORT", 8420)
}

/// stripe-mock: Stripe's API description as a server (`make test` starts it;
/// `AISLE_STRIPE_MOCK_PORT`, default 12111).
pub fn stripe_mock() -> String {
    base("AISLE_STRIPE_MOCK_PORT", 12111)
}

/// The proxy the functions call.
pub fn proxy() -> String {
    base("AISLE_STRIPE_PORT", 8421)
}

/// One call; the status and the JSON body.
pub async fn call(method: &str, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = aisle_local::proxy::forwarder()
        .request(request)
        .await
        .expect("localstripe reachable (`make stack-up`)");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The shopper's client turns a card into a PaymentMethod (Stripe.js does this in the
/// browser; the card never reaches Aisle). Returns its id.
pub async fn payment_method(card: &str) -> String {
    let (status, pm) = call(
        "POST",
        &format!("{}/v1/payment_methods", localstripe()),
        &[
            ("type", "card"),
            ("card[number]", card),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2034"),
            ("card[cvc]", "123"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{pm}");
    pm["id"].as_str().unwrap().to_owned()
}

/// The shopper completes (or fails) 3-D Secure for a PaymentIntent.
pub async fn authenticate(intent: &str, client_secret: &str, success: bool) {
    let (status, body) = call(
        "POST",
        &format!(
            "{}/v1/payment_intents/{intent}/_authenticate",
            localstripe()
        ),
        &[
            ("client_secret", client_secret),
            ("success", if success { "true" } else { "false" }),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Every PaymentIntent at localstripe, all pages.
pub async fn all_intents() -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let mut url = format!("{}/v1/payment_intents?limit=100", localstripe());
        if let Some(last) = all.last().and_then(|pi| pi["id"].as_str()) {
            url.push_str(&format!("&starting_after={last}"));
        }
        let (status, page) = call("GET", &url, &[]).await;
        assert_eq!(status, 200, "{page}");
        all.extend(page["data"].as_array().cloned().unwrap_or_default());
        if page["has_more"] != true {
            return all;
        }
    }
}

/// Every PaymentIntent created under the charge key `key` (its metadata).
pub async fn intents_for(key: &str) -> Vec<Value> {
    let mut all = all_intents().await;
    all.retain(|pi| pi["metadata"]["aisle_charge_key"] == key);
    all
}

/// What Stripe kept of one intent: captured minus refunded, minor units.
pub fn kept_by(pi: &Value) -> i64 {
    let charge = &pi["latest_charge"];
    if charge["status"] == "succeeded" && charge["captured"] == true {
        charge["amount"].as_i64().unwrap() - charge["amount_refunded"].as_i64().unwrap_or(0)
    } else {
        0
    }
}

/// What Stripe kept of the intents made under `key`: captured minus refunded, minor units.
pub async fn kept(key: &str) -> i64 {
    intents_for(key).await.iter().map(kept_by).sum()
}

/// Make the proxy lose the next `n` answers to creates for `payment_method` (the create
/// still happens at localstripe).
pub async fn lose_answers(payment_method: &str, n: u32) {
    lose_answers_of(payment_method, n, "both").await
}

/// [`lose_answers`] of only the creates (`"create"`) or only the confirms (`"confirm"`).
pub async fn lose_answers_of(payment_method: &str, n: u32, of: &str) {
    let (status, _) = call(
        "POST",
        &format!("{}/_aisle/lose-answers", proxy()),
        &[
            ("payment_method", payment_method),
            ("count", &n.to_string()),
            ("of", of),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

/// Make the proxy answer the next `n` creates or confirms (`of`) for `payment_method` with
/// `status` (429 or 500) before they reach Stripe.
pub async fn fault(payment_method: &str, status: u16, n: u32, of: &str) {
    let (answer, _) = call(
        "POST",
        &format!("{}/_aisle/faults", proxy()),
        &[
            ("payment_method", payment_method),
            ("status", &status.to_string()),
            ("count", &n.to_string()),
            ("of", of),
        ],
    )
    .await;
    assert_eq!(answer, 200);
}

/// Age every idempotency key starting with `prefix` by `seconds` at the proxy, as the test
/// clock moves on (Stripe forgets a key after 24 hours).
pub async fn age_keys(prefix: &str, seconds: i64) {
    let (answer, _) = call(
        "POST",
        &format!("{}/_aisle/age-keys", proxy()),
        &[("prefix", prefix), ("seconds", &seconds.to_string())],
    )
    .await;
    assert_eq!(answer, 200);
}
