//! The template's WebSocket API, locally: browsers connect to `ws://127.0.0.1:<port>/`, each
//! connection's `$connect`, messages and `$disconnect` invoke the functions the template's
//! routes name (messages routed by `RouteSelectionExpression`, `$request.body.action`), and
//! functions push with the management API on the same port (`POST /@connections/{id}`,
//! `410 GoneException` for a connection that is gone), as API Gateway's would answer.
//!
//! What API Gateway refuses is refused here ([`crate::limits`]): a connection beyond the
//! account's new connections a second, or beyond the stage's route throttle, gets 429 before
//! `$connect` runs; a message beyond the stage's throttle is answered
//! `{"message":"Too Many Requests"}` on the socket without invoking anything.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::gateway::Gateway;
use crate::template::LiveRoute;

/// The WebSocket API emulation.
pub struct Live {
    gateway: Arc<Gateway>,
    routes: Vec<LiveRoute>,
    /// The management API's own IAM check, as API Gateway makes it.
    iam: Option<ManageCheck>,
    /// Open connections: their outgoing channel.
    open: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
    /// The stage's `DefaultRouteSettings` throttle.
    stage: Option<crate::template::Throttle>,
    /// Token buckets: per route key, and the account's connect rate (`account:connect`).
    buckets: crate::limits::Buckets,
}

fn log(fields: Value) {
    println!("{fields}");
}

fn answer(status: u16, error: Option<&str>, message: &str) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(kind) = error {
        builder = builder.header("x-amzn-errortype", kind);
    }
    builder
        .body(Full::new(Bytes::from(
            json!({ "message": message }).to_string(),
        )))
        .unwrap()
}

/// `execute-api:ManageConnections` checked against the calling function's policies (named
/// by its SDK app name), as API Gateway checks a management call's SigV4 identity.
pub struct ManageCheck {
    /// Every function's policies.
    pub policies: Arc<crate::iam::Policies>,
    /// The API's ARN prefix: `arn:aws:execute-api:<region>:<account>:<api>`.
    pub api_arn: String,
    /// Refuse a denied call (else log it only).
    pub enforce: bool,
    /// Where decisions go (`make iam-report` reads it).
    pub log: crate::iam::DecisionLog,
}

impl ManageCheck {
    /// The check for `template`'s WebSocket API, with the local run's `AISLE_IAM` mode
    /// (`enforce`, `audit` or `off`: `None`).
    pub fn from_env(
        template: &crate::template::Template,
        prefix: &str,
        log: Option<std::path::PathBuf>,
    ) -> Result<Option<Self>> {
        let mode = std::env::var("AISLE_IAM").unwrap_or_else(|_| "enforce".into());
        if mode == "off" {
            return Ok(None);
        }
        let policies = crate::iam::Policies::from_template(template, prefix)?;
        let api = template.live_api().unwrap_or("LiveApi");
        let api_arn = policies.arn("execute-api", &crate::template::local_name(prefix, api));
        Ok(Some(Self {
            policies: Arc::new(policies),
            api_arn,
            enforce: mode != "audit",
            log: crate::iam::DecisionLog::open(log)?,
        }))
    }

    /// Whether the caller with `user_agent` may `method` the connection `id` (stage `live`).
    fn allows(&self, user_agent: &str, method: &str, id: &str) -> bool {
        let function = crate::iam::caller(user_agent);
        let resource = format!("{}/live/{method}/@connections/{id}", self.api_arn);
        let action = "execute-api:ManageConnections";
        let decision = match function {
            Some(f) => self.policies.decide(f, action, &resource),
            None => crate::iam::Decision::Unchecked,
        };
        self.log.record(function, action, &resource, decision);
        !(self.enforce && decision == crate::iam::Decision::Denied)
    }
}

/// The event API Gateway sends a WebSocket route's function.
fn event(route: &str, kind: &str, connection: &str, body: Option<&str>) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let mut event = json!({
        "requestContext": {
            "routeKey": route, "eventType": kind, "connectionId": connection,
            "messageDirection": "IN", "stage": "live", "apiId": "local", "domainName": "127.0.0.1",
            "requestId": uuid::Uuid::new_v4().to_string(), "requestTimeEpoch": now, "connectedAt": now,
            "identity": { "sourceIp": "127.0.0.1" },
        },
        "isBase64Encoded": false,
    });
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

impl Live {
    /// The WebSocket API of `gateway`'s template; `None` if it has none.
    pub fn new(
        gateway: Arc<Gateway>,
        template: &crate::template::Template,
        iam: Option<ManageCheck>,
    ) -> Option<Arc<Self>> {
        let (selection, routes) = template.live_routes();
        if routes.is_empty() {
            return None;
        }
        if selection.as_deref() != Some("$request.body.action") {
            log(
                json!({ "live": "warning", "routeSelectionExpression": selection, "emulated": "$request.body.action" }),
            );
        }
        for route in &routes {
            log(json!({ "live": "route", "route": route.key, "function": route.binary }));
        }
        Some(Arc::new(Self {
            gateway,
            routes,
            iam,
            open: Mutex::default(),
            stage: template.live_throttle(),
            buckets: crate::limits::Buckets::default(),
        }))
    }

