//! The local gateway: `template.yaml`'s HTTP API, JWT authorizer and event sources, run on
//! this machine against functions served by `cargo lambda watch`.
//!
//! - Each `HttpApi` route becomes a local route; a request is turned into the API Gateway
//!   (payload 2.0) event the real API would send and invoked through cargo lambda's Lambda
//!   invoke endpoint. Routes without `Auth: NONE` need a valid dev token (see [`crate::token`]),
//!   exactly as the JWT authorizer would: 401 `{"message":"Unauthorized"}` otherwise.
//! - DynamoDB stream mappings poll DynamoDB Local (TTL records rewritten to the AWS shape),
//!   apply `FilterCriteria`, batch, and retry from the first failed record when the function
//!   reports batch item failures. SQS mappings poll moto and delete what succeeded.
//!   `Schedule` rates tick. Nothing is listed twice: all of it is read from the template.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};

use crate::streams::StreamReader;
use crate::template::{local_name, matches_pattern, Route, SourceKind, Template};
use crate::{dynamo_client, endpoint, local_sdk_config, queues, sqs_client, streams_client};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// How long the runner waits beyond a function's timeout before it gives up on an
/// invocation: the time `cargo lambda watch` may take to start an instance.
const INSTANCE_START_ALLOWANCE: Duration = Duration::from_secs(120);

/// What the gateway needs to run.
pub struct Gateway {
    template: Template,
    /// The HTTP API's CORS settings, read from the template once.
    cors: Option<crate::template::Cors>,
    /// The HTTP API's route throttles, read from the template once.
    throttles: crate::template::Throttles,
    /// Each route's token bucket.
    buckets: crate::limits::Buckets,
    /// Lambda's limits per function: reservations and timeouts.
    runner: crate::limits::Runner,
    prefix: String,
    lambda_url: String,
    client: HttpClient,
}

fn log(fields: Value) {
    println!("{fields}");
}

/// Match `path` against a route template (`/v1/items/{itemId}`), returning its parameters.
pub fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (
        template.trim_matches('/').split('/').collect(),
        path.trim_matches('/').split('/').collect(),
    );
    let mut params = BTreeMap::new();
    for (i, segment) in t.iter().enumerate() {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            params.insert(name.to_owned(), p.get(i..)?.join("/"));
            return Some(params);
        }
        let actual = p.get(i)?;
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !actual.is_empty() => {
                params.insert(name.to_owned(), percent_decode(actual));
            }
            Some(_) => return None,
            None if segment == actual => {}
            None => return None,
        }
    }
    (t.len() == p.len()).then_some(params)
}

/// How general a route path is, segment by segment (a literal 0, a variable 1, a greedy
/// variable 2): the smallest is the most specific.
pub fn specificity(template: &str) -> Vec<u8> {
    template
        .trim_matches('/')
        .split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(rest) if rest.ends_with("+}") => 2,
            Some(_) => 1,
            None => 0,
        })
        .collect()
}

