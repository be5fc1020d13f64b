//! Reads `template.yaml`, the single source of truth for tables, queues, the event bus, the
//! functions' environment and the HTTP routes. Local tooling derives everything from here, so
//! removing a route or changing a key in the template changes it locally too.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_yaml::Value;

/// One DynamoDB table as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub logical_id: String,
    /// Attribute name → type (`S`, `N`, `B`).
    pub attributes: BTreeMap<String, String>,
    /// (attribute, `HASH`|`RANGE`) in order.
    pub key: Vec<(String, String)>,
    pub indexes: Vec<IndexDef>,
    pub stream_view: Option<String>,
    pub ttl_attribute: Option<String>,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub key: Vec<(String, String)>,
    pub projection: String,
}

/// An SQS queue as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    pub logical_id: String,
    pub fifo: bool,
    pub visibility_timeout: Option<u32>,
    pub delay_seconds: Option<u32>,
    /// (logical id of the dead-letter queue, maxReceiveCount)
    pub redrive: Option<(String, u32)>,
}

/// An EventBridge rule that routes matching events to SQS queues.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    pub logical_id: String,
    /// Logical id of the custom bus (`EventBusName: !Ref X`); `None` for the default bus.
    pub bus: Option<String>,
    pub pattern: serde_json::Value,
    /// The target queues, in the template's order.
    pub targets: Vec<RuleTarget>,
}

/// One SQS target of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTarget {
    /// Logical id of the target queue (`Arn: !GetAtt Q.Arn`).
    pub queue: String,
    /// Logical id of the queue a delivery EventBridge gave up on goes to
    /// (`DeadLetterConfig: { Arn: !GetAtt D.Arn }`), if any.
    pub dead_letters: Option<String>,
}

impl RuleDef {
    /// The local queue moto delivers this rule's matches to, for the local gateway to deliver
    /// to the targets as EventBridge would (see `rules.rs`): `<Rule>Deliveries`.
    pub fn staging_queue(&self) -> String {
        format!("{}Deliveries", self.logical_id)
    }
}

/// What triggers a function besides HTTP.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// A DynamoDB table's stream.
    Stream { table: String },
    /// An SQS queue.
    Queue { queue: String },
    /// A `Schedule` / `ScheduleV2` rate.
    Schedule { every: std::time::Duration },
    /// A `CloudWatchLogs` subscription filter on the functions' log group.
    Logs {
        /// `FilterPattern`, parsed.
        filter: crate::log_subscriptions::LogFilter,
    },
}

/// An event source mapping (or schedule) declared on a function.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSource {
    pub name: String,
    pub function: String,
    pub binary: String,
    pub kind: SourceKind,
    pub batch_size: u32,
    /// `FilterCriteria.Filters[].Pattern`, parsed; a record passes if any matches (or none given).
    pub filters: Vec<serde_json::Value>,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`
    pub reports_failures: bool,
}

/// An HTTP API route and the function behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// `Auth.Authorizer: NONE`: no token needed.
    pub public: bool,
    /// `Auth.AuthorizationScopes`: the token's `scope` must hold one of them (none: any token).
    pub scopes: Vec<String>,
}

/// One S3 bucket as the template declares it.
#[derive(Debug, Clone, Default)]
pub struct BucketDef {
    pub logical_id: String,
    /// `VersioningConfiguration.Status: Enabled`.
    pub versioned: bool,
    /// `CorsConfiguration.CorsRules`: (origins, parameters at their defaults; methods).
    pub cors: Vec<(Vec<String>, Vec<String>)>,
    /// `NotificationConfiguration.QueueConfigurations`: S3 tells a queue of new objects.
    pub notifications: Vec<BucketNotification>,
}

/// One `QueueConfigurations` entry: objects created under `prefix` are announced on `queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketNotification {
    /// The queue's logical id.
    pub queue: String,
    /// `s3:ObjectCreated:*` and the like.
    pub event: String,
    /// `Filter.S3Key.Rules` prefix ("" for every key).
    pub prefix: String,
    /// `Filter.S3Key.Rules` suffix ("" for every key).
    pub suffix: String,
}

/// The parts of the template local tooling uses.
#[derive(Debug, Clone)]
pub struct Template {
    pub tables: Vec<TableDef>,
    pub queues: Vec<QueueDef>,
    pub buses: Vec<String>,
    /// The S3 buckets.
    pub buckets: Vec<BucketDef>,
    pub routes: Vec<Route>,
    pub event_sources: Vec<EventSource>,
    pub rules: Vec<RuleDef>,
    /// Every function: logical id → cargo binary.
    pub function_binaries: BTreeMap<String, String>,
    /// `Globals.Function.Environment.Variables`, unresolved.
    pub env: BTreeMap<String, Value>,
    parameters: BTreeMap<String, Value>,
    /// `Conditions`, unevaluated.
    conditions: BTreeMap<String, Value>,
    /// `Globals.Function` (a function's own properties override it).
    globals_function: Value,
    resources: BTreeMap<String, Value>,
}

/// What Lambda enforces on one function, as the template sets it: its `Timeout` (the
/// function's, else `Globals`, else Lambda's default of 3 s;
/// https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html) and its
/// `ReservedConcurrentExecutions` (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html),
/// with parameters at their defaults and conditions evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionLimits {
    /// How long one invocation may run before Lambda stops it.
    pub timeout: std::time::Duration,
    /// At most this many invocations at once (`None`: the account's unreserved pool).
    pub reserved: Option<u32>,
}

/// One route's throttle: a token bucket refilled at `rate` a second holding at most `burst`
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    /// Requests per second, steady.
    pub rate: f64,
    /// Requests at once.
    pub burst: f64,
}

/// The HTTP API's throttles: per route key, else the stage default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Throttles {
    /// `DefaultRouteSettings`.
    pub default: Option<Throttle>,
    /// `RouteSettings`, by route key.
    pub routes: BTreeMap<String, Throttle>,
}

impl Throttles {
    /// The throttle of route `key` (`"GET /v1/items"`).
    pub fn of(&self, key: &str) -> Option<Throttle> {
        self.routes.get(key).copied().or(self.default)
    }
}

/// An HTTP API's CORS settings (`CorsConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// Origins allowed (`*` allows any).
    pub allow_origins: Vec<String>,
    /// Methods a preflight may ask for.
    pub allow_methods: Vec<String>,
    /// Request headers a preflight may ask for (case-insensitive).
    pub allow_headers: Vec<String>,
    /// Response headers a page may read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer, seconds.
    pub max_age: Option<String>,
}

