//! `aisle-local storefront`: serves the static storefront (`storefront/` at the repository
//! root) on its own port for `make dev`, plus the few things a deployed storefront gets from
//! Cognito and Stripe.js that have no local service:
//!
//! - `GET /config.js`: where the API is and how to sign in (`signIn: "dev"`);
//! - `POST /_dev/token` `{"user", "role"}`: a dev token (the same HS256 tokens `aisle-local
//!   token` mints, which the local gateway verifies as API Gateway verifies Cognito's);
//! - `POST /_dev/payment-method` `{"number", "expMonth", "expYear", "cvc"}`: a PaymentMethod
//!   made on localstripe, as Stripe.js makes one on Stripe (localstripe's own fake Stripe.js
//!   has no `createPaymentMethod`);
//! - `POST /_dev/authenticate` `{"clientSecret", "success"}`: the shopper's answer to a 3-D
//!   Secure challenge, as Stripe.js's `handleNextAction` would send it;
//! - `GET /_dev/mailbox[?to=<address>]`: the mail moto's SES sent, newest first, decoded
//!   (subject, text, HTML), for the storefront's dev mailbox page.
//!
//! Local use only: in AWS the same files are served by CloudFront from S3 (template
//! `StorefrontBucket`/`StorefrontDistribution`) with `signIn: "cognito"`.

use std::path::{Path, PathBuf};

use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{json, Value};

use crate::proxy::{self, Answer, Forwarder};

/// What the server needs to know.
#[derive(Debug, Clone)]
pub struct Storefront {
    /// The folder served.
    pub root: PathBuf,
    /// The API's base URL (the local gateway).
    pub api: String,
    /// localstripe's base URL.
    pub stripe: String,
    /// The images bucket on moto's S3, served under `/images/` as the storefront's
    /// CloudFront distribution serves ImagesBucket (reading it signed, as its origin access
    /// control signs its requests).
    pub images: Option<(aws_sdk_s3::Client, String)>,
}