pub(crate) fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&raw[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The API Gateway HTTP API (payload 2.0) event for one request.
#[allow(clippy::too_many_arguments)]
pub fn http_api_event(
    route: &Route,
    raw_path: &str,
    raw_query: &str,
    headers: &BTreeMap<String, String>,
    params: &BTreeMap<String, String>,
    claims: Option<&BTreeMap<String, String>>,
    body: Option<(String, bool)>,
) -> Value {
    let route_key = format!("{} {}", route.method, route.path);
    let mut query = serde_json::Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        match query.get_mut(&k) {
            // API Gateway joins repeated parameters with commas.
            Some(Value::String(existing)) => existing.push_str(&format!(",{v}")),
            _ => {
                query.insert(k, json!(v));
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = json!({
        "accountId": crate::template::MOTO_ACCOUNT, "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
        "http": { "method": route.method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                  "userAgent": headers.get("user-agent").cloned().unwrap_or_default() },
        "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": route_key, "stage": "$default",
        "time": "", "timeEpoch": now.as_millis() as u64,
    });
    if let Some(claims) = claims {
        // API Gateway lists an access token's scopes beside its claims.
        let scopes = claims
            .get("scope")
            .map(|s| json!(s.split(' ').collect::<Vec<_>>()))
            .unwrap_or(Value::Null);
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": scopes } });
    }
    let mut event = json!({
        "version": "2.0", "routeKey": route_key, "rawPath": raw_path, "rawQueryString": raw_query,
        "headers": headers, "requestContext": context, "isBase64Encoded": false,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !params.is_empty() {
        event["pathParameters"] = json!(params);
    }
    if let Some((body, base64)) = body {
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(base64);
    }
    event
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive,
/// as API Gateway reads it.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
        .filter(|t| !t.is_empty())
}

fn plain(status: u16, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({ "message": message }).to_string(),
        )))
        .unwrap()
}

impl Gateway {
    pub fn new(template: Template, prefix: &str, lambda_url: &str) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            cors: template.cors(),
            throttles: template.throttles(),
            buckets: crate::limits::Buckets::default(),
            runner: crate::limits::Runner::new(template.function_limits()),
            template,
            prefix: prefix.to_owned(),
            lambda_url: lambda_url.trim_end_matches('/').to_owned(),
            client,
        }
    }

    /// Invoke `binary` with `event` as Lambda would for `caller`: within the function's
    /// reserved concurrency ([`crate::limits::Throttled`] when a synchronous call finds it all
    /// in use) and its timeout ([`crate::limits::TimedOut`]; the function's own runtime stops
    /// the handler at the same moment, see `aisle::lambda`). Its JSON answer.
    pub async fn invoke(
        &self,
        binary: &str,
        event: &Value,
        caller: crate::limits::Caller,
    ) -> Result<Value> {
        let _slot = self.runner.slot(binary, caller).await?;
        let timeout = self.runner.timeout(binary);
        // The function enforces its own timeout from when it receives the invocation, as
        // Lambda counts it (init is not part of it). Here, an instance's first invocation
        // also waits for `cargo lambda watch` to start it through `cargo run`, which took
        // over 10 s on a loaded CI machine: the runner gives up only on a function that never
        // answers, after that start-up allowance.
        let cut_off = timeout + INSTANCE_START_ALLOWANCE;
        match tokio::time::timeout(cut_off, self.call(binary, event)).await {
            Ok(answer) => answer,
            Err(_) => Err(crate::limits::TimedOut(timeout).into()),
        }
    }

    /// One call to cargo lambda's invoke endpoint.
    async fn call(&self, binary: &str, event: &Value) -> Result<Value> {
        let uri = format!(
            "{}/2015-03-31/functions/{binary}/invocations",
            self.lambda_url
        );
        let request = Request::post(&uri)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event.to_string())))?;
        let response = self
            .client
            .request(request)
            .await
            .with_context(|| format!("invoking {binary} at {uri}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        // A function that stopped at its deadline reports Lambda's own message (cargo lambda
        // answers it with a 500).
        let answer: Option<Value> = serde_json::from_slice(&bytes).ok();
        if let Some(message) = answer
            .as_ref()
            .and_then(|v| v.get("errorMessage"))
            .and_then(Value::as_str)
        {
            if let Some(seconds) = message
                .strip_prefix("Task timed out after ")
                .and_then(|rest| rest.strip_suffix(" seconds"))
                .and_then(|n| n.parse::<f64>().ok())
            {
                return Err(crate::limits::TimedOut(Duration::from_secs_f64(seconds)).into());
            }
        }
        if !status.is_success() {
            anyhow::bail!(
                "{binary} failed ({status}): {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let value = answer.with_context(|| format!("{binary} answered non-JSON"))?;
        if value.get("errorType").is_some() || value.get("errorMessage").is_some() {
            anyhow::bail!("{binary} failed: {value}");
        }
        Ok(value)
    }

    /// [`Gateway::route`], with CORS as API Gateway applies it: a preflight is answered here,
    /// before routing and the authorizer; every other answer to an allowed origin gets the
    /// allow-origin and expose headers.
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let origin = header("origin");
        let cors = self.cors.clone();
        if let (Some(cors), Some(origin), true, Some(asked)) = (
            &cors,
            &origin,
            request.method() == hyper::Method::OPTIONS,
            header("access-control-request-method"),
        ) {
            let asked_headers = header("access-control-request-headers").unwrap_or_default();
            let mut answer = plain(204, "");
            for (name, value) in cors.preflight(origin, &asked, &asked_headers) {
                if let (Ok(name), Ok(value)) = (
                    hyper::header::HeaderName::from_bytes(name.as_bytes()),
                    hyper::header::HeaderValue::from_str(&value),
                ) {
                    answer.headers_mut().insert(name, value);
                }
            }
            log(
                json!({ "gateway": "http", "method": "OPTIONS", "path": request.uri().path(), "status": 204, "cors": "preflight" }),
            );
            return Ok(answer);
        }
        let mut response = self.route(request).await?;
        if let (Some(cors), Some(origin)) = (&cors, &origin) {
            for (name, value) in cors.on_answer(origin) {
                if let (Ok(name), Ok(value)) = (
                    hyper::header::HeaderName::from_bytes(name.as_bytes()),
                    hyper::header::HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
        }
        Ok(response)
    }

    async fn route(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let started = Instant::now();
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let raw_query = request.uri().query().unwrap_or("").to_owned();
        // The most specific match, as API Gateway picks it: `/v1/items/suggest` over
        // `/v1/items/{itemId}` (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html).
        let matched = self
            .template
            .routes
            .iter()
            .filter_map(|r| {
                (r.method == method || r.method == "ANY")
                    .then(|| match_path(&r.path, &path).map(|p| (r, p)))
                    .flatten()
            })
            .min_by_key(|(r, _)| (specificity(&r.path), r.method == "ANY"));
        let Some((route, params)) = matched else {
            log(
                json!({ "gateway": "http", "method": method, "path": path, "status": 404, "route": null }),
            );
            return Ok(plain(404, "Not Found"));
        };
        let mut headers = BTreeMap::new();
        for (name, value) in request.headers() {
            let value = value.to_str().unwrap_or("").to_owned();
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|v: &mut String| v.push_str(&format!(",{value}")))
                .or_insert(value);
        }
        // Throttling comes first, as API Gateway applies it before the authorizer: 429
        // `{"message":"Too Many Requests"}` without invoking anything.
        let key = format!("{} {}", route.method, route.path);
        if !self.admit(&key) {
            log(
                json!({ "gateway": "http", "method": method, "path": path, "status": 429, "function": route.binary }),
            );
            let mut response = Response::new(Full::new(Bytes::from_static(
                br#"{"message":"Too Many Requests"}"#,
            )));
            *response.status_mut() = hyper::StatusCode::TOO_MANY_REQUESTS;
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            return Ok(response);
        }
        // A route without an authorizer is given no claims, token or not (API Gateway runs no
        // authorizer for it).
        let claims = headers
            .get("authorization")
            .filter(|_| !route.public)
            .and_then(|h| bearer(h))
            .and_then(crate::token::verify);
        if !route.public && claims.is_none() {
            log(
                json!({ "gateway": "http", "method": method, "path": path, "status": 401, "function": route.binary }),
            );
            return Ok(plain(401, "Unauthorized"));
        }
        // A route with authorization scopes takes only a token whose `scope` claim holds one
        // of them; API Gateway answers any other 403 without invoking the function
        // (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
        if !route.public && !crate::token::has_scope(claims.as_ref(), &route.scopes) {
            log(
                json!({ "gateway": "http", "method": method, "path": path, "status": 403, "function": route.binary, "scopes": route.scopes }),
            );
            return Ok(plain(403, "Forbidden"));
        }
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        // As API Gateway does: text that is valid UTF-8 passes as is; anything else is passed
        // base64-encoded (`isBase64Encoded`), never "repaired" with U+FFFD.
        let body = (!body.is_empty()).then(|| match std::str::from_utf8(&body) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(&body),
                true,
            ),
        });
        let event = http_api_event(
            route,
            &path,
            &raw_query,
            &headers,
            &params,
            claims.as_ref(),
            body,
        );
        let response = match self
            .invoke(&route.binary, &event, crate::limits::Caller::Synchronous)
            .await
        {
            Ok(answer) => to_http(&answer),
            Err(e) => {
                log(json!({ "gateway": "http", "function": route.binary, "error": e.to_string() }));
                failed_invocation(&e)
            }
        };
        log(json!({
            "gateway": "http", "method": method, "path": path, "function": route.binary,
            "status": response.status().as_u16(), "ms": started.elapsed().as_millis() as u64,
        }));
        Ok(response)
    }

    /// Take one request from route `key`'s token bucket (the template's throttle for it);
    /// `false` when it is empty. `AISLE_THROTTLES=off` turns throttling off (benchmarks that
    /// measure the functions themselves).
    fn admit(&self, key: &str) -> bool {
        match self.throttles.of(key) {
            Some(limit) if crate::limits::throttles_on() => self.buckets.take(key, limit),
            _ => true,
        }
    }

    /// Serve the HTTP API on `port` until the process ends.
    pub async fn serve(self: Arc<Self>, port: u16) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("port {port} is taken"))?;
        loop {
            let (stream, _) = listener.accept().await?;
            let gateway = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| gateway.clone().handle(req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// Start every event source of the template; returns what it could not emulate.
    pub async fn start_sources(self: Arc<Self>) -> Result<Vec<String>> {
        let sdk = local_sdk_config().await;
        let ddb = endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000);
        let dynamo = dynamo_client(&sdk, &ddb);
        let sqs = sqs_client(&sdk, &endpoint("AWS_ENDPOINT_URL_SQS", 5000));
        // One reader per stream, fanning records out to every mapping on it (each with its own
        // filter, batches and retries): concurrent readers of one DynamoDB Local shard were
        // seen to fail with TrimmedDataAccessException.
        let mut by_table: BTreeMap<String, Vec<crate::template::EventSource>> = BTreeMap::new();
        for source in self.template.event_sources.clone() {
            let gateway = self.clone();
            match &source.kind {
                SourceKind::Stream { table } => {
                    log(
                        json!({ "gateway": "source", "kind": "stream", "table": local_name(&self.prefix, table), "function": source.binary, "filters": source.filters.len() }),
                    );
                    by_table.entry(table.clone()).or_default().push(source);
                }
                SourceKind::Queue { queue } => {
                    let url = crate::template::queue_url(&self.prefix, queue);
                    log(
                        json!({ "gateway": "source", "kind": "sqs", "queue": url, "function": source.binary }),
                    );
                    let sqs = sqs.clone();
                    tokio::spawn(async move { gateway.run_queue(source, sqs, url).await });
                }
                SourceKind::Logs { filter } => {
                    let filter = filter.clone();
                    log(json!({ "gateway": "source", "kind": "logs", "function": source.binary }));
                    tokio::spawn(async move { gateway.run_log_subscription(source, filter).await });
                }
                SourceKind::Schedule { every } => {
                    let every = *every;
                    log(
                        json!({ "gateway": "source", "kind": "schedule", "everySeconds": every.as_secs(), "function": source.binary }),
                    );
                    tokio::spawn(async move { gateway.run_schedule(source, every).await });
                }
            }
        }
        // EventBridge's deliveries from the rules to their target queues (see rules.rs).
        log(json!({ "gateway": "source", "kind": "rules", "rules": self.template.rules.len() }));
        crate::rules::Relay::new(sqs.clone(), &self.template, &self.prefix)?.spawn();
        for (table, sources) in by_table {
            let reader = StreamReader::open(
                &dynamo,
                streams_client(&sdk, &ddb),
                &local_name(&self.prefix, &table),
            )
            .await?;
            let gateway = self.clone();
            tokio::spawn(async move { gateway.run_stream(sources, reader).await });
        }
        Ok(self.template.unemulated())
    }

    async fn run_stream(
        self: Arc<Self>,
        sources: Vec<crate::template::EventSource>,
        mut reader: StreamReader,
    ) {
        // Per mapping: records waiting (in order) and how often the head batch has failed.
        let mut pending: Vec<(Vec<Value>, u32)> = sources.iter().map(|_| (Vec::new(), 0)).collect();
        loop {
            match reader.poll().await {
                Ok(records) => {
                    for record in records {
                        let json = serde_json::to_value(&record).unwrap_or(Value::Null);
                        for (source, (queue, _)) in sources.iter().zip(pending.iter_mut()) {
                            if source.filters.is_empty()
                                || source.filters.iter().any(|f| matches_pattern(f, &json))
                            {
                                queue.push(json.clone());
                            }
                        }
                    }
                }
                Err(e) => log(json!({ "gateway": "stream", "error": format!("{e:#}") })),
            }
            for (source, (queue, retries)) in sources.iter().zip(pending.iter_mut()) {
                self.deliver(source, queue, retries).await;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Deliver a mapping's waiting records in batches; on a reported failure, keep the failed
    /// record and everything after it for the next round (in order, as Lambda does).
    async fn deliver(
        &self,
        source: &crate::template::EventSource,
        queue: &mut Vec<Value>,
        retries: &mut u32,
    ) {
        while !queue.is_empty() {
            let take = queue.len().min(source.batch_size.max(1) as usize);
            let batch: Vec<Value> = queue[..take].to_vec();
            let outcome = self
                .invoke(
                    &source.binary,
                    &json!({ "Records": batch }),
                    crate::limits::Caller::Poller,
                )
                .await;
            let failed_at = match &outcome {
                Ok(answer) => answer["batchItemFailures"]
                    .as_array()
                    .and_then(|f| f.first())
                    .and_then(|f| f["itemIdentifier"].as_str())
                    .and_then(|seq| {
                        batch
                            .iter()
                            .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(seq))
                    }),
                Err(_) => Some(0),
            };
            log(
                json!({ "gateway": "stream", "function": source.binary, "records": take, "failedAt": failed_at }),
            );
            match failed_at {
                None => {
                    queue.drain(..take);
                    *retries = 0;
                }
                Some(index) => {
                    queue.drain(..index);
                    *retries += 1;
                    if *retries > 10 {
                        log(
                            json!({ "gateway": "stream", "function": source.binary, "dropped": queue.first(), "reason": "retries exhausted (on-failure destination)" }),
                        );
                        queue.remove(0);
                        *retries = 0;
                    }
                    return;
                }
            }
        }
    }

    async fn run_queue(
        self: Arc<Self>,
        source: crate::template::EventSource,
        sqs: aws_sdk_sqs::Client,
        url: String,
    ) {
        loop {
            match queues::receive(&sqs, &url, source.batch_size as i32, 1).await {
                Ok(Some((event, handles))) => {
                    let event_json = serde_json::to_value(&event).unwrap_or(Value::Null);
                    match self
                        .invoke(&source.binary, &event_json, crate::limits::Caller::Poller)
                        .await
                    {
                        Ok(answer) => {
                            let response: aws_lambda_events::sqs::SqsBatchResponse =
                                serde_json::from_value(answer).unwrap_or_default();
                            log(
                                json!({ "gateway": "sqs", "function": source.binary, "messages": handles.len(), "failed": response.batch_item_failures.len() }),
                            );
                            if let Err(e) = queues::settle(&sqs, &url, &handles, &response).await {
                                log(json!({ "gateway": "sqs", "error": e.to_string() }));
                            }
                        }
                        // Nothing deleted: the messages come back after the visibility timeout.
                        Err(e) => log(
                            json!({ "gateway": "sqs", "function": source.binary, "error": e.to_string() }),
                        ),
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    log(json!({ "gateway": "sqs", "queue": url, "error": e.to_string() }));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// A subscription filter on the functions' log group: new matching lines of
    /// `$AISLE_STATE/lambda.log`, every quarter second, up to 100 per invocation, each
    /// invocation retried twice as Lambda retries an asynchronous one.
    async fn run_log_subscription(
        self: Arc<Self>,
        source: crate::template::EventSource,
        filter: crate::log_subscriptions::LogFilter,
    ) {
        use crate::log_subscriptions::{event, LogLine, Tail};
        let state = std::env::var("AISLE_STATE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| crate::template::repo_root().join(".local"));
        let mut tail = Tail::from_end(state.join("lambda.log"));
        let mut ticks = tokio::time::interval(Duration::from_millis(250));
        let mut sequence: u64 = 0;
        loop {
            ticks.tick().await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let lines: Vec<LogLine> = tail
                .read()
                .into_iter()
                .filter(|line| filter.matches(line))
                .map(|message| {
                    sequence += 1;
                    LogLine {
                        id: format!("{now}-{sequence}"),
                        timestamp: now,
                        message,
                    }
                })
                .collect();
            for batch in lines.chunks(100) {
                let Ok(payload) = event("/aws/lambda/local", &source.name, batch) else {
                    continue;
                };
                let mut ok = false;
                for _ in 0..3 {
                    if self
                        .invoke(&source.binary, &payload, crate::limits::Caller::Poller)
                        .await
                        .is_ok()
                    {
                        ok = true;
                        break;
                    }
                }
                log(
                    json!({ "gateway": "logs", "function": source.binary, "lines": batch.len(), "ok": ok }),
                );
            }
        }
    }

    async fn run_schedule(self: Arc<Self>, source: crate::template::EventSource, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let event = json!({
                "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": crate::template::MOTO_ACCOUNT, "region": "us-east-1",
                "resources": [format!("local:{}", source.name)], "detail": {},
            });
            let outcome = self
                .invoke(&source.binary, &event, crate::limits::Caller::Poller)
                .await;
            log(json!({ "gateway": "schedule", "function": source.binary, "ok": outcome.is_ok() }));
        }
    }
}

/// What API Gateway answers when the invocation failed: 500 when Lambda refused it
/// (throttled), 502 when the function ran and failed or timed out, both with
/// `{"message":"Internal server error"}`
/// (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
fn failed_invocation(error: &anyhow::Error) -> Response<Full<Bytes>> {
    let status = if error.downcast_ref::<crate::limits::Throttled>().is_some() {
        500
    } else {
        502
    };
    plain(status, "Internal server error")
}

/// An API Gateway proxy answer (`statusCode`, `headers`, `body`, ...) as an HTTP response.
fn to_http(answer: &Value) -> Response<Full<Bytes>> {
    let status = answer["statusCode"].as_u64().unwrap_or(200) as u16;
    let mut builder = Response::builder().status(status);
    if let Some(headers) = answer["headers"].as_object() {
        for (k, v) in headers {
            builder = builder.header(k, v.as_str().unwrap_or(""));
        }
    }
    let body = answer["body"].as_str().unwrap_or("");
    let bytes = if answer["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    builder
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| plain(502, "Bad Gateway"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_route_templates_with_parameters() {
        let p = match_path("/v1/items/{itemId}", "/v1/items/abc").unwrap();
        assert_eq!(p["itemId"], "abc");
        assert!(match_path("/v1/items/{itemId}", "/v1/items").is_none());
        assert!(match_path("/v1/items", "/v1/items/abc").is_none());
        assert_eq!(match_path("/v1/cart", "/v1/cart").unwrap().len(), 0);
        assert_eq!(
            match_path("/v1/x/{id}/y", "/v1/x/a%20b/y").unwrap()["id"],
            "a b"
        );
    }

    #[test]
    fn a_literal_segment_is_more_specific_than_a_variable() {
        assert!(specificity("/v1/items/suggest") < specificity("/v1/items/{itemId}"));
        assert!(specificity("/v1/items/{itemId}") < specificity("/v1/{proxy+}"));
    }
}