/// One route of a WebSocket API: its key (`$connect`, `$disconnect`, or an `action` value)
/// and the function its integration invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRoute {
    /// The route key.
    pub key: String,
    /// The cargo binary of the function behind it.
    pub binary: String,
}

impl Template {
    /// The logical id of the WebSocket API (`AWS::ApiGatewayV2::Api`, `WEBSOCKET`), if any.
    pub fn live_api(&self) -> Option<&str> {
        self.resources
            .iter()
            .find(|(_, r)| {
                str_at(r, "Type") == Some("AWS::ApiGatewayV2::Api")
                    && r.get("Properties").and_then(|p| str_at(p, "ProtocolType"))
                        == Some("WEBSOCKET")
            })
            .map(|(id, _)| id.as_str())
    }

    /// The WebSocket API's routes (`AWS::ApiGatewayV2::Route` → its `Integration`'s
    /// `IntegrationUri`, which names `${Function.Arn}`), and its `RouteSelectionExpression`.
    pub fn live_routes(&self) -> (Option<String>, Vec<LiveRoute>) {
        let sub = |v: &Value| match v {
            Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().map(str::to_owned),
            _ => None,
        };
        let selection = self
            .resources
            .values()
            .find(|r| {
                str_at(r, "Type") == Some("AWS::ApiGatewayV2::Api")
                    && r.get("Properties").and_then(|p| str_at(p, "ProtocolType"))
                        == Some("WEBSOCKET")
            })
            .and_then(|r| r.get("Properties"))
            .and_then(|p| str_at(p, "RouteSelectionExpression"))
            .map(str::to_owned);
        let mut routes = Vec::new();
        for resource in self.resources.values() {
            if str_at(resource, "Type") != Some("AWS::ApiGatewayV2::Route") {
                continue;
            }
            let Some(props) = resource.get("Properties") else {
                continue;
            };
            let (Some(key), Some(target)) =
                (str_at(props, "RouteKey"), props.get("Target").and_then(sub))
            else {
                continue;
            };
            let Some(integration) = target
                .strip_prefix("integrations/${")
                .and_then(|s| s.strip_suffix('}'))
            else {
                continue;
            };
            let uri = self
                .resources
                .get(integration)
                .and_then(|i| i.get("Properties"))
                .and_then(|p| p.get("IntegrationUri"))
                .and_then(sub)
                .unwrap_or_default();
            let function = uri
                .split("${")
                .filter_map(|s| s.split_once(".Arn}").map(|(f, _)| f))
                .next();
            if let Some(binary) = function.and_then(|f| self.function_binaries.get(f)) {
                routes.push(LiveRoute {
                    key: key.to_owned(),
                    binary: binary.clone(),
                });
            }
        }
        routes.sort_by(|a, b| a.key.cmp(&b.key));
        (selection, routes)
    }
}

impl Cors {
    /// Whether `origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|o| o == "*" || o == origin)
    }

    /// API Gateway's answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`):
    /// the allow headers when the origin, method and every requested header are allowed,
    /// none otherwise (the browser then refuses the call).
    pub fn preflight(&self, origin: &str, method: &str, headers: &str) -> Vec<(String, String)> {
        let method_ok = self
            .allow_methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(method));
        let headers_ok = headers
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| {
                self.allow_headers
                    .iter()
                    .any(|a| a == "*" || a.eq_ignore_ascii_case(h))
            });
        if !(self.allows(origin) && method_ok && headers_ok) {
            return Vec::new();
        }
        let mut out = vec![
            ("access-control-allow-origin".to_owned(), origin.to_owned()),
            (
                "access-control-allow-methods".to_owned(),
                self.allow_methods.join(","),
            ),
            (
                "access-control-allow-headers".to_owned(),
                self.allow_headers.join(","),
            ),
        ];
        if let Some(age) = &self.max_age {
            out.push(("access-control-max-age".to_owned(), age.clone()));
        }
        out
    }

    /// The headers API Gateway adds to an answer for an allowed `origin`.
    pub fn on_answer(&self, origin: &str) -> Vec<(String, String)> {
        if !self.allows(origin) {
            return Vec::new();
        }
        let mut out = vec![("access-control-allow-origin".to_owned(), origin.to_owned())];
        if !self.expose_headers.is_empty() {
            out.push((
                "access-control-expose-headers".to_owned(),
                self.expose_headers.join(","),
            ));
        }
        out
    }
}

/// `!Ref X` → `Some("X")`.
pub(crate) fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str(),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

/// `!GetAtt X.Attr` (or `Fn::GetAtt: [X, Attr]`) → `Some(("X", "Attr"))`.
pub(crate) fn get_att(value: &Value) -> Option<(String, String)> {
    match value {
        Value::Tagged(t) if t.tag == "GetAtt" => {
            let (resource, attribute) = t.value.as_str()?.split_once('.')?;
            Some((resource.to_owned(), attribute.to_owned()))
        }
        Value::Mapping(m) => {
            let list = m.get("Fn::GetAtt")?.as_sequence()?;
            Some((
                list.first()?.as_str()?.to_owned(),
                list.get(1)?.as_str()?.to_owned(),
            ))
        }
        _ => None,
    }
}

/// `rate(1 minute)`, `rate(5 minutes)`, `rate(30 seconds)` → the period.
pub fn parse_rate(expression: &str) -> Option<std::time::Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.split_once(' ')?;
    let count: u64 = count.parse().ok()?;
    let seconds = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(count * seconds))
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn key_schema(value: Option<&Value>) -> Result<Vec<(String, String)>> {
    let list = value
        .and_then(Value::as_sequence)
        .context("KeySchema missing")?;
    list.iter()
        .map(|k| {
            let name = str_at(k, "AttributeName").context("AttributeName")?;
            let kind = str_at(k, "KeyType").context("KeyType")?;
            Ok((name.to_owned(), kind.to_owned()))
        })
        .collect()
}

fn number(value: Option<&Value>) -> Option<u32> {
    value
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|n| n as u32)
}