    /// Whether a request on route `key` gets through the stage's throttle (and, for
    /// `$connect`, the account's connect rate first).
    fn admit(&self, key: &str) -> bool {
        if !crate::limits::throttles_on() {
            return true;
        }
        if key == "$connect"
            && !self
                .buckets
                .take("account:connect", crate::limits::websocket_connects())
        {
            return false;
        }
        self.stage.is_none_or(|t| self.buckets.take(key, t))
    }

    fn route(&self, key: &str) -> Option<&LiveRoute> {
        self.routes.iter().find(|r| r.key == key)
    }

    /// Invoke a route's function; its status code (API Gateway's view of the answer).
    async fn call(
        &self,
        key: &str,
        kind: &str,
        connection: &str,
        body: Option<&str>,
    ) -> Option<i64> {
        let route = self.route(key)?;
        match self
            .gateway
            .invoke(
                &route.binary,
                &event(key, kind, connection, body),
                crate::limits::Caller::Synchronous,
            )
            .await
        {
            Ok(answer) => {
                let status = answer["statusCode"].as_i64().unwrap_or(200);
                log(
                    json!({ "live": kind, "route": key, "connectionId": connection, "function": route.binary, "status": status }),
                );
                Some(status)
            }
            Err(e) => {
                log(
                    json!({ "live": kind, "route": key, "connectionId": connection, "function": route.binary, "error": e.to_string() }),
                );
                Some(500)
            }
        }
    }

    /// Serve WebSocket connections and the management API on `port`.
    pub async fn serve(self: Arc<Self>, port: u16) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("port {port} is taken"))?;
        log(json!({ "live": "ready", "url": format!("ws://127.0.0.1:{port}/") }));
        loop {
            let (stream, _) = listener.accept().await?;
            let live = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| live.clone().handle(req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    }

    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = req.uri().path().to_owned();
        if let Some(id) = path.strip_prefix("/@connections/") {
            // The SDK percent-encodes the id (API Gateway's ids end in `=`).
            let id = crate::gateway::percent_decode(id);
            let agent = req
                .headers()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if let Some(check) = &self.iam {
                if !check.allows(&agent, req.method().as_str(), &id) {
                    return Ok(answer(
                        403,
                        Some("AccessDeniedException"),
                        "User is not authorized to perform: execute-api:ManageConnections",
                    ));
                }
            }
            return Ok(match *req.method() {
                hyper::Method::POST => {
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let sender = self.open.lock().unwrap().get(&id).cloned();
                    match sender.map(|s| s.send(String::from_utf8_lossy(&body).into_owned())) {
                        Some(Ok(())) => answer(200, None, "sent"),
                        _ => answer(410, Some("GoneException"), "the connection is gone"),
                    }
                }
                hyper::Method::DELETE => {
                    self.open.lock().unwrap().remove(&id);
                    answer(204, None, "")
                }
                _ => answer(405, None, "method not allowed"),
            });
        }
        let key = req
            .headers()
            .get("sec-websocket-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(key) = key else {
            return Ok(answer(426, None, "connect with a WebSocket"));
        };
        if !self.admit("$connect") {
            log(json!({ "live": "CONNECT", "status": 429, "throttled": true }));
            return Ok(answer(429, None, "Too Many Requests"));
        }
        let connection = format!("L{}=", &uuid::Uuid::new_v4().simple().to_string()[..14]);
        // `$connect` decides whether the connection is accepted, before the handshake ends.
        if let Some(status) = self.call("$connect", "CONNECT", &connection, None).await {
            if !(200..300).contains(&status) {
                return Ok(answer(403, None, "Forbidden"));
            }
        }
        let live = self.clone();
        let id = connection.clone();
        tokio::spawn(async move {
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => {
                    let socket = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        None,
                    )
                    .await;
                    live.run(id, socket).await;
                }
                Err(e) => log(json!({ "live": "upgrade failed", "error": e.to_string() })),
            }
        });
        Ok(Response::builder()
            .status(101)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
            .body(Full::new(Bytes::new()))
            .unwrap())
    }

    async fn run<S>(self: Arc<Self>, id: String, socket: WebSocketStream<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sink, mut stream) = socket.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        self.open.lock().unwrap().insert(id.clone(), tx);
        let writer = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        while let Some(Ok(message)) = stream.next().await {
            let text = match message {
                Message::Text(t) => t.to_string(),
                Message::Close(_) => break,
                _ => continue,
            };
            let action = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["action"].as_str().map(str::to_owned));
            let key = match action.as_deref().filter(|a| self.route(a).is_some()) {
                Some(a) => a.to_owned(),
                None if self.route("$default").is_some() => "$default".to_owned(),
                None => {
                    // What API Gateway answers a message no route takes.
                    let sender = self.open.lock().unwrap().get(&id).cloned();
                    if let Some(s) = sender {
                        let _ = s.send(
                            json!({ "message": "Forbidden", "connectionId": id }).to_string(),
                        );
                    }
                    continue;
                }
            };
            if !self.admit(&key) {
                let sender = self.open.lock().unwrap().get(&id).cloned();
                if let Some(s) = sender {
                    let _ = s.send(
                        json!({ "message": "Too Many Requests", "connectionId": id }).to_string(),
                    );
                }
                continue;
            }
            self.call(&key, "MESSAGE", &id, Some(&text)).await;
        }
        self.open.lock().unwrap().remove(&id);
        writer.abort();
        self.call("$disconnect", "DISCONNECT", &id, None).await;
    }
}
