//! API Gateway HTTP API (payload 2.0) requests as the gateway builds them, and replies.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

/// Who sends a request.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Shopper(String),
    Seller(String),
    Warehouse(String, String),
}

impl Caller {
    pub fn shopper() -> Self {
        Self::Shopper(uuid::Uuid::new_v4().to_string())
    }
    pub fn seller() -> Self {
        Self::Seller(uuid::Uuid::new_v4().to_string())
    }
    /// The system of warehouse `id`: its app client (client-credentials grant), which
    /// [`Shop`](super::Shop) onboards for the test warehouses.
    pub fn warehouse(id: &str) -> Self {
        Self::Warehouse(aisle_local::token::warehouse_client(id), id.to_owned())
    }

    /// The caller's user id (the `sub` claim).
    pub fn user_id(&self) -> aisle::domain::UserId {
        match self {
            Self::Shopper(sub) | Self::Seller(sub) | Self::Warehouse(sub, _) => {
                sub.as_str().try_into().unwrap()
            }
            Self::Anonymous => panic!("anonymous callers have no id"),
        }
    }

    /// The claims API Gateway's JWT authorizer would pass on (groups in its `[a b]` shape).
    fn claims(&self) -> Option<Value> {
        match self {
            Self::Anonymous => None,
            // A shopper's ID token: the address Cognito verified comes with it.
            Self::Shopper(sub) => Some(
                json!({ "sub": sub, "token_use": "id", "email": format!("{sub}@shoppers.test"), "email_verified": "true" }),
            ),
            Self::Seller(sub) => Some(json!({ "sub": sub, "cognito:groups": "[sellers]" })),
            // A client-credentials access token as Cognito issues it: the client is its own
            // subject; a scope, no user, no groups, nothing naming the warehouse.
            Self::Warehouse(client, _) => Some(
                json!({ "sub": client, "client_id": client, "token_use": "access", "scope": "aisle/warehouse" }),
            ),
        }
    }
}

/// An API Gateway HTTP API (payload 2.0) request.
pub struct Call {
    event: Value,
}

impl Call {
    /// The route this call is for (`GET /v1/items/{itemId}`).
    pub fn route_key(&self) -> String {
        self.event["routeKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// `route` is the template's route (`GET /v1/items/{itemId}`); `params` fill its braces.
    pub fn new(route: &str, params: &[(&str, &str)]) -> Self {
        let (method, template_path) = route.split_once(' ').expect("METHOD /path");
        let mut path = template_path.to_owned();
        let mut path_parameters = serde_json::Map::new();
        for (name, value) in params {
            path = path.replace(&format!("{{{name}}}"), value);
            path_parameters.insert((*name).to_owned(), json!(value));
        }
        let event = json!({
            "version": "2.0",
            "routeKey": route,
            "rawPath": path,
            "rawQueryString": "",
            "headers": { "content-type": "application/json", "host": "api.aisle.test" },
            "pathParameters": path_parameters,
            "requestContext": {
                "accountId": "123456789012", "apiId": "aisle", "domainName": "api.aisle.test",
                "domainPrefix": "api", "stage": "$default", "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": route, "time": "22/Nov/2026:12:00:00 +0000", "timeEpoch": 1795348800000u64,
                "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests" }
            },
            "isBase64Encoded": false
        });
        Self { event }
    }

    /// The API Gateway request id this call carries (`requestContext.requestId`).
    pub fn request_id(&self) -> String {
        self.event["requestContext"]["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn by(mut self, caller: &Caller) -> Self {
        if let Some(claims) = caller.claims() {
            self.event["requestContext"]["authorizer"] =
                json!({ "jwt": { "claims": claims, "scopes": null } });
        }
        self
    }

    pub fn query(mut self, raw: &str) -> Self {
        self.event["rawQueryString"] = json!(raw);
        let mut params = serde_json::Map::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let entry = params.entry(k.to_owned()).or_insert(json!(""));
            // API Gateway joins repeated parameters with commas.
            *entry = if entry.as_str() == Some("") {
                json!(v)
            } else {
                json!(format!("{},{v}", entry.as_str().unwrap()))
            };
        }
        self.event["queryStringParameters"] = Value::Object(params);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    pub fn json(self, body: Value) -> Self {
        self.raw_body(&body.to_string())
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self
    }

    /// The request as `lambda_http` hands it to a handler.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event.to_string())
            .expect("a valid API Gateway v2 event")
    }
}

/// A handler's response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: lambda_http::http::HeaderMap,
}

impl Reply {
    pub fn from(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.body().to_vec();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON response body")
        };
        Self {
            status,
            body,
            headers,
        }
    }

    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Run a handler on a call.
macro_rules! send {
    ($handler:path, $shop:expr, $call:expr) => {{
        let call = &$call;
        // As the function that serves this route: held to its own IAM grants.
        let app = $shop.app_for(&call.route_key()).await;
        $crate::helpers::Reply::from(
            $handler(&*app, call.request())
                .await
                .expect("handlers never fail the invocation"),
        )
    }};
}

/// What a subscriber wrote, kept in memory: the JSON log lines of one test.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The functions' JSON subscriber (`aisle::telemetry`) writing here.
    pub fn subscriber(&self) -> impl aisle::lambda::tracing::Subscriber + Send + Sync {
        let writer = self.clone();
        aisle::telemetry::subscriber(aisle::telemetry::EnvFilter::new("info"), move || {
            writer.clone()
        })
    }

    /// Every line written so far.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