impl Template {
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text)
    }

    /// The repository's own template (found from this crate's location, so tests and the CLI
    /// agree wherever they run from).
    pub fn load_repo() -> Result<Self> {
        Self::load(repo_root().join("template.yaml"))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let doc: Value = serde_yaml::from_str(text).context("template.yaml is not YAML")?;
        let resources: BTreeMap<String, Value> =
            serde_yaml::from_value(doc.get("Resources").cloned().context("no Resources")?)?;
        let parameters: BTreeMap<String, Value> = doc
            .get("Parameters")
            .cloned()
            .map(serde_yaml::from_value)
            .transpose()?
            .unwrap_or_default();
        let mut env: BTreeMap<String, Value> = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .cloned()
            .map(serde_yaml::from_value)
            .transpose()?
            .unwrap_or_default();
        // A function's own variables join the one environment every local function shares
        // (cargo lambda watch reads one env file): two functions may not give one name two
        // values, which would make a local run differ from AWS.
        for (id, resource) in &resources {
            if str_at(resource, "Type") != Some("AWS::Serverless::Function") {
                continue;
            }
            let own: BTreeMap<String, Value> = resource
                .get("Properties")
                .and_then(|p| p.get("Environment"))
                .and_then(|e| e.get("Variables"))
                .cloned()
                .map(serde_yaml::from_value)
                .transpose()?
                .unwrap_or_default();
            for (name, value) in own {
                // OpenSearch is not emulated: the embedded index stands in for it
                // (`SEARCH_INDEX_DIR`, see `local_env`), so its settings stay out.
                if name.starts_with("OPENSEARCH_") {
                    continue;
                }
                match env.get(&name) {
                    Some(existing) if *existing != value => {
                        bail!("{id} sets {name} to another value than the other functions")
                    }
                    _ => {
                        env.insert(name, value);
                    }
                }
            }
        }
        let conditions: BTreeMap<String, Value> = doc
            .get("Conditions")
            .cloned()
            .map(serde_yaml::from_value)
            .transpose()?
            .unwrap_or_default();
        let globals_function = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .cloned()
            .unwrap_or(Value::Null);
        let mut template = Self {
            conditions,
            globals_function,
            tables: vec![],
            queues: vec![],
            buses: vec![],
            buckets: vec![],
            routes: vec![],
            function_binaries: BTreeMap::new(),
            event_sources: vec![],
            rules: vec![],
            env,
            parameters,
            resources,
        };
        template.read_resources()?;
        Ok(template)
    }

    fn read_resources(&mut self) -> Result<()> {
        for (id, resource) in &self.resources {
            let props = resource.get("Properties").cloned().unwrap_or(Value::Null);
            match str_at(resource, "Type").unwrap_or("") {
                "AWS::DynamoDB::Table" => self
                    .tables
                    .push(table(id, &props).with_context(|| format!("table {id}"))?),
                "AWS::SQS::Queue" => self.queues.push(QueueDef {
                    logical_id: id.clone(),
                    fifo: props
                        .get("FifoQueue")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    visibility_timeout: number(props.get("VisibilityTimeout")),
                    delay_seconds: number(props.get("DelaySeconds")),
                    redrive: props.get("RedrivePolicy").map(|r| {
                        let dlq = r
                            .get("deadLetterTargetArn")
                            .and_then(get_att)
                            .map(|(queue, _)| queue)
                            .unwrap_or_default();
                        (dlq, number(r.get("maxReceiveCount")).unwrap_or(3))
                    }),
                }),
                "AWS::Events::EventBus" => self.buses.push(id.clone()),
                "AWS::S3::Bucket" => {
                    let bucket = self.bucket_def(id, &props);
                    self.buckets.push(bucket)
                }
                "AWS::Events::Rule" => {
                    let pattern = props.get("EventPattern").cloned().unwrap_or(Value::Null);
                    let pattern = serde_json::to_value(&pattern)
                        .with_context(|| format!("rule {id}: EventPattern"))?;
                    let targets = props
                        .get("Targets")
                        .and_then(Value::as_sequence)
                        .map(|targets| {
                            targets
                                .iter()
                                .filter_map(|t| {
                                    let (queue, _) = t.get("Arn").and_then(get_att)?;
                                    let dead_letters = t
                                        .get("DeadLetterConfig")
                                        .and_then(|d| d.get("Arn"))
                                        .and_then(get_att)
                                        .map(|(q, _)| q);
                                    Some(RuleTarget {
                                        queue,
                                        dead_letters,
                                    })
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let bus = props
                        .get("EventBusName")
                        .and_then(reference)
                        .map(str::to_owned);
                    self.rules.push(RuleDef {
                        logical_id: id.clone(),
                        bus,
                        pattern,
                        targets,
                    });
                }
                "AWS::Serverless::Function" => {
                    let binary = resource
                        .get("Metadata")
                        .and_then(|m| m.get("BuildProperties"))
                        .and_then(|b| str_at(b, "Binary"))
                        .with_context(|| {
                            format!("function {id} has no Metadata.BuildProperties.Binary")
                        })?
                        .to_owned();
                    self.function_binaries.insert(id.clone(), binary.clone());
                    let events = props
                        .get("Events")
                        .and_then(Value::as_mapping)
                        .cloned()
                        .unwrap_or_default();
                    for (event_name, event) in events {
                        let kind = str_at(&event, "Type").unwrap_or("");
                        if kind != "HttpApi" {
                            let name = event_name.as_str().unwrap_or("").to_owned();
                            if let Some(source) = event_source(id, &binary, &name, kind, &event)? {
                                self.event_sources.push(source);
                            }
                            continue;
                        }
                        let p = event
                            .get("Properties")
                            .context("HttpApi event without Properties")?;
                        let public =
                            p.get("Auth").and_then(|a| str_at(a, "Authorizer")) == Some("NONE");
                        let scopes = p
                            .get("Auth")
                            .and_then(|a| a.get("AuthorizationScopes"))
                            .and_then(Value::as_sequence)
                            .map(|list| {
                                list.iter()
                                    .filter_map(|s| s.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        self.routes.push(Route {
                            scopes,
                            method: str_at(p, "Method").context("Method")?.to_ascii_uppercase(),
                            path: str_at(p, "Path").context("Path")?.to_owned(),
                            function: id.clone(),
                            binary: binary.clone(),
                            public,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A resource's `Type`, if the template declares `logical_id`.
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources
            .get(logical_id)
            .and_then(|r| str_at(r, "Type"))
    }

    /// Logical ids of every resource of type `kind`.
    pub fn resources_of_type(&self, kind: &str) -> Vec<String> {
        self.resources
            .iter()
            .filter(|(_, r)| str_at(r, "Type") == Some(kind))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether a resource exists with the parameters at their defaults (no `Condition`, or
    /// one that holds).
    pub fn resource_condition_holds(&self, logical_id: &str) -> bool {
        match self
            .resources
            .get(logical_id)
            .and_then(|r| r.get("Condition"))
            .and_then(Value::as_str)
        {
            Some(condition) => self.condition(condition),
            None => self.resources.contains_key(logical_id),
        }
    }

    /// A literal value some function's own `Environment.Variables` give `name` (the same in
    /// every function that sets it), e.g. the OpenSearch alias `aisle-items`.
    pub fn function_env_literal(&self, name: &str) -> Option<String> {
        self.resources.values().find_map(|r| {
            scalar(
                r.get("Properties")?
                    .get("Environment")?
                    .get("Variables")?
                    .get(name),
            )
        })
    }

    /// A resource's `Properties`.
    pub fn resource_properties(&self, logical_id: &str) -> Option<&Value> {
        self.resources.get(logical_id)?.get("Properties")
    }

    /// A parameter's `Default`, as text.
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        scalar(self.parameters.get(name).and_then(|p| p.get("Default")))
    }

    /// A parameter's value for a local run: `AISLE_PARAM_<Name>` if set (a deployer's
    /// `--parameter-overrides`), else its `Default`.
    pub fn parameter(&self, name: &str) -> Option<String> {
        std::env::var(format!("AISLE_PARAM_{name}"))
            .ok()
            .or_else(|| self.parameter_default(name))
    }

    /// A value with its intrinsic functions worked out as CloudFormation would for this run:
    /// `Ref` to a parameter, `AWS::NoValue` (`None`), `If`, `Equals`, `Not`, `And`, `Or` and
    /// `Condition`. Other intrinsics are not evaluated (`None`).
    pub fn evaluate(&self, value: &Value) -> Option<Value> {
        let Value::Tagged(t) = value else {
            if let Some(name) = reference(value) {
                return self.evaluate(&Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
                    tag: serde_yaml::value::Tag::new("Ref"),
                    value: Value::String(name.to_owned()),
                })));
            }
            return Some(value.clone());
        };
        let list = t.value.as_sequence().map(Vec::as_slice).unwrap_or(&[]);
        let truth = |v: Option<&Value>| v.and_then(|v| self.evaluate(v)) == Some(Value::Bool(true));
        if t.tag == "Ref" {
            let name = t.value.as_str()?;
            return match name {
                "AWS::NoValue" => None,
                _ => self.parameter(name).map(Value::String),
            };
        }
        if t.tag == "If" {
            let chosen = if self.condition(list.first()?.as_str()?) {
                list.get(1)?
            } else {
                list.get(2)?
            };
            return self.evaluate(chosen);
        }
        if t.tag == "Equals" {
            let side = |i: usize| scalar(list.get(i).and_then(|v| self.evaluate(v)).as_ref());
            return Some(Value::Bool(side(0) == side(1)));
        }
        if t.tag == "Not" {
            return Some(Value::Bool(!truth(list.first())));
        }
        if t.tag == "And" {
            return Some(Value::Bool(list.iter().all(|v| truth(Some(v)))));
        }
        if t.tag == "Or" {
            return Some(Value::Bool(list.iter().any(|v| truth(Some(v)))));
        }
        if t.tag == "Condition" {
            return Some(Value::Bool(self.condition(t.value.as_str()?)));
        }
        None
    }

    /// Whether the template's condition `name` holds for this run (unknown: false).
    pub fn condition(&self, name: &str) -> bool {
        self.conditions
            .get(name)
            .and_then(|c| self.evaluate(c))
            .is_some_and(|v| v == Value::Bool(true))
    }

    /// Every function's [`FunctionLimits`], by cargo binary.
    pub fn function_limits(&self) -> BTreeMap<String, FunctionLimits> {
        let global_timeout = number(self.globals_function.get("Timeout")).unwrap_or(3);
        self.function_binaries
            .iter()
            .map(|(id, binary)| {
                let props = self.resource_properties(id);
                let setting = |name: &str| {
                    props
                        .and_then(|p| p.get(name))
                        .and_then(|v| self.evaluate(v))
                };
                let limits = FunctionLimits {
                    timeout: std::time::Duration::from_secs(u64::from(
                        number(setting("Timeout").as_ref()).unwrap_or(global_timeout),
                    )),
                    reserved: number(setting("ReservedConcurrentExecutions").as_ref()),
                };
                (binary.clone(), limits)
            })
            .collect()
    }

    /// A list of strings as the template gives it: written out, or a `CommaDelimitedList`
    /// parameter (`!Ref`) at its default.
    fn strings(&self, value: Option<&Value>) -> Vec<String> {
        let Some(value) = value else {
            return Vec::new();
        };
        if let Some(param) = reference(value) {
            return self
                .parameter_default(param)
                .map(|d| d.split(',').map(|v| v.trim().to_owned()).collect())
                .unwrap_or_default();
        }
        value
            .as_sequence()
            .map(|items| items.iter().filter_map(|v| scalar(Some(v))).collect())
            .unwrap_or_default()
    }

    /// A bucket's versioning, CORS rules and queue notifications.
    fn bucket_def(&self, id: &str, props: &Value) -> BucketDef {
        let list = |value: Option<&Value>| self.strings(value);
        let cors = props
            .get("CorsConfiguration")
            .and_then(|c| c.get("CorsRules"))
            .and_then(Value::as_sequence)
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| (list(r.get("AllowedOrigins")), list(r.get("AllowedMethods"))))
                    .collect()
            })
            .unwrap_or_default();
        let notifications = props
            .get("NotificationConfiguration")
            .and_then(|n| n.get("QueueConfigurations"))
            .and_then(Value::as_sequence)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| {
                        let rule = |name: &str| {
                            e.get("Filter")
                                .and_then(|f| f.get("S3Key"))
                                .and_then(|k| k.get("Rules"))
                                .and_then(Value::as_sequence)
                                .and_then(|rules| {
                                    rules.iter().find(|r| str_at(r, "Name") == Some(name))
                                })
                                .and_then(|r| str_at(r, "Value"))
                                .unwrap_or_default()
                                .to_owned()
                        };
                        Some(BucketNotification {
                            queue: get_att(e.get("Queue")?)?.0,
                            event: str_at(e, "Event")?.to_owned(),
                            prefix: rule("prefix"),
                            suffix: rule("suffix"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        BucketDef {
            logical_id: id.to_owned(),
            versioned: props
                .get("VersioningConfiguration")
                .and_then(|v| str_at(v, "Status"))
                == Some("Enabled"),
            cors,
            notifications,
        }
    }

    /// The HTTP API's `CorsConfiguration`, with parameters at their defaults (the local
    /// gateway answers preflights and sets the headers as API Gateway does).
    pub fn cors(&self) -> Option<Cors> {
        let config = self.resources.values().find_map(|r| {
            (r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::HttpApi"))
                .then(|| r.get("Properties")?.get("CorsConfiguration").cloned())
                .flatten()
        })?;
        let list = |name: &str| self.strings(config.get(name));
        Some(Cors {
            allow_origins: list("AllowOrigins"),
            allow_methods: list("AllowMethods"),
            allow_headers: list("AllowHeaders"),
            expose_headers: list("ExposeHeaders"),
            max_age: scalar(config.get("MaxAge")),
        })
    }

    /// The HTTP API's throttles: `DefaultRouteSettings` and, per route key (`"POST
    /// /v1/checkout"`), `RouteSettings`, each as (requests per second, burst).
    pub fn throttles(&self) -> Throttles {
        let settings = self.resources.values().find_map(|r| {
            (r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::HttpApi"))
                .then(|| r.get("Properties").cloned())
                .flatten()
        });
        let limit = |v: Option<&Value>| -> Option<Throttle> {
            let v = v?;
            let number = |name: &str| v.get(name).and_then(|n| n.as_f64());
            Some(Throttle {
                rate: number("ThrottlingRateLimit")?,
                burst: number("ThrottlingBurstLimit")?,
            })
        };
        let Some(settings) = settings else {
            return Throttles::default();
        };
        Throttles {
            default: limit(settings.get("DefaultRouteSettings")),
            routes: settings
                .get("RouteSettings")
                .and_then(Value::as_mapping)
                .map(|routes| {
                    routes
                        .iter()
                        .filter_map(|(key, v)| Some((scalar(Some(key))?, limit(Some(v))?)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The WebSocket API stage's `DefaultRouteSettings` throttle, which every WebSocket route
    /// (`$connect` and messages) draws on.
    pub fn live_throttle(&self) -> Option<Throttle> {
        let settings = self.resources.values().find_map(|r| {
            (r.get("Type").and_then(Value::as_str) == Some("AWS::ApiGatewayV2::Stage"))
                .then(|| r.get("Properties")?.get("DefaultRouteSettings").cloned())
                .flatten()
        })?;
        let number = |name: &str| settings.get(name).and_then(|n| n.as_f64());
        Some(Throttle {
            rate: number("ThrottlingRateLimit")?,
            burst: number("ThrottlingBurstLimit")?,
        })
    }

    /// A function's `Policies` as written: policy-template entries and inline `Statement`s
    /// (what [`crate::iam`] expands and enforces).
    pub fn function_policies(&self, logical_id: &str) -> Vec<Value> {
        match self
            .resources
            .get(logical_id)
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("Policies"))
        {
            Some(Value::Sequence(list)) => list.clone(),
            Some(one) => vec![one.clone()],
            None => vec![],
        }
    }

    /// Drop one entry of a function's `Policies` (tests: a template missing one grant).
    pub fn without_policy(&mut self, logical_id: &str, index: usize) {
        if let Some(Value::Sequence(list)) = self
            .resources
            .get_mut(logical_id)
            .and_then(|r| r.get_mut("Properties"))
            .and_then(|p| p.get_mut("Policies"))
        {
            list.remove(index);
        }
    }

    /// Add an entry to a function's `Policies` (tests: a copy with a SAM policy template).
    pub fn with_policy(&mut self, logical_id: &str, entry: Value) {
        if let Some(Value::Sequence(list)) = self
            .resources
            .get_mut(logical_id)
            .and_then(|r| r.get_mut("Properties"))
            .and_then(|p| p.get_mut("Policies"))
        {
            list.push(entry);
        }
    }

    /// Drop a resource (tests: a copy of the template without, say, a queue policy).
    pub fn without_resource(&mut self, logical_id: &str) {
        self.resources.remove(logical_id);
    }

    /// Template entries the local run does not emulate, as `LogicalId (Type)` lines. Cognito
    /// is stood in for by dev tokens and log groups need no local counterpart, so neither
    /// is listed.
    pub fn unemulated(&self) -> Vec<String> {
        const HANDLED: [&str; 13] = [
            // Buckets are made in moto's S3 (the storefront's too, though the local gateway
            // serves the storefront from the working tree).
            "AWS::S3::Bucket",
            // Locally the embedded search index (SEARCH_INDEX_DIR) stands in for OpenSearch.
            "AWS::OpenSearchService::Domain",
            "AWS::Events::Rule",
            "AWS::SQS::QueuePolicy",
            "AWS::DynamoDB::Table",
            "AWS::SQS::Queue",
            "AWS::Events::EventBus",
            "AWS::Serverless::Function",
            "AWS::Serverless::HttpApi",
            "AWS::Cognito::UserPool",
            "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::UserPoolGroup",
            "AWS::Logs::LogGroup",
        ];
        let mut missing: Vec<String> = self
            .resources
            .iter()
            .filter_map(|(id, r)| {
                let kind = str_at(r, "Type").unwrap_or("?");
                (!HANDLED.contains(&kind)).then(|| format!("{id} ({kind})"))
            })
            .collect();
        for (id, resource) in &self.resources {
            let events = resource
                .get("Properties")
                .and_then(|p| p.get("Events"))
                .and_then(Value::as_mapping);
            for (name, event) in events.into_iter().flatten() {
                let kind = str_at(event, "Type").unwrap_or("?");
                if !matches!(
                    kind,
                    "HttpApi" | "DynamoDB" | "SQS" | "Schedule" | "ScheduleV2" | "CloudWatchLogs"
                ) {
                    missing.push(format!(
                        "{id}.{} ({kind} event)",
                        name.as_str().unwrap_or("?")
                    ));
                }
            }
        }
        missing
    }

    /// The cargo binaries of all functions.
    pub fn functions(&self) -> Vec<String> {
        self.function_binaries.values().cloned().collect()
    }

    /// The functions' environment for a local run whose resources carry `prefix`: a `!Ref` to
    /// a table, queue or bus becomes its local name, a `!Ref` to a parameter its default.
    /// Plus `SEARCH_INDEX_DIR`: OpenSearch is not emulated, the embedded index (one directory
    /// per prefix under `$AISLE_STATE/search/`, `.local/search/` by default) stands in for it;
    /// and `AISLE_LOCAL_TIMEOUTS`, each function's timeout.
    pub fn local_env(&self, prefix: &str) -> Result<BTreeMap<String, String>> {
        let state = std::env::var("AISLE_STATE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| repo_root().join(".local"));
        let index_dir = state.join("search").join(prefix.trim_end_matches('-'));
        let mut env: BTreeMap<String, String> = self.globals_env(prefix)?;
        env.insert(
            "SEARCH_INDEX_DIR".into(),
            index_dir.to_string_lossy().into_owned(),
        );
        // cargo lambda watch gives each invocation no real deadline: the functions' runtime
        // takes each one's template timeout from here (see `aisle::lambda::Deadline`).
        let timeouts: Vec<String> = self
            .function_limits()
            .iter()
            .map(|(binary, l)| format!("{binary}={}", l.timeout.as_secs()))
            .collect();
        env.insert("AISLE_LOCAL_TIMEOUTS".into(), timeouts.join(","));
        // AISLE_SEARCH=opensearch: the real node `stack.sh` runs (infra/opensearch) instead of
        // the embedded index, one alias per prefix (index names are lowercase).
        if std::env::var("AISLE_SEARCH").as_deref() == Ok("opensearch") {
            let port = std::env::var("AISLE_OPENSEARCH_PORT").unwrap_or_else(|_| "9200".into());
            env.insert(
                "OPENSEARCH_ENDPOINT".into(),
                format!("http://127.0.0.1:{port}"),
            );
            env.insert("OPENSEARCH_INDEX".into(), local_search_index(prefix));
        }
        // Stripe's API is a parameter (StripeApiBase); locally it is the stand-in, as every
        // AWS endpoint is (AWS_ENDPOINT_URL_*).
        if env.contains_key("STRIPE_API_BASE") {
            env.insert("STRIPE_API_BASE".into(), crate::stripe_endpoint());
        }
        Ok(env)
    }

    fn globals_env(&self, prefix: &str) -> Result<BTreeMap<String, String>> {
        self.env
            .iter()
            .map(|(name, value)| Ok((name.clone(), self.resolve_env(prefix, name, value)?)))
            .collect()
    }

    /// One environment value as a local run sees it.
    fn resolve_env(&self, prefix: &str, name: &str, value: &Value) -> Result<String> {
        // `!If [Condition, a, b]`: the branch the template's conditions choose.
        if let Value::Tagged(t) = value {
            if t.tag == "If" {
                let list = t.value.as_sequence().map(Vec::as_slice).unwrap_or(&[]);
                let condition = list
                    .first()
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{name}: !If without a condition"))?;
                let chosen = if self.condition(condition) {
                    list.get(1)
                } else {
                    list.get(2)
                };
                let chosen = chosen.ok_or_else(|| anyhow!("{name}: !If without two branches"))?;
                return self.resolve_env(prefix, name, chosen);
            }
        }
        {
            {
                let resolved = match (value, reference(value)) {
                    // A queue's Ref is its URL; moto's URLs are <endpoint>/<account>/<name>.
                    (_, Some(target)) if self.resource_type(target) == Some("AWS::SQS::Queue") => {
                        queue_url(prefix, target)
                    }
                    (_, Some(target)) if self.resource_type(target) == Some("AWS::S3::Bucket") => {
                        bucket_name(prefix, target)
                    }
                    (_, Some(target)) if self.resources.contains_key(target) => {
                        local_name(prefix, target)
                    }
                    // A local run's "stack" is its prefix (each test's own).
                    (_, Some("AWS::StackName")) => prefix.trim_end_matches('-').to_owned(),
                    (_, Some(target)) => {
                        let default = self.parameters.get(target).and_then(|p| p.get("Default"));
                        scalar(default)
                            .ok_or_else(|| anyhow!("{name}: parameter {target} has no default"))?
                    }
                    // The HTTP API's own address: locally the gateway's.
                    (Value::Tagged(t), None)
                        if t.tag == "Sub"
                            && t.value
                                .as_str()
                                .is_some_and(|s| s.contains("${HttpApi}.execute-api.")) =>
                    {
                        crate::api_endpoint()
                    }
                    // A WebSocket API's management endpoint (`!Sub https://${Api}.execute-api...`):
                    // locally the gateway's own (as every AWS endpoint is a stand-in's).
                    (Value::Tagged(t), None)
                        if t.tag == "Sub"
                            && t.value
                                .as_str()
                                .is_some_and(|s| s.contains(".execute-api.")) =>
                    {
                        crate::live_endpoint()
                    }
                    // The storefront's CloudFront address: locally the storefront's own.
                    (Value::Tagged(t), None)
                        if t.tag == "Sub"
                            && t.value.as_str().is_some_and(|s| {
                                s.contains("StorefrontDistribution.DomainName")
                            }) =>
                    {
                        format!(
                            "http://127.0.0.1:{}",
                            std::env::var("AISLE_STOREFRONT_PORT")
                                .unwrap_or_else(|_| "3001".into())
                        )
                    }
                    (value, None) => scalar(Some(value))
                        .ok_or_else(|| anyhow!("{name}: unsupported value {value:?}"))?,
                };
                Ok(resolved)
            }
        }
    }
}

/// Read a non-HTTP event of a function; `None` for kinds local runs do not need.
fn event_source(
    function: &str,
    binary: &str,
    name: &str,
    kind: &str,
    event: &Value,
) -> Result<Option<EventSource>> {
    let props = event.get("Properties").cloned().unwrap_or(Value::Null);
    let source_kind = match kind {
        "DynamoDB" => {
            let (table, _) = props
                .get("Stream")
                .and_then(get_att)
                .with_context(|| format!("{function}.{name}: Stream"))?;
            SourceKind::Stream { table }
        }
        "SQS" => {
            let (queue, _) = props
                .get("Queue")
                .and_then(get_att)
                .with_context(|| format!("{function}.{name}: Queue"))?;
            SourceKind::Queue { queue }
        }
        "Schedule" | "ScheduleV2" => {
            let expression = str_at(&props, "Schedule")
                .or_else(|| str_at(&props, "ScheduleExpression"))
                .unwrap_or("");
            let every = parse_rate(expression)
                .with_context(|| format!("{function}.{name}: only rate() schedules run locally"))?;
            SourceKind::Schedule { every }
        }
        "CloudWatchLogs" => {
            let pattern = str_at(&props, "FilterPattern").unwrap_or("");
            let filter = crate::log_subscriptions::LogFilter::parse(pattern)
                .with_context(|| format!("{function}.{name}: FilterPattern"))?;
            SourceKind::Logs { filter }
        }
        _ => return Ok(None),
    };
    let filters = props
        .get("FilterCriteria")
        .and_then(|f| f.get("Filters"))
        .and_then(Value::as_sequence)
        .map(|list| {
            list.iter()
                .filter_map(|f| str_at(f, "Pattern"))
                .map(|p| {
                    serde_json::from_str(p)
                        .with_context(|| format!("{function}.{name}: filter pattern is not JSON"))
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?
        .unwrap_or_default();
    let reports_failures = props
        .get("FunctionResponseTypes")
        .and_then(Value::as_sequence)
        .is_some_and(|t| {
            t.iter()
                .any(|v| v.as_str() == Some("ReportBatchItemFailures"))
        });
    Ok(Some(EventSource {
        name: name.to_owned(),
        function: function.to_owned(),
        binary: binary.to_owned(),
        kind: source_kind,
        batch_size: number(props.get("BatchSize")).unwrap_or(10),
        filters,
        reports_failures,
    }))
}

/// Whether a JSON event matches an event-filter pattern: every key of the pattern must be
/// present, arrays list the allowed values (exact, or `{"prefix": "..."}` for strings),
/// objects recurse (the subset of the Lambda filter syntax the template uses).
pub fn matches_pattern(pattern: &serde_json::Value, event: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match pattern {
        J::Object(fields) => fields.iter().all(|(key, expected)| match event.get(key) {
            Some(actual) => matches_pattern(expected, actual),
            None => false,
        }),
        J::Array(allowed) => allowed.iter().any(|a| match (a.get("prefix"), event) {
            (Some(J::String(prefix)), J::String(actual)) => actual.starts_with(prefix.as_str()),
            _ => a == event,
        }),
        other => other == event,
    }
}

fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `env` as the env file cargo lambda watch reads (`--env-file`, parsed by the
/// env-file-reader crate): a bare value may hold no whitespace, quote, `#` or `=` and may not
/// be empty; any other value is single-quoted, which that format takes literally. A value
/// with a single quote in it cannot be written (an error, never a silently broken file).
pub fn env_file(env: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    for (name, value) in env {
        let bare = !value.is_empty()
            && !value
                .chars()
                .any(|c| c.is_whitespace() || "'`\"#=".contains(c));
        if bare {
            out.push_str(&format!("{name}={value}\n"));
        } else if !value.contains('\'') {
            out.push_str(&format!("{name}='{value}'\n"));
        } else {
            anyhow::bail!("{name}: a value with a single quote cannot be written to the env file");
        }
    }
    Ok(out)
}

/// The OpenSearch alias of a local run whose resources carry `prefix` (index names are
/// lowercase): `aisle-items` for `make dev`'s prefix, as the template names it.
pub fn local_search_index(prefix: &str) -> String {
    format!("{}items", prefix.to_lowercase())
}

/// The account id moto uses for every resource.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// The local name of a resource: the prefix and its logical id.
pub fn local_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}{logical_id}")
}

/// The local name of one of the template's buckets: its local name in lowercase, as S3
/// bucket names must be.
pub fn bucket_name(prefix: &str, logical_id: &str) -> String {
    local_name(prefix, logical_id).to_lowercase()
}

/// The local URL of one of the template's queues: moto's URLs are
/// `<endpoint>/<account>/<name>` (`AWS_ENDPOINT_URL_SQS`, else `:5000`).
pub fn queue_url(prefix: &str, logical_id: &str) -> String {
    format!(
        "{}/{MOTO_ACCOUNT}/{}",
        crate::endpoint("AWS_ENDPOINT_URL_SQS", 5000),
        local_name(prefix, logical_id)
    )
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| ".".into())
}

fn table(id: &str, props: &Value) -> Result<TableDef> {
    let attributes = props
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .context("AttributeDefinitions")?
        .iter()
        .map(|a| {
            Ok((
                str_at(a, "AttributeName").context("name")?.to_owned(),
                str_at(a, "AttributeType").context("type")?.to_owned(),
            ))
        })
        .collect::<Result<_>>()?;
    let indexes = props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .map(|list| {
            list.iter()
                .map(|g| {
                    Ok(IndexDef {
                        name: str_at(g, "IndexName").context("IndexName")?.to_owned(),
                        key: key_schema(g.get("KeySchema"))?,
                        projection: g
                            .get("Projection")
                            .and_then(|p| str_at(p, "ProjectionType"))
                            .unwrap_or("ALL")
                            .to_owned(),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?
        .unwrap_or_default();
    if str_at(props, "BillingMode") != Some("PAY_PER_REQUEST") {
        bail!("only PAY_PER_REQUEST tables are supported locally");
    }
    let ttl = props.get("TimeToLiveSpecification");
    Ok(TableDef {
        logical_id: id.to_owned(),
        attributes,
        key: key_schema(props.get("KeySchema"))?,
        indexes,
        stream_view: props
            .get("StreamSpecification")
            .and_then(|s| str_at(s, "StreamViewType"))
            .map(str::to_owned),
        ttl_attribute: ttl
            .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
            .and_then(|t| str_at(t, "AttributeName"))
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_file_quotes_what_its_format_would_misread() {
        let env: BTreeMap<String, String> = [
            ("PLAIN", "aisle-ItemsTable"),
            ("SPACED", "Aisle <orders@aisle.example>"),
            ("EMPTY", ""),
            ("LISTED", "get-item=10,index-items=300"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let file = env_file(&env).unwrap();
        assert!(file.contains("PLAIN=aisle-ItemsTable\n"), "{file}");
        assert!(
            file.contains("SPACED='Aisle <orders@aisle.example>'\n"),
            "{file}"
        );
        assert!(file.contains("EMPTY=''\n"), "{file}");
        assert!(
            file.contains("LISTED='get-item=10,index-items=300'\n"),
            "{file}"
        );
        let quoted = BTreeMap::from([("Q".to_owned(), "it's".to_owned())]);
        assert!(env_file(&quoted).is_err());
        // What the repository's template gives the functions is all writable.
        let local = Template::load_repo().unwrap().local_env("aisle-").unwrap();
        assert!(env_file(&local).is_ok());
    }

    #[test]
    fn throttles_come_from_the_templates_route_settings_else_its_default() {
        let throttles = Template::load_repo().unwrap().throttles();
        let checkout = throttles.of("POST /v1/checkout").unwrap();
        let other = throttles.of("GET /v1/orders").unwrap();
        assert!(checkout.rate > other.rate, "{checkout:?} {other:?}");
        assert_eq!(Some(other), throttles.default);
    }

    #[test]
    fn function_limits_take_the_functions_timeout_else_the_globals_and_resolve_reservations() {
        let template = Template::load_repo().unwrap();
        let limits = template.function_limits();
        assert_eq!(
            limits["get-item"].timeout,
            std::time::Duration::from_secs(10)
        );
        assert_eq!(
            limits["reconcile-stock"].timeout,
            std::time::Duration::from_secs(300)
        );
        assert_eq!(limits.len(), template.function_binaries.len());
        // IndexItemsReservedConcurrency defaults to 0: the condition is false, so NoValue.
        assert_eq!(limits["index-items"].reserved, None);
        assert!(limits.values().all(|l| l.reserved.is_none()));
        assert!(!template.condition("ReservesIndexConcurrency"));
        assert!(template.condition("ManageApiGatewayAccount"));
    }

    #[test]
    fn conditions_and_ifs_follow_the_parameters_given() {
        let template = Template::parse(
            r#"
Parameters:
  Reserve: {Type: Number, Default: 0}
Conditions:
  Reserves: !Not [!Equals [!Ref Reserve, 0]]
Resources:
  F:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: f}}
    Properties:
      Timeout: 5
      ReservedConcurrentExecutions: !If [Reserves, !Ref Reserve, !Ref AWS::NoValue]
"#,
        )
        .unwrap();
        assert_eq!(template.function_limits()["f"].reserved, None);
        assert_eq!(
            template.function_limits()["f"].timeout,
            std::time::Duration::from_secs(5)
        );
        let two = serde_yaml::from_str::<Value>("!If [Reserves, 2, 7]").unwrap();
        assert_eq!(template.evaluate(&two), Some(Value::from(7)));
    }

    #[test]
    fn the_websocket_stage_has_a_default_route_throttle() {
        let throttle = Template::load_repo().unwrap().live_throttle().unwrap();
        assert!(
            throttle.rate >= 1.0 && throttle.burst >= 1.0,
            "{throttle:?}"
        );
    }

    #[test]
    fn cors_comes_from_the_templates_http_api_and_answers_preflights_as_api_gateway() {
        let cors = Template::load_repo()
            .unwrap()
            .cors()
            .expect("CorsConfiguration");
        let site = "http://127.0.0.1:3001";
        assert!(cors.allows(site) && !cors.allows("https://evil.example"));
        let ok = cors.preflight(site, "PATCH", "Authorization, If-Match, Content-Type");
        let get = |name: &str| ok.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("access-control-allow-origin"), Some(site));
        assert_eq!(get("access-control-max-age"), Some("600"));
        assert!(
            cors.preflight(site, "PATCH", "x-custom").is_empty(),
            "an unlisted header"
        );
        assert!(cors.preflight("https://evil.example", "GET", "").is_empty());
        assert!(cors
            .on_answer(site)
            .iter()
            .any(|(n, v)| n == "access-control-expose-headers" && v.contains("etag")));
    }

    #[test]
    fn a_route_changed_in_the_template_changes_locally_and_the_old_path_is_gone() {
        let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
        let full = Template::parse(&text).unwrap();
        assert!(full.routes.iter().any(|r| r.path == "/v1/wishlist"));
        let without = text.replace("Path: \"/v1/wishlist\" }", "Path: \"/v1/wishlist-gone\" }");
        let edited = Template::parse(&without).unwrap();
        assert!(
            !edited.routes.iter().any(|r| r.path == "/v1/wishlist"),
            "no second route list anywhere"
        );
        assert_eq!(edited.routes.len(), full.routes.len());
        assert!(crate::gateway::match_path("/v1/wishlist-gone", "/v1/wishlist").is_none());
    }

    #[test]
    fn filter_patterns_match_exact_values_in_nested_fields() {
        let pattern =
            serde_json::json!({"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"]}});
        let ttl = serde_json::json!({"eventName": "REMOVE", "userIdentity": {"type": "Service", "principalId": "x"}});
        let app_delete = serde_json::json!({"eventName": "REMOVE"});
        assert!(matches_pattern(&pattern, &ttl));
        assert!(!matches_pattern(&pattern, &app_delete));
        let stock = serde_json::json!({"sk": {"S": ["TOTAL", {"prefix": "WH#"}]}});
        for (sk, matches) in [("TOTAL", true), ("WH#wh-1", true), ("XWH#", false)] {
            let event = serde_json::json!({"sk": {"S": sk}});
            assert_eq!(matches_pattern(&stock, &event), matches, "{sk}");
        }
        assert_eq!(
            parse_rate("rate(1 minute)"),
            Some(std::time::Duration::from_secs(60))
        );
        assert_eq!(parse_rate("cron(0 * * * ? *)"), None);
    }

    #[test]
    fn the_repository_template_declares_tables_routes_and_environment() {
        let t = Template::load_repo().unwrap();
        assert!(t
            .tables
            .iter()
            .any(|x| x.logical_id == "HoldsTable" && x.ttl_attribute.as_deref() == Some("ttl")));
        assert!(t
            .routes
            .iter()
            .any(|r| r.method == "GET" && r.path == "/v1/items/{itemId}" && r.public));
        let env = t.local_env("aisle-").unwrap();
        assert_eq!(env["ITEMS_TABLE"], "aisle-ItemsTable");
        assert_eq!(env["HOLD_MINUTES"], "10");
        // A function's own variable, naming the HTTP API: the local gateway.
        assert_eq!(env["API_URL"], crate::api_endpoint());
        assert_eq!(env["LIVE_ENDPOINT"], crate::live_endpoint());
        // `!If` on a condition: the stack's own configuration set.
        assert_eq!(env["SES_CONFIGURATION_SET"], "aisle-MailConfigurationSet");
        assert!(
            !env.contains_key("OPENSEARCH_ENDPOINT"),
            "the embedded index stands in"
        );
    }
}