impl Storefront {
    /// Serve on `127.0.0.1:port` until the process ends.
    pub async fn serve(self, port: u16) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!(
            "{}",
            json!({ "storefront": "ready", "port": port, "api": self.api })
        );
        let client = proxy::forwarder();
        let this = std::sync::Arc::new(self);
        proxy::serve(listener, move |parts, body| {
            let (this, client) = (this.clone(), client.clone());
            async move { Some(this.answer(&client, &parts, body).await) }
        })
        .await;
        Ok(())
    }

    async fn answer(
        &self,
        client: &Forwarder,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Answer {
        let path = parts.uri.path();
        match (parts.method.as_str(), path) {
            ("GET", "/config.js") => {
                let live = crate::live_endpoint().replacen("http://", "ws://", 1);
                let config = json!({ "api": self.api, "signIn": "dev", "liveUrl": live });
                respond(
                    200,
                    "text/javascript",
                    format!("window.AISLE_CONFIG = {config};\n"),
                )
            }
            ("POST", "/_dev/token") => {
                let Some(ask) = parse(&body) else {
                    return problem(400, "expected {\"user\", \"role\"}");
                };
                let user = ask["user"].as_str().unwrap_or("").trim().to_lowercase();
                let valid = (1..=40).contains(&user.len())
                    && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !valid {
                    return problem(400, "a user name is 1-40 letters, digits or dashes");
                }
                let groups = match ask["role"].as_str() {
                    Some("seller") => vec!["sellers".to_owned()],
                    Some("shopper") | None => vec![],
                    Some(_) => return problem(400, "role is shopper or seller"),
                };
                // An ID token, as the deployed storefront keeps after Cognito's sign-in: it
                // carries the verified address the shop mails.
                let token = crate::token::mint(
                    crate::token::Kind::Id,
                    &format!("dev-{user}"),
                    &groups,
                    12 * 3600,
                );
                respond(
                    200,
                    "application/json",
                    json!({ "token": token }).to_string(),
                )
            }
            ("POST", "/_dev/payment-method") => {
                let Some(card) = parse(&body) else {
                    return problem(400, "expected a card");
                };
                let field = |name: &str| match &card[name] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                let form = form_urlencoded::Serializer::new(String::new())
                    .append_pair("type", "card")
                    .append_pair("card[number]", &field("number").replace(' ', ""))
                    .append_pair("card[exp_month]", &field("expMonth"))
                    .append_pair("card[exp_year]", &field("expYear"))
                    .append_pair("card[cvc]", &field("cvc"))
                    .finish();
                self.stripe_call(client, "/v1/payment_methods", form).await
            }
            ("POST", "/_dev/authenticate") => {
                let Some(ask) = parse(&body) else {
                    return problem(400, "expected {\"clientSecret\", \"success\"}");
                };
                let secret = ask["clientSecret"].as_str().unwrap_or("");
                let Some(intent) = secret
                    .split("_secret_")
                    .next()
                    .filter(|i| i.starts_with("pi_"))
                else {
                    return problem(400, "not a PaymentIntent client secret");
                };
                let success = ask["success"].as_bool().unwrap_or(false);
                let form = form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_secret", secret)
                    .append_pair("success", if success { "true" } else { "false" })
                    .finish();
                self.stripe_call(
                    client,
                    &format!("/v1/payment_intents/{intent}/_authenticate"),
                    form,
                )
                .await
            }
            // What moto's SES sent, newest first, as a mail client shows it (`?to=` one
            // recipient): the dev mailbox page reads it.
            ("GET", "/_dev/mailbox") => {
                let to = parts
                    .uri
                    .query()
                    .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "to"))
                    .map(|(_, v)| v.into_owned());
                match crate::mailbox::sent().await {
                    Ok(sent) => {
                        let mails: Vec<_> = sent
                            .iter()
                            .rev()
                            .filter(|m| to.as_ref().is_none_or(|t| m.to.contains(t)))
                            .map(crate::mailbox::Sent::read)
                            .collect();
                        respond(
                            200,
                            "application/json",
                            json!({ "mails": mails }).to_string(),
                        )
                    }
                    Err(e) => problem(502, &format!("moto: {e:#}")),
                }
            }
            ("GET" | "HEAD", p) if p.starts_with("/images/") => self.image(parts).await,
            ("GET", _) => self.file(path),
            _ => problem(405, "not here"),
        }
    }

    /// A rendition from the images bucket, with the object's own `Cache-Control`, `ETag` and
    /// type, as CloudFront passes them on (a conditional GET answers 304).
    async fn image(&self, parts: &http::request::Parts) -> Answer {
        let Some((s3, bucket)) = &self.images else {
            return problem(404, "no images bucket");
        };
        let key = parts.uri.path().trim_start_matches('/');
        let mut get = s3.get_object().bucket(bucket).key(key);
        if let Some(tag) = parts
            .headers
            .get(http::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
        {
            get = get.if_none_match(tag);
        }
        match get.send().await {
            Ok(object) => {
                let mut answer = hyper::Response::builder().status(200);
                let headers = [
                    (http::header::CONTENT_TYPE, object.content_type()),
                    (http::header::CACHE_CONTROL, object.cache_control()),
                    (http::header::ETAG, object.e_tag()),
                ];
                for (name, value) in headers {
                    if let Some(value) = value {
                        answer = answer.header(name, value);
                    }
                }
                let body = object
                    .body
                    .collect()
                    .await
                    .map(|b| b.into_bytes())
                    .unwrap_or_default();
                let body = if parts.method == http::Method::HEAD {
                    Bytes::new()
                } else {
                    body
                };
                answer
                    .body(Full::new(body))
                    .unwrap_or_else(|_| problem(502, "S3 answer"))
            }
            Err(e) => {
                let status = e.raw_response().map_or(502, |r| r.status().as_u16());
                // 304 for a matching ETag; a missing key is CloudFront's 403 from an origin
                // it may not list.
                let status = match status {
                    304 => 304,
                    404 | 403 => 403,
                    _ => 502,
                };
                hyper::Response::builder()
                    .status(status)
                    .body(Full::new(Bytes::new()))
                    .unwrap_or_else(|_| problem(502, "S3 answer"))
            }
        }
    }

    /// A form POST to localstripe with the local secret key; its answer passed on.
    async fn stripe_call(&self, client: &Forwarder, path: &str, form: String) -> Answer {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:", crate::LOCAL_STRIPE_API_KEY));
        let request = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.stripe))
            .header("authorization", format!("Basic {auth}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)));
        let Ok(request) = request else {
            return problem(500, "building the localstripe request");
        };
        match client.request(request).await {
            Ok(response) => {
                use http_body_util::BodyExt;
                let status = response.status().as_u16();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let mut answer = respond(
                    status,
                    "application/json",
                    String::from_utf8_lossy(&body).into_owned(),
                );
                *answer.status_mut() =
                    hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
                answer
            }
            Err(e) => problem(502, &format!("localstripe: {e}")),
        }
    }

    /// A file under the root; `/` and unknown paths without a dot are the app's page (it
    /// routes by `#` fragment).
    fn file(&self, path: &str) -> Answer {
        let relative = path.trim_start_matches('/');
        let safe = relative.split('/').all(|part| {
            !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
        if !safe {
            return problem(404, "no such file");
        }
        let wanted = if relative.is_empty() || !relative.contains('.') {
            self.root.join("index.html")
        } else {
            self.root.join(relative)
        };
        match std::fs::read(&wanted) {
            Ok(bytes) => {
                let mut answer = respond(200, content_type(&wanted), String::new());
                *answer.body_mut() = Full::new(Bytes::from(bytes));
                answer
            }
            Err(_) => problem(404, "no such file"),
        }
    }
}

fn parse(body: &Bytes) -> Option<Value> {
    serde_json::from_slice(body).ok().filter(Value::is_object)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn respond(status: u16, content_type: &str, body: String) -> Answer {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        // The page is the developer's working copy: never cached.
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

fn problem(status: u16, message: &str) -> Answer {
    respond(
        status,
        "application/json",
        json!({ "error": { "code": "STOREFRONT_DEV", "message": message } }).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storefront() -> Storefront {
        Storefront {
            root: crate::template::repo_root().join("storefront"),
            api: "http://127.0.0.1:3000".into(),
            stripe: "http://127.0.0.1:1".into(),
            images: None,
        }
    }

    #[test]
    fn pages_are_served_and_nothing_outside_the_folder_is() {
        let s = storefront();
        assert_eq!(s.file("/").status(), 200);
        assert_eq!(s.file("/app.js").status(), 200);
        assert_eq!(s.file("/orders").status(), 200, "app routes get the page");
        assert_eq!(s.file("/../Cargo.toml").status(), 404);
        assert_eq!(s.file("/.git/config").status(), 404);
    }
}
