//! Shared by every integration test: a fresh set of the template's tables on DynamoDB Local
//! per test (a unique prefix, so tests run in parallel without seeing each other's data),
//! and API Gateway v2 requests built the way the HTTP API delivers them.
//!
//! DynamoDB Local must be running (`make stack-up`, or `make test` which starts it);
//! its endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB` (default `http://127.0.0.1:8000`).

#![allow(dead_code)] // each test binary uses its own subset

use std::sync::Arc;

use aisle::domain::Warehouse;
use aisle::ports::Warehouses;
use aisle::{App, Clients, Config};
use aisle_local::template::Template;
use aisle_local::{dynamo_client, endpoint, local_sdk_config, resources};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

/// The template, parsed once per test binary.
pub fn template() -> &'static Template {
    static TEMPLATE: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| Template::load_repo().expect("template.yaml parses"))
}

/// A DynamoDB client for the current test. Not shared between tests: each `#[tokio::test]`
/// has its own runtime, and a client's connection pool belongs to the runtime it was used on.
pub async fn dynamo() -> aws_sdk_dynamodb::Client {
    let sdk = local_sdk_config().await;
    dynamo_client(&sdk, &endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000))
}

/// A private copy of the store: every table of the template under a fresh prefix, plus
/// two warehouse sites.
pub struct Shop {
    pub app: Arc<App>,
    pub prefix: String,
}

pub const WAREHOUSE_A: &str = "wh-test-a";
pub const WAREHOUSE_B: &str = "wh-test-b";

impl Shop {
    pub async fn open() -> Self {
        let prefix = format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let client = dynamo().await;
        resources::create_tables(&client, &prefix, template())
            .await
            .expect("DynamoDB Local reachable (start it with `make stack-up`)");
        let env = template().local_env(&prefix).unwrap();
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        let app = App::new(&config, Clients { dynamo: client });
        for (id, city, lat, lon) in [
            (WAREHOUSE_A, "Bloomington", 44.85, -93.24),
            (WAREHOUSE_B, "Tempe", 33.43, -111.90),
        ] {
            let site = Warehouse {
                warehouse_id: id.try_into().unwrap(),
                name: format!("Test {city}"),
                city: city.into(),
                state: "MN".into(),
                zip: "55425".into(),
                lat,
                lon,
            };
            app.warehouses.put(&site).await.unwrap();
        }
        Self {
            app: Arc::new(app),
            prefix,
        }
    }
}

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
    pub fn warehouse(id: &str) -> Self {
        Self::Warehouse(uuid::Uuid::new_v4().to_string(), id.to_owned())
    }

    /// The claims API Gateway's JWT authorizer would pass on (groups in its `[a b]` shape).
    fn claims(&self) -> Option<Value> {
        match self {
            Self::Anonymous => None,
            Self::Shopper(sub) => Some(json!({ "sub": sub })),
            Self::Seller(sub) => Some(json!({ "sub": sub, "cognito:groups": "[sellers]" })),
            Self::Warehouse(sub, wh) => Some(
                json!({ "sub": sub, "cognito:groups": "[warehouses]", "custom:warehouseId": wh }),
            ),
        }
    }
}

/// An API Gateway HTTP API (payload 2.0) request.
pub struct Call {
    event: Value,
}

impl Call {
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
#[macro_export]
macro_rules! send {
    ($handler:path, $shop:expr, $call:expr) => {
        $crate::helpers::Reply::from(
            $handler(&$shop.app, $call.request())
                .await
                .expect("handlers never fail the invocation"),
        )
    };
}

/// A valid listing body.
pub fn listing(name: &str, category: &str) -> Value {
    json!({
        "name": name,
        "description": "A test product.",
        "category": category,
        "brand": "Acme",
        "price": { "amount": 19999, "currency": "USD" },
        "attributes": { "colour": "black", "size": "55in" },
        "images": ["https://images.aisle.test/a.jpg"],
        "lowStockThreshold": 3
    })
}
